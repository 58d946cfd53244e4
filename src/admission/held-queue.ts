/**
 * The held queue: tasks waiting for the gate, first in first out, each with its wait deadline
 * (counted from submission). A `Set` keeps insertion order and removes in O(1) when a task is
 * aborted or times out.
 *
 * Invariant: deadlines never decrease from the head (tasks are held in submission order; the only
 * one put back at the head was submitted before the rest), so one timer, armed for the head's
 * deadline, serves the whole queue: holding a task costs no timer of its own.
 */
import { performance } from 'node:perf_hooks';
import type { Task } from './task.js';

export class HeldQueue {
  #tasks = new Set<Task>();
  readonly #maxWaitMs: number;
  readonly #onExpire: (task: Task) => void;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline (`performance.now()` ms) the timer is armed for; `Infinity` when not armed. */
  #armedFor = Infinity;

  /** `onExpire`: a held task reached `maxWaitMs` (it must leave the queue). */
  constructor(maxWaitMs: number, onExpire: (task: Task) => void) {
    this.#maxWaitMs = maxWaitMs;
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** The head, or `undefined`. */
  head(): Task | undefined {
    const first = this.#tasks.values().next();
    return first.done ? undefined : first.value;
  }

  /** In order, head first. Removing the current task while iterating is safe. */
  [Symbol.iterator](): IterableIterator<Task> {
    return this.#tasks.values();
  }

  /** Whether `task`'s wait deadline has passed. */
  expired(task: Task, now = performance.now()): boolean {
    return now - task.submittedAt >= this.#maxWaitMs;
  }

  /** Holds a task at the tail. */
  push(task: Task): void {
    task.state = 'held';
    this.#tasks.add(task);
    this.#arm();
  }

  /** Holds a task at the head (one that was sent and came back unrun), keeping its deadline. */
  unshift(task: Task): void {
    task.state = 'held';
    this.#tasks = new Set([task, ...this.#tasks]);
    this.#arm();
  }

  /** Takes a task out. */
  delete(task: Task): void {
    this.#tasks.delete(task);
    if (this.#tasks.size === 0) this.#disarm();
  }

  /** Stops the deadline timer (the pool is shutting down). */
  close(): void {
    this.#disarm();
  }

  /** Arms the timer for the head's deadline unless armed for that or earlier. */
  #arm(): void {
    const head = this.head();
    if (!head) return;
    const at = head.submittedAt + this.#maxWaitMs;
    if (!Number.isFinite(at) || at >= this.#armedFor) return;
    clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#armedFor = Infinity;
      this.#expireDue();
    }, Math.max(0, at - performance.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  /** Expires every task whose deadline has passed (from the head), then arms for the next one. */
  #expireDue(): void {
    const now = performance.now();
    for (const task of this.#tasks) {
      if (!this.expired(task, now)) break;
      this.#onExpire(task);
    }
    this.#arm();
  }
}
