/**
 * `heapgate/prometheus`: a pool's readings and counters as Prometheus metrics in a prom-client
 * registry, collected from `stats()` when the registry is scraped (nothing is kept between
 * scrapes, nothing runs between them). prom-client is an optional peer dependency: only this
 * entry needs it.
 *
 * Invariant: every label takes values from a fixed set (scopes, reasons, outcomes) or from the
 * caller's own constant labels; none grows with the work (no thread ids, no task names).
 *
 * @module heapgate/prometheus
 */
// An older Node fails at import with a clear message (see `node-version.ts`).
import '../node-version.js';
import { Counter, Gauge, register as globalRegistry, type Registry } from 'prom-client';
import type { GatedPool } from '../pool.js';
import type { PoolStats } from '../accounting/counters.js';
import type { Reading } from '../admission/gate.js';

/** Options of {@link registerMetrics}. */
export interface PrometheusOptions {
  /** The registry to register in. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default: `'heapgate_'`. */
  prefix?: string;
  /** Labels with fixed values on every metric, e.g. `{ pool: 'thumbnails' }` to tell pools apart. */
  labels?: Record<string, string>;
}

/** What {@link registerMetrics} registered. */
export interface RegisteredMetrics {
  /** The names of the metrics registered. */
  readonly names: readonly string[];
  /** Removes them from the registry. */
  unregister(): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['scope', 'reason', 'outcome', 'le']);

type Scope = 'main' | 'process' | 'worker';
type Labels = Record<string, string>;
type Sample = [labels: Labels, value: number];

/** The main isolate, the process (when watched) and the workers (summed) as readings by scope. */
function scopes(stats: PoolStats): [Scope, Pick<Reading, 'used' | 'live' | 'limit' | 'reserved' | 'underPressure'>][] {
  const workers = stats.workers;
  const sum = (pick: (worker: PoolStats['workers'][number]) => number): number => workers.reduce((total, worker) => total + pick(worker), 0);
  const worker = {
    used: sum((w) => w.used),
    live: workers.some((w) => w.live !== undefined) ? sum((w) => w.live ?? w.used) : undefined,
    limit: sum((w) => w.limit),
    reserved: sum((w) => w.reserved),
    underPressure: workers.some((w) => w.underPressure),
  };
  const out: [Scope, Pick<Reading, 'used' | 'live' | 'limit' | 'reserved' | 'underPressure'>][] = [['main', stats.main]];
  if (stats.process) out.push(['process', stats.process]);
  out.push(['worker', worker]);
  return out;
}

function validate(pool: unknown, options: unknown): { registry: Registry; prefix: string; labels: Labels } {
  if (typeof pool !== 'object' || pool === null || typeof (pool as Partial<GatedPool>).stats !== 'function') throw new TypeError(`registerMetrics: pool must be a GatedPool, got ${String(pool)}`);
  if (options === undefined) return { registry: globalRegistry, prefix: 'heapgate_', labels: {} };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`registerMetrics: options must be an object, got ${String(options)}`);
  const known = new Set(['registry', 'prefix', 'labels']);
  for (const key of Object.keys(options)) if (!known.has(key)) throw new TypeError(`registerMetrics: unknown option '${key}' (known: ${[...known].join(', ')})`);
  const { registry = globalRegistry, prefix = 'heapgate_', labels = {} } = options as PrometheusOptions;
  if (typeof registry !== 'object' || registry === null || typeof (registry as Partial<Registry>).registerMetric !== 'function') throw new TypeError(`registerMetrics: options.registry must be a prom-client Registry, got ${String(registry)}`);
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) throw new TypeError(`registerMetrics: options.prefix must be a string of letters, digits, '_' and ':' not starting with a digit, got ${JSON.stringify(prefix)}`);
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new TypeError(`registerMetrics: options.labels must be an object of strings, got ${String(labels)}`);
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL.test(key) || key.startsWith('__') || RESERVED_LABELS.has(key)) throw new TypeError(`registerMetrics: options.labels: '${key}' cannot be a label name (letters, digits and '_'; not ${[...RESERVED_LABELS].join(', ')})`);
    if (typeof value !== 'string') throw new TypeError(`registerMetrics: options.labels.${key} must be a string, got ${String(value)}`);
  }
  return { registry, prefix, labels: { ...labels } };
}

