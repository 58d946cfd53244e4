// The lifecycle property (issue 11): over random sequences of submit (with priorities) / abort
// (before, while held, while running) / timeout / crash (`process.exit` in a task) / over-limit
// allocation / a task too large for any worker / pause / start / clear / close / destroy, under
// both policies, every task settles exactly once
// by the pool's own records (`stats().counters`), the counters add up and agree with what the
// promises saw, the ledger returns to zero when the pool is idle, and the process exits by itself.
//
// Each scenario runs in its own child process (fixtures/lifecycle/run-scenario.mjs): it prints
// one JSON line and must then exit with code 0 on its own. A failure prints the fast-check seed
// and path. Replay (after `npm run build`, with Node 24 first on PATH):
//   HEAPGATE_SEED=<seed> [HEAPGATE_PATH=<path>] node_modules/.bin/vitest run test/lifecycle.property.test.ts
// More runs: HEAPGATE_PROPERTY_RUNS=200 (and HEAPGATE_PROPERTY_TIME_MS to raise the time budget);
// HEAPGATE_PROPERTY_LOG=<file> appends every scenario and its verdict there.
// One scenario by hand: node test/fixtures/lifecycle/run-scenario.mjs '<scenario JSON>'.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { PoolStats } from '../src/index.js';

type Kind = 'quick' | 'sleep' | 'fail' | 'crash' | 'hog' | 'leak' | 'tooLarge';
type SignalUse = 'none' | 'live' | 'pre';

interface ScenarioOptions {
  policy: 'reject' | 'wait';
  maxThreads: number;
  minThreads: number;
  concurrentTasksPerWorker: number;
  maxQueue: number;
  maxWaitMs: number;
  /** `headroomMb`: an explicit limit that far above the process's usage when the pool starts. */
  memoryLimit: 'auto' | false | { headroomMb: number };
  /** Each worker's `maxOldGenerationSizeMb`. */
  oldGenMb: number;
}

type Step =
  /**
   * `ms`: how long a sleep task sleeps. `keep`: the share of its worker's heap limit a leak task
   * keeps (0.5: the gate recycles the worker for the next task; 0.75: its learned need is too large
   * for any worker). `declare`: no `memory`, 2 MiB heap, or `{ heap: 1 MiB, external: 4 MiB }`.
   */
  | { op: 'submit'; kind: Kind; ms: number; keep: number; signal: SignalUse; declare: 'none' | 'heap' | 'split'; priority: number }
  /**
   * Aborts the `target % n`-th of the n tasks submitted so far with a live signal (of those not
   * settled yet, when there are any): at once (it may
   * be held, running or done), or once it has started running (or settled; waits up to 300 ms).
   */
  | { op: 'abort'; target: number; when: 'now' | 'running' }
  /** 0 ms: one turn of the event loop (setImmediate). */
  | { op: 'wait'; ms: number }
  /** Keeps the main thread busy (synchronously) for `ms`: held tasks' deadlines pass unseen. */
  | { op: 'block'; ms: number }
  | { op: 'close' }
  | { op: 'destroy' }
  /** p-queue's controls: pause (a paused pool still ends: close() starts it), start, clear (held tasks reject with QueueClearedError). */
  | { op: 'pause' }
  | { op: 'start' }
  | { op: 'clear' };

interface Scenario {
  options: ScenarioOptions;
  /** A pause before the first step (lets `minThreads` start a worker). */
  warmupMs: number;
  steps: Step[];
  /** Called (not awaited) `endingAfterMs` after the last step. */
  ending: 'close' | 'destroy';
  endingAfterMs: number;
  watchdogMs: number;
}

interface TaskRecord {
  id: number;
  kind: Kind;
  signal: SignalUse;
  /** When a step aborted it, and whether it had settled, was running, or had not started. */
  abortedBy?: { at: number; phase: 'settled' | 'running' | 'not started' };
  /** It started running in a worker (it marked its slot in shared memory). */
  ran: boolean;
  status: 'pending' | 'fulfilled' | 'rejected' | 'threw';
  value?: unknown;
  error?: { name: string; code?: string; message: string; causeCode?: string; scope?: string };
  at: number;
  settledAt?: number;
}

