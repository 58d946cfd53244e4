// The acceptance scenarios, each contender in its own child process: real Piscina, real workers
// over real heap limits, real process aborts. Every task is counted: submitted === settled.
import { describe, expect, it } from 'vitest';
import { runFixture, type Outcomes } from './helpers/child.js';

interface Counters {
  submitted: number;
  settled: number;
  crashed: number;
  recycled: number;
  rejected: Record<string, number>;
}
type Leaky = Outcomes & { contender: string; sampling: boolean; workerOom: number; stats?: Counters };
type MainIsolate = Outcomes & { contender: string; kept: number; counters?: Counters; mainLimitMb?: number };
type Garbage = Outcomes & { usedOnlyWouldReject: { main: number; worker: number }; counters: Counters };

const TASKS = 48;

describe('leaky workers (maxOldGenerationSizeMb: 64, ~8 MB retained per task)', () => {
  it('bare Piscina loses workers to ERR_WORKER_OUT_OF_MEMORY', async () => {
    const run = await runFixture<Leaky>('run-leaky.mjs', ['bare', String(TASKS)]);
    console.log('bare Piscina:', run.json ?? `exit ${run.code} ${run.signal}`);
    // On Node 24 a worker over its limit can also abort the whole process (see DESIGN.md).
    if (run.json) {
      expect(run.json.workerOom).toBeGreaterThan(0);
      expect(run.json.settled).toBe(TASKS);
    } else {
      expect(run.code).toBe(134);
    }
  });

  for (const policy of ['wait', 'reject'] as const) {
    it(`GatedPool, policy '${policy}': zero worker deaths, every task settles once`, async () => {
      const run = await runFixture<Leaky>('run-leaky.mjs', [policy, String(TASKS)]);
      console.log(`GatedPool ${policy}:`, run.json);
      expect(run.code).toBe(0);
      const result = run.json!;
      expect(result.workerOom).toBe(0);
      expect(result.stats!.crashed).toBe(0);
      expect(result.settled).toBe(TASKS);
      expect(result.stats!.submitted).toBe(TASKS);
      expect(result.stats!.settled).toBe(TASKS);
      expect(result.stats!.recycled).toBeGreaterThan(0);
      if (policy === 'wait') {
        expect(result.resolved).toBe(TASKS);
      } else {
        expect(result.resolved).toBeGreaterThan(0);
        expect(Object.keys(result.rejected).filter((code) => code !== 'ERR_MEMORY_PRESSURE')).toEqual([]);
      }
    });
  }
});

describe('without worker.getHeapStatistics() (Node 22 before 22.16)', () => {
  it("GatedPool 'wait' still completes every leaky task with zero worker deaths", async () => {
    const run = await runFixture<Leaky>('run-leaky.mjs', ['wait', String(TASKS), 'no-sampling']);
    console.log('GatedPool wait, no sampling:', run.json);
    expect(run.code).toBe(0);
    expect(run.json!.sampling).toBe(false);
    expect(run.json!.workerOom).toBe(0);
    expect(run.json!.stats!.crashed).toBe(0);
    expect(run.json!.resolved).toBe(TASKS);
    expect(run.json!.stats!.settled).toBe(TASKS);
  });
});

describe('main isolate (--max-old-space-size=128, the caller keeps every ~12 MB result)', () => {
  const flags = ['--max-old-space-size=128'];

  it('bare Piscina: the process aborts (exit 134)', async () => {
    const run = await runFixture<MainIsolate>('run-main-isolate.mjs', ['bare', '80'], flags);
    console.log('bare Piscina: exit', run.code, run.signal, run.stderr.includes('heap out of memory') ? '(JavaScript heap out of memory)' : '');
    expect(run.json).toBeUndefined();
    expect(run.code === 134 || run.signal === 'SIGABRT').toBe(true);
  });

  it("GatedPool 'reject': alive, refuses with MemoryPressureError", async () => {
    const run = await runFixture<MainIsolate>('run-main-isolate.mjs', ['reject', '80'], flags);
    console.log('GatedPool reject:', run.json);
    expect(run.code).toBe(0);
    expect(run.json!.settled).toBe(80);
    expect(run.json!.counters!.settled).toBe(80);
    expect(run.json!.mainLimitMb).toBe(128);
    expect(run.json!.rejected.ERR_MEMORY_PRESSURE).toBeGreaterThan(0);
    expect(run.json!.resolved + run.json!.rejected.ERR_MEMORY_PRESSURE!).toBe(80);
  });

  it("GatedPool 'wait': alive, holds, then times held tasks out with WaitTimeoutError", async () => {
    const run = await runFixture<MainIsolate>('run-main-isolate.mjs', ['wait', '80'], flags);
    console.log('GatedPool wait:', run.json);
    expect(run.code).toBe(0);
    expect(run.json!.settled).toBe(80);
    expect(run.json!.counters!.settled).toBe(80);
    expect(run.json!.rejected.ERR_WAIT_TIMEOUT).toBeGreaterThan(0);
    expect(run.json!.resolved + run.json!.rejected.ERR_WAIT_TIMEOUT!).toBe(80);
  });
});

describe('garbage is not pressure (--max-old-space-size=64, workers at 64 MB, policy reject)', () => {
  it('admits every task, where a used_heap_size-only check would have refused some', async () => {
    const run = await runFixture<Garbage>('run-garbage.mjs', ['120'], ['--max-old-space-size=64']);
    console.log('garbage churn:', run.json);
    expect(run.code).toBe(0);
    const result = run.json!;
    expect(result.settled).toBe(120);
    expect(result.counters.settled).toBe(120);
    expect(result.resolved).toBe(120);
    expect(result.rejected).toEqual({});
    expect(result.usedOnlyWouldReject.main + result.usedOnlyWouldReject.worker).toBeGreaterThan(0);
  });
});
