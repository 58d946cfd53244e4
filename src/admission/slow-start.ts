/**
 * Slow start: a task name nobody knows the need of (nothing declared, nothing learned) runs one at
 * a time per pool until a run of it has been measured — a burst of unknown work is how containers
 * get killed.
 *
 * One more run of such a name may start while every run of it in flight is *quiet*: on its worker
 * for at least {@link QUIET_MS}, and that worker's memory (heap in use plus off-heap bytes) has not
 * risen by {@link RISE_BYTES} or more over the last {@link QUIET_MS}. Tasks that wait for each
 * other (a barrier, a message from a sibling) or spin would otherwise never finish: the first run
 * never ends, so its name is never measured. A run that keeps growing keeps the others held, and
 * what the runs in flight have grown so far is the least the next one is taken to need
 * ({@link grownSoFar}).
 *
 * Invariant: a run is tracked from `began` until `ended`, whatever its end; a name with no run
 * tracked has no entry. Times are `Date.now()` milliseconds (the clock of the workers' readings).
 */

/** How long a run must be on its worker and not growing before another run of its name may start, ms. */
export const QUIET_MS = 1000;
/** A rise of the worker's memory at least this large above its peak so far counts as growing, bytes. */
export const RISE_BYTES = 2 ** 20;

interface LearningRun {
  /** When it was placed on a worker; `undefined` while it waits for a worker being started. */
  placedAt: number | undefined;
  /** Its worker's memory before it started (as last published), bytes; `undefined` when unknown. */
  base: number | undefined;
  /** The highest memory level of its worker seen while it ran, and when that last rose by {@link RISE_BYTES} or more. */
  peak: number | undefined;
  risingAt: number;
  /**
   * What it had grown (peak less base) before its worker's memory fell below its base (garbage
   * collected as it ran): growth is counted from that lower point on, and this is kept.
   */
  grownBefore: number;
}

/** A worker's memory for a run placed at `since`: heap in use plus off-heap bytes read at `since` or later; `undefined` when there is no such reading. */
export type LevelOf<Run> = (run: Run, since: number) => number | undefined;

export class SlowStart<Run extends object> {
  readonly #runs = new Map<string, Map<Run, LearningRun>>();

  /** Whether another run of `name` may start at `now`: none is in flight, or every one is quiet. */
  mayStart(name: string, now: number): boolean {
    const runs = this.#runs.get(name);
    if (!runs) return true;
    for (const run of runs.values()) if (!quiet(run, now)) return false;
    return true;
  }

  /** The most any run of `name` in flight has grown its worker so far, bytes (0 when none). */
  grownSoFar(name: string): number {
    let grown = 0;
    for (const run of this.#runs.get(name)?.values() ?? []) {
      grown = Math.max(grown, run.grownBefore);
      if (run.base !== undefined && run.peak !== undefined) grown = Math.max(grown, run.peak - run.base);
    }
    return grown;
  }

  /** `run` of `name` started (its need unknown): it is measured, and holds back its name's next runs. */
  began(name: string, run: Run): void {
    let runs = this.#runs.get(name);
    if (!runs) {
      runs = new Map();
      this.#runs.set(name, runs);
    }
    runs.set(run, { placedAt: undefined, base: undefined, peak: undefined, risingAt: -Infinity, grownBefore: 0 });
  }

  /** `run` reached its worker at `now`; `base`: that worker's memory before it (as last published). */
  placed(name: string, run: Run, now: number, base: number | undefined): void {
    const tracked = this.#runs.get(name)?.get(run);
    if (!tracked) return;
    tracked.placedAt = now;
    tracked.base = base;
    tracked.peak = base;
  }

  /** Takes the memory level of each placed run's worker at `now`. */
  observe(now: number, levelOf: LevelOf<Run>): void {
    for (const runs of this.#runs.values()) {
      for (const [run, tracked] of runs) {
        if (tracked.placedAt === undefined) continue;
        const level = levelOf(run, tracked.placedAt);
        if (level === undefined) continue;
        if (tracked.peak === undefined) {
          tracked.peak = level;
          tracked.base ??= level;
        } else if (tracked.base !== undefined && level < tracked.base) {
          // Garbage its worker held was collected: growth from here would not show above the old
          // peak, so it is counted from here (a fall itself is quiet).
          tracked.grownBefore = Math.max(tracked.grownBefore, tracked.peak - tracked.base);
          tracked.base = level;
          tracked.peak = level;
        } else if (level >= tracked.peak + RISE_BYTES) {
          tracked.peak = level;
          tracked.risingAt = now;
        }
      }
    }
  }

  /** `run` ended (measured or not, whatever the outcome). */
  ended(name: string, run: Run): void {
    const runs = this.#runs.get(name);
    if (!runs?.delete(run)) return;
    if (runs.size === 0) this.#runs.delete(name);
  }
}

function quiet(run: LearningRun, now: number): boolean {
  return run.placedAt !== undefined && now - Math.max(run.placedAt, run.risingAt) >= QUIET_MS;
}
