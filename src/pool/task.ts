/** One submitted task, from `run()` until it settles. */
import { performance } from 'node:perf_hooks';
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { MemoryPressureError } from '../errors.js';
import type { RunOptions } from '../options.js';
import type { TrackedWorker } from './workers.js';

export interface Task {
  input: unknown;
  transferList: Transferable[];
  name: string;
  /** Heap bytes declared (worker, main isolate, process). */
  need: number;
  /** Off-heap bytes declared (process only). */
  external: number;
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
  waitTimer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
  /** Pulls a parked task back out of Piscina if the pool loses every worker. */
  unpark: AbortController | undefined;
  /** Why it was last held, when memory pressure was the reason. */
  lastPressure: MemoryPressureError | undefined;
}

/**
 * A new task. An input made with `Piscina.move()` is unwrapped here, as Piscina would do, since
 * it travels inside heapgate's envelope: its transferables join the transfer list.
 */
export function createTask(input: unknown, opts: RunOptions, defaultName: string, resolve: (value: unknown) => void, reject: (reason: unknown) => void): Task {
  let transferList = opts.transferList ? [...opts.transferList] : [];
  const movable = input as Record<symbol, unknown> | null;
  if (movable !== null && typeof movable === 'object' && Piscina.transferableSymbol in movable) {
    transferList = transferList.concat(movable[Piscina.transferableSymbol] as Transferable);
    input = movable[Piscina.valueSymbol];
  }
  return {
    input,
    transferList,
    name: opts.name ?? defaultName,
    need: typeof opts.memory === 'number' ? opts.memory : (opts.memory?.heap ?? 0),
    external: typeof opts.memory === 'number' ? 0 : (opts.memory?.external ?? 0),
    signal: opts.signal,
    resolve,
    reject,
    submittedAt: performance.now(),
    state: 'new',
    worker: undefined,
    piscinaId: undefined,
    waitTimer: undefined,
    onAbort: undefined,
    unpark: undefined,
    lastPressure: undefined,
  };
}
