/**
 * GatedPool: a queue in front, Piscina behind, and the dispatch loop between them.
 *
 * Data flows one way: `run()` → held queue → the gate decides on the latest readings → Piscina
 * (our balancer puts the task on the worker the gate chose) → the worker wrapper runs it and
 * publishes readings → result back → reservations released → the gate re-evaluates held tasks.
 *
 * Piscina cannot hold a task safely (a balancer that returns `null` requeues it until some worker
 * frees up), so tasks wait here, not inside Piscina — except the few the dispatcher parks there:
 * one sent to a worker being started for it, or up to two waiting ahead for the next free worker
 * (see `pool/dispatcher.ts`).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { actionFor, decide, measuredLevel, scopesFit, type Decision, type GateInput } from './gate.js';
import { AbortError, HeapgateError, MemoryPressureError, PoolClosedError, QueueFullError, TaskTooLargeError, WaitTimeoutError, WorkerCrashError, type Scope } from './errors.js';
import { validatePoolOptions, validateRunOptions, type GateSettings, type GatedPoolOptions, type RunOptions } from './options.js';
import { Board } from './readings/board.js';
import { isolateTracker } from './readings/isolate.js';
import { ProcessMonitor } from './readings/process.js';
import { MainScope, ProcessScope } from './pool/scopes.js';
import { WorkerRegistry, type TrackedWorker } from './pool/workers.js';
import { TaskCounters, type PoolStats } from './pool/stats.js';
import { HeldQueue } from './pool/held-queue.js';
import { createTask, learnNeed, type NeedSource, type Task } from './pool/task.js';
import type { GatedPoolEvents } from './pool/events.js';
import { Estimates } from './pool/estimates.js';
import { Dispatcher, type DispatchTarget } from './pool/dispatcher.js';
import type { ParkedFor } from './pool/parking.js';
import { WorkerHygiene } from './pool/hygiene.js';
import { defaultWorkerLimits } from './pool/worker-limits.js';
import type { ResultEnvelope } from './pool/envelope.js';

const WRAPPER = new URL('./worker.js', import.meta.url).href;
/** Least time between two reads of the cgroup's memory.stat (or RSS). */
const STAT_REFRESH_MS = 100;
/**
 * Least time between two reads of the cgroup's usage: decisions within one millisecond share a
 * read. What a millisecond's staleness can hide is what the process writes in that time (measured:
 * 1–2 MiB per thread filling heap objects); admitted tasks' reservations count meanwhile.
 */
const USAGE_REFRESH_MS = 1;
/** Least time between two re-reads of the container limit. */
const LIMIT_REFRESH_MS = 5000;

/**
 * A worker-thread pool (Piscina) with a memory-aware admission gate in front of it.
 *
 * @typeParam I - the task input type.
 * @typeParam O - the task result type.
 */
export class GatedPool<I = unknown, O = unknown> extends EventEmitter<GatedPoolEvents> {
  readonly #settings: GateSettings;
  readonly #piscina: Piscina;
  readonly #board: Board;
  readonly #workers: WorkerRegistry;
  readonly #main: MainScope;
  readonly #process: ProcessScope | undefined;
  readonly #stopMainListener: () => void;
  readonly #counters = new TaskCounters();
  readonly #estimates = new Estimates();
  readonly #hygiene: WorkerHygiene;
  readonly #held: HeldQueue;
  /** Tasks admitted (sent to Piscina) and not settled yet. */
  readonly #active = new Set<Task>();
  readonly #dispatcher: Dispatcher;
  #pumping = false;
  readonly #pumpSoon = (): void => this.#pump();
  #pollTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #destroyed = false;
  #drainWaiters: (() => void)[] = [];

  readonly #needSource: NeedSource;