/**
 * Registers the pool's metrics in a prom-client registry (names below with the default prefix):
 *
 * - gauges by `scope` (`main`, `process` when watched, `worker`: all workers summed):
 *   `heapgate_memory_used_bytes`, `heapgate_memory_live_bytes` (when known),
 *   `heapgate_memory_limit_bytes`, `heapgate_memory_reserved_bytes`, `heapgate_under_pressure` (0/1;
 *   `worker`: any worker);
 * - gauges: `heapgate_workers`, `heapgate_workers_under_pressure`, `heapgate_held_tasks`,
 *   `heapgate_tasks_running`, `heapgate_queue_max_tasks`;
 * - counters: `heapgate_tasks_submitted_total`, `heapgate_tasks_admitted_total`,
 *   `heapgate_tasks_held_total` by `reason` (`busy`, `pressure`) and `scope` (`none` or the scope
 *   under pressure), `heapgate_tasks_settled_total` by `outcome` (`completed`, `failed`, `crashed`,
 *   `rejected`), `heapgate_tasks_rejected_total` by `reason` (`pressure`, `queueFull`, `timeout`,
 *   `tooLarge`, `aborted`, `closed`, `workerStart`, `cleared`, `input`) and `scope` (for
 *   `pressure`; else `none`), `heapgate_worker_recycles_total`, `heapgate_worker_nudges_total`,
 *   `heapgate_worker_crashes_total`, `heapgate_worker_start_failures_total`;
 * - histogram: `heapgate_held_seconds`, how long tasks were held before they left the held queue.
 *
 * Throws a `TypeError` for a wrong argument, and prom-client's error when a metric of the same
 * name is already registered (give each pool its own `prefix` or registry).
 */
