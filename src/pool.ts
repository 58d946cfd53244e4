/**
 * GatedPool: the held queue in front, workers Piscina starts and stops behind, the gate between them.
 *
 * One task's path: `run()` → `#admit` → the gate decides on the latest readings
 * (`admission/gate.ts`) → `#start` charges the ledger and the dispatcher puts it on the chosen
 * worker, on the pool's own line to it (`placement/dispatcher.ts`, `placement/worker-port.ts`) →
 * the worker runtime runs it and publishes readings
 * (`worker/runtime.ts`) → `#answered` settles it, the ledger releases its charge, and the held
 * queue is decided again (`#pump`).
 *
 * Invariants: heapgate owns every task (Piscina carries none: a task waits in the held queue, or,
 * admitted for a worker being started, in the dispatcher); every task settles exactly once (`#settle`), and its charge is
 * released exactly once (the ledger); a worker exists for the gate from Piscina's `workerCreate`
 * until its `workerDestroy`.
 */
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setEnvironmentData, type Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { decide, fits, fitsAlone, levelOf, measuredLevel, processShortfall, tooLarge, type Capacities, type Decision, type GateInput, type Reading, type WarmOption, type WaterMarks } from './admission/gate.js';
import { HeldQueue } from './admission/held-queue.js';
import { QueueWaiters } from './admission/queue-waiters.js';
import { SlowStart } from './admission/slow-start.js';
import { createTask, learnNeed, type NeedSource, type Task } from './admission/task.js';
import type { AdmissionCheck, AdmissionQuestion } from './admission/admission-check.js';
import { Ledger } from './accounting/ledger.js';
import { Estimates, LEARNED_MARGIN } from './accounting/estimates.js';
import { WarmFootprints } from './accounting/warm-footprints.js';
import { HeldTime } from './accounting/held-time.js';
import { TaskCounters, type CounterSnapshot, type PoolStats } from './accounting/counters.js';
import { Dispatcher } from './placement/dispatcher.js';
import { WorkerHygiene } from './placement/hygiene.js';
import { IdleReaper } from './placement/idle-reaper.js';
import { WorkerRegistry, type TrackedWorker } from './placement/workers.js';
import { defaultWorkerLimits } from './placement/worker-limits.js';
import { stopWorkers, whenThreadEnds } from './placement/stop-workers.js';
import { Board } from './readings/board.js';
import { isolateTracker } from './readings/isolate.js';
import { ProcessMonitor } from './readings/process.js';
import { MainScope, ProcessScope } from './readings/scopes.js';
import { collectKey, settingsKey, startKey, taskKey, type WorkerSettings } from './worker/task-key.js';
import { decodeTaskError, isTaskError } from './worker/task-error.js';
import { AbortError, type HeapgateError, MemoryPressureError, type Scope, PoolClosedError, QueueClearedError, QueueFullError, TaskInputError, TaskResultError, TaskTooLargeError, WaitTimeoutError, WorkerCrashError, WorkerStartError } from './errors.js';
import { defaultMaxThreads, validateCloseOptions, validatePoolOptions, validateRunOptions, type AbortSource, type GateSettings, type GatedPoolOptions, type RunOptions } from './options.js';
import type { GatedPoolEvents, WorkerView } from './events.js';
import { debug } from './observability/debug.js';
import { ResultNotSent } from './placement/worker-port.js';
import { RunTimes, type RunTimeHistogram } from './observability/run-times.js';
import {
  admitChannel,
  holdChannel,
  pressureChannel,
  recycleChannel,
  rejectChannel,
  runChannel,
  settleChannel,
  type AdmitMessage,
  type HoldMessage,
  type PressureMessage,
  type RecycleMessage,
  type RejectMessage,
  type SettleMessage,
} from './observability/channels.js';

const ENTRY = fileURLToPath(new URL('./worker/entry.cjs', import.meta.url));
const MiB = 2 ** 20;
/** How far short of a learned peak a worker's largest run may fall and still count warm (charged on top). */
const LEARNED_WARM_SHORTFALL = 0.1;
/** Least time between two reads of the cgroup's memory.stat (or RSS). */
const STAT_REFRESH_MS = 100;
/**
 * Process bytes a worker adds by starting, before any task runs on it: reserved in the process
 * while it starts (its own memory shows in usage once it is ready). Measured: 15.1–15.3 MiB of
 * resident memory a GatedPool worker, 13.5 MiB a bare Piscina worker (Node 24.21, 8 workers, a
 * small task module). Without it, a burst that started 4 workers at once for 40 MiB tasks took a
 * 256 MiB container past its limit (2 kernel OOM kills in 4 runs).
 */
const WORKER_START_BYTES = 16 * 2 ** 20;
/** Piscina's default `idleTimeout`, ms. */
const PISCINA_IDLE_TIMEOUT = 0;
/** Least time between two reads of the cgroup's usage: decisions within a millisecond share one. */
const USAGE_REFRESH_MS = 1;
/** Least time between two re-reads of the container limit, and of its event counters. */
const LIMIT_REFRESH_MS = 5000;
const COUNTERS_REFRESH_MS = 1000;
/** Workers started for tasks that may die before they are ready, in a row, before those tasks fail. */
const MAX_START_FAILURES = 3;
/**
 * The last guard (see `#guard`): it acts once the process's non-reclaimable memory is past this
 * share of the room between the high mark and the limit.
 */
const GUARD_ROOM_SHARE = 0.5;
/**
 * Past this share of that room, the guard stops one more worker while an earlier stop is still
 * under way, if the process has grown by {@link GUARD_MIN_EXCESS} since that stop: the stopped
 * thread's memory comes back only as it ends, and the others go on growing meanwhile.
 */
const GUARD_URGENT_SHARE = 0.75;
/** The least a worker's tasks must have grown beyond what they reserved for the guard to stop it. */
const GUARD_MIN_EXCESS = 8 * MiB;
/** How often the guard looks while the process is above its high mark with tasks running. */
const GUARD_POLL_MS = 5;
/**
 * Off-heap bytes in the main isolate (or the task's shortfall, when less) above which a pool stuck
 * on the process scope collects the main isolate once before restarting workers.
 */
const MAIN_COLLECT_BYTES = 8 * MiB;
/** How long the guard waits for a stopped worker's thread to end before it may stop another. */
const GUARD_EXIT_WAIT_MS = 1000;
/** Measured runs after which a name's runs share workers again, when tasks may share them (see `#measuredAlone`). */
const CONFIDENT_SAMPLES = 3;
/** Tasks behind a head that cannot start that one pump looks at to overtake it (see `#pump`). */
const OVERTAKE_LOOKAHEAD = 32;
/**
 * Garbage a worker's tasks left (see `Board.memoryWanted`) is collected before the next task starts
 * there when it is at least this share of the process's room below the high-water mark: a long
 * task could otherwise keep it there just when a task needs that room.
 */
const LEFTOVERS_ROOM_SHARE = 0.25;
/**
 * What a run placed on its own name's garbage (see `WorkerRegistry.inPlace`) may make resident
 * before V8's first collection in it frees that garbage: V8 starts collecting once a worker's
 * off-heap bytes have grown 64 MiB past where its last collection left them (its external
 * allocation soft limit). Measured for the seed job: +4 MiB over a start on 135 MiB of its own
 * garbage (+65–70 MiB over a start after a full GC).
 */
const IN_PLACE_ALLOWANCE = 64 * MiB;
/** Task names whose keys are kept (see `#keyFor`). */
const MAX_KEYED_NAMES = 1000;
const NO_OPTIONS: RunOptions = {};
/** Settles nothing: the resolve and reject of a task that is only asked about, never run. */
const ignore = (): void => {};

type Outcome = 'completed' | 'failed' | 'crashed' | `rejected.${keyof CounterSnapshot['rejected']}`;

/**
 * Pool ids, unique in the process across copies of this module (the ES module and CommonJS builds
 * may both be loaded): workers find their pool's settings by id.
 */
const poolIds = ((globalThis as Record<symbol, { next: number } | undefined>)[Symbol.for('heapgate.poolIds')] ??= { next: 1 });

