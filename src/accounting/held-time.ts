/**
 * How long tasks were held before they left the held queue (admitted, refused, timed out, aborted,
 * cleared or closed): a histogram with fixed bounds, in seconds, as Prometheus histograms are.
 *
 * Invariant: `count` is the number of waits recorded, `sum` their total; each bucket counts the
 * waits at or below its bound (cumulative), the last bound being `Infinity`.
 */

/** Bucket bounds, seconds: from a few milliseconds (a busy worker's turn) to minutes (memory). */
export const HELD_TIME_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, Infinity] as const;

/** How long tasks were held: a histogram in seconds with cumulative buckets (`stats().heldTime`). */
export interface HeldTimeSnapshot {
  /** Waits at or below each bound `le` (seconds), cumulative; the last `le` is `Infinity`. */
  buckets: {
    /** The bucket's upper bound, seconds: 0.005, 0.01, … 60, 120, then `Infinity`. */
    le: number;
    /** Waits at or below `le`. */
    count: number;
  }[];
  /** Total seconds held. */
  sum: number;
  /** Waits recorded. */
  count: number;
}

export class HeldTime {
  /** Waits per bucket, not cumulative (cumulated in `snapshot`). */
  readonly #counts: number[] = HELD_TIME_BOUNDS.map(() => 0);
  #sum = 0;
  #count = 0;

  /** A task left the held queue after `ms` milliseconds there. */
  record(ms: number): void {
    const seconds = ms > 0 ? ms / 1000 : 0;
    // The last bound is Infinity: some bucket always takes it.
    let bucket = 0;
    while (bucket < HELD_TIME_BOUNDS.length - 1 && seconds > (HELD_TIME_BOUNDS[bucket] ?? Infinity)) bucket++;
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#sum += seconds;
    this.#count++;
  }

  snapshot(): HeldTimeSnapshot {
    let cumulative = 0;
    const buckets = HELD_TIME_BOUNDS.map((le, i) => ({ le, count: (cumulative += this.#counts[i] ?? 0) }));
    return { buckets, sum: this.#sum, count: this.#count };
  }
}
