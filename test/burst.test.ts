// The burst that an instantaneous check lets through: 64 async tasks in one tick, ~40 MiB of JS
// objects each held across awaits, 4 workers with 96 MB heaps and 4 tasks per worker allowed.
// Each contender in its own child process: on Node 24 a worker over its limit in this shape aborts
// the whole process.
import { describe, expect, it } from 'vitest';
import { runFixture, type Outcomes } from './helpers/child.js';

type Burst = Outcomes & {
  contender: string;
  workerOom: number;
  seconds: number;
  warmedUp?: { heap: number; external: number; samples: number };
  counters?: { settled: number; crashed: number; nudges: number; recycled: number };
};
const TASKS = 64;

function died(run: { code: number | null; signal: string | null; json: Burst | undefined }): boolean {
  return run.code === 134 || run.signal === 'SIGABRT' || (run.json !== undefined && (run.json.workerOom > 0 || (run.json.counters?.crashed ?? 0) > 0));
}

describe('burst of 64 tasks holding ~40 MiB each (4 × 96 MB workers, 4 tasks per worker)', () => {
  for (const contender of ['bare', 'unreserved'] as const) {
    it(`${contender === 'bare' ? 'bare Piscina' : 'GatedPool with reservations off (instantaneous check alone)'}: workers die`, async () => {
      const run = await runFixture<Burst>('run-burst.mjs', [contender], [], 170_000);
      console.log(`${contender}: exit ${run.code} ${run.signal ?? ''}`, run.json ?? (run.stderr.includes('heap out of memory') ? '(JavaScript heap out of memory)' : ''));
      expect(died(run)).toBe(true);
    });
  }

  it('GatedPool with a declared estimate: zero worker deaths, all 64 complete', async () => {
    const run = await runFixture<Burst>('run-burst.mjs', ['declared'], [], 170_000);
    console.log('declared:', run.json);
    expect(run.code).toBe(0);
    expect(died(run)).toBe(false);
    expect(run.json!.resolved).toBe(TASKS);
    expect(run.json!.counters!.settled).toBe(TASKS);
  });

  it('GatedPool with no estimate after 4 warm-up runs (learned): zero worker deaths, all 64 complete', async () => {
    const run = await runFixture<Burst>('run-burst.mjs', ['learned'], [], 170_000);
    console.log('learned:', run.json);
    expect(run.code).toBe(0);
    expect(died(run)).toBe(false);
    const learned = run.json!.warmedUp!;
    expect(learned.samples).toBeGreaterThanOrEqual(3);
    expect(learned.heap).toBeGreaterThan(30 * 2 ** 20);
    expect(run.json!.resolved).toBe(TASKS);
    expect(run.json!.counters!.settled).toBe(TASKS + 4);
  });
});
