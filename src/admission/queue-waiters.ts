/**
 * Promises that resolve once the queue reaches a state: p-queue's `onEmpty()`, `onIdle()` and
 * `onSizeLessThan(n)`. A waiter whose state already holds resolves at once; the others resolve at
 * the first {@link QueueWaiters.check} that finds their state reached, in the order they waited.
 */
interface Waiter {
  reached: () => boolean;
  resolve: () => void;
}

export class QueueWaiters {
  #waiting: Waiter[] = [];

  /** Whether anyone waits (the pool checks only then). */
  get any(): boolean {
    return this.#waiting.length > 0;
  }

  /** A promise that resolves once `reached()` holds. */
  wait(reached: () => boolean): Promise<void> {
    if (reached()) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ reached, resolve }));
  }

  /** Resolves every waiter whose state holds now. */
  check(): void {
    if (this.#waiting.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiting) {
      if (waiter.reached()) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiting = still;
  }
}
