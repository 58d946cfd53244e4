/**
 * `isMemLimitReached()`: the standalone check for the isolate it is called in (main thread or a
 * worker), e.g. in an HTTP handler. One `v8.getHeapStatistics()` call and a comparison; when the
 * heap in use is above the mark, the live heap after the last major GC decides (garbage is not
 * pressure).
 */
import v8 from 'node:v8';
import { DEFAULTS, describe, refuseUnknown } from './options.js';
import { isolateTracker } from './readings/isolate.js';

/** Options of {@link isMemLimitReached}. */
export interface MemLimitCheckOptions {
  /** Fraction of the old-generation limit counted as "reached". Default 0.85. */
  highWater?: number;
}

/**
 * Whether this isolate's heap has reached `highWater` × its old-generation limit, judged on the
 * live heap (after the last major GC) when the cheap reading is above the mark.
 */
export function isMemLimitReached(options?: MemLimitCheckOptions): boolean {
  if (options !== undefined) check(options);
  const highWater = options?.highWater ?? DEFAULTS.highWater;
  const tracker = isolateTracker();
  const ceiling = highWater * tracker.limit;
  if (v8.getHeapStatistics().used_heap_size < ceiling) return false;
  const live = tracker.live;
  return live === undefined || live >= ceiling;
}

function check(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  refuseUnknown(options as Record<string, unknown>, ['highWater'], 'options');
  const { highWater } = options as { highWater?: unknown };
  if (highWater !== undefined) {
    if (typeof highWater !== 'number') throw new TypeError(`options.highWater must be a number in (0, 1], got ${describe(highWater)}`);
    if (!(highWater > 0 && highWater <= 1)) throw new RangeError(`options.highWater must be a number in (0, 1], got ${highWater}`);
  }
}
