/**
 * Readings of the isolate this code runs in: heap used now (cheap, counts garbage), heap live
 * after the last major GC (honest), the old-generation limit, and off-heap (external) memory.
 *
 * Live heap comes from a `'gc'` PerformanceObserver: after each batch of GCs the running
 * `v8.GCProfiler` is stopped and restarted (so it never accumulates records), `afterGC.usedHeapSize`
 * of the last `MarkSweepCompact` record is kept as the live heap, and each scavenge's before/after
 * space sizes give the young generation's survival rate. Nothing runs per submission.
 *
 * Why the survival rate: between major GCs the young generation holds either garbage (most
 * programs) or fresh data that will be kept (for example results just received from workers,
 * which land in `new_large_object_space`). `used_heap_size` cannot tell them apart; the share of
 * young bytes that survived recent scavenges can. {@link IsolateTracker.retained} uses it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { PerformanceObserver } from 'node:perf_hooks';
import { ownOldGenerationLimit } from './limits.js';

const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);
const MINOR_GC_TYPES = new Set(['Scavenge', 'MinorMarkSweep', 'MinorMarkCompact']);
/** Weight of the newest scavenge in the survival-rate average. */
const SURVIVAL_WEIGHT = 0.5;

interface SpaceRecord {
  spaceName: string;
  spaceUsedSize: number;
}

/** Young and old bytes in use now (one `v8.getHeapSpaceStatistics()` call). */
function generationsNow(): { young: number; old: number } {
  let young = 0;
  let old = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (YOUNG_SPACES.has(space.space_name)) young += space.space_used_size;
    else old += space.space_used_size;
  }
  return { young, old };
}

/** Young and old bytes in use from a GCProfiler record's space list. */
function split(spaces: readonly SpaceRecord[]): { young: number; old: number } {
  let young = 0;
  let old = 0;
  for (const space of spaces) {
    if (YOUNG_SPACES.has(space.spaceName)) young += space.spaceUsedSize;
    else old += space.spaceUsedSize;
  }
  return { young, old };
}

/** One isolate's heap readings, in bytes. */
export interface IsolateSnapshot {
  /** `used_heap_size` now: live data plus garbage not yet collected. */
  used: number;
  /** Heap in use right after the last major GC; `undefined` before the first one. */
  live: number | undefined;
  /** The old-generation limit (see `ownOldGenerationLimit`). */
  limit: number;
  /** Off-heap memory V8 knows of (Buffers, ArrayBuffers), allocated bytes. */
  external: number;
  /** Major GCs seen since the tracker started. */
  majorGcs: number;
  /** GCs (major and minor) this isolate forced on itself with {@link IsolateTracker.collect}. */
  collections: number;
}

/** The heap split by generation, with what the GCs so far have shown (see {@link IsolateTracker.heapNow}). */
export interface HeapSplit {
  /** Young-generation bytes in use. */
  young: number;
  /** Bytes in use in every other space. */
  old: number;
  /**
   * The last scavenge: the young bytes it kept (live then) and the share of the young generation
   * that survived it. `{ survivors: 0, rate: 1 }` before the first.
   */
  lastScavenge: { survivors: number; rate: number };
  /** Scavenges seen so far. */
  scavenges: number;
  /** Bytes the major GCs so far have freed, in all. */
  freedByMajorGcs: number;
  /** The smallest heap any major GC so far has left; `Infinity` before the first. */
  lowestLive: number;
}

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

/** Tracks live heap after major GCs in this isolate. One per isolate: use {@link isolateTracker}. */
export class IsolateTracker {
  #live: number | undefined;
  #majorGcs = 0;
  #collections = 0;
  #survival = 1;
  #scavenges = 0;
  #freedByMajorGcs = 0;
  #lowestLive = Infinity;
  #lastScavenge: HeapSplit['lastScavenge'] = { survivors: 0, rate: 1 };
  #gc: GcFunction | undefined;
  #profiler = new v8.GCProfiler();
  readonly #observer: PerformanceObserver;
  readonly #listeners = new Set<() => void>();
  readonly limit: number;

