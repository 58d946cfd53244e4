/**
 * Piscina's timing figures, kept by the pool (Piscina carries none of its tasks): a task's wait
 * (from `run()` until it went to a worker, held time included) and run (from then until its
 * answer), in Piscina's histogram shape, and the utilization Piscina derives from them.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** Piscina's summary of a histogram, milliseconds. */
export interface HistogramSummary {
  /** The mean (as `mean`). */
  average: number;
  /** The mean. */
  mean: number;
  /** The standard deviation. */
  stddev: number;
  /** The least value recorded. */
  min: number;
  /** The largest value recorded. */
  max: number;
  /** The 0.001th percentile. */
  p0_001: number;
  /** The 0.01th percentile. */
  p0_01: number;
  /** The 0.1th percentile. */
  p0_1: number;
  /** The 1st percentile. */
  p1: number;
  /** The 2.5th percentile. */
  p2_5: number;
  /** The 10th percentile. */
  p10: number;
  /** The 25th percentile. */
  p25: number;
  /** The median. */
  p50: number;
  /** The 75th percentile. */
  p75: number;
  /** The 90th percentile. */
  p90: number;
  /** The 97.5th percentile. */
  p97_5: number;
  /** The 99th percentile. */
  p99: number;
  /** The 99.9th percentile. */
  p99_9: number;
  /** The 99.99th percentile. */
  p99_99: number;
  /** The 99.999th percentile. */
  p99_999: number;
}

/**
 * Piscina's `histogram` member, typed as Piscina types it: with `recordTiming: false` the
 * summaries are `undefined`, as in Piscina.
 */
export interface RunTimeHistogram {
  /** How long tasks ran: from going to a worker until their answer. */
  readonly runTime: HistogramSummary;
  /** How long tasks waited: from `run()` until going to a worker (time held for memory included). */
  readonly waitTime: HistogramSummary;
  /** Forgets the run times recorded so far. */
  resetRunTime(): void;
  /** Forgets the wait times recorded so far. */
  resetWaitTime(): void;
}

const PERCENTILES = [
  ['p0_001', 0.001],
  ['p0_01', 0.01],
  ['p0_1', 0.1],
  ['p1', 1],
  ['p2_5', 2.5],
  ['p10', 10],
  ['p25', 25],
  ['p50', 50],
  ['p75', 75],
  ['p90', 90],
  ['p97_5', 97.5],
  ['p99', 99],
  ['p99_9', 99.9],
  ['p99_99', 99.99],
  ['p99_999', 99.999],
] as const;

function summary(histogram: RecordableHistogram): HistogramSummary {
  const { mean, stddev, min, max } = histogram;
  const figures = { average: mean / 1000, mean: mean / 1000, stddev: stddev / 1000, min: min / 1000, max: max / 1000 } as HistogramSummary;
  for (const [key, percentile] of PERCENTILES) figures[key] = histogram.percentile(percentile) / 1000;
  return figures;
}

/** Milliseconds as the histogram's whole microseconds (at least 1, as Piscina records). */
function micros(ms: number): number {
  return Math.max(1, Math.trunc(ms * 1000));
}

export class RunTimes {
  readonly #runTime: RecordableHistogram | undefined;
  readonly #waitTime: RecordableHistogram | undefined;
  readonly #createdAt = performance.now();
  readonly histogram: RunTimeHistogram;

  constructor(record: boolean) {
    this.#runTime = record ? createHistogram() : undefined;
    this.#waitTime = record ? createHistogram() : undefined;
    const runTime = this.#runTime;
    const waitTime = this.#waitTime;
    this.histogram = Object.freeze({
      get runTime() {
        return (runTime && summary(runTime)) as HistogramSummary;
      },
      get waitTime() {
        return (waitTime && summary(waitTime)) as HistogramSummary;
      },
      resetRunTime: () => runTime?.reset(),
      resetWaitTime: () => waitTime?.reset(),
    });
  }

  /** Whether figures are recorded. */
  get recording(): boolean {
    return this.#runTime !== undefined;
  }

  /** A task submitted at `submittedAt` (`performance.now()`) goes to a worker now; returns now. */
  started(submittedAt: number): number {
    const now = performance.now();
    this.#waitTime?.record(micros(now - submittedAt));
    return now;
  }

  /** A task that went to a worker at `startedAt` has answered. */
  ran(startedAt: number): void {
    this.#runTime?.record(micros(performance.now() - startedAt));
  }

  /** Milliseconds since the pool was created. */
  get duration(): number {
    return performance.now() - this.#createdAt;
  }

  /** Piscina's utilization: the tasks' summed run time over `maxThreads` × the pool's age; 0 before any run. */
  utilization(maxThreads: number): number {
    const runTime = this.#runTime;
    if (!runTime || runTime.count === 0) return 0;
    return ((runTime.mean / 1000) * runTime.count) / (this.duration * maxThreads);
  }
}
