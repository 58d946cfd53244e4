/**
 * The held queue: tasks waiting for the gate, first in first out, each with its wait deadline
 * (counted from submission) and its abort listener armed while it is here. A `Set` keeps insertion
 * order and removes in O(1) when a task is aborted or times out.
 */
import { performance } from 'node:perf_hooks';
import type { Task } from './task.js';

export class HeldQueue {
  #tasks = new Set<Task>();
  readonly #maxWaitMs: number;
  readonly #onExpire: (task: Task) => void;
  readonly #onAbort: (task: Task) => void;

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
    this.#arm(task);
  }

  /** Holds a task at the head (one that was already sent and came back), keeping its deadline. */
  unshift(task: Task): void {
    task.state = 'held';
    this.#tasks = new Set([task, ...this.#tasks]);
    this.#arm(task);
  }

  /** Takes a task out and disarms its deadline and abort listener. */
  delete(task: Task): void {
    this.#tasks.delete(task);
    if (task.waitTimer) clearTimeout(task.waitTimer);
    if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
    task.waitTimer = undefined;
    task.onAbort = undefined;
  }

  #arm(task: Task): void {
    if (Number.isFinite(this.#maxWaitMs)) {
      const left = this.#maxWaitMs - (performance.now() - task.submittedAt);
      task.waitTimer = setTimeout(() => this.#onExpire(task), Math.max(0, left));
    }
    if (task.signal) {
      task.onAbort = () => this.#onAbort(task);
      task.signal.addEventListener('abort', task.onAbort, { once: true });
    }
  }
}
