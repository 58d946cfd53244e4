/**
 * The admission decision: a pure function of readings, reservations and water marks.
 * No timers, no I/O, no clock: everything it needs is in its arguments, so it can be tested
 * exhaustively with injected readings and called on the hot path for the cost of a few compares.
 *
 * @module heapgate/gate
 */
// An older Node fails at import with a clear message (see `node-version.ts`).
import '../node-version.js';
import type { Scope } from '../errors.js';
import type { Policy } from '../options.js';

/** What the gate knows about one scope: an isolate (main or a worker) or the process. */
export interface Reading {
  /**
   * A cheap upper bound of the memory in use, in bytes. Isolates: `used_heap_size` (counts garbage
   * not yet collected). Process: cgroup usage or RSS (counts reclaimable page cache).
   */
  used: number;
  /**
   * The honest figure, in bytes, when known. Isolates: heap in use after the last major GC.
   * Process: non-reclaimable (anonymous) memory. `undefined` when not known yet.
   */
  live: number | undefined;
  /**
   * Isolates: what could still be live now — the old generation in use plus the young generation
   * times its recent survival rate (see `IsolateTracker.retained`). Caps tier 2. `undefined`: no
   * cap (the process scope, whose live figure is always fresh).
   */
  retained?: number | undefined;
  /** The limit in bytes the scope is measured against (an isolate's old-generation limit). */
  limit: number;
  /** Bytes reserved by tasks admitted into this scope that have not settled yet. */
  reserved: number;
  /** Whether the scope was under pressure after the previous reading (see {@link nextPressure}). */
  underPressure: boolean;
}

/** A worker as the gate sees it. */
export interface WorkerReading extends Reading {
  /** The worker's thread id. */
  id: number;
  /** Whether it can take one more task now (`concurrentTasksPerWorker` not reached). */
  free: boolean;
  /**
   * Whether its figures were refreshed by a GC since it last ran a task (it was nudged). A worker
   * that does not fit and is not fresh may fit once collected: it is waited for, not given up on.
   */
  fresh: boolean;
  /**
   * Whether its memory allocator holds what an earlier run of this task's name freed, unclaimed by
   * a task running on it now: a run here reuses it, and the process grows by the warm need only
   * (see {@link WarmOption}). Absent: not warm.
   */
  warm?: boolean;
}

/**
 * A cheaper way into the process for a task whose name has run before: on a worker whose
 * allocator still holds what such a run freed, it makes only `need` bytes resident (measured:
 * the thread's first-touch page faults over earlier warm runs). A worker being started inherits
 * the allocator memory of the last worker that exited (`spawn`).
 */
export interface WarmOption {
  /** Process bytes a warm run needs (heap and off-heap). Less than the task's full need. */
  need: number;
  /** Whether a worker started now would be warm for it. */
  spawn: boolean;
  /**
   * The most process bytes a warm run could reuse now: what the process holds in use beyond what
   * the tasks running now account for, less what the warm tasks running now count on reusing.
   * Memory an allocator gave back to the system is not there to reuse; a warm run's shortfall (its
   * full need less its warm need) must not exceed this.
   */
  reusable: number;
  /**
   * The largest shortfall of a warm task running now: its full need less its warm need. Were a
   * warm run's allocator memory gone after all, the process would grow by that much more.
   */
  surprise: number;
}

/** Fractions of a limit: admission stops at `high` and, once stopped, resumes below `low`. */
export interface WaterMarks {
  /** Fraction of the limit, in (0, 1], at which a scope enters pressure; no task is admitted that would take a scope there. */
  high: number;
  /** Fraction of the limit, in [0, `high`], below which a scope under pressure leaves it. */
  low: number;
}

