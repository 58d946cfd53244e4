/**
 * Options of {@link GatedPool} and of `run()`: types, defaults and validation. Every option is
 * checked at construction; a wrong type throws a `TypeError` and a value out of range a
 * `RangeError`, both naming the option and the value given.
 */
import { statSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SHARE_ENV, type ResourceLimits, type Transferable } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { SEP } from './worker/task-key.js';
import { checkWorkerFlags } from './placement/worker-start-check.js';

type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/** What to do with a task the gate cannot admit because of memory pressure. */
export type Policy = 'reject' | 'wait';

/** Options of a {@link GatedPool}. Piscina's options pass through, except those the gate owns. */
export interface GatedPoolOptions extends Omit<PiscinaOptions, 'filename' | 'maxQueue' | 'loadBalancer' | 'taskQueue'> {
  /**
   * The task module: an absolute path or a `file:` URL, as in Piscina. May be left out (or `null`)
   * when every `run()` names its own `filename`.
   */
  filename?: string | URL | null;
  /** Per-worker limits, as in `new Worker()`; `maxOldGenerationSizeMb` is each worker's heap limit. */
  resourceLimits?: ResourceLimits;
  /** `'reject'`: refuse at once under pressure. `'wait'` (default): hold in a bounded queue. */
  policy?: Policy;
  /** Fraction of a limit at which admission stops. Default 0.85. */
  highWater?: number;
  /** Fraction of a limit below which a scope under pressure admits again. Default `highWater` − 0.1 (0.75 with the default highWater), or half of `highWater` below 0.2. */
  lowWater?: number;
  /**
   * Most tasks held at once (waiting for a worker or for memory); more are rejected with
   * `QueueFullError`. Default 16 384. `'auto'`: `maxThreads`² (as in Piscina); `Infinity`: unbounded.
   */
  maxQueue?: number | 'auto';
  /**
   * A task held this long *for memory* is rejected with `WaitTimeoutError`. Time spent waiting for
   * a busy worker does not count (as in Piscina, it waits its turn). Default 30 000 ms.
   */
  maxWaitMs?: number;
  /** How often busy workers are sampled and held tasks re-evaluated. Default 50 ms. */
  pollIntervalMs?: number;
  /** The hint given in `MemoryPressureError.retryAfterMs`. Default 1000 ms. */
  retryAfterMs?: number;
  /**
   * The process's memory limit: bytes, `'auto'` (default: the container's cgroup limit, else the
   * system's memory; `NODE_DEBUG=heapgate` logs which), or `false` to not watch the process scope.
   */
  memoryLimit?: number | 'auto' | false;
  /** Where the cgroup filesystem is mounted. Default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /**
   * Whether tasks' declared and learned memory needs are reserved from admission until they
   * settle (default true). `false` leaves only the instantaneous check — the race in which many
   * tasks pass together before any has allocated — and exists to show that difference.
   */
  reservations?: boolean;
  /**
   * Slow start for unknown work (default true): a task whose name has no learned need and that
   * declares no `memory` runs one at a time (per pool) until a run of its name has been measured;
   * from then on the learned need governs. `false` admits unknown work by the readings alone.
   */
  slowStart?: boolean;
  /**
   * Whether the pool starts tasks as soon as they are admitted (default true). `false` creates it
   * paused, as p-queue's `autoStart`: tasks are queued until `start()`.
   */
  autoStart?: boolean;
  /**
   * How long, in ms, tasks behind the head of the queue may start before it while it cannot start
   * for memory (default 1000; 0: strict order). After that, nothing overtakes it until it starts,
   * or until no task of the pool runs any more and it still does not fit (then a new window
   * opens). See "Order and starvation" in the README.
   */
  overtakeMs?: number;
}

