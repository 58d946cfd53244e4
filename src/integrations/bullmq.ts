/**
 * `heapgate/bullmq`: a memory-aware consumer of a BullMQ queue. Each job runs as a task on a
 * {@link GatedPool}, and a job is taken from Redis only when the pool's gate would start a task of
 * its kind now: a replica short of memory (or of free workers) leaves the jobs in the queue for a
 * replica that has room, and nothing is refused to whoever queued them. BullMQ is an optional peer
 * dependency: only this entry needs it.
 *
 * How a job is taken and settled:
 * - Before each fetch, the consumer asks the pool's side-effect-free {@link GatedPool.wouldAdmit}
 *   for every kind of job it has seen (a job's kind: its task name and declared need; at most
 *   {@link KNOWN_KINDS} are remembered). It fetches (`Worker.getNextJob`, manual processing) only
 *   when all of them would start now, and when fewer than `concurrency` jobs are in flight.
 * - A job it holds but cannot start now (another kind, or a race with other work) goes back to the
 *   queue with `moveToWait`, which spends no attempt; so does one the pool refused for memory
 *   pressure, a full queue or a wait timeout, or one still held when the consumer closes.
 * - A job too large for this replica goes back to the queue after a growing delay
 *   (`moveToDelayed`, no attempt spent) for a larger replica, until it has been started
 *   `tooLargeStarts` times; then it fails with `TaskTooLargeError`. So does one that not even the
 *   idle pool has room for (it fails with the pool's `MemoryPressureError`): such a kind is left
 *   out of the fetch check while the pool is idle, or it would stop the consumer for good.
 * - A job whose task threw, whose worker died (`WorkerCrashError`), or whose `task` mapping failed
 *   fails with that error through `moveToFailed`: an attempt is spent, and BullMQ's retry policy
 *   (`attempts`, `backoff`) decides what follows.
 * - The locks of jobs in flight are extended every `lockDuration / 2`; the stalled-job checker
 *   runs, so jobs of a replica that died are taken back by the others.
 *
 * @module heapgate/bullmq
 */
// An older Node fails at import with a clear message (see `node-version.ts`).
import '../node-version.js';
import { EventEmitter } from 'node:events';
import type { Job, WorkerOptions } from 'bullmq';
import type { GatedPool } from '../pool.js';
import type { MemoryNeed, RunOptions } from '../options.js';
import { MemoryPressureError } from '../errors.js';

/** How many kinds of job (name + declared need) the consumer remembers for its fetch check. */
export const KNOWN_KINDS = 64;

/** The codes of pool errors after which a job goes back to the queue, no attempt spent. */
const HAND_BACK = new Set(['ERR_MEMORY_PRESSURE', 'ERR_QUEUE_FULL', 'ERR_WAIT_TIMEOUT', 'ERR_POOL_CLOSED', 'ERR_QUEUE_CLEARED']);

/** What a job runs as on the pool. */
export interface JobTask {
  /** The task's input (default: `job.data`). */
  input: unknown;
  /** The task name: learned needs are kept per name (default: `job.name`). */
  name?: string;
  /** The declared memory need (default: none, learned per name). */
  memory?: MemoryNeed;
  /** Transferred to the worker instead of cloned. */
  transferList?: RunOptions['transferList'];
}

/** Options of a {@link GatedConsumer}. */
export interface GatedConsumerOptions {
  /** The queue's name. */
  queue: string;
  /** The pool jobs run on. The consumer does not close it. */
  pool: GatedPool;
  /** BullMQ `Worker` options: `connection` is required; `lockDuration`, `stalledInterval`, `maxStalledCount`, `prefix`… are passed on. */
  worker: WorkerOptions;
  /** Maps a job to its task. Default: `{ input: job.data, name: job.name }`. */
  task?: (job: Job) => JobTask;
  /** Jobs in flight at most (held or running on the pool). Default: the pool's `maxThreads` × `concurrentTasksPerWorker`. */
  concurrency?: number;
  /** While the gate has no room, how often it is asked again, ms. Default 50. */
  pollIntervalMs?: number;
  /**
   * How many times a job too large for this replica may be started (by any replica) before it
   * fails with `TaskTooLargeError`; until then it goes back to the queue after a growing delay,
   * no attempt spent, for a larger replica to take. Default 10; 1 fails it at once.
   */
  tooLargeStarts?: number;
}

/** A replica's record of what it did with jobs. */
export interface ConsumerStats {
  /** Jobs taken from the queue. */
  taken: number;
  /** Jobs completed (moved to completed by this replica). */
  completed: number;
  /** Jobs given back to the queue without spending an attempt. */
  handedBack: number;
  /** Jobs failed, by error code (else the error's class name, e.g. `'TypeError'`, or the thrown value's type): each spent an attempt. */
  failed: Record<string, number>;
  /** Jobs whose lock this replica lost before it could settle them (the stalled-job checker gave them to another). */
  lostLock: number;
  /** Jobs in flight now. */
  inFlight: number;
}

