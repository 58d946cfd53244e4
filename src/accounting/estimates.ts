/**
 * Learned memory estimates per task name, from what earlier runs actually grew their worker
 * (heap and off-heap, measured by the worker for runs it had to itself). Kept conservative: a
 * decaying maximum (each new run multiplies the old peak by {@link DECAY} before comparing), used
 * only after {@link MIN_SAMPLES} runs, with a {@link LEARNED_MARGIN} on top for peaks the 10 ms sampling
 * missed. A one-off spike fades by half in about 7 runs; a steady need is kept.
 */
import type { Growth } from '../worker/growth-meter.js';

const DECAY = 0.9;
/** Runs measured before a name's need is used: the first one (until then it runs alone, see the pool's slow start). */
const MIN_SAMPLES = 1;
/** The margin on top of a name's measured peak in its learned need. */
export const LEARNED_MARGIN = 1.25;
/**
 * Learned needs below this are taken as none: a no-op task measures a few KiB of noise, and a need
 * of zero spares such tasks the reservation bookkeeping (busy periods, credits) altogether.
 */
const NOISE_BYTES = 2 ** 20;
/** Names kept at most (the oldest learned is dropped first): task names are usually few. */
const MAX_NAMES = 1000;

/** What has been learned of one task name. */
export interface Estimate {
  /** Decaying peak heap growth, bytes. */
  heap: number;
  /** Decaying peak off-heap growth, bytes. */
  external: number;
  /** Runs measured. */
  samples: number;
}

/** What is kept per name: the estimate, and the need it gives (made once per change, shared by every task asking). */
interface Learned {
  estimate: Estimate;
  need: Readonly<Growth> | undefined;
}

export class Estimates {
  readonly #byName = new Map<string, Learned>();

  /** Records one measured run. Returns whether the need of `name` changed. */
  record(name: string, growth: Growth): boolean {
    const known = this.#byName.get(name);
    const estimate: Estimate = known
      ? { heap: Math.max(growth.heap, known.estimate.heap * DECAY), external: Math.max(growth.external, known.estimate.external * DECAY), samples: known.estimate.samples + 1 }
      : { heap: Math.max(0, growth.heap), external: Math.max(0, growth.external), samples: 1 };
    const need = needOf(estimate);
    const before = known?.need;
    const changed = before?.heap !== need?.heap || before?.external !== need?.external;
    this.#byName.delete(name);
    this.#byName.set(name, { estimate, need: changed ? need : before });
    if (this.#byName.size > MAX_NAMES) this.#byName.delete(this.#byName.keys().next().value as string);
    return changed;
  }

  /** Runs of `name` measured so far. */
  samples(name: string): number {
    return this.#byName.get(name)?.estimate.samples ?? 0;
  }

  /** The need to reserve for a run of `name` that declared none, or `undefined` while too little is known. */
  need(name: string): Readonly<Growth> | undefined {
    return this.#byName.get(name)?.need;
  }

  /** Everything learned, by task name. */
  snapshot(): Record<string, Estimate> {
    // Whole bytes (the figures are decaying averages).
    return Object.fromEntries([...this.#byName].map(([name, { estimate }]) => [name, { ...estimate, heap: Math.round(estimate.heap), external: Math.round(estimate.external) }]));
  }
}

function needOf(estimate: Estimate): Growth | undefined {
  if (estimate.samples < MIN_SAMPLES) return undefined;
  const heap = estimate.heap < NOISE_BYTES ? 0 : Math.ceil(estimate.heap * LEARNED_MARGIN);
  const external = estimate.external < NOISE_BYTES ? 0 : Math.ceil(estimate.external * LEARNED_MARGIN);
  return { heap, external };
}