/** Options of one `run()`. */
export interface RunOptions {
  /** The export of the task module to call. Default (also for `null`, as in Piscina): the pool's `name`, else `'default'`. */
  name?: string | null;
  /** The task module for this run (an absolute path or a `file:` URL), instead of the pool's. */
  filename?: string | URL | null;
  /** Objects to transfer (not copy) to the worker, as in Piscina. */
  transferList?: readonly Transferable[];
  /**
   * Aborts the task while it is held (it is dropped) or while it runs (its worker is stopped). An
   * `AbortSignal`, or (as in Piscina) an `EventEmitter` that emits `'abort'`; `null` is none.
   */
  signal?: AbortSource | null;
  /**
   * The task's estimated memory need, reserved from admission until it settles. A number is heap
   * bytes: reserved in the worker that runs it, in the main isolate (where its result lands) and
   * in the process. `{ heap, external }` adds off-heap bytes (Buffers, ArrayBuffers), reserved in
   * the process only.
   */
  memory?: number | MemoryNeed;
  /**
   * As in p-queue: tasks of higher priority start before tasks of lower priority that wait; equal
   * priorities start in the order submitted. Any finite number; default 0.
   */
  priority?: number;
}

/** What can abort a task: an `AbortSignal`, or an event emitter that emits `'abort'` (Piscina accepts both). */
export type AbortSource =
  | AbortSignal
  | {
      /** Adds the pool's listener for one `'abort'`: the task is dropped while held, or its worker stopped while it runs. */
      once(event: 'abort', listener: () => void): unknown;
      /** Removes that listener once the task has settled; without it, the listener stays until `'abort'`. */
      removeListener?(event: 'abort', listener: () => void): unknown;
      /** Read when the task is submitted and when its run fails: `true` settles it with `AbortError`. */
      readonly aborted?: boolean;
      /** Why it was aborted: the `cause` of the `AbortError`. */
      readonly reason?: unknown;
    }
  | {
      /** An `EventTarget`-shaped signal (Piscina's `AbortSignalEventTarget`): the pool's listener for `'abort'`. */
      addEventListener(event: 'abort', listener: () => void, options?: { once: boolean }): unknown;
      /** Removes that listener once the task has settled. */
      removeEventListener?(event: 'abort', listener: () => void): unknown;
      /** Read when the task is submitted: `true` settles it with `AbortError`. */
      readonly aborted?: boolean;
      /** Why it was aborted: the `cause` of the `AbortError`. */
      readonly reason?: unknown;
    };

/** Whether `value` can abort a task (see {@link AbortSource}). */
export function isAbortSource(value: unknown): value is AbortSource {
  if (value instanceof AbortSignal) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.addEventListener === 'function' || typeof candidate.once === 'function';
}

/** A task's memory need in two parts, bytes. */
export interface MemoryNeed {
  /** JS heap bytes (worker, main isolate, process). */
  heap?: number;
  /** Off-heap bytes: Buffers, ArrayBuffers, native allocations (process only). */
  external?: number;
}

/** The gate's own settings after defaults and validation. */
export interface GateSettings {
  policy: Policy;
  highWater: number;
  lowWater: number;
  maxQueue: number;
  maxWaitMs: number;
  pollIntervalMs: number;
  retryAfterMs: number;
  /** The pool's task module, a file URL; `undefined` when every run names its own. */
  filename: string | undefined;
  name: string;
  concurrentTasksPerWorker: number;
  memoryLimit: number | 'auto' | false;
  cgroupRoot: string;
  reservations: boolean;
  slowStart: boolean;
  autoStart: boolean;
  overtakeMs: number;
}

/** Defaults of the gate's own options. */
export const DEFAULTS = {
  /** Hold tasks under memory pressure (see {@link GatedPoolOptions.policy}). */
  policy: 'wait',
  /** Admission stops at 85 % of a limit. */
  highWater: 0.85,
  /** A scope under pressure admits again below 75 % of its limit (or `highWater`, when that is lower). */
  lowWater: 0.75,
  /** Most tasks held at once. */
  maxQueue: 16_384,
  /** Longest a task waits for memory, ms. */
  maxWaitMs: 30_000,
  /** How often busy workers are sampled and held tasks decided again, ms. */
  pollIntervalMs: 50,
  /** `MemoryPressureError.retryAfterMs`, ms. */
  retryAfterMs: 1000,
  /** The container's cgroup limit, else system memory. */
  memoryLimit: 'auto',
  /** The cgroup filesystem's mount point. */
  cgroupRoot: '/sys/fs/cgroup',
  /** Declared and learned needs are reserved until their tasks settle. */
  reservations: true,
  /** Unknown work runs one at a time until measured. */
  slowStart: true,
  /** Tasks start as soon as they are admitted. */
  autoStart: true,
  /** How long tasks may overtake a head that cannot start for memory, ms. */
  overtakeMs: 1000,
} as const satisfies Partial<GateSettings>;

