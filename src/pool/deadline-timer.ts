/**
 * One timer for the deadlines of a queue whose tasks are in deadline order: armed for the earliest
 * deadline asked for (a later one never replaces it), and, once it has fired, armed again by its
 * owner for the next deadline left. The held queue and the tasks waiting ahead each use one, so
 * that holding or sending a task costs no timer of its own.
 */
import { performance } from 'node:perf_hooks';

export class DeadlineTimer {
  readonly #onDue: () => void;
  readonly #unref: boolean;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline (`performance.now()` ms) the timer is armed for; `Infinity` when not armed. */
  #at = Infinity;

  /** `onDue`: the armed deadline has come. `unref`: the timer does not keep the process alive. */
  constructor(onDue: () => void, unref: boolean) {
    this.#onDue = onDue;
    this.#unref = unref;
  }

  /** Arms for `at` (`performance.now()` ms) unless armed for that or earlier; an infinite `at` arms nothing. */
  armFor(at: number): void {
    if (!Number.isFinite(at) || at >= this.#at) return;
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.#onDue();
    }, Math.max(0, at - performance.now()));
    if (this.#unref) this.#timer.unref();
  }

  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }
}
