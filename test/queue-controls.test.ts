// p-queue's controls on GatedPool, with real Piscina and real workers: priority, pause/start,
// onEmpty/onIdle/onSizeLessThan, size/pending, clear, abort while queued, and the starvation rule
// (a task that cannot start for memory is overtaken for `overtakeMs`, then waited for). Orders are
// read from the pool's own 'admit' events and counters, not from promise timings.
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, GatedPool, QueueClearedError, type GatedPoolOptions } from '../dist/index.js';
import { runFixture } from './helpers/child.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const MiB = 2 ** 20;
const pools: GatedPool[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 1, maxThreads: 1, memoryLimit: false, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe("p-queue's controls", () => {
  it('priority: higher first, equal priorities in the order submitted', async () => {
    const pool = makePool({ autoStart: false });
    const started: number[] = [];
    pool.on('admit', ({ need }) => started.push(need));
    // The declared need tells the tasks apart in 'admit' events.
    const submitted: [id: number, priority: number | undefined][] = [[1, undefined], [2, 5], [3, 0], [4, 10], [5, 5], [6, -1], [7, 10]];
    const runs = submitted.map(([id, priority]) => pool.run(1, { name: 'sleep', memory: id * 1024, ...(priority === undefined ? {} : { priority }) }));
    expect(pool.size).toBe(7);
    expect(pool.pending).toBe(0);
    pool.start();
    await settleAll(runs);
    expect(started.map((need) => need / 1024)).toEqual([4, 7, 2, 5, 1, 3, 6]);
    expectAllSettled(pool, 7);
  });

  it('pause() stops starting tasks while running ones finish; start() resumes; isPaused says which', async () => {
    const pool = makePool({ maxThreads: 2 });
    const first = pool.run(150, { name: 'sleep' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    pool.pause();
    expect(pool.isPaused).toBe(true);
    const later = [pool.run(1, { name: 'sleep' }), pool.run(2, { name: 'sleep' })];
    expect(pool.pending).toBe(1);
    expect(pool.size).toBe(2);
    expect(await first).toBe(150);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pool.size).toBe(2);
    expect(pool.stats().counters.admitted).toBe(1);
    expect(pool.start()).toBe(pool);
    expect(pool.isPaused).toBe(false);
    expect(await Promise.all(later)).toEqual([1, 2]);
    expectAllSettled(pool, 3);
  });

  it('pause() does not hold back tasks admitted before it (workers being started for them): they run and settle', async () => {
    // A cold burst: each task goes to a worker started for it; the first worker ready is offered
    // both, takes one, and the other is taken back to wait for the second worker. Before the fix
    // that taken-back task waited for start() (this test timed out).
    const pool = makePool({ minThreads: 0, maxThreads: 2, slowStart: false });
    const admitted = [pool.run(100, { name: 'sleep' }), pool.run(100, { name: 'sleep' })];
    pool.pause();
    const later = pool.run(1, { name: 'sleep' });
    expect(await settleAll(admitted)).toEqual([100, 100]);
    expect(pool.size).toBe(1);
    pool.start();
    expect(await later).toBe(1);
    expectAllSettled(pool, 3);
  });

  it('onEmpty, onSizeLessThan and onIdle resolve when the queue gets there, at once when it is there already', async () => {
    const pool = makePool({ autoStart: false });
    await pool.onIdle();
    await pool.onEmpty();
    await pool.onSizeLessThan(1);
    const runs = [80, 80, 80, 80].map((ms) => pool.run(ms, { name: 'sleep' }));
    const seen: string[] = [];
    const states: Record<string, { size: number; pending: number }> = {};
    const note = (what: string) => () => {
      seen.push(what);
      states[what] = { size: pool.size, pending: pool.pending };
    };
    const waits = [pool.onIdle().then(note('idle')), pool.onEmpty().then(note('empty')), pool.onSizeLessThan(3).then(note('size<3'))];
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual([]);
    pool.start();
    await Promise.all(waits);
    expect(seen).toEqual(['size<3', 'empty', 'idle']);
    expect(states['size<3']).toEqual({ size: 2, pending: 1 });
    expect(states.empty).toEqual({ size: 0, pending: 1 });
    expect(states.idle).toEqual({ size: 0, pending: 0 });
    await settleAll(runs);
    expectAllSettled(pool, 4);
    await expect(pool.onSizeLessThan(Number.NaN)).rejects.toThrow(RangeError);
    await expect(pool.onSizeLessThan('3' as never)).rejects.toThrow(TypeError);
    // No queue is shorter than empty: a promise that could never settle is refused.
    await expect(pool.onSizeLessThan(0)).rejects.toThrow(/limit must be at least 1 .*got 0/);
    await expect(pool.onSizeLessThan(-1)).rejects.toThrow(RangeError);
  });

  // Found by a new user's trial (2026-12-02): a task that left the queue for a worker started in
  // place of one that died (abort, crash) was neither waiting nor running for a moment, and onIdle()
  // resolved then, with it still to run.
  it.each(['abort', 'crash'])('onIdle() waits for the task that goes to a new worker after a running one ends its worker (%s)', async (how) => {
    const pool = makePool();
    const controller = new AbortController();
    const first = how === 'abort' ? pool.run(2000, { name: 'sleep', memory: MiB, signal: controller.signal }) : pool.run(1, { name: 'exit', memory: MiB });
    const second = pool.run(50, { name: 'sleep', memory: MiB });
    const settled = settleAll([first, second]);
    expect(pool.size).toBe(1);
    if (how === 'abort') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
    }
    await pool.onIdle();
    expect({ size: pool.size, pending: pool.pending }).toEqual({ size: 0, pending: 0 });
    expect(pool.stats().counters).toMatchObject({ completed: 1, settled: 2 });
    await settled;
    expectAllSettled(pool, 2);
  });

  it('clear() rejects every waiting task with QueueClearedError; running tasks finish', async () => {
    const pool = makePool();
    const running = pool.run(100, { name: 'sleep' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiting = [pool.run(1, { name: 'sleep' }), pool.run(2, { name: 'sleep', priority: 3 }), pool.run(3, { name: 'sleep' })];
    expect(pool.size).toBe(3);
    pool.clear();
    expect(pool.size).toBe(0);
    const out = await settleAll(waiting);
    for (const error of out) {
      expect(error).toBeInstanceOf(QueueClearedError);
      expect((error as QueueClearedError).code).toBe('ERR_QUEUE_CLEARED');
    }
    expect(await running).toBe(100);
    expect(pool.stats().counters.rejected.cleared).toBe(3);
    expect(pool.stats().counters.admitted).toBe(1);
    expectAllSettled(pool, 4);
  });

  it('a task aborted while it waits rejects with AbortError and never runs; the others keep their order', async () => {
    const pool = makePool({ autoStart: false });
    const controller = new AbortController();
    const started: number[] = [];
    pool.on('admit', ({ need }) => started.push(need / 1024));
    const runs = [pool.run(1, { name: 'sleep', memory: 1024 }), pool.run(1, { name: 'sleep', memory: 2048, signal: controller.signal }), pool.run(1, { name: 'sleep', memory: 3072 })];
    controller.abort();
    pool.start();
    const out = await settleAll(runs);
    expect(out[1]).toBeInstanceOf(AbortError);
    expect(started).toEqual([1, 3]);
    expect(pool.stats().counters.rejected.aborted).toBe(1);
    expectAllSettled(pool, 3);
  });

  it('close() starts a paused pool and finishes what waits', async () => {
    const pool = makePool({ autoStart: false });
    const runs = [pool.run(1, { name: 'sleep' }), pool.run(2, { name: 'sleep' })];
    await pool.close();
    expect(await Promise.all(runs)).toEqual([1, 2]);
    expectAllSettled(pool, 2);
  });

  it('refuses a wrong priority, autoStart or overtakeMs, naming it', async () => {
    const pool = makePool();
    await expect(pool.run(1, { priority: '1' as never })).rejects.toThrow(/run options\.priority must be a number, got "1"/);
    await expect(pool.run(1, { priority: Number.NaN })).rejects.toThrow(RangeError);
    await expect(pool.run(1, { priority: Infinity })).rejects.toThrow(/run options\.priority must be finite/);
    expect(() => new GatedPool({ filename: tasks, autoStart: 'yes' as never })).toThrow(/options\.autoStart/);
    expect(() => new GatedPool({ filename: tasks, overtakeMs: -1 })).toThrow(/options\.overtakeMs must be >= 0, got -1/);
    expect(() => new GatedPool({ filename: tasks, overtakeMs: null as never })).toThrow(TypeError);
    // Refused before they were submitted: nothing to count.
    expectAllSettled(pool, 0);
  });
});

describe('order and starvation', () => {
  // One worker running up to 4 tasks, 64 MB of heap (the mark: 0.85 × 64 MiB). A holder reserves
  // 30 MiB on it; the large task (40 MiB) cannot join it, a small one (1–2 MiB) can.
  async function scenario(overtakeMs: number): Promise<number[]> {
    const pool = makePool({ concurrentTasksPerWorker: 4, resourceLimits: { maxOldGenerationSizeMb: 64 }, overtakeMs, maxWaitMs: Infinity });
    await pool.run(1, { name: 'sleep' }); // the worker is up and has published its readings
    const started: number[] = [];
    pool.on('admit', ({ need }) => started.push(need / MiB));
    const holder = pool.run(700, { name: 'sleep', memory: 30 * MiB });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const large = pool.run(10, { name: 'sleep', memory: 40 * MiB });
    const smallEarly = pool.run(10, { name: 'sleep', memory: 1 * MiB });
    await new Promise((resolve) => setTimeout(resolve, 350));
    const smallLate = pool.run(10, { name: 'sleep', memory: 2 * MiB });
    await settleAll([holder, large, smallEarly, smallLate]);
    expectAllSettled(pool, 5);
    return started;
  }

  it('a task that fits starts before a head waiting for memory, for overtakeMs; after that it waits for the head', async () => {
    expect(await scenario(200)).toEqual([30, 1, 40, 2]);
  });

  it('overtakeMs: 0 keeps strict order', async () => {
    expect(await scenario(0)).toEqual([30, 40, 1, 2]);
  });

  it('a head kept out by memory the pool does not own does not hold back tasks that fit, and starts once that memory is gone', async () => {
    const run = await runFixture<{ largeBefore: boolean; largeOutcome: string; smallOutcomes: string[]; waits: (number | null)[]; counters: { submitted: number; settled: number; completed: number }; held: number; running: number; ledger: { open: number } }>('run-overtake.mjs', ['200'], ['--max-old-space-size=128', '--expose-gc']);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json!;
    expect(result.largeBefore).toBe(false);
    expect(result.largeOutcome).toBe('completed');
    expect(result.smallOutcomes.every((outcome) => outcome === 'completed')).toBe(true);
    // At most one window and one small task's run (50 ms) each, with room for a slow machine.
    for (const wait of result.waits) expect(wait).not.toBeNull();
    expect(Math.max(...result.waits.map(Number))).toBeLessThan(600);
    expect(result.counters).toMatchObject({ submitted: 16, settled: 16, completed: 16 });
    expect([result.held, result.running, result.ledger.open]).toEqual([0, 0, 0]);
  });

  // Was: each task that overtook the head stopped the queue's memory clock until the head was
  // decided again, so with tasks overtaking every 60 ms and no poll in between, a head with
  // maxWaitMs 300 timed out after ~1 030 ms.
  it("tasks overtaking a head that waits for memory do not stop its maxWaitMs clock", async () => {
    const run = await runFixture<{ largeOutcome: string; largeSettledAfterMs: number; smallOutcomes: string[] }>('run-overtake.mjs', ['200', '300', '60', '5000'], ['--max-old-space-size=128', '--expose-gc']);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json!;
    expect(result.largeOutcome).toBe('ERR_WAIT_TIMEOUT');
    expect(result.smallOutcomes.every((outcome) => outcome === 'completed')).toBe(true);
    // Its deadline timer fires at 300 ms; allow a slow machine's late timers, not a paused clock.
    expect(result.largeSettledAfterMs).toBeLessThan(600);
  });
});