const GATE_KEYS = new Set(['policy', 'highWater', 'lowWater', 'maxQueue', 'maxWaitMs', 'pollIntervalMs', 'retryAfterMs', 'memoryLimit', 'cgroupRoot', 'reservations', 'slowStart', 'autoStart', 'overtakeMs']);
/** Piscina's constructor options passed through as they are (Piscina 5.3). */
const PISCINA_KEYS = new Set(['minThreads', 'maxThreads', 'idleTimeout', 'concurrentTasksPerWorker', 'atomics', 'resourceLimits', 'argv', 'execArgv', 'env', 'workerData', 'niceIncrement', 'trackUnmanagedFds', 'closeTimeout', 'recordTiming', 'stricterFIFO', 'workerHistogram']);
const POOL_KEYS = [...GATE_KEYS, ...PISCINA_KEYS, 'filename', 'name', 'loadBalancer', 'taskQueue'];
const RUN_KEYS = ['name', 'filename', 'transferList', 'signal', 'memory', 'priority'];

/** Edit distance between two short strings (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const width = b.length + 1;
  // Row-major (a.length + 1) × (b.length + 1) table of distances between prefixes.
  const table = new Uint16Array((a.length + 1) * width);
  const at = (i: number, j: number): number => table[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) table[i * width] = i;
  for (let j = 0; j <= b.length; j++) table[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      table[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

const RUN_KEY_SET = new Set(RUN_KEYS);

/** Whether the letters of `short` appear in `long` in the same order. */
function isSubsequence(short: string, long: string): boolean {
  let at = 0;
  for (const letter of long) if (letter === short[at]) at++;
  return at === short.length;
}

/** Throws a `TypeError` naming the first own key of `options` that is not in `known` (or `knownSet`, the same keys), with the closest known key when one is near. */
export function refuseUnknown(options: Record<string, unknown>, known: readonly string[], field: string, knownSet?: ReadonlySet<string>): void {
  for (const key in options) {
    if (!Object.hasOwn(options, key) || (knownSet ? knownSet.has(key) : known.includes(key))) continue;
    let closest: string | undefined;
    let closestDistance = Infinity;
    for (const candidate of known) {
      const d = distance(key.toLowerCase(), candidate.toLowerCase());
      if (d < closestDistance) {
        closest = candidate;
        closestDistance = d;
      }
    }
    // Near by edits, or an abbreviation (the key's letters in order in a single known key).
    const abbreviated = known.filter((candidate) => key.length >= 4 && isSubsequence(key.toLowerCase(), candidate.toLowerCase()));
    if (!(closestDistance <= Math.max(2, Math.floor(key.length / 3))) && abbreviated.length === 1) closest = abbreviated[0];
    else if (!(closestDistance <= Math.max(2, Math.floor(key.length / 3)))) closest = undefined;
    const hint = closest !== undefined ? ` (did you mean ${closest}?)` : '';
    throw new TypeError(`${field}.${key} is not an option${hint}`);
  }
}

/**
 * The least each `resourceLimits` field may be (MB) when set: below these a worker cannot start
 * (measured on Node 24: `maxOldGenerationSizeMb: 1` aborted the whole process, 4–8 MB workers
 * died at start-up) or crashes the process (`stackSizeMb: 0.001` segfaulted it). 0 means Node's
 * default and is allowed.
 */
