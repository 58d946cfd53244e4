/** The events a GatedPool emits, with their payloads. */
import type { HeapgateError, Scope } from './errors.js';

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
}

export interface GatedPoolEvents {
  /** A task was sent to a worker (`'spawn'`: to a worker being started for it). */
  admit: [info: { name: string; need: number; worker: number | 'spawn' }];
  /** A task was put in the held queue; `scope` is set when memory pressure was the reason. */
  hold: [info: { name: string; need: number; scope: Scope | undefined }];
  /** A task was refused or failed with a heapgate error. */
  reject: [error: HeapgateError];
  /** A scope entered or left pressure. `threadId` names the worker for scope `'worker'`. */
  pressure: [info: { scope: Scope; threadId: number | undefined; underPressure: boolean; level: number; limit: number }];
  /** An idle worker that could not take a task was asked to collect garbage. */
  nudge: [info: { threadId: number }];
  /** An idle worker was terminated because its live heap stayed above the high-water mark. */
  recycle: [info: { threadId: number; live: number; limit: number }];
  /** A worker went away without the gate asking (crash, out of memory, idle timeout, a running task aborted). */
  workerExit: [info: { threadId: number }];
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
