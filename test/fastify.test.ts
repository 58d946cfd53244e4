// heapgate/fastify with a real Fastify server and real HTTP requests: errors mapped to HTTP
// answers (in-process), and readiness and 503s that follow real memory in a real cgroup (a child
// process; skipped with the reason printed where cgroups cannot be made).
import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';
import { heapgate, readiness } from '../dist/integrations/fastify.js';
import { runFixture } from './helpers/child.js';
import { realCgroupSupport, withCgroup } from './helpers/real-cgroup.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const MB = 2 ** 20;
const support = realCgroupSupport();
if (!support.ok) console.log(`skipping the real cgroup readiness test: ${support.reason}`);
const pools: GatedPool[] = [];
const apps: FastifyInstance[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 1, maxThreads: 1, ...options });
  pools.push(pool);
  return pool;
}

async function serve(pool: GatedPool, options: Record<string, unknown> = {}): Promise<string> {
  const app = Fastify();
  apps.push(app);
  app.setErrorHandler((error, _request, reply) => reply.code(418).send({ mine: true, message: (error as Error).message }));
  await app.register(heapgate, { pool, ...options });
  app.get('/run/:name', async (request) => pool.run(1, { name: (request.params as { name: string }).name, memory: Number((request.query as { memory?: string }).memory ?? MB) }));
  return app.listen({ port: 0, host: '127.0.0.1' });
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe('heapgate/fastify', () => {
  it('memory pressure answers 503 with Retry-After from retryAfterMs; a task too large 413; other errors reach the handler set before', async () => {
    // A process limit at what the process holds already: every task meets pressure there.
    const pressed = makePool({ policy: 'reject', memoryLimit: Math.max(64 * MB, process.memoryUsage.rss()), retryAfterMs: 2500 });
    const url = await serve(pressed);
    const busy = await fetch(`${url}/run/echo`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('3');
    expect(await busy.json()).toMatchObject({ statusCode: 503, code: 'ERR_MEMORY_PRESSURE', scope: 'process', retryAfterMs: 2500 });

    const calm = makePool({ resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const calmUrl = await serve(calm);
    expect(await (await fetch(`${calmUrl}/run/default`)).json()).toBe(1);
    const large = await fetch(`${calmUrl}/run/default?memory=${60 * MB}`);
    expect(large.status).toBe(413);
    expect(large.headers.get('retry-after')).toBeNull();
    expect(await large.json()).toMatchObject({ statusCode: 413, code: 'ERR_TASK_TOO_LARGE', scope: 'worker' });
    const failed = await fetch(`${calmUrl}/run/fail`);
    expect(failed.status).toBe(418);
    expect(await failed.json()).toMatchObject({ mine: true });
  });

  it('a full queue answers 503 with the plugin retryAfterMs; the readiness route says why it is not ready', async () => {
    const pool = makePool({ maxQueue: 2, memoryLimit: false });
    const url = await serve(pool, { retryAfterMs: 4000, readiness: { path: '/healthz/ready', queueNearFull: 1 } });
    expect((await fetch(`${url}/healthz/ready`)).status).toBe(200);
    // One runs, two are held: the queue is full.
    const running = [1, 2, 3].map(() => pool.run(300, { name: 'sleep', memory: MB }));
    const full = await fetch(`${url}/run/echo`);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('4');
    expect(await full.json()).toMatchObject({ code: 'ERR_QUEUE_FULL', retryAfterMs: 4000 });
    const notReady = await fetch(`${url}/healthz/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reasons: ['queue 2 of 2'], held: 2, running: 1, maxQueue: 2 });
    await Promise.all(running);
    expect(await (await fetch(`${url}/healthz/ready`)).json()).toEqual({ ready: true, reasons: [], held: 0, running: 0, maxQueue: 2 });
    await pool.close();
    expect(readiness(pool)).toMatchObject({ ready: false, reasons: ['pool closed'] });
  });

  it('readiness says not ready while running tasks reserve the room a new task would need, before any reading shows pressure', async () => {
    // Room for one 200 MiB need (0.85 × (rss + 320 MiB) < rss + 400 MiB); nothing is allocated.
    const pool = makePool({ maxThreads: 2, memoryLimit: process.memoryUsage.rss() + 320 * 2 ** 20 });
    expect(readiness(pool)).toMatchObject({ ready: true, reasons: [] });
    const running = pool.run(500, { name: 'sleep', memory: { external: 200 * 2 ** 20 } });
    const state = readiness(pool);
    expect(state.ready).toBe(false);
    expect(state.reasons).toEqual([expect.stringMatching(/^memory in use or reserved in process scope: \d+ MiB of \d+ MiB$/)]);
    await running;
    expect(readiness(pool)).toMatchObject({ ready: true, reasons: [] });
  });

  // Found by a new user's trial (2026-12-02): the route answered for a task of the pool's default
  // name only, and said ready while almost every request of the service's own tasks got 503.
  it("readiness asks for the service's own tasks when told them", async () => {
    // An idle pool: room for a 60 MiB task, none for a 330 MiB one, which is not too large by the limit.
    const pool = makePool({ maxThreads: 2, memoryLimit: process.memoryUsage.rss() + 320 * 2 ** 20 });
    expect(readiness(pool)).toMatchObject({ ready: true, reasons: [] });
    const tasks = [{ name: 'sleep', memory: { external: 60 * 2 ** 20 } }, { name: 'echo', memory: { external: 330 * 2 ** 20 } }];
    expect(pool.wouldAdmit(tasks[1])).toMatchObject({ admit: false, reason: 'pressure' });
    const state = readiness(pool, 0.9, tasks);
    expect(state.ready).toBe(false);
    expect(state.reasons).toEqual([expect.stringMatching(/^memory in use or reserved in process scope: \d+ MiB of \d+ MiB \(no room for 'echo', 330 MiB\)$/)]);
    const url = await serve(pool, { readiness: { path: '/ready', tasks } });
    const answer = await fetch(`${url}/ready`);
    expect(answer.status).toBe(503);
    expect((await answer.json()) as { reasons: string[] }).toMatchObject({ ready: false, reasons: state.reasons });
    expect(readiness(pool, 0.9, [tasks[0]!])).toMatchObject({ ready: true, reasons: [] });
  });

  it("without the plugin's retryAfterMs, a full queue's Retry-After is the pool's retryAfterMs", async () => {
    const pool = makePool({ maxQueue: 1, memoryLimit: false, retryAfterMs: 2500 });
    const url = await serve(pool);
    const running = [1, 2].map(() => pool.run(300, { name: 'sleep', memory: MB }));
    const full = await fetch(`${url}/run/echo`);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('3');
    expect(await full.json()).toMatchObject({ code: 'ERR_QUEUE_FULL', retryAfterMs: 2500 });
    await Promise.all(running);
  });

  it('bad options are refused at registration, naming the option', async () => {
    const pool = makePool({ memoryLimit: false });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /options\.pool must be a GatedPool/],
      [{ pool, retryAfterMs: -1 }, /options\.retryAfterMs must be a finite number >= 0, got -1/],
      [{ pool, readiness: 'yes' }, /options\.readiness must be a boolean or an object, got yes/],
      [{ pool, readiness: { path: 'ready' } }, /options\.readiness\.path must be a string starting with '\/', got ready/],
      [{ pool, readiness: { queueNearFull: 2 } }, /options\.readiness\.queueNearFull must be a number in \(0, 1\], got 2/],
      [{ pool, readines: true }, /unknown option 'readines'/],
      [{ pool, readiness: { tasks: [] } }, /options\.readiness\.tasks must be a non-empty array/],
      [{ pool, readiness: { tasks: [{ memory: -1 }] } }, /options\.readiness\.tasks\[0\]: .*memory/],
    ];
    for (const [options, message] of cases) {
      const app = Fastify();
      await expect(app.register(heapgate, options as never).ready()).rejects.toThrow(message);
      await app.close().catch(() => undefined);
    }
  });
});

describe.skipIf(!support.ok)('heapgate/fastify in a real cgroup (512 MiB)', () => {
  const location = support.ok ? support.location : undefined;

  it('readiness and the work route turn 503 while a task fills the process past the mark, and back to 200 when it lets go', async () => {
    await withCgroup(location!, 512 * MB, async (cgroup) => {
      const run = await runFixture<Record<string, { status: number; retryAfter: string | null; body: Record<string, unknown> } | undefined>>('http/run-fastify.mjs', ['260'], [], 90_000, cgroup.dir);
      expect(run.code, run.stderr).toBe(0);
      expect(cgroup.oomKills()).toBe(0);
      const seen = run.json!;
      expect(seen.calmWork).toMatchObject({ status: 200 });
      expect(seen.calmReady).toMatchObject({ status: 200, body: { ready: true } });
      expect(seen.pressedReady).toMatchObject({ status: 503, body: { ready: false, reasons: ['memory pressure in process scope'] } });
      expect(seen.pressedWork).toMatchObject({ status: 503, retryAfter: '2', body: { code: 'ERR_MEMORY_PRESSURE', scope: 'process', retryAfterMs: 1500 } });
      expect(seen.release).toMatchObject({ status: 200, body: { length: 260 * MB } });
      expect(seen.recoveredReady).toMatchObject({ status: 200, body: { ready: true } });
      expect(seen.recoveredWork).toMatchObject({ status: 200 });
    });
  }, 120_000);
});