export const MIN_RESOURCE_LIMITS_MB = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1, codeRangeSizeMb: 1, stackSizeMb: 1 } as const;
/** The least `memoryLimit` (bytes) a pool can run in: Node with a worker uses ~40 MB before any task (a smaller number is usually MB meant as bytes). */
const MIN_MEMORY_LIMIT = 64 * 2 ** 20;
const RESOURCE_LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return `a boxed ${typeof value.valueOf()} (${describe(value.valueOf())})`;
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The longest a Node timer waits (2³¹ − 1 ms, about 24.8 days): a longer delay fires after 1 ms, with a warning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function expectNumber(field: string, value: unknown, check: { min?: number; above?: number; max?: number; integer?: boolean; allowInfinity?: boolean; timer?: boolean }): number {
  if (typeof value !== 'number') throw new TypeError(`${field} must be a number, got ${describe(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${field} must not be NaN`);
  if (!check.allowInfinity && !Number.isFinite(value)) throw new RangeError(`${field} must be finite, got ${value}`);
  if (check.integer && Number.isFinite(value) && !Number.isInteger(value)) throw new RangeError(`${field} must be an integer, got ${value}`);
  if (check.min !== undefined && value < check.min) throw new RangeError(`${field} must be >= ${check.min}, got ${value}`);
  if (check.above !== undefined && value <= check.above) throw new RangeError(`${field} must be > ${check.above}, got ${value}`);
  if (check.max !== undefined && value > check.max) throw new RangeError(`${field} must be <= ${check.max}, got ${value}`);
  if (check.timer && Number.isFinite(value) && value > MAX_TIMER_MS) throw new RangeError(`${field} must be at most ${MAX_TIMER_MS} ms (the longest a Node timer waits)${check.allowInfinity ? ' or Infinity' : ''}, got ${value}`);
  return value;
}

function optionalNumber(options: Record<string, unknown>, key: string, fallback: number, check: Parameters<typeof expectNumber>[2]): number {
  const value = options[key];
  return value === undefined ? fallback : expectNumber(`options.${key}`, value, check);
}

/** Module files found to exist, by file URL: each is looked up once (a per-run `filename` too). */
const existing = new Set<string>();

/**
 * Turns an absolute path or a `file:` URL into a `file:` URL string, or throws naming `field`:
 * also when it names no file (a typo would otherwise fail every task with Node's module error).
 */
export function toFileUrl(field: string, value: unknown): string {
  if (value instanceof URL) value = value.href;
  if (typeof value !== 'string') throw new TypeError(`${field} must be a string (absolute path or file: URL), got ${describe(value)}`);
  let url: string;
  if (value.startsWith('file:')) url = value;
  else if (isAbsolute(value)) url = pathToFileURL(value).href;
  else throw new RangeError(`${field} must be an absolute path or a file: URL, got ${describe(value)}`);
  if (existing.has(url)) return url;
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (error) {
    throw new RangeError(`${field} must be an absolute path or a file: URL, got ${describe(value)}`, { cause: error });
  }
  const found = statSync(path, { throwIfNoEntry: false });
  if (!found) throw new RangeError(`${field} must name a module file that exists, got ${describe(value)} (no such file)`);
  if (found.isDirectory()) throw new RangeError(`${field} must name a module file, got ${describe(value)} (a directory)`);
  if (existing.size >= 4096) existing.clear();
  existing.add(url);
  return url;
}

