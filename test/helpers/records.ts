// Checks on a pool's own records, shared by the test files.
import { expect } from 'vitest';
import type { GatedPool } from '../../dist/index.js';

/** Waits for every promise; returns results or errors in order. */
export async function settleAll(promises: Promise<unknown>[]): Promise<unknown[]> {
  return Promise.all(promises.map((promise) => promise.then((value) => value, (error: unknown) => error)));
}

/**
 * Checks, on the pool's own records, that every task submitted settled exactly once: the count of
 * settlements equals the submissions and the sum of the outcomes, nothing is held or running, and
 * the ledger holds no charge.
 */
export function expectAllSettled(pool: GatedPool, submitted: number): void {
  const { counters, held, running, ledger, workers } = pool.stats();
  const rejected = Object.values(counters.rejected).reduce((sum, count) => sum + count, 0);
  expect(counters.submitted).toBe(submitted);
  expect(counters.settled).toBe(submitted);
  expect(counters.completed + counters.failed + counters.crashed + rejected).toBe(submitted);
  expect(held).toBe(0);
  expect(running).toBe(0);
  expect(ledger).toEqual({ open: 0, main: 0, process: 0 });
  expect(workers.every((worker) => worker.reserved === 0)).toBe(true);
}
