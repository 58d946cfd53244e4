// Random memory workloads in real memory cgroups (fast-check, seeded, replayable). Each scenario —
// tasks that hold heap, fill Buffers (in small pieces from the allocator's arenas or large ones,
// promoted or young), churn garbage, leak into their module's cache, or return data the caller
// keeps, submitted at random times
// and sizes, declared or not, with random maxThreads, concurrentTasksPerWorker, worker heap limit,
// high-water mark and policy — runs in its own child process inside a fresh cgroup sized from the
// workload: every task fits on its own, not all at once. GatedPool must end every scenario with 0
// kernel OOM kills, 0 worker deaths, the process alive, every task settled once with a documented
// outcome, and its counters adding up. The same scenario on bare Piscina (same threads) runs in
// its own cgroup beside it; how often it was killed or lost tasks is printed.
//
// Runs: HEAPGATE_CHAOS_RUNS (default 2 in `npm test`; `npm run test:chaos` runs 200). Replay a
// failure with HEAPGATE_SEED=<seed> (printed), and HEAPGATE_PATH=<path> from fast-check's report.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runFixture } from './helpers/child.js';
import { realCgroupSupport, withCgroup } from './helpers/real-cgroup.js';

const MiB = 2 ** 20;
const envInt = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const RUNS = envInt('HEAPGATE_CHAOS_RUNS', 2);
const SEED = process.env.HEAPGATE_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.HEAPGATE_SEED);
const PATH = process.env.HEAPGATE_PATH;
const TIMEOUT_MS = 120_000;
/** What GatedPool may end a task with besides its result (see the README's errors table). */
const DOCUMENTED = new Set(['ERR_MEMORY_PRESSURE', 'ERR_WAIT_TIMEOUT', 'ERR_QUEUE_FULL', 'ERR_TASK_TOO_LARGE']);

type Kind = 'heap' | 'buffers' | 'churn' | 'keep' | 'leak';
interface ChaosTask {
  kind: Kind;
  mb: number;
  holdMs: number;
  pieces: number;
  atMs: number;
  declare: boolean;
}
interface Scenario {
  threads: number;
  concurrentTasksPerWorker: number;
  policy: 'reject' | 'wait';
  highWater: number;
  workerMb: number;
  tasks: ChaosTask[];
}
interface RunResult {
  submitted: number;
  completed: number;
  byCode: Record<string, number>;
  counters?: { submitted: number; settled: number; completed: number; failed: number; crashed: number; rejected: Record<string, number> };
  ledger?: { open: number; main: number; process: number };
}

/**
 * A task name's memory is learned per name (see the README), so within one scenario each kind has
 * one size, give or take a quarter, and one way of filling Buffers: sizes that differ widely under
 * one name are what `memory` must declare. Each task declares or not at random.
 */
const sizesArb = fc.record({ heap: fc.integer({ min: 24, max: 44 }), buffers: fc.integer({ min: 24, max: 48 }), churn: fc.integer({ min: 8, max: 40 }), keep: fc.integer({ min: 2, max: 16 }), leak: fc.integer({ min: 2, max: 8 }), pieces: fc.constantFrom(1, 16, 512) });
const drawArb = fc.record({
  kind: fc.constantFrom<Kind>('heap', 'heap', 'buffers', 'buffers', 'buffers', 'churn', 'keep', 'leak'),
  jitter: fc.double({ min: 0.75, max: 1.25, noNaN: true }),
  holdMs: fc.integer({ min: 200, max: 800 }),
  atMs: fc.integer({ min: 0, max: 300 }),
  declare: fc.boolean(),
});

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    threads: fc.integer({ min: 4, max: 7 }),
    concurrentTasksPerWorker: fc.constantFrom(1, 1, 2),
    policy: fc.constantFrom<'reject' | 'wait'>('reject', 'wait'),
    highWater: fc.constantFrom(0.8, 0.85, 0.9),
    workerMb: fc.constantFrom(96, 128),
    sizes: sizesArb,
    draws: fc.array(drawArb, { minLength: 12, maxLength: 28 }),
  })
  .map(({ sizes, draws, ...settings }) => ({
    ...settings,
    tasks: draws.map(({ kind, jitter, holdMs, atMs, declare }) => ({ kind, mb: Math.max(1, Math.round(sizes[kind] * jitter)), holdMs, pieces: sizes.pieces, atMs, declare })),
  }));

/**
 * The cgroup for a scenario: the process and its workers at rest (measured: ~55 MiB, and ~17 MiB
 * a worker) with the largest task fit in three quarters of it (below every high-water mark drawn),
 * plus the results kept twice over: every task fits alone, not every task at once.
 */
