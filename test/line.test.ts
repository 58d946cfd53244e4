// The pool's own line to each worker: how a worker waits between tasks (Piscina's `atomics`),
// tasks in flight while it waits, and the timing figures the pool keeps in Piscina's place.
import { afterEach, describe, expect, it } from 'vitest';
import { Piscina } from 'piscina';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const pools: { destroy(): Promise<void> }[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 1, maxThreads: 1, ...options });
  pools.push(pool);
  return pool;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe("how a worker waits for its next task (Piscina's atomics)", () => {
  it("'sync' (the default): a timer a task left behind waits while the worker waits, as with Piscina", async () => {
    const piscina = new Piscina({ filename: tasks, minThreads: 1, maxThreads: 1 });
    pools.push(piscina);
    await piscina.run(20, { name: 'leaveTimer' });
    await delay(200);
    const piscinaFired = (await piscina.run(null, { name: 'leftTimerFired' })) as boolean;

    const pool = makePool();
    await pool.run(20, { name: 'leaveTimer' });
    await delay(200);
    expect(await pool.run(null, { name: 'leftTimerFired' })).toBe(piscinaFired);
    expect(piscinaFired).toBe(false);
    expectAllSettled(pool, 2);
  });

  it.each(['async', 'disabled'] as const)("'%s': the worker's event loop turns while it waits (the timer fires)", async (atomics) => {
    const pool = makePool({ atomics });
    await pool.run(20, { name: 'leaveTimer' });
    await delay(200);
    expect(await pool.run(null, { name: 'leftTimerFired' })).toBe(true);
    expectAllSettled(pool, 2);
  });

  it.each(['sync', 'async', 'disabled'] as const)("'%s': async and sync tasks sharing a worker all settle, many times over", async (atomics) => {
    const pool = makePool({ atomics, concurrentTasksPerWorker: 3 });
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      runs.push(i % 3 === 0 ? pool.run(5, { name: 'sleep' }) : pool.run(i));
    }
    const out = await settleAll(runs);
    for (let i = 0; i < 60; i++) if (i % 3 !== 0) expect(out[i]).toBe(i);
    expectAllSettled(pool, 60);
  });
});

describe("Piscina's timing figures, kept by the pool", () => {
  it('a wait time counts the time a task was held; a run time, from its start to its answer', async () => {
    const pool = makePool({ autoStart: false });
    const held = pool.run(50, { name: 'sleep' });
    await delay(150);
    pool.start();
    await held;
    const { waitTime, runTime } = pool.histogram;
    expect(waitTime.max).toBeGreaterThanOrEqual(140);
    expect(runTime.max).toBeGreaterThanOrEqual(45);
    expect(pool.utilization).toBeGreaterThan(0);
    pool.histogram.resetWaitTime();
    expect(pool.histogram.waitTime.max).toBe(0);
    expectAllSettled(pool, 1);
  });

  it('recordTiming: false records nothing, as Piscina', async () => {
    const pool = makePool({ recordTiming: false });
    await pool.run(1);
    expect(pool.histogram.runTime).toBeUndefined();
    expect(pool.utilization).toBe(0);
    expectAllSettled(pool, 1);
  });
});