  /** Creates the pool. Throws a `TypeError`/`RangeError` naming any option that is wrong. */
  constructor(options: GatedPoolOptions) {
    const { gate, piscina } = validatePoolOptions(options);
    super();
    this.#settings = gate;
    this.#needSource = { defaultName: gate.name, reservations: gate.reservations, learned: (name) => this.#estimates.need(name) };
    this.#held = new HeldQueue(
      gate.maxWaitMs,
      (task) => this.#expire(task),
      (task) => this.#settleError(task, new AbortError(task.signal?.reason)),
    );
    const water = { high: gate.highWater, low: gate.lowWater };
    const tracker = isolateTracker();
    this.#main = new MainScope(tracker, water, (underPressure, level, limit) => this.emit('pressure', { scope: 'main', threadId: undefined, underPressure, level, limit }));
    if (gate.memoryLimit !== false) {
      const monitor = new ProcessMonitor({ memoryLimit: gate.memoryLimit, cgroupRoot: gate.cgroupRoot, statRefreshMs: STAT_REFRESH_MS, usageRefreshMs: USAGE_REFRESH_MS, limitRefreshMs: LIMIT_REFRESH_MS });
      this.#process = new ProcessScope(
        monitor,
        water,
        (underPressure, level, limit) => this.emit('pressure', { scope: 'process', threadId: undefined, underPressure, level, limit }),
        () => this.#workers.materialized(),
      );
      if (monitor.source !== 'system') piscina.resourceLimits = defaultWorkerLimits(piscina, monitor.limit);
    }
    this.#piscina = new Piscina({
      ...piscina,
      filename: WRAPPER,
      name: 'default',
      loadBalancer: (task, workers) => this.#dispatcher.balance(task, workers) as (typeof workers)[number] | null,
    });
    this.#board = new Board(this.#piscina.maxThreads * 2 + 2);
    const askedMb = piscina.resourceLimits?.maxOldGenerationSizeMb ?? 0;
    const fallbackLimit = askedMb > 0 ? askedMb * 2 ** 20 : tracker.limit;
    this.#workers = new WorkerRegistry(this.#board, water, gate.concurrentTasksPerWorker, fallbackLimit, {
      onExit: (worker) => this.#onWorkerExit(worker),
      onPressure: (worker, reading) => this.emit('pressure', { scope: 'worker', threadId: worker.id, underPressure: reading.underPressure, level: measuredLevel(reading), limit: reading.limit }),
      onSample: () => this.#schedulePump(),
    });
    this.#dispatcher = new Dispatcher(
      this.#piscina,
      this.#board,
      this.#workers,
      { filename: gate.filename, highWater: gate.highWater, maxWaitMs: gate.maxWaitMs, concurrentTasksPerWorker: gate.concurrentTasksPerWorker, processWatched: this.#process !== undefined },
      {
        placed: (task, workerId, parkedFor) => this.#placed(task, workerId, parkedFor),
        answered: (task, error, value) => this.#finish(task, error, value),
        relearn: (task) => this.#relearn(task),
      },
    );
    this.#hygiene = new WorkerHygiene(this.#workers, {
      collect: (worker) => this.#dispatcher.nudge(worker),
      onNudge: (worker) => {
        this.#counters.nudges++;
        this.emit('nudge', { threadId: worker.id });
      },
      onRecycle: (worker, live, limit) => {
        this.#counters.recycled++;
        this.emit('recycle', { threadId: worker.id, live, limit });
      },
      onAnswer: () => queueMicrotask(this.#pumpSoon),
    });
    for (const thread of this.#piscina.threads) this.#workers.add(thread);
    this.#piscina.on('workerCreate', (view: { id: number }) => this.#onWorkerCreate(view));
    this.#piscina.on('error', (error: Error) => this.emit('workerError', error));
    this.#stopMainListener = tracker.onMajorGc(() => this.#schedulePump());
  }

  /**
   * Submits a task. It runs when the gate admits it; it settles exactly once: with the task's
   * result, the task's own error, or a typed heapgate error (see the README's errors table).
   */
  run(input: I, options?: RunOptions): Promise<O> {
    let opts: RunOptions;
    try {
      opts = validateRunOptions(options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const { promise, resolve, reject } = Promise.withResolvers<O>();
    const task = createTask(input, opts, this.#needSource, resolve as (value: unknown) => void, reject);
    this.#counters.submitted++;
    if (this.#closing || this.#destroyed) {
      this.#settleError(task, new PoolClosedError());
    } else if (task.signal?.aborted) {
      this.#settleError(task, new AbortError(task.signal.reason));
    } else if (this.#held.size === 0) {
      if (!this.#tryStart(task)) this.#hold(task);
    } else if (this.#settings.policy === 'reject' && this.#rejectIfPressure(task)) {
      // rejected at once
    } else {
      this.#hold(task);
    }
    return promise;
  }

  /** A snapshot of every reading, reservation, queue and counter. */
  stats(): PoolStats {
    return {
      main: { ...this.#main.reading(Infinity), external: this.#main.tracker.snapshot().external, majorGcs: this.#main.tracker.majorGcs },
      process: this.#process?.stats(),
      workers: this.#workers.stats(),
      held: this.#held.size + this.#dispatcher.waitingAhead,
      running: this.#active.size - this.#dispatcher.waitingAhead,
      maxQueue: this.#settings.maxQueue,
      policy: this.#settings.policy,
      counters: this.#counters.snapshot(),
      estimates: this.#estimates.snapshot(),
    };
  }

  /** Stops taking tasks, finishes admitted and held work, then closes the workers. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#held.size > 0 || this.#active.size > 0) await new Promise<void>((done) => this.#drainWaiters.push(done));
      this.#shutdown();
      await this.#piscina.close();
    })();
    return this.#closing;
  }

  /** Rejects held tasks with `PoolClosedError`, stops running ones, and terminates the workers. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const task of [...this.#held]) this.#settleError(task, new PoolClosedError('the pool was destroyed while the task was held'));
    // Running tasks are settled here, not left to Piscina's termination errors, so that they
    // settle at once whatever the workers are doing; Piscina's later rejections find them settled.
    for (const task of [...this.#active]) this.#finish(task, new PoolClosedError('the pool was destroyed while the task was running'), undefined);
    this.#shutdown();
    await this.#piscina.destroy();
    this.#notifyDrained();
  }

  // ---- admission -------------------------------------------------------------------------------

  #gateInput({ need, mainNeed, external }: Task): GateInput {
    return {
      need,
      mainNeed,
      external,
      water: { high: this.#settings.highWater, low: this.#settings.lowWater },
      main: this.#main.reading(mainNeed),
      process: this.#process?.reading(need + external),
      workers: this.#workers.readings(),
      canSpawn: this.#dispatcher.canSpawn(),
      queuedAhead: this.#dispatcher.waitingAhead > 0,
      workerLimit: this.#workers.largestLimit() || this.#main.tracker.limit,
    };
  }

  /**
   * Whether a task the gate answered `busy` for can be handed to Piscina now, to start on the next
   * worker that frees: there is room ahead (nothing parked for a spawn, fewer than the limit waiting
   * ahead, nothing Piscina queued unseen), workers exist and every one is busy (a free one that does
   * not fit is the held queue's to tend), and the process and main isolate can take it now (its
   * memory is reserved from here on). Piscina then starts it from its response handler the moment
   * a worker frees, as it does its own queued tasks, without a round trip through the gate; the
   * balancer still chooses the worker and checks that the task fits there.
   */
  #canSendAhead(task: Task, input: GateInput): boolean {
    if (!this.#dispatcher.roomAhead() || input.workers.length === 0 || input.workers.some((worker) => worker.free) || !scopesFit(input)) return false;
    // One that was not held yet must have room in the queue, as it would if it were held.
    return task.state === 'held' || this.#held.size + this.#dispatcher.waitingAhead < this.#settings.maxQueue;
  }

  /** Starts the task if the gate admits it, or settles it if the gate refuses for good. False: keep it held. */
  #tryStart(task: Task): boolean {
    if (task.state === 'held') learnNeed(task, this.#needSource);
    const input = this.#gateInput(task);
    const decision = decide(input);
    const blockedByWorkers = decision.kind === 'busy' || (decision.kind === 'pressure' && decision.scope === 'worker');
    if (blockedByWorkers && this.#hygiene.tend(task.need)) return false;
    if (decision.kind === 'busy' && this.#canSendAhead(task, input)) {
      this.#start(task, 'next');
      return true;
    }
    const action = actionFor(decision, this.#settings.policy);
    if (action === 'start' && decision.kind === 'admit') this.#start(task, decision.worker);
    else if (action === 'reject') this.#refuse(task, decision);
    else if (decision.kind === 'pressure') task.lastPressure = this.#pressureError(decision, task);
    return action !== 'hold';
  }

  /** Settles a task the gate refused: too large for good, or pressure under policy 'reject'. */
  #refuse(task: Task, decision: Decision): void {
    if (decision.kind === 'too-large') {
      this.#counters.rejected.tooLarge++;
      this.#settleError(task, new TaskTooLargeError(decision.scope, decision.need, decision.capacity));
    } else if (decision.kind === 'pressure') {
      this.#counters.rejected.pressure++;
      this.#settleError(task, this.#pressureError(decision, task));
    }
  }

  /** Under policy 'reject' a task that arrives behind held (busy-waiting) ones is refused at once under pressure. */
  #rejectIfPressure(task: Task): boolean {
    const decision = decide(this.#gateInput(task));
    if (decision.kind !== 'pressure' && decision.kind !== 'too-large') return false;
    // As at the head of the queue: idle workers that block it are tended, and while that may make
    // room soon the task waits instead of being refused. (Without it, leaky workers under
    // 'reject' were sometimes never recycled in a run, and every later task was refused.)
    if (decision.kind === 'pressure' && decision.scope === 'worker' && this.#hygiene.tend(task.need)) return false;
    this.#refuse(task, decision);
    return true;
  }

  /** A task waited `maxWaitMs` without starting. */
  #expire(task: Task): void {
    this.#counters.rejected.timeout++;
    this.#settleError(task, new WaitTimeoutError(performance.now() - task.submittedAt, task.name, task.lastPressure));
  }

  #pressureError(decision: Extract<Decision, { kind: 'pressure' }>, task: Task): MemoryPressureError {
    return new MemoryPressureError({ scope: decision.scope, used: decision.used, limit: decision.limit, retryAfterMs: this.#settings.retryAfterMs, taskName: task.name });
  }

  #hold(task: Task): void {
    if (this.#held.size + this.#dispatcher.waitingAhead >= this.#settings.maxQueue) {
      this.#counters.rejected.queueFull++;
      this.#settleError(task, new QueueFullError(this.#settings.maxQueue));
      return;
    }
    this.#held.push(task);
    this.#countHold(task, task.lastPressure?.scope);
    this.#updatePolling();
  }

  /** The dispatch loop: admits held tasks in order while the gate allows (tending blocking workers on the way). */
  #pump(): void {
    if (this.#pumping || this.#destroyed) return;
    this.#pumping = true;
    try {
      for (const task of this.#held) {
        if (this.#nothingCanStart()) break;
        if (!this.#tryStart(task)) break;
      }
      this.#dispatcher.pullBackIfStranded(this.#workers.anyFree());
    } finally {
      this.#pumping = false;
    }
    this.#updatePolling();
    if (this.#held.size === 0 && this.#active.size === 0) this.#notifyDrained();
  }

  /**
   * Whether no held task could start now, whatever the readings say: as many tasks as may wait
   * ahead for the next free worker already do, or one is parked for a spawn (so none can be sent
   * ahead or started on a new worker), and no worker can take one more. The held tasks are decided
   * again when a worker frees; deciding them now (a few µs each, on the thread that hands tasks
   * out) would only say "busy".
   */
  #nothingCanStart(): boolean {
    return !this.#dispatcher.roomAhead() && !this.#workers.anyFree();
  }

  #schedulePump(): void {
    if (this.#held.size > 0) queueMicrotask(this.#pumpSoon);
  }

  // ---- dispatch to Piscina -----------------------------------------------------------------------

  #start(task: Task, target: DispatchTarget): void {
    const wasHeld = task.state === 'held';
    if (wasHeld) this.#held.delete(task);
    task.state = typeof target === 'number' ? 'running' : 'parked';
    this.#active.add(task);
    this.#main.reserved += task.mainNeed;
    if (this.#process) this.#process.reserved += task.need + task.external;
    if (target !== 'next') {
      this.#admitted(task, target);
    } else if (!wasHeld) {
      // Admitted (and the 'admit' event) when a worker takes it; held until then.
      this.#countHold(task, undefined);
    }
    this.#dispatcher.send(task, target);
    // Running work is sampled (busy workers) on the poll timer, also when it was admitted straight from run().
    this.#updatePolling();
  }

  /** Counts a task as held and tells listeners (`scope`: the memory pressure that held it, if any). */
  #countHold(task: Task, scope: Scope | undefined): void {
    this.#counters.held++;
    // Per task, on the thread that hands tasks out: the event object is made only when listened to.
    if (this.listenerCount('hold') > 0) this.emit('hold', { name: task.name, need: task.need, scope });
  }

  #admitted(task: Task, worker: number | 'spawn'): void {
    this.#counters.admitted++;
    // Per task, on the thread that hands tasks out: the event object is made only when listened to.
    if (this.listenerCount('admit') > 0) this.emit('admit', { name: task.name, need: task.need, worker });
  }

  /**
   * A task sent ahead takes the need learned since, before the balancer places it: its process
   * reservation follows (its worker's is made at placement). Without it the tasks sent ahead while
   * the first runs of a name were learned ran with no reservation at all.
   */
  #relearn(task: Task): void {
    const before = task.need + task.external;
    learnNeed(task, this.#needSource);
    if (this.#process) this.#process.reserved += task.need + task.external - before;
  }

  /** The balancer put `task` on a worker: it runs there now, its need reserved on that worker. */
  #placed(task: Task, workerId: number, parkedFor: ParkedFor | undefined): void {
    if (parkedFor) queueMicrotask(this.#pumpSoon);
    if (parkedFor === 'next') this.#admitted(task, workerId);
    task.state = 'running';
    task.worker = this.#workers.get(workerId);
    if (task.worker) {
      task.worker.reserved += task.need;
      task.worker.processReserved.heap += task.need;
      task.worker.processReserved.external += task.external;
      task.worker.running++;
      task.worker.placed++;
      task.worker.nudged = false;
    }
  }

  #finish(task: Task, error: unknown, value: unknown): void {
    if (task.state === 'settled') return;
    const pulledBack = this.#dispatcher.forget(task, error);
    this.#active.delete(task);
    this.#main.reserved -= task.mainNeed;
    if (this.#process) this.#process.reserved -= task.need + task.external;
    const worker = task.worker;
    if (worker) {
      worker.reserved -= task.need;
      worker.processReserved.heap -= task.need;
      worker.processReserved.external -= task.external;
      worker.running--;
    }

    if (pulledBack && !this.#destroyed) {
      // Pulled back from a stranded park, or its wait ran out while it waited ahead: it never ran.
      // It goes back to the head of the queue, unless its deadline has passed.
      if (pulledBack === 'spawn') this.#counters.admitted--;
      if (performance.now() - task.submittedAt >= this.#settings.maxWaitMs) {
        this.#expire(task);
        return;
      }
      this.#held.unshift(task);
      queueMicrotask(this.#pumpSoon);
      return;
    }
    if (error === undefined) {
      this.#counters.completed++;
      const { v, m } = value as ResultEnvelope;
      if (m) this.#estimates.record(task.name, m);
      this.#settle(task, () => task.resolve(v));
    } else {
      this.#settleError(task, this.#classify(task, error, worker));
    }
    this.#pump();
  }

  #classify(task: Task, error: unknown, worker: TrackedWorker | undefined): unknown {
    if (task.signal?.aborted) return new AbortError(task.signal.reason);
    if (this.#destroyed) return new PoolClosedError('the pool was destroyed while the task was running');
    const code = (error as { code?: unknown } | null)?.code;
    if (worker?.dead || code === 'ERR_WORKER_OUT_OF_MEMORY') {
      this.#counters.crashed++;
      return new WorkerCrashError(task.name, worker?.id, error);
    }
    this.#counters.failed++;
    return error;
  }

  #settleError(task: Task, error: unknown): void {
    if (error instanceof AbortError && task.state !== 'settled') this.#counters.rejected.aborted++;
    if (error instanceof PoolClosedError && task.state !== 'settled') this.#counters.rejected.closed++;
    this.#settle(task, () => task.reject(error));
    if (error instanceof HeapgateError) this.emit('reject', error);
  }

  #settle(task: Task, settle: () => void): void {
    if (task.state === 'settled') return;
    if (task.state === 'held') this.#held.delete(task);
    task.state = 'settled';
    this.#counters.settled++;
    settle();
    if (this.#held.size === 0 && this.#active.size === 0) this.#notifyDrained();
  }

  // ---- workers, polling, shutdown ----------------------------------------------------------------

  #onWorkerCreate(view: { id: number }): void {
    const thread = this.#piscina.threads.find((candidate) => candidate.threadId === view.id);
    if (thread) this.#workers.add(thread);
    this.#schedulePump();
  }

  #onWorkerExit(worker: TrackedWorker): void {
    if (!worker.retiring) this.emit('workerExit', { threadId: worker.id });
    queueMicrotask(this.#pumpSoon);
  }

  #updatePolling(): void {
    const needed = this.#held.size > 0 || this.#active.size > 0;
    if (needed && !this.#pollTimer && !this.#destroyed) {
      this.#pollTimer = setInterval(() => {
        this.#process?.monitor.refreshLimit(performance.now());
        this.#workers.sampleBusy();
        this.#pump();
      }, this.#settings.pollIntervalMs);
    } else if (!needed && this.#pollTimer) {
      clearInterval(this.#pollTimer);
      this.#pollTimer = undefined;
    }
    // Held tasks must keep the process alive until they settle; running ones are kept by Piscina.
    if (this.#pollTimer) {
      if (this.#held.size > 0) this.#pollTimer.ref();
      else this.#pollTimer.unref();
    }
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const done of waiters) done();
  }

  #shutdown(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#stopMainListener();
    this.#process?.monitor.close();
    this.#held.close();
    this.#dispatcher.close();
  }
}