interface Verdict {
  stuck?: true;
  ms: number;
  tasks: TaskRecord[];
  lifecycle: { what: 'close' | 'destroy'; status: string; error?: unknown }[];
  events: unknown[];
  settledStats: PoolStats;
  finalStats: PoolStats;
}

/** heapgate's typed errors, by `code`, and the counter each is counted under. */
const COUNTED_AS: Record<string, keyof PoolStats['counters']['rejected'] | 'crashed'> = {
  ERR_MEMORY_PRESSURE: 'pressure',
  ERR_QUEUE_FULL: 'queueFull',
  ERR_WAIT_TIMEOUT: 'timeout',
  ERR_TASK_TOO_LARGE: 'tooLarge',
  ABORT_ERR: 'aborted',
  ERR_POOL_CLOSED: 'closed',
  ERR_WORKER_START: 'workerStart',
  ERR_WORKER_CRASHED: 'crashed',
  ERR_QUEUE_CLEARED: 'cleared',
  ERR_TASK_INPUT: 'input',
};
const REJECTED_REASONS = ['pressure', 'queueFull', 'timeout', 'tooLarge', 'aborted', 'closed', 'workerStart', 'cleared', 'input'] as const;

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
};

const RUNS = envInt('HEAPGATE_PROPERTY_RUNS', 25);
const SEED = envInt('HEAPGATE_SEED', Date.now() % 2 ** 31);
const PATH = process.env.HEAPGATE_PATH || undefined;
/** The whole property's budget, shrinking included; running out before `RUNS` passed is a failure. */
const BUDGET_MS = envInt('HEAPGATE_PROPERTY_TIME_MS', Math.max(150_000, RUNS * 6_000));
/** A file to append each scenario, its verdict and what it broke to (one JSON line each), to study coverage. */
const LOG = process.env.HEAPGATE_PROPERTY_LOG || undefined;
/** A scenario takes well under 2 s; past this the child reports where it is stuck (its tasks, stats()). */
const WATCHDOG_MS = 8_000;
/** How long the child may take to exit by itself once it has printed its verdict. */
const EXIT_GRACE_MS = 5_000;
/** The child is killed past this, whatever it printed. */
const CHILD_TIMEOUT_MS = 20_000;
const FIXTURE = fileURLToPath(new URL('./fixtures/lifecycle/run-scenario.mjs', import.meta.url));

interface ScenarioRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed because it was still alive `EXIT_GRACE_MS` after its verdict, or after `CHILD_TIMEOUT_MS`. */
  killed: 'after its verdict' | 'timeout' | undefined;
  stderr: string;
  /** The first JSON line it printed (the verdict, or the watchdog's report). */
  json: Verdict | undefined;
}

/**
 * Runs a scenario in its own Node process (the same binary as the tests), as test/helpers/child.ts
 * does, but kills it `EXIT_GRACE_MS` after its verdict: a process that does not exit by itself
 * fails fast instead of holding every shrinking step for a full timeout.
 */
function runScenario(scenario: Scenario): Promise<ScenarioRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify(scenario)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let json: Verdict | undefined;
    let killed: ScenarioRun['killed'];
    let grace: NodeJS.Timeout | undefined;
    const kill = (why: NonNullable<ScenarioRun['killed']>): void => {
      killed ??= why;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => kill('timeout'), CHILD_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (json !== undefined) return;
      const line = stdout.split('\n').find((candidate, i, lines) => i < lines.length - 1 && candidate.startsWith('{'));
      if (line === undefined) return;
      try {
        json = JSON.parse(line) as Verdict;
      } catch {
        json = undefined;
      }
      grace ??= setTimeout(() => kill('after its verdict'), EXIT_GRACE_MS);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(grace);
      resolve({ code, signal, killed, stderr, json });
    });
  });
}

const optionsArb: fc.Arbitrary<ScenarioOptions> = fc.record({
  policy: fc.constantFrom('reject' as const, 'wait' as const),
  maxThreads: fc.integer({ min: 1, max: 3 }),
  minThreads: fc.integer({ min: 0, max: 1 }),
  concurrentTasksPerWorker: fc.integer({ min: 1, max: 2 }),
  maxQueue: fc.integer({ min: 2, max: 20 }),
  maxWaitMs: fc.integer({ min: 30, max: 300 }),
  memoryLimit: fc.oneof(fc.constant('auto' as const), fc.constant(false as const), fc.record({ headroomMb: fc.integer({ min: 24, max: 128 }) })),
  oldGenMb: fc.constantFrom(32, 48),
});

