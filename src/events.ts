/** The events a GatedPool emits, with their payloads. */
import type { HeapgateError, Scope } from './errors.js';
import type { HistogramSummary } from './observability/run-times.js';

/** Piscina's view of a worker, as its `workerCreate` and `workerDestroy` events pass it (the fields users read). */
export interface WorkerView {
  /** The worker's thread id (-1 once the thread has exited). */
  readonly id: number;
  /** Tasks running on it. */
  readonly currentUsage: number;
  /** Whether it runs a task that has an abort signal. */
  readonly isRunningAbortableTask: boolean;
  /** Being terminated. */
  readonly terminating: boolean;
  /** Terminated. */
  readonly destroyed: boolean;
  /** Piscina's per-worker run-time summary (`workerHistogram: true`); `null` otherwise. heapgate records no runs in it (see the README). */
  readonly histogram: HistogramSummary | null;
}

/** The events a {@link GatedPool} emits: each event's name and its listener's arguments. */
export interface GatedPoolEvents {
  /** A task was sent to a worker (`'spawn'`: to a worker being started for it). */
  admit: [
    info: {
      /** The export it calls. */
      name: string;
      /** Its heap need in bytes (declared or learned; 0 when none). */
      need: number;
      /** Off-heap bytes it reserves in the process: declared, learned, or for a name not learned yet what its run is charged; 0 when none. */
      external: number;
      /** The worker's thread id, or `'spawn'`. */
      worker: number | 'spawn';
    },
  ];
  /** A task was put in the held queue; `scope` is set when memory pressure was the reason. */
  hold: [
    info: {
      /** The export it calls. */
      name: string;
      /** Its heap need in bytes (declared or learned; 0 when none). */
      need: number;
      /** Off-heap bytes it reserves in the process: declared, learned, or for a name not learned yet what its run is charged; 0 when none. */
      external: number;
      /** The scope under pressure; `undefined`: it waits for a worker, a worker start or slow start. */
      scope: Scope | undefined;
    },
  ];
  /** A task was refused or failed with a heapgate error. */
  reject: [error: HeapgateError];
  /** A scope entered or left pressure. `threadId` names the worker for scope `'worker'`. */
  pressure: [
    info: {
      /** The scope whose state changed. */
      scope: Scope;
      /** The worker's thread id for scope `'worker'`; `undefined` otherwise. */
      threadId: number | undefined;
      /** `true`: it entered pressure (reached `highWater` × limit); `false`: it left it (fell below `lowWater` × limit). */
      underPressure: boolean;
      /** Its measured memory in bytes, reservations excluded (a worker: its live heap, else `used`). */
      level: number;
      /** Its limit in bytes (an isolate's old-generation limit, or the process limit). */
      limit: number;
    },
  ];
  /** An idle worker that could not take a task was asked to collect garbage. */
  nudge: [
    info: {
      /** The worker's thread id. */
      threadId: number;
    },
  ];
  /**
   * An idle worker was terminated and replaced: `scope: 'worker'`, its live heap kept it from
   * taking a waiting task that a fresh worker could take (or stayed at the high-water mark);
   * `scope: 'process'`, a task waited for process memory with nothing running and no garbage left
   * to collect, and the memory its thread's C allocator keeps may go with the thread.
   */
  recycle: [
    info: {
      /** The worker's thread id. */
      threadId: number;
      /** The scope whose room the restart is for. */
      scope: 'worker' | 'process';
      /** Its heap in use after its last major GC, bytes. */
      live: number;
      /** Its old-generation limit, bytes. */
      limit: number;
    },
  ];
  /** A worker went away without the gate asking (crash, out of memory, idle timeout, a running task aborted). */
  workerExit: [
    info: {
      /** The worker's thread id. */
      threadId: number;
    },
  ];
  /** Piscina reported a worker error that no task was waiting on. */
  workerError: [error: Error];
  /** A new task would now have to wait: tasks are held, or every worker slot is taken (see `needsDrain`). */
  needsDrain: [];
  /** A new task would no longer have to wait (`needsDrain` went back to false). */
  drain: [];
  /** Piscina's: a worker posted a message of its own (`parentPort.postMessage`). */
  message: [message: unknown];
  /** Piscina's: a worker is ready (its Piscina worker view). */
  workerCreate: [worker: WorkerView];
  /** Piscina's: a worker was destroyed (its Piscina worker view). */
  workerDestroy: [worker: WorkerView];
  /** Piscina's: the pool has closed (`close()` finished, or `destroy()` after `close()` timed out). */
  close: [];
  /**
   * Piscina's `'error'`: the same errors as `workerError`, emitted as `'error'` only while someone
   * listens to it (an `'error'` with no listener would throw, and Piscina users may not expect that).
   */
  error: [error: Error];
}
