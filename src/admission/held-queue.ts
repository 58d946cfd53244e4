/**
 * The held queue: tasks waiting to start, highest `priority` first and, within a priority, first
 * in first out (p-queue's order); and the clock their `maxWaitMs` is measured on.
 *
 * `maxWaitMs` bounds how long a task waits for *memory*, not for its turn: a task waiting only
 * for a busy worker waits as long as it takes, as in Piscina. The queue's memory clock runs while
 * the queue is blocked by memory (its head was last held for memory pressure) and stands still
 * otherwise; a task's wait is how far the clock moved since it was held. Every task behind a head
 * blocked by memory waits for that memory too, so one clock serves the whole queue.
 *
 * Invariant: within one priority, clock marks never decrease from the head (tasks are held in
 * order; a task put back at the head takes a mark no later than the head's), so the earliest
 * deadline is always at the head of some priority, and one timer, armed for the earliest of those
 * while the clock runs, serves the whole queue.
 */
import { performance } from 'node:perf_hooks';
import type { Task } from './task.js';

export class HeldQueue {
  /** Tasks by priority, each in arrival order. */
  readonly #byPriority = new Map<number, Set<Task>>();
  /** The priorities that hold tasks, highest first. */
  #priorities: number[] = [];
  #size = 0;
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
    return this.#size;
  }

  /** The head (highest priority, earliest), or `undefined`. */
  head(): Task | undefined {
    const first = this.#priorities.length === 0 ? undefined : this.#byPriority.get(this.#priorities[0] as number)?.values().next();
    return first === undefined || first.done ? undefined : first.value;
  }

  /** In order, head first. Removing the current task while iterating is safe. */
  [Symbol.iterator](): Iterator<Task> {
    // One priority (the common case): its own iterator, no generator.
    if (this.#priorities.length === 1) return (this.#byPriority.get(this.#priorities[0] as number) as Set<Task>).values();
    return this.#inOrder();
  }

  *#inOrder(): Generator<Task> {
    for (const priority of [...this.#priorities]) {
      const tasks = this.#byPriority.get(priority);
      if (tasks) yield* tasks;
    }
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

  /** Holds a task behind those of its priority. */
  push(task: Task): void {
    task.state = 'held';
    task.heldMark = this.#clock(performance.now());
    this.#levelOf(task.priority).add(task);
    this.#size++;
    this.#arm();
  }

  /** Holds a task ahead of those of its priority (one that was sent and came back unrun). */
  unshift(task: Task): void {
    task.state = 'held';
    const level = this.#levelOf(task.priority);
    const first = level.values().next();
    const now = this.#clock(performance.now());
    task.heldMark = Math.min(task.heldMark > 0 ? task.heldMark : now, first.done ? now : first.value.heldMark);
    this.#byPriority.set(task.priority, new Set([task, ...level]));
    this.#size++;
    this.#disarm();
    this.#arm();
  }

  /** Takes a task out (a task not held is ignored). */
  delete(task: Task): void {
    const level = this.#byPriority.get(task.priority);
    if (!level?.delete(task)) return;
    this.#size--;
    if (level.size === 0) {
      this.#byPriority.delete(task.priority);
      this.#priorities = this.#priorities.filter((priority) => priority !== task.priority);
    }
    if (this.#size === 0) this.setBlockedByMemory(false);
  }

  #levelOf(priority: number): Set<Task> {
    let level = this.#byPriority.get(priority);
    if (!level) {
      level = new Set();
      this.#byPriority.set(priority, level);
      this.#priorities.push(priority);
      this.#priorities.sort((a, b) => b - a);
    }
    return level;
  }

  /** Stops the deadline timer (the pool is shutting down). */
  close(): void {
    this.#disarm();
  }

  #clock(now: number): number {
    return this.#clockStopped + (this.#clockSince === undefined ? 0 : now - this.#clockSince);
  }

  /** While the clock runs, arms the timer for the earliest deadline unless armed already. */
  #arm(): void {
    if (this.#timer || this.#clockSince === undefined || !Number.isFinite(this.#maxWaitMs) || this.#size === 0) return;
    let earliest = Infinity;
    for (const level of this.#byPriority.values()) {
      const first = level.values().next();
      if (!first.done) earliest = Math.min(earliest, first.value.heldMark);
    }
    const left = this.#maxWaitMs - (this.#clock(performance.now()) - earliest);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expireDue();
    }, Math.max(0, left));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Expires every task that has waited long enough (from the head of each priority), then arms for the next one. */
  #expireDue(): void {
    const now = performance.now();
    for (const level of [...this.#byPriority.values()]) {
      for (const task of level) {
        if (!this.expired(task, now)) break;
        this.#onExpire(task);
      }
    }
    this.#arm();
  }
}
