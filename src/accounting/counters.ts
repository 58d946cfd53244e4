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
  heldBy: { busy: number; main: number; process: number; worker: number };
  /** Tasks that resolved. */
  completed: number;
  /** Tasks whose own code threw or rejected. */
  failed: number;
  /** Tasks lost with a worker that died under them. */
  crashed: number;
  /** Idle workers terminated because their live heap stayed above the high-water mark. */
  recycled: number;
  /** Idle workers asked to collect before the gate held, refused or recycled because of them. */
  nudges: number;
  /** Workers that died before they were ready (started for a task). */
  startFailures: number;
  /** Workers that died with tasks on them (out of memory, `process.exit()`, a crash), or were stopped because a task on them was aborted. */
  workerCrashes: number;
  /** Tasks the gate refused or ended without running, by reason. */
  rejected: { pressure: number; queueFull: number; timeout: number; tooLarge: number; aborted: number; closed: number; workerStart: number; cleared: number; input: number };
  /** `rejected.pressure`, by the scope under pressure. */
  pressureBy: { main: number; process: number; worker: number };
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
  nudges = 0;
  startFailures = 0;
  workerCrashes = 0;
  rejected = { pressure: 0, queueFull: 0, timeout: 0, tooLarge: 0, aborted: 0, closed: 0, workerStart: 0, cleared: 0, input: 0 };
  pressureBy = { main: 0, process: 0, worker: 0 };

  snapshot(): CounterSnapshot {
    return { ...this, heldBy: { ...this.heldBy }, rejected: { ...this.rejected }, pressureBy: { ...this.pressureBy } };
  }
}

/** What `stats()` returns. All sizes in bytes. */
export interface PoolStats {
  /** The main isolate: heap used, live after the last major GC, old-generation limit, reservations. */
  main: Reading & { external: number; majorGcs: number };
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
  /** Tasks admitted and not settled yet. */
  running: number;
  /** The reservation ledger: charges not released yet, and what they reserve in the main isolate and the process. */
  ledger: { open: number; main: number; process: number };
  maxQueue: number;
  policy: Policy;
  counters: CounterSnapshot;
  /** Memory needs learned per task name from measured runs (used when `run()` declares none). */
  estimates: Record<string, Estimate>;
  /**
   * Per task name, the process bytes a run reserves on a worker warm for it (its allocator holds
   * what an earlier run freed): the decaying peak of what warm runs made resident, with a margin.
   */
  warmNeeds: Record<string, number>;
  /** How long tasks were held before they left the held queue, however they left it (seconds, cumulative buckets). */
  heldTime: HeldTimeSnapshot;
}
