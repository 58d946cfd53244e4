/**
 * The parking spot: the one task handed to Piscina before its worker exists — the gate admitted it
 * to a worker being started for it (`'spawn'`). Piscina keeps it in its own queue and asks the
 * balancer again when a worker is ready. At most one task is ever parked: Piscina's queue is not
 * where heapgate keeps its waiting work.
 */
import type { Task } from './task.js';

export class ParkingSpot {
  #task: Task | undefined;
  readonly #byPiscinaId = new Map<number, Task>();

  /** The parked task, if any. */
  get task(): Task | undefined {
    return this.#task;
  }

  /**
   * A task is about to be sent before its worker exists. Returns the signal Piscina gets: the
   * task's own and one to pull it back with.
   */
  prepare(task: Task): AbortSignal {
    task.unpark = new AbortController();
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

  /** The balancer placed `task` on a worker. Returns whether it was the parked one (the spot is free again). */
  placed(task: Task, piscinaTaskId: number): boolean {
    this.#byPiscinaId.delete(piscinaTaskId);
    const wasParked = this.#task === task;
    this.#forget(task);
    return wasParked;
  }

  /**
   * Pulls the parked task back when nothing will place it: the pool has lost every worker
   * (Piscina would strand it with `minThreads: 0`).
   */
  pullBackIfStranded(threads: number): void {
    if (this.#task && threads === 0) this.#task.unpark?.abort();
  }

  /**
   * The task settled or failed. Returns whether it was pulled back (it never ran and should be
   * held again).
   */
  finished(task: Task, error: unknown, ranOnWorker: boolean): boolean {
    if (task.piscinaId !== undefined) this.#byPiscinaId.delete(task.piscinaId);
    const pulledBack = error !== undefined && !ranOnWorker && task.unpark?.signal.aborted === true && !task.signal?.aborted;
    this.#forget(task);
    task.piscinaId = undefined;
    return pulledBack;
  }

  #forget(task: Task): void {
    task.unpark = undefined;
    if (this.#task === task) this.#task = undefined;
  }
}
