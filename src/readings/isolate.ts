/**
 * Readings of the isolate this code runs in: heap used now (cheap, counts garbage), heap live
 * after the last major GC (honest), the old-generation limit, and off-heap (external) memory.
 *
 * Live heap comes from a `'gc'` PerformanceObserver: on each major GC the running `v8.GCProfiler`
 * is stopped and restarted, and `afterGC.usedHeapSize` of its last `MarkSweepCompact` record is
 * kept. Nothing runs per submission; the cost is paid once per major GC. The profiler is also
 * rotated after every {@link ROTATE_AFTER_GCS} GCs so it never accumulates records.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { ownOldGenerationLimit } from './limits.js';

const ROTATE_AFTER_GCS = 256;

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
  /** GCs this isolate forced on itself with {@link IsolateTracker.collect}. */
  collections: number;
}

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

/** Tracks live heap after major GCs in this isolate. One per isolate: use {@link isolateTracker}. */
export class IsolateTracker {
  #live: number | undefined;
  #majorGcs = 0;
  #gcsSinceRotation = 0;
  #collections = 0;
  #gc: (() => void) | undefined;
  #profiler = new v8.GCProfiler();
  readonly #observer: PerformanceObserver;
  readonly #listeners = new Set<() => void>();
  readonly limit: number;

  constructor() {
    const stats = v8.getHeapStatistics();
    this.limit = ownOldGenerationLimit(stats.heap_size_limit);
    this.#profiler.start();
    this.#observer = new PerformanceObserver((list) => {
      let major = false;
      for (const entry of list.getEntries()) {
        this.#gcsSinceRotation++;
        if (((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major = true;
      }
      if (major || this.#gcsSinceRotation >= ROTATE_AFTER_GCS) this.#rotate();
    });
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

  /** All readings now. Costs one `v8.getHeapStatistics()` call. */
  snapshot(): IsolateSnapshot {
    const stats = v8.getHeapStatistics() as HeapStatsWithExternal;
    return { used: stats.used_heap_size, live: this.#live, limit: this.limit, external: stats.external_memory ?? 0, majorGcs: this.#majorGcs, collections: this.#collections };
  }

  /**
   * Runs a full GC in this isolate now and records the exact live heap. It stops this isolate for
   * a few to ~100 ms: workers call it only when a task ends with the heap above the mark and no
   * fresh live figure; the main isolate never calls it on the submission path. False when no `gc()`
   * could be had (nothing was collected).
   */
  collect(): boolean {
    this.#gc ??= obtainGc();
    if (!this.#gc) return false;
    this.#gc();
    this.#live = v8.getHeapStatistics().used_heap_size;
    this.#collections++;
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
    this.#gcsSinceRotation = 0;
    let lastMajor: number | undefined;
    let majors = 0;
    for (const record of data?.statistics ?? []) {
      if (record.gcType === 'MarkSweepCompact') {
        majors++;
        lastMajor = record.afterGC.heapStatistics.usedHeapSize;
      }
    }
    if (lastMajor === undefined) return;
    this.#live = lastMajor;
    this.#majorGcs += majors;
    for (const listener of this.#listeners) listener();
  }
}

const GC_ATTEMPTS = 5;

/**
 * This isolate's `gc()` function: the global one when the process runs with `--expose-gc`, else
 * one taken from a fresh context created while the flag is briefly on. V8 flags are process-wide,
 * so another thread may turn the flag off in between; that is retried a few times. `undefined`
 * when it could not be had (the caller then simply does not collect).
 */
function obtainGc(): (() => void) | undefined {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as () => void;
  for (let attempt = 0; attempt < GC_ATTEMPTS; attempt++) {
    v8.setFlagsFromString('--expose-gc');
    try {
      const gc: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
      if (typeof gc === 'function') return gc as () => void;
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