/** Everything one decision looks at. */
export interface GateInput {
  /** The task's heap need in bytes (declared or learned; 0 when unknown): worker and process. */
  need: number;
  /**
   * Bytes to count in the main isolate, where the result lands: the declared heap need (a learned
   * need measures the worker's growth, not the result, and is not counted here).
   */
  mainNeed: number;
  /** The task's off-heap need in bytes (Buffers, ArrayBuffers): counted in the process only. */
  external: number;
  /** The pool's high- and low-water marks. */
  water: WaterMarks;
  /** The main isolate, where results land. */
  main: Reading;
  /** The process against its container/system limit; `undefined` when not watched. */
  process: Reading | undefined;
  /**
   * Whether the task would run alone (nothing of the pool running) and its need is known (declared
   * or learned) or it is the run that learns it (slow start): see {@link fitsAlone}. Default false.
   */
  alone?: boolean;
  /** The workers that exist and are ready. */
  workers: readonly WorkerReading[];
  /** Whether the pool may start one more worker (a fresh isolate) for this task. */
  canSpawn: boolean;
  /**
   * Process bytes a worker started for the task adds before the task runs (its isolate, Node's
   * environment, its modules): a spawn is admitted only when the process takes the task and this
   * too. Default 0.
   */
  workerStart?: number;
  /** The old-generation limit in bytes a fresh worker gets. */
  workerLimit: number;
  /**
   * Heap bytes a worker already holds before its first task (the task module loaded): the least
   * any worker has shown; 0 until one has. No task can use them.
   */
  workerFloor: number;
  /** The warm way in, when this task's name has one (see {@link WarmOption}). */
  warm?: WarmOption | undefined;
}

/** The outcome of one decision. */
export type Decision =
  /**
   * Run it now, on the worker with this thread id, or on a worker started for it (`'spawn'`).
   * `warm`: admitted on its warm need only, on a warm worker (see {@link WarmOption}): the
   * process could not take its full need, or the worker chosen is warm anyway.
   */
  | {
      /** Start the task. */
      kind: 'admit';
      /** The thread id of the worker to run it on, or `'spawn'`: a worker started for it. */
      worker: number | 'spawn';
      /** Set when it is admitted on its warm need; absent: on its full need. */
      warm?: true;
    }
  /** Every worker that could take it is busy: wait for one to free up. Not memory pressure. */
  | {
      /** Wait for a worker. */
      kind: 'busy';
      /**
       * The scope that could not take it now either, were a worker free (not under pressure, so
       * the task waits for the worker, not refused); absent when only the worker stands in the way.
       */
      memory?: 'main' | 'process';
    }
  /** A scope is too full for this task now: hold it or reject it, as the policy says. */
  | {
      /** Wait for memory, or refuse. */
      kind: 'pressure';
      /** The scope that cannot take the task. */
      scope: Scope;
      /** That scope's committed bytes: measured in use plus reserved (see {@link levelOf}); the task's need not included. */
      used: number;
      /** That scope's limit, bytes. */
      limit: number;
    }
  /** The task can never fit this scope, however empty it gets. */
  | {
      /** Refuse for good. */
      kind: 'too-large';
      /** The scope it can never fit. */
      scope: Scope;
      /** Its need in that scope, bytes (heap plus off-heap for the process, declared heap for the main isolate, heap for a worker). */
      need: number;
      /** The most that scope can ever admit, bytes: `high` × its limit (for a worker, less `workerFloor`). */
      capacity: number;
    };

/** What the pool does with a decision: start the task, keep it held, or settle it with an error. */
export type Action = 'start' | 'hold' | 'reject';

/** The policy applied to a decision. Pressure rejects under `'reject'` and holds under `'wait'`. */
export function actionFor(decision: Decision, policy: Policy): Action {
  switch (decision.kind) {
    case 'admit':
      return 'start';
    case 'busy':
      return 'hold';
    case 'too-large':
      return 'reject';
    case 'pressure':
      return policy === 'reject' ? 'reject' : 'hold';
  }
}

/**
 * The best honest measure of a scope's memory in use: the smaller of the cheap upper bound and the
 * live figure (tier 1 and tier 2 of the check). Reservations not included.
 */
export function measuredLevel(reading: Pick<Reading, 'used' | 'live'>): number {
  return reading.live === undefined ? reading.used : Math.min(reading.used, reading.live);
}

