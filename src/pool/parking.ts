/**
 * The parking spot: tasks handed to Piscina before a worker is ready for them — one being started
 * for a task (`'spawn'`), or the next worker that frees (`'next'`: waiting ahead). Piscina keeps
 * them in its own queue and offers them to the balancer, oldest first, whenever a worker frees or
 * starts, so a freed worker starts one from Piscina's response handler without a round trip through
 * the gate. Up to one task per worker waits ahead, so that workers freeing at the same moment are
 * all served that way; a task parked for a spawn is parked alone. Piscina's queue is not where
 * heapgate keeps its waiting work: everything else waits in the held queue.
 */
import { performance } from 'node:perf_hooks';
import { DeadlineTimer } from './deadline-timer.js';
import { PullBack } from './pull-back.js';
import type { Task } from './task.js';

/** What a parked task waits for: a worker started for it, or the next worker that frees. */
export type ParkedFor = 'spawn' | 'next';

export class ParkingSpot {
  /** Parked tasks, oldest first (the order Piscina offers them in). */
  readonly #parked = new Set<Task>();
  readonly #byPiscinaId = new Map<number, Task>();
  #ahead = 0;
  readonly #maxWaitMs: number;
  /**
   * One timer for the deadlines of tasks waiting ahead, armed for the oldest and re-armed when it
   * fires: tasks go ahead in submission order, so each deadline is no earlier than the one before,
   * and sending a task ahead costs no timer of its own. Unreferenced: tasks wait ahead only while
   * workers are busy, and those keep the process alive.
   */
  readonly #deadline = new DeadlineTimer(() => this.#deadlinePassed(), true);

  /** `maxWaitMs`: how long a task may wait from submission until it starts. */
  constructor(maxWaitMs: number) {
    this.#maxWaitMs = maxWaitMs;
  }

  /** Whether no task is parked. */
  get empty(): boolean {
    return this.#parked.size === 0;
  }

  /**
   * Tasks waiting ahead for the next free worker. To the caller they are still held: counted in
   * `stats().held` and against `maxQueue`, their deadline running.
   */
  get waitingAhead(): number {
    return this.#ahead;
  }

  /** Whether one more task may be sent ahead: none is parked for a spawn and fewer than `limit` wait ahead. */
  roomAhead(limit: number): boolean {
    return this.#ahead === this.#parked.size && this.#ahead < limit;
  }

  /**
   * A task is about to be sent without a worker. Returns the signal Piscina gets: a pull-back
   * handle that also follows the task's own signal. A task waiting ahead keeps its deadline: when
   * it passes while the task is still parked, the task is pulled back (and times out).
   */
  prepare(task: Task, parkedFor: ParkedFor): PullBack {
    task.parkedFor = parkedFor;
    task.unpark = new PullBack(task.signal);
    return task.unpark;
  }

  /** The balancer found no worker for it: it waits in Piscina's queue under `piscinaTaskId`. */
  park(task: Task, piscinaTaskId: number): void {
    task.piscinaId = piscinaTaskId;
    task.state = 'parked';
    this.#byPiscinaId.set(piscinaTaskId, task);
    if (this.#parked.has(task)) return;
    this.#parked.add(task);
    if (task.parkedFor !== 'next') return;
    this.#ahead++;
    this.#deadline.armFor(task.submittedAt + this.#maxWaitMs);
  }

  /** The parked task Piscina asks the balancer to place, if it is one. */
  lookup(piscinaTaskId: number): Task | undefined {
    return this.#byPiscinaId.get(piscinaTaskId);
  }

  /**
   * The balancer placed `task` on a worker. Returns what it had been sent for (`undefined` when
   * it was sent to a given worker); nothing pulls the task back from now on.
   */
  placed(task: Task, piscinaTaskId: number): ParkedFor | undefined {
    this.#byPiscinaId.delete(piscinaTaskId);
    const parkedFor = task.parkedFor;
    this.#forget(task);
    return parkedFor;
  }

  /**
   * Pulls parked tasks back when nothing will place them: the pool has lost every worker (Piscina
   * would strand them with `minThreads: 0`), or tasks wait for the next free worker and one is free
   * but did not take them (the oldest does not fit there; the held queue's hygiene — nudge,
   * recycle — deals with that). Newest first, so that they return to the held queue in order.
   */
  pullBackIfStranded(threads: number, anyFree: boolean): void {
    if (threads > 0 && !(anyFree && this.#ahead > 0)) return;
    for (const task of [...this.#parked].reverse()) {
      if (threads === 0 || task.parkedFor === 'next') task.unpark?.abort();
    }
  }

  /**
   * The task settled or failed. Returns what it had been sent for when it was pulled back (it
   * never ran and should be held again), else `undefined`.
   */
  finished(task: Task, error: unknown, ranOnWorker: boolean): ParkedFor | undefined {
    if (task.piscinaId !== undefined) this.#byPiscinaId.delete(task.piscinaId);
    const parkedFor = task.parkedFor;
    const pulledBack = error !== undefined && !ranOnWorker && task.unpark?.aborted === true && !task.signal?.aborted;
    task.unpark?.release();
    task.unpark = undefined;
    this.#forget(task);
    task.piscinaId = undefined;
    return pulledBack ? parkedFor : undefined;
  }

  /** Stops the deadline timer (the pool is shutting down). */
  close(): void {
    this.#deadline.disarm();
  }

  /** Pulls back the tasks waiting ahead whose deadline has passed; re-arms for the oldest left. */
  #deadlinePassed(): void {
    const now = performance.now();
    for (const task of this.#parked) {
      if (task.parkedFor !== 'next') continue;
      if (task.submittedAt + this.#maxWaitMs > now) {
        this.#deadline.armFor(task.submittedAt + this.#maxWaitMs);
        return;
      }
      task.unpark?.abort();
    }
  }

  #forget(task: Task): void {
    if (this.#parked.delete(task) && task.parkedFor === 'next') this.#ahead--;
    task.parkedFor = undefined;
  }
}
