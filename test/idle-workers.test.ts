// Piscina's `idleTimeout`, kept by the pool: idle workers above `minThreads` are reaped after
// `idleTimeout`, never while tasks are held (Piscina never reaps a worker while its own queue has
// work; heapgate holds that work itself). Real Piscina, real workers; worker starts and stops are
// read from the pool's `workerCreate`/`workerDestroy` events and `threads`.
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const pools: GatedPool[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 0, maxThreads: 2, slowStart: false, memoryLimit: false, ...options });
  pools.push(pool);
  return pool;
}

/** Runs two overlapping sleeps, so that two workers are started; resolves when both are done. */
async function warmTwoWorkers(pool: GatedPool): Promise<void> {
  await settleAll([pool.run(150, { name: 'sleep' }), pool.run(150, { name: 'sleep' })]);
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe('idle workers (idleTimeout)', () => {
  it('a spawn Piscina offers to a worker whose task has just answered is placed there, not taken back (no extra worker)', async () => {
    // The pool's module takes ~300 ms to load, so a worker started for the spawn is still starting
    // when the sleep on the first worker answers. Piscina offers the spawn to that worker before
    // the pool has seen the answer; taken back there, Piscina started one more worker for it.
    const slow = new URL('./fixtures/slow-load.mjs', import.meta.url).href;
    const pool = makePool({ filename: slow, minThreads: 1, maxThreads: 3 });
    await pool.run(1);
    let created = 0;
    pool.on('workerCreate', () => created++);
    const first = pool.run(100, { filename: tasks, name: 'sleep' });
    const spawned = pool.run(1, { filename: tasks, name: 'sleep' });
    await settleAll([first, spawned]);
    // Piscina's thread list holds the workers still starting: the one for the spawn, and no other.
    expect(pool.threads.length).toBe(2);
    // Waited for, not timed: a loaded machine may take well over the module's 300 ms to start it.
    for (let look = 0; look < 200 && created === 0; look++) await delay(25);
    await delay(300);
    expect(created).toBe(1);
    expectAllSettled(pool, 3);
  });

  it('a burst submitted right after construction starts one worker per task beyond the first, no more', async () => {
    // Piscina announces its first workers a microtask after construction and offers its queue to
    // each; a spawn sent before that was offered to a worker already busy with a task the gate placed
    // there, declined, and Piscina started another worker for it (4 workers for 2 tasks, 2 reaped).
    const pool = makePool({ minThreads: 1, maxThreads: 4 });
    let created = 0;
    pool.on('workerCreate', () => created++);
    await settleAll([pool.run(200, { name: 'sleep' }), pool.run(200, { name: 'sleep' })]);
    expect(created).toBe(2);
    expectAllSettled(pool, 2);
  });

  it('keeps every worker while a task is held, and reaps the idle ones above minThreads once none is (idleTimeout 0, as Piscina)', async () => {
    const pool = makePool();
    let destroyed = 0;
    pool.on('workerDestroy', () => destroyed++);
    const first = [pool.run(150, { name: 'sleep' }), pool.run(150, { name: 'sleep' })];
    // Held (the pool is paused): both workers stay once their tasks are done, however long it is held.
    pool.pause();
    const held = pool.run(1, { name: 'sleep' });
    await settleAll(first);
    await delay(300);
    expect(pool.size).toBe(1);
    expect(pool.threads.length).toBe(2);
    expect(destroyed).toBe(0);
    pool.start();
    await held;
    // Nothing held or running: both are reaped (minThreads 0).
    await vi.waitFor(() => expect(pool.threads.length).toBe(0), { timeout: 5000 });
    expect(destroyed).toBe(2);
    expect(pool.stats().counters.reaped).toBe(2);
    expectAllSettled(pool, 3);
  });

  it('reaps no further than minThreads', async () => {
    const pool = makePool({ minThreads: 1 });
    await warmTwoWorkers(pool);
    await vi.waitFor(() => expect(pool.threads.length).toBe(1), { timeout: 5000 });
    await delay(200);
    expect(pool.threads.length).toBe(1);
  });

  it('waits idleTimeout before reaping, and never reaps with idleTimeout Infinity', async () => {
    const timed = makePool({ idleTimeout: 60_000 });
    const never = makePool({ idleTimeout: Infinity });
    await Promise.all([warmTwoWorkers(timed), warmTwoWorkers(never)]);
    await delay(300);
    expect(timed.threads.length).toBe(2);
    expect(never.threads.length).toBe(2);
    expect(timed.options.idleTimeout).toBe(60_000);
    expect(never.options.idleTimeout).toBe(Infinity);
  });

  it('a worker is reaped only after idleTimeout since its last task, however often it worked before', async () => {
    // Found by a trial: the time a worker was first seen idle outlived the tasks placed on it
    // afterwards, and a worker busy every 100 ms was reaped at its first idle deadline (4 workers
    // started for 12 short tasks with idleTimeout 300; Piscina starts 1).
    const pool = makePool({ idleTimeout: 300 });
    let created = 0;
    let destroyed = 0;
    pool.on('workerCreate', () => created++);
    pool.on('workerDestroy', () => destroyed++);
    for (let round = 0; round < 10; round++) {
      await pool.run(20, { name: 'sleep' });
      await delay(100);
    }
    expect(created).toBe(1);
    expect(destroyed).toBe(0);
    await vi.waitFor(() => expect(pool.threads.length).toBe(0), { timeout: 5000 });
  });

  it('workers kept for held tasks are reaped once the last held task leaves unrun (clear, abort, timeout)', async () => {
    // Found by a trial: the reaper looked again only after a pump, and a queue emptied by clear()
    // kept its workers until some unrelated event.
    const pool = makePool({ maxThreads: 3, idleTimeout: 100 });
    const first = [1, 2, 3].map(() => pool.run(50, { name: 'sleep' }));
    pool.pause();
    const held = [pool.run(1, { name: 'sleep' }), pool.run(1, { name: 'sleep' })];
    await settleAll(first);
    await delay(200);
    expect(pool.threads.length).toBe(3);
    pool.clear();
    await settleAll(held);
    // Reaped by its own timer (idleTimeout 100): within 2 s, not at whatever event comes next.
    await vi.waitFor(() => expect(pool.threads.length).toBe(0), { timeout: 2000 });
    expectAllSettled(pool, 5);
  });

  it("close() stopping the workers is not a 'workerExit' (the pool asked), and closed is true from the call", async () => {
    // Found by a trial (older than the reaper): close() stopped an idle pool's workers before its
    // own flag was set, so they were reported as exits nobody asked for.
    const pool = makePool({ minThreads: 1 });
    const exits: boolean[] = [];
    pool.on('workerExit', () => exits.push(pool.closed));
    await pool.run(1, { name: 'sleep' });
    await pool.close();
    expect(exits).toEqual([]);
  });

  it("reports the idleTimeout it was given, or Piscina's default (0)", () => {
    expect(makePool().options.idleTimeout).toBe(0);
    expect(makePool({ idleTimeout: 250 }).options.idleTimeout).toBe(250);
  });

  it("a worker reaped for idleness is reported by 'workerExit' (idle timeout is among its causes)", async () => {
    const pool = makePool();
    const exits: number[] = [];
    pool.on('workerExit', ({ threadId }) => exits.push(threadId));
    await warmTwoWorkers(pool);
    await vi.waitFor(() => expect(pool.threads.length).toBe(0), { timeout: 5000 });
    expect(exits).toHaveLength(2);
  });
});
