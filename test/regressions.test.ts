// Regression tests for issue 11, section 2 ("Tasks that never settle, and other broken promises"):
// one test per defect, each failing on the core before "Core v2" (d0220c1). They check error
// codes rather than classes, and the pool's own counters, so that on that core they fail by
// assertion or by a bounded wait, never at import. Every wait is bounded; no assertion is on time.
import { readFileSync, rmSync, stat, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';
import { makeTree, MiB } from './helpers/cgroup-tree.js';
import { runFixture } from './helpers/child.js';

const tasks = new URL('./fixtures/regressions/tasks.mjs', import.meta.url).href;
const dieOnStart = fileURLToPath(new URL('./fixtures/regressions/die-on-start.mjs', import.meta.url));
/** Declared by most tasks below: a need that fits anywhere, so slow start for unknown work does not hold them. */
const SMALL = 1024;

const pools: GatedPool[] = [];
const cleanups: (() => void)[] = [];

function makePool(options: Partial<GatedPoolOptions>): GatedPool {
  const pool = new GatedPool({ filename: tasks, memoryLimit: false, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  // Bounded: on the old core a pool may be stuck; the test has failed already by then.
  await within(Promise.allSettled(pools.splice(0).map((pool) => pool.destroy())), 10_000);
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const TIMED_OUT = Symbol('timed out');

/** `promise`'s value, or TIMED_OUT when it has not settled within `ms` (a bound, not a measurement). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** What a task settled with: its value, or its error's code (`'no code: <message>'` for an error without one). */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => {
      const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
      return typeof code === 'string' ? code : `no code: ${String(message)}`;
    },
  );
}

/** The error a task rejected with, or TIMED_OUT (or the value, when it resolved instead). */
async function rejection(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return within(
    promise.then(
      (value) => ({ resolved: value }),
      (error: unknown) => error,
    ),
    ms,
  );
}

/** Waits until `condition()` holds, checking every 10 ms; fails the test after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Counters shared with the `marked` and `released` tasks: [tasks started, tasks ended, released].
 * `release()` lets the `released` tasks end.
 */
function markers(): { flags: SharedArrayBuffer; started: () => number; ended: () => number; release: () => void } {
  const flags = new SharedArrayBuffer(12);
  const view = new Int32Array(flags);
  return {
    flags,
    started: () => Atomics.load(view, 0),
    ended: () => Atomics.load(view, 1),
    release: () => {
      Atomics.store(view, 2, 1);
      Atomics.notify(view, 2);
    },
  };
}

function expectIdle(pool: GatedPool, submitted: number): void {
  const { counters, held, running } = pool.stats();
  expect(counters.submitted).toBe(submitted);
  expect(counters.settled).toBe(submitted);
  expect(held).toBe(0);
  expect(running).toBe(0);
}

/**
 * A fake cgroup v2 tree (see test/helpers/cgroup-tree.ts) whose files sit at its root: the pool
 * finds this process's v2 cgroup path there, or falls back to the root when the path does not
 * exist under it. Needs a v2 line in /proc/self/cgroup (see `hasV2Membership`).
 */
function fakeCgroupV2(files: { limit: number; current: number; anon: number; events?: string }): { root: string; write: (name: string, text: string) => void } {
  const root = makeTree({
    'cgroup.controllers': 'cpu io memory pids\n',
    'memory.max': `${files.limit}\n`,
    'memory.current': `${files.current}\n`,
    'memory.stat': v2Stat(files.anon),
    ...(files.events === undefined ? {} : { 'memory.events': files.events }),
  });
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return { root, write: (name, text) => writeFileSync(join(root, name), text) };
}

function ownMembership(): string {
  try {
    return readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return '';
  }
}

function v2Stat(anon: number): string {
  return `anon ${anon}\nfile ${4 * MiB}\nkernel 4096\nshmem 0\n`;
}

const hasV2Membership = /^0::\//m.test(ownMembership());
if (!hasV2Membership) console.log('skipping tests 8 and 9: /proc/self/cgroup names no cgroup v2 path for a fake tree');

describe('issue 11 §2: tasks that never settle, and other broken promises', () => {
  // Aborting a running task makes Piscina stop its worker at once. Held tasks must stay held in
  // that gap (not be handed to Piscina's queue, where nothing can take them back); then, when the
  // pool loses its last worker (minThreads: 0, a task that ends its thread), every task still
  // settles and close() resolves.
  it('1. a running task aborted, then the last worker lost: every task settles, close() resolves', async () => {
    const pool = makePool({ minThreads: 0, maxThreads: 1, maxWaitMs: 20_000 });
    const running = markers();
    const controller = new AbortController();
    const aborted = outcome(pool.run({ flags: running.flags, ms: 60_000 }, { name: 'marked', signal: controller.signal, memory: SMALL }));
    const crash = outcome(pool.run(null, { name: 'crash', memory: SMALL }));
    const echoes = [1, 2, 3].map((n) => outcome(pool.run(n, { name: 'echo', memory: SMALL })));
    await until(() => running.started() === 1, 20_000, 'the task to abort to start');
    controller.abort();

    const settled = await within(Promise.all([aborted, crash, ...echoes]), 20_000);
    expect(settled, 'every task settles').toEqual(['ABORT_ERR', 'ERR_WORKER_CRASHED', 1, 2, 3]);
    expect(await within(pool.close(), 10_000), 'close() resolves').toBeUndefined();
    expectIdle(pool, 5);
  });

  // A need no worker can ever hold, submitted before any worker exists, is judged against the
  // worker limit given (resourceLimits.maxOldGenerationSizeMb), not the main isolate's.
  it('2. a task too large for any worker, submitted with no worker alive: TaskTooLargeError, scope worker', async () => {
    const pool = makePool({ minThreads: 0, maxThreads: 2, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    // highWater (0.85) × 64 MiB = 54.4 MiB can ever be admitted on a worker; this needs 100 MiB.
    const error = await rejection(pool.run(null, { name: 'echo', memory: 100 * MiB }), 10_000);
    expect(error).not.toBe(TIMED_OUT);
    expect(error).toMatchObject({ code: 'ERR_TASK_TOO_LARGE', scope: 'worker', need: 100 * MiB });
    expect(pool.stats().counters).toMatchObject({ submitted: 1, settled: 1, admitted: 0 });
  });

  // Workers that die while starting (a throwing --import) end their tasks with a typed error after
  // a bounded number of attempts, even with maxWaitMs: Infinity; and the pool stops starting them.
  it('3. workers that die while starting: tasks end with ERR_WORKER_START; the pool stops starting workers', async () => {
    const startsFile = join(tmpdir(), `heapgate-regression-starts-${process.pid}-${Date.now()}`);
    writeFileSync(startsFile, '');
    cleanups.push(() => rmSync(startsFile, { force: true }));
    const starts = (): number => readFileSync(startsFile, 'utf8').split('\n').filter(Boolean).length;
    const pool = makePool({
      minThreads: 0,
      maxThreads: 2,
      maxWaitMs: Infinity,
      execArgv: ['--import', dieOnStart],
      env: { ...process.env, HEAPGATE_REGRESSION_STARTS: startsFile },
    });
    pool.on('workerError', () => undefined);
    const settled = await within(Promise.all([1, 2, 3].map((n) => outcome(pool.run(n, { name: 'echo', memory: SMALL })))), 20_000);
    expect(settled, 'every task settles').toEqual(['ERR_WORKER_START', 'ERR_WORKER_START', 'ERR_WORKER_START']);
    const afterSettling = starts();
    expect(afterSettling).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(starts() - afterSettling, 'workers started in the second after the tasks settled').toBeLessThanOrEqual(5);
    expect(pool.stats().counters.startFailures).toBeLessThanOrEqual(afterSettling);
    expectIdle(pool, 3);
  });

  // Piscina counts the workers it starts at construction as ready at once, so a task could be sent
  // to one whose preload then threw: the task ended with WorkerCrashError ('died running task',
  // counted as crashed) though it never ran (5 of 5 runs with minThreads 1). A worker that died
  // before the pool's runtime ran in it is a failed start: its tasks come back.
  it('3b. a worker started at construction that dies starting: its task is taken back, not crashed', async () => {
    const startsFile = join(tmpdir(), `heapgate-regression-starts-b-${process.pid}-${Date.now()}`);
    writeFileSync(startsFile, '');
    cleanups.push(() => rmSync(startsFile, { force: true }));
    const pool = makePool({
      minThreads: 1,
      maxThreads: 2,
      execArgv: ['--import', dieOnStart],
      env: { ...process.env, HEAPGATE_REGRESSION_STARTS: startsFile },
    });
    pool.on('workerError', () => undefined);
    const settled = await within(Promise.all([1, 2, 3].map((n) => outcome(pool.run(n, { name: 'echo', memory: SMALL })))), 20_000);
    expect(settled, 'every task settles, none as crashed').toEqual(['ERR_WORKER_START', 'ERR_WORKER_START', 'ERR_WORKER_START']);
    expect(pool.stats().counters).toMatchObject({ crashed: 0, failed: 0, workerCrashes: 0 });
    expect(pool.stats().counters.startFailures).toBeGreaterThanOrEqual(3);
    expectIdle(pool, 3);
  });

  // Review of 3b: during close() the task was taken back and sent to a new worker, whose death
  // close() then did not count: the task waited for closeTimeout and ended PoolClosedError.
  it('3c. close() with workers dying while starting: the task ends with ERR_WORKER_START and close() resolves', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, closeTimeout: 120_000, execArgv: ['--import', dieOnStart] });
    pool.on('workerError', () => undefined);
    const task = outcome(pool.run(1, { name: 'echo', memory: SMALL }));
    const closed = pool.close();
    expect(await within(task, 20_000)).toBe('ERR_WORKER_START');
    expect(await within(closed, 20_000)).toBeUndefined();
    expect(pool.stats().counters).toMatchObject({ crashed: 0, workerCrashes: 0 });
  });

  // Review of 3b: aborting running tasks stops their workers (as in Piscina); workers started at
  // construction that had not started the runtime yet were counted as failed starts, and after
  // three the next task was refused with WorkerStartError.
  it('3d. aborting tasks on workers still starting is not a failed start', async () => {
    const pool = makePool({ minThreads: 3, maxThreads: 3 });
    const controllers = [0, 1, 2].map(() => new AbortController());
    const runs = controllers.map((controller) => outcome(pool.run(5_000, { name: 'sleep', signal: controller.signal, memory: SMALL })));
    for (const controller of controllers) controller.abort();
    expect(await within(Promise.all(runs), 20_000)).toEqual(['ABORT_ERR', 'ABORT_ERR', 'ABORT_ERR']);
    expect(pool.stats().counters.startFailures).toBe(0);
    expect(await within(pool.run(5, { name: 'echo', memory: SMALL }), 20_000)).toBe(5);
  });

  // Review of the shared-workers rule: runs that fail are not measured, so a name whose runs kept
  // failing ran alone on its worker for good (every run in flight alone, 12 of 12).
  it('3e. shared workers: a learned name whose runs fail shares its worker again after 6 runs alone', async () => {
    const pool = makePool({ maxThreads: 1, concurrentTasksPerWorker: 4, memoryLimit: 1024 * MiB });
    expect(typeof (await pool.run({ mb: 4, ms: 40 }, { name: 'inFlightHold' }))).toBe('number');
    const failing = await within(Promise.allSettled(Array.from({ length: 12 }, () => pool.run({ mb: 4, ms: 40, fail: true }, { name: 'inFlightHold' }))), 30_000);
    const most = (failing as PromiseSettledResult<unknown>[]).map((result) => (result.status === 'rejected' ? (result.reason as { most: number }).most : 0));
    expect(most.slice(0, 6), 'the first 6 alone').toEqual([1, 1, 1, 1, 1, 1]);
    expect(Math.max(...most.slice(6)), 'then shared').toBeGreaterThan(1);
  });

  // Aborting one task stops its worker; the other tasks on that worker (concurrentTasksPerWorker
  // > 1) are lost with it: a WorkerCrashError, counted as crashed, not Piscina's raw
  // Error('Terminating worker thread') counted as failed.
  // Was: aborting one of two tasks sharing a worker stopped the worker and rejected the other with
  // Piscina's raw 'Terminating worker thread'. Now, as in Piscina, an abortable task runs on a
  // worker running nothing else, and nothing joins it: an abort takes no other task with it.
  it('4. aborting a running task takes no other task with it: an abortable task never shares its worker', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 2 });
    // The worker publishes its readings with its first task; until then it takes one task at a time.
    expect(await pool.run('warm', { name: 'echo', memory: SMALL })).toBe('warm');
    const both = markers();
    const controller = new AbortController();
    const aborted = outcome(pool.run({ flags: both.flags, ms: 60_000 }, { name: 'marked', signal: controller.signal, memory: SMALL }));
    const bystander = outcome(pool.run({ flags: both.flags, ms: 20 }, { name: 'marked', memory: SMALL }));
    await until(() => both.started() === 1, 20_000, 'the abortable task to start');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(both.started()).toBe(1);
    controller.abort();

    expect(await within(aborted, 20_000)).toBe('ABORT_ERR');
    expect(typeof (await within(bystander, 20_000))).toBe('number');
    expect(pool.stats().counters).toMatchObject({ completed: 2, crashed: 0, failed: 0 });
    expectIdle(pool, 3);
  });

  // A held task whose maxWaitMs passed while the main thread was blocked times out: it is not
  // started when the answer that frees its memory and its deadline are seen together after the
  // block. (maxWaitMs bounds waiting for memory: the task waits for the main isolate, whose
  // reservations the running task holds, while a second worker is free.)
  it('5. a task whose maxWaitMs passed while the main thread was blocked is not started', async () => {
    const maxWaitMs = 300;
    const limit = v8.getHeapStatistics().heap_size_limit;
    const pool = makePool({ minThreads: 2, maxThreads: 2, maxWaitMs, resourceLimits: { maxOldGenerationSizeMb: Math.ceil(limit / MiB) } });
    expect(await pool.run('warm', { name: 'echo', memory: SMALL })).toBe('warm');
    const first = markers();
    const running = pool.run({ flags: first.flags, ms: 60_000 }, { name: 'released', memory: Math.round(0.5 * limit) });
    await until(() => first.started() === 1, 20_000, 'the first task to start');
    const heldAt = performance.now();
    const held = pool.run('late', { name: 'echo', memory: Math.round(0.4 * limit) });
    // Its rejection may come before the running task's result: handled from now on.
    const heldError = rejection(held, 20_000);
    expect(pool.stats().held).toBe(1);
    // Block in an I/O callback (as a request handler doing synchronous work would): let the first
    // task end, and wait until the held one is well past its deadline and the worker has had time
    // to answer; that answer (which releases the memory the held task waits for) is then taken in
    // the same turn of the event loop as the deadline.
    await new Promise<void>((resolve) => {
      stat(fileURLToPath(import.meta.url), () => {
        first.release();
        let endedAt = Infinity;
        for (;;) {
          const now = performance.now();
          if (endedAt === Infinity && first.ended() === 1) endedAt = now;
          if (now - endedAt >= 200 && now - heldAt >= maxWaitMs + 200) break;
          if (now - heldAt > 20_000) break;
        }
        resolve();
      });
    });
    expect(first.ended(), 'the first task ended while the main thread was blocked').toBe(1);
    expect(await within(running, 20_000)).toEqual(expect.any(Number));
    expect(await heldError).toMatchObject({ code: 'ERR_WAIT_TIMEOUT' });
    expect(pool.stats().counters).toMatchObject({ rejected: expect.objectContaining({ timeout: 1 }) });
    expectIdle(pool, 3);
  });

  // A task submitted from an 'admit' listener must not be put on the worker just chosen for the
  // task being admitted when that worker takes one task at a time.
  it("6. run() from an 'admit' listener never puts two tasks on one worker (concurrentTasksPerWorker: 1)", async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
    expect(await pool.run('warm', { name: 'echo', memory: SMALL })).toBe('warm');
    let nested: Promise<unknown> | undefined;
    pool.once('admit', () => {
      nested = pool.run(200, { name: 'overlap', memory: SMALL });
    });
    const outer = pool.run(200, { name: 'overlap', memory: SMALL });
    expect(nested).toBeDefined();
    const results = await within(Promise.all([outer, nested]), 20_000);
    // `most`: the most tasks that ran on that worker at once while each ran.
    expect(results).toEqual([1, 1]);
    expectIdle(pool, 3);
  });

  // The worker side keeps per-task-name data bounded: many distinct task names (all answered by the
  // same function) do not grow the worker's live heap.
  it('7. many distinct task names: the worker live heap stays bounded', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, idleTimeout: Infinity });
    // Long names make whatever is kept per name show at a count that runs in a few seconds.
    const prefix = `task-name-${'x'.repeat(200)}-`;
    let next = 0;
    const runNames = async (count: number): Promise<void> => {
      const batch = 500;
      for (let done = 0; done < count; done += batch) {
        const names = Array.from({ length: Math.min(batch, count - done) }, () => `${prefix}${next++}`);
        await Promise.all(names.map((name) => pool.run(null, { name })));
      }
    };
    const heap = (): Promise<number> => pool.run(null, { name: 'heapAfterGc' }) as Promise<number>;
    // Past every bounded cache (Piscina's handler cache keeps 1,000 names).
    await runNames(2000);
    const before = await heap();
    await runNames(20_000);
    const after = await heap();
    expect(after - before, `worker live heap grew ${((after - before) / MiB).toFixed(1)} MiB over 20,000 more names`).toBeLessThan(4 * MiB);
  });

  // Every held task that timed out because of memory pressure says so in its cause, not only the
  // head of the queue.
  it.skipIf(!hasV2Membership)('8. WaitTimeoutError.cause is the MemoryPressureError for every held task, not only the head', async () => {
    // The process (a fake cgroup) is above the mark with non-reclaimable memory: every task is held.
    const cgroup = fakeCgroupV2({ limit: 1024 * MiB, current: 1000 * MiB, anon: 1000 * MiB });
    const pool = makePool({ memoryLimit: 'auto', cgroupRoot: cgroup.root, minThreads: 0, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 64 }, policy: 'wait', maxWaitMs: 300 });
    const errors = await within(Promise.all([1, 2, 3].map((n) => rejection(pool.run(n, { name: 'echo', memory: SMALL }), 20_000))), 20_000);
    expect(errors).not.toBe(TIMED_OUT);
    for (const error of errors as unknown[]) {
      expect(error).toMatchObject({ code: 'ERR_WAIT_TIMEOUT', cause: { code: 'ERR_MEMORY_PRESSURE', scope: 'process' } });
    }
    expectIdle(pool, 3);
  });

  // A malformed memory.events (read only for the counters in stats()) says nothing about usage:
  // the process is still measured by the cgroup, and decisions still use its usage.
  it.skipIf(!hasV2Membership)('9. a malformed memory.events does not switch the process scope to RSS', async () => {
    const cgroup = fakeCgroupV2({ limit: 4096 * MiB, current: 100 * MiB, anon: 90 * MiB, events: 'this is not a key-value line\n' });
    const pool = makePool({ memoryLimit: 'auto', cgroupRoot: cgroup.root, minThreads: 1, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 64 }, policy: 'reject', pollIntervalMs: 10 });
    const warnings: string[] = [];
    const onWarning = (warning: Error): number => warnings.push(warning.message);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    // A task running for a while: the pool polls (and reads its counters) meanwhile; stats() too.
    const running = pool.run(300, { name: 'sleep', memory: SMALL });
    for (let i = 0; i < 5; i++) {
      pool.stats();
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(await within(running, 20_000)).toBe(300);
    expect(pool.stats().process).toMatchObject({ source: 'cgroup', limit: 4096 * MiB, measuredBy: 'cgroup', used: 100 * MiB });

    // Usage and non-reclaimable memory above the mark in the cgroup: refused, scope process. (By
    // RSS, this process is far below 0.85 × 4 GiB, and the task would be admitted.)
    cgroup.write('memory.current', `${4000 * MiB}\n`);
    cgroup.write('memory.stat', v2Stat(3900 * MiB));
    await new Promise((resolve) => setTimeout(resolve, 250));
    const error = await rejection(pool.run('too full', { name: 'echo', memory: SMALL }), 20_000);
    expect(error).toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    expect(pool.stats().process).toMatchObject({ measuredBy: 'cgroup', used: 4000 * MiB });
    expectIdle(pool, 2);
  });
});

