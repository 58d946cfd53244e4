// The pool's own line to each worker: how a worker waits between tasks (Piscina's `atomics`),
// tasks in flight while it waits, and the timing figures the pool keeps in Piscina's place.
import { afterEach, describe, expect, it } from 'vitest';
import { Piscina } from 'piscina';
import { GatedPool, WorkerCrashError, type GatedPoolOptions } from '../dist/index.js';
import { WorkerPort } from '../src/placement/worker-port.js';
import { runFixture } from './helpers/child.js';
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

// Found by a review of the line (2026-12-02): each fails on the line's first version (faf12e3).
describe('the line: found by review', () => {
  it('the first run of an unknown name gets a worker started for it when no worker exists, in a tight process (it was refused: the worker\'s own start did not fit beside it)', async () => {
    const MiB = 2 ** 20;
    const pool = makePool({ minThreads: 0, policy: 'reject', memoryLimit: Math.round(process.memoryUsage.rss() + 120 * MiB) });
    expect(await pool.run(7)).toBe(7);
    expectAllSettled(pool, 1);
  });

  it.each(['sync', 'async', 'disabled'] as const)("'%s': everything a task printed reaches stdout (with 'sync' only the first line did)", async (atomics) => {
    const run = await runFixture('log-lines.mjs', [atomics], [], 30_000);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((line) => line.startsWith('line '))).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  });

  it('Piscina.move() of a value with several transferables moves them all, both ways (one was sent as a nested list and refused)', async () => {
    const pool = makePool();
    const moved = (await pool.run(16, { name: 'moveTwoArrays' })) as { a: Uint8Array; b: Uint8Array };
    expect([moved.a.byteLength, moved.b.byteLength, moved.a[0], moved.b[0]]).toEqual([16, 16, 1, 2]);
    const value = {
      a: new Uint8Array(8),
      b: new Uint8Array(8),
      get [GatedPool.transferableSymbol](): ArrayBufferLike[] {
        return [this.a.buffer, this.b.buffer];
      },
      get [GatedPool.valueSymbol](): { a: Uint8Array; b: Uint8Array } {
        return { a: this.a, b: this.b };
      },
    };
    expect(await pool.run(GatedPool.move(value as never), { name: 'lengthsOfTwo' })).toEqual([8, 8]);
    // Transferred, not copied: the caller's buffers are detached.
    expect(value.a.byteLength).toBe(0);
    expectAllSettled(pool, 2);
  });

  it("a task's process reservation stays while its module still loads beside a task that ended (it was counted as in use at once)", async () => {
    const MiB = 2 ** 20;
    const slow = new URL('./fixtures/slow-load.mjs', import.meta.url).href;
    const pool = makePool({ concurrentTasksPerWorker: 2, memoryLimit: 4096 * MiB });
    await pool.run(1, { name: 'sleep', memory: { external: MiB } });
    const first = pool.run(100, { name: 'sleep', memory: { external: 50 * MiB } });
    const loading = pool.run(1, { filename: slow, memory: { external: 50 * MiB } });
    await first;
    // The slow module takes ~300 ms to load after the first task's ~100 ms.
    expect(pool.stats().process?.reserved).toBeGreaterThanOrEqual(50 * MiB);
    await loading;
    expectAllSettled(pool, 3);
  });
});

// Found by a new user's trial (2026-12-02): each failed on the line before its fix.
describe('the line: found by a new user', () => {
  it("a worker that dies under a task keeps the process alive until its exit, when the task fails: the line refs the worker's thread while an answer is awaited, and only then", async () => {
    const calls: string[] = [];
    const port = new WorkerPort<string>(() => calls.push('answered'), 'disabled', { ref: () => calls.push('ref'), unref: () => calls.push('unref') });
    port.send('a', 1, 'key', 1, undefined);
    port.send('b', 2, 'key', 2, undefined);
    expect(calls).toEqual(['ref']);
    expect(port.cancel(1)).toBe(true);
    expect(calls).toEqual(['ref']);
    port.failAll(new Error('worker exited with code: 1'));
    expect(calls).toEqual(['ref', 'unref', 'answered']);
  });

  it("a crash its task ends with is not also the pool's 'error' (as with Piscina)", async () => {
    const pool = makePool();
    const errors: unknown[] = [];
    pool.on('error', (error) => errors.push(error));
    pool.on('workerError', (error) => errors.push(error));
    const [crashed] = await settleAll([pool.run(null, { name: 'crashSoon' })]);
    expect(crashed).toBeInstanceOf(WorkerCrashError);
    expect(await pool.run(3)).toBe(3);
    expect(errors).toEqual([]);
    expectAllSettled(pool, 2);
  });
});
