/**
 * The workers the gate knows of: one record per worker Piscina has ready, its reservations (kept
 * by the ledger), its pressure state, and its readings merged from the board (published by the
 * worker itself) and, on Node >= 22.16, from `worker.getHeapStatistics()` samples taken from the
 * main thread while it is busy.
 *
 * Invariant: a record exists from Piscina's `workerCreate` (the worker is ready) until Piscina's
 * `workerDestroy` (it is being terminated, crashed or reaped) — never longer: Piscina stops a
 * worker at once (e.g. when a running task is aborted), and Node's `exit` comes later. Only the
 * board slot is kept until `exit`, since the thread may still write it until then.
 */
import type { Worker } from 'node:worker_threads';
import { WorkerPort, type AnswerHandler, type WaitMode } from './worker-port.js';
import type { Sent } from './dispatcher.js';
import { chooseWorker, fits, nextPressure, type WaterMarks, type WorkerReading } from '../admission/gate.js';
import type { Board, BoardReading, BusyReading } from '../readings/board.js';
import type { Account } from '../accounting/ledger.js';

const MiB = 2 ** 20;
/**
 * First-touch faults of a worker's thread that are neither heap growth nor the task's off-heap
 * memory — its own code, stack and allocator pages while the task runs — are not credited: up to
 * this much of the thread's faults is taken for them (104 KiB seen while a task awaited with an
 * untouched 40 MiB Buffer, which got credited for it).
 */
const THREAD_FAULT_ALLOWANCE = MiB;
/** Task names a worker is kept warm for (the most recent), and finished workers' sets kept for the next ones started. */
const WARM_NAMES = 16;
const INHERITED_SETS = 16;

/** A worker's figures, from its last publish and the latest main-thread sample. */
interface WorkerFigures {
  used: number;
  live: number | undefined;
  retained: number | undefined;
  limit: number;
  external: number;
  fresh: number | undefined;
  updatedAt: number;
}

/** Why a worker went away, when the pool knows. */
export type StopReason = 'recycled' | 'task-aborted' | 'crashed' | 'reaped' | 'guarded';

/** One worker's record. */
export interface TrackedWorker extends Account {
  readonly id: number;
  readonly thread: Worker;
  /** Tasks and nudges the gate put on it that have not answered. */
  running: number;
  /** Tasks running on it that must run alone (an abort signal, or a learning run): 0 or 1, and then nothing else runs there. */
  exclusive: number;
  /** Tasks running on it with an abort signal: 0 or 1 (Piscina's count of a worker's free slots is 0 while one runs). */
  abortable: number;
  /** Tasks and nudges placed on it in all: the order number of the last one (see the worker runtime). */
  placed: number;
  underPressure: boolean;
  /** Being terminated by the gate (recycled): never chosen again. */
  retiring: boolean;
  /** Asked to collect since it last ran a task: its readings are as fresh as they get. */
  nudged: boolean;
  /** Piscina destroyed it: tasks still on it failed because of that. */
  gone: boolean;
  /** Why it went away, once `gone`. */
  stopReason: StopReason | undefined;
  sample: { used: number; external: number; at: number } | undefined;
  sampling: boolean;
  /** The figures last worked out, and what from (recomputed only when either changes). */
  figures: { published: BoardReading | undefined; sample: TrackedWorker['sample']; figures: WorkerFigures } | undefined;
  /**
   * The gate's reading of it: one object, updated in place for each decision (the gate keeps no
   * reading beyond a decision), and the figures and reservation its pressure flag was last
   * brought up to date for.
   */
  reading: WorkerReading;
  readingFrom: WorkerFigures | undefined;
  readingReserved: number;
  /** Its old-generation limit once it has published it (it does not change); `undefined`: it has published nothing yet. */
  publishedLimit: number | undefined;
  /**
   * Task names it is warm for, each with the size (bytes, see the pool's `#learn`) of the largest
   * run of it that finished on it, or on the worker whose allocator memory it inherited (see
   * `accounting/warm-footprints.ts`). Its allocator holds what such a run freed: a larger run
   * would have to make new memory resident, so it is warm only for runs no larger.
   */
  warmFor: Map<string, number>;
  /** A task running on it reuses what its allocator holds: no other task may count on that. */
  warmTaken: boolean;
  /** The name of the last task that ended on it, when that task completed and reserved; `undefined` after any other end. */
  lastRun: string | undefined;
  /** The largest run (bytes: its declared or measured size, as in `warmFor`) that finished on it, whether it reserved or not; 0 while none has. */
  largestRun: number;
  /** Its thread got as far as the pool's worker runtime (it claimed its board slot), which it does before it can run any task. */
  ranRuntime: boolean;
  /** The pool's line to it: tasks and nudges go on it (see `worker-port.ts`). */
  readonly port: WorkerPort<Sent>;
  /** What its thread emitted as `'error'` (it crashed), if it did. */
  crashError: unknown;
  /** Its thread's exit code, once it has exited. */
  exitCode: number | undefined;
}