const kindArb: fc.Arbitrary<Kind> = fc.oneof(
  { arbitrary: fc.constant('quick' as const), weight: 3 },
  { arbitrary: fc.constant('sleep' as const), weight: 4 },
  { arbitrary: fc.constant('fail' as const), weight: 1 },
  { arbitrary: fc.constant('crash' as const), weight: 1 },
  { arbitrary: fc.constant('hog' as const), weight: 1 },
  { arbitrary: fc.constant('leak' as const), weight: 2 },
  { arbitrary: fc.constant('tooLarge' as const), weight: 1 },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      op: fc.constant('submit' as const),
      kind: kindArb,
      ms: fc.integer({ min: 5, max: 60 }),
      keep: fc.constantFrom(0.5, 0.75),
      signal: fc.oneof({ arbitrary: fc.constant('none' as const), weight: 2 }, { arbitrary: fc.constant('live' as const), weight: 2 }, { arbitrary: fc.constant('pre' as const), weight: 1 }),
      declare: fc.oneof({ arbitrary: fc.constant('none' as const), weight: 3 }, { arbitrary: fc.constant('heap' as const), weight: 1 }, { arbitrary: fc.constant('split' as const), weight: 1 }),
      priority: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 1 }),
    }),
  },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('abort' as const), target: fc.nat(20), when: fc.constantFrom('now' as const, 'running' as const) }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('block' as const), ms: fc.integer({ min: 1, max: 60 }) }) },
  // About one scenario in four closes or destroys the pool before its last step.
  { weight: 1, arbitrary: fc.constant({ op: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'destroy' as const }) },
  { weight: 2, arbitrary: fc.constantFrom({ op: 'pause' as const }, { op: 'start' as const }, { op: 'start' as const }, { op: 'clear' as const }) },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  options: optionsArb,
  warmupMs: fc.oneof(fc.constant(0), fc.integer({ min: 20, max: 150 })),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 14 }),
  ending: fc.oneof({ arbitrary: fc.constant('close' as const), weight: 3 }, { arbitrary: fc.constant('destroy' as const), weight: 1 }),
  endingAfterMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
  watchdogMs: fc.constant(WATCHDOG_MS),
});

