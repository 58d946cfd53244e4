/**
 * The held queue: tasks waiting for the gate, first in first out, each with its wait deadline
 * (counted from submission) and its abort listener armed while it is here. A `Set` keeps insertion
 * order and removes in O(1) when a task is aborted or times out.
 *
 * Deadlines never decrease from the head (tasks are held in submission order; the only one put
 * back at the head was submitted before the rest), so one timer, armed for the head's deadline,
 * serves the whole queue: holding or starting a task costs no timer of its own.
 */
import { performance } from 'node:perf_hooks';
import { DeadlineTimer } from './deadline-timer.js';
import type { Task } from './task.js';

export class HeldQueue {
  #tasks = new Set<Task>();
  readonly #maxWaitMs: number;
  readonly #onExpire: (task: Task) => void;
  readonly #onAbort: (task: Task) => void;
  readonly #deadline = new DeadlineTimer(() => this.#expireDue(), false);

  /** `onExpire`: a task reached `maxWaitMs`. `onAbort`: a task's signal aborted. Both while held. */
  constructor(maxWaitMs: number, onExpire: (task: Task) => void, onAbort: (task: Task) => void) {
    this.#maxWaitMs = maxWaitMs;
    this.#onExpire = onExpire;
    this.#onAbort = onAbort;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** In order, head first. Removing the current task while iterating is safe. */
  [Symbol.iterator](): IterableIterator<Task> {
    return this.#tasks.values();
  }

  /** Holds a task at the tail. */
  push(task: Task): void {
    task.state = 'held';
    this.#tasks.add(task);
    this.#listen(task);
    this.#arm();
  }

  /** Holds a task at the head (one that was already sent and came back), keeping its deadline. */
  unshift(task: Task): void {
    task.state = 'held';
    this.#tasks = new Set([task, ...this.#tasks]);
    this.#listen(task);
    this.#arm();
  }

  /** Takes a task out and disarms its abort listener. */
  delete(task: Task): void {
    this.#tasks.delete(task);
    if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
    task.onAbort = undefined;
    if (this.#tasks.size === 0) this.#deadline.disarm();
  }

  /** Stops the deadline timer (the pool is shutting down). */
  close(): void {
    this.#deadline.disarm();
  }

  #listen(task: Task): void {
    if (task.signal) {
      task.onAbort = () => this.#onAbort(task);
      task.signal.addEventListener('abort', task.onAbort, { once: true });
    }
  }

  /** Arms the timer for the head's deadline (a no-op when it is armed for that already). */
  #arm(): void {
    const head = this.#tasks.values().next();
    if (!head.done) this.#deadline.armFor(head.value.submittedAt + this.#maxWaitMs);
  }

  /** Expires every task whose deadline has passed (from the head), then arms for the next one. */
  #expireDue(): void {
    const now = performance.now();
    for (const task of this.#tasks) {
      if (task.submittedAt + this.#maxWaitMs > now) break;
      this.#onExpire(task);
    }
    this.#arm();
  }
}
