/**
 * The parking spot: the one task handed to Piscina before a worker is ready for it — one being
 * started for it (`'spawn'`), or the next worker that frees (`'next'`). Piscina keeps it in its own
 * queue and asks the balancer again whenever a worker is ready, so a freed worker starts it without
 * a round trip through the gate. At most one task is ever parked: Piscina's queue is not where
 * heapgate keeps its waiting work.
 */
import { performance } from 'node:perf_hooks';
import type { Task } from './task.js';

export type ParkedFor = 'spawn' | 'next';

export class ParkingSpot {
  #task: Task | undefined;
  readonly #byPiscinaId = new Map<number, Task>();

  /** The parked task, if any. */
  get task(): Task | undefined {
    return this.#task;
  }

  /**
   * Tasks waiting ahead for the next free worker (0 or 1). To the caller they are still held:
   * counted in `stats().held` and against `maxQueue`, their deadline running.
   */
  get waitingAhead(): number {
    return this.#task?.parkedFor === 'next' ? 1 : 0;
  }

  /**
   * A task is about to be sent without a worker. Returns the signal Piscina gets: the task's own
   * and one to pull it back with. A task waiting ahead also gets its remaining wait as a deadline:
   * when it passes, the task is pulled back (and times out).
   */
  prepare(task: Task, parkedFor: ParkedFor, maxWaitMs: number): AbortSignal {
    task.parkedFor = parkedFor;
    task.unpark = new AbortController();
    if (parkedFor === 'next') {
      const left = maxWaitMs - (performance.now() - task.submittedAt);
      if (Number.isFinite(left)) task.waitTimer = setTimeout(() => task.unpark?.abort(), Math.max(0, left));
    }
    return task.signal ? AbortSignal.any([task.signal, task.unpark.signal]) : task.unpark.signal;
  }

  /** The balancer found no worker for it: it waits in Piscina's queue under `piscinaTaskId`. */
  park(task: Task, piscinaTaskId: number): void {
    task.piscinaId = piscinaTaskId;
    task.state = 'parked';
    this.#byPiscinaId.set(piscinaTaskId, task);
    this.#task = task;
  }

  /** The parked task Piscina asks the balancer to place, if it is one. */
  lookup(piscinaTaskId: number): Task | undefined {
    return this.#byPiscinaId.get(piscinaTaskId);
  }

  /**
   * The balancer placed `task` on a worker. Returns what it was parked for (`undefined` when it
   * was not parked); the spot is free again.
   */
  placed(task: Task, piscinaTaskId: number): ParkedFor | undefined {
    this.#byPiscinaId.delete(piscinaTaskId);
    const parkedFor = task.parkedFor;
    this.#forget(task);
    return parkedFor;
  }

  /**
   * Pulls the parked task back when nothing will place it: every worker is gone, or it waits for
   * the next free worker and one is free but did not take it (it does not fit there; the held
   * queue's hygiene — nudge, recycle — deals with that).
   */
  pullBackIfStranded(threads: number, anyFree: boolean): void {
    const task = this.#task;
    if (task && (threads === 0 || (task.parkedFor === 'next' && anyFree))) task.unpark?.abort();
  }

  /**
   * The task settled or failed. Returns what it was parked for when it was pulled back (it never
   * ran and should be held again), else `undefined`.
   */
  finished(task: Task, error: unknown, ranOnWorker: boolean): ParkedFor | undefined {
    if (task.piscinaId !== undefined) this.#byPiscinaId.delete(task.piscinaId);
    const parkedFor = task.parkedFor;
    const pulledBack = error !== undefined && !ranOnWorker && task.unpark?.signal.aborted === true && !task.signal?.aborted;
    this.#forget(task);
    task.piscinaId = undefined;
    return pulledBack ? parkedFor : undefined;
  }

  #forget(task: Task): void {
    clearTimeout(task.waitTimer);
    task.waitTimer = undefined;
    task.parkedFor = undefined;
    task.unpark = undefined;
    if (this.#task === task) this.#task = undefined;
  }
}
