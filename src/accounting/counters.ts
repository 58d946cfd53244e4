/** Counters and the shape of `GatedPool.stats()`. */
import type { Policy } from '../options.js';
import type { Reading } from '../admission/gate.js';
import type { WorkerStats } from '../placement/workers.js';
import type { ProcessStats } from '../readings/process.js';
import type { Estimate } from './estimates.js';
import type { HeldTimeSnapshot } from './held-time.js';

/** How many tasks went which way since the pool was created. */
export interface CounterSnapshot {
  /** Tasks given to `run()`. */
  submitted: number;
  /**
   * Tasks that settled (resolved or rejected): equals `submitted` once the pool is idle, and
   * always `completed + failed + crashed` plus every `rejected` reason.
   */
  settled: number;
  /** Tasks the gate sent to a worker. */
  admitted: number;
  /** Times a task was put in the held queue. */
  held: number;
  /** `held`, by why: memory pressure in a scope, or `busy` (waiting its turn for a worker, a worker start, or slow start). */
  heldBy: {
    /** Held to wait for a worker, a worker start or slow start (no scope under pressure). */
    busy: number;
    /** Held for memory pressure in the main isolate. */
    main: number;
    /** Held for memory pressure in the process. */
    process: number;
    /** Held for memory pressure in the workers. */
    worker: number;
  };
  /** Tasks that resolved. */
  completed: number;
  /** Tasks whose own code threw or rejected. */
  failed: number;
  /** Tasks lost with a worker that died under them. */
  crashed: number;
  /** Idle workers terminated because their live heap kept them from taking a waiting task that a fresh worker could take (or stayed at the high-water mark). */
  recycled: number;
  /** Idle workers above `minThreads` stopped after `idleTimeout` (Piscina's idle timeout, kept by the pool). */
  reaped: number;
  /** Idle workers asked to collect before the gate held, refused or recycled because of them. */
  nudges: number;
  /** Busy workers the last guard stopped (their tasks grew past what they reserved, the process near its limit). */
  guarded: number;
  /** Workers that died before they were ready (started for a task). */
  startFailures: number;
  /** Workers that died with tasks on them (out of memory, `process.exit()`, a crash), or were stopped because a task on them was aborted. */
  workerCrashes: number;
  /** Tasks the gate refused or ended without running, by reason. */
  rejected: {
    /** Refused for memory pressure under policy `'reject'` (`MemoryPressureError`). */
    pressure: number;
    /** Refused because `maxQueue` tasks were already held (`QueueFullError`). */
    queueFull: number;
    /** Held for memory longer than `maxWaitMs` (`WaitTimeoutError`). */
    timeout: number;
    /** Refused because their need can never fit a scope (`TaskTooLargeError`). */
    tooLarge: number;
    /** Aborted through their signal, before they ran or while they ran (`AbortError`). */
    aborted: number;
    /** Submitted after `close()`, dropped by `close({ force: true })`, or ended by `destroy()` (`PoolClosedError`). */
    closed: number;
    /** Refused because the workers started for tasks died before they were ready, several in a row, and none is ready (`WorkerStartError`). */
    workerStart: number;
    /** Removed from the held queue by `clear()` (`QueueClearedError`). */
    cleared: number;
    /** Refused because their input or `transferList` could not be cloned to the worker (`TaskInputError`). */
    input: number;
  };
  /** `rejected.pressure`, by the scope under pressure. */
  pressureBy: {
    /** Refused for pressure in the main isolate. */
    main: number;
    /** Refused for pressure in the process. */
    process: number;
    /** Refused for pressure in the workers. */
    worker: number;
  };
}

/** Mutable counters; `snapshot()` copies them. */
export class TaskCounters implements CounterSnapshot {
  submitted = 0;
  settled = 0;
  admitted = 0;
  held = 0;
  heldBy = { busy: 0, main: 0, process: 0, worker: 0 };
  completed = 0;
  failed = 0;
  crashed = 0;
  recycled = 0;
  reaped = 0;
  nudges = 0;
  guarded = 0;
  startFailures = 0;
  workerCrashes = 0;
  rejected = { pressure: 0, queueFull: 0, timeout: 0, tooLarge: 0, aborted: 0, closed: 0, workerStart: 0, cleared: 0, input: 0 };
  pressureBy = { main: 0, process: 0, worker: 0 };

  snapshot(): CounterSnapshot {
    return { ...this, heldBy: { ...this.heldBy }, rejected: { ...this.rejected }, pressureBy: { ...this.pressureBy } };
  }
}

/** What keeps the head of the held queue out, as its `MemoryPressureError` says (bytes). */
export interface HeadBlockedBy {
  /** The task's `name`, if any. */
  taskName: string | undefined;
  /** The scope that cannot take it. */
  scope: 'main' | 'worker' | 'process';
  /** The task's need in that scope (declared or learned; 0 when unknown). */
  need: number;
  /** What the scope has in use, plus what admitted tasks reserved and do not use yet. */
  used: number;
  /** What the gate admits that scope up to: `highWater` × `limit`. */
  ceiling: number;
  /** The scope's limit. */
  limit: number;
}

/** What `stats()` returns. All sizes in bytes. */
export interface PoolStats {
  /** The main isolate: heap used, live after the last major GC, old-generation limit, reservations. */
  main: Reading & {
    /** Off-heap bytes V8 counts for the main isolate now (Buffers, ArrayBuffers). */
    external: number;
    /** Major GCs seen in the main isolate since heapgate first tracked it (shared by every pool in the thread). */
    majorGcs: number;
  };
  /**
   * The process against its limit (`undefined` with `memoryLimit: false`): `used` is the cgroup
   * charge (page cache included) or RSS, `live` the non-reclaimable part when it was last needed,
   * `source` where the limit came from, and the cgroup's event counters (OOM kills among them).
   */
  process: (Reading & ProcessStats) | undefined;
  /** Every worker's readings. */
  workers: WorkerStats[];
  /** Tasks waiting in the held queue. */
  held: number;
  /** Why the head of the held queue waits, when it waits for memory; `undefined`: nothing is held, or the head waits for a worker. */
  headBlockedBy: HeadBlockedBy | undefined;
  /** Tasks admitted and not settled yet. */
  running: number;
  /** The reservation ledger: charges not released yet, and what they reserve in the main isolate and the process. */
  ledger: {
    /** Charges not released yet: one per admitted task that reserves anything, until its run ends. */
    open: number;
    /** Heap bytes those charges reserve in the main isolate (declared heap needs only). */
    main: number;
    /**
     * Bytes those charges reserve in the process, heap and off-heap (a warm run: its warm need).
     * `process.reserved` is this less what usage already shows.
     */
    process: number;
  };
  /** Most tasks held at once (the `maxQueue` option resolved: `'auto'` is `maxThreads`²); may be `Infinity`. */
  maxQueue: number;
  /** What the gate does with a task it cannot admit for memory (the `policy` option). */
  policy: Policy;
  /** Task and worker counters since the pool was created. */
  counters: CounterSnapshot;
  /** Memory needs learned per task name from measured runs (used when `run()` declares none). */
  estimates: Record<string, Estimate>;
  /**
   * Per task name, the fraction of a run's full need (heap and off-heap) it reserves in the process
   * on a worker warm for it (its allocator holds what an earlier run of at least that size freed):
   * the decaying peak of what warm runs made resident, as a fraction of their need, with a margin.
   */
  warmFractions: Record<string, number>;
  /** How long tasks were held before they left the held queue, however they left it (seconds, cumulative buckets). */
  heldTime: HeldTimeSnapshot;
}