/** Validates the pool's options; returns the gate's settings and the options left for Piscina. */
export function validatePoolOptions(options: unknown = {}): { gate: GateSettings; piscina: PiscinaOptions } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  // Own properties only: a property set on Object.prototype is not an option.
  const o = Object.assign(Object.create(null) as Record<string, unknown>, options);
  refuseUnknown(o, POOL_KEYS, 'options');
  validatePiscinaOptions(o);
  refuseOwned(o);
  if (o.filename !== undefined && o.filename !== null && typeof o.filename !== 'string' && !(o.filename instanceof URL)) {
    throw new TypeError(`options.filename must be a string or null (an absolute path or a file: URL), got ${describe(o.filename)}`);
  }
  const filename = o.filename === undefined || o.filename === null ? undefined : toFileUrl('options.filename', o.filename);
  const policy = o.policy === undefined ? DEFAULTS.policy : o.policy;
  if (typeof policy !== 'string') throw new TypeError(`options.policy must be 'reject' or 'wait', got ${describe(policy)}`);
  if (policy !== 'reject' && policy !== 'wait') throw new RangeError(`options.policy must be 'reject' or 'wait', got ${describe(policy)}`);
  const highWater = optionalNumber(o, 'highWater', DEFAULTS.highWater, { above: 0, max: 1 });
  // Default: the gap below highWater the defaults keep (0.1), at most half of highWater, so a
  // lowered highWater keeps its hysteresis and a scope under pressure can always leave it.
  const gap = Math.min(DEFAULTS.highWater - DEFAULTS.lowWater, highWater / 2);
  const lowWater = optionalNumber(o, 'lowWater', Math.round((highWater - gap) * 1e6) / 1e6, { min: 0, max: 1 });
  if (lowWater > highWater) throw new RangeError(`options.lowWater (${lowWater}) must not be above options.highWater (${highWater})`);
  const name = o.name ?? 'default';
  if (typeof name !== 'string') throw new TypeError(`options.name must be a string or null, got ${describe(name)}`);
  if (name === '') throw new RangeError(`options.name must not be empty, got ""`);
  if (name.includes(SEP)) throw new RangeError(`options.name must not hold U+0001, got ${describe(name)}`);
  if (o.concurrentTasksPerWorker !== undefined) expectCount('options.concurrentTasksPerWorker', o.concurrentTasksPerWorker, 1);
  const concurrentTasksPerWorker = (o.concurrentTasksPerWorker as number | undefined) ?? 1;

  const piscina: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (!GATE_KEYS.has(key) && key !== 'filename' && key !== 'name' && value !== undefined) piscina[key] = value;
  }
  // Copies: the flags checked above are the ones every worker starts with, whatever the caller
  // changes in its objects later (a flag Node refuses when Piscina starts a worker in run()
  // leaves a task in Piscina's queue that no one can settle).
  // (Read from `o`, the options' own properties: `piscina` inherits Object.prototype.)
  if (Array.isArray(o.execArgv)) piscina.execArgv = [...(o.execArgv as string[])];
  if (Array.isArray(o.argv)) piscina.argv = [...(o.argv as unknown[])];
  if (isPlainObject(o.env)) piscina.env = { ...o.env };
  return {
    gate: {
      policy,
      highWater,
      lowWater,
      maxQueue: validateMaxQueue(o.maxQueue, o.maxThreads),
      maxWaitMs: optionalNumber(o, 'maxWaitMs', DEFAULTS.maxWaitMs, { min: 0, allowInfinity: true, timer: true }),
      pollIntervalMs: optionalNumber(o, 'pollIntervalMs', DEFAULTS.pollIntervalMs, { min: 1, max: 60_000 }),
      retryAfterMs: optionalNumber(o, 'retryAfterMs', DEFAULTS.retryAfterMs, { min: 0 }),
      filename,
      name,
      concurrentTasksPerWorker,
      memoryLimit: validateMemoryLimit(o.memoryLimit),
      cgroupRoot: validateCgroupRoot(o.cgroupRoot),
      reservations: validateBoolean('options.reservations', o.reservations, DEFAULTS.reservations),
      slowStart: validateBoolean('options.slowStart', o.slowStart, DEFAULTS.slowStart),
      autoStart: validateBoolean('options.autoStart', o.autoStart, DEFAULTS.autoStart),
      overtakeMs: optionalNumber(o, 'overtakeMs', DEFAULTS.overtakeMs, { min: 0, allowInfinity: true, timer: true }),
    },
    piscina: piscina as PiscinaOptions,
  };
}

/** Piscina's default `maxThreads`: one and a half threads per CPU. */
export function defaultMaxThreads(): number {
  return Math.ceil(availableParallelism() * 1.5);
}

