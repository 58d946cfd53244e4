/**
 * Measures how much one task grows its worker: heap that could still be live, and off-heap memory
 * (`external_memory`), above where each stood when the task started. Sampled at the start, every
 * 10 ms while the task awaits (the timer cannot fire during synchronous work), and at the end; the
 * peak of each is kept.
 *
 * Heap that could be live: the old generation in use, the young bytes the last scavenge kept
 * (live then), and the young bytes allocated since at that scavenge's survival rate — but only a
 * scavenge during the task speaks for the task's own allocations: until one has run, all the young
 * bytes the task allocated count. (The isolate's running survival average, which the gate uses,
 * mixes in the scavenges that find a finished task's data dead: measured with 40 MiB tasks back to
 * back on a 96 MB worker, where the whole task sat in the young generation, runs measured 40, 32,
 * 17 and 0 MiB in turn as the average fell to 0.4, the learned need decayed, and a worker died of
 * two tasks at once.)
 *
 * The start counts the old generation's garbage (what earlier tasks dropped) until a major GC frees
 * it, and when one does during the task, that garbage may have made room for the task's data:
 * growth above the start misses it. So what major GCs free during the task is added back, up to
 * what the start held beyond the worker's heap before its first task or the smallest a major GC
 * has left (at most that much of it can be garbage). Garbage the task itself left in the old
 * generation may be added too: errs high. (Measured: with 40 MiB tasks one after another, a run that began with the previous one's 40 MiB
 * dead in the old generation measured 0.2 MiB.)
 */
import v8 from 'node:v8';
import { isolateTracker, type HeapSplit } from '../readings/isolate.js';

const SAMPLE_MS = 10;
/** Runs of a task name measured in full before measuring at most one per {@link SAMPLE_GAP_MS}. */
const MEASURE_FIRST = 8;
const SAMPLE_GAP_MS = 50;
/** Task names whose sampling state is kept; the least recently measured is dropped first. */
const MAX_NAMES = 256;

/** What a task grew while it ran alone on its worker: the peak above its starting point, bytes. */
export interface Growth {
  heap: number;
  external: number;
}

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

function externalNow(): number {
  return (v8.getHeapStatistics() as HeapStatsWithExternal).external_memory ?? 0;
}

/** The heap that could be live in `split`, counting the young bytes allocated since its last scavenge at that scavenge's rate. */
function heapOf(split: HeapSplit): number {
  const proven = Math.min(split.young, split.lastScavenge.survivors);
  return split.old + proven + (split.young - proven) * split.lastScavenge.rate;
}

/** Per task name: runs measured so far and when the last measurement began (`performance.now()`). */
const measuredByName = new Map<string, { runs: number; at: number }>();

/**
 * Whether to measure this run of `name`: the first {@link MEASURE_FIRST} runs, then at most one per
 * {@link SAMPLE_GAP_MS} ms. A measurement costs ~4.5 µs (measured: heap readings and a timer):
 * estimates need refreshing, not every run, and the cost stays bounded per second however short
 * the tasks are (one in 8 runs of no-op tasks was a tenth of a worker's time).
 */
export function shouldMeasure(name: string): boolean {
  const now = performance.now();
  const measured = measuredByName.get(name);
  if (measured && measured.runs >= MEASURE_FIRST && now - measured.at < SAMPLE_GAP_MS) return false;
  measuredByName.delete(name);
  measuredByName.set(name, { runs: (measured?.runs ?? 0) + 1, at: now });
  if (measuredByName.size > MAX_NAMES) measuredByName.delete(measuredByName.keys().next().value as string);
  return true;
}

export class GrowthMeter {
  readonly #start = isolateTracker().heapNow();
  readonly #startHeap = heapOf(this.#start);
  readonly #startExternal = externalNow();
  /** At most this much of the start can be garbage that a major GC frees during the task. */
  readonly #garbageAtStart: number;
  #peakHeap = this.#startHeap;
  #peakExternal = this.#startExternal;
  readonly #timer = setInterval(() => this.#sample(), SAMPLE_MS).unref();
  #result: Growth | undefined;

  /**
   * `fresh`: the worker's heap before its first task, or 0 when not known yet. With the smallest
   * heap a major GC has left in this worker, it bounds what the start can hold besides garbage.
   */
  constructor(fresh: number) {
    this.#garbageAtStart = Math.max(0, this.#startHeap - Math.min(fresh, this.#start.lowestLive));
  }

  /** Takes a last sample, stops the timer, and returns the peaks (the same ones on later calls). */
  stop(): Growth {
    if (!this.#result) {
      clearInterval(this.#timer);
      this.#sample();
      this.#result = { heap: Math.max(0, this.#peakHeap - this.#startHeap), external: Math.max(0, this.#peakExternal - this.#startExternal) };
    }
    return this.#result;
  }

  #sample(): void {
    const now = isolateTracker().heapNow();
    const scavenged = now.scavenges !== this.#start.scavenges;
    // Before any scavenge during the task, everything it allocated is still in the young generation, uncounted by any rate.
    const heap = scavenged ? heapOf(now) : this.#startHeap + (now.old - this.#start.old) + (now.young - this.#start.young);
    const freed = Math.min(this.#garbageAtStart, now.freedByMajorGcs - this.#start.freedByMajorGcs);
    this.#peakHeap = Math.max(this.#peakHeap, heap + freed);
    this.#peakExternal = Math.max(this.#peakExternal, externalNow());
  }
}