/** Per-worker readings as `stats()` reports them. */
export interface WorkerStats extends WorkerReading {
  /** Tasks running on it. */
  running: number;
  /** Off-heap memory it reported (Buffers/ArrayBuffers), bytes. */
  external: number;
  /** When its readings were last refreshed, `Date.now()` ms; 0 when never. */
  updatedAt: number;
  /**
   * Off-heap bytes of garbage its tasks left uncollected (a task's end does not collect: see *How
   * the gate decides* in the README); 0 when none. The next run of the name its last task ran
   * reuses them in place; it is not warm for other names until they are collected.
   */
  leftovers: number;
}

/** Callbacks into the pool. */
export interface RegistryHooks {
  /** A worker entered or left pressure. */
  onPressure(worker: TrackedWorker, reading: WorkerReading): void;
  /** A fresh sample arrived. */
  onSample(): void;
  /** An answer came on a worker's line (or the worker went, see {@link WorkerRegistry.failSent}). */
  answer: AnswerHandler<Sent>;
  /** How workers wait for their next message (Piscina's `atomics`; default `'sync'`). */
  wait?: WaitMode;
}

type ThreadWithSampling = Worker & { getHeapStatistics?: () => Promise<{ used_heap_size: number; external_memory?: number }> };

export class WorkerRegistry {
  readonly #workers = new Map<number, TrackedWorker>();
  readonly #board: Board;
  readonly #water: WaterMarks;
  readonly #capacity: number;
  readonly #hooks: RegistryHooks;
  readonly #fallbackLimit: number;
  readonly #readings: WorkerReading[] = [];
  /** {@link largestPublishedLimit}, cached; `undefined` when a worker came, went or published a new limit since. */
  #largestLimit: number | undefined;
  /** The least heap any worker has published holding before its first task (see {@link freshFloor}). */
  #freshFloor = Infinity;
  /**
   * What finished workers were warm for, the last one on top: the allocator gives a new thread
   * the memory of the thread that finished last, so the next worker started inherits the top set.
   */
  readonly #inherited: Map<string, number>[] = [];
  /** A task admitted on its warm need waits for a worker being started (it counts on the top set). */
  #warmSpawnPending = false;

  /** `fallbackLimit`: the limit assumed for a worker whose own limit cannot be read. */
  constructor(board: Board, water: WaterMarks, concurrentTasksPerWorker: number, fallbackLimit: number, hooks: RegistryHooks) {
    this.#board = board;
    this.#fallbackLimit = fallbackLimit;
    this.#water = water;
    this.#capacity = concurrentTasksPerWorker;
    this.#hooks = hooks;
  }