export function registerMetrics(pool: GatedPool, options?: PrometheusOptions): RegisteredMetrics {
  const { registry, prefix, labels } = validate(pool, options);
  const constant = Object.keys(labels);
  const names: string[] = [];
  const registered: object[] = [];
  const add = (name: string, metric: object): void => {
    registered.push(metric);
    names.push(name);
  };
  const samples = (read: (stats: PoolStats) => Sample[]) =>
    function collect(this: Gauge | Counter): void {
      this.reset();
      for (const [own, value] of read(pool.stats())) this.inc({ ...own, ...labels }, value);
    };
  const gauge = (name: string, help: string, labelNames: string[], read: (stats: PoolStats) => Sample[]): void =>
    add(prefix + name, new Gauge({ name: prefix + name, help, labelNames: [...labelNames, ...constant], registers: [], collect: samples(read) }));
  const counter = (name: string, help: string, labelNames: string[], read: (stats: PoolStats) => Sample[]): void =>
    add(prefix + name, new Counter({ name: prefix + name, help, labelNames: [...labelNames, ...constant], registers: [], collect: samples(read) }));

  const byScope = (pick: (reading: ReturnType<typeof scopes>[number][1]) => number | undefined) => (stats: PoolStats) =>
    scopes(stats).flatMap(([scope, reading]): Sample[] => {
      const value = pick(reading);
      return value === undefined ? [] : [[{ scope }, value]];
    });
  gauge('memory_used_bytes', 'Memory in use by scope: main isolate heap, process (cgroup charge or RSS), workers heap (summed).', ['scope'], byScope((r) => r.used));
  gauge('memory_live_bytes', 'Memory live after the last major GC (main, workers) or not reclaimable (process), where known.', ['scope'], byScope((r) => r.live));
  gauge('memory_limit_bytes', 'The limit each scope is measured against (workers: summed).', ['scope'], byScope((r) => r.limit));
  gauge('memory_reserved_bytes', 'Bytes reserved by admitted tasks not yet visible in use.', ['scope'], byScope((r) => r.reserved));
  gauge('under_pressure', '1 while the scope is above its high-water mark until it falls below the low one (worker: any worker).', ['scope'], byScope((r) => (r.underPressure ? 1 : 0)));
  gauge('workers', 'Workers ready for tasks.', [], (s) => [[{}, s.workers.length]]);
  gauge('workers_under_pressure', 'Workers above their high-water mark.', [], (s) => [[{}, s.workers.filter((w) => w.underPressure).length]]);
  gauge('held_tasks', 'Tasks waiting in the held queue.', [], (s) => [[{}, s.held]]);
  gauge('tasks_running', 'Tasks admitted and not settled.', [], (s) => [[{}, s.running]]);
  gauge('queue_max_tasks', 'The most tasks the held queue takes (maxQueue).', [], (s) => [[{}, s.maxQueue]]);

  counter('tasks_submitted_total', 'Tasks given to run().', [], (s) => [[{}, s.counters.submitted]]);
  counter('tasks_admitted_total', 'Tasks the gate sent to a worker.', [], (s) => [[{}, s.counters.admitted]]);
  counter('tasks_held_total', 'Times a task was put in the held queue, by reason and scope under pressure.', ['reason', 'scope'], (s) => [
    [{ reason: 'busy', scope: 'none' }, s.counters.heldBy.busy],
    ...(['main', 'process', 'worker'] as const).map((scope): Sample => [{ reason: 'pressure', scope }, s.counters.heldBy[scope]]),
  ]);
  counter('tasks_settled_total', 'Tasks settled, by outcome.', ['outcome'], (s) => {
    const rejected = Object.values(s.counters.rejected).reduce((sum, n) => sum + n, 0);
    return [
      [{ outcome: 'completed' }, s.counters.completed],
      [{ outcome: 'failed' }, s.counters.failed],
      [{ outcome: 'crashed' }, s.counters.crashed],
      [{ outcome: 'rejected' }, rejected],
    ];
  });
  counter('tasks_rejected_total', 'Tasks refused or ended by heapgate, by reason (and scope, for pressure).', ['reason', 'scope'], (s) =>
    Object.entries(s.counters.rejected).flatMap(([reason, count]): Sample[] =>
      reason === 'pressure' ? (['main', 'process', 'worker'] as const).map((scope): Sample => [{ reason, scope }, s.counters.pressureBy[scope]]) : [[{ reason, scope: 'none' }, count]],
    ),
  );
  counter('worker_reaps_total', 'Idle workers above minThreads stopped after idleTimeout.', [], (s) => [[{}, s.counters.reaped]]);
  counter('worker_recycles_total', 'Idle workers terminated and replaced to make room: a live heap that kept a worker from taking a task a fresh worker could take, or process memory a task waited for with nothing running.', [], (s) => [[{}, s.counters.recycled]]);
  counter('worker_nudges_total', 'Idle workers asked to collect garbage.', [], (s) => [[{}, s.counters.nudges]]);
  counter('worker_crashes_total', 'Workers that died with tasks on them.', [], (s) => [[{}, s.counters.workerCrashes]]);
  counter('worker_start_failures_total', 'Workers that died before they were ready.', [], (s) => [[{}, s.counters.startFailures]]);

  const held = prefix + 'held_seconds';
  add(held, {
    name: held,
    help: 'How long tasks were held before they left the held queue (admitted, refused, timed out, aborted).',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const { buckets, sum, count } = pool.stats().heldTime;
      return {
        name: held,
        help: 'How long tasks were held before they left the held queue (admitted, refused, timed out, aborted).',
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...buckets.map(({ le, count: n }) => ({ metricName: `${held}_bucket`, labels: { ...labels, le: le === Infinity ? '+Inf' : le }, value: n })),
          { metricName: `${held}_sum`, labels: { ...labels }, value: sum },
          { metricName: `${held}_count`, labels: { ...labels }, value: count },
        ],
      };
    },
    reset: () => undefined,
  });

  for (const name of names) {
    if (registry.getSingleMetric(name)) throw new Error(`registerMetrics: a metric named ${name} is already registered (give each pool its own prefix or registry)`);
  }
  for (const metric of registered) registry.registerMetric(metric as never);
  return {
    names,
    unregister: () => {
      for (const name of names) if (registry.getSingleMetric(name) === registered[names.indexOf(name)]) registry.removeSingleMetric(name);
    },
  };
}