/** Every way `scenario`'s run broke the lifecycle property; empty when it held. */
function violations(scenario: Scenario, run: ScenarioRun): string[] {
  const broken: string[] = [];
  const verdict = run.json;
  if (run.killed === 'after its verdict') broken.push(`the process did not exit by itself: still alive ${EXIT_GRACE_MS} ms after it printed ${run.json?.stuck ? 'its watchdog report' : 'its verdict'}`);
  else if (run.killed === 'timeout') broken.push(`the process was still alive after ${CHILD_TIMEOUT_MS} ms`);
  else if (run.code !== 0 || run.signal !== null) {
    const why = run.code === 13 ? ': a task or close()/destroy() never settled, and nothing kept the process alive (unsettled top-level await)' : '';
    broken.push(`the process exited with code ${run.code}, signal ${run.signal} (expected code 0)${why}`);
  }
  if (!verdict) return [...broken, 'no JSON verdict printed'];
  if (verdict.stuck) return [...broken, `stuck: tasks or close()/destroy() never settled (watchdog after ${WATCHDOG_MS} ms): ${JSON.stringify(verdict)}`];

  for (const entry of verdict.lifecycle) {
    if (entry.status !== 'fulfilled') broken.push(`${entry.what}() did not resolve: ${entry.status} ${JSON.stringify(entry.error)}`);
  }

  // What the promises saw, per counter, to compare with the pool's own records.
  const seen = { completed: 0, failed: 0, crashed: 0, pressure: 0, queueFull: 0, timeout: 0, tooLarge: 0, aborted: 0, closed: 0, workerStart: 0, cleared: 0, input: 0 };
  const submitSteps = scenario.steps.filter((step) => step.op === 'submit');
  const closedFrom = scenario.steps.findIndex((step) => step.op === 'close' || step.op === 'destroy');
  const submittedAfterClose = closedFrom < 0 ? 0 : scenario.steps.slice(closedFrom).filter((step) => step.op === 'submit').length;
  if (verdict.tasks.length !== submitSteps.length) broken.push(`${submitSteps.length} submit steps but ${verdict.tasks.length} task records`);
  for (const task of verdict.tasks) {
    const where = `task ${task.id} (${task.kind}, signal ${task.signal}${task.abortedBy ? `, aborted at ${task.abortedBy.at} ms (${task.abortedBy.phase})` : ''})`;
    if (task.ran && (task.signal === 'pre' || task.kind === 'tooLarge')) broken.push(`${where} ran`);
    // A need that can never fit is refused at once, whatever else waits (unless it was aborted or the pool closed first).
    if (task.kind === 'tooLarge' && task.status === 'rejected' && !['ERR_TASK_TOO_LARGE', 'ABORT_ERR', 'ERR_POOL_CLOSED'].includes(task.error?.code ?? '')) broken.push(`${where}: too large, yet rejected with ${task.error?.code ?? task.error?.message}`);
    if (task.status === 'fulfilled') {
      seen.completed++;
      if (!task.ran) broken.push(`${where} resolved without running`);
      if (task.kind === 'quick' || task.kind === 'sleep') {
        if (task.value !== task.id) broken.push(`${where} resolved with ${JSON.stringify(task.value)}, not its own result ${task.id}`);
      } else if (task.kind !== 'leak') {
        broken.push(`${where} resolved (${JSON.stringify(task.value)}): a ${task.kind} task cannot complete`);
      }
    } else if (task.status === 'rejected') {
      const error = task.error!;
      const counter = error.code === undefined ? undefined : COUNTED_AS[error.code];
      if (counter) {
        seen[counter]++;
        // Refusals and timeouts end tasks that never ran (counters.rejected: "ended without running").
        if (task.ran && counter !== 'aborted' && counter !== 'closed' && counter !== 'crashed') broken.push(`${where} ran, yet was rejected with ${error.code}`);
        if (error.code === 'ERR_MEMORY_PRESSURE' && scenario.options.policy === 'wait') broken.push(`${where}: rejected with MemoryPressureError under policy 'wait' (it holds under pressure)`);
        if (task.signal === 'pre' && error.code !== 'ABORT_ERR' && error.code !== 'ERR_POOL_CLOSED') broken.push(`${where}: aborted before run() but rejected with ${error.code}`);
      } else if (task.kind === 'fail' && error.message === `own failure ${task.id}`) {
        seen.failed++;
        if (!task.ran) broken.push(`${where} failed with its own error without running`);
      } else {
        broken.push(`${where} rejected with an error that is neither a typed heapgate error nor its own: ${JSON.stringify(error)}`);
      }
    } else {
      broken.push(`${where}: ${task.status === 'threw' ? 'run() threw synchronously' : 'never settled'} ${JSON.stringify(task.error ?? '')}`);
    }
  }
  // Tasks submitted after a close()/destroy() step are refused with PoolClosedError.
  for (const task of verdict.tasks.slice(verdict.tasks.length - submittedAfterClose)) {
    if (task.status !== 'rejected' || task.error?.code !== 'ERR_POOL_CLOSED') broken.push(`task ${task.id} was submitted after close()/destroy() but ended ${task.status} ${JSON.stringify(task.error?.code ?? task.value)}`);
  }

  const check = (label: string, stats: PoolStats, final: boolean): void => {
    const c = stats.counters;
    const rejected = REJECTED_REASONS.reduce((sum, reason) => sum + c.rejected[reason], 0);
    const ran = c.completed + c.failed + c.crashed;
    const say = (what: string): void => void broken.push(`${label}: ${what}`);
    if (c.submitted !== verdict.tasks.length) say(`counters.submitted ${c.submitted} !== ${verdict.tasks.length} run() calls`);
    if (c.settled !== c.submitted) say(`counters.settled ${c.settled} !== submitted ${c.submitted}`);
    if (c.settled !== ran + rejected) say(`counters.settled ${c.settled} !== completed + failed + crashed + rejected.* = ${ran + rejected} (${JSON.stringify(c)})`);
    for (const key of ['completed', 'failed', 'crashed'] as const) {
      if (c[key] !== seen[key]) say(`counters.${key} ${c[key]} but ${seen[key]} promises ended that way`);
    }
    for (const reason of REJECTED_REASONS) {
      if (c.rejected[reason] !== seen[reason]) say(`counters.rejected.${reason} ${c.rejected[reason]} but ${seen[reason]} promises were rejected that way`);
    }
    // A task that ran was admitted; an admitted task ends by running, by its abort, or by destroy().
    if (c.admitted < ran || c.admitted > ran + c.rejected.aborted + c.rejected.closed) say(`counters.admitted ${c.admitted} outside [completed + failed + crashed, + aborted + closed] = [${ran}, ${ran + c.rejected.aborted + c.rejected.closed}]`);
    if (stats.held !== 0) say(`held ${stats.held} when idle`);
    if (stats.running !== 0) say(`running ${stats.running} when idle`);
    if (stats.ledger.open !== 0 || stats.ledger.main !== 0 || stats.ledger.process !== 0) say(`ledger not zero when idle: ${JSON.stringify(stats.ledger)}`);
    if (stats.main.reserved !== 0) say(`main.reserved ${stats.main.reserved} when idle`);
    if (stats.process && stats.process.reserved !== 0) say(`process.reserved ${stats.process.reserved} when idle`);
    for (const worker of stats.workers) {
      if (worker.reserved !== 0) say(`worker ${worker.id} reserved ${worker.reserved} when idle`);
      // Right after destroy() a worker may still count a task Piscina has not answered for yet.
      if (final && worker.running !== 0) say(`worker ${worker.id} running ${worker.running} after the pool ended`);
    }
  };
  check('once every task settled', verdict.settledStats, false);
  check(`after ${scenario.ending}()`, verdict.finalStats, true);
  const outcomes = (stats: PoolStats): string => {
    const { submitted, settled, admitted, completed, failed, crashed, rejected } = stats.counters;
    return JSON.stringify({ submitted, settled, admitted, completed, failed, crashed, rejected });
  };
  if (outcomes(verdict.settledStats) !== outcomes(verdict.finalStats)) broken.push(`task counters changed after every task had settled: ${outcomes(verdict.settledStats)} then ${outcomes(verdict.finalStats)}`);
  return broken;
}

