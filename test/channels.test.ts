// diagnostics_channel: a subscriber sees what the pool does, task by task, in order; the tracing
// channel wraps run(); nothing is published to a channel nobody subscribes to.
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS, GatedPool, MemoryPressureError, type GatedPoolOptions, type RunContext } from '../dist/index.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const hold = new URL('./fixtures/hold.mjs', import.meta.url).href;
const MB = 2 ** 20;
const pools: GatedPool[] = [];
const unsubscribers: (() => void)[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 2, maxThreads: 2, ...options });
  pools.push(pool);
  return pool;
}

/** Messages published on `name` for `pool` (other pools' messages are left out). */
function record<T extends { pool: object }>(name: string, pool: GatedPool): T[] {
  const seen: T[] = [];
  const listener = (message: unknown): void => {
    if ((message as T).pool === pool) seen.push(message as T);
  };
  diagnosticsChannel.subscribe(name, listener);
  unsubscribers.push(() => diagnosticsChannel.unsubscribe(name, listener));
  return seen;
}

afterEach(async () => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe('diagnostics_channel', () => {
  it("a subscriber sees every task's hold, admit and settle, in that order, once each, numbered in run() order", async () => {
    const pool = makePool();
    const events: { kind: string; taskId: number; name: string; outcome?: string; heldMs?: number }[] = [];
    for (const [kind, name] of [['hold', CHANNELS.hold], ['admit', CHANNELS.admit], ['settle', CHANNELS.settle]] as const) {
      const listener = (message: unknown): void => {
        const m = message as { pool: object; taskId: number; name: string; outcome?: string; heldMs?: number };
        if (m.pool === pool) events.push({ kind, taskId: m.taskId, name: m.name, outcome: m.outcome, heldMs: m.heldMs });
      };
      diagnosticsChannel.subscribe(name, listener);
      unsubscribers.push(() => diagnosticsChannel.unsubscribe(name, listener));
    }
    const runs = Array.from({ length: 40 }, (_, i) => (i % 10 === 9 ? pool.run('boom', { name: 'fail', memory: MB }) : pool.run(i, { name: 'sleep', memory: MB })));
    await settleAll(runs);
    expectAllSettled(pool, 40);
    const ids = [...new Set(events.map((event) => event.taskId))].sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    let held = 0;
    for (const id of ids) {
      const mine = events.filter((event) => event.taskId === id);
      const kinds = mine.map((event) => event.kind);
      // 2 workers, 40 tasks at once: all but the first two wait.
      expect(kinds, `task ${id}`).toEqual(id <= 2 ? ['admit', 'settle'] : ['hold', 'admit', 'settle']);
      if (kinds[0] === 'hold') held++;
      expect(mine.find((event) => event.kind === 'settle')?.outcome).toBe(id % 10 === 0 ? 'failed' : 'completed');
      const admitted = mine.find((event) => event.kind === 'admit');
      expect(admitted?.name).toBe(id % 10 === 0 ? 'fail' : 'sleep');
      if (id > 2) expect(admitted?.heldMs).toBeGreaterThan(0);
      else expect(admitted?.heldMs).toBe(0);
    }
    const { counters } = pool.stats();
    expect(held).toBe(counters.held);
    expect(events.filter((event) => event.kind === 'admit').length).toBe(counters.admitted);
    expect(events.filter((event) => event.outcome === 'failed').length).toBe(counters.failed);
  });

  it('admit and hold carry both needs: heap (`need`) and off-heap (`external`), as the event does', async () => {
    const pool = makePool();
    const seen: { via: string; need: number; external: number }[] = [];
    for (const [via, name] of [['hold', CHANNELS.hold], ['admit', CHANNELS.admit]] as const) {
      const listener = (message: unknown): void => {
        const m = message as { pool: object; need: number; external: number };
        if (m.pool === pool) seen.push({ via, need: m.need, external: m.external });
      };
      diagnosticsChannel.subscribe(name, listener);
      unsubscribers.push(() => diagnosticsChannel.unsubscribe(name, listener));
    }
    pool.on('admit', ({ need, external }) => seen.push({ via: 'admit event', need, external }));
    // More tasks than threads: some are held before they are admitted.
    const runs = Array.from({ length: 6 }, (_, i) => pool.run(i, { name: 'sleep', memory: { heap: MB, external: 2 * MB } }));
    await settleAll(runs);
    expectAllSettled(pool, 6);
    expect(seen.filter(({ via }) => via === 'hold').length).toBeGreaterThan(0);
    expect(seen.filter(({ via }) => via === 'admit event').length).toBe(6);
    for (const event of seen) expect(event).toMatchObject({ need: MB, external: 2 * MB });
  });

  it('refusals: a reject message with the typed error, then a settle with the reason', async () => {
    const pool = makePool({ policy: 'reject', highWater: 0.001, lowWater: 0.0005, memoryLimit: false });
    const rejects = record<{ pool: object; taskId: number; error: unknown; heldMs: number }>(CHANNELS.reject, pool);
    const settles = record<{ pool: object; taskId: number; outcome: string; value: unknown }>(CHANNELS.settle, pool);
    const pressure = record<{ pool: object; scope: string; underPressure: boolean; limit: number }>(CHANNELS.pressure, pool);
    const [error] = await settleAll([pool.run(1)]);
    expect(error).toBeInstanceOf(MemoryPressureError);
    expect(rejects).toEqual([{ pool, taskId: 1, name: 'default', error, heldMs: 0 }]);
    expect(settles).toEqual([{ pool, taskId: 1, name: 'default', outcome: 'rejected.pressure', value: error }]);
    expect(pressure).toEqual([expect.objectContaining({ scope: 'main', underPressure: true, threadId: undefined, limit: pool.stats().main.limit })]);
    expectAllSettled(pool, 1);
  });

  it('worker recycles are published with the worker and its live heap', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, policy: 'wait', highWater: 0.7, lowWater: 0.6, resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const recycles = record<{ pool: object; threadId: number; scope: string; live: number; limit: number }>(CHANNELS.recycle, pool);
    const first = (await pool.run(48, { name: 'keep' })) as number;
    await pool.run(undefined, { name: 'whoami' });
    expect(pool.stats().counters.recycled).toBe(1);
    expect(recycles).toEqual([{ pool, threadId: first, scope: 'worker', live: expect.any(Number), limit: expect.any(Number) }]);
    expect(recycles[0]!.live).toBeGreaterThan(0.7 * recycles[0]!.limit);
    expectAllSettled(pool, 2);
  });

  it('the tracing channel wraps run(): start with the pool and name, then asyncEnd with the result or error', async () => {
    const pool = makePool();
    const seen: string[] = [];
    const handlers = {
      start: (context: RunContext) => context.pool === pool && seen.push(`start ${context.name}`),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (context: RunContext) => context.pool === pool && seen.push(`asyncEnd ${context.name} ${'error' in context ? `error ${(context.error as Error).message}` : `result ${String(context.result)}`}`),
      error: (context: RunContext) => context.pool === pool && seen.push(`error ${context.name}`),
    };
    const channel = diagnosticsChannel.tracingChannel(CHANNELS.run);
    channel.subscribe(handlers as never);
    unsubscribers.push(() => channel.unsubscribe(handlers as never));
    expect(await pool.run({ a: 1, b: 2 }, { name: 'add', memory: MB })).toBe(3);
    await settleAll([pool.run('nope', { name: 'fail', memory: MB })]);
    expect(seen).toEqual(['start add', 'asyncEnd add result 3', 'start fail', 'error fail', 'asyncEnd fail error nope']);
    expectAllSettled(pool, 2);
  });

  it('with no subscriber nothing is published: the channels report none', () => {
    for (const name of [CHANNELS.admit, CHANNELS.hold, CHANNELS.reject, CHANNELS.settle, CHANNELS.pressure, CHANNELS.recycle]) {
      expect(diagnosticsChannel.hasSubscribers(name), name).toBe(false);
    }
  });
});