  /** Starts tracking a worker Piscina reports ready (once; later calls for the same thread are ignored). */
  add(thread: Worker): TrackedWorker | undefined {
    const id = thread.threadId;
    if (id < 0 || this.#workers.has(id)) return undefined;
    const record: TrackedWorker = {
      id,
      thread,
      running: 0,
      exclusive: 0,
      abortable: 0,
      placed: 0,
      reserved: 0,
      underPressure: false,
      retiring: false,
      nudged: false,
      gone: false,
      stopReason: undefined,
      sample: undefined,
      sampling: false,
      figures: undefined,
      reading: { id, used: 0, live: undefined, retained: undefined, limit: 0, reserved: 0, underPressure: false, free: false, fresh: false },
      readingFrom: undefined,
      readingReserved: -1,
      processReserved: { heap: 0, external: 0 },
      publishedLimit: undefined,
      warmFor: this.#inherited.pop() ?? new Map(),
      warmTaken: false,
      lastRun: undefined,
      largestRun: 0,
      ranRuntime: false,
      port: new WorkerPort<Sent>(this.#hooks.answer, this.#hooks.wait ?? 'sync', thread),
      crashError: undefined,
      exitCode: undefined,
    };
    this.#workers.set(id, record);
    // Ahead of Piscina's own listeners: when Piscina then drops the worker, the pool knows why.
    thread.prependOnceListener('error', (error) => {
      record.crashError ??= error;
    });
    thread.prependOnceListener('exit', (code) => {
      record.exitCode = code;
    });
    thread.once('exit', () => {
      this.ranRuntime(record);
      this.#board.release(id);
    });
    return record;
  }

  /**
   * What was sent to a worker that is gone and not answered fails: with what its thread emitted as
   * `'error'`, else Piscina's words for its exit (`worker exited with code: N`) or for a worker it
   * terminated (`Terminating worker thread`).
   */
  failSent(worker: TrackedWorker): void {
    const error = worker.crashError ?? (worker.exitCode === undefined ? new Error('Terminating worker thread') : new Error(`worker exited with code: ${worker.exitCode}`));
    worker.port.failAll(error);
  }

  /** Frees the board slot of a thread no record tracks (it never became ready) once it has exited. */
  releaseOnExit(thread: Worker | undefined): void {
    const id = thread?.threadId;
    if (thread && id !== undefined && id >= 0) {
      thread.once('exit', () => this.#board.release(id));
    }
  }

  /**
   * Whether `worker`'s thread ran the pool's worker runtime, which claims the worker's board slot
   * before any task can reach it. One that died before that (a throwing `--import` preload, say)
   * ran none of the tasks sent to it. Known until its thread has exited (the slot goes then).
   */
  ranRuntime(worker: TrackedWorker): boolean {
    if (!worker.ranRuntime && this.#board.slotOf(worker.id) !== -1) worker.ranRuntime = true;
    return worker.ranRuntime;
  }

  /**
   * Piscina destroyed a worker (`workerDestroy`): its record goes at once. Piscina's view reports
   * thread id -1 once the thread has died, so such a view matches the records whose `Worker`
   * reports -1 too. Returns the records removed: none means a worker that never became ready.
   */
  remove(viewId: number): TrackedWorker[] {
    const removed: TrackedWorker[] = [];
    if (viewId >= 0) {
      const record = this.#workers.get(viewId);
      if (record) removed.push(record);
    } else {
      for (const record of this.#workers.values()) if (record.thread.threadId < 0) removed.push(record);
    }
    for (const record of removed) {
      record.gone = true;
      // A worker the gate stopped has its reason already (`retire`).
      record.stopReason ??= record.running > 0 ? 'crashed' : 'reaped';
      this.#workers.delete(record.id);
      this.#largestLimit = undefined;
      // Every finished thread's arena goes on glibc's free list, the last on top, and the next
      // thread started takes the top one: a worker that ran nothing hands on an arena that holds
      // nothing of use (recorded too, or the next worker would be taken for warm when it is not).
      this.#inherited.push(record.warmFor);
      if (this.#inherited.length > INHERITED_SETS) this.#inherited.shift();
    }
    return removed;
  }

  /** Whether some worker can take one more task by its count (`concurrentTasksPerWorker`). */
  anyFree(): boolean {
    for (const worker of this.#workers.values()) if (this.#canTake(worker, false, false)) return true;
    return false;
  }

  /**
   * Whether `worker` can take one more task by its count: below `concurrentTasksPerWorker` and
   * running no abortable task; for an abortable (`exclusive`) task, running nothing at all. As in
   * Piscina, an abortable task never shares a worker: aborting it stops the worker. `reserves`:
   * the task has a memory need (see {@link #capacityOf}).
   */
  #canTake(worker: TrackedWorker, exclusive: boolean, reserves = true, answered = 0): boolean {
    if (worker.retiring || worker.gone) return false;
    const running = worker.running - answered;
    // With none of its tasks left, neither is an abortable one.
    const abortable = running === 0 ? 0 : worker.exclusive;
    return exclusive ? running === 0 : running < this.#capacityOf(worker, reserves) && abortable === 0;
  }

  /**
   * Task slots free by Piscina's count on ready workers: `concurrentTasksPerWorker` less the tasks
   * running on each (none on a worker running an abortable task, none on one being stopped). A
   * learning run's worker has them, though the gate puts nothing beside it.
   */
  freeSlots(): number {
    let slots = 0;
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone || worker.abortable > 0) continue;
      slots += Math.max(0, this.#capacity - worker.running);
    }
    return slots;
  }

  /** Whether any worker was under pressure at its last reading. */
  anyUnderPressure(): boolean {
    for (const worker of this.#workers.values()) if (worker.underPressure && !worker.gone) return true;
    return false;
  }

  /** Whether `worker` is ready for tasks and runs none (nor is being stopped or gone). */
  isIdle(worker: TrackedWorker): boolean {
    return !worker.retiring && !worker.gone && worker.running === 0;
  }

  /** Workers ready for tasks and running none. */
  idleCount(): number {
    let idle = 0;
    for (const worker of this.#workers.values()) if (this.isIdle(worker)) idle++;
    return idle;
  }

  /** How many workers are tracked (started and not exited). */
  get size(): number {
    return this.#workers.size;
  }

  get(id: number): TrackedWorker | undefined {
    return this.#workers.get(id);
  }

  /** Heap bytes a worker holds before its first task: the least any worker has published; 0 until one has. */
  freshFloor(): number {
    return Number.isFinite(this.#freshFloor) ? this.#freshFloor : 0;
  }

  /** The largest old-generation limit a tracked worker has published, or 0 when none has. */
  largestPublishedLimit(): number {
    if (this.#largestLimit === undefined) {
      let largest = 0;
      for (const worker of this.#workers.values()) largest = Math.max(largest, worker.publishedLimit ?? 0);
      this.#largestLimit = largest;
    }
    return this.#largestLimit;
  }

  /**
   * Readings of every worker that can be chosen for a task (`exclusive`: an abortable one), with
   * pressure flags brought up to date. `warmName`: the task's name, when it has a warm need (each
   * reading says whether its worker is warm for it; with `onlyWarm`, that worker alone is: the
   * task reuses its garbage in place, see `inPlace`).
   */
  readings(exclusive = false, reserves = true, warmName?: string, warmSize = 0, onlyWarm?: TrackedWorker): WorkerReading[] {
    // One array, refilled for each decision (the gate does not keep it).
    const out = this.#readings;
    out.length = 0;
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone) continue;
      const reading = this.reading(worker, exclusive, reserves, onlyWarm === undefined ? warmName : undefined, warmSize);
      if (onlyWarm !== undefined) reading.warm = worker === onlyWarm;
      out.push(reading);
    }
    return out;
  }

  /** One worker's reading, with its pressure flag brought up to date (the worker's own object, valid until the next call). */
  reading(worker: TrackedWorker, exclusive = false, reserves = true, warmName?: string, warmSize = 0): WorkerReading {
    const figures = this.#read(worker);
    const reading = worker.reading;
    reading.free = this.#canTake(worker, exclusive, reserves);
    reading.fresh = worker.nudged;
    reading.warm = warmName !== undefined && this.isWarm(worker, warmName, warmSize);
    // Pressure moves only with the figures or the reservation.
    if (worker.readingFrom === figures && worker.readingReserved === worker.reserved) return reading;
    worker.readingFrom = figures;
    worker.readingReserved = worker.reserved;
    reading.used = figures.used;
    reading.live = figures.live;
    reading.retained = figures.retained;
    reading.limit = figures.limit;
    reading.reserved = worker.reserved;
    const under = nextPressure(reading, worker.underPressure, this.#water);
    reading.underPressure = under;
    if (under !== worker.underPressure) {
      worker.underPressure = under;
      this.#hooks.onPressure(worker, reading);
    }
    return reading;
  }

  /** Off-heap bytes of garbage `worker`'s tasks left uncollected (`BoardReading.leftovers`); 0 when none. */
  leftovers(worker: TrackedWorker): number {
    return this.#board.read(worker.id)?.leftovers ?? 0;
  }

  /**
   * Whether a run of `name` of `size` bytes placed on `worker` now would reuse what its allocator
   * holds from earlier runs (see `isWarmFor`): only on a worker running nothing (a task running
   * beside it would use that memory too, and may leave garbage in it), and not while garbage
   * another name left still takes that memory (`BoardReading.leftovers`). Garbage its own last run
   * left does not stop it: V8 frees that as the run allocates, and the run reuses the memory (see
   * {@link inPlace}).
   */
  isWarm(worker: TrackedWorker, name: string, size: number): boolean {
    return !worker.warmTaken && worker.running === 0 && isWarmFor(worker.warmFor, name, size) && (worker.lastRun === name || this.leftovers(worker) === 0);
  }

  /**
   * The idle worker whose last run, of `name`, left the most garbage uncollected (`leftovers`,
   * bytes): a run of `name` placed there reuses that memory as V8 frees it. `undefined` when no
   * such worker holds any.
   */
  inPlace(name: string): { worker: TrackedWorker; leftovers: number } | undefined {
    let found: { worker: TrackedWorker; leftovers: number } | undefined;
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone || worker.warmTaken || worker.running > 0 || worker.lastRun !== name) continue;
      const leftovers = this.leftovers(worker);
      if (leftovers > 0 && (!found || leftovers > found.leftovers)) found = { worker, leftovers };
    }
    return found;
  }

  /** A run of `name` of `size` bytes finished on `worker`: it is warm for runs of that name no larger than the largest such run. */
  ranOn(worker: TrackedWorker, name: string, size: number): void {
    const names = worker.warmFor;
    const largest = Math.max(size, names.get(name) ?? 0);
    names.delete(name);
    names.set(name, largest);
    if (names.size > WARM_NAMES) names.delete(names.keys().next().value as string);
  }

  /** Whether a worker started now would be warm for a run of `name` of `size` bytes (and no warm task waits for one already). */
  spawnWarm(name: string, size: number): boolean {
    return !this.#warmSpawnPending && isWarmFor(this.#inherited.at(-1), name, size);
  }

  /** Whether a task admitted on its warm need waits for a worker being started; set when one is, cleared when it is placed or ends. */
  set warmSpawnPending(pending: boolean) {
    this.#warmSpawnPending = pending;
  }

  /** Every worker's readings, for `stats()`: pressure flags as last decided, no side effects. */
  stats(): WorkerStats[] {
    return [...this.#workers.values()].map((worker) => {
      const read = this.#read(worker);
      return {
        id: worker.id,
        used: read.used,
        live: read.live,
        retained: read.retained,
        limit: read.limit,
        reserved: worker.reserved,
        underPressure: worker.underPressure,
        free: this.#canTake(worker, false),
        fresh: worker.nudged,
        running: worker.running,
        external: read.external,
        updatedAt: read.updatedAt,
        leftovers: this.leftovers(worker),
      };
    });
  }

  /**
   * Process reservations already visible in usage, so the process scope does not count a running
   * task's bytes twice (once reserved, once again in the cgroup's charge). For each worker:
   * - once it says every task placed on it has returned: all its tasks reserved (they need
   *   nothing more; what they left is in usage or already freed);
   * - while they run, heap: what its heap in use has grown since the lowest point of its busy
   *   period (garbage present when it went busy and collected since does not hide growth; with
   *   more than one task per worker, growth by one that has ended counts too), up to their heap
   *   needs (published every few ms while its tasks await; from a main-thread sample when that is
   *   newer, as during synchronous work). Heap objects are written when allocated: resident.
   * - while they run, off-heap: what its thread has made resident beyond that heap growth (its
   *   first-touch page faults, less {@link THREAD_FAULT_ALLOWANCE} for its own pages), up to what
   *   it allocated off-heap and to their off-heap needs. V8 counts a Buffer when it is allocated,
   *   the kernel charges its pages when they are written; crediting the allocation alone let a
   *   burst of Buffer fills past the limit (measured: a kernel OOM kill in the 8-thread test).
   */
  materialized(): number {
    let credit = 0;
    for (const worker of this.#workers.values()) {
      const reserved = worker.processReserved;
      if (reserved.heap + reserved.external <= 0) continue;
      const busy = this.#board.readBusy(worker.id);
      if (!busy) continue;
      if (busy.ended > 0) {
        // Unless a task placed since has not started yet: then which part is whose is unknown.
        if (busy.tasks === worker.placed) credit += reserved.heap + reserved.external;
        continue;
      }
      const grown = this.#busyGrowth(worker, busy);
      credit += Math.min(reserved.heap, grown.heap);
      if (reserved.external > 0 && grown.residentKnown) credit += Math.min(reserved.external, grown.external);
    }
    return credit;
  }

  /**
   * What a worker's busy period has grown: heap in use since its lowest point (from a main-thread
   * sample when that is newer), and off-heap bytes allocated since, bounded by what its thread
   * made resident beyond the heap growth (less {@link THREAD_FAULT_ALLOWANCE}) when that is known
   * (`residentKnown`).
   */
  #busyGrowth(worker: TrackedWorker, busy: BusyReading): { heap: number; external: number; residentKnown: boolean } {
    const { sample } = worker;
    const heapNow = sample && sample.at > busy.since && sample.at > busy.at ? sample.used : busy.heap;
    const heap = Math.max(0, heapNow - busy.baseHeap);
    const allocated = Math.max(0, busy.external - busy.baseExternal);
    const residentKnown = Number.isFinite(busy.resident);
    const external = residentKnown ? Math.max(0, Math.min(allocated, busy.resident - Math.max(0, busy.heap - busy.baseHeap) - THREAD_FAULT_ALLOWANCE)) : allocated;
    return { heap, external, residentKnown };
  }

  /**
   * The busy worker whose running tasks have made the most memory resident beyond what they
   * reserved in the process (heap growth, and off-heap growth as far as its thread made it
   * resident: a warm run's reuse is not growth), by at least `minExcess` and a quarter of the
   * reservation; with that excess and its growth. Only workers in a busy period (running tasks
   * that reserve), running no warm run, and `eligible` are seen.
   */
  overrunner(minExcess: number, eligible: (worker: TrackedWorker) => boolean): { worker: TrackedWorker; excess: number; grown: { heap: number; external: number } } | undefined {
    let found: { worker: TrackedWorker; excess: number; grown: { heap: number; external: number } } | undefined;
    for (const worker of this.#workers.values()) {
      // A warm run is charged less than its heap grows (it reuses its allocator's memory): not judged.
      if (worker.running === 0 || worker.retiring || worker.warmTaken || !eligible(worker)) continue;
      const busy = this.#board.readBusy(worker.id);
      if (!busy || busy.ended > 0) continue;
      const reserved = worker.processReserved.heap + worker.processReserved.external;
      const { heap, external } = this.#busyGrowth(worker, busy);
      const excess = heap + external - reserved;
      if (excess >= Math.max(minExcess, reserved / 4) && (!found || excess > found.excess)) found = { worker, excess, grown: { heap, external } };
    }
    return found;
  }

  /**
   * Whether `worker` can take a task needing `need` heap bytes now, by the gate's own rule: free by
   * the gate's count, and the task fits.
   */
  takes(worker: TrackedWorker, need: number, exclusive: boolean): boolean {
    if (worker.gone || !this.#canTake(worker, exclusive, need > 0, 0)) return false;
    return chooseWorker([{ ...this.reading(worker, exclusive, need > 0), free: true }], need, this.#water.high).best !== undefined;
  }

  /**
   * Idle workers, not collected since their last task, that hold at least `minBytes` a full GC
   * may free: off-heap bytes (Buffers whose objects may be garbage) and heap above the live figure
   * (or, before the first major GC, above what the worker carried fresh).
   */
  idleHoldingGarbage(minBytes: number): TrackedWorker[] {
    const found: TrackedWorker[] = [];
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone || worker.running > 0 || worker.nudged) continue;
      const { used, live, fresh, external } = this.#read(worker);
      const heapGarbage = Math.max(0, used - (live ?? fresh ?? used));
      if (external + heapGarbage >= minBytes) found.push(worker);
    }
    return found;
  }

  /**
   * The idle worker that may hold the most memory no GC frees and its end would: what its thread's
   * malloc arena may keep (up to the largest run that finished on it), or what it still holds live
   * after its collections — off-heap bytes, and heap above its floor (a module-level cache, a
   * leak) —, whichever is more. A worker that ran nothing itself is never chosen (one started in
   * place of a recycled worker may have taken over its arena, but recycling it again on the same
   * readings is a restart for nothing). `undefined`: none, or what all such workers may hold adds
   * up to less than `atLeast` bytes.
   */
  idleArenaHolder(atLeast: number): TrackedWorker | undefined {
    let holder: TrackedWorker | undefined;
    let holderHolds = 0;
    let total = 0;
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone || worker.running > 0 || worker.largestRun === 0) continue;
      const { external, live, fresh } = this.#read(worker);
      const holds = Math.max(worker.largestRun, external + Math.max(0, (live ?? 0) - (fresh ?? live ?? 0)));
      total += holds;
      if (!holder || holds > holderHolds) {
        holder = worker;
        holderHolds = holds;
      }
    }
    return total >= atLeast ? holder : undefined;
  }

  /** Workers with no task running that could not take a task needing `need` heap bytes. */
  idleNotFitting(need: number): TrackedWorker[] {
    const stuck: TrackedWorker[] = [];
    for (const worker of this.#workers.values()) {
      if (worker.retiring || worker.gone || worker.running > 0) continue;
      if (!fits(this.reading(worker), need, this.#water.high)) stuck.push(worker);
    }
    return stuck;
  }

  /**
   * Whether recycling the worker would make room for a task needing `need` heap bytes: it cannot
   * take it by the gate's own rule (`fits`: asked once it has been collected, that is as collected
   * as it gets), what it keeps beyond what it carried fresh (its own `fresh` figure) is worth a
   * restart (a worker start): an eighth of its limit or more, and a fresh worker could take the
   * task. A hot worker (live at the mark) always is.
   */
  worthRecycling(worker: TrackedWorker, need: number): boolean {
    const { live, limit, fresh } = this.#read(worker);
    if (live === undefined) return false;
    const ceiling = this.#water.high * limit;
    if (live >= ceiling) return true;
    if (fresh === undefined) return false;
    // The same test as the decision that found it blocking: a second, looser one (its live heap
    // alone) left a worker just between the two neither fit nor worth recycling, refused forever.
    return !fits(this.reading(worker), need, this.#water.high) && live - fresh >= limit / 8 && fresh + need < ceiling;
  }

  /**
   * Terminates a worker; it is never chosen again. `'recycled'`: Piscina replaces it (see
   * `hygiene.ts`); `'reaped'`: idle above `minThreads` (see `idle-reaper.ts`).
   */
  retire(worker: TrackedWorker, reason: 'recycled' | 'reaped' | 'guarded' | 'task-aborted' = 'recycled'): void {
    worker.retiring = true;
    worker.stopReason = reason;
    void worker.thread.terminate();
  }

  /** Workers ready for tasks and running none (see {@link isIdle}). */
  idleWorkers(): TrackedWorker[] {
    const idle: TrackedWorker[] = [];
    for (const worker of this.#workers.values()) if (this.isIdle(worker)) idle.push(worker);
    return idle;
  }

  /** Workers tracked and not being stopped. */
  keptCount(): number {
    let count = 0;
    for (const worker of this.#workers.values()) if (!worker.retiring) count++;
    return count;
  }

  /**
   * The worker's memory, bytes: heap in use plus off-heap, from the freshest of its latest
   * main-thread sample and its open busy period taken at `since` (`Date.now()` ms) or later;
   * `undefined` when it has neither.
   */
  memoryLevel(worker: TrackedWorker, since: number): number | undefined {
    const busy = this.#board.readBusy(worker.id);
    const open = busy && busy.ended === 0 && busy.at >= since ? busy : undefined;
    const sample = worker.sample && worker.sample.at >= since ? worker.sample : undefined;
    if (sample && (!open || sample.at > open.at)) return sample.used + sample.external;
    return open ? open.heap + open.external : undefined;
  }

  /** The worker's memory as it last published it (after its last task or GC), bytes: heap in use plus off-heap. */
  publishedLevel(worker: TrackedWorker): number | undefined {
    const published = this.#board.read(worker.id);
    return published ? published.used + published.external : undefined;
  }

  /** Samples busy workers with `worker.getHeapStatistics()` where Node has it (22.16+); see `#read` for where samples count. */
  sampleBusy(): void {
    for (const worker of this.#workers.values()) {
      const thread = worker.thread as ThreadWithSampling;
      if (worker.sampling || worker.gone || worker.running === 0 || typeof thread.getHeapStatistics !== 'function') continue;
      worker.sampling = true;
      // Stamped when asked: the answer reflects a moment after this, so anything the worker
      // publishes later (at task end) correctly wins over it.
      const askedAt = Date.now();
      thread.getHeapStatistics().then(
        (stats) => {
          worker.sampling = false;
          worker.sample = { used: stats.used_heap_size, external: stats.external_memory ?? 0, at: askedAt };
          this.#hooks.onSample();
        },
        () => {
          worker.sampling = false;
        },
      );
    }
  }

  /**
   * The old-generation limit the worker was given, until it publishes its real one. Before a
   * worker is online Node reports unset limits as -1, so only a positive figure is trusted.
   */
  #configuredLimit(worker: TrackedWorker): number {
    const mb = worker.thread.resourceLimits?.maxOldGenerationSizeMb ?? 0;
    return mb > 0 ? mb * MiB : this.#fallbackLimit;
  }

  /**
   * How many tasks a worker may run at once: `concurrentTasksPerWorker` once it has published its
   * readings, one before. Until then its heap is unknown (a fresh worker already carries a few
   * MiB), and it publishes as soon as its first task reaches it. Counting an unknown heap as empty
   * put two 40 MiB tasks on each fresh 96 MB worker of a burst, and one died of it now and then.
   * A task that reserves nothing (`reserves` false: no need declared or learned, and slow start or
   * reservations off) is not weighed against the heap at all, so the unknown heap does not limit it.
   */
  #capacityOf(worker: TrackedWorker, reserves = true): number {
    return worker.publishedLimit !== undefined || !reserves ? this.#capacity : 1;
  }

  #read(worker: TrackedWorker): WorkerFigures {
    const published = this.#board.read(worker.id);
    // A sample counts only for a worker that runs tasks and may take one more concurrently. For an
    // idle worker its own publish at task end is authoritative; for a full one the question is how
    // it will look once free, which its last publish answers better than a reading that includes
    // the running tasks' transient memory.
    const sample = worker.running > 0 && worker.running < this.#capacity ? worker.sample : undefined;
    const cached = worker.figures;
    if (cached && cached.published === published && cached.sample === sample) return cached.figures;
    const figures = this.#figures(worker, published, sample);
    worker.figures = { published, sample, figures };
    return figures;
  }

  #figures(worker: TrackedWorker, published: BoardReading | undefined, sample: TrackedWorker['sample']): WorkerFigures {
    // The floor: what a worker holds before its first task. Also read off a worker that has never
    // been given one: a spawn taken back because its worker could not hold it never runs, and a
    // floor still unknown then lets the gate start worker after worker for it (measured: 87
    // starts in 5 s for one task declaring 16.5 MiB on 24 MB workers that start at 8.3 MiB).
    // (`fresh` is published with a worker's first task: without it, no task has run there yet.)
    const floor = published === undefined ? undefined : (published.fresh ?? published.live ?? published.used);
    if (floor !== undefined && floor > 0 && floor < this.#freshFloor) this.#freshFloor = floor;
    if (published && published.limit > 0 && published.limit !== worker.publishedLimit) {
      worker.publishedLimit = published.limit;
      this.#largestLimit = undefined;
    }
    const limit = worker.publishedLimit ?? this.#configuredLimit(worker);
    if (!published) return { used: sample?.used ?? 0, live: undefined, retained: undefined, limit, external: 0, fresh: undefined, updatedAt: sample?.at ?? 0 };
    const sampleIsNewer = sample !== undefined && sample.at > published.updatedAt;
    return {
      used: sampleIsNewer ? sample.used : published.used,
      live: published.live,
      // A sample has no retained figure: count all its growth since the publish as retained, to err high.
      retained: sampleIsNewer ? published.retained + Math.max(0, sample.used - published.used) : published.retained,
      limit,
      external: published.external,
      fresh: published.fresh,
      updatedAt: sampleIsNewer ? sample.at : published.updatedAt,
    };
  }
}

/**
 * Whether `names` (a worker's warm names) makes it warm for a run of `name` of `size` bytes: a run
 * of it at least that large finished there (its allocator holds what that run freed; a larger
 * run must make the difference resident anew).
 */
export function isWarmFor(names: ReadonlyMap<string, number> | undefined, name: string, size: number): boolean {
  const largest = names?.get(name);
  return largest !== undefined && largest >= size;
}
