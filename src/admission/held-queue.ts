/**
 * The held queue: tasks waiting for the gate, first in first out, and the clock their
 * `maxWaitMs` is measured on.
 *
 * `maxWaitMs` bounds how long a task waits for *memory*, not for its turn: a task waiting only
 * for a busy worker waits as long as it takes, as in Piscina. The queue's memory clock runs while
 * the queue is blocked by memory (its head was last held for memory pressure) and stands still
 * otherwise; a task's wait is how far the clock moved since it was held. Every task behind a head
 * blocked by memory waits for that memory too, so one clock serves the whole queue.
 *
 * Invariant: clock marks never decrease from the head (tasks are held in order; a task put back
 * at the head takes a mark no later than the head's), so waits never increase from the head, and
 * one timer, armed for the head's deadline while the clock runs, serves the whole queue.
 */
import { performance } from 'node:perf_hooks';
import type { Task } from './task.js';

export class HeldQueue {
  #tasks = new Set<Task>();
  readonly #maxWaitMs: number;
  readonly #onExpire: (task: Task) => void;
  #timer: NodeJS.Timeout | undefined;
  /** Memory-clock time stopped in the past, ms. */
  #clockStopped = 0;
  /** `performance.now()` when the memory clock last started; `undefined` while it stands still. */
  #clockSince: number | undefined;

  /** `onExpire`: a held task has waited `maxWaitMs` for memory (it must leave the queue). */
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

  /** Whether the queue is blocked by memory now (its clock runs). */
  get blockedByMemory(): boolean {
    return this.#clockSince !== undefined;
  }

  /**
   * Starts the memory clock (the head was held for memory) or stops it (the head waits for a
   * worker only, or has started).
   */
  setBlockedByMemory(blocked: boolean, now = performance.now()): void {
    if (blocked === (this.#clockSince !== undefined)) return;
    if (blocked) {
      this.#clockSince = now;
      this.#arm();
    } else {
      this.#clockStopped = this.#clock(now);
      this.#clockSince = undefined;
      this.#disarm();
    }
  }

  /** How long `task` has waited for memory while held, ms. */
  waitedMs(task: Task, now = performance.now()): number {
    return this.#clock(now) - task.heldMark;
  }

  /** Whether `task` has waited `maxWaitMs` for memory. */
  expired(task: Task, now = performance.now()): boolean {
    return this.waitedMs(task, now) >= this.#maxWaitMs;
  }

  /** Holds a task at the tail. */
  push(task: Task): void {
    task.state = 'held';
    task.heldMark = this.#clock(performance.now());
    this.#tasks.add(task);
    this.#arm();
  }

  /** Holds a task at the head (one that was sent and came back unrun). */
  unshift(task: Task): void {
    task.state = 'held';
    const head = this.head();
    const now = this.#clock(performance.now());
    task.heldMark = Math.min(task.heldMark > 0 ? task.heldMark : now, head?.heldMark ?? now);
    this.#tasks = new Set([task, ...this.#tasks]);
    this.#disarm();
    this.#arm();
  }

  /** Takes a task out. */
  delete(task: Task): void {
    this.#tasks.delete(task);
    if (this.#tasks.size === 0) this.setBlockedByMemory(false);
  }

  /** Stops the deadline timer (the pool is shutting down). */
  close(): void {
    this.#disarm();
  }

  #clock(now: number): number {
    return this.#clockStopped + (this.#clockSince === undefined ? 0 : now - this.#clockSince);
  }

  /** While the clock runs, arms the timer for the head's deadline unless armed already. */
  #arm(): void {
    if (this.#timer || this.#clockSince === undefined || !Number.isFinite(this.#maxWaitMs)) return;
    const head = this.head();
    if (!head) return;
    const left = this.#maxWaitMs - this.waitedMs(head);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expireDue();
    }, Math.max(0, left));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Expires every task that has waited long enough (from the head), then arms for the next one. */
  #expireDue(): void {
    const now = performance.now();
    for (const task of this.#tasks) {
      if (!this.expired(task, now)) break;
      this.#onExpire(task);
    }
    this.#arm();
  }
}