describe('found later', () => {
  // A task that threw `undefined` resolved with undefined: "no error" was told by the error being
  // undefined. Piscina rejects with whatever the task threw.
  it('a task that throws a non-Error value (undefined, null, a number, a string) rejects with that very value, counted failed', async () => {
    const pool = makePool({ maxThreads: 1, memoryLimit: false });
    const thrown: unknown[] = [undefined, null, 5, 'nope'];
    const outcomes = await Promise.allSettled(thrown.map((value) => pool.run(value, { name: 'throwValue' })));
    expect(outcomes).toEqual(thrown.map((value) => ({ status: 'rejected', reason: value })));
    expect(pool.stats().counters).toMatchObject({ submitted: 4, settled: 4, failed: 4, completed: 0 });
    expectIdle(pool, 4);
  });
});

describe('found by the chaos test', () => {
  // An undeclared task of a name not measured yet was admitted with nothing reserved beside
  // declared tasks in flight: in a 204 MiB cgroup at 0.85 the process was OOM-killed in 3 of 4
  // replays (seed 8 of test/chaos.test.ts). Its run must find room for the largest need known.
  // (Beside a task in flight: alone, it may use the room above the mark, as a known need may.)
  it.skipIf(!hasV2Membership)('a task whose need nobody knows yet needs room for the largest need declared or learned in the pool', async () => {
    const cgroup = fakeCgroupV2({ limit: 1000 * MiB, current: 500 * MiB, anon: 500 * MiB });
    const pool = makePool({ memoryLimit: 'auto', cgroupRoot: cgroup.root, maxThreads: 2, policy: 'reject', highWater: 0.85, lowWater: 0.5, pollIntervalMs: 10 });
    expect(await within(pool.run('declared', { name: 'echo', memory: { external: 200 * MiB } }), 20_000)).toBe('declared');
    // The process at 700 MiB: 700 + 200 is past 0.85 × 1000, 700 alone is not.
    cgroup.write('memory.current', `${700 * MiB}\n`);
    cgroup.write('memory.stat', v2Stat(700 * MiB));
    const { flags, started, release } = markers();
    const inFlight = pool.run({ flags, ms: 20_000 }, { name: 'released', memory: 1024 });
    await until(() => started() === 1, 10_000, 'the task in flight to start');
    await new Promise((resolve) => setTimeout(resolve, 250));
    const error = await rejection(pool.run(5, { name: 'sleep' }), 20_000);
    expect(error).toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    release();
    await within(inFlight, 20_000);
    expect(await within(pool.run('small', { name: 'echo', memory: 10 * MiB }), 20_000)).toBe('small');
    expectIdle(pool, 4);
  });
});

