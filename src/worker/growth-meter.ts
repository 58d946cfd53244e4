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
/** Runs of a task name measured in full before measuring at most one per {@link SAMPLE_GAP_MS}. */
const MEASURE_FIRST = 8;
const SAMPLE_GAP_MS = 50;

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

function read(): Growth {
  const stats = v8.getHeapStatistics() as HeapStatsWithExternal;
  return { heap: isolateTracker().retained(), external: stats.external_memory ?? 0 };
}

/** Per task name: runs measured so far and when the last measurement began (`performance.now()`). */
const measuredByName = new Map<string, { runs: number; at: number }>();

/**
 * Whether to measure this run of `name`: the first {@link MEASURE_FIRST} runs, then at most one per
 * {@link SAMPLE_GAP_MS} ms. A measurement costs ~8 µs (two retained-heap readings and a timer):
 * estimates need refreshing, not every run, and the cost stays bounded per second however short
 * the tasks are (one in 8 runs of no-op tasks was a tenth of a worker's time).
 */
export function shouldMeasure(name: string): boolean {
  const now = performance.now();
  const measured = measuredByName.get(name);
  if (measured && measured.runs >= MEASURE_FIRST && now - measured.at < SAMPLE_GAP_MS) return false;
  if (measured) {
    measured.runs++;
    measured.at = now;
  } else {
    measuredByName.set(name, { runs: 1, at: now });
  }
  return true;
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
