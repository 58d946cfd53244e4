/**
 * Old-generation limits. `heap_size_limit` is NOT the number to compare against: it also holds
 * the young-generation reservation (Node 24: a worker with `maxOldGenerationSizeMb: 32` reports
 * 224 MB). Old-generation usage is compared against the old-generation limit.
 */
import v8 from 'node:v8';
import { isMainThread, resourceLimits } from 'node:worker_threads';

const MiB = 2 ** 20;
const OLD_SPACE_FLAG = /^--max[-_]old[-_]space[-_]size=(\d+(?:\.\d+)?)$/;

/**
 * The `--max-old-space-size` given to this process in `execArgv` or `NODE_OPTIONS`, in bytes
 * (the last one wins, as in Node), or `undefined`.
 */
export function oldSpaceFlagBytes(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  let found: number | undefined;
  for (const arg of [...nodeOptions.split(/\s+/), ...execArgv]) {
    const match = OLD_SPACE_FLAG.exec(arg);
    if (match) found = Number(match[1]) * MiB;
  }
  return found;
}

/**
 * The old-generation limit of the isolate this code runs in, in bytes.
 *
 * - In a worker: `heap_size_limit` minus the young-generation size the worker reports in its own
 *   `resourceLimits` (exact on Node 20, 22 and 24). This is the limit the worker really has, also
 *   when a process-wide `--max-old-space-size` overrides `maxOldGenerationSizeMb`; when the worker
 *   asked for less, the smaller figure is kept (the user's intent).
 * - In the main thread: `--max-old-space-size` when given, else 0.9 × `heap_size_limit` (V8
 *   reserves the rest for the young generation; 0.9 errs low).
 */
export function ownOldGenerationLimit(heapSizeLimit = v8.getHeapStatistics().heap_size_limit): number {
  if (!isMainThread) {
    const young = (resourceLimits.maxYoungGenerationSizeMb ?? 0) * MiB;
    const real = young > 0 && young < heapSizeLimit ? heapSizeLimit - young : Math.floor(heapSizeLimit * 0.9);
    const asked = (resourceLimits.maxOldGenerationSizeMb ?? 0) * MiB;
    return asked > 0 ? Math.min(asked, real) : real;
  }
  const flag = oldSpaceFlagBytes();
  return flag !== undefined ? Math.min(flag, heapSizeLimit) : Math.floor(heapSizeLimit * 0.9);
}
