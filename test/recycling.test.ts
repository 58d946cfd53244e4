// Which idle worker is worth recycling (see placement/hygiene.ts), on injected board readings: one
// the gate's own rule (`fits`) finds unable to take the task once collected, keeping an eighth of
// its limit or more beyond what it carried fresh, where a fresh worker would take the task.
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { fits } from '../src/admission/gate.js';
import { WorkerRegistry } from '../src/placement/workers.js';
import { Board } from '../src/readings/board.js';

const MiB = 2 ** 20;
const high = 0.85;

function thread(id: number): Worker {
  return Object.assign(new EventEmitter(), { threadId: id }) as unknown as Worker;
}

function workerWith(figures: { used: number; live: number; retained: number; fresh: number }): { registry: WorkerRegistry; worker: ReturnType<WorkerRegistry['add']> & object } {
  const board = new Board(4);
  const registry = new WorkerRegistry(board, { high, low: 0.75 }, 1, 64 * MiB, { onPressure: () => undefined, onSample: () => undefined, answer: () => undefined });
  const worker = registry.add(thread(1))!;
  board.write(board.claim(1), { ...figures, limit: 64 * MiB, external: 0, majorGcs: 3, collections: 1, updatedAt: Date.now(), leftovers: 0 });
  return { registry, worker };
}

describe('recycling an idle worker', () => {
  // Found with --expose-gc (the worker's figures moved by a few hundred KiB): a leaky worker,
  // nudged, had live + need just below the mark and retained + need just above it. The gate said
  // it did not fit; recycling asked whether live + need reached the mark, and said no: every task
  // was refused under 'reject' (held until maxWaitMs under 'wait'), forever.
  it('a worker the gate finds unable to take the task is worth recycling, however close to the mark its live heap alone is', () => {
    const { registry, worker } = workerWith({ used: 48.5 * MiB, live: 48.3 * MiB, retained: 48.5 * MiB, fresh: 8 * MiB });
    const need = 6 * MiB;
    expect(48.3 * MiB + need).toBeLessThan(high * 64 * MiB);
    expect(fits(registry.reading(worker), need, high)).toBe(false);
    expect(registry.worthRecycling(worker, need)).toBe(true);
  });

  it('not when the task fits it, nor when it keeps less than an eighth of its limit beyond its fresh heap, nor when a fresh worker could not take the task either', () => {
    const roomy = workerWith({ used: 30 * MiB, live: 30 * MiB, retained: 30 * MiB, fresh: 8 * MiB });
    expect(roomy.registry.worthRecycling(roomy.worker, 6 * MiB)).toBe(false);
    const lean = workerWith({ used: 48.5 * MiB, live: 48.3 * MiB, retained: 48.5 * MiB, fresh: 42 * MiB });
    expect(lean.registry.worthRecycling(lean.worker, 6 * MiB)).toBe(false);
    const huge = workerWith({ used: 48.5 * MiB, live: 48.3 * MiB, retained: 48.5 * MiB, fresh: 8 * MiB });
    expect(huge.registry.worthRecycling(huge.worker, 50 * MiB)).toBe(false);
  });

  it('a hot worker (live at the mark) always is', () => {
    const { registry, worker } = workerWith({ used: 56 * MiB, live: 55 * MiB, retained: 56 * MiB, fresh: 50 * MiB });
    expect(registry.worthRecycling(worker, 1 * MiB)).toBe(true);
  });
});
