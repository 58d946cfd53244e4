/**
 * Measures how much one task grows its worker: heap that could still be live (the isolate's
 * retained estimate: old generation + young generation × its recent survival rate, so garbage that
 * dies young is not counted) and off-heap memory (`external_memory`), above where each stood when
 * the task started. Sampled at the start, every 10 ms while the task awaits (the timer cannot fire
 * during synchronous work), and at the end; the peak of each is kept.
 */
import v8 from 'node:v8';
import { isolateTracker } from '../readings/isolate.js';
import type { Growth } from '../pool/envelope.js';

const SAMPLE_MS = 10;
/** Runs of a task name measured in full before measuring only one in {@link SAMPLE_EVERY}. */
const MEASURE_FIRST = 8;
const SAMPLE_EVERY = 8;

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

function read(): Growth {
  const stats = v8.getHeapStatistics() as HeapStatsWithExternal;
  return { heap: isolateTracker().retained(), external: stats.external_memory ?? 0 };
}

const runsByName = new Map<string, number>();

/**
 * Whether to measure this run of `name`: the first {@link MEASURE_FIRST} runs, then one in
 * {@link SAMPLE_EVERY} (a measurement costs a few µs; estimates need refreshing, not every run).
 */
export function shouldMeasure(name: string): boolean {
  const runs = (runsByName.get(name) ?? 0) + 1;
  runsByName.set(name, runs);
  return runs <= MEASURE_FIRST || runs % SAMPLE_EVERY === 0;
}

export class GrowthMeter {
  readonly #start = read();
  readonly #peak: Growth = { heap: 0, external: 0 };
  readonly #timer = setInterval(() => this.#sample(), SAMPLE_MS).unref();
  #result: Growth | undefined;

  /** Takes a last sample, stops the timer, and returns the peaks (the same ones on later calls). */
  stop(): Growth {
    if (!this.#result) {
      clearInterval(this.#timer);
      this.#sample();
      this.#result = { ...this.#peak };
    }
    return this.#result;
  }

  #sample(): void {
    const now = read();
    this.#peak.heap = Math.max(this.#peak.heap, now.heap - this.#start.heap);
    this.#peak.external = Math.max(this.#peak.external, now.external - this.#start.external);
  }
}