/**
 * A worker-thread pool (Piscina) with a memory-aware admission gate in front of it.
 *
 * @typeParam I - the task input type (`any` by default, as in Piscina's `Piscina<T = any, R = any>`: code typed for Piscina compiles unchanged).
 * @typeParam O - the task result type (`any` by default, as in Piscina).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class GatedPool<I = any, O = any> extends EventEmitter<GatedPoolEvents> {
  readonly #settings: GateSettings;
  readonly #water: WaterMarks;
  readonly #poolId = poolIds.next++;
  readonly #piscina: Piscina;
  readonly #board: Board;
  readonly #workers: WorkerRegistry;
  readonly #main: MainScope;
  readonly #process: ProcessScope | undefined;
  readonly #ledger = new Ledger();
  readonly #counters = new TaskCounters();
  readonly #estimates = new Estimates();
  readonly #warmFootprints = new WarmFootprints();
  /**
   * The largest need (heap and off-heap) of a task admitted so far on a declared or learned need:
   * the room a run of a name nobody knows yet takes in the process. Only admitted needs count: a
   * need refused as too large must not make every unknown task too large.
   */
  #largestAdmitted = 0;
  readonly #needSource: NeedSource;
  readonly #hygiene: WorkerHygiene;
  readonly #held: HeldQueue;
  readonly #dispatcher: Dispatcher;
  readonly #reaper: IdleReaper;
  /** Tasks admitted (charged and sent) and not settled yet. */
  readonly #active = new Set<Task>();
  /** Runs in flight of names whose need nobody knows yet (see `admission/slow-start.ts`). */
  readonly #slowStart = new SlowStart<Task>();
  readonly #heldTime = new HeldTime();
  /** The number of the last task submitted (see `Task.id`). */
  #lastTaskId = 0;
  /** Task keys per name, by flag combination. */
  readonly #keys = new Map<string, (string | undefined)[]>();
  /** The old-generation limit a worker is started with, bytes. */
  readonly #workerLimit: number;
  readonly #stopMainListener: () => void;
  readonly #runTimes: RunTimes;
  /** Why the head of the queue was last held for memory; cleared when the head starts (or one starts with none held). */
  #blockedBy: MemoryPressureError | undefined;
  #startFailures = 0;
  /** Crash errors the tasks of a dying worker end with, until Piscina reports them as the pool's `'error'` (then dropped). */
  readonly #claimedErrors = new Set<unknown>();
  /** Threads started for spawns that are not ready yet: each counts {@link WORKER_START_BYTES} in the process until it is. */
  readonly #starting = new Set<Worker>();
  /** Of those, the threads started for tasks held by slow start (no spawn waits for them). */
  readonly #startingForHeld = new WeakSet<Worker>();
  /** Held tasks whose last decision was slow start's alone (`Task.deferred`): without an abort signal, and with one. */
  #deferredShared = 0;
  #deferredAbortable = 0;
  /** Tasks aborted while they ran (Piscina's `completed` counts them). */
  #abortedRunning = 0;
  /**
   * True until Piscina's first workers have announced themselves (`workerCreate`, queued by
   * Piscina's constructor as microtasks). Piscina drains its queue as each announces itself,
   * offering a pending spawn to it; declined there (the gate placed a task on that worker
   * already), the spawn would make Piscina start one more worker. So a spawn the gate admits
   * before then waits for them (the decision itself is unchanged).
   */
  #startingUp: boolean;
  #lastStartError: unknown;
  #pumping = false;
  /** Inside one decision (its readings taken, not yet decided): no nudge may change them (see `#updateMemoryWanted`). */
  #deciding = false;
  #pumpAgain = false;
  #pumpScheduled = false;
  /** When a task was last refused room in the process or a worker, or a consumer asked for it (`performance.now()`). */
  #memoryAskedAt = Number.NEGATIVE_INFINITY;
  readonly #pumpSoon = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };
  #pollTimer: NodeJS.Timeout | undefined;
  #options: Readonly<Record<string, unknown>> | undefined;
  /** Polls for the guard while the process is above its high mark with tasks running (see {@link #guard}). */
  #guardTimer: NodeJS.Timeout | undefined;
  /** Tasks admitted plus settled when the stuck pool last collected the main isolate (see `#relieve`): once until one starts or ends. */
  #mainCollectedAt: number | undefined;
  /** The worker the guard stopped last, until its thread has ended. */
  #guardStopping: TrackedWorker | undefined;
  /** The process's non-reclaimable memory when the guard last stopped a worker. */
  #guardStopLive = 0;
  /** Workers the guard stopped: the process's figures then, and what their one task had grown. */
  readonly #guarded = new WeakMap<TrackedWorker, { used: number; limit: number; grown: { heap: number; external: number } }>();
  /** Names whose garbage a run placed on it was seen to free (see {@link #checkGarbageFreed}). */
  readonly #garbageProven = new Set<string>();
  /** Runs started alone to be measured, per name (see {@link #measuredAlone}). */
  readonly #aloneRuns = new Map<string, number>();
  /** `needsDrain` as last reported by an event. */
  #needsDrain = false;
  /** A microtask will report `needsDrain` if it changed. */
  #drainCheckQueued = false;
  readonly #reportDrain = (): void => {
    this.#drainCheckQueued = false;
    const needs = this.needsDrain;
    if (needs === this.#needsDrain) return;
    this.#needsDrain = needs;
    const event = needs ? 'needsDrain' : 'drain';
    if (this.listenerCount(event) > 0) this.emit(event);
  };
  /** Tasks the workers can run at once: `maxThreads` × `concurrentTasksPerWorker`. */
  #slots = 0;
  /** Whether the poll timer keeps the process alive (it does while tasks are held). */
  #pollRefed = false;
  #closing: Promise<void> | undefined;
  /** `close()` was called (set before its first step, which may stop workers synchronously). */
  #closeCalled = false;
  /** The pool's timers and readers are stopped (close finished, or destroy). */
  #shutDown = false;
  #destroyed = false;
  #drainWaiters: (() => void)[] = [];
  /** Paused (`pause()`, or `autoStart: false`): nothing starts until `start()`. */
  #paused: boolean;
  readonly #queueWaiters = new QueueWaiters();
  /** The head that cannot start, and since when tasks behind it may overtake it (see `#mayOvertake`). */
  #overtaken: Task | undefined;
  #overtakeSince = 0;

  /** Piscina's `move()`: marks a value to be transferred, not copied, with a task's result or input. */
  static move: typeof Piscina.move = (value) => Piscina.move(value);

  /** Whether this code runs in a pool worker (Piscina's `isWorkerThread`). */
  static get isWorkerThread(): boolean {
    return Piscina.isWorkerThread;
  }

  /** The `workerData` given to the pool, in a worker (Piscina's `workerData`). */
  static get workerData(): unknown {
    return Piscina.workerData;
  }

  /** Piscina's symbols for results that carry their own transfer list. */
  static get transferableSymbol(): symbol {
    return Piscina.transferableSymbol;
  }

  /** Piscina's symbol for the value sent in place of such a result (its transfer list under `transferableSymbol`). */
  static get valueSymbol(): symbol {
    return Piscina.valueSymbol;
  }

  /** Creates the pool. Throws a `TypeError`/`RangeError` naming any option that is wrong. */
  constructor(options: GatedPoolOptions = {}) {
    const { gate, piscina } = validatePoolOptions(options);
    super();
    this.#settings = gate;
    this.#runTimes = new RunTimes(piscina.recordTiming !== false);
    this.#paused = !gate.autoStart;
    this.#needSource = { reservations: gate.reservations, learned: (name) => this.#estimates.need(name) };
    this.#held = new HeldQueue(gate.maxWaitMs, (task) => this.#expire(task));
    const water = { high: gate.highWater, low: gate.lowWater };
    this.#water = water;
    const tracker = isolateTracker();
    const maxThreads = Math.max(piscina.maxThreads ?? defaultMaxThreads(), piscina.minThreads ?? 0);
    this.#main = new MainScope(tracker, water, () => this.#ledger.main, (underPressure, level, limit) => this.#pressure({ scope: 'main', threadId: undefined, underPressure, level, limit }));
    if (gate.memoryLimit !== false) {
      const monitor = new ProcessMonitor({ memoryLimit: gate.memoryLimit, cgroupRoot: gate.cgroupRoot, statRefreshMs: STAT_REFRESH_MS, usageRefreshMs: USAGE_REFRESH_MS, limitRefreshMs: LIMIT_REFRESH_MS });
      this.#process = new ProcessScope(
        monitor,
        water,
        () => this.#ledger.process + this.#starting.size * WORKER_START_BYTES,
        (underPressure, level, limit) => this.#pressure({ scope: 'process', threadId: undefined, underPressure, level, limit }),
        () => this.#workers.materialized(),
        maxThreads + 1,
      );
      if (monitor.source !== 'system') piscina.resourceLimits = defaultWorkerLimits(piscina, monitor.limit);
    }
    if (piscina.resourceLimits?.maxOldGenerationSizeMb === 0) {
      // 0 means Node's default, but Node passes it to V8 as is, which aborts the process.
      const others = { ...piscina.resourceLimits };
      delete others.maxOldGenerationSizeMb;
      piscina.resourceLimits = others;
    }
    const askedMb = piscina.resourceLimits?.maxOldGenerationSizeMb ?? 0;
    this.#workerLimit = askedMb > 0 ? askedMb * MiB : tracker.limit;
    this.#board = new Board(maxThreads * 2 + 2);
    const settings: WorkerSettings = { board: this.#board.buffer, filename: gate.filename, highWater: gate.highWater };
    // Workers read it when they start: set before Piscina starts any.
    setEnvironmentData(settingsKey(this.#poolId), settings as never);
    this.#piscina = new Piscina({
      ...piscina,
      // Idle workers are reaped by the pool, never while a held task can use them (see `idle-reaper.ts`).
      idleTimeout: Infinity,
      // Tasks reach workers on the pool's own line, which waits as `atomics` says (see
      // `worker/pool-port.ts`); Piscina's own wait would block a worker's line after Piscina's messages.
      atomics: 'disabled',
      filename: ENTRY,
      name: this.#keyFor({ name: gate.name, file: undefined, learnAs: gate.name }, 0),
      loadBalancer: (task, views) => this.#dispatcher.balance(task, views) as (typeof views)[number] | null,
    });
    this.#workers = new WorkerRegistry(this.#board, water, gate.concurrentTasksPerWorker, this.#workerLimit, {
      onPressure: (worker, reading) => this.#pressure({ scope: 'worker', threadId: worker.id, underPressure: reading.underPressure, level: reading.live ?? reading.used, limit: reading.limit }),
      onSample: () => this.#schedulePump(),
      answer: (sent, failed, payload) => this.#dispatcher.answer(sent, failed, payload),
      wait: piscina.atomics ?? 'sync',
    });
    this.#reaper = new IdleReaper(piscina.idleTimeout ?? PISCINA_IDLE_TIMEOUT, this.#workers, {
      keeps: (worker) => this.#heldTaskCanUse(worker),
      minThreads: this.#piscina.minThreads,
      maxThreads: this.#piscina.maxThreads,
      onReap: () => this.#counters.reaped++,
    });
    this.#dispatcher = new Dispatcher(this.#piscina, this.#poolId, startKey(this.#poolId), {
      answered: (task, failed, payload) => this.#answered(task, failed, payload),
      placed: (task, worker) => {
        this.#placeOn(task, worker);
        // Piscina's queue is empty again: held tasks may go to other workers now.
        this.#schedulePump();
      },
      withdrawn: (task) => this.#withdrawn(task),
    });
    this.#hygiene = new WorkerHygiene(this.#workers, {
      collect: (worker) => this.#dispatcher.nudge(worker, collectKey(this.#poolId)),
      onNudge: (worker) => {
        this.#counters.nudges++;
        this.emit('nudge', { threadId: worker.id });
      },
      onRecycle: (worker, live, limit, scope) => {
        if (debug.enabled) debug(`recycling idle worker ${worker.id} for room in the ${scope} scope (its live heap ${(live / 2 ** 20).toFixed(1)} of ${(limit / 2 ** 20).toFixed(1)} MiB)`);
        this.#counters.recycled++;
        this.emit('recycle', { threadId: worker.id, scope, live, limit });
        if (recycleChannel.hasSubscribers) recycleChannel.publish({ pool: this, threadId: worker.id, scope, live, limit } satisfies RecycleMessage);
      },
      onAnswer: () => {
        this.#process?.monitor.forgetLive();
        this.#schedulePump();
      },
    });
    // Piscina's first workers count as ready at once (it sends them tasks while they start); their
    // `workerCreate` comes a microtask later.
    for (const thread of this.#piscina.threads) {
      const added = this.#workers.add(thread);
      if (added) this.#dispatcher.connect(added);
    }
    this.#startingUp = this.#workers.size > 0;
    // Queued after Piscina's announcements, so it runs after them.
    if (this.#startingUp) {
      queueMicrotask(() => {
        this.#startingUp = false;
        this.#schedulePump();
      });
    }
    this.#piscina.on('workerCreate', (view: WorkerView) => {
      this.#onWorkerCreate(view.id);
      this.emit('workerCreate', view);
    });
    this.#piscina.on('workerDestroy', (view: WorkerView) => {
      this.#onWorkerDestroy(view.id);
      this.emit('workerDestroy', view);
    });
    this.#piscina.on('message', (message: unknown) => this.emit('message', message));
    this.#piscina.on('error', (error: Error) => {
      // A crash a task of the pool's ends with (see `#onWorkerDestroy`), as with Piscina.
      if (this.#claimedErrors.delete(error)) return;
      this.#lastStartError = error;
      this.emit('workerError', error);
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.#stopMainListener = tracker.onMajorGc(() => this.#schedulePump());
    this.#slots = this.#piscina.maxThreads * gate.concurrentTasksPerWorker;
  }

  /**
   * Submits a task. It runs when the gate admits it; it settles exactly once: with the task's
   * result, the task's own error, or a typed heapgate error (see the README's errors table).
   */
  run(input: I, options?: RunOptions): Promise<O> {
    if (!runChannel.hasSubscribers) return this.#run(input, options);
    const name = typeof options?.name === 'string' ? options.name : this.#settings.name;
    return runChannel.tracePromise(() => this.#run(input, options), { pool: this, name });
  }

  /**
   * Whether a task of this name and need, submitted now, would start at once — and if not, which
   * scope stops it and why. Nothing is submitted, reserved or counted: the answer comes from the
   * same decision `run()` makes (on readings taken now), so a queue consumer can leave work where
   * it is until the pool has room for it (`heapgate/bullmq` does). Throws on invalid options, as
   * `run()` rejects.
   */
  wouldAdmit(question?: AdmissionQuestion): AdmissionCheck {
    const task = this.#questionTask(question);
    if (this.#closeCalled || this.#destroyed) return { admit: false, reason: 'closed' };
    if (this.#paused) return { admit: false, reason: 'paused' };
    if (this.#held.size > 0) return { admit: false, reason: 'queued' };
    const decision = this.#decision(task);
    if (decision === 'learning') return { admit: false, reason: 'learning' };
    switch (decision.kind) {
      case 'admit':
        return { admit: true };
      case 'busy':
        return { admit: false, reason: 'busy' };
      case 'pressure':
        return { admit: false, reason: 'pressure', scope: decision.scope, used: decision.used, limit: decision.limit, need: this.#needIn(decision.scope, task), ceiling: this.#water.high * decision.limit };
      case 'too-large':
        return { admit: false, reason: 'too-large', scope: decision.scope, need: decision.need, capacity: decision.capacity };
    }
  }

  /**
   * For a task that {@link wouldAdmit} finds blocked by memory pressure: does what the pool does
   * for a task it holds — asks idle workers that block it, or that hold memory a collection may
   * free, to collect garbage, and recycles a worker that stays full or, with none of the pool's
   * tasks running, one whose thread may keep what the task lacks. Returns whether room may
   * appear soon. A consumer that keeps work out of the pool calls this while it waits, since no
   * held task does it for it.
   */
  relievePressure(question?: AdmissionQuestion): boolean {
    const task = this.#questionTask(question);
    const decision = this.#decision(task);
    if (decision === 'learning' || decision.kind !== 'pressure') return false;
    if (decision.scope !== 'main') this.#memoryAsked();
    return this.#relieve(task, decision);
  }

  /** Idle workers that block `task`, or hold memory a collection may free, asked to collect. Whether room may appear soon. */
  #relieve(task: Task, decision: Extract<Decision, { kind: 'pressure' }>): boolean {
    if (decision.scope === 'worker') return this.#hygiene.tend(task.heap);
    if (decision.scope !== 'process') return false;
    // Stuck: none of the pool's tasks runs, so nothing the pool does frees memory on its own.
    const process = this.#active.size === 0 ? this.#process?.reading(task.heap + task.external) : undefined;
    if (!process) return this.#hygiene.relieveProcess(undefined, task.sparedGarbage);
    const shortfall = processShortfall(process, task.heap + task.external, this.#water, this.#alone(task, process));
    const progress = this.#counters.admitted + this.#counters.settled;
    if (shortfall > 0 && this.#mainCollectedAt !== progress && isolateTracker().snapshot().external >= Math.min(shortfall, MAIN_COLLECT_BYTES)) {
      // The main isolate holds off-heap bytes (results dropped by the caller, say) that no worker
      // restart can free: collected once until a task starts or settles, off the submission path;
      // after that, the restarts below.
      this.#mainCollectedAt = progress;
      setImmediate(() => {
        if (this.#destroyed || this.#shutDown) return;
        isolateTracker().collect('major');
        this.#process?.monitor.forgetLive();
        this.#schedulePump();
      });
      return true;
    }
    return this.#hygiene.relieveProcess({ task: task.id, shortfall });
  }

  #run(input: I, options: RunOptions | undefined): Promise<O> {
    let opts = NO_OPTIONS;
    if (options !== undefined) {
      try {
        opts = validateRunOptions(options);
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    // A per-run module equal to the pool's is the pool's (same key, same learned needs).
    const file = opts.filename === undefined || opts.filename === null || opts.filename === this.#settings.filename ? undefined : (opts.filename as string);
    if (file === undefined && this.#settings.filename === undefined) return Promise.reject(new TypeError('filename must be provided to run() or in options object'));
    const { promise, resolve, reject } = Promise.withResolvers<O>();
    const task = createTask(++this.#lastTaskId, input, opts, opts.name ?? this.#settings.name, file, this.#needSource, resolve as (value: unknown) => void, reject);
    if (this.#runTimes.recording) task.submittedAt = performance.now();
    this.#counters.submitted++;
    if (this.#closeCalled || this.#destroyed) this.#settle(task, 'rejected.closed', new PoolClosedError());
    else if (task.signal?.aborted) this.#settle(task, 'rejected.aborted', new AbortError(task.signal.reason));
    else this.#admit(task);
    this.#checkDrain();
    return promise;
  }

  /** A snapshot of every reading, reservation, queue and counter. No side effects. */
  stats(): PoolStats {
    return {
      main: { ...this.#main.peek(), external: this.#main.tracker.snapshot().external, majorGcs: this.#main.tracker.majorGcs },
      process: this.#process?.stats(),
      workers: this.#workers.stats(),
      held: this.#held.size,
      headBlockedBy: this.#headBlockedBy(),
      running: this.#active.size,
      ledger: { open: this.#ledger.open, main: this.#ledger.main, process: this.#ledger.process },
      maxQueue: this.#settings.maxQueue,
      policy: this.#settings.policy,
      counters: this.#counters.snapshot(),
      estimates: this.#estimates.snapshot(),
      warmFractions: this.#warmFootprints.snapshot(),
      heldTime: this.#heldTime.snapshot(),
    };
  }

  #headBlockedBy(): PoolStats['headBlockedBy'] {
    const blocked = this.#held.blockedByMemory ? this.#held.head()?.lastPressure : undefined;
    if (!blocked) return undefined;
    const { taskName, scope, need, used, ceiling, limit } = blocked;
    return { taskName, scope, need, used, ceiling, limit };
  }

  /**
   * Stops taking tasks, finishes admitted and held work, then closes the workers. With
   * `{ force: true }`, held tasks are rejected with `PoolClosedError` first and only running ones
   * finish. Either way, work still running after Piscina's `closeTimeout` (default 30 s) is
   * ended as by {@link destroy}.
   */
  close(options?: { force?: boolean }): Promise<void> {
    let force: boolean | undefined;
    try {
      force = validateCloseOptions(options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (force && !this.#destroyed) {
      // Tasks held by slow start on free slots (and on those of workers started for them) are as
      // good as running (see `#deferredSlots`): they run; every other held task is rejected.
      let runs = this.#deferredSlots() + this.#pendingCapacity();
      for (const task of [...this.#held]) {
        if (task.deferred && runs-- > 0) continue;
        this.#settle(task, 'rejected.closed', new PoolClosedError('forced', 'the pool was closed (force) while the task was held'));
      }
    }
    // Held tasks are finished, not left waiting for a `start()` that may never come.
    if (this.#paused && !this.#destroyed) this.start();
    this.#closeCalled = true;
    this.#closing ??= (async () => {
      if (this.#held.size > 0 || this.#active.size > 0) {
        const drained = new Promise<boolean>((done) => this.#drainWaiters.push(() => done(true)));
        let timer: NodeJS.Timeout | undefined;
        const closeTimeout = this.#piscina.options.closeTimeout;
        // No timer for `Infinity` (a timer given it would fire after 1 ms).
        const timedOut = new Promise<boolean>((done) => (timer = Number.isFinite(closeTimeout) ? setTimeout(() => done(false), closeTimeout) : undefined));
        const finished = await Promise.race([drained, timedOut]);
        clearTimeout(timer);
        if (!finished) {
          // As Piscina: the timeout is reported as 'error' (here only to a listener: an 'error' with none would throw).
          if (this.listenerCount('error') > 0) this.emit('error', new Error(`Close operation timed out (closeTimeout: ${this.#piscina.options.closeTimeout} ms): the pool is destroyed`));
          await this.destroy();
          this.emit('close');
          return;
        }
      }
      this.#shutdown();
      // Nothing of ours runs any more: stopping the workers is all that is left.
      await stopWorkers(this.#piscina.threads, () => this.#piscina.destroy());
      this.emit('close');
    })();
    return this.#closing;
  }

  // ---- p-queue's controls -------------------------------------------------------------------------

  /** Stops starting tasks (p-queue's `pause()`): running ones go on; new and held ones wait for {@link start}. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    // Waiting for `start()` is not waiting for memory.
    this.#held.setBlockedByMemory(false);
  }

  /** Starts tasks again after {@link pause} (or `autoStart: false`); returns the pool, as p-queue does. */
  start(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    this.#pump();
    return this;
  }

  /** Whether the pool is paused (p-queue's `isPaused`). */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** Tasks waiting to start (p-queue's `size`; the same as Piscina's {@link queueSize}). */
  get size(): number {
    return this.#held.size;
  }

  /** Tasks started and not settled yet (p-queue's `pending`). */
  get pending(): number {
    return this.#active.size;
  }

  /**
   * Removes every task waiting to start (p-queue's `clear()`); each rejects with
   * `QueueClearedError` (counted in `counters.rejected.cleared`). Running tasks go on.
   */
  clear(): void {
    for (const task of [...this.#held]) this.#settle(task, 'rejected.cleared', new QueueClearedError());
  }

  /** Resolves once no task waits to start (p-queue's `onEmpty()`); at once if none waits. */
  onEmpty(): Promise<void> {
    return this.#queueWaiters.wait(() => this.#held.size === 0);
  }

  /** Resolves once no task waits and none runs (p-queue's `onIdle()`); at once if so already. */
  onIdle(): Promise<void> {
    return this.#queueWaiters.wait(() => this.#held.size === 0 && this.#active.size === 0);
  }

  /**
   * Resolves once fewer than `limit` tasks wait to start (p-queue's `onSizeLessThan()`); at once
   * if so already. Rejects with a `TypeError`/`RangeError` naming a `limit` that is not a number,
   * is NaN, or is below 1 (no queue gets shorter than empty: p-queue's promise would never settle).
   */
  onSizeLessThan(limit: number): Promise<void> {
    if (typeof limit !== 'number') return Promise.reject(new TypeError(`onSizeLessThan(limit): limit must be a number, got ${typeof limit}`));
    if (Number.isNaN(limit)) return Promise.reject(new RangeError('onSizeLessThan(limit): limit must not be NaN'));
    if (limit < 1) return Promise.reject(new RangeError(`onSizeLessThan(limit): limit must be at least 1 (no queue is shorter than empty), got ${limit}`));
    return this.#queueWaiters.wait(() => this.#held.size < limit);
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Starts `close()` without waiting for it, for `using`. */
  [Symbol.dispose](): void {
    void this.close();
  }

  /**
   * The pool's options after defaults, as Piscina's `options` (null-prototype, frozen): Piscina's
   * filled options with the pool's own `filename` (a file URL, or `null`), `name` and `maxQueue`,
   * and the gate's settings.
   */
  get options(): Readonly<Record<string, unknown>> {
    if (!this.#options) {
      const options: Partial<Record<string, unknown>> = Object.assign(Object.create(null) as Record<string, unknown>, this.#piscina.options, this.#settings, { filename: this.#settings.filename ?? null, idleTimeout: this.#reaper.idleTimeout });
      // The gate's, not Piscina's: heapgate balances and queues itself.
      delete options.loadBalancer;
      delete options.taskQueue;
      this.#options = Object.freeze(options);
    }
    return this.#options;
  }

  /** Piscina's `maxThreads`. */
  get maxThreads(): number {
    return this.#piscina.maxThreads;
  }

  /** Piscina's `minThreads`. */
  get minThreads(): number {
    return this.#piscina.minThreads;
  }

  /** The worker threads (Piscina's `threads`). */
  get threads(): Worker[] {
    return this.#piscina.threads;
  }

  /** Ready workers running no task (Piscina's `idleThreads`). */
  get idleThreads(): number {
    if (this.#destroyed) return 0;
    // A task held by slow start is on the idle worker it will run on, as far as Piscina's counts go.
    const idle = this.#workers.idleCount();
    return idle - Math.min(this.#deferredShared + this.#deferredAbortable, idle);
  }

  /**
   * Tasks waiting in the pool's queue (for a worker or for memory) beyond what workers being
   * started will take: Piscina's `queueSize`. {@link size} counts every waiting task.
   */
  get queueSize(): number {
    // Piscina's meaning: tasks waiting beyond what the workers being started will take.
    return Math.max(0, this.#held.size - this.#pendingCapacity() - this.#deferredSlots());
  }

  /**
   * Free slots of ready workers that tasks held by slow start take, as far as Piscina's counts go:
   * slow start delays when a run of an unknown name starts, not which slot it has. With Piscina
   * such a task would be on that slot, running; so it is not "queued" (`queueSize`, `maxQueue`),
   * its worker is not idle (`idleThreads`), a worker is started for it when no slot is free
   * (`#startForDeferred`), and `close({ force: true })` lets it run. An abortable one takes an idle
   * worker whole. `extra`: a task not held yet, counted when it is deferred.
   */
  #deferredSlots(extra?: Task): number {
    let shared = this.#deferredShared;
    let abortable = this.#deferredAbortable;
    if (extra?.deferred === true) {
      if (extra.signal === undefined) shared++;
      else abortable++;
    }
    if (shared + abortable === 0) return 0;
    // An abortable task never shares its worker (as in Piscina): it takes an idle one whole.
    const whole = Math.min(abortable, this.#workers.idleCount());
    return whole + Math.min(shared, Math.max(0, this.#workers.freeSlots() - whole * this.#settings.concurrentTasksPerWorker));
  }

  /** Workers being started that no spawn waits for: as Piscina starts one per task it queues while none is ready, each counts for one held task. */
  #startingForNone(): number {
    return Math.max(0, this.#piscina.threads.length - this.#workers.size - this.#dispatcher.spawnCount);
  }

  /**
   * Whether a worker can be started for tasks held by slow start now: below `maxThreads`, the
   * process takes a worker's start, and the head of the queue does not wait for memory (a worker
   * started then would take memory the head waits for, and, idle and not warm for the head, be
   * reaped at once: found by a review, a worker started and reaped every few milliseconds).
   */
  #canStartForDeferred(): boolean {
    return !this.#destroyed && !this.#closeCalled && !this.#held.blockedByMemory && this.#canSpawn() && (!this.#process || fits(this.#process.peek(), WORKER_START_BYTES, this.#water.high));
  }

  /**
   * Starts workers, up to `maxThreads`, for tasks held by slow start beyond the free slots and the
   * slots of workers being started, as Piscina starts a worker per queued task: when their turn
   * comes, their workers are ready. Each is reserved in the process while it starts, and starts
   * only where the process takes that; workers that keep dying as they start stop it (as spawns).
   */
  #startForDeferred(): void {
    const deferred = this.#deferredShared + this.#deferredAbortable;
    if (deferred === 0) return;
    while (deferred > this.#deferredSlots() + this.#startingForNone() && this.#canStartForDeferred()) {
      let thread: Worker | undefined;
      try {
        thread = this.#dispatcher.startWorker();
      } catch (error) {
        // Node refused the worker's options.
        this.#countFailedStart(error);
        return;
      }
      if (!thread) return;
      this.#starting.add(thread);
      this.#startingForHeld.add(thread);
    }
  }

  /** Marks whether `task`'s last decision was slow start's alone (counted while it is held). */
  #setDeferred(task: Task, deferred: boolean): void {
    if (task.deferred === deferred) return;
    task.deferred = deferred;
    if (task.state === 'held') this.#countDeferred(task, deferred ? 1 : -1);
  }

  #countDeferred(task: Task, change: 1 | -1): void {
    if (task.signal === undefined) this.#deferredShared += change;
    else this.#deferredAbortable += change;
  }

  /**
   * Task slots of workers being started that no spawn has claimed: workers Piscina is starting
   * (its threads not ready yet) × `concurrentTasksPerWorker`, less the spawns waiting for them.
   * Before Piscina's first workers are announced ({@link #startingUp}), spawns wait in the held
   * queue and no other worker has been started yet: the slots of every worker Piscina may still
   * start count too, as Piscina would start one per task queued then (up to `maxThreads`).
   */
  #pendingCapacity(): number {
    const starting = Math.max(0, this.#piscina.threads.length - this.#workers.size);
    const pending = Math.max(0, starting * this.#settings.concurrentTasksPerWorker - this.#dispatcher.spawnCount);
    return this.#startingUp ? pending + Math.max(0, this.#piscina.maxThreads - this.#piscina.threads.length) * this.#settings.concurrentTasksPerWorker : pending;
  }

  /** Tasks that ran and ended, with a result or an error (Piscina's `completed`). */
  get completed(): number {
    const { completed, failed, crashed } = this.#counters;
    return completed + failed + crashed + this.#abortedRunning;
  }

  /** Piscina's `utilization`: the workers' busy share of the time since the pool started. */
  get utilization(): number {
    return this.#runTimes.utilization(this.#piscina.maxThreads);
  }

  /** Milliseconds since the pool was created (Piscina's `duration`). */
  get duration(): number {
    return this.#runTimes.duration;
  }

  /** Piscina's run- and wait-time histogram: a task waits from `run()` (held time included) until it goes to a worker, then runs until its answer. */
  get histogram(): RunTimeHistogram {
    return this.#runTimes.histogram;
  }

  /** Whether `close()` or `destroy()` was called: new tasks are refused with `PoolClosedError`. */
  get closed(): boolean {
    return this.#closeCalled || this.#destroyed;
  }

  /** Whether a new task would have to wait: tasks are held, or every worker slot is taken. */
  get needsDrain(): boolean {
    return this.#held.size > 0 || this.#active.size >= this.#slots;
  }

  /**
   * Emits `needsDrain` / `drain` a microtask later, as Piscina does, when {@link needsDrain} has
   * changed. The state is read again then: an event always tells the state at the moment it is
   * emitted (a change undone within the same turn emits nothing), and the two alternate.
   */
  #checkDrain(): void {
    if (this.#drainCheckQueued || this.needsDrain === this.#needsDrain) return;
    this.#drainCheckQueued = true;
    queueMicrotask(this.#reportDrain);
  }

  /** Rejects held and running tasks with `PoolClosedError` and terminates the workers. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const task of [...this.#held]) this.#settle(task, 'rejected.closed', new PoolClosedError('destroyed', 'the pool was destroyed while the task was held'));
    for (const task of [...this.#active]) this.#settle(task, 'rejected.closed', new PoolClosedError('destroyed', 'the pool was destroyed while the task was running'));
    this.#shutdown();
    await stopWorkers(this.#piscina.threads, () => this.#piscina.destroy());
  }

  // ---- admission -------------------------------------------------------------------------------

  #admit(task: Task): void {
    if (task.signal) this.#listenForAbort(task);
    if (this.#paused) {
      this.#hold(task);
      return;
    }
    if (this.#held.size === 0 && !this.#pumping) {
      if (!this.#onlyBusy() && this.#tryStart(task) !== 'hold') return;
    } else if (this.#settings.policy === 'reject' && this.#refusedBehindHeld(task)) {
      return;
    }
    // Held without a decision (behind others, or no worker free): slow start holds it, as it would decide.
    if (!task.deferred && this.#learns(task) && !this.#slowStart.mayStart(task.learnAs, Date.now())) this.#setDeferred(task, true);
    this.#hold(task);
    // Behind a head that cannot start, it may start first where it fits (see `#pump`).
    if (this.#held.size > 1 && this.#overtaken !== undefined && !this.#onlyBusy()) this.#schedulePump();
  }

  /** The decisions' input: one object, refilled for each decision (`decide` keeps nothing of it). */
  readonly #input: GateInput = { need: 0, mainNeed: 0, external: 0, water: { high: 0, low: 0 }, main: undefined as never, process: undefined, alone: false, workers: [], canSpawn: false, workerLimit: 0, workerFloor: 0, warm: undefined };
  readonly #warmOption: WarmOption = { need: 0, spawn: false, surprise: 0, reusable: 0 };

  #gateInput(task: Task): GateInput {
    const input = this.#input;
    input.need = task.heap;
    input.mainNeed = task.main;
    input.external = task.external;
    input.water = this.#water;
    input.main = this.#main.reading(task.main);
    input.process = this.#process?.reading(task.heap + task.external);
    input.alone = this.#alone(task, input.process);
    input.warm = this.#warmOptionFor(task, input.process);
    // Warm workers are preferred for any task that reserves in the process (see `chooseWorker`);
    // charged to reuse a worker's garbage in place, only that worker counts as warm.
    const warmName = this.#process && task.heap + task.external > 0 ? task.learnAs : undefined;
    input.workers = this.#workers.readings(this.#runsAlone(task), task.heap > 0, warmName, warmName === undefined ? 0 : this.#warmSize(task), task.inPlace?.worker);
    input.canSpawn = this.#canSpawn();
    input.workerStart = WORKER_START_BYTES;
    input.workerLimit = this.#workers.largestPublishedLimit() || this.#workerLimit;
    input.workerFloor = this.#workers.freshFloor();
    // On the limits just read (a worker's first publish may lower them).
    if (task.estimate === 'learned' && task.heap + task.external > 0) {
      this.#capLearned(task, this.#capacities());
      input.need = task.heap;
      input.external = task.external;
    }
    return input;
  }

  /**
   * The warm way into the process for `task` (see the gate's `WarmOption`): only when the process
   * is watched, the task reserves there, and a warm run of its name was measured to need less.
   */
  #warmOptionFor(task: Task, process: Reading | undefined): WarmOption | undefined {
    task.inPlace = undefined;
    const full = task.heap + task.external;
    if (!this.#process || full <= 0) return undefined;
    const warmNeed = this.#warmNeed(task);
    const inPlace = this.#inPlaceNeed(task, full, warmNeed);
    const need = inPlace?.need ?? warmNeed;
    if (need === undefined || need >= full) return undefined;
    task.inPlace = inPlace;
    let surprise = 0;
    for (const running of this.#active) surprise = Math.max(surprise, running.charge?.surprise ?? 0);
    const option = this.#warmOption;
    option.need = need;
    // A worker started now holds none of the garbage an in-place need counts on.
    option.spawn = inPlace === undefined && this.#workers.spawnWarm(task.learnAs, this.#warmSize(task));
    option.surprise = surprise;
    option.reusable = this.#reusable(process);
    return option;
  }

  /**
   * The process bytes a run of `task` is charged on the idle worker holding the most garbage its
   * name's last run there left (`WorkerRegistry.inPlace`): it starts on that garbage, V8 frees it as
   * the run allocates, and the run reuses the memory, so the process grows by its off-heap need
   * less that garbage — but by {@link IN_PLACE_ALLOWANCE} at least (what it may allocate before
   * V8's first collection in it) — plus its whole heap need (freed Buffer memory does not become
   * heap pages), and never by more than its warm need. `undefined` when no worker holds such
   * garbage, the charge would be no less than the warm need (or the full one, before a warm run
   * was measured), or the run is to be measured (a run starting on garbage measures low).
   * Were the garbage live after all (data a task keeps), the run grows by its full need: the warm
   * rule's surprise bound (`WarmOption.surprise`) keeps the process below its limit for one such
   * run, so until a run of the name has been seen to free its garbage (`#garbageProven`), only one
   * runs in place at a time.
   */
  #inPlaceNeed(task: Task, full: number, warmNeed: number | undefined): Task['inPlace'] {
    if (this.#learns(task) || this.#measuredAlone(task)) return undefined;
    const found = this.#workers.inPlace(task.learnAs);
    if (!found) return undefined;
    if (!this.#garbageProven.has(task.learnAs)) for (const running of this.#active) if (running.reusesGarbage && running.learnAs === task.learnAs) return undefined;
    const need = task.heap + Math.max(task.external - found.leftovers, Math.min(task.external, IN_PLACE_ALLOWANCE));
    return need < (warmNeed ?? full) ? { worker: found.worker, need, leftovers: found.leftovers } : undefined;
  }

  /**
   * A run placed on its name's garbage ended: when the garbage its worker holds now is less than
   * 1.5 × what it started on (that garbage went as it ran, and what is left is mostly its own; had
   * it been data kept alive, the two would add up), the name's garbage is proven to be garbage, and
   * its runs may go in place side by side (see {@link #inPlaceNeed}).
   */
  #checkGarbageFreed(task: Task, worker: TrackedWorker): void {
    const inPlace = task.inPlace;
    if (!task.reusesGarbage || !inPlace || this.#garbageProven.has(task.learnAs)) return;
    if (this.#workers.leftovers(worker) >= 1.5 * inPlace.leftovers) return;
    if (this.#garbageProven.size >= MAX_KEYED_NAMES) this.#garbageProven.delete(this.#garbageProven.values().next().value as string);
    this.#garbageProven.add(task.learnAs);
  }

  /**
   * See `WarmOption.reusable`: the process's measured level in `reading` (the decision's) less the
   * part of the running tasks' charges already resident, less what the warm tasks running now count
   * on reusing.
   */
  #reusable(reading: Reading | undefined): number {
    if (!reading) return 0;
    // The scope's `reserved` is the ledger's total less what has materialized (see `ProcessScope`).
    const resident = this.#ledger.process - reading.reserved;
    return measuredLevel(reading) - resident - this.#ledger.surprise;
  }

  /**
   * Whether a held task can use this idle worker, so that it is not reaped for idleness: the head
   * of the queue waits for a worker (not for memory), or the worker is warm for the head's run
   * (its name, at its size) and a warm run of it needs less than its full need (its allocator holds what such a run
   * reuses) — or no warm run has been measured yet and tasks are running, whose ends will let the
   * head in (its run there is the measurement). A worker kept while the head waits for memory it
   * cannot help with would only hold more of the process (its isolate) while the head waits; so
   * would a worker of unproven warmth once nothing runs.
   */
  #heldTaskCanUse(worker: TrackedWorker): boolean {
    const head = this.#held.head();
    if (!head) return false;
    if (!this.#held.blockedByMemory) return true;
    const full = head.heap + head.external;
    if (!this.#workers.isWarm(worker, head.learnAs, this.#warmSize(head))) return false;
    const warmNeed = this.#warmNeed(head);
    return warmNeed === undefined ? this.#active.size > 0 : warmNeed < full;
  }

  /** Whether the process could take a learning run's guessed need with {@link LEARNED_MARGIN} on top, alone (see `fitsAlone`). */
  /**
   * Whether `task` would run alone with a need that counts as known (see `fitsAlone`): none of the
   * pool's tasks runs, and its need is declared or learned, or it is the run that learns it with a
   * margin on its guess (which bounds only its old generation: not its young one, nor off-heap bytes).
   */
  #alone(task: Task, process: Reading | undefined): boolean {
    return this.#active.size === 0 && (task.estimate === 'declared' || task.estimate === 'learned' || (this.#learns(task) && this.#guessFitsAlone(process, task)));
  }

  #guessFitsAlone(process: Reading | undefined, task: Task): boolean {
    return process === undefined || fitsAlone(process, (task.heap + task.external) * LEARNED_MARGIN);
  }

  /** Whether a run of `task` would be measured to learn its name's need (slow start). */
  #learns(task: Task): boolean {
    return this.#settings.slowStart && task.estimate === 'none';
  }

  /**
   * Whether `task` must run alone on its worker: it has an abort signal (aborting it stops the
   * worker, as in Piscina), it is a learning run (it reserves nothing on its worker, and is
   * measured only alone), or it is measured alone for its name's need (see {@link #measuredAlone}).
   */
  #runsAlone(task: Task, measuredAlone = this.#measuredAlone(task)): boolean {
    return task.signal !== undefined || this.#learns(task) || measuredAlone;
  }

  /**
   * Whether a run of a learned name runs alone on its worker so that it is measured: with
   * `concurrentTasksPerWorker` above 1, until the name has {@link CONFIDENT_SAMPLES} measured runs
   * (or twice as many runs alone, measured or not). A run is measured only alone on its worker;
   * with several tasks per worker that was rare, and a name's need stayed what its first run grew
   * (measured: Buffer jobs of 5–60 MiB, the first 8 MiB, 4 per worker: 8 admitted together at
   * ~10 MiB each, and the kernel killed the process).
   */
  #measuredAlone(task: Task): boolean {
    if (this.#settings.concurrentTasksPerWorker === 1 || task.estimate !== 'learned' || this.#estimates.samples(task.learnAs) >= CONFIDENT_SAMPLES) return false;
    // Runs that fail are not measured: a name whose runs keep failing shares workers again after
    // twice as many runs alone.
    return (this.#aloneRuns.get(task.learnAs) ?? 0) < 2 * CONFIDENT_SAMPLES;
  }

  /**
   * What a run whose need nobody knows reserves in the process while it is measured: a worker's
   * heap limit (on its heap it can take no more), kept below what the process can admit at all —
   * and, while nothing runs, below the room the process has left under its mark: that run is the
   * only way to learn the need, and a reservation the process could never take would hold every
   * task of the name for good (a worker heap limit large beside the container's).
   */
  #unknownRoom(): number {
    const workerLimit = this.#workers.largestPublishedLimit() || this.#workerLimit;
    if (!this.#process) return workerLimit;
    let room = Math.floor(this.#settings.highWater * this.#process.monitor.limit) - 1;
    if (this.#active.size === 0) room -= levelOf(this.#process.peek());
    // A worker started for it counts in the process too.
    if (!this.#workers.anyFree()) room -= WORKER_START_BYTES;
    return Math.max(0, Math.min(workerLimit, room));
  }

  /**
   * Whether the gate can only answer `busy` now, without asking it: no worker can take a task by
   * its count, none can be started, and no scope was under pressure at the last decision (a busy
   * worker is never fresh, so some worker may always fit later). Each pump still decides its
   * first task, so readings and pressure flags stay current.
   */
  #onlyBusy(): boolean {
    return !this.#main.underPressure && !this.#process?.underPressure && !this.#workers.anyFree() && !this.#canSpawn();
  }

  /** Whether Piscina would start one more worker for a task sent now (it starts one per queued task, up to `maxThreads`). */

  #canSpawn(): boolean {
    const maxThreads = this.#piscina.maxThreads;
    // Piscina's thread list (ready and starting workers) is built on each call: asked only when the ready ones leave room.
    return this.#startFailures < MAX_START_FAILURES && this.#workers.size < maxThreads && this.#piscina.threads.length < maxThreads;
  }

  /**
   * The gate's decision for `task` now — the same steps whether it is acted on (`#tryStart`) or
   * only asked about (`wouldAdmit`). `'learning'`: a run of its unknown name is being measured and
   * it waits its turn (slow start). Changes nothing but `task`'s own need fields.
   */
  #decision(task: Task): Decision | 'learning' {
    // Slow start: one run at a time of a name whose need nobody knows yet.
    if (this.#learns(task) && !this.#slowStart.mayStart(task.learnAs, Date.now())) return 'learning';
    // Unknown is not nothing: the process must have room for the largest need admitted so far, for
    // what a run of its name in flight has grown so far, and (slow start) for as much heap as its
    // worker could hold — other tasks are admitted beside it on what it reserves.
    if (task.estimate === 'none' && this.#process) task.external = Math.max(this.#largestAdmitted, this.#slowStart.grownSoFar(task.learnAs), this.#learns(task) ? this.#unknownRoom() : 0);
    this.#deciding = true;
    try {
      const input = this.#gateInput(task);
      const decision = decide(input);
      // Only for the head of the queue (the one collections are spared for), not for every task a pump looks at.
      const asked = task.state === 'held' ? this.#held.head() === task : this.#held.size === 0;
      task.sparedGarbage = asked && decision.kind !== 'admit' && task.inPlace !== undefined && this.#active.size > 0 && !this.#collectingHelps(task, task.inPlace, input) ? task.inPlace.worker : undefined;
      return decision;
    } finally {
      this.#deciding = false;
    }
  }

  /**
   * Whether collecting the garbage `task` would reuse in place (`inPlace`, see `#inPlaceNeed`) lets
   * it in: the gate's own decision on the same input, with the process lower by what the collection
   * gives back and the task on its warm need (or its full one) instead. What it gives back is the
   * garbage less what the worker's allocator keeps for a warm run to reuse (its full need less its
   * warm need, as the warm rule counts it), all of it when no warm run was measured. When it does
   * not let the task in, the worker keeps its garbage while other tasks run (their ends may let the
   * task in there, in place); when it does, the worker is nudged like any other (a held task never
   * waits on memory only garbage holds).
   */
  #collectingHelps(task: Task, inPlace: NonNullable<Task['inPlace']>, input: GateInput): boolean {
    const process = input.process;
    if (!process) return true;
    const full = task.heap + task.external;
    const warmNeed = this.#warmNeed(task);
    const kept = warmNeed !== undefined && warmNeed < full ? full - warmNeed : 0;
    const freed = Math.max(0, inPlace.leftovers - kept);
    const lowered: Reading = { ...process, used: Math.max(0, process.used - freed), live: process.live === undefined ? undefined : Math.max(0, process.live - freed) };
    const warm = input.warm && kept > 0 ? { ...input.warm, need: full - kept, spawn: false, reusable: Math.max(0, input.warm.reusable - freed) } : undefined;
    const workers = this.#workers.readings(this.#runsAlone(task), task.heap > 0, task.learnAs, this.#warmSize(task));
    return decide({ ...input, process: lowered, warm, workers }).kind === 'admit';
  }

  /** A task for a question about admission: what `run()` would create, never submitted. */
  #questionTask(question: AdmissionQuestion | undefined): Task {
    const opts = question === undefined ? NO_OPTIONS : validateRunOptions(question);
    const file = opts.filename === undefined || opts.filename === null || opts.filename === this.#settings.filename ? undefined : (opts.filename as string);
    return createTask(0, undefined, opts, opts.name ?? this.#settings.name, file, this.#needSource, ignore, ignore);
  }

  /** Decides one task: started, settled (refused), or to be held. */
  #tryStart(task: Task): 'started' | 'settled' | 'hold' {
    if (task.state === 'held') {
      if (this.#held.expired(task)) {
        this.#expire(task);
        return 'settled';
      }
      learnNeed(task, this.#needSource);
    }
    if (this.#startFailures >= MAX_START_FAILURES && this.#workers.size === 0) {
      this.#settle(task, 'rejected.workerStart', new WorkerStartError(this.#startFailures, this.#lastStartError));
      return 'settled';
    }
    const decision = this.#decision(task);
    if (decision === 'learning') {
      this.#setDeferred(task, true);
      return 'hold';
    }
    this.#setDeferred(task, false);
    task.waitsForMemory = decision.kind === 'pressure' ? decision.scope : decision.kind === 'busy' ? decision.memory : undefined;
    switch (decision.kind) {
      case 'admit':
        // Before Piscina's first workers are announced, a spawn would start two workers (see `#startingUp`).
        if (decision.worker === 'spawn' && this.#startingUp) return 'hold';
        this.#start(task, decision.worker, decision.warm === true);
        return 'started';
      case 'too-large':
        this.#refuseTooLarge(task, decision);
        return 'settled';
      case 'busy':
        this.#hygiene.tend(task.heap);
        this.#heldFor(task, 'a worker');
        return 'hold';
      case 'pressure': {
        const outcome = this.#underPressure(task, decision);
        if (outcome === 'hold') this.#heldFor(task, 'memory');
        return outcome;
      }
    }
  }

  /** What the head of the queue waits for: the memory clock that `maxWaitMs` is measured on runs only while it is memory. */
  #heldFor(task: Task, reason: 'memory' | 'a worker'): void {
    const isHead = task.state === 'held' ? this.#held.head() === task : this.#held.size === 0;
    if (isHead) this.#held.setBlockedByMemory(reason === 'memory');
    if (task.waitsForMemory !== undefined) this.#updateMemoryWanted();
  }

  /**
   * A scope cannot take the task. Garbage is collected before it is called pressure: idle workers
   * that block it, or that hold memory a GC may free while the process blocks it, are asked to
   * collect, and the task waits for the outcome. Otherwise the policy decides.
   */
  #underPressure(task: Task, decision: Extract<Decision, { kind: 'pressure' }>): 'settled' | 'hold' {
    const error = this.#pressureError(decision, task);
    if (debug.enabled && task.lastPressure?.message !== error.message) debug(`task ${task.id}: ${error.message}`);
    task.lastPressure = error;
    this.#blockedBy = error;
    const relief = this.#relieve(task, decision);
    if (relief || this.#settings.policy === 'wait') return 'hold';
    this.#settle(task, 'rejected.pressure', error);
    if (decision.scope !== 'main') this.#memoryAsked();
    return 'settled';
  }

  /** Refuses `task` with `TaskTooLargeError` when its need can never fit. */
  #refusedTooLarge(task: Task): boolean {
    if (task.heap + task.main + task.external === 0) return false;
    const capacities = this.#capacities();
    this.#capLearned(task, capacities);
    const decision = tooLarge({ need: task.heap, mainNeed: task.main, external: task.external }, capacities, this.#settings.highWater);
    if (!decision) return false;
    this.#refuseTooLarge(task, decision);
    return true;
  }

  #capacities(): Capacities {
    return { process: this.#process?.monitor.limit, main: this.#main.tracker.limit, worker: this.#workers.largestPublishedLimit() || this.#workerLimit, workerFloor: this.#workers.freshFloor() };
  }

  /**
   * A learned need is capped just below the most its scopes can ever admit: the run it was
   * learned from completed, and the margin on top of its peak must not make it "too large" (a
   * task that ran is never refused as one). Capped, it runs when it has a scope almost to itself.
   */
  #capLearned(task: Task, { worker, workerFloor, process }: Capacities): void {
    if (task.estimate !== 'learned') return;
    const high = this.#settings.highWater;
    task.heap = Math.max(0, Math.min(task.heap, Math.floor(high * worker - workerFloor) - 1));
    if (process !== undefined) task.external = Math.max(0, Math.min(task.external, Math.floor(high * process) - 1 - task.heap));
  }

  #refuseTooLarge(task: Task, decision: Extract<Decision, { kind: 'too-large' }>): void {
    this.#settle(task, 'rejected.tooLarge', new TaskTooLargeError(decision.scope, decision.need, decision.capacity));
  }

  /** A need was learned: held tasks learned under the same name take it, and those it can never fit are refused now. */
  #relearnHeld(learnAs: string): void {
    for (const task of this.#held) {
      if (task.learnAs !== learnAs) continue;
      learnNeed(task, this.#needSource);
      // Its name is known now: slow start no longer holds it (it is decided again in its turn).
      if (!this.#learns(task)) this.#setDeferred(task, false);
      this.#refusedTooLarge(task);
    }
  }

  /** Under policy 'reject', a task arriving behind held ones is refused at once under pressure. */
  #refusedBehindHeld(task: Task): boolean {
    const decision = decide(this.#gateInput(task));
    return decision.kind === 'pressure' && this.#underPressure(task, decision) === 'settled';
  }

  #hold(task: Task): void {
    // A need that can never fit is refused, never held (a task decided at once met the gate's own check).
    if (this.#refusedTooLarge(task)) return;
    // As in Piscina, the slots of workers being started that no task has claimed yet count as room.
    if (this.#held.size >= this.#settings.maxQueue && this.#held.size >= this.#settings.maxQueue + this.#pendingCapacity() + this.#deferredSlots(task) && !(task.deferred && this.#canStartForDeferred())) {
      const waitsFor = task.lastPressure ? 'memory' : this.#learns(task) && !this.#slowStart.mayStart(task.learnAs, Date.now()) ? 'slow start' : 'a worker';
      this.#settle(task, 'rejected.queueFull', new QueueFullError(this.#settings.maxQueue, waitsFor));
      return;
    }
    this.#held.push(task);
    task.heldAt = performance.now();
    if (task.deferred) {
      this.#countDeferred(task, 1);
      this.#startForDeferred();
    }
    this.#counters.held++;
    // Why it waits: its own pressure, else the memory the head waits for (it waits behind it), else its turn.
    this.#counters.heldBy[task.lastPressure?.scope ?? (this.#held.blockedByMemory ? this.#blockedBy?.scope : undefined) ?? 'busy']++;
    if (this.listenerCount('hold') > 0) this.emit('hold', { name: task.name, need: task.heap, external: task.external, scope: task.lastPressure?.scope });
    if (holdChannel.hasSubscribers) holdChannel.publish({ pool: this, taskId: task.id, name: task.name, need: task.heap, external: task.external, scope: task.lastPressure?.scope } satisfies HoldMessage);
    this.#updatePolling();
  }

  /**
   * Decides the held tasks in order until one has to stay held; behind that one, while it may be
   * overtaken (`#mayOvertake`), up to {@link OVERTAKE_LOOKAHEAD} more, any of which may start.
   * Stops as soon as the gate could only answer `busy`. Not re-entrant.
   */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (this.#paused) {
      this.#pumpReadmits();
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        let decided = false;
        let blocked = false;
        let lookedBehind = 0;
        for (const task of this.#held) {
          if (decided && this.#onlyBusy()) break;
          decided = true;
          if (blocked && ++lookedBehind > OVERTAKE_LOOKAHEAD) break;
          if (this.#tryStart(task) !== 'hold') continue;
          if (blocked) continue;
          blocked = true;
          if (!this.#mayOvertake(task)) break;
        }
        if (!blocked) this.#overtaken = undefined;
      } while (this.#pumpAgain && this.#held.size > 0 && !this.#paused);
    } finally {
      this.#pumping = false;
    }
    this.#startForDeferred();
    this.#updateMemoryWanted();
    this.#updatePolling();
  }

  /** While paused: only tasks admitted before the pause and taken back unrun (withdrawn spawns) may start. */
  #pumpReadmits(): void {
    for (const task of this.#held) {
      if (task.readmit && this.#tryStart(task) === 'hold') break;
    }
    this.#updatePolling();
  }

  /**
   * The starvation rule. Tasks behind a head that cannot start may start before it for
   * `overtakeMs` from when it was first found unable to start; after that, nothing overtakes it,
   * so what finishing tasks free goes to it. Once no task of the pool runs and it still cannot
   * start (only memory outside the pool's tasks, or a worker being started, stands in its way),
   * holding the others back frees nothing more for it: a new window opens. So the head waits for
   * at most the tasks running when its window closed, and smaller tasks wait for at most the head
   * or those same tasks, plus one window.
   */
  #mayOvertake(head: Task): boolean {
    const overtakeMs = this.#settings.overtakeMs;
    if (overtakeMs <= 0) return false;
    const now = performance.now();
    if (this.#overtaken !== head) {
      this.#overtaken = head;
      this.#overtakeSince = now;
      return true;
    }
    if (now - this.#overtakeSince < overtakeMs) return true;
    if (this.#active.size > 0) return false;
    this.#overtakeSince = now;
    return true;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(this.#pumpSoon);
  }

  #expire(task: Task): void {
    const error = new WaitTimeoutError(this.#held.waitedMs(task), task.name, task.lastPressure ?? this.#blockedBy);
    if (debug.enabled) debug(`task ${task.id}: ${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`);
    this.#settle(task, 'rejected.timeout', error);
  }

  #pressureError(decision: Extract<Decision, { kind: 'pressure' }>, task: Task): MemoryPressureError {
    return new MemoryPressureError({ scope: decision.scope, used: decision.used, limit: decision.limit, retryAfterMs: this.#settings.retryAfterMs, taskName: task.name, need: this.#needIn(decision.scope, task), ceiling: this.#water.high * decision.limit });
  }

  /** The task's need in `scope`, bytes: heap and off-heap in the process, its result's heap in the main isolate, heap in a worker. */
  #needIn(scope: Scope, task: Task): number {
    return scope === 'process' ? task.heap + task.external : scope === 'main' ? task.main : task.heap;
  }

  // ---- placement -------------------------------------------------------------------------------

  /**
   * The gate admitted `task`: charge it and send it to its worker (or one started for it).
   * `warm`: on its warm need (the worker it goes to is warm for it, or inherits from one that was).
   */
  #start(task: Task, target: number | 'spawn', warm = false): void {
    const wasHead = task.state === 'held' ? this.#held.head() === task : this.#held.size === 0;
    let heldFor = 0;
    if (task.state === 'held') {
      heldFor = this.#leaveHeld(task);
      // Held no more: the pool may have stopped needing a drain without any task settling.
      this.#checkDrain();
    }
    // The head's wait for memory ends when it starts; a task that overtakes it leaves it waiting.
    if (wasHead) {
      this.#held.setBlockedByMemory(false);
      this.#blockedBy = undefined;
    }
    task.state = 'running';
    task.learning = this.#learns(task);
    const measuredAlone = this.#measuredAlone(task);
    task.exclusive = this.#runsAlone(task, measuredAlone);
    if (measuredAlone) {
      if (this.#aloneRuns.size >= MAX_KEYED_NAMES) this.#aloneRuns.clear();
      this.#aloneRuns.set(task.learnAs, (this.#aloneRuns.get(task.learnAs) ?? 0) + 1);
    }
    if (task.estimate === 'declared' || task.estimate === 'learned') this.#largestAdmitted = Math.max(this.#largestAdmitted, task.heap + task.external);
    if (task.learning) this.#slowStart.began(task.learnAs, task);
    this.#active.add(task);
    this.#counters.admitted++;
    // Checked once the task counts as running: between the two it was neither held nor running.
    if (this.#queueWaiters.any) this.#queueWaiters.check();
    // Running tasks are polled: busy workers sampled, pressure flags kept up to date.
    if (!this.#pollTimer) this.#updatePolling();
    const worker = target === 'spawn' ? undefined : this.#workers.get(target);
    // A task that reserves nothing has no charge.
    // Admitted to reuse a worker's garbage in place: only on that worker (see `#inPlaceNeed`).
    const inPlace = warm && worker !== undefined && task.inPlace?.worker === worker ? task.inPlace : undefined;
    task.reusesGarbage = inPlace !== undefined;
    if (task.heap + task.main + task.external > 0) task.charge = this.#ledger.charge(task, undefined, warm ? (inPlace?.need ?? this.#warmNeed(task)) : undefined);
    if (warm && !worker) {
      task.warmSpawn = true;
      this.#workers.warmSpawnPending = true;
    }
    const clean = worker !== undefined && !task.reusesGarbage && this.#leftoversMatter(worker);
    const measure = task.learning || measuredAlone;
    const key = this.#keyFor(task, (this.#process && task.heap + task.external > 0 ? 1 : 0) | (task.external > 0 ? 2 : 0) | (measure ? 4 : 0) | (clean ? 8 : 0) | (task.reusesGarbage ? 16 : 0));
    try {
      if (worker) {
        this.#placeOn(task, worker);
        this.#dispatcher.place(task, worker, key);
      } else {
        const thread = this.#dispatcher.spawn(task, key);
        if (thread) this.#starting.add(thread);
      }
    } catch (error) {
      if (task.worker) {
        // Node could not clone its input or transfer list: nothing was sent.
        this.#leave(task, task.worker);
        this.#settle(task, ...this.#classify(task, error, task.worker, false));
        return;
      }
      // Piscina could not start a worker for it (Node refused the worker's options).
      this.#countFailedStart(error);
      this.#settle(task, 'rejected.workerStart', new WorkerStartError(this.#startFailures, error));
      return;
    }
    if (this.listenerCount('admit') > 0) this.emit('admit', { name: task.name, need: task.heap, external: task.external, worker: target });
    if (admitChannel.hasSubscribers) admitChannel.publish({ pool: this, taskId: task.id, name: task.name, need: task.heap, external: task.external, worker: target, heldMs: heldFor } satisfies AdmitMessage);
  }

  /** `task` goes onto `worker`: its order number there, the worker's count, the ledger's charge. */
  #placeOn(task: Task, worker: TrackedWorker): void {
    // The first task of a name placed where the allocator holds memory from its earlier runs reuses it.
    const warm = task.charge !== undefined && (task.reusesGarbage || this.#workers.isWarm(worker, task.learnAs, this.#warmSize(task)));
    this.#reaper.busy(worker);
    // Its wait ends, and its run begins, as it goes to a worker (for a spawn: once one is ready).
    if (this.#runTimes.recording) task.startedAt = this.#runTimes.started(task.submittedAt);
    task.worker = worker;
    task.order = ++worker.placed;
    worker.running++;
    if (task.exclusive) worker.exclusive++;
    if (task.signal !== undefined) worker.abortable++;
    worker.nudged = false;
    if (task.charge) this.#ledger.place(task.charge, worker);
    if (task.learning) this.#slowStart.placed(task.learnAs, task, Date.now(), this.#workers.publishedLevel(worker));
    task.warmRun = warm;
    if (warm) worker.warmTaken = true;
    this.#endWarmSpawn(task);
  }

  /** `task` no longer runs on `worker` (its answer came, or placing it failed). */
  #leave(task: Task, worker: TrackedWorker): void {
    worker.running--;
    if (task.exclusive) worker.exclusive--;
    if (task.signal !== undefined) worker.abortable--;
    if (task.warmRun) worker.warmTaken = false;
    worker.lastRun = undefined;
  }

  /** A task admitted warm as a spawn was placed, or ended: the next warm spawn may go. */
  #endWarmSpawn(task: Task): void {
    if (!task.warmSpawn) return;
    task.warmSpawn = false;
    this.#workers.warmSpawnPending = false;
  }

  /** The spawn came back unrun (its worker died starting, or it did not fit where offered). */
  #withdrawn(task: Task): void {
    if (task.state !== 'running') return;
    this.#active.delete(task);
    this.#endRun(task);
    task.charge = undefined;
    this.#counters.admitted--;
    this.#held.unshift(task);
    this.#checkDrain();
    task.readmit = true;
    task.heldAt = performance.now();
    // Held again (for a worker): counted as a hold, as the held-time histogram will count it.
    this.#counters.held++;
    this.#counters.heldBy.busy++;
    this.#schedulePump();
  }

  /** Whether the garbage `worker`'s tasks left is large beside the process's room (see {@link LEFTOVERS_ROOM_SHARE}). */
  #leftoversMatter(worker: TrackedWorker): boolean {
    if (!this.#process) return false;
    const leftovers = this.#workers.leftovers(worker);
    if (leftovers === 0) return false;
    // The level counts the leftovers (in use) and this task's own charge (made before placing it);
    // above the mark the room is negative and any leftovers matter.
    const reading = this.#process.peek();
    return leftovers >= LEFTOVERS_ROOM_SHARE * (this.#water.high * reading.limit - levelOf(reading));
  }

  /**
   * The task key for a task's export and module with flag bits (1 credit, 2 off-heap, 4 measure,
   * 8 clean, 16 reuse), made once per export, module and flags.
   */
  #keyFor(task: Pick<Task, 'name' | 'file' | 'learnAs'>, bits: number): string {
    let keys = this.#keys.get(task.learnAs);
    if (!keys) {
      if (this.#keys.size >= MAX_KEYED_NAMES) this.#keys.delete(this.#keys.keys().next().value as string);
      keys = [];
      this.#keys.set(task.learnAs, keys);
    }
    return (keys[bits] ??= taskKey(this.#poolId, task.name, { credit: (bits & 1) !== 0, offHeap: (bits & 2) !== 0, measure: (bits & 4) !== 0, clean: (bits & 8) !== 0, reuse: (bits & 16) !== 0 }, task.file));
  }

  // ---- settlement ------------------------------------------------------------------------------

  /** Piscina answered for a task that ran (or was sent): learn from it, settle it, decide again. */
  #answered(task: Task, failed: boolean, payload: unknown): void {
    // Settled by the pool meanwhile (destroyed, or aborted): nothing is left to do for it.
    if (task.state === 'settled') return;
    // A task's own error that cloning would have stripped comes as a result (see `worker/task-error.ts`).
    let thrownByTask = false;
    if (!failed && isTaskError(payload)) {
      failed = true;
      thrownByTask = true;
      payload = decodeTaskError(payload);
    }
    const worker = task.worker;
    if (worker) {
      this.#leave(task, worker);
      // A task waiting for a worker being started goes to this one if it can take it — not one
      // admitted on its warm need, which counts on the new worker's inherited memory.
      if (this.#dispatcher.spawning && !worker.retiring) this.#dispatcher.workerReady(worker, (spawn) => !spawn.warmSpawn && this.#workers.takes(worker, spawn.heap, spawn.exclusive));
    }
    if (!failed) {
      if (task.startedAt !== 0) this.#runTimes.ran(task.startedAt);
      if (worker) {
        const size = this.#learn(task, worker);
        if (size > worker.largestRun) worker.largestRun = size;
        // What it dropped is garbage the next run of its name there reuses (see `#inPlaceNeed`).
        if (task.charge) worker.lastRun = task.learnAs;
        this.#checkGarbageFreed(task, worker);
        // Only tasks that reserve are ever charged a warm need.
        if (task.charge && size > 0) this.#workers.ranOn(worker, task.learnAs, size);
      }
      // The freed worker gets its next task first; the finished one is settled right after (its
      // charge and learning run end now, so the decision sees them gone).
      if (task.state === 'running') {
        this.#endRun(task);
        this.#pump();
      }
      this.#settle(task, 'completed', payload);
      this.#updatePolling();
      return;
    }
    if (worker?.gone && !thrownByTask && !task.aborted && !task.signal?.aborted && this.#failedStart(worker)) {
      // Its worker died before it could run anything (counted as a failed start when it went).
      this.#lastStartError = payload;
      task.worker = undefined;
      this.#withdrawn(task);
      return;
    }
    if (task.startedAt !== 0) this.#runTimes.ran(task.startedAt);
    const [outcome, reason] = this.#classify(task, payload, worker, thrownByTask);
    this.#settle(task, outcome, reason);
    this.#pump();
  }

  /**
   * Records the task's measured growth when its worker measured this very run. Returns the run's
   * size for warmth (see `isWarmFor`): its declared need, else what it was measured to grow (a
   * learned need is a name's peak with a margin, not this run's size); 0 when unknown.
   */
  #learn(task: Task, worker: TrackedWorker): number {
    const declared = task.estimate === 'declared' ? task.heap + task.external : 0;
    if (this.#board.measuredOrder(worker.id) !== task.order) return declared;
    const measured = this.#board.readMeasure(worker.id);
    if (!measured || measured.order !== task.order) return declared;
    const grown = Number.isFinite(measured.heap) && Number.isFinite(measured.external) ? measured.heap + measured.external : 0;
    const size = declared > 0 ? declared : grown;
    // A run that started on its own name's garbage made resident what that garbage then freed: not a warm run's measure.
    if (task.warmRun && !task.reusesGarbage && size > 0) this.#warmFootprints.record(task.learnAs, measured.resident, size);
    if (!Number.isFinite(measured.heap)) return size;
    if (this.#estimates.record(task.learnAs, measured) && this.#held.size > 0) this.#relearnHeld(task.learnAs);
    return size;
  }

  /**
   * The size of a run of `task` as warm runs are measured: its declared need, or for a learned need
   * (a name's peak with a {@link LEARNED_MARGIN}) that peak without its margin.
   */
  #runSize(task: Task): number {
    const full = task.heap + task.external;
    return task.estimate === 'learned' ? full / LEARNED_MARGIN : full;
  }

  /**
   * The size a worker must have run a task's name at to be warm for it: its run size, less
   * {@link LEARNED_WARM_SHORTFALL} for a learned need (runs of one name differ by about that, and a
   * worker whose largest run fell short by that much would otherwise never count warm). The
   * shortfall is charged on top of the warm need (see {@link #warmNeed}): what a run larger than
   * the worker's largest makes resident anew is never more.
   */
  #warmSize(task: Task): number {
    const size = this.#runSize(task);
    return task.estimate === 'learned' ? size * (1 - LEARNED_WARM_SHORTFALL) : size;
  }

  /** The process bytes a warm run of `task` is charged: the warm fraction of its run size (plus the shortfall), or `undefined` before a warm run of its name was measured. */
  #warmNeed(task: Task): number | undefined {
    const size = this.#runSize(task);
    const need = this.#warmFootprints.need(task.learnAs, size);
    if (need === undefined) return undefined;
    return task.estimate === 'learned' ? Math.ceil(need + size * LEARNED_WARM_SHORTFALL) : need;
  }

  /** `thrownByTask`: the error came from the task's own code (an envelope), not from Piscina. */
  #classify(task: Task, error: unknown, worker: TrackedWorker | undefined, thrownByTask: boolean): [Outcome, unknown] {
    if (task.aborted || task.signal?.aborted) return ['rejected.aborted', new AbortError(task.signal?.reason)];
    if (this.#destroyed) return ['rejected.closed', new PoolClosedError('destroyed', 'the pool was destroyed while the task was running')];
    if (thrownByTask) return ['failed', error];
    if (error instanceof ResultNotSent) return ['failed', new TaskResultError(task.name, error.message)];
    // Piscina could not post it (Node's structured clone refused the input or transferList).
    if (error instanceof DOMException && error.name === 'DataCloneError') return ['rejected.input', new TaskInputError(task.name, error)];
    const code = (error as { code?: unknown } | null)?.code;
    if (worker?.stopReason === 'guarded') return ['rejected.pressure', this.#guardedError(task, worker, error)];
    if (worker?.gone || code === 'ERR_WORKER_OUT_OF_MEMORY') {
      const why = worker?.stopReason === 'task-aborted' ? new Error('the worker was stopped because another task running on it was aborted', { cause: error }) : error;
      return ['crashed', new WorkerCrashError(task.name, worker?.id, why)];
    }
    return ['failed', error];
  }

  /** Settles a task once: counts its outcome, releases its charge, and resolves or rejects it. */
  #settle(task: Task, outcome: Outcome, result: unknown): void {
    if (task.state === 'settled') return;
    const wasHeld = task.state === 'held';
    // It ran and ended (Piscina counts it in `completed`).
    if (outcome === 'rejected.aborted' && task.state === 'running' && task.worker !== undefined) this.#abortedRunning++;
    const heldFor = wasHeld ? this.#leaveHeld(task) : 0;
    task.state = 'settled';
    task.unlisten?.();
    this.#active.delete(task);
    this.#endRun(task);
    this.#count(outcome, result);
    if (outcome === 'completed') task.resolve(result);
    else {
      task.reject(result);
      if (outcome.startsWith('rejected.')) {
        if (this.listenerCount('reject') > 0) this.emit('reject', result as never);
        if (rejectChannel.hasSubscribers) rejectChannel.publish({ pool: this, taskId: task.id, name: task.name, error: result as HeapgateError, heldMs: heldFor } satisfies RejectMessage);
      }
    }
    if (settleChannel.hasSubscribers) settleChannel.publish({ pool: this, taskId: task.id, name: task.name, outcome, value: result } satisfies SettleMessage);
    if (this.#held.size === 0 && this.#active.size === 0) this.#notifyDrained();
    if (this.#queueWaiters.any) this.#queueWaiters.check();
    this.#checkDrain();
    // A held task that leaves unrun (cleared, aborted, timed out) may have been keeping idle workers,
    // and the poll timer that keeps the process alive while tasks are held.
    if (wasHeld) this.#updatePolling();
  }

  /** The task's run is over: its charge is released and its name is no longer being learned (both once). */
  #endRun(task: Task): void {
    this.#endWarmSpawn(task);
    if (task.charge) this.#ledger.release(task.charge);
    if (task.learning) this.#slowStart.ended(task.learnAs, task);
    task.learning = false;
  }

  /** Takes a held task out of the held queue; returns how long it was there, ms (recorded in `heldTime`). */
  #leaveHeld(task: Task): number {
    this.#held.delete(task);
    if (task.deferred) {
      task.deferred = false;
      this.#countDeferred(task, -1);
    }
    const ms = task.heldAt < 0 ? 0 : performance.now() - task.heldAt;
    this.#heldTime.record(ms);
    return ms;
  }

  #count(outcome: Outcome, result: unknown): void {
    this.#counters.settled++;
    if (outcome === 'completed' || outcome === 'failed' || outcome === 'crashed') this.#counters[outcome]++;
    else this.#counters.rejected[outcome.slice('rejected.'.length) as keyof CounterSnapshot['rejected']]++;
    if (outcome === 'rejected.pressure') this.#counters.pressureBy[(result as MemoryPressureError).scope]++;
  }

  #listenForAbort(task: Task): void {
    const signal = task.signal as AbortSource;
    const onAbort = (): void => {
      if (task.state === 'held' || task.state === 'new') {
        this.#settle(task, 'rejected.aborted', new AbortError(signal.reason));
      } else if (task.state === 'running') {
        task.aborted = true;
        const worker = task.worker;
        if (worker) {
          // As in Piscina: the task ends now, and the worker it runs on is stopped (an abortable
          // task runs alone on its worker).
          if (!worker.port.cancel(task.order)) return;
          if (!worker.retiring) this.#workers.retire(worker, 'task-aborted');
          this.#answered(task, true, new AbortError(signal.reason));
        } else if (this.#dispatcher.forgetSpawn(task)) {
          this.#answered(task, true, new AbortError(signal.reason));
        }
      }
    };
    if ('addEventListener' in signal && typeof signal.addEventListener === 'function') {
      const target = signal;
      target.addEventListener('abort', onAbort, { once: true });
      task.unlisten = () => target.removeEventListener?.('abort', onAbort);
    } else if ('once' in signal) {
      const emitter = signal;
      emitter.once('abort', onAbort);
      task.unlisten = () => emitter.removeListener?.('abort', onAbort);
    }
  }

  // ---- workers, polling, shutdown ----------------------------------------------------------------

  #onWorkerCreate(id: number): void {
    const thread = this.#piscina.threads.find((candidate) => candidate.threadId === id);
    const added = thread ? this.#workers.add(thread) : undefined;
    if (thread) this.#starting.delete(thread);
    this.#startFailures = 0;
    // A worker Piscina started (not one of its first, tracked from the constructor) takes a spawn.
    if (added) {
      // Piscina counts it among its ready workers once its announcement is over.
      queueMicrotask(() => this.#dispatcher.connect(added));
      this.#dispatcher.workerReady(added);
    }
    this.#schedulePump();
  }

  #onWorkerDestroy(id: number): void {
    const removed = this.#workers.remove(id);
    if (removed.length === 0) {
      // A worker that died before it was ready (its thread id reads -1 once it has exited).
      let forHeld = false;
      for (const thread of this.#starting) {
        if (thread.threadId !== id && thread.threadId >= 0) continue;
        this.#starting.delete(thread);
        if (this.#startingForHeld.has(thread)) forHeld = true;
      }
      // A worker that never became ready: its board slot, if its runtime claimed one, is freed
      // when its thread ends (no record of it holds that duty).
      if (id >= 0) this.#workers.releaseOnExit(this.#piscina.threads.find((thread) => thread.threadId === id));
      // If it was started for the spawn, the spawn comes back; a worker started for tasks held
      // by slow start failed too (both bound the starts: see `#canSpawn`).
      if ((this.#dispatcher.spawning || forHeld) && !this.#shutDown && !this.#destroyed) {
        this.#countFailedStart();
        if (forHeld) this.#schedulePump();
        else this.#dispatcher.withdrawSpawn();
      }
      return;
    }
    for (const worker of removed) {
      // What it was sent fails a microtask later (as a rejection by Piscina would), after this
      // worker's removal is complete. Its crash is then its tasks' to report: Piscina, which saw
      // no task of its own there, reports it as the pool's 'error' right after this.
      if (worker.port.pending > 0 && worker.crashError !== undefined) {
        // Bounded: should Piscina not report one (it had a message of the pool's in flight there).
        if (this.#claimedErrors.size >= 16) this.#claimedErrors.clear();
        this.#claimedErrors.add(worker.crashError);
      }
      queueMicrotask(() => this.#workers.failSent(worker));
      if (this.#failedStart(worker)) {
        // Ready to Piscina (a worker it started at construction counts as ready at once) but dead
        // before the pool's runtime ran in it: a failed start; the tasks sent to it come back.
        this.#countFailedStart();
        continue;
      }
      if (worker.stopReason === 'crashed' && !this.#destroyed) this.#counters.workerCrashes++;
      if (worker.stopReason !== 'recycled' && !this.#destroyed && !this.#closeCalled && this.listenerCount('workerExit') > 0) this.emit('workerExit', { threadId: worker.id });
    }
    this.#schedulePump();
  }

  /** A worker could not be started or died starting: failed starts in a row bound the starts (see `#canSpawn`); `error`, when known, is what the next refused task is told. */
  #countFailedStart(error?: unknown): void {
    this.#startFailures++;
    this.#counters.startFailures++;
    if (error !== undefined) this.#lastStartError = error;
  }

  /**
   * Whether `worker`, gone, died starting: before the pool's runtime ran in it, not stopped by the
   * pool (recycled, reaped, or its task aborted), and not while the pool shuts its workers down.
   */
  #failedStart(worker: TrackedWorker): boolean {
    return !this.#shutDown && !this.#destroyed && !worker.retiring && worker.stopReason !== 'task-aborted' && !this.#workers.ranRuntime(worker);
  }

  /**
   * Polls while tasks are held or running. A pool that goes idle keeps its timer, unref'd, until
   * the next tick finds it still idle (see `#poll`): one task at a time would otherwise start and
   * stop a timer per task.
   */
  #updatePolling(): void {
    // After shutdown nothing is polled again (workers exiting still pump).
    if (this.#destroyed || this.#shutDown) return;
    this.#reaper.update();
    if (!this.#pollTimer) {
      if (this.#held.size === 0 && this.#active.size === 0 && !this.#anyPressure()) return;
      this.#pollTimer = setInterval(() => this.#poll(), this.#settings.pollIntervalMs);
      this.#pollRefed = true;
    }
    // Held tasks keep the process alive until they settle; running ones are kept by Piscina.
    if (this.#pollRefed !== this.#held.size > 0) {
      this.#pollRefed = this.#held.size > 0;
      if (this.#pollRefed) this.#pollTimer.ref();
      else this.#pollTimer.unref();
    }
  }

  #poll(): void {
    const idle = this.#held.size === 0 && this.#active.size === 0;
    if (idle && !this.#anyPressure()) {
      clearInterval(this.#pollTimer);
      this.#pollTimer = undefined;
      return;
    }
    const now = performance.now();
    this.#process?.monitor.refreshLimit(now);
    this.#process?.monitor.refreshCounters(now, COUNTERS_REFRESH_MS);
    // With nothing held there is nothing to decide: the scopes are read anyway, so that their
    // pressure flags (`stats()`, a readiness route) follow memory as tasks grow it or free it,
    // with no task coming to be decided.
    if (this.#held.size === 0) {
      this.#main.reading(0);
      this.#process?.reading(0);
      this.#workers.readings();
    }
    if (idle) {
      // Still polled for a scope under pressure, but no task holds the process open any more.
      this.#updatePolling();
      return;
    }
    this.#workers.sampleBusy();
    if (this.#guard() && !this.#guardTimer) {
      this.#guardTimer = setInterval(() => {
        if (this.#guard()) return;
        clearInterval(this.#guardTimer);
        this.#guardTimer = undefined;
      }, GUARD_POLL_MS).unref();
    }
    this.#slowStart.observe(Date.now(), (task, since) => (task.worker ? this.#workers.memoryLevel(task.worker, since) : undefined));
    this.#pump();
  }

  /**
   * The last guard, for needs that do not hold (a learned need below what a run grows, a declared
   * one too small): with two or more of the pool's tasks running and the process's non-reclaimable
   * memory past half the room above the high mark, the worker whose task has made the most
   * resident beyond what it reserved (at least {@link GUARD_MIN_EXCESS} and a quarter of it) is
   * stopped — only a worker running one task of the pool and no warm run (a shared worker's growth
   * is no one task's), one at a time, the next only after the last one's thread ended —, so that
   * the others and the process live: its task ends with `MemoryPressureError`
   * (not now), and its name's need is raised to what it had grown. A task running alone (on the
   * workers not being stopped) is never stopped: that would save nothing else. Returns whether the process is above its
   * high mark with tasks running (the guard keeps looking every {@link GUARD_POLL_MS} ms then).
   */
  #guard(): boolean {
    const process = this.#process;
    if (!process || this.#destroyed || this.#shutDown || this.#active.size < 2) return false;
    // The pool's tasks (not nudges) on each worker not being stopped.
    const tasksOn = new Map<TrackedWorker, number>();
    for (const task of this.#active) if (task.worker && !task.worker.retiring) tasksOn.set(task.worker, (tasksOn.get(task.worker) ?? 0) + 1);
    let running = 0;
    for (const count of tasksOn.values()) running += count;
    if (running < 2) return false;
    const now = performance.now();
    const limit = process.monitor.limit;
    const live = process.monitor.live(now, process.monitor.used(now));
    const high = this.#water.high;
    // One stop at a time (the memory of a stopped worker comes back only as its thread ends), unless
    // the process keeps growing towards the limit meanwhile.
    if (this.#guardStopping && !(live >= (high + (1 - high) * GUARD_URGENT_SHARE) * limit && live >= this.#guardStopLive + GUARD_MIN_EXCESS)) return true;
    if (live < high * limit) return false;
    if (live < (high + (1 - high) * GUARD_ROOM_SHARE) * limit) return true;
    // A worker running one task of the pool, nothing else (its growth is that task's), while others run elsewhere.
    const over = this.#workers.overrunner(GUARD_MIN_EXCESS, (worker) => tasksOn.get(worker) === 1 && worker.running === 1);
    if (!over) return true;
    this.#guarded.set(over.worker, { used: live, limit, grown: over.grown });
    if (debug.enabled) debug(`stopping worker ${over.worker.id}: its task grew ${(over.excess / MiB).toFixed(1)} MiB beyond what it reserved, with the process at ${(live / MiB).toFixed(1)} of ${(limit / MiB).toFixed(1)} MiB`);
    this.#counters.guarded++;
    this.#workers.retire(over.worker, 'guarded');
    const stopping = over.worker;
    this.#guardStopping = stopping;
    this.#guardStopLive = live;
    whenThreadEnds(stopping.thread, GUARD_EXIT_WAIT_MS, () => {
      if (this.#guardStopping === stopping) this.#guardStopping = undefined;
      // What the thread held is gone from the readings only once they are read again.
      this.#process?.monitor.forgetLive();
    });
    return true;
  }

  /** What a task the guard stopped ends with; its name's need is raised to what it had grown. */
  #guardedError(task: Task, worker: TrackedWorker, error: unknown): MemoryPressureError {
    const at = this.#guarded.get(worker);
    const grown = at?.grown ?? { heap: 0, external: 0 };
    if (task.estimate !== 'declared' && this.#estimates.record(task.learnAs, grown) && this.#held.size > 0) this.#relearnHeld(task.learnAs);
    const used = at?.used ?? 0;
    const limit = at?.limit ?? 0;
    return new MemoryPressureError({
      scope: 'process',
      used,
      limit,
      retryAfterMs: this.#settings.retryAfterMs,
      taskName: task.name,
      need: grown.heap + grown.external,
      ceiling: this.#water.high * limit,
      cause: new Error(`the task was stopped while running: its worker had grown beyond what its tasks reserved, with the process at ${(used / MiB).toFixed(1)} of ${(limit / MiB).toFixed(1)} MiB`, { cause: error }),
    });
  }

  /** A scope entered or left pressure: the `'pressure'` event and channel. */
  #pressure(info: GatedPoolEvents['pressure'][0]): void {
    if (info.underPressure) this.#updatePolling();
    this.#updateMemoryWanted();
    this.emit('pressure', info);
    if (pressureChannel.hasSubscribers) pressureChannel.publish({ pool: this, ...info } satisfies PressureMessage);
  }

  /** Whether any scope was under pressure at its last reading. */
  #anyPressure(): boolean {
    return this.#main.underPressure || this.#process?.underPressure === true || this.#workers.anyUnderPressure();
  }

  /**
   * Tells the workers whether memory is wanted (see `Board.memoryWanted`): then a worker collects
   * the garbage earlier tasks left before a task starts there or while one awaits, and idle workers
   * holding garbage are asked to collect it (a nudge, once per task they ran; not in the middle of
   * a decision, whose worker readings it would change: the pump's end asks again) — all but the
   * worker whose garbage the head would reuse in place when collecting it would not let the head
   * in either, while tasks run (see `#collectingHelps`). Otherwise V8 collects it as the workers
   * allocate again. Wanted while the
   * head of the queue would not fit the process or a worker (whether or not it also waits for a
   * worker), for `retryAfterMs` after a task was refused such room or a consumer asked for it
   * (`relievePressure`), and while either scope is under pressure. The main isolate's memory is
   * not the workers' garbage.
   */
  #updateMemoryWanted(): void {
    const waitsFor = this.#held.head()?.waitsForMemory;
    const wanted =
      // the head waits for room outside the main isolate
      (waitsFor !== undefined && waitsFor !== 'main') ||
      // room was refused or asked for lately
      (this.#memoryAskedAt > 0 && performance.now() - this.#memoryAskedAt < this.#settings.retryAfterMs) ||
      // a scope is under pressure
      this.#process?.underPressure === true ||
      this.#workers.anyUnderPressure();
    if (this.#board.memoryWanted !== wanted) this.#board.memoryWanted = wanted;
    if (wanted && !this.#shutDown && !this.#deciding) this.#hygiene.collectIdle(this.#active.size > 0 ? this.#held.head()?.sparedGarbage : undefined);
  }

  /** A task was refused room in the process or a worker, or a consumer asked for it: memory is wanted for a while. */
  #memoryAsked(): void {
    this.#memoryAskedAt = performance.now();
    this.#updateMemoryWanted();
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const done of waiters) done();
  }

  #shutdown(): void {
    this.#shutDown = true;
    this.#reaper.stop();
    clearInterval(this.#guardTimer);
    this.#guardTimer = undefined;
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#stopMainListener();
    this.#process?.monitor.close();
    this.#held.close();
    setEnvironmentData(settingsKey(this.#poolId), undefined);
  }
}