  constructor() {
    const stats = v8.getHeapStatistics();
    this.limit = ownOldGenerationLimit(stats.heap_size_limit);
    this.#profiler.start();
    this.#observer = new PerformanceObserver(() => this.#rotate());
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Heap live after the last major GC, or `undefined` before the first. */
  get live(): number | undefined {
    return this.#live;
  }

  /** Major GCs seen so far. */
  get majorGcs(): number {
    return this.#majorGcs;
  }

  /**
   * The heap now, split for measuring one task's growth (see `GrowthMeter`), with the GC figures
   * the `'gc'` observer has reported. It reports when the event loop turns, so GCs run since the
   * last turn are not in them yet. (Reading them at once means restarting the GC profiler, which
   * costs far more than its call: doing it per measurement cost no-op tasks on a one-thread pool
   * ~15 µs each, ratio 0.91 against 0.96.)
   */
  heapNow(): HeapSplit {
    const { young, old } = generationsNow();
    return { young, old, lastScavenge: this.#lastScavenge, scavenges: this.#scavenges, freedByMajorGcs: this.#freedByMajorGcs, lowestLive: this.#lowestLive };
  }

  /** The share (0–1) of young-generation bytes that survived recent scavenges; 1 before the first. */
  get youngSurvival(): number {
    return this.#survival;
  }

  /**
   * What could still be live now, in bytes: the old generation in use (garbage included until a
   * major GC says otherwise) plus the young generation times its recent survival rate. About
   * 1–2.5 µs (one `v8.getHeapSpaceStatistics()` call): for the slow path, not every submission.
   */
  retained(): number {
    const { young, old } = generationsNow();
    return old + young * this.#survival;
  }

  /** `used_heap_size` now (one `v8.getHeapStatistics()` call). */
  usedNow(): number {
    return v8.getHeapStatistics().used_heap_size;
  }

  /** All readings now. Costs one `v8.getHeapStatistics()` call. */
  snapshot(): IsolateSnapshot {
    const stats = v8.getHeapStatistics() as HeapStatsWithExternal;
    return { used: stats.used_heap_size, live: this.#live, limit: this.limit, external: stats.external_memory ?? 0, majorGcs: this.#majorGcs, collections: this.#collections };
  }

  /**
   * Runs a GC in this isolate now. `'major'` (a full GC) records the exact live heap and stops the
   * isolate for a few to ~100 ms; `'minor'` (a scavenge, 0.5–4 ms measured) frees young garbage,
   * including the memory of Buffers a task dropped whose objects are still young. Workers call it
   * only at the end of a task (see `worker.ts`) and when nudged; the main isolate never calls it
   * on the submission path. False when no `gc()` could be had (nothing was collected).
   */
  collect(kind: 'major' | 'minor' = 'major'): boolean {
    this.#gc ??= obtainGc();
    if (!this.#gc) return false;
    this.#gc({ type: kind });
    if (kind === 'major') this.#live = v8.getHeapStatistics().used_heap_size;
    // V8 takes the Buffers a GC freed off `external_memory` only when its concurrent array-buffer
    // sweeper is finalized, at the start of the next GC (measured on Node 24: a freed 48 MiB Buffer
    // stayed counted for as long as nothing else collected or allocated). A scavenge right after
    // (0.15–0.6 ms) finalizes it, so the figures read next are true.
    this.#gc({ type: 'minor' });
    this.#collections++;
    // Account these GCs now, not when the observer next reports: a task starting meanwhile would
    // take them for its own (a scavenge of the empty young generation, survival 0, made a 40 MiB
    // task that lives in the young generation measure 3 MiB).
    this.#rotate();
    return true;
  }

  /** Calls `listener` after each major GC has been accounted. Returns a function that removes it. */
  onMajorGc(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #rotate(): void {
    const data = this.#profiler.stop();
    this.#profiler = new v8.GCProfiler();
    this.#profiler.start();
    let lastMajor: number | undefined;
    let majors = 0;
    for (const record of data?.statistics ?? []) {
      if (record.gcType === 'MarkSweepCompact') {
        majors++;
        lastMajor = record.afterGC.heapStatistics.usedHeapSize;
        this.#freedByMajorGcs += Math.max(0, record.beforeGC.heapStatistics.usedHeapSize - lastMajor);
        this.#lowestLive = Math.min(this.#lowestLive, lastMajor);
      } else if (MINOR_GC_TYPES.has(record.gcType)) {
        const before = split(record.beforeGC.heapSpaceStatistics as SpaceRecord[]);
        const after = split(record.afterGC.heapSpaceStatistics as SpaceRecord[]);
        if (before.young > 0) {
          const survived = after.young + Math.max(0, after.old - before.old);
          const rate = Math.min(1, survived / before.young);
          this.#survival = SURVIVAL_WEIGHT * rate + (1 - SURVIVAL_WEIGHT) * this.#survival;
          this.#scavenges++;
          this.#lastScavenge = { survivors: after.young, rate };
        }
      }
    }
    if (lastMajor === undefined) return;
    this.#live = lastMajor;
    this.#majorGcs += majors;
    for (const listener of this.#listeners) listener();
  }
}

const GC_ATTEMPTS = 5;

type GcFunction = (options?: { type: 'major' | 'minor' }) => void;

/**
 * This isolate's `gc()` function: the global one when the process runs with `--expose-gc`, else
 * one taken from a fresh context created while the flag is briefly on. V8 flags are process-wide,
 * so another thread may turn the flag off in between; that is retried a few times. `undefined`
 * when it could not be had (the caller then simply does not collect).
 */
function obtainGc(): GcFunction | undefined {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as GcFunction;
  for (let attempt = 0; attempt < GC_ATTEMPTS; attempt++) {
    v8.setFlagsFromString('--expose-gc');
    try {
      const gc: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
      if (typeof gc === 'function') return gc as GcFunction;
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  return undefined;
}

let tracker: IsolateTracker | undefined;

/** The tracker of the current isolate, started on first use. */
export function isolateTracker(): IsolateTracker {
  tracker ??= new IsolateTracker();
  return tracker;
}