function validateMaxQueue(value: unknown, maxThreads: unknown): number {
  if (value === undefined) return DEFAULTS.maxQueue;
  if (value === 'auto') {
    const threads = typeof maxThreads === 'number' ? maxThreads : defaultMaxThreads();
    return threads * threads;
  }
  if (typeof value === 'string') throw new RangeError(`options.maxQueue must be a non-negative integer, Infinity or 'auto', got ${describe(value)}`);
  expectCount('options.maxQueue', value, 0, true);
  return value as number;
}

function validateMemoryLimit(value: unknown): number | 'auto' | false {
  if (value === undefined) return DEFAULTS.memoryLimit;
  if (value === 'auto' || value === false) return value;
  if (typeof value === 'number') {
    expectNumber('options.memoryLimit', value, { integer: true });
    if (value < MIN_MEMORY_LIMIT) throw new RangeError(`options.memoryLimit is in bytes and must be at least ${MIN_MEMORY_LIMIT} (64 MiB: Node with a worker uses ~40 MB before any task), got ${value}`);
    return value;
  }
  if (typeof value === 'string') throw new RangeError(`options.memoryLimit must be a number of bytes, 'auto' or false, got ${describe(value)}`);
  throw new TypeError(`options.memoryLimit must be a number of bytes, 'auto' or false, got ${describe(value)}`);
}