/** A scope's committed memory: what is measured in use plus what admitted tasks have reserved. */
export function levelOf(reading: Pick<Reading, 'used' | 'live' | 'reserved'>): number {
  return measuredLevel(reading) + reading.reserved;
}

/**
 * Hysteresis: a scope enters pressure when its measured memory reaches `high` × limit and leaves
 * it only when that falls below `low` × limit, so admission does not flap around one threshold.
 * Reservations do not latch it: they are exact bookkeeping that ends when the tasks settle, and
 * they already stop any task that would not fit (see {@link fits}). Latching on them kept the gate
 * refusing work after the tasks that had reserved were gone.
 */
export function nextPressure(reading: Omit<Reading, 'underPressure'>, wasUnderPressure: boolean, water: WaterMarks): boolean {
  const level = measuredLevel(reading);
  return wasUnderPressure ? level >= water.low * reading.limit : level >= water.high * reading.limit;
}

/**
 * Whether `need` more bytes fit a scope now.
 * - Tier 1: the cheap figure (which counts garbage) leaves room below `high` × limit.
 * - Tier 2: the live figure leaves room below `high` × limit, AND, for isolates, so does the
 *   retained estimate. The live figure dates from the last major GC; what was allocated since may
 *   be garbage or data being kept, and until a GC tells, the retained estimate (old generation
 *   plus the surviving share of the young one) stands in for it.
 * Never while the scope is under pressure.
 */
export function fits(reading: Reading, need: number, high: number): boolean {
  if (reading.underPressure) return false;
  const ceiling = high * reading.limit;
  if (reading.used + reading.reserved + need < ceiling) return true;
  if (reading.live === undefined || reading.live + reading.reserved + need >= ceiling) return false;
  return reading.retained === undefined || reading.retained + reading.reserved + need < ceiling;
}

/**
 * Whether `need` more bytes fit the process for a task that would run alone, with a need that is
 * known: below the limit itself, not below `high` × limit, and never while the scope is under
 * pressure. The room above the mark absorbs what the gate cannot see coming — tasks running
 * together, needs that are guesses; with none running and the need known, it is this task's. The
 * run that learns an unknown name's need counts as known here when its guess (as much heap as its
 * worker can hold) fits with a 1.25 margin (the pool checks that): an idle pool that held it for want of the mark's room would never learn
 * the name (found by a new user: a name returning its input, 80 MiB of other memory in a 192 MiB
 * container, nothing running: held until `maxWaitMs`, every time). It also keeps an idle pool from waiting forever on usage that no collection
 * lowers: memory an allocator keeps after earlier tasks (malloc arenas) counts in the process's
 * usage, and a task that runs next reuses it (measured: 12 image jobs of 44 MiB with a limit of
 * RSS + 160 MiB stalled, nothing running, at 140 of 213 MiB, in 8 of 8 runs on a loaded machine).
 * Only a need that is wrong can then reach the limit.
 */
export function fitsAlone(reading: Reading, need: number): boolean {
  if (reading.underPressure) return false;
  return measuredLevel(reading) + reading.reserved + need < reading.limit;
}

/**
 * Bytes the process must give back before a task needing `need` there is admitted: room below the
 * limit itself for a task that would run alone (`alone`, see {@link fitsAlone}), else below
 * `high` × limit; while the scope is under pressure, also enough to bring its measured level below
 * `low` × limit, where the pressure ends. At most 0: memory is not what keeps it out.
 */
export function processShortfall(reading: Reading, need: number, water: WaterMarks, alone: boolean): number {
  const toFit = levelOf(reading) + need - (alone ? reading.limit : water.high * reading.limit);
  return reading.underPressure ? Math.max(toFit, measuredLevel(reading) - water.low * reading.limit) : toFit;
}

/**
 * Decide what to do with one task. Scopes are checked in the order of what a death costs: the
 * process, then the main isolate, then the workers.
 *
 * A process or main scope that cannot take the task refuses it (pressure) when the task could
 * otherwise start now, or when the scope is under pressure. When the task has to wait anyway — for
 * a busy worker — and the scope is not under pressure, the
 * answer is `busy`: the task is decided again when it can start, and by then the finished task's
 * memory has left the scope. Counting it now would refuse work for memory about to be released.
 */
