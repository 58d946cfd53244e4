// heapgate/prometheus with a real prom-client registry, scraped as Prometheus would: every metric
// present with its type, values equal to stats() at the scrape, bounded labels.
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { GatedPool, type GatedPoolOptions, type PoolStats } from '../dist/index.js';
import { registerMetrics } from '../dist/integrations/prometheus.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const MB = 2 ** 20;
const pools: GatedPool[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 2, maxThreads: 2, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

/** Parses Prometheus text format: `# TYPE` lines and samples (name, labels, value). */
function parse(text: string): { types: Map<string, string>; samples: { name: string; labels: Record<string, string>; value: number }[] } {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: sample[1]!, labels, value: sample[3] === '+Inf' ? Infinity : Number(sample[3]) });
  }
  return { types, samples };
}

function value(samples: ReturnType<typeof parse>['samples'], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('heapgate/prometheus', () => {
  it('a scrape has every metric with its type and unit, and the values of stats() at that moment', async () => {
    const pool = makePool({ policy: 'reject', maxQueue: 4, memoryLimit: 64 * 2 ** 30 });
    const registry = new Registry();
    const { names } = registerMetrics(pool, { registry, labels: { pool: 'images' } });
    // 2 run, 4 wait, the rest find the queue full; one fails; one is too large.
    const runs = Array.from({ length: 10 }, (_, i) => pool.run(i === 3 ? 'boom' : 30, { name: i === 3 ? 'fail' : 'sleep', memory: MB }));
    runs.push(pool.run(1, { memory: 100 * 2 ** 30 }));
    await settleAll(runs);
    expectAllSettled(pool, 11);
    const stats: PoolStats = pool.stats();
    const { types, samples } = parse(await registry.metrics());

    const expected: Record<string, string> = {
      heapgate_memory_used_bytes: 'gauge',
      heapgate_memory_live_bytes: 'gauge',
      heapgate_memory_limit_bytes: 'gauge',
      heapgate_memory_reserved_bytes: 'gauge',
      heapgate_under_pressure: 'gauge',
      heapgate_workers: 'gauge',
      heapgate_workers_under_pressure: 'gauge',
      heapgate_held_tasks: 'gauge',
      heapgate_tasks_running: 'gauge',
      heapgate_queue_max_tasks: 'gauge',
      heapgate_tasks_submitted_total: 'counter',
      heapgate_tasks_admitted_total: 'counter',
      heapgate_tasks_held_total: 'counter',
      heapgate_tasks_settled_total: 'counter',
      heapgate_tasks_rejected_total: 'counter',
      heapgate_worker_reaps_total: 'counter',
      heapgate_worker_recycles_total: 'counter',
      heapgate_worker_nudges_total: 'counter',
      heapgate_worker_crashes_total: 'counter',
      heapgate_worker_start_failures_total: 'counter',
      heapgate_held_seconds: 'histogram',
    };
    expect(Object.fromEntries(types)).toEqual(expected);
    expect([...names].sort()).toEqual(Object.keys(expected).sort());
    // Every sample carries the constant label; no label but the fixed ones.
    for (const sample of samples) {
      expect(sample.labels.pool, sample.name).toBe('images');
      for (const label of Object.keys(sample.labels)) expect(['pool', 'scope', 'reason', 'outcome', 'le']).toContain(label);
    }

    // Memory by scope (main and process as read; workers summed). The main isolate's heap moves
    // between two reads; the rest is as stats() had it, or within what a scrape allocates.
    expect(value(samples, 'heapgate_memory_limit_bytes', { scope: 'main' })).toBe(stats.main.limit);
    expect(value(samples, 'heapgate_memory_limit_bytes', { scope: 'process' })).toBe(64 * 2 ** 30);
    expect(value(samples, 'heapgate_memory_limit_bytes', { scope: 'worker' })).toBe(stats.workers.reduce((sum, w) => sum + w.limit, 0));
    expect(value(samples, 'heapgate_memory_used_bytes', { scope: 'worker' })).toBe(stats.workers.reduce((sum, w) => sum + w.used, 0));
    expect(value(samples, 'heapgate_memory_used_bytes', { scope: 'main' })).toBeGreaterThan(0);
    expect(value(samples, 'heapgate_memory_reserved_bytes', { scope: 'process' })).toBe(0);
    expect(value(samples, 'heapgate_under_pressure', { scope: 'main' })).toBe(0);
    expect(value(samples, 'heapgate_workers')).toBe(2);
    expect(value(samples, 'heapgate_held_tasks')).toBe(0);
    expect(value(samples, 'heapgate_queue_max_tasks')).toBe(4);

    // Counters equal to stats().counters, split by the fixed labels.
    const c = stats.counters;
    expect(value(samples, 'heapgate_tasks_submitted_total')).toBe(11);
    expect(value(samples, 'heapgate_tasks_admitted_total')).toBe(c.admitted);
    expect(value(samples, 'heapgate_tasks_held_total', { reason: 'busy', scope: 'none' })).toBe(c.heldBy.busy);
    expect(c.heldBy.busy).toBe(4);
    expect(value(samples, 'heapgate_tasks_settled_total', { outcome: 'completed' })).toBe(c.completed);
    expect(value(samples, 'heapgate_tasks_settled_total', { outcome: 'failed' })).toBe(1);
    expect(value(samples, 'heapgate_tasks_settled_total', { outcome: 'rejected' })).toBe(5);
    expect(value(samples, 'heapgate_tasks_rejected_total', { reason: 'queueFull', scope: 'none' })).toBe(4);
    expect(value(samples, 'heapgate_tasks_rejected_total', { reason: 'tooLarge', scope: 'none' })).toBe(1);
    expect(value(samples, 'heapgate_tasks_rejected_total', { reason: 'pressure', scope: 'main' })).toBe(0);
    expect(samples.filter((s) => s.name === 'heapgate_tasks_rejected_total').length).toBe(8 + 3);

    // The held-time histogram: the 4 tasks that waited for a worker, as stats() counted them.
    expect(value(samples, 'heapgate_held_seconds_count')).toBe(4);
    expect(value(samples, 'heapgate_held_seconds_count')).toBe(stats.heldTime.count);
    expect(value(samples, 'heapgate_held_seconds_sum')).toBeCloseTo(stats.heldTime.sum, 9);
    expect(value(samples, 'heapgate_held_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(value(samples, 'heapgate_held_seconds_bucket', { le: '0.005' })).toBe(stats.heldTime.buckets[0]!.count);
  });

  it('pressure counts by scope; the JSON form agrees; unregister removes every metric', async () => {
    const pool = makePool({ policy: 'reject', highWater: 0.001, lowWater: 0.0005, memoryLimit: false });
    const registry = new Registry();
    const registered = registerMetrics(pool, { registry, prefix: 'svc_' });
    await settleAll([pool.run(1), pool.run(2)]);
    const { samples } = parse(await registry.metrics());
    expect(value(samples, 'svc_tasks_rejected_total', { reason: 'pressure', scope: 'main' })).toBe(2);
    expect(value(samples, 'svc_under_pressure', { scope: 'main' })).toBe(1);
    expect(value(samples, 'svc_memory_limit_bytes', { scope: 'process' })).toBeUndefined();
    const json = await registry.getMetricsAsJSON();
    const pressure = json.find((metric) => metric.name === 'svc_tasks_rejected_total');
    expect(pressure?.values.find((v) => v.labels.reason === 'pressure' && v.labels.scope === 'main')?.value).toBe(2);
    // A second registration of the same names fails plainly; another prefix does not.
    expect(() => registerMetrics(pool, { registry, prefix: 'svc_' })).toThrow(/svc_memory_used_bytes is already registered/);
    registerMetrics(pool, { registry, prefix: 'other_' });
    registered.unregister();
    expect((await registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('svc_'))).toEqual([]);
  });

  it("OpenMetrics: every metric family has one name (a gauge never shares a counter's base name)", async () => {
    const pool = makePool({ memoryLimit: false });
    const registry = new Registry();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    registerMetrics(pool, { registry });
    await pool.run(1, { name: 'sleep' });
    const families = (await registry.metrics()).split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
    expect(families.length).toBeGreaterThan(10);
    expect(new Set(families).size).toBe(families.length);
  });

  it('bad arguments are refused naming the option', () => {
    const pool = makePool({ memoryLimit: false });
    expect(() => registerMetrics(null as never)).toThrow(/pool must be a GatedPool, got null/);
    expect(() => registerMetrics(pool, 5 as never)).toThrow(/options must be an object, got 5/);
    expect(() => registerMetrics(pool, { regsitry: new Registry() } as never)).toThrow(/unknown option 'regsitry'/);
    expect(() => registerMetrics(pool, { registry: {} as never })).toThrow(/options\.registry must be a prom-client Registry/);
    expect(() => registerMetrics(pool, { prefix: '1x' })).toThrow(/options\.prefix .* got "1x"/);
    expect(() => registerMetrics(pool, { labels: { scope: 'x' } })).toThrow(/'scope' cannot be a label name/);
    expect(() => registerMetrics(pool, { labels: { pool: 5 as never } })).toThrow(/options\.labels\.pool must be a string, got 5/);
  });
});