function limitFor(scenario: Scenario): number {
  const largest = Math.max(...scenario.tasks.map((task) => task.mb));
  const kept = scenario.tasks.filter((task) => task.kind === 'keep').reduce((sum, task) => sum + task.mb, 0);
  return Math.round((55 + 17 * scenario.threads + largest) / 0.75 + 2 * kept) * MiB;
}

const support = realCgroupSupport();
const location = support.ok ? support.location : undefined;
if (!support.ok) console.log(`chaos test skipped: ${support.reason}`);

describe.skipIf(location === undefined)('chaos: random memory workloads in real cgroups (fast-check)', () => {
  it(
    'GatedPool: 0 OOM kills, 0 worker deaths, every task settled once with a documented outcome; bare Piscina beside it',
    async () => {
      console.log(`chaos: seed ${SEED}${PATH ? `, path ${PATH}` : ''}, ${RUNS} runs (replay: HEAPGATE_SEED=${SEED})`);
      let bareRuns = 0;
      let bareBroken = 0;
      let gatedBroken = 0;
      const property = fc.asyncProperty(scenarioArb, async (scenario) => {
        if (location === undefined) return;
        const limit = limitFor(scenario);
        const args = (contender: string): string[] => [contender, JSON.stringify(scenario)];
        const gated = await withCgroup(location, limit, async (cgroup) => {
          const run = await runFixture<RunResult>('chaos/run.mjs', args('gated'), [], TIMEOUT_MS, cgroup.dir);
          return { run, kills: cgroup.oomKills(), peak: cgroup.peak() };
        });
        const bare = await withCgroup(location, limit, async (cgroup) => {
          const run = await runFixture<RunResult>('chaos/run.mjs', args('bare'), [], TIMEOUT_MS, cgroup.dir);
          return { run, kills: cgroup.oomKills() };
        });
        bareRuns++;
        if (bare.kills > 0 || bare.run.code !== 0 || (bare.run.json?.completed ?? 0) < scenario.tasks.length) bareBroken++;

        const broken: string[] = [];
        const { run } = gated;
        const result = run.json;
        if (gated.kills > 0) broken.push(`${gated.kills} kernel OOM kill(s)`);
        if (run.code !== 0) broken.push(`process ended with code ${run.code} signal ${run.signal}`);
        if (!result?.counters) broken.push('no result line');
        else {
          const { counters } = result;
          const rejected = Object.values(counters.rejected).reduce((sum, n) => sum + n, 0);
          if (counters.submitted !== scenario.tasks.length) broken.push(`submitted ${counters.submitted}, not ${scenario.tasks.length}`);
          if (counters.settled !== counters.submitted) broken.push(`settled ${counters.settled} of ${counters.submitted}`);
          if (counters.completed + counters.failed + counters.crashed + rejected !== counters.settled) broken.push(`counters do not add up: ${JSON.stringify(counters)}`);
          if (counters.crashed > 0) broken.push(`${counters.crashed} task(s) lost to a worker death`);
          if (counters.failed > 0) broken.push(`${counters.failed} task(s) failed`);
          if (result.completed !== counters.completed) broken.push(`${result.completed} resolved, counters say ${counters.completed}`);
          for (const code of Object.keys(result.byCode)) if (!DOCUMENTED.has(code)) broken.push(`ended with ${code}: not a documented outcome`);
          if (scenario.policy === 'wait' && result.byCode.ERR_MEMORY_PRESSURE) broken.push("MemoryPressureError under policy 'wait'");
          if (result.ledger && (result.ledger.open !== 0 || result.ledger.process !== 0 || result.ledger.main !== 0)) broken.push(`ledger not empty at the end: ${JSON.stringify(result.ledger)}`);
        }
        if (broken.length > 0) {
          gatedBroken++;
          const stderr = run.stderr.split('\n').filter((line) => line.trim() !== '').slice(-10).join('\n');
          throw new Error(`${broken.join('\n')}\nlimit ${limit / MiB} MiB, peak ${Math.round((gated.peak ?? 0) / MiB)} MiB\nscenario: ${JSON.stringify(scenario)}\nresult: ${JSON.stringify(result)}${stderr ? `\nstderr:\n${stderr}` : ''}`);
        }
      });
      try {
        await fc.assert(property, { seed: SEED, ...(PATH ? { path: PATH } : {}), numRuns: RUNS, endOnFailure: true });
      } catch (error) {
        console.error(`chaos FAILED with seed ${SEED} (replay: HEAPGATE_SEED=${SEED} node_modules/.bin/vitest run test/chaos.test.ts)`);
        throw error;
      } finally {
        console.log(`chaos: GatedPool broke an invariant (a kill, a lost or unsettled task, an undocumented outcome) in ${gatedBroken} of ${bareRuns} scenarios; bare Piscina was killed or lost tasks in ${bareBroken} of ${bareRuns}`);
      }
      expect(bareRuns).toBe(RUNS);
    },
    RUNS * 2 * TIMEOUT_MS + 60_000,
  );
});
