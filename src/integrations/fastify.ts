/**
 * `heapgate/fastify`: a Fastify plugin that turns the pool's back-pressure into HTTP answers, and
 * optionally a readiness route for load balancers and Kubernetes. Fastify is an optional peer
 * dependency: only this entry needs it (and only its types: the plugin calls the instance it is
 * given).
 *
 * Errors thrown by route handlers (e.g. `await pool.run(...)`), told apart by `code` so that both
 * builds of heapgate (ES module and CommonJS) are recognised:
 * - `ERR_MEMORY_PRESSURE`, `ERR_QUEUE_FULL`, `ERR_WAIT_TIMEOUT`, `ERR_POOL_CLOSED` → 503 with
 *   `Retry-After` (seconds, rounded up: the error's `retryAfterMs`, else the plugin's);
 * - `ERR_TASK_TOO_LARGE` → 413 (retrying cannot help);
 * - anything else goes to the error handler that was in place before the plugin.
 * The body is JSON: `{ statusCode, error, code, message }` (as Fastify's own), plus `scope` and
 * `retryAfterMs` when known.
 *
 * @module heapgate/fastify
 */
// An older Node fails at import with a clear message (see `node-version.ts`).
import '../node-version.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatedPool } from '../pool.js';
import type { AdmissionQuestion } from '../admission/admission-check.js';

/** Options of the {@link heapgate} plugin. */
export interface HeapgateFastifyOptions {
  /** The pool whose errors and state the plugin maps. */
  pool: GatedPool;
  /** `Retry-After` for errors that carry no `retryAfterMs` of their own (queue full, wait timeout, closed), ms. Default: the pool's `retryAfterMs` (1000 unless set). */
  retryAfterMs?: number;
  /**
   * A readiness route: `GET` answers 200 while the pool can take work, 503 with the reasons while
   * the main isolate or the process is under memory pressure, every worker is, the memory in use
   * or reserved leaves no room for a task of the pool's default name (`pool.wouldAdmit()`), the
   * held queue is at least `queueNearFull` of `maxQueue`, or the pool is closed. `true` = `{ path: '/ready' }`. Default: no route.
   */
  readiness?:
    | boolean
    | {
        /** The route's path, starting with `/`. Default `'/ready'`. */
        path?: string;
        /** The fraction of `maxQueue`, in (0, 1], from which a held queue makes the pool not ready. Default 0.9. */
        queueNearFull?: number;
        /**
         * The tasks the service runs (`name`, `memory`, `filename`, as `run()` takes them): not
         * ready while the memory in use or reserved leaves no room for one of them. Default: one
         * task of the pool's default name, need learned or unknown.
         */
        tasks?: readonly AdmissionQuestion[];
      };
}

/** What the readiness route answers. */
export interface Readiness {
  /** Whether the pool can take work now: `reasons` is empty. */
  ready: boolean;
  /** Why not, e.g. `'memory pressure in process scope'`, `'queue 15000 of 16384'`, `'pool closed'`. */
  reasons: string[];
  /** Tasks waiting in the held queue (`stats().held`). */
  held: number;
  /** Tasks admitted and not settled yet (`stats().running`). */
  running: number;
  /** Most tasks held at once (`stats().maxQueue`); may be `Infinity`, which JSON renders as `null`. */
  maxQueue: number;
}

/** HTTP status by heapgate error code. */
const STATUS: Record<string, number> = {
  ERR_MEMORY_PRESSURE: 503,
  ERR_QUEUE_FULL: 503,
  ERR_WAIT_TIMEOUT: 503,
  ERR_POOL_CLOSED: 503,
  ERR_TASK_TOO_LARGE: 413,
};

interface Settings {
  pool: GatedPool;
  retryAfterMs: number;
  readiness: { path: string; queueNearFull: number; tasks: readonly AdmissionQuestion[] } | undefined;
}

