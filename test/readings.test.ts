// Readings: the shared board under a real concurrent writer, old-generation limits as isolates
// really have them, and isMemLimitReached() in the main thread and inside a worker.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Piscina } from 'piscina';
import { Board } from '../dist/readings/board.js';
import { oldSpaceFlagBytes } from '../dist/readings/limits.js';
import { isMemLimitReached } from '../dist/index.js';
import { runFixture } from './helpers/child.js';

const MB = 2 ** 20;

describe('board', () => {
  it('claims, writes, reads and releases slots', () => {
    const board = new Board(2);
    expect(board.claim(11)).toBe(0);
    expect(board.claim(12)).toBe(1);
    expect(board.claim(13)).toBe(-1);
    expect(board.claim(11)).toBe(0);
    expect(board.read(12)).toBeUndefined();
    board.write(1, { used: 5, live: undefined, retained: 4, limit: 9, external: 2, majorGcs: 1, collections: 0, fresh: undefined, updatedAt: 77, leftovers: 0 });
    expect(board.read(12)).toEqual({ used: 5, live: undefined, retained: 4, limit: 9, external: 2, majorGcs: 1, collections: 0, fresh: undefined, updatedAt: 77, leftovers: 0 });
    board.write(1, { used: 6, live: 3, retained: 4, limit: 9, external: 2, majorGcs: 2, collections: 1, fresh: 2, updatedAt: 78, leftovers: 5 });
    expect(board.read(12)).toEqual({ used: 6, live: 3, retained: 4, limit: 9, external: 2, majorGcs: 2, collections: 1, fresh: 2, updatedAt: 78, leftovers: 5 });
    board.memoryWanted = true;
    expect(board.memoryWanted).toBe(true);
    expect(board.read(12)?.used).toBe(6);
    board.memoryWanted = false;
    expect(board.memoryWanted).toBe(false);
    board.release(12);
    expect(board.read(12)).toBeUndefined();
    expect(board.claim(13)).toBe(1);
  });

  it('never shows a torn reading while a worker writes concurrently', async () => {
    const board = new Board(4);
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('./fixtures/board-writer.mjs', import.meta.url), { workerData: { buffer: board.buffer, stop } });
    const messages: { slot?: number; writes?: number }[] = [];
    const done = new Promise<void>((resolve) => worker.on('message', (message: { writes?: number }) => (messages.push(message), message.writes !== undefined && resolve())));
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    let reads = 0;
    let torn = 0;
    const until = Date.now() + 300;
    while (Date.now() < until) {
      const reading = board.read(worker.threadId);
      if (!reading) continue;
      reads++;
      const values = [reading.used, reading.live, reading.retained, reading.limit, reading.external, reading.majorGcs, reading.collections, reading.fresh, reading.updatedAt];
      if (values.some((value) => value !== reading.used)) torn++;
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    await done;
    await worker.terminate();
    console.log(`board: ${reads} reads against ${messages.at(-1)?.writes} concurrent writes, ${torn} torn`);
    expect(reads).toBeGreaterThan(1000);
    expect(torn).toBe(0);
  });
});

describe('old-generation limits', () => {
  it('parses --max-old-space-size from execArgv and NODE_OPTIONS, the last one winning', () => {
    expect(oldSpaceFlagBytes([], '')).toBeUndefined();
    expect(oldSpaceFlagBytes(['--max-old-space-size=128'], '')).toBe(128 * MB);
    expect(oldSpaceFlagBytes(['--max_old_space_size=64'], '--max-old-space-size=300')).toBe(64 * MB);
    expect(oldSpaceFlagBytes([], '--inspect --max-old-space-size=300')).toBe(300 * MB);
  });

  it('a worker derives exactly the limit it asked for, not heap_size_limit', async () => {
    const run = await runFixture<{ limitMb: number }>('run-worker-limit.mjs', ['32']);
    expect(run.json?.limitMb).toBe(32);
  });

  it('a process-wide --max-old-space-size below the worker limit is the limit the worker really has', async () => {
    const run = await runFixture<{ limitMb: number }>('run-worker-limit.mjs', ['256'], ['--max-old-space-size=96']);
    expect(run.json?.limitMb).toBe(96);
  });

  it('a process-wide --max-old-space-size above the worker limit keeps the smaller one asked for', async () => {
    const run = await runFixture<{ limitMb: number }>('run-worker-limit.mjs', ['32'], ['--max-old-space-size=128']);
    expect(run.json?.limitMb).toBe(32);
  });
});

describe('young-generation survival rate', () => {
  it('is high while fresh data is kept and low while only garbage is made', async () => {
    const run = await runFixture<{ whileKeeping: number; whileChurning: number }>('run-survival.mjs');
    console.log('young survival:', run.json);
    expect(run.json!.whileKeeping).toBeGreaterThan(0.5);
    expect(run.json!.whileChurning).toBeLessThan(0.2);
  });
});

describe('isMemLimitReached()', () => {
  it('in the main thread: false normally, true when the mark is below the heap in use', () => {
    expect(isMemLimitReached()).toBe(false);
    expect(isMemLimitReached({ highWater: 1e-6 })).toBe(true);
    expect(() => isMemLimitReached({ highWater: 2 })).toThrow(RangeError);
  });

  it('inside a worker: follows the live heap against the worker limit', async () => {
    const pool = new Piscina({ filename: new URL('./fixtures/heap-check.mjs', import.meta.url).href, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    try {
      expect(await pool.run(undefined, { name: 'check' })).toBe(false);
      // 53 MiB kept: above the mark (0.85 × 64 MiB) with the worker's own few MiB, and far enough
      // below the limit that filling it does not kill the worker (56 did once, in a full run).
      await pool.run(53, { name: 'retain' });
      expect(await pool.run(undefined, { name: 'check' })).toBe(true);
      await pool.run(undefined, { name: 'release' });
      // Garbage only: after V8 has collected it, the check is clear again.
      let clear = false;
      for (let i = 0; i < 50 && !clear; i++) {
        await pool.run(4, { name: 'retain' });
        await pool.run(undefined, { name: 'release' });
        clear = !(await pool.run(undefined, { name: 'check' }));
      }
      expect(clear).toBe(true);
    } finally {
      await pool.destroy();
    }
  });
});
