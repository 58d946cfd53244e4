// The reservation ledger and the warm footprints, on their own: what a charge reserves where,
// released once, and what a warm run is charged in the process.
import { describe, expect, it } from 'vitest';
import { Ledger, type Account } from '../src/accounting/ledger.js';
import { WarmFootprints } from '../src/accounting/warm-footprints.js';

const MB = 2 ** 20;
const account = (): Account => ({ reserved: 0, processReserved: { heap: 0, external: 0 } });

describe('ledger', () => {
  it('charges the worker, the main isolate and the process in full, and releases once', () => {
    const ledger = new Ledger();
    const worker = account();
    const charge = ledger.charge({ heap: 10 * MB, main: 10 * MB, external: 30 * MB }, worker);
    expect([ledger.open, ledger.main, ledger.process]).toEqual([1, 10 * MB, 40 * MB]);
    expect(worker).toEqual({ reserved: 10 * MB, processReserved: { heap: 10 * MB, external: 30 * MB } });
    expect(charge.surprise).toBe(0);
    expect(ledger.release(charge)).toBe(true);
    expect(ledger.release(charge)).toBe(false);
    expect([ledger.open, ledger.main, ledger.process]).toEqual([0, 0, 0]);
    expect(worker).toEqual({ reserved: 0, processReserved: { heap: 0, external: 0 } });
  });

  it('a warm charge reserves its warm need in the process (heap first), its worker in full, and records the shortfall', () => {
    const ledger = new Ledger();
    const worker = account();
    const charge = ledger.charge({ heap: 10 * MB, main: 0, external: 30 * MB }, undefined, 14 * MB);
    ledger.place(charge, worker);
    expect(ledger.process).toBe(14 * MB);
    expect(worker).toEqual({ reserved: 10 * MB, processReserved: { heap: 10 * MB, external: 4 * MB } });
    expect(charge.surprise).toBe(26 * MB);
    const small = ledger.charge({ heap: 10 * MB, main: 0, external: 30 * MB }, undefined, 6 * MB);
    expect([small.processHeap, small.external, small.surprise]).toEqual([6 * MB, 0, 34 * MB]);
    // What the open warm charges count on reusing, in all.
    expect(ledger.surprise).toBe(60 * MB);
    ledger.release(charge);
    ledger.release(charge);
    expect(ledger.surprise).toBe(34 * MB);
    ledger.release(small);
    expect([ledger.open, ledger.process, ledger.surprise]).toEqual([0, 0, 0]);
    expect(worker).toEqual({ reserved: 0, processReserved: { heap: 0, external: 0 } });
  });
});

describe('warm footprints', () => {
  it('knows nothing before a warm run, then reserves the decaying peak fraction of a run\'s full need, with a margin', () => {
    const footprints = new WarmFootprints();
    expect(footprints.need('job', 200 * MB)).toBeUndefined();
    footprints.record('job', 80 * MB, 200 * MB);
    expect(footprints.need('job', 200 * MB)).toBe(100 * MB);
    footprints.record('job', 40 * MB, 200 * MB);
    expect(footprints.need('job', 200 * MB)).toBeCloseTo(200 * MB * 0.36 * 1.25, -1);
    footprints.record('job', 120 * MB, 200 * MB);
    expect(footprints.need('job', 200 * MB)).toBe(150 * MB);
  });

  it('charges a larger run of the name in proportion, not the bytes small runs made resident', () => {
    const footprints = new WarmFootprints();
    // Small runs that reuse nothing (they fault what they use): a run 20 times larger is charged its full need and more.
    footprints.record('fill', 5.5 * MB, 5 * MB);
    expect(footprints.need('fill', 81 * MB)).toBeGreaterThanOrEqual(81 * MB);
    expect(footprints.snapshot()).toEqual({ fill: 1.375 });
  });

  it('ignores what was not measured', () => {
    const footprints = new WarmFootprints();
    footprints.record('job', Number.NaN, MB);
    footprints.record('job', -1, MB);
    footprints.record('job', MB, 0);
    expect(footprints.need('job', MB)).toBeUndefined();
  });
});