export function decide(input: GateInput): Decision {
  const { need, water } = input;
  const high = water.high;

  if (need + input.mainNeed + input.external > 0) {
    const tooLarge = tooLargeFor(input);
    if (tooLarge) return tooLarge;
  }

  const process = input.process;
  const processBlocks = process !== undefined && !fits(process, need + input.external, high) && !(input.alone === true && fitsAlone(process, need + input.external));
  if (processBlocks && fitsWarm(input, process, high)) return decideWarm(input, process, high);
  const blocked = processBlocks ? { scope: 'process' as const, reading: process } : mainBlocks(input, high);
  const { best, anyFitsLater } = chooseWorker(input.workers, need, high);
  if (blocked) {
    const waitsAnyway = !best && !input.canSpawn && anyFitsLater;
    return waitsAnyway && !blocked.reading.underPressure ? { kind: 'busy', memory: blocked.scope } : pressure(blocked.scope, blocked.reading);
  }
  // On a warm worker the run reuses what its name's earlier run freed: charged its warm need.
  if (best) return best.warm === true && process !== undefined && fitsWarm(input, process, high) ? { kind: 'admit', worker: best.id, warm: true } : { kind: 'admit', worker: best.id };
  if (input.canSpawn) {
    const withStart = need + input.external + (input.workerStart ?? 0);
    if (process === undefined || fits(process, withStart, high) || (input.alone === true && fitsAlone(process, withStart))) return { kind: 'admit', worker: 'spawn' };
    // The task fits, a new worker for it does not: it waits for a worker, or for memory.
    return anyFitsLater && !process.underPressure ? { kind: 'busy', memory: 'process' } : pressure('process', process);
  }
  if (anyFitsLater) return { kind: 'busy' };

  const leastLoaded = leastLoadedWorker(input.workers);
  if (!leastLoaded) return { kind: 'busy' };
  return pressure('worker', leastLoaded);
}

/** The main isolate, when it cannot take the task now. */
function mainBlocks(input: GateInput, high: number): { scope: 'main'; reading: Reading } | undefined {
  return fits(input.main, input.mainNeed, high) ? undefined : { scope: 'main' as const, reading: input.main };
}

/**
 * Whether the process takes the task's warm need: the memory it counts on reusing is in the
 * process now (`reusable`), the warm need fits below `high` × limit, and the process stays below
 * the limit itself even were the warm assumption wrong for this task or for the warm task running
 * now that would fall shortest (one such surprise is survived: the high mark is not the edge).
 */
function fitsWarm(input: GateInput, process: Reading, high: number): boolean {
  const warm = input.warm;
  if (!warm || process.underPressure) return false;
  const full = input.need + input.external;
  if (warm.need >= full || full - warm.need > warm.reusable || !fits(process, warm.need, high)) return false;
  return levelOf(process) + warm.need + Math.max(full - warm.need, warm.surprise) < process.limit;
}

/** The process takes the task only on a warm worker: one free now, or one started for it. */
function decideWarm(input: GateInput, process: Reading, high: number): Decision {
  const blocked = mainBlocks(input, high);
  const { best, anyFitsLater } = chooseWorker(input.workers, input.need, high, true);
  const spawnWarm = input.canSpawn && input.warm?.spawn === true && fits(process, input.warm.need + (input.workerStart ?? 0), high);
  if (blocked) return !best && !spawnWarm && anyFitsLater && !blocked.reading.underPressure ? { kind: 'busy', memory: blocked.scope } : pressure(blocked.scope, blocked.reading);
  if (best) return { kind: 'admit', worker: best.id, warm: true };
  if (spawnWarm) return { kind: 'admit', worker: 'spawn', warm: true };
  // A warm worker that fits is busy: waiting for it is waiting for a worker, not for memory.
  return anyFitsLater && !process.underPressure ? { kind: 'busy', memory: 'process' } : pressure('process', process);
}