describe('lifecycle property (fast-check, one child process per scenario)', () => {
  it(
    'every task settles exactly once, counters add up, the ledger returns to zero, the process exits by itself',
    async () => {
      console.log(`lifecycle property: seed ${SEED}${PATH ? `, path ${PATH}` : ''}, ${RUNS} runs (replay: HEAPGATE_SEED=${SEED})`);
      const property = fc.asyncProperty(scenarioArb, async (scenario) => {
        const run = await runScenario(scenario);
        const broken = violations(scenario, run);
        if (LOG) appendFileSync(LOG, `${JSON.stringify({ scenario, broken, code: run.code, signal: run.signal, verdict: run.json })}\n`);
        if (broken.length > 0) {
          const stderr = run.stderr
            .split('\n')
            .filter((line) => line !== '' && !line.includes('--trace-warnings'))
            .slice(-15)
            .join('\n');
          throw new Error(`${broken.join('\n')}\nscenario: ${JSON.stringify(scenario)}${stderr ? `\nstderr:\n${stderr}` : ''}`);
        }
      });
      try {
        await fc.assert(property, { seed: SEED, ...(PATH ? { path: PATH } : {}), numRuns: RUNS, verbose: fc.VerbosityLevel.Verbose, plugins: [fc.interruptAfterTimeLimit(BUDGET_MS, { failOnInterrupt: true })] });
      } catch (error) {
        console.error(`lifecycle property FAILED with seed ${SEED} (replay: HEAPGATE_SEED=${SEED} node_modules/.bin/vitest run test/lifecycle.property.test.ts; the path to the smallest counterexample is in the error)`);
        throw error;
      }
    },
    BUDGET_MS + 60_000,
  );
});