/** Events of a {@link GatedConsumer}. */
export interface GatedConsumerEvents {
  /** A job completed with the task's result. */
  completed: [job: Job, result: unknown];
  /** A job failed with the task's (or the pool's) error; an attempt was spent. */
  failed: [job: Job, error: unknown];
  /** A job went back to the queue, no attempt spent; `reason` is the pool's error code or `'no room'`/`'closing'`. */
  handedBack: [job: Job, reason: string];
  /** An error talking to Redis. Without a listener it is written to stderr. */
  error: [error: unknown];
}

interface Settings {
  queue: string;
  pool: GatedPool;
  worker: WorkerOptions;
  task: (job: Job) => JobTask;
  concurrency: number;
  pollIntervalMs: number;
  tooLargeStarts: number;
}

const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'Error';
};

/** A value as an error message shows it: strings quoted, so `"2"` is not mistaken for `2`. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/** An integer option: `TypeError` for a non-number, `RangeError` outside [min, max]. */
function integer(field: string, value: unknown, min: number, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`heapgate/bullmq: ${field} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`heapgate/bullmq: ${field} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  return value;
}

function validate(options: unknown): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError(`heapgate/bullmq: options must be an object, got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  const known = ['queue', 'pool', 'worker', 'task', 'concurrency', 'pollIntervalMs', 'tooLargeStarts'];
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw new TypeError(`heapgate/bullmq: unknown option "${key}" (known: ${known.join(', ')})`);
  }
  if (typeof o.queue !== 'string' || o.queue === '') throw new TypeError(`heapgate/bullmq: queue must be a non-empty string, got ${describe(o.queue)}`);
  const pool = o.pool as GatedPool | undefined;
  if (typeof pool !== 'object' || pool === null || typeof pool.wouldAdmit !== 'function') throw new TypeError(`heapgate/bullmq: pool must be a GatedPool, got ${describe(o.pool)}`);
  const worker = o.worker as Record<string, unknown> | undefined;
  if (typeof worker !== 'object' || worker === null || typeof worker.connection !== 'object' || worker.connection === null) {
    throw new TypeError('heapgate/bullmq: worker must be BullMQ Worker options with a connection, e.g. { connection: { host, port } }');
  }
  for (const field of ['concurrency', 'autorun']) {
    if (worker[field] !== undefined) throw new TypeError(`heapgate/bullmq: worker.${field} is the consumer's own: use the consumer's concurrency option (got worker.${field} ${describe(worker[field])})`);
  }
  for (const field of ['lockDuration', 'stalledInterval', 'drainDelay']) {
    if (worker[field] !== undefined) integer(`worker.${field}`, worker[field], 1);
  }
  if (o.task !== undefined && typeof o.task !== 'function') throw new TypeError(`heapgate/bullmq: task must be a function (job) => ({ input, name?, memory? }), got ${describe(o.task)}`);
  const poolConcurrency = pool.maxThreads * Number(pool.options.concurrentTasksPerWorker ?? 1);
  return {
    queue: o.queue,
    pool,
    worker: worker as unknown as WorkerOptions,
    task: (o.task as Settings['task'] | undefined) ?? ((job) => ({ input: job.data, name: job.name })),
    concurrency: o.concurrency === undefined ? poolConcurrency : integer('concurrency', o.concurrency, 1),
    pollIntervalMs: o.pollIntervalMs === undefined ? 50 : integer('pollIntervalMs', o.pollIntervalMs, 1),
    tooLargeStarts: o.tooLargeStarts === undefined ? 10 : integer('tooLargeStarts', o.tooLargeStarts, 1),
  };
}

/**
 * A memory-aware BullMQ consumer: takes jobs from `queue` only while `pool`'s gate has room for
 * them, runs each as a task on the pool, and settles it in Redis (see the module's notes).
 * Construct it, then `await consumer.start()`; `await consumer.close()` to stop.
 */
export class GatedConsumer extends EventEmitter<GatedConsumerEvents> {
  readonly #settings: Settings;
  #worker: import('bullmq').Worker | undefined;
  /** Jobs in flight: job → its lock token. */
  readonly #inFlight = new Map<Job, string>();
  /** Kinds of job seen (task name + declared need), most recent last. */
  readonly #kinds = new Map<string, Pick<RunOptions, 'name' | 'memory'>>();
  readonly #stats = { taken: 0, completed: 0, handedBack: 0, failed: {} as Record<string, number>, lostLock: 0 };
  #closing = false;
  #loop: Promise<void> | undefined;
  #lockTimer: NodeJS.Timeout | undefined;
  /** Who waits in `#changed`. */
  readonly #waiters = new Set<() => void>();
  #tokens = 0;

  constructor(options: GatedConsumerOptions) {
    super();
    this.#settings = validate(options);
  }

  /** Connects, starts the stalled-job checker, and starts taking jobs. Resolves once connected. */
  async start(): Promise<void> {
    if (this.#worker) throw new Error('heapgate/bullmq: the consumer was already started');
    const { Worker } = await import('bullmq');
    const worker = new Worker(this.#settings.queue, null, { ...this.#settings.worker, autorun: false });
    worker.on('error', (error) => this.#error(error));
    this.#worker = worker;
    await worker.waitUntilReady();
    void worker.startStalledCheckTimer();
    const lockDuration = worker.opts.lockDuration ?? 30_000;
    this.#lockTimer = setInterval(() => void this.#extendLocks(lockDuration), Math.max(1, Math.floor(lockDuration / 2)));
    this.#loop = this.#fetchLoop(worker);
  }

  /** What this replica did with jobs so far. */
  stats(): ConsumerStats {
    return { ...this.#stats, failed: { ...this.#stats.failed }, inFlight: this.#inFlight.size };
  }

  /**
   * Stops taking jobs, waits for the jobs in flight to settle (a job the pool holds for memory
   * goes back to the queue when its wait ends or the pool is cleared or closed: `pool.clear()`
   * sends every held task's job back at once), then disconnects. The pool stays open.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#wake();
    const worker = this.#worker;
    if (!worker) return;
    while (this.#inFlight.size > 0) await this.#changed(this.#settings.pollIntervalMs);
    clearInterval(this.#lockTimer);
    // Nothing is in flight: forced, BullMQ does not wait out a blocking fetch (up to `drainDelay`).
    await worker.close(true);
    await this.#loop;
  }

  /**
   * Whether the gate would start now a job of every kind seen so far (of those that can ever fit).
   * While memory pressure stops one, the pool is asked to relieve it, as it does for a task it holds:
   * no task of this consumer is held there to ask for it.
   */
  #roomForEveryKind(): boolean {
    const pool = this.#settings.pool;
    const kinds = this.#kinds.size === 0 ? [{}] : this.#kinds.values();
    for (const kind of kinds) {
      const verdict = pool.wouldAdmit(kind);
      if (verdict.admit || verdict.reason === 'too-large') continue;
      if (verdict.reason === 'pressure') {
        // Relief may start a collection or a restart; the pool idle is what matters here.
        pool.relievePressure(kind);
        // Not even an idle pool takes this kind: waiting for it would stop the consumer for good
        // (nothing of the pool runs to free room). It is not this replica's now (see `#process`).
        if (isIdle(pool)) continue;
      }
      return false;
    }
    return true;
  }

  async #fetchLoop(worker: import('bullmq').Worker): Promise<void> {
    const { concurrency, pollIntervalMs } = this.#settings;
    while (!this.#closing) {
      if (this.#inFlight.size >= concurrency || !this.#roomForEveryKind()) {
        await this.#changed(pollIntervalMs);
        continue;
      }
      const token = `${worker.id}:${++this.#tokens}`;
      let job: Job | undefined;
      try {
        // A job waiting now is taken at once; only an empty queue is waited on (up to BullMQ's
        // `drainDelay`). A blocking fetch alone can sleep through jobs handed back to the queue.
        job = (await worker.getNextJob(token, { block: false })) ?? (await worker.getNextJob(token, { block: true }));
      } catch (error) {
        if (this.#closing) break;
        this.#error(error);
        await this.#changed(1000);
        continue;
      }
      if (!job) continue;
      this.#stats.taken++;
      void this.#process(job, token);
    }
  }

  async #process(job: Job, token: string): Promise<void> {
    this.#inFlight.set(job, token);
    try {
      if (this.#closing) return await this.#handBack(job, token, 'closing');
      let task: JobTask;
      let kind: Pick<RunOptions, 'name' | 'memory'>;
      let verdict: ReturnType<GatedPool['wouldAdmit']>;
      try {
        task = this.#settings.task(job);
        if (typeof task !== 'object' || task === null) throw new TypeError(`heapgate/bullmq: task(job) must return { input, name?, memory? }, got ${describe(task)} for job ${job.id}`);
        kind = { name: task.name ?? job.name, ...(task.memory === undefined ? {} : { memory: task.memory }) };
        // Throws on a name or need `run()` would refuse: the job fails, and the kind is not kept.
        verdict = this.#settings.pool.wouldAdmit(kind);
      } catch (error) {
        return await this.#fail(job, token, error);
      }
      this.#remember(kind);
      if (!verdict.admit && verdict.reason === 'pressure' && isIdle(this.#settings.pool)) {
        // No room for it even with nothing of the pool running: as for a job too large for this
        // replica, it goes back delayed for another replica, and fails after `tooLargeStarts`.
        if ((job.attemptsStarted ?? 0) < this.#settings.tooLargeStarts) return await this.#delay(job, token, 'ERR_MEMORY_PRESSURE');
        const { scope, used, limit, need, ceiling } = verdict;
        return await this.#fail(job, token, new MemoryPressureError({ scope, used, limit, need, ceiling, retryAfterMs: retryAfterMsOf(this.#settings.pool), taskName: kind.name ?? undefined }));
      }
      if (!verdict.admit && verdict.reason !== 'too-large') return await this.#handBack(job, token, 'no room');
      let result: unknown;
      try {
        // Too large for this replica: the pool refuses it at once with the typed error (below).
        result = await this.#settings.pool.run(task.input, { ...kind, ...(task.transferList ? { transferList: task.transferList } : {}) });
      } catch (error) {
        const code = codeOf(error);
        if (HAND_BACK.has(code)) return await this.#handBack(job, token, code);
        if (code === 'ERR_TASK_TOO_LARGE' && (job.attemptsStarted ?? 0) < this.#settings.tooLargeStarts) return await this.#delay(job, token, code);
        return await this.#fail(job, token, error);
      }
      try {
        await job.moveToCompleted(result, token, false);
      } catch (error) {
        return this.#lockLost(error);
      }
      this.#stats.completed++;
      this.emit('completed', job, result);
    } finally {
      this.#inFlight.delete(job);
      this.#wake();
    }
  }

  /**
   * A job too large for this replica goes back to the queue after a delay, no attempt spent, so
   * that a larger replica may take it: 0.5 s, doubling with each start, at most 30 s. Once it has
   * been started `tooLargeStarts` times it fails with `TaskTooLargeError`.
   */
  async #delay(job: Job, token: string, reason: string): Promise<void> {
    const delayMs = Math.min(30_000, 500 * 2 ** Math.max(0, (job.attemptsStarted ?? 1) - 1));
    try {
      await job.moveToDelayed(Date.now() + delayMs, token);
    } catch (error) {
      return this.#lockLost(error);
    }
    this.#stats.handedBack++;
    this.emit('handedBack', job, reason);
  }

  async #handBack(job: Job, token: string, reason: string): Promise<void> {
    try {
      await job.moveToWait(token);
    } catch (error) {
      return this.#lockLost(error);
    }
    this.#stats.handedBack++;
    this.emit('handedBack', job, reason);
  }

  async #fail(job: Job, token: string, error: unknown): Promise<void> {
    // BullMQ records an Error's message: a thrown non-Error keeps its own `message` if it has one.
    const message = typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string' ? (error as { message: string }).message : String(error);
    const failure = error instanceof Error ? error : new Error(message);
    try {
      await job.moveToFailed(failure, token, false);
    } catch (moveError) {
      return this.#lockLost(moveError);
    }
    // Counted by code; an error without one by its class name (`TypeError`), anything else by its type.
    const own = codeOf(error);
    const code = own !== 'Error' ? own : error instanceof Error ? error.name : error === null ? 'null' : typeof error;
    this.#stats.failed[code] = (this.#stats.failed[code] ?? 0) + 1;
    this.emit('failed', job, error);
  }

  /** A job could not be settled: its lock was lost (it stalled and another replica has it) or Redis failed. */
  #lockLost(error: unknown): void {
    this.#stats.lostLock++;
    this.#error(error);
  }

  #remember(kind: Pick<RunOptions, 'name' | 'memory'>): void {
    const key = JSON.stringify(kind);
    this.#kinds.delete(key);
    this.#kinds.set(key, kind);
    if (this.#kinds.size > KNOWN_KINDS) this.#kinds.delete(this.#kinds.keys().next().value as string);
  }

  async #extendLocks(lockDuration: number): Promise<void> {
    const worker = this.#worker;
    if (!worker || this.#inFlight.size === 0) return;
    const jobs = [...this.#inFlight];
    try {
      await worker.extendJobLocks(jobs.map(([job]) => job.id as string), jobs.map(([, token]) => token), lockDuration);
    } catch (error) {
      this.#error(error);
    }
  }

  /** Resolves when a job settles, the consumer closes, or `ms` pass. */
  #changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done();
  }

  #error(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('heapgate/bullmq:', error);
  }
}

/** Whether none of the pool's tasks runs or waits. */
function isIdle(pool: GatedPool): boolean {
  return pool.size === 0 && pool.pending === 0;
}

/** The pool's `retryAfterMs` (the hint its refusals carry). */
function retryAfterMsOf(pool: GatedPool): number {
  const value = pool.options.retryAfterMs;
  return typeof value === 'number' ? value : 1000;
}
