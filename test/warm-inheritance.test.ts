// Which worker is warm for a task name (see accounting/warm-footprints.ts): a worker is warm for the
// names that ran on it, and a worker started takes the arena of the last worker that exited (glibc
// hands a finished thread's arena to the next thread, the last on top). Bookkeeping only: threads
// are stand-ins with a thread id, as the registry reads nothing else of them here.
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WorkerRegistry } from '../src/placement/workers.js';
import { Board } from '../src/readings/board.js';

const MiB = 2 ** 20;

function thread(id: number): Worker {
  return Object.assign(new EventEmitter(), { threadId: id }) as unknown as Worker;
}

function registry(): WorkerRegistry {
  return new WorkerRegistry(new Board(8), { high: 0.9, low: 0.8 }, 1, 64 * MiB, { onPressure: () => undefined, onSample: () => undefined, answer: () => undefined });
}

describe('warm workers: what a worker started inherits', () => {
  it('a worker started after one that ran a name exited is warm for it', () => {
    const workers = registry();
    const first = workers.add(thread(1))!;
    workers.ranOn(first, 'job', 100 * MiB);
    expect(workers.spawnWarm('job', 100 * MiB)).toBe(false);
    workers.remove(1);
    expect(workers.spawnWarm('job', 100 * MiB)).toBe(true);
    expect(workers.add(thread(2))!.warmFor.has('job')).toBe(true);
    expect(workers.spawnWarm('job', 100 * MiB)).toBe(false);
  });

  it('a worker that ran nothing and exited last hands on an arena with nothing in it: the next worker is not warm', () => {
    const workers = registry();
    const ran = workers.add(thread(1))!;
    workers.ranOn(ran, 'job', 100 * MiB);
    workers.add(thread(2));
    workers.remove(1);
    workers.remove(2);
    // Thread 2's arena is on top: a worker started now takes it (before the fix: counted warm).
    expect(workers.spawnWarm('job', 100 * MiB)).toBe(false);
    expect(workers.add(thread(3))!.warmFor.has('job')).toBe(false);
    // Then thread 1's.
    expect(workers.spawnWarm('job', 100 * MiB)).toBe(true);
    expect(workers.add(thread(4))!.warmFor.has('job')).toBe(true);
  });
});

describe('warm workers: warm for runs up to the largest that ran there', () => {
  // Found by a new user's workload (2026-12-01): a name's small runs made its workers warm, and four
  // 80 MiB runs of it were then each charged the small runs' warm need (~5 MiB) in a 256 MiB
  // container, and all four started: the kernel killed the process. An arena holds what the runs
  // on it freed; a larger run has to make new memory resident.
  it('a worker that ran a name at 4 MiB is not warm for it at 80 MiB, and is at 4 MiB', () => {
    const workers = registry();
    const worker = workers.add(thread(1))!;
    workers.ranOn(worker, 'fill', 4 * MiB);
    expect(workers.reading(worker, false, true, 'fill', 80 * MiB).warm).toBe(false);
    expect(workers.reading(worker, false, true, 'fill', 4 * MiB).warm).toBe(true);
    // A larger run there makes it warm up to that size; a smaller one later does not lower it.
    workers.ranOn(worker, 'fill', 96 * MiB);
    workers.ranOn(worker, 'fill', 4 * MiB);
    expect(workers.reading(worker, false, true, 'fill', 80 * MiB).warm).toBe(true);
  });

  // Found by review: with a tolerance above the largest run, a run 1.25 × larger was charged the
  // warm fraction of its whole need although the difference had to be made resident anew.
  it('warm only up to the largest run that finished there, not a byte more', () => {
    const workers = registry();
    const worker = workers.add(thread(1))!;
    workers.ranOn(worker, 'fill', 64 * MiB);
    expect(workers.reading(worker, false, true, 'fill', 64 * MiB).warm).toBe(true);
    expect(workers.reading(worker, false, true, 'fill', 64 * MiB + 1).warm).toBe(false);
  });

  it('a worker started inherits the sizes with the names', () => {
    const workers = registry();
    workers.ranOn(workers.add(thread(1))!, 'fill', 4 * MiB);
    workers.remove(1);
    expect(workers.spawnWarm('fill', 80 * MiB)).toBe(false);
    expect(workers.spawnWarm('fill', 4 * MiB)).toBe(true);
  });

  it("garbage its own last run of the name left keeps a worker warm for that name (a run there reuses it in place); garbage another name left, or a task running, does not", () => {
    const board = new Board(8);
    const workers = new WorkerRegistry(board, { high: 0.9, low: 0.8 }, 2, 64 * MiB, { onPressure: () => undefined, onSample: () => undefined, answer: () => undefined });
    const worker = workers.add(thread(1))!;
    workers.ranOn(worker, 'fill', 64 * MiB);
    workers.ranOn(worker, 'other', 64 * MiB);
    worker.lastRun = 'fill';
    const slot = board.claim(1);
    const reading = { used: 8 * MiB, live: 8 * MiB, retained: 8 * MiB, limit: 64 * MiB, external: 80 * MiB, majorGcs: 1, collections: 0, fresh: 8 * MiB, updatedAt: Date.now(), leftovers: 70 * MiB };
    board.write(slot, reading);
    // Its last run was of 'fill': its garbage is room for the next run of 'fill' there.
    expect(workers.reading(worker, false, true, 'fill', 64 * MiB).warm).toBe(true);
    expect(workers.inPlace('fill')).toEqual({ worker, leftovers: 70 * MiB });
    // The garbage is 'fill''s: not warm for 'other' while it is there.
    expect(workers.isWarm(worker, 'other', 64 * MiB)).toBe(false);
    expect(workers.inPlace('other')).toBeUndefined();
    // A task that did not complete ended there since (it may have left it): in place for nobody.
    worker.lastRun = undefined;
    expect(workers.isWarm(worker, 'fill', 64 * MiB)).toBe(false);
    expect(workers.inPlace('fill')).toBeUndefined();
    // Collected: warm for both, in place for neither.
    worker.lastRun = 'fill';
    board.write(slot, { ...reading, external: 1 * MiB, leftovers: 0 });
    expect(workers.isWarm(worker, 'fill', 64 * MiB)).toBe(true);
    expect(workers.isWarm(worker, 'other', 64 * MiB)).toBe(true);
    expect(workers.inPlace('fill')).toBeUndefined();
    // Running a task: neither.
    board.write(slot, reading);
    worker.running = 1;
    expect(workers.isWarm(worker, 'fill', 64 * MiB)).toBe(false);
    expect(workers.inPlace('fill')).toBeUndefined();
  });
});