function validateBoolean(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${field} must be a boolean, got ${describe(value)}`);
  return value;
}

function validateCgroupRoot(value: unknown): string {
  if (value === undefined) return DEFAULTS.cgroupRoot;
  if (typeof value !== 'string') throw new TypeError(`options.cgroupRoot must be a string, got ${describe(value)}`);
  if (!isAbsolute(value)) throw new RangeError(`options.cgroupRoot must be an absolute path, got ${describe(value)}`);
  // Given, it is meant to be there: a mistyped path would silently measure the process by RSS.
  if (!statSync(value, { throwIfNoEntry: false })?.isDirectory()) throw new RangeError(`options.cgroupRoot must be a directory that exists, got ${describe(value)}`);
  return value;
}

/**
 * Piscina's own count options, checked with Piscina's wording ("must be a non-negative integer")
 * so that code matching Piscina's messages keeps working; the value given follows.
 */
function expectCount(field: string, value: unknown, least: 0 | 1, allowInfinity = false, timer = false): void {
  const what = least === 0 ? 'a non-negative integer' : 'a positive integer';
  if (typeof value !== 'number') throw new TypeError(`${field} must be ${what}, got ${describe(value)}`);
  const ok = (Number.isInteger(value) || (allowInfinity && value === Infinity)) && value >= least;
  if (!ok) throw new RangeError(`${field} must be ${what}, got ${value}`);
  if (timer && Number.isFinite(value) && value > MAX_TIMER_MS) throw new RangeError(`${field} must be at most ${MAX_TIMER_MS} ms (the longest a Node timer waits) or Infinity, got ${value}`);
}

/**
 * `loadBalancer` and `taskQueue` are refused: the gate chooses workers and holds tasks itself. A
 * value Piscina itself would refuse gets Piscina's message first.
 */
function refuseOwned(o: Record<string, unknown>): void {
  const balancer = o.loadBalancer;
  if (balancer !== undefined && (typeof balancer !== 'function' || balancer.length < 1)) throw new TypeError(`options.loadBalancer must be a function with at least two args, got ${describe(balancer)}`);
  const queue = o.taskQueue as Record<string, unknown> | null | undefined;
  if (queue !== undefined && (typeof queue !== 'object' || queue === null || !('size' in queue) || typeof queue.shift !== 'function' || typeof queue.remove !== 'function' || typeof queue.push !== 'function')) {
    throw new TypeError(`options.taskQueue must be a TaskQueue object, got ${describe(queue)}`);
  }
  for (const owned of ['loadBalancer', 'taskQueue'] as const) {
    if (o[owned] !== undefined) throw new TypeError(`options.${owned} is not supported: the gate chooses workers and holds tasks itself`);
  }
}

/** Piscina's own options, checked as Piscina checks them (its wording), each naming the value given. */
function validatePiscinaOptions(o: Record<string, unknown>): void {
  for (const key of ['trackUnmanagedFds', 'recordTiming', 'workerHistogram', 'stricterFIFO'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new TypeError(`options.${key} must be a boolean, got ${describe(o[key])}`);
  }
  if (o.atomics !== undefined && o.atomics !== null && o.atomics !== 'sync' && o.atomics !== 'async' && o.atomics !== 'disabled') {
    // Piscina's words, typo included ("sync, sync"), so that code matching them keeps working.
    throw new TypeError(`options.atomics should be a value of sync, sync or disabled. Got ${describe(o.atomics)}; the values are 'sync', 'async' and 'disabled'`);
  }
  if (o.closeTimeout !== undefined) expectCount('options.closeTimeout', o.closeTimeout, 0, true, true);
  const nice = o.niceIncrement;
  if (nice !== undefined) {
    const what = 'options.niceIncrement must be a non-negative integer on Unix systems';
    if (typeof nice !== 'number') throw new TypeError(`${what}, got ${describe(nice)}`);
    if (!Number.isInteger(nice) || (nice < 0 && process.platform !== 'win32')) throw new RangeError(`${what}, got ${nice}`);
  }
  validatePiscinaNumbers(o);
  validateWorkerSetup(o);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What each worker is started with (Node's `Worker` options), checked here rather than when a worker starts. */
function validateWorkerSetup(o: Record<string, unknown>): void {
  if (o.argv !== undefined && !Array.isArray(o.argv)) throw new TypeError(`options.argv must be an array, got ${describe(o.argv)}`);
  const execArgv = o.execArgv;
  if (execArgv !== undefined) {
    if (!Array.isArray(execArgv)) throw new TypeError(`options.execArgv must be an array of strings, got ${describe(execArgv)}`);
    (execArgv as unknown[]).forEach((flag, index) => {
      if (typeof flag !== 'string') throw new TypeError(`options.execArgv[${index}] must be a string, got ${describe(flag)}`);
    });
  }
  if (o.env !== undefined && o.env !== SHARE_ENV && !isPlainObject(o.env)) throw new TypeError(`options.env must be an object (or worker_threads.SHARE_ENV), got ${describe(o.env)}`);
  checkWorkerFlags(execArgv as string[] | undefined, o.env as Record<string, unknown> | typeof SHARE_ENV | undefined);
  if (o.workerData !== undefined) {
    try {
      structuredClone(o.workerData);
    } catch (error) {
      throw new TypeError(`options.workerData must be a value workers can receive (structured clone), got ${typeof o.workerData === 'symbol' ? 'a symbol' : describe(o.workerData)}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function validatePiscinaNumbers(o: Record<string, unknown>): void {
  if (o.minThreads !== undefined) expectCount('options.minThreads', o.minThreads, 0);
  if (o.maxThreads !== undefined) expectCount('options.maxThreads', o.maxThreads, 1);
  if (typeof o.minThreads === 'number' && typeof o.maxThreads === 'number' && o.minThreads > o.maxThreads) {
    throw new RangeError(`options.minThreads and options.maxThreads must not conflict: minThreads (${o.minThreads}) is above maxThreads (${o.maxThreads})`);
  }
  if (o.idleTimeout !== undefined) expectCount('options.idleTimeout', o.idleTimeout, 0, true, true);
  const limits = o.resourceLimits;
  if (limits === undefined) return;
  if (!isPlainObject(limits)) throw new TypeError(`options.resourceLimits must be an object, got ${describe(limits)}`);
  refuseUnknown(limits, RESOURCE_LIMIT_KEYS, 'options.resourceLimits');
  for (const key of RESOURCE_LIMIT_KEYS) {
    const value = (limits as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const mb = expectNumber(`options.resourceLimits.${key}`, value, { min: 0 });
    const least = MIN_RESOURCE_LIMITS_MB[key];
    if (mb !== 0 && mb < least) throw new RangeError(`options.resourceLimits.${key} must be 0 (Node's default) or at least ${least} MB, got ${mb}: a worker cannot start with less`);
    // A thread's stack is reserved whole when it starts: one larger than the machine's memory is
    // refused by the kernel (measured: 30 000 MB on a 24 GiB machine, EAGAIN from \`new Worker\`).
    if (key === 'stackSizeMb' && mb * 2 ** 20 >= totalmem()) {
      throw new RangeError(`options.resourceLimits.stackSizeMb must be below the machine's memory (${Math.floor(totalmem() / 2 ** 20)} MB), got ${mb}: a worker's stack is reserved whole when it starts`);
    }
  }
}

/** Checks `close()`'s options (`{ force?: boolean }`); returns `force`. Throws a `TypeError` naming what is wrong. */
export function validateCloseOptions(options: unknown): boolean | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError(`close options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  refuseUnknown(o, ['force'], 'close options');
  if (o.force !== undefined && typeof o.force !== 'boolean') throw new TypeError(`close options.force must be a boolean, got ${describe(o.force)}`);
  return o.force;
}

/** Validates one `run()`'s options. */
export function validateRunOptions(options: unknown): RunOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`run options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  refuseUnknown(o, RUN_KEYS, 'run options', RUN_KEY_SET);
  // Piscina's words first where it checks the same thing, then the field and the value.
  // `null`, as in Piscina: the pool's name.
  if (o.name !== undefined && o.name !== null && typeof o.name !== 'string') throw new TypeError(`name argument must be a string: run options.name got ${describe(o.name)}`);
  if (o.name === '') throw new RangeError('run options.name must not be empty');
  if (typeof o.name === 'string' && o.name.includes(SEP)) throw new RangeError(`run options.name must not hold U+0001, got ${describe(o.name)}`);
  if (o.transferList !== undefined && !Array.isArray(o.transferList)) throw new TypeError(`transferList argument must be an Array: run options.transferList got ${describe(o.transferList)}`);
  if (Array.isArray(o.transferList)) {
    (o.transferList as unknown[]).forEach((item, index) => {
      // Only objects can be transferred (ArrayBuffers, MessagePorts, streams…); what else is in it, Node refuses.
      if ((typeof item !== 'object' && typeof item !== 'function') || item === null) {
        throw new TypeError(`run options.transferList[${index}] must be a transferable object (an ArrayBuffer, a MessagePort…), got ${describe(item)}`);
      }
    });
  }
  if (o.signal !== undefined && o.signal !== null && typeof o.signal !== 'object') throw new TypeError(`signal argument must be an object: run options.signal (an AbortSignal or an EventEmitter) got ${describe(o.signal)}`);
  if (o.signal !== undefined && o.signal !== null && !isAbortSource(o.signal)) throw new TypeError(`run options.signal must be an AbortSignal or an EventEmitter, got ${describe(o.signal)}`);
  if (o.filename !== undefined && o.filename !== null && typeof o.filename !== 'string' && !(o.filename instanceof URL)) {
    throw new TypeError(`filename argument must be a string: run options.filename (an absolute path or a file: URL) got ${describe(o.filename)}`);
  }
  if (typeof o.memory === 'object' && o.memory !== null) {
    const proto: unknown = Object.getPrototypeOf(o.memory);
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`run options.memory must be a number of bytes or a plain object { heap, external }, got ${describe(o.memory)}`);
    const need = o.memory as Record<string, unknown>;
    for (const key of Object.keys(need)) {
      if (key !== 'heap' && key !== 'external') throw new TypeError(`run options.memory.${key} is not an option: use heap and external`);
    }
    if (need.heap !== undefined) expectNumber('run options.memory.heap', need.heap, { min: 0 });
    if (need.external !== undefined) expectNumber('run options.memory.external', need.external, { min: 0 });
  } else if (o.memory !== undefined) {
    expectNumber('run options.memory', o.memory, { min: 0 });
  }
  if (o.priority !== undefined) expectNumber('run options.priority', o.priority, {});
  // A per-run module, as a file URL (the only option turned into another form).
  if (o.filename !== undefined && o.filename !== null) return { ...(o as RunOptions), filename: toFileUrl('run options.filename', o.filename) };
  return o as RunOptions;
}
