/** One submitted task, from `run()` until it settles. */
import { performance } from 'node:perf_hooks';
import type { ParkedFor } from './parking.js';
import type { PullBack } from './pull-back.js';
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { MemoryPressureError } from '../errors.js';
import type { RunOptions } from '../options.js';
import type { TrackedWorker } from './workers.js';
import type { Growth } from './envelope.js';

export interface Task {
  input: unknown;
  transferList: Transferable[];
  name: string;
  /** Heap bytes needed, declared or learned (worker, process). */
  need: number;
  /** Heap bytes counted in the main isolate: the declared heap need only. */
  mainNeed: number;
  /** Off-heap bytes declared (process only). */
  external: number;
  /** Where `need` and `external` come from. */
  estimate: 'declared' | 'learned' | 'none' | 'off';
  signal: AbortSignal | undefined;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  /** `performance.now()` at `run()`: the wait deadline counts from here. */
  submittedAt: number;
  state: 'new' | 'held' | 'parked' | 'running' | 'settled';
  /** The worker the balancer put it on. */
  worker: TrackedWorker | undefined;
  /** Piscina's id for it, known once Piscina has queued it for a starting worker. */
  piscinaId: number | undefined;
  onAbort: (() => void) | undefined;
  /** Pulls a parked task back out of Piscina if the pool loses every worker. */
  unpark: PullBack | undefined;
  /** While sent without a worker: whether one is being started for it, or it waits for the next that frees. */
  parkedFor: ParkedFor | undefined;
  /** Why it was last held, when memory pressure was the reason. */
  lastPressure: MemoryPressureError | undefined;
}

/** How a task's memory need is chosen. */
export interface NeedSource {
  /** The pool's default task name. */
  defaultName: string;
  /** Whether needs are reserved at all (the `reservations` option). */
  reservations: boolean;
  /** The learned need for a task name, if enough is known. */
  learned(name: string): Growth | undefined;
}

/**
 * A new task. Its memory need: declared in `run()`, else learned from earlier runs of the same
 * name, else none. An input made with `Piscina.move()` is unwrapped here, as Piscina would do,
 * since it travels inside heapgate's envelope: its transferables join the transfer list.
 */
export function createTask(input: unknown, opts: RunOptions, source: NeedSource, resolve: (value: unknown) => void, reject: (reason: unknown) => void): Task {
  const name = opts.name ?? source.defaultName;
  let need = 0;
  let mainNeed = 0;
  let external = 0;
  let estimate: Task['estimate'] = 'none';
  if (!source.reservations) {
    estimate = 'off';
  } else if (opts.memory !== undefined) {
    need = typeof opts.memory === 'number' ? opts.memory : (opts.memory.heap ?? 0);
    external = typeof opts.memory === 'number' ? 0 : (opts.memory.external ?? 0);
    mainNeed = need;
    estimate = 'declared';
  }
  let transferList = opts.transferList ? [...opts.transferList] : [];
  const movable = input as Record<symbol, unknown> | null;
  if (movable !== null && typeof movable === 'object' && Piscina.transferableSymbol in movable) {
    transferList = transferList.concat(movable[Piscina.transferableSymbol] as Transferable);
    input = movable[Piscina.valueSymbol];
  }
  const task: Task = {
    input,
    transferList,
    name,
    need,
    mainNeed,
    external,
    estimate,
    signal: opts.signal,
    resolve,
    reject,
    submittedAt: performance.now(),
    state: 'new',
    worker: undefined,
    piscinaId: undefined,
    onAbort: undefined,
    unpark: undefined,
    parkedFor: undefined,
    lastPressure: undefined,
  };
  learnNeed(task, source);
  return task;
}

/**
 * Gives a task that declared no need the one learned for its name so far, if any. Called when it
 * is created, each time it is decided while held, and when a task sent ahead is placed (the pool
 * then adjusts the process reservation it made when sending): a task submitted before its name was
 * learned would otherwise reserve nothing however long it waits (measured: leaky tasks held while
 * the first runs were learned went in with no reservation, filled their workers to the limit, and
 * killed them). Never otherwise once its need is reserved (until it settles or is pulled back).
 */
export function learnNeed(task: Task, source: NeedSource): void {
  if (task.estimate !== 'none' && task.estimate !== 'learned') return;
  const learned = source.learned(task.name);
  if (!learned) return;
  task.need = learned.heap;
  task.external = learned.external;
  task.estimate = 'learned';
}