function validate(options: unknown): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError(`heapgate/fastify: options must be an object with a pool, got ${String(options)}`);
  const known = new Set(['pool', 'retryAfterMs', 'readiness']);
  // Fastify passes its own registration options along with the plugin's.
  const fastifyOwn = new Set(['prefix', 'logLevel', 'logSerializers']);
  for (const key of Object.keys(options)) if (!known.has(key) && !fastifyOwn.has(key)) throw new TypeError(`heapgate/fastify: unknown option '${key}' (known: ${[...known].join(', ')})`);
  const { pool, readiness = false } = options as HeapgateFastifyOptions;
  if (typeof pool !== 'object' || pool === null || typeof (pool as Partial<GatedPool>).stats !== 'function') throw new TypeError(`heapgate/fastify: options.pool must be a GatedPool, got ${String(pool)}`);
  // Default: the pool's own retryAfterMs (1000 unless set).
  const poolRetry = (pool as Partial<GatedPool>).options?.retryAfterMs;
  const retryAfterMs = (options as HeapgateFastifyOptions).retryAfterMs ?? (typeof poolRetry === 'number' ? poolRetry : 1000);
  if (typeof retryAfterMs !== 'number' || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) throw new RangeError(`heapgate/fastify: options.retryAfterMs must be a finite number >= 0, got ${String(retryAfterMs)}`);
  if (readiness === false) return { pool, retryAfterMs, readiness: undefined };
  if (readiness !== true && (typeof readiness !== 'object' || readiness === null || Array.isArray(readiness))) throw new TypeError(`heapgate/fastify: options.readiness must be a boolean or an object, got ${String(readiness)}`);
  const { path = '/ready', queueNearFull = 0.9, tasks = [{}], ...rest } = readiness === true ? {} : readiness;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new TypeError(`heapgate/fastify: unknown option 'readiness.${unknown[0]}' (known: path, queueNearFull, tasks)`);
  if (!Array.isArray(tasks) || tasks.length === 0) throw new TypeError(`heapgate/fastify: options.readiness.tasks must be a non-empty array of tasks ({ name, memory, filename }), got ${String(tasks)}`);
  tasks.forEach((task: unknown, index) => {
    try {
      // Checked as run() checks its options (throws on a bad name, need or filename).
      (pool as GatedPool).wouldAdmit(task as AdmissionQuestion);
    } catch (error) {
      throw new TypeError(`heapgate/fastify: options.readiness.tasks[${index}]: ${(error as Error).message}`, { cause: error });
    }
  });
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`heapgate/fastify: options.readiness.path must be a string starting with '/', got ${String(path)}`);
  if (typeof queueNearFull !== 'number' || !(queueNearFull > 0 && queueNearFull <= 1)) throw new RangeError(`heapgate/fastify: options.readiness.queueNearFull must be a number in (0, 1], got ${String(queueNearFull)}`);
  return { pool, retryAfterMs, readiness: { path, queueNearFull, tasks } };
}

/**
 * Whether the pool can take work now, and if not why (from `stats()` and `pool.wouldAdmit()`, no
 * side effects). `tasks`: the tasks the service runs (default: one of the pool's default name).
 */
export function readiness(pool: GatedPool, queueNearFull = 0.9, tasks: readonly AdmissionQuestion[] = [{}]): Readiness {
  const stats = pool.stats();
  const reasons: string[] = [];
  if (pool.closed) reasons.push('pool closed');
  if (stats.main.underPressure) reasons.push('memory pressure in main scope');
  if (stats.process?.underPressure) reasons.push('memory pressure in process scope');
  const pressed = stats.workers.filter((worker) => worker.underPressure).length;
  if (pressed > 0 && pressed === stats.workers.length) reasons.push(`memory pressure in every worker (${pressed})`);
  if (Number.isFinite(stats.maxQueue) && stats.held >= queueNearFull * stats.maxQueue && stats.held > 0) reasons.push(`queue ${stats.held} of ${stats.maxQueue}`);
  // Memory reserved by running tasks refuses new ones before any reading shows pressure: asked as
  // the gate would decide each of the service's tasks now.
  for (const task of tasks) {
    const verdict = pool.wouldAdmit(task);
    if (verdict.admit || verdict.reason !== 'pressure' || reasons.includes(`memory pressure in ${verdict.scope} scope`)) continue;
    const reason = `memory in use or reserved in ${verdict.scope} scope: ${Math.round(verdict.used / 2 ** 20)} MiB of ${Math.round(verdict.limit / 2 ** 20)} MiB${task.name ? ` (no room for '${task.name}', ${Math.round(verdict.need / 2 ** 20)} MiB)` : ''}`;
    if (!reasons.includes(reason)) reasons.push(reason);
  }
  return { ready: reasons.length === 0, reasons, held: stats.held, running: stats.running, maxQueue: stats.maxQueue };
}

/**
 * The plugin: `await app.register(heapgate, { pool, readiness: true })`. It applies to the whole
 * instance it is registered on (not only its own encapsulation context), like `fastify-plugin`.
 */
export function heapgate(fastify: FastifyInstance, options: HeapgateFastifyOptions, done: (error?: Error) => void): void {
  let settings: Settings;
  try {
    settings = validate(options);
  } catch (error) {
    done(error as Error);
    return;
  }
  const previous = fastify.errorHandler;
  fastify.setErrorHandler(function handle(this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const status = typeof error?.code === 'string' ? STATUS[error.code] : undefined;
    if (status === undefined) return previous.call(this, error, request, reply);
    const own = (error as { retryAfterMs?: unknown }).retryAfterMs ?? (error as { cause?: { retryAfterMs?: unknown } }).cause?.retryAfterMs;
    const retryAfterMs = typeof own === 'number' ? own : settings.retryAfterMs;
    if (status === 503) void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    const scope = (error as { scope?: unknown }).scope;
    return reply.code(status).send({
      statusCode: status,
      error: status === 503 ? 'Service Unavailable' : 'Payload Too Large',
      code: error.code,
      message: error.message,
      ...(typeof scope === 'string' ? { scope } : {}),
      ...(status === 503 ? { retryAfterMs } : {}),
    });
  });
  const route = settings.readiness;
  if (route) {
    fastify.get(route.path, async (_request, reply) => {
      const state = readiness(settings.pool, route.queueNearFull, route.tasks);
      return reply.code(state.ready ? 200 : 503).send(state);
    });
  }
  done();
}

// As `fastify-plugin` marks a plugin (without depending on it): not encapsulated, named, for Fastify 5.
Object.assign(heapgate, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'heapgate',
  [Symbol.for('plugin-meta')]: { name: 'heapgate', fastify: '5.x' },
});

export default heapgate;