describe('found by the 200-scenario chaos run', () => {
  // The first runs of names nobody knew yet were admitted with nothing reserved (nothing had been
  // admitted before them), and declared tasks were then admitted into the room those runs went on
  // to fill: a 270 MiB cgroup at 0.9 was OOM-killed in about 1 replay of 3 (seed 756348940, path 3
  // of test/chaos.test.ts; 0 of 8 after the fix). While it is measured, such a run reserves in the
  // process as much heap as its worker could hold.
  it.skipIf(!hasV2Membership)('a run whose need nobody knows reserves its worker heap limit in the process while it is measured', async () => {
    const cgroup = fakeCgroupV2({ limit: 1000 * MiB, current: 500 * MiB, anon: 500 * MiB });
    const pool = makePool({ memoryLimit: 'auto', cgroupRoot: cgroup.root, maxThreads: 2, policy: 'reject', highWater: 0.85, lowWater: 0.5, pollIntervalMs: 10, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    const unknown = pool.run(400, { name: 'sleep' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    // 500 in use + 256 the unknown run may take + 300 declared is past 0.85 × 1000 (without the
    // unknown run's room, 800 was not).
    const error = await rejection(pool.run('declared', { name: 'echo', memory: { external: 300 * MiB } }), 20_000);
    expect(error).toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    expect(await within(unknown, 20_000)).toBe(400);
    // Measured now: its name needs (next to) nothing, and the declared task fits.
    expect(await within(pool.run('declared', { name: 'echo', memory: { external: 300 * MiB } }), 20_000)).toBe('declared');
    expectIdle(pool, 3);
  });
});

describe('found by the 200-scenario chaos run, again', () => {
  // The same gap on a worker: a run whose need nobody knew reserved nothing on its worker, and with
  // two tasks per worker a declared 49 MiB task was placed beside an unknown one that went on to
  // 52 MiB in a 96 MB worker, which died (seed 757930434, scenario 58). A learning run now runs
  // alone on its worker, as an abortable task does (and it is measured only alone anyway).
  it('a learning run shares its worker with nothing, even with concurrentTasksPerWorker > 1', async () => {
    const pool = makePool({ filename: new URL('./fixtures/tasks.mjs', import.meta.url).href, maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 2 });
    const unknown = pool.run(300, { name: 'overlap' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const declared = pool.run(300, { name: 'overlap', memory: 2 * MiB });
    // Each saw only itself running in the worker: the declared task waited for the learning run.
    expect(await within(Promise.all([unknown, declared]), 20_000)).toEqual([1, 1]);
    expectIdle(pool, 2);
  });
});

describe('found reviewing the fix above', () => {
  // The room an unknown task needs came from the largest need *declared*, refused ones included: one
  // declared need too large for the container made every later unknown task too large as well.
  it.skipIf(!hasV2Membership)('a need refused as too large does not make later unknown tasks too large', async () => {
    const cgroup = fakeCgroupV2({ limit: 1000 * MiB, current: 100 * MiB, anon: 100 * MiB });
    const pool = makePool({ memoryLimit: 'auto', cgroupRoot: cgroup.root, maxThreads: 1, policy: 'reject', highWater: 0.85, pollIntervalMs: 10 });
    const error = await rejection(pool.run('huge', { name: 'echo', memory: { external: 2000 * MiB } }), 20_000);
    expect(error).toMatchObject({ code: 'ERR_TASK_TOO_LARGE', scope: 'process' });
    expect(await within(pool.run(5, { name: 'sleep' }), 20_000)).toBe(5);
    expectIdle(pool, 2);
  });
});

describe('found by the new-user trial of 2026-11-30', () => {
  // A declared heap need that fits below the high-water mark of a worker's limit but not beside
  // what a fresh worker already holds: the spawn started for it was taken back (its worker could
  // not hold it) before it ran, so no worker ever published its floor, and the gate started
  // worker after worker for it (87 starts in 5 s), the task never settling.
  it('a need that fits no fresh worker is refused with TaskTooLargeError, without a worker-start loop', async () => {
    const pool = makePool({ maxThreads: 4, memoryLimit: undefined, resourceLimits: { maxOldGenerationSizeMb: 24 } });
    let started = 0;
    pool.on('workerCreate', () => started++);
    // 2.8 MiB of JSON; 0.85 × 24 MiB = 20.4 MiB below the mark, and a worker holds ~8 MiB before its first task.
    const json = JSON.stringify(Array.from({ length: 120_000 }, (_, i) => ({ v: i % 7, s: `row-${i}` })));
    const outcomes = await within(Promise.allSettled([1, 2, 3].map(() => pool.run({ json }, { name: 'parse', memory: 16.5 * MiB }))), 10_000);
    expect(outcomes).not.toBe(TIMED_OUT);
    // Each settles: refused as too large, or (decided before any worker had shown its floor) run.
    for (const outcome of outcomes as PromiseSettledResult<unknown>[]) {
      if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'ERR_TASK_TOO_LARGE', scope: 'worker' });
      else expect(outcome.value).toBe(120_000);
    }
    // Once a worker has shown its floor, the need is refused at once.
    expect(await rejection(pool.run({ json }, { name: 'parse', memory: 16.5 * MiB }), 10_000)).toMatchObject({ code: 'ERR_TASK_TOO_LARGE', scope: 'worker' });
    expect(started).toBeLessThanOrEqual(4);
    expect(pool.stats().counters).toMatchObject({ submitted: 4, settled: 4 });
  });
});

describe('found by a loaded CI run of the images example', () => {
  // With nothing of the pool running, usage that no collection lowers (memory a malloc arena keeps
  // after earlier tasks; here, a Buffer the test holds) left a task that fits below the limit, but
  // not below the high-water mark, waiting until maxWaitMs — every time: the pool could not make
  // progress on its own. Alone, a task may use the room above the mark (never the limit itself).
  it('an idle pool runs a task that fits below the process limit but not below the high-water mark', async () => {
    const ballast = Buffer.alloc(200 * MiB, 1);
    try {
      const limit = process.memoryUsage.rss() + 84 * MiB;
      const pool = makePool({ maxThreads: 1, memoryLimit: limit, maxWaitMs: 3000 });
      expect(await pool.run(1, { name: 'echo', memory: MiB })).toBe(1);
      const used = pool.stats().process!.used;
      // The premise: it fits below the limit, not below 0.85 × limit.
      expect(used + 44 * MiB).toBeLessThan(limit);
      expect(used + 44 * MiB).toBeGreaterThanOrEqual(0.85 * limit);
      const outcome = await within(pool.run(2, { name: 'echo', memory: { external: 44 * MiB } }).then((value) => ({ value }), (error: unknown) => ({ error })), 10_000);
      expect(outcome).toEqual({ value: 2 });
    } finally {
      ballast.fill(0);
    }
  });
});

describe('found by the new-user trial of 2026-12-01', () => {
  // A task held for process memory that left the queue unrun (aborted, cleared, timed out) left the
  // poll timer referenced: with the process still above its mark, the pool polled on and the
  // process never exited, although nothing was held or running any more.
  it.each(['abort', 'clear', 'timeout'])('a held task that leaves the queue unrun (%s) does not keep the process alive', async (how) => {
    const child = await runFixture<{ heldBefore: number; underPressure: boolean; settled: string }>('regressions/exit-after-held.mjs', [how], [], 30_000);
    expect(child.json).toMatchObject({ heldBefore: 1, underPressure: true, settled: { abort: 'ABORT_ERR', clear: 'ERR_QUEUE_CLEARED', timeout: 'ERR_WAIT_TIMEOUT' }[how] });
    // Killed by the 30 s bound otherwise (signal SIGTERM, code null).
    expect({ code: child.code, signal: child.signal }).toEqual({ code: 0, signal: null });
  });
});

describe('found by the memory trial of 2026-12-01', () => {
  // The first run of an unknown name reserves as much heap as its worker can hold. With memory the
  // pool does not own filling the process to where that reservation crossed the high-water mark,
  // the run was held (or refused) in an idle pool, so the name could never be learned: every run
  // of it waited until maxWaitMs, nothing running (a name returning its input, 80 MiB of other
  // memory in a 192 MiB container). Alone, it may use the room above the mark, as a known need may.
  it('an idle pool starts the run that learns an unknown name when only the room above the high-water mark holds it', async () => {
    const limit = process.memoryUsage.rss() + 400 * MiB;
    const pool = makePool({ maxThreads: 1, memoryLimit: limit, policy: 'reject', resourceLimits: { maxOldGenerationSizeMb: 96 } });
    expect(await pool.run(1, { name: 'echo', memory: 1024 })).toBe(1);
    const room = pool.stats().workers[0]!.limit;
    // Other memory brings usage to half that room below the 0.85 mark: with the room, over the
    // mark, and under the limit (topped up while the test runner's own memory moves).
    const target = 0.85 * limit - room / 2;
    const ballast: Buffer[] = [];
    let used = pool.stats().process!.used;
    for (let tries = 0; tries < 5 && used < target - room / 4; tries++) {
      ballast.push(Buffer.alloc(Math.floor(target - used), 1));
      await new Promise((resolve) => setTimeout(resolve, 250));
      used = pool.stats().process!.used;
    }
    try {
      expect(used).toBeLessThan(0.85 * limit);
      expect(used + room).toBeGreaterThanOrEqual(0.85 * limit);
      expect(used + room).toBeLessThan(limit);
      expect(await rejection(pool.run(2, { name: 'sleep' }), 10_000)).toEqual({ resolved: 2 });
      expect(pool.stats().estimates.sleep).toBeDefined();
    } finally {
      for (const buffer of ballast) buffer.fill(0);
    }
  });
});

describe('found by the memory trial of 2026-12-01, counters', () => {
  // Tasks that arrived behind a head held for memory were counted as held for a worker ('busy'):
  // 47 tasks that timed out waiting for the main isolate read heldBy { busy: 59, main: 0 }.
  it('tasks held behind a head that waits for memory are counted held by that scope', async () => {
    const ballast = Buffer.alloc(80 * MiB, 1);
    try {
      const pool = makePool({ maxThreads: 1, memoryLimit: 64 * MiB, maxWaitMs: 300 });
      const outcomes = await within(Promise.all([1, 2, 3].map((value) => outcome(pool.run(value, { name: 'echo', memory: SMALL })))), 10_000);
      expect(outcomes).toEqual(['ERR_WAIT_TIMEOUT', 'ERR_WAIT_TIMEOUT', 'ERR_WAIT_TIMEOUT']);
      expect(pool.stats().counters.heldBy).toMatchObject({ process: 3, busy: 0 });
    } finally {
      ballast.fill(0);
    }
  });
});

describe('found by the new-user trial of 2026-12-01, again', () => {
  // A learning run holds its worker alone until it ends, however long it waits: a first fix let
  // tasks join it once it had been quiet for a second, and a run that slept, then built ~30 MiB
  // of objects, killed its 64 MB worker with the three declared tasks that had joined it, every
  // round (the name never learned, as a crashed run measures nothing). Found re-checking the fix.
  it('a learning run that waits, then grows, keeps its worker alone: no worker dies, its name is learned', async () => {
    const pool = makePool({ maxThreads: 1, concurrentTasksPerWorker: 4, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    const learning = outcome(pool.run({ ms: 2500, mb: 30 }, { name: 'sleeper' }));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const others = [0, 1, 2].map(() => outcome(pool.run(5, { name: 'sleep', memory: 13 * MiB })));
    const settled = await within(Promise.all([learning, ...others]), 30_000);
    expect(settled).not.toBe(TIMED_OUT);
    expect((settled as unknown[])[0]).toBeGreaterThan(0);
    expect((settled as unknown[]).slice(1)).toEqual([5, 5, 5]);
    expect(pool.stats().counters).toMatchObject({ crashed: 0, workerCrashes: 0 });
    expect(pool.stats().estimates.sleeper).toBeDefined();
    expectIdle(pool, 4);
  });
});

describe('an idle pool stuck on the process scope (2026-12-02)', () => {
  // A task blocked by the process scope with none of the pool's tasks running, after the idle
  // workers' garbage was collected, waited out maxWaitMs: nothing the pool did could free memory.
  // It now restarts the idle worker on which the largest run finished (its thread's memory goes
  // with it), one at a time, a worker only after a run of its own, at most 3 times until a task
  // starts.
  it('a worker that keeps a large Buffer alive is recycled, and the task it blocked runs', async () => {
    const child = await runFixture<{ results: unknown[]; recycles: { threadId: number; scope: string }[]; recycled: number }>('regressions/stuck-worker-holds.mjs', ['hoard'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    const { results, recycles, recycled } = child.json!;
    // The first run's thread keeps its 100 MiB; the second runs once that thread is gone.
    expect(results).toHaveLength(2);
    expect(results[1]).not.toBe('ERR_WAIT_TIMEOUT');
    expect(recycles).toEqual([{ threadId: results[0], scope: 'process' }]);
    expect(recycled).toBe(1);
  });

  // A new user's trial: a worker that kept what its runs made (an off-heap cache that only grew) was
  // never recycled, as its runs were small beside what the task lacked; the pool waited until every
  // task timed out (2 of 2). What an idle worker still holds after its collections counts now.
  it('a worker whose small runs kept everything (a growing cache) is recycled, and the task it blocked runs', async () => {
    const child = await runFixture<{ results: unknown[]; recycles: { scope: string }[] }>('regressions/stuck-worker-holds.mjs', ['leak'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    const { results, recycles } = child.json!;
    // The run that would not fit beside what the worker keeps (the 7th at most: 7 × 24 > 160 MiB) runs on a new worker.
    expect(results).not.toContain('ERR_WAIT_TIMEOUT');
    expect(results.length).toBeGreaterThan(2);
    expect(results.at(-1)).toBe(1);
    expect(recycles.map(({ scope }) => scope)).toEqual(['process']);
  });

  // A new user's trial: results the caller had dropped kept the main isolate's off-heap bytes up;
  // the pool restarted empty workers and the tasks timed out (3 of 3). A pool stuck with nothing
  // running collects the main isolate once for the task (from a timer, not from run()).
  it('off-heap garbage in the main thread: collected once, and the task it blocked runs', async () => {
    const child = await runFixture<{ settled: string; garbageBefore: boolean }>('regressions/dropped-in-main.mjs', ['160', '120', '100'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    expect(child.json).toMatchObject({ settled: 'completed', garbageBefore: true });
  });

  type Stuck = { ran: number[]; recycles: { threadId: number; scope: string; whileAnotherExits: boolean }[]; settled: string; recycled: number };

  it('memory no restart frees: each idle worker that ran a task is recycled once, one at a time, 3 in all, then the task waits out maxWaitMs', async () => {
    // 4 workers that ran 100 MiB each; 520 MiB of the main thread's; a 100 MiB task, ~70 MiB short.
    const child = await runFixture<Stuck>('regressions/stuck-process.mjs', ['4', '100', '600', '520', '100'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    const { ran, recycles, settled, recycled } = child.json!;
    expect(new Set(ran).size).toBe(4);
    expect(settled).toBe('ERR_WAIT_TIMEOUT');
    expect(recycles).toHaveLength(3);
    for (const recycle of recycles) expect(recycle).toMatchObject({ scope: 'process', whileAnotherExits: false });
    // Workers that ran a task, each once.
    expect(new Set(recycles.map(({ threadId }) => threadId)).size).toBe(3);
    for (const { threadId } of recycles) expect(ran).toContain(threadId);
    expect(recycled).toBe(3);
  }, 70_000);

  // 2 workers that ran 1 KiB tasks; main-thread memory: a task tens of MiB short (200 MiB held,
  // 60 MiB need), and one kept out by the pressure latch (150 MiB held, 10 MiB need).
  it.each([['short of the limit', ['200', '200', '60']], ['under the pressure latch', ['200', '150', '10']]])('no restart when the idle workers\' runs could not have left what the task lacks (%s)', async (_case, args) => {
    const child = await runFixture<Stuck>('regressions/stuck-process.mjs', ['2', '0', ...args], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    expect(child.json).toMatchObject({ settled: 'ERR_WAIT_TIMEOUT', recycles: [], recycled: 0 });
  }, 70_000);

  it('a worker started in place of a recycled one is not recycled before it has run a task', async () => {
    // 1 worker that ran 100 MiB; 250 MiB of the main thread's; a 100 MiB task.
    const child = await runFixture<Stuck>('regressions/stuck-process.mjs', ['1', '100', '300', '250', '100'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    const { ran, recycles, settled } = child.json!;
    expect(settled).toBe('ERR_WAIT_TIMEOUT');
    expect(recycles.map(({ threadId }) => threadId)).toEqual(ran);
  }, 70_000);

  // Found by review (2026-12-02): the count of recycles started again whenever any task started, so
  // small tasks overtaking a stuck one opened window after window: 20 recycles in 4 s.
  it('small tasks overtaking a stuck one do not start the count again: at most 3 recycles for it', async () => {
    const child = await runFixture<{ settled: string; smallDone: number; recycles: number }>('regressions/stuck-overtaken.mjs', ['160', '90', '60', '118', '20'], [], 60_000);
    expect(child.code, child.stderr).toBe(0);
    const { settled, smallDone, recycles } = child.json!;
    expect(settled).toBe('ERR_WAIT_TIMEOUT');
    // The premise: small tasks did run, each leaving the pool with nothing running again.
    expect(smallDone).toBeGreaterThanOrEqual(5);
    expect(recycles).toBeGreaterThanOrEqual(1);
    expect(recycles).toBeLessThanOrEqual(3);
  }, 70_000);
});

describe('memory a worker\'s malloc arena keeps (the images example, loaded CI, 2026-12-01; partly fixed 2026-12-02)', () => {
  // Jobs of two 22 MiB Float32Arrays, declared, one worker, a limit of the process's usage at start
  // plus 80 MiB, six in a row. Freed by a GC, the arrays stay resident in the worker's malloc arena
  // (glibc's threshold for mapping a block on its own rises to their size once the first run's maps
  // are freed); the gate counts that memory in use, and a job whose declared need does not fit below
  // the limit on top of it waited until maxWaitMs with nothing running: 3–4 of the 6 timed out in
  // 8 of 8 runs. The stuck pool now recycles its worker (the thread's exit often gives the arena
  // back): all 6 done in 12 of 20 runs; when the exit gives nothing back, the next thread takes over
  // the arena and the jobs wait as before (README, "Not guaranteed").
  type Arena = { need: number; limit: number; runs: { settled: string; usedBefore: number }[]; processRecycles: number };
  let arena: Promise<Awaited<ReturnType<typeof runFixture<Arena>>>> | undefined;
  const runArena = () => (arena ??= runFixture<Arena>('regressions/arena-retained.mjs', [], [], 60_000));

  it('the premise: the first job runs, and every job that waits finds the arena\'s memory in use with no room for its need', async () => {
    const child = await runArena();
    expect(child.code, child.stderr).toBe(0);
    const { need, limit, runs } = child.json!;
    expect(runs[0]?.settled).toBe('completed');
    for (const run of runs) if (run.settled !== 'completed') expect(run.usedBefore + need).toBeGreaterThan(limit);
  }, 70_000);

  it('a job the arena\'s memory blocks gets the idle worker recycled; each job runs or times out', async () => {
    const { runs, processRecycles } = (await runArena()).json!;
    // A job is blocked in every run (without recycling, 3–4 of 6 timed out in 8 of 8 runs).
    expect(processRecycles).toBeGreaterThanOrEqual(1);
    for (const { settled } of runs) expect(['completed', 'ERR_WAIT_TIMEOUT']).toContain(settled);
  }, 70_000);
});
