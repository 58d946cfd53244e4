/**
 * What a run of a task name makes resident in the process when its worker is warm for it: the
 * worker's memory allocator still holds what an earlier run of that name freed (glibc keeps freed
 * small blocks in the thread's arena rather than returning them, and hands a finished thread's
 * arena to the next thread started). Such a run reuses those pages: the process grows by far less
 * than the run allocates (measured for the seed job: 188 MiB of first-touch faults cold, 65–78 MiB
 * warm). Measured on the worker as its thread's first-touch page faults over runs it had to
 * itself, placed on a worker warm for the name. Kept as a fraction of the run's full need (heap
 * and off-heap), as a decaying maximum with a margin, as learned needs are (see `estimates.ts`):
 * a warm run that faults more raises it at once. A run of the name needing more than the runs
 * measured is charged in proportion (runs of one name may differ widely in size: measured, four
 * 80 MiB runs charged the 5 MiB warm need of earlier 4 MiB runs got the process OOM-killed).
 */

const DECAY = 0.9;
const MARGIN = 1.25;
/** Names kept at most (the oldest recorded is dropped first). */
const MAX_NAMES = 1000;

export class WarmFootprints {
  /** Per name: the decaying peak of (bytes a warm run made resident) / (its full need). */
  readonly #peak = new Map<string, number>();

  /** Records the bytes one warm run of `name`, whose full need was `full` bytes, made resident. */
  record(name: string, resident: number, full: number): void {
    if (!Number.isFinite(resident) || resident < 0 || !(full > 0)) return;
    const fraction = resident / full;
    const known = this.#peak.get(name);
    this.#peak.delete(name);
    this.#peak.set(name, known === undefined ? fraction : Math.max(fraction, known * DECAY));
    if (this.#peak.size > MAX_NAMES) this.#peak.delete(this.#peak.keys().next().value as string);
  }

  /** Process bytes to reserve for a warm run of `name` needing `full` bytes, or `undefined` before one was measured. */
  need(name: string, full: number): number | undefined {
    const peak = this.#peak.get(name);
    return peak === undefined ? undefined : Math.ceil(peak * MARGIN * full);
  }

  /** Per name recorded, the fraction of a run's full need reserved when it runs warm. */
  snapshot(): Record<string, number> {
    const fractions: Record<string, number> = {};
    for (const [name, peak] of this.#peak) fractions[name] = Math.round(peak * MARGIN * 1000) / 1000;
    return fractions;
  }
}