/**
 * The free worker that fits: a warm one first (its allocator holds what an earlier run of the
 * task's name freed, and the run reuses it rather than growing the process), then the most
 * headroom left after `need` (`best`); and whether any worker could take the task later
 * (`anyFitsLater`: waiting is worthwhile) — one that fits but is busy, or one that does not fit
 * but is not fresh (a GC may show room). `warmOnly`: among warm workers only.
 */
export function chooseWorker(
  workers: readonly WorkerReading[],
  need: number,
  high: number,
  warmOnly = false,
): {
  /** The free worker that fits with the most room left; `undefined` when none fits and is free. */
  best: WorkerReading | undefined;
  /** Whether some worker could take the task later: it fits but is busy, or it does not fit but is not fresh. */
  anyFitsLater: boolean;
} {
  let best: WorkerReading | undefined;
  let bestRoom = -Infinity;
  let bestWarm = false;
  let anyFitsLater = false;
  for (const worker of workers) {
    const warm = worker.warm === true;
    if (warmOnly && !warm) continue;
    if (!fits(worker, need, high)) {
      if (!worker.fresh) anyFitsLater = true;
      continue;
    }
    anyFitsLater = true;
    if (!worker.free || (bestWarm && !warm)) continue;
    const room = high * worker.limit - levelOf(worker) - need;
    if (room > bestRoom || (warm && !bestWarm)) {
      best = worker;
      bestRoom = room;
      bestWarm = warm;
    }
  }
  return { best, anyFitsLater };
}

function tooLargeFor(input: GateInput): Decision | undefined {
  let largest = input.workerLimit;
  for (const worker of input.workers) largest = Math.max(largest, worker.limit);
  return tooLarge(input, { process: input.process?.limit, main: input.main.limit, worker: largest, workerFloor: input.workerFloor }, input.water.high);
}

/** The limits a task's need is weighed against for {@link tooLarge}: bytes (`process` undefined when not watched). */
export interface Capacities {
  /** The process limit; `undefined` when the process scope is not watched. */
  process: number | undefined;
  /** The main isolate's old-generation limit. */
  main: number;
  /** The largest old-generation limit a worker has or gets. */
  worker: number;
  /** Heap bytes every worker holds before its first task (see `GateInput.workerFloor`). */
  workerFloor: number;
}

/**
 * Whether a need can never fit, however empty its scopes get: at or above `high` × a scope's
 * limit (for a worker, less what a fresh worker already holds: a need that fits no fresh worker
 * started worker after worker, each found too full for it). Depends on limits and that floor
 * only, so it can be answered before a task waits for anything.
 */
export function tooLarge(need: Pick<GateInput, 'need' | 'mainNeed' | 'external'>, limits: Capacities, high: number): Extract<Decision, { kind: 'too-large' }> | undefined {
  const processNeed = need.need + need.external;
  if (limits.process !== undefined && processNeed > 0 && processNeed >= high * limits.process) {
    return { kind: 'too-large', scope: 'process', need: processNeed, capacity: high * limits.process };
  }
  if (need.mainNeed > 0 && need.mainNeed >= high * limits.main) {
    return { kind: 'too-large', scope: 'main', need: need.mainNeed, capacity: high * limits.main };
  }
  const workerCapacity = high * limits.worker - limits.workerFloor;
  if (need.need > 0 && need.need >= workerCapacity) {
    return { kind: 'too-large', scope: 'worker', need: need.need, capacity: workerCapacity };
  }
  return undefined;
}

function leastLoadedWorker(workers: readonly WorkerReading[]): WorkerReading | undefined {
  let least: WorkerReading | undefined;
  for (const worker of workers) {
    if (!least || levelOf(worker) / worker.limit < levelOf(least) / least.limit) least = worker;
  }
  return least;
}

function pressure(scope: Scope, reading: Reading): Decision {
  return { kind: 'pressure', scope, used: levelOf(reading), limit: reading.limit };
}
