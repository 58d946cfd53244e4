/**
 * What a run of a task name makes resident in the process when its worker is warm for it: the
 * worker's memory allocator still holds what an earlier run of that name freed (glibc keeps freed
 * small blocks in the thread's arena rather than returning them, and hands a finished thread's
 * arena to the next thread started). Such a run reuses those pages: the process grows by far less
 * than the run allocates (measured for the seed job: 188 MiB of first-touch faults cold, 65–78 MiB
 * warm). Measured on the worker as its thread's first-touch page faults over runs it had to
 * itself, placed on a worker warm for the name. Kept as a decaying maximum with a margin, as
 * learned needs are (see `estimates.ts`): a warm run that faults more raises it at once.
 */

const DECAY = 0.9;
const MARGIN = 1.25;
/** Names kept at most (the oldest recorded is dropped first). */
const MAX_NAMES = 1000;

export class WarmFootprints {
  readonly #peak = new Map<string, number>();

  /** Records the bytes one warm run of `name` made resident. */
  record(name: string, resident: number): void {
    if (!Number.isFinite(resident) || resident < 0) return;
    const known = this.#peak.get(name);
    this.#peak.delete(name);
    this.#peak.set(name, known === undefined ? resident : Math.max(resident, known * DECAY));
    if (this.#peak.size > MAX_NAMES) this.#peak.delete(this.#peak.keys().next().value as string);
  }

  /** Process bytes to reserve for a warm run of `name`, or `undefined` before one was measured. */
  need(name: string): number | undefined {
    const peak = this.#peak.get(name);
    return peak === undefined ? undefined : Math.ceil(peak * MARGIN);
  }

  /** The warm need of every name recorded, bytes. */
  snapshot(): Record<string, number> {
    const needs: Record<string, number> = {};
    for (const name of this.#peak.keys()) needs[name] = this.need(name) as number;
    return needs;
  }
}
