/** Default per-worker heap limits derived from the process limit. */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';

type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/** Share of the process limit given to worker heaps when the user sets none (see the README). */
const DEFAULT_WORKER_HEAP_SHARE = 0.5;
const MIN_DEFAULT_WORKER_HEAP_MB = 16;

/**
 * Per-worker heap limits when the user gave no `maxOldGenerationSizeMb` and the process limit is
 * known (container or explicit): half the limit shared by `maxThreads` workers, at least 16 MB, so
 * the pool cannot overcommit the container by default. Otherwise the options' own limits.
 */
export function defaultWorkerLimits(options: PiscinaOptions, processLimit: number): PiscinaOptions['resourceLimits'] {
  const asked = options.resourceLimits?.maxOldGenerationSizeMb ?? 0;
  if (asked > 0) return options.resourceLimits;
  // Piscina raises maxThreads to minThreads when only minThreads is given: that many workers may live at once.
  const threads = Math.max(1, Math.ceil(options.maxThreads ?? availableParallelism() * 1.5), options.minThreads ?? 0);
  const mb = Math.max(MIN_DEFAULT_WORKER_HEAP_MB, Math.floor((processLimit * DEFAULT_WORKER_HEAP_SHARE) / threads / 2 ** 20));
  return { ...options.resourceLimits, maxOldGenerationSizeMb: mb };
}
