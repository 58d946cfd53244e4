// GatedPool's behaviour with real Piscina and real workers: results, errors, transfers, crashes,
// stranding, aborts, bounds, policies, close/destroy, stats, events. Every test counts its tasks:
// each one settles exactly once, and the pool's own counters agree.
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Piscina } from 'piscina';
import {
  AbortError,
  GatedPool,
  MemoryPressureError,
  PoolClosedError,
  QueueFullError,
  TaskResultError,
  TaskTooLargeError,
  WaitTimeoutError,
  WorkerCrashError,
  type GatedPoolOptions,
} from '../dist/index.js';
import { runFixture } from './helpers/child.js';
import { expectAllSettled, settleAll } from './helpers/records.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const MB = 2 ** 20;
const pools: GatedPool[] = [];

function makePool(options: Partial<GatedPoolOptions> = {}): GatedPool {
  const pool = new GatedPool({ filename: tasks, minThreads: 1, maxThreads: 2, ...options });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe('stats of a pool that has run nothing', () => {
  it('reports the process memory in use before the first task (a fresh service does not scrape 0 bytes)', () => {
    const pool = makePool();
    const process = pool.stats().process!;
    expect(process.used).toBeGreaterThan(10 * MB);
  });
});

describe('running tasks', () => {
  it('returns results from the default and named exports', async () => {
    const pool = makePool();
    const out = await settleAll([pool.run(7), pool.run({ a: 2, b: 3 }, { name: 'add' }), pool.run(20, { name: 'sleep' })]);
    expect(out).toEqual([7, 5, 20]);
    expectAllSettled(pool, 3);
  });

  it("passes the task's own error through unchanged", async () => {
    const pool = makePool();
    const [error] = await settleAll([pool.run('boom', { name: 'fail' })]);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('boom');
    expect(pool.stats().counters.failed).toBe(1);
    expectAllSettled(pool, 1);
  });

  it("a task's custom error keeps its name, message, code, own properties, cause and stack; a standard class stays that class", async () => {
    const pool = makePool();
    const out = await settleAll([
      pool.run('over quota', { name: 'failCustom' }),
      pool.run('over quota later', { name: 'failCustomAsync' }),
      pool.run(null, { name: 'failTypeWithCode' }),
      pool.run(5, { name: 'throwValue' }),
      pool.run(null, { name: 'throwValue' }),
    ]);
    for (const [index, message] of [[0, 'over quota'], [1, 'over quota later']] as const) {
      const error = out[index] as Error & Record<string, unknown>;
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('QuotaError');
      expect(error.message).toBe(message);
      expect(error.code).toBe('E_QUOTA');
      expect(error.limit).toBe(5);
      expect(error.details).toEqual({ bucket: 'a' });
      // A function cannot cross threads: that property alone is left out.
      expect('callback' in error).toBe(false);
      expect(error.cause).toBeInstanceOf(RangeError);
      expect((error.cause as Error).message).toBe('inner');
      expect(error.stack).toContain(index === 0 ? 'failCustom' : 'failCustomAsync');
    }
    expect(out[2]).toBeInstanceOf(TypeError);
    expect(out[2]).toMatchObject({ message: 'bad type', code: 'ERR_BAD' });
    expect(out[3]).toBe(5);
    expect(out[4]).toBe(null);
    expect(pool.stats().counters.failed).toBe(5);
    expectAllSettled(pool, 5);
  });

  // Was: a cause's own properties were lost (cloning keeps a cause's message and class only), so
  // code such as `err.cause.code === 'ECONNREFUSED'` never matched.
  it("a cause that is an error keeps its code and own properties, down the chain; a cause cycle ends", async () => {
    const pool = makePool();
    const [chained, cyclic] = await settleAll([pool.run(null, { name: 'failWithCodedCause' }), pool.run(null, { name: 'failWithCauseCycle' })]);
    const error = chained as Error & { cause: Error & Record<string, unknown> };
    expect(error.message).toBe('outer');
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.cause).toMatchObject({ message: 'connect failed', code: 'ECONNREFUSED', port: 9 });
    expect(error.cause.cause).toBeInstanceOf(TypeError);
    expect(error.cause.cause).toMatchObject({ message: 'deepest', code: 'E_DEEP' });
    expect((cyclic as Error).message).toBe('loop');
    expect(pool.stats().counters.failed).toBe(2);
    expectAllSettled(pool, 2);
  });

  // Found by a new user's trial (2026-12-01): a throwing getter replaced the task's error with the
  // getter's; a DOMException came back a plain Error without its code; a thrown function stopped
  // the worker and came back as a WorkerCrashError saying the task had *returned* it.
  it("a task's error survives a throwing getter; a DOMException keeps its class and code; a thrown value that cannot be cloned is described, and the worker lives", async () => {
    const pool = makePool({ maxThreads: 1 });
    let created = 0;
    pool.on('workerCreate', () => created++);
    const out = await settleAll([
      pool.run(null, { name: 'failWithThrowingGetter' }),
      pool.run(null, { name: 'failDomException' }),
      pool.run('function', { name: 'throwUncloneable' }),
      pool.run('object', { name: 'throwUncloneable' }),
      pool.run(null, { name: 'failDataClone' }),
    ]);
    expect(out[0]).toBeInstanceOf(Error);
    expect((out[0] as Error).message).toBe('the real failure');
    expect('detail' in (out[0] as Error)).toBe(false);
    expect(out[1]).toBeInstanceOf(DOMException);
    expect(out[1]).toMatchObject({ name: 'NotFoundError', message: 'not here', code: 8 });
    for (const [index, what] of [[2, 'a function'], [3, 'an object']] as const) {
      expect(out[index]).toBeInstanceOf(Error);
      expect((out[index] as Error).message).toContain(`the task threw a value that cannot be sent to the main thread: ${what}`);
    }
    // The task's own DataCloneError is its own failure, not a refused input (found reviewing the DOMException fix).
    expect(out[4]).toBeInstanceOf(DOMException);
    expect(out[4]).toMatchObject({ name: 'DataCloneError' });
    expect(pool.stats().counters).toMatchObject({ failed: 5, crashed: 0, rejected: { input: 0 } });
    expect(created).toBeLessThanOrEqual(1);
    expectAllSettled(pool, 5);
  });

  it('a pool with no filename runs tasks that name their own module; a run naming none is refused', async () => {
    const pool = new GatedPool({ maxThreads: 2 });
    pools.push(pool);
    const other = new URL('./fixtures/async-handler.mjs', import.meta.url);
    const out = await settleAll([
      pool.run({ a: 2, b: 3 }, { name: 'add', filename: tasks }),
      pool.run(4, { filename: fileURLToPath(other) }),
      pool.run(1),
      pool.run(1, { filename: 'relative/tasks.mjs' }),
    ]);
    expect(out.slice(0, 2)).toEqual([5, 12]);
    expect(out[2]).toBeInstanceOf(TypeError);
    expect((out[2] as Error).message).toBe('filename must be provided to run() or in options object');
    expect(out[3]).toBeInstanceOf(RangeError);
    expect((out[3] as Error).message).toMatch(/run options\.filename must be an absolute path or a file: URL, got "relative\/tasks\.mjs"/);
    expectAllSettled(pool, 2);
  });

  it("a run's filename replaces the pool's for that run; needs are learned per module", async () => {
    const pool = makePool({ maxThreads: 1 });
    const other = new URL('./fixtures/async-handler.mjs', import.meta.url).href;
    expect(await pool.run(4)).toBe(4);
    expect(await pool.run(4, { filename: other })).toBe(12);
    expect(await pool.run(4, { filename: tasks })).toBe(4);
    expect(Object.keys(pool.stats().estimates).sort()).toEqual(['default', `default in ${other}`]);
    expectAllSettled(pool, 3);
  });

  it('a module whose default export is a promise of the handler (loaded asynchronously) works', async () => {
    const pool = makePool({ filename: new URL('./fixtures/async-handler.mjs', import.meta.url).href });
    expect(await pool.run(2)).toBe(6);
    expectAllSettled(pool, 1);
  });

  it('an EventEmitter that emits abort is a signal too (as in Piscina): held and running tasks end with AbortError', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    const running = new EventEmitter();
    const held = new EventEmitter();
    const out = settleAll([pool.run(10_000, { name: 'sleep', signal: running as never }), pool.run('held', { signal: held as never })]);
    held.emit('abort');
    await new Promise((resolve) => setTimeout(resolve, 100));
    running.emit('abort');
    const [first, second] = await out;
    for (const error of [first, second]) {
      expect(error).toBeInstanceOf(AbortError);
      expect((error as Error).message).toBe('The task has been aborted');
    }
    expect(pool.stats().counters.rejected.aborted).toBe(2);
    expectAllSettled(pool, 2);
  });

  it('rejects a missing export with a TypeError naming it', async () => {
    const pool = makePool();
    const [error] = await settleAll([pool.run(1, { name: 'nope' })]);
    expect(String(error)).toMatch(/^TypeError: No handler function exported from .*tasks\.mjs: it has no function export named 'nope'$/);
    expectAllSettled(pool, 1);
  });

  it('transfers through transferList and Piscina.move() both ways', async () => {
    const pool = makePool();
    const sent = new Uint8Array([1, 2, 3]).buffer;
    const back = (await pool.run(sent, { name: 'double', transferList: [sent] })) as ArrayBuffer;
    expect(sent.byteLength).toBe(0);
    expect([...new Uint8Array(back)]).toEqual([2, 4, 6]);
    const moved = new Uint8Array(16).buffer;
    expect(await pool.run(Piscina.move(moved), { name: 'byteLength' })).toBe(16);
    expect(moved.byteLength).toBe(0);
    expectAllSettled(pool, 2);
  });

  it('runs more tasks than threads, all of them', async () => {
    const pool = makePool({ maxThreads: 2 });
    const out = await settleAll(Array.from({ length: 40 }, (_, i) => pool.run(i)));
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expectAllSettled(pool, 40);
  });
});

describe('worker deaths', () => {
  it('a crash rejects only that task, with WorkerCrashError naming it; the pool goes on', async () => {
    const pool = makePool({ maxThreads: 1 });
    const out = await settleAll([pool.run(3, { name: 'exit' }), pool.run('after')]);
    expect(out[0]).toBeInstanceOf(WorkerCrashError);
    expect((out[0] as WorkerCrashError).taskName).toBe('exit');
    expect(out[1]).toBe('after');
    expect(pool.stats().counters.crashed).toBe(1);
    expectAllSettled(pool, 2);
  });

  it('a result that cannot be sent back fails its task with TaskResultError saying why; the worker goes on (with Piscina it dies)', async () => {
    const pool = makePool({ maxThreads: 1 });
    const threadId = pool.threads[0]!.threadId;
    const [failed, after] = await settleAll([pool.run(1, { name: 'returnFunction' }), pool.run('after')]);
    expect(failed).toBeInstanceOf(TaskResultError);
    expect((failed as TaskResultError).code).toBe('ERR_TASK_RESULT');
    expect((failed as TaskResultError).message).toMatch(/the result of task 'returnFunction' cannot be sent back to the main thread: DataCloneError: .* could not be cloned/);
    expect(after).toBe('after');
    expect(pool.threads.map((thread) => thread.threadId)).toEqual([threadId]);
    expect(pool.stats().counters).toMatchObject({ failed: 1, crashed: 0, workerCrashes: 0 });
    expectAllSettled(pool, 2);
  });

  it('bare Piscina strands a queued task after a worker death with minThreads 0; GatedPool does not', async () => {
    const bare = new Piscina({ filename: tasks, minThreads: 0, maxThreads: 1 });
    const crash = bare.run(1, { name: 'exit' }).catch((error: unknown) => error);
    let strandedSettled = false;
    const queued = bare.run('queued').finally(() => (strandedSettled = true));
    await crash;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(strandedSettled).toBe(false);
    void queued.catch(() => undefined);
    await bare.destroy();

    const pool = makePool({ minThreads: 0, maxThreads: 1 });
    const out = await settleAll([pool.run(1, { name: 'exit' }), pool.run('queued'), pool.run('and another')]);
    expect(out[0]).toBeInstanceOf(WorkerCrashError);
    expect(out.slice(1)).toEqual(['queued', 'and another']);
    expectAllSettled(pool, 3);
  });
});

describe('abort', () => {
  it('drops a held task at once with AbortError; the running one is unaffected', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    const controller = new AbortController();
    const running = pool.run(200, { name: 'sleep' });
    const held = pool.run('held', { signal: controller.signal });
    expect(pool.stats().held).toBe(1);
    controller.abort(new Error('changed my mind'));
    const out = await settleAll([running, held]);
    expect(out[0]).toBe(200);
    expect(out[1]).toBeInstanceOf(AbortError);
    expect(((out[1] as AbortError).cause as Error).message).toBe('changed my mind');
    expect(pool.stats().counters.rejected.aborted).toBe(1);
    expectAllSettled(pool, 2);
  });

  it('stops a running task with AbortError and replaces its worker', async () => {
    const pool = makePool({ maxThreads: 1 });
    const controller = new AbortController();
    const running = pool.run(10_000, { name: 'sleep', signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    const [error] = await settleAll([running]);
    expect(error).toBeInstanceOf(AbortError);
    expect(await pool.run('next')).toBe('next');
    expectAllSettled(pool, 2);
  });

  it('rejects an already-aborted signal without running', async () => {
    const pool = makePool();
    const [error] = await settleAll([pool.run(1, { signal: AbortSignal.abort() })]);
    expect(error).toBeInstanceOf(AbortError);
    expect(pool.stats().counters.admitted).toBe(0);
    expectAllSettled(pool, 1);
  });
});

describe('bounds', () => {
  it('maxQueue bounds the held tasks: the next one gets QueueFullError', async () => {
    const pool = makePool({ maxThreads: 1, maxQueue: 2 });
    const out = await settleAll([pool.run(100, { name: 'sleep' }), pool.run(1), pool.run(2), pool.run(3)]);
    expect(out.slice(0, 3)).toEqual([100, 1, 2]);
    expect(out[3]).toBeInstanceOf(QueueFullError);
    expect((out[3] as QueueFullError).maxQueue).toBe(2);
    expectAllSettled(pool, 4);
  });

  // Found by a new user's trial: right after construction, spawns wait for Piscina's first workers
  // to be announced, in the held queue, where they counted against maxQueue: 2 of these 6 ran.
  it('a burst right after construction has the slots of workers still to be started as room, as in Piscina', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 4, maxQueue: 1 });
    const out = await settleAll(Array.from({ length: 6 }, () => pool.run(30, { name: 'sleep', memory: 8 * MB })));
    expect(out.slice(0, 5)).toEqual([30, 30, 30, 30, 30]);
    expect(out[5]).toBeInstanceOf(QueueFullError);
    expectAllSettled(pool, 6);
  });

  it('a backlog of 2,000 tasks submitted at once, with the default queue bound, all run', async () => {
    const pool = makePool({ maxThreads: 2 });
    const out = await settleAll(Array.from({ length: 2000 }, (_, i) => pool.run(i)));
    expect(out).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expectAllSettled(pool, 2000);
  });

  it('maxWaitMs does not time out a task that only waits for a busy worker (as in Piscina)', async () => {
    const pool = makePool({ maxThreads: 1, maxWaitMs: 100 });
    const out = await settleAll([pool.run(600, { name: 'spin' }), pool.run('late'), pool.run('later')]);
    expect(out).toEqual([600, 'late', 'later']);
    expect(pool.stats().counters.rejected.timeout).toBe(0);
    expectAllSettled(pool, 3);
  });
});

describe('waiting for a busy worker', () => {
  it('tasks waiting for a busy worker count as held, against maxQueue, and start in order', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1, maxQueue: 2 });
    const order: number[] = [];
    const promises = [pool.run(150, { name: 'sleep' }), ...[1, 2, 3].map((n) => pool.run(n).then((value) => (order.push(n), value)))];
    expect(pool.stats().held).toBe(2);
    expect(pool.stats().running).toBe(1);
    const out = await settleAll(promises);
    expect(out.slice(0, 3)).toEqual([150, 1, 2]);
    expect(out[3]).toBeInstanceOf(QueueFullError);
    expect(order).toEqual([1, 2]);
    const { counters } = pool.stats();
    expect(counters.admitted).toBe(3);
    expect(counters.held).toBe(2);
    expectAllSettled(pool, 4);
  });

  it('held tasks start in order as the worker frees, each handed to it before the finished task settles, none sent to wait in Piscina', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    expect(await pool.run(1)).toBe(1);
    const placements: (number | 'spawn')[] = [];
    const completedAtAdmit: number[] = [];
    pool.on('admit', ({ worker }) => {
      placements.push(worker);
      completedAtAdmit.push(pool.stats().counters.completed);
    });
    const out = await settleAll([pool.run(50, { name: 'sleep' }), pool.run(2), pool.run(3)]);
    expect(out).toEqual([50, 2, 3]);
    // Each was placed on the pool's one worker as the task before it answered, before that one was
    // settled (the freed worker is handed its next task first).
    expect(new Set(placements).size).toBe(1);
    expect(typeof placements[0]).toBe('number');
    expect(completedAtAdmit).toEqual([1, 1, 2]);
    expectAllSettled(pool, 4);
  });

  it('a task held for memory past maxWaitMs is rejected with WaitTimeoutError, its wait counted from when memory blocked it; the next one runs once memory frees', async () => {
    // The main isolate's reservations block the second task while the first runs: a worker is
    // free, so it waits for memory, not for a worker. (Declared heap is reserved in the main
    // isolate; workers get the main isolate's heap limit so that the needs fit them.)
    const limit = v8.getHeapStatistics().heap_size_limit;
    const limitMb = Math.ceil(limit / MB);
    const pool = makePool({ maxThreads: 2, minThreads: 2, maxWaitMs: 150, memoryLimit: false, resourceLimits: { maxOldGenerationSizeMb: limitMb } });
    const holds: unknown[] = [];
    pool.on('hold', (info) => holds.push(info.scope));
    const first = pool.run(700, { name: 'sleep', memory: Math.round(0.5 * limit) });
    const late = pool.run('late', { memory: Math.round(0.4 * limit) });
    expect(pool.stats().held).toBe(1);
    const [error] = await settleAll([late]);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const timeout = error as WaitTimeoutError;
    // Node's timers run on the loop's cached clock: they may fire a millisecond or two early by performance.now().
    expect(timeout.waitedMs).toBeGreaterThanOrEqual(145);
    expect(timeout.cause).toBeInstanceOf(MemoryPressureError);
    expect(timeout.cause?.scope).toBe('main');
    expect(holds).toEqual(['main']);
    expect(await first).toBe(700);
    expect(await pool.run('next', { memory: Math.round(0.4 * limit) })).toBe('next');
    expect(pool.stats().counters.admitted).toBe(2);
    expectAllSettled(pool, 3);
  });
});

describe('memory pressure with real readings', () => {
  // A high-water mark of 0.1% of the main heap limit puts the real main isolate over it; the
  // process scope is switched off so that the main isolate is the one the gate names.
  it("policy 'reject': MemoryPressureError with scope, used, limit, ceiling, need and retryAfterMs", async () => {
    const pool = makePool({ policy: 'reject', highWater: 0.001, lowWater: 0.0005, retryAfterMs: 250, memoryLimit: false });
    const [error] = await settleAll([pool.run(1, { memory: 2 ** 19 })]);
    expect(error).toBeInstanceOf(MemoryPressureError);
    const pressure = error as MemoryPressureError;
    expect(pressure.code).toBe('ERR_MEMORY_PRESSURE');
    expect(pressure.scope).toBe('main');
    expect(pressure.limit).toBe(pool.stats().main.limit);
    expect(pressure.used).toBeGreaterThan(0.001 * pressure.limit);
    expect(pressure.retryAfterMs).toBe(250);
    expect(pressure.ceiling).toBe(Math.floor(0.001 * pressure.limit));
    expect(pressure.need).toBe(2 ** 19);
    expect(pressure.message).toMatch(/^memory pressure in main scope: task 'default' needs 0\.5 MiB; [\d.]+ MiB in use or reserved, admitting up to [\d.]+ MiB of the [\d.]+ MiB limit; retry after 250 ms$/);
    expect(pool.stats().counters.rejected.pressure).toBe(1);
    expectAllSettled(pool, 1);
  });

  it('NODE_DEBUG=heapgate says why a task is held and why it timed out', () => {
    const script = `import { GatedPool } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const pool = new GatedPool({ filename: ${JSON.stringify(tasks)}, policy: 'wait', highWater: 0.001, lowWater: 0.0005, maxWaitMs: 100, memoryLimit: false });
      await pool.run(1).catch((error) => console.log(error.code));
      await pool.destroy();`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'heapgate' } });
    expect(child.stdout.trim()).toBe('ERR_WAIT_TIMEOUT');
    expect(child.stderr).toMatch(/HEAPGATE \d+: task \d+: memory pressure in main scope: task 'default' needs/);
    expect(child.stderr).toMatch(/HEAPGATE \d+: task \d+: task 'default' waited \d+ ms for memory/);
  });

  it("policy 'wait': holds under pressure and gives up after maxWaitMs with the pressure as cause", async () => {
    const pool = makePool({ policy: 'wait', highWater: 0.001, lowWater: 0.0005, maxWaitMs: 150, memoryLimit: false });
    const holds: unknown[] = [];
    pool.on('hold', (info) => holds.push(info.scope));
    expect(pool.stats().headBlockedBy).toBeUndefined();
    const settled = settleAll([pool.run(1, { name: 'echo' })]);
    // Why the head waits, as its MemoryPressureError says.
    const blocked = pool.stats().headBlockedBy;
    expect(blocked).toEqual({ taskName: 'echo', scope: 'main', need: 0, used: expect.any(Number), ceiling: Math.floor(0.001 * pool.stats().main.limit), limit: pool.stats().main.limit });
    expect(blocked!.used).toBeGreaterThan(blocked!.ceiling);
    const [error] = await settled;
    expect(pool.stats().headBlockedBy).toBeUndefined();
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).cause).toBeInstanceOf(MemoryPressureError);
    expect(holds).toEqual(['main']);
    expectAllSettled(pool, 1);
  });

  it('the process scope: an explicit memoryLimit below what the process uses refuses with scope process', async () => {
    const pool = makePool({ policy: 'reject', memoryLimit: 64 * MB });
    const [error] = await settleAll([pool.run(1)]);
    expect(error).toBeInstanceOf(MemoryPressureError);
    expect((error as MemoryPressureError).scope).toBe('process');
    expect((error as MemoryPressureError).limit).toBe(64 * MB);
    const process = pool.stats().process!;
    expect(process.source).toBe('explicit');
    expect(process.limit).toBe(64 * MB);
    expect(process.used).toBeGreaterThan(0.85 * 64 * MB);
    expectAllSettled(pool, 1);
  });

  it('a declared task larger than the process limit allows is TaskTooLargeError in scope process', async () => {
    const pool = makePool({ memoryLimit: 1024 * MB, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
    const [error] = await settleAll([pool.run(1, { memory: 900 * MB })]);
    expect(error).toBeInstanceOf(TaskTooLargeError);
    expect((error as TaskTooLargeError).scope).toBe('process');
    expectAllSettled(pool, 1);
  });

  it('memoryLimit false: no process scope in decisions or stats', async () => {
    const pool = makePool({ memoryLimit: false });
    expect(await pool.run(2)).toBe(2);
    expect(pool.stats().process).toBeUndefined();
    expectAllSettled(pool, 1);
  });

  it('a task larger than any worker can hold is rejected at once with TaskTooLargeError', async () => {
    const pool = makePool({ resourceLimits: { maxOldGenerationSizeMb: 64 } });
    await pool.run('warm');
    const out = await settleAll([pool.run(1, { memory: 60 * MB }), pool.run(2, { memory: 1 * MB })]);
    expect(out[0]).toBeInstanceOf(TaskTooLargeError);
    expect((out[0] as TaskTooLargeError).scope).toBe('worker');
    // The high-water mark of the worker limit, less what a fresh worker already holds (a few MiB).
    const { capacity } = out[0] as TaskTooLargeError;
    expect(capacity).toBeLessThan(0.85 * 64 * MB);
    expect(capacity).toBeGreaterThan(0.85 * 64 * MB - 16 * MB);
    expect(out[1]).toBe(2);
    expectAllSettled(pool, 3);
  });
});

describe('seeing ahead: nudges, routing, reservations, estimates', () => {
  const hold = new URL('./fixtures/hold.mjs', import.meta.url).href;

  it('an idle worker full of garbage is collected (nudged) instead of recycled or refused', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, policy: 'reject', resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const nudges: number[] = [];
    pool.on('nudge', ({ threadId }) => nudges.push(threadId));
    const first = (await pool.run(50, { name: 'fillThenDrop' })) as number;
    // The task ended with ~50 MB live; 100 ms later all of it is garbage, and the worker is idle.
    expect(pool.stats().workers[0]!.live).toBeGreaterThan(0.85 * 64 * MB);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pool.stats().counters.nudges).toBe(0);
    const second = await pool.run(undefined, { name: 'whoami' });
    expect(second).toBe(first);
    expect(nudges).toEqual([first]);
    const { counters } = pool.stats();
    expect(counters).toMatchObject({ recycled: 0, nudges: 1 });
    expect(counters.rejected.pressure).toBe(0);
    expectAllSettled(pool, 2);
  });

  it("a task's off-heap garbage is left to V8 while no memory is wanted, and collected once it is", async () => {
    // No process scope: memory is never wanted. A GC at a task's end would have freed the 16 MiB
    // (it did, before: and slowed the next run of a fetch-heavy job by 25–40 % CPU). The Buffer is
    // promoted: a scavenge V8 runs on its own between tasks cannot free it (a young one, it did).
    const roomy = makePool({ filename: hold, maxThreads: 1, minThreads: 1, memoryLimit: false });
    await roomy.run(16, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 16 * MB } });
    expect(roomy.stats().workers[0]!.leftovers).toBeGreaterThan(15 * MB);
    expect(roomy.stats().workers[0]!.external).toBeGreaterThan(16 * MB);
    expectAllSettled(roomy, 1);
    await roomy.destroy();

    // A need refused for the process's memory ('reject') wants memory: a worker busy with an async
    // task collects what its last task left.
    const tight = makePool({ filename: hold, maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 2, policy: 'reject', memoryLimit: 1024 * MB });
    await tight.run(16, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 16 * MB } });
    expect(tight.stats().workers[0]!.external).toBeGreaterThan(16 * MB);
    const holding = tight.run({ mb: 1, ms: 300 }, { memory: 2 * MB });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tight.stats().workers[0]!.external).toBeGreaterThan(16 * MB);
    await expect(tight.run(16, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 860 * MB } })).rejects.toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    await holding;
    expect(tight.stats().workers[0]!.external).toBeLessThan(8 * MB);
    expect(tight.stats().workers[0]!.leftovers).toBe(0);
    expectAllSettled(tight, 3);
  });

  // Found by a trial: two workers' garbage (44 MiB each) stayed behind 10 s synchronous tasks
  // placed on them while nothing wanted memory; a 100 MiB task then waited out maxWaitMs for room
  // that only that garbage held.
  it('garbage large beside the process room is collected before the next task starts on its worker; small beside it, it is left', async () => {
    // The process as the pool measures it (RSS, or the container's charge), before this pool's worker.
    const probe = makePool({ maxThreads: 1, minThreads: 1, memoryLimit: 64 * 1024 * MB });
    const used = probe.stats().process!.used;
    await probe.destroy();
    for (const [memoryLimit, collected] of [
      [64 * 1024 * MB, false],
      [used + 160 * MB, true],
    ] as const) {
      const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, memoryLimit });
      await pool.run(40, { name: 'dropBuffer', memory: { heap: 0, external: 40 * MB } });
      expect(pool.stats().workers[0]!.leftovers).toBeGreaterThan(32 * MB);
      await pool.run(undefined, { name: 'whoami', memory: MB });
      if (collected) expect(pool.stats().workers[0]!.leftovers).toBe(0);
      else expect(pool.stats().workers[0]!.leftovers).toBeGreaterThan(32 * MB);
      expectAllSettled(pool, 2);
      await pool.destroy();
    }
  });

  // A full GC between two runs of a fetch-heavy job made the next run take ~25 % more CPU, and in a
  // tight container memory is wanted at nearly every job's end (the seed bench: 10–13 forced GCs in
  // 12 jobs). V8 frees a worker's garbage as the next run allocates, and that run reuses the memory.
  it('the next run of a name goes onto the garbage its last run there left, charged its need less that garbage (64 MiB at least), with no collection', async () => {
    const probe = makePool({ maxThreads: 1, minThreads: 1, memoryLimit: 64 * 1024 * MB });
    const used = probe.stats().process!.used;
    await probe.destroy();
    // Its full need does not fit below the mark beside the garbage and the other task; in place it does.
    const pool = makePool({ filename: hold, maxThreads: 2, minThreads: 2, policy: 'wait', maxWaitMs: 10_000, memoryLimit: used + 400 * MB });
    const other = pool.run({ mb: 40, ms: 3000 }, { name: 'holdBuffers', memory: { heap: 0, external: 48 * MB } });
    const first = await pool.run(150, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 160 * MB } });
    const garbage = pool.stats().workers.find((worker) => worker.id === first)!.leftovers;
    expect(garbage).toBeGreaterThan(140 * MB);
    const second = pool.run(150, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 160 * MB } });
    const stats = pool.stats();
    const figures = `process ${Math.round(stats.process!.used / MB)} MiB in use, ${Math.round(stats.process!.reserved / MB)} MiB reserved, limit ${Math.round(stats.process!.limit / MB)} MiB`;
    expect(stats.running, figures).toBe(2);
    expect(stats.ledger.process, figures).toBe(48 * MB + Math.max(160 * MB - garbage, 64 * MB));
    expect(await second).toBe(first);
    expect(pool.stats().counters.nudges).toBe(0);
    await other;
    expectAllSettled(pool, 3);
  });

  // Found by review: the first cut never nudged the worker whose garbage the head would reuse in
  // place while other tasks ran; when the in-place route fails (here: the garbage, were it live,
  // would take the process past its limit) and collecting it lets the head in, the head waited for
  // the other task to end, on memory only garbage held.
  it('the garbage a held task would reuse in place is collected when that lets it in sooner', async () => {
    const probe = makePool({ maxThreads: 1, minThreads: 1, memoryLimit: 64 * 1024 * MB });
    const used = probe.stats().process!.used;
    await probe.destroy();
    const pool = makePool({ filename: hold, maxThreads: 2, minThreads: 2, policy: 'wait', maxWaitMs: 20_000, highWater: 0.9, memoryLimit: used + 600 * MB });
    let otherDone = false;
    const other = pool.run({ mb: 40, ms: 4000 }, { name: 'holdBuffers', memory: { heap: 0, external: 48 * MB } }).then((id) => ((otherDone = true), id));
    const first = await pool.run(280, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 300 * MB } });
    expect(pool.stats().workers.find((worker) => worker.id === first)!.leftovers).toBeGreaterThan(270 * MB);
    const second = await pool.run(280, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 300 * MB } });
    expect(second).toBe(first);
    expect(otherDone, 'the second run waited for the other task to end').toBe(false);
    expect(pool.stats().counters.nudges).toBeGreaterThan(0);
    await other;
    expectAllSettled(pool, 3);
  });

  it("while a held task waits for the process's memory, a worker busy with another task collects what its last task left", async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 2, policy: 'wait', maxWaitMs: 400, memoryLimit: 1024 * MB });
    // Promoted: only a full GC frees it (a young Buffer may go in a scavenge V8 runs on its own).
    await pool.run(16, { name: 'dropPromotedBuffer', memory: { heap: 0, external: 16 * MB } });
    expect(pool.stats().workers[0]!.external).toBeGreaterThan(16 * MB);
    const holding = pool.run({ mb: 1, ms: 600 }, { memory: 2 * MB });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.stats().workers[0]!.external).toBeGreaterThan(16 * MB);
    // Not alone, it does not fit the process: held for memory.
    const big = pool.run(16, { name: 'dropBuffer', memory: { heap: 0, external: 860 * MB } }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(pool.stats().held).toBe(1);
    expect(pool.stats().workers[0]!.external).toBeLessThan(8 * MB);
    await holding;
    await big;
    expectAllSettled(pool, 3);
  });

  // Found by a trial: 16 runs of an undeclared 40 MiB Buffer task one at a time, then a burst of 8,
  // in a 192 MiB container: the learned need sank to 11 MiB and the burst was killed by the kernel.
  // A run's end compared its off-heap bytes with where it started — the last run's garbage, which
  // V8 freed during it — so its own garbage went unnoticed and the next run was measured on it.
  it('garbage left by a run that began on garbage is still noticed: learned needs hold run after run', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 24 }, memoryLimit: 1024 * MB });
    const learned: number[] = [];
    for (let run = 0; run < 12; run++) {
      await pool.run(40, { name: 'fillAcrossAwaits' });
      learned.push(pool.stats().estimates.fillAcrossAwaits?.external ?? 0);
    }
    expect(Math.min(...learned), `learned off-heap need after each run (MiB): ${learned.map((bytes) => Math.round(bytes / MB)).join(' ')}`).toBeGreaterThan(36 * MB);
    expectAllSettled(pool, 12);
  });

  // Found by review: a collection while a task held 40 MiB of live Buffers (its busy tick, memory
  // being wanted) took that 40 MiB for the worker's clean level, so the garbage the task left at its
  // end went unnoticed.
  it('a collection while a task holds live Buffers does not hide the garbage that task leaves', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 2, policy: 'reject', retryAfterMs: 300, memoryLimit: 1024 * MB });
    await pool.run(16, { name: 'dropBuffer', memory: { heap: 0, external: 16 * MB } });
    expect(pool.stats().workers[0]!.leftovers).toBeGreaterThan(8 * MB);
    const holding = pool.run({ mb: 40, ms: 1200 }, { name: 'holdBuffers', memory: { heap: 0, external: 40 * MB } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Refused room in the process: memory is wanted for 300 ms, and the busy worker collects; the
    // task ends after that, wanting nothing.
    await expect(pool.run(16, { name: 'dropBuffer', memory: { heap: 0, external: 860 * MB } })).rejects.toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(pool.stats().workers[0]!.leftovers).toBe(0);
    await holding;
    expect(pool.stats().workers[0]!.leftovers).toBeGreaterThan(32 * MB);
    expectAllSettled(pool, 3);
  });

  // Found by review: memory wanted at the end of a task that began on garbage an earlier task left,
  // which V8 freed while it ran. Its end compared its off-heap bytes with where it began (that
  // garbage included), so the garbage it left itself was neither collected nor counted as leftovers.
  // (A task's end no longer collects: the idle worker is asked to, while memory is wanted.)
  it('a task that began on garbage and ends while memory is wanted has its own garbage collected', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 2, policy: 'reject', retryAfterMs: 5000, memoryLimit: 1024 * MB });
    await pool.run(undefined, { name: 'whoami' });
    const clean = pool.stats().workers[0]!.external;
    // Nothing wants memory: the 24 MiB are left, and the next task begins on them.
    await pool.run(24, { name: 'dropBuffer', memory: { heap: 0, external: 24 * MB } });
    expect(pool.stats().workers[0]!.leftovers).toBeGreaterThan(16 * MB);
    const later = pool.run({ mb: 14, ms: 400 }, { name: 'collectMidwayLater', memory: { heap: 0, external: 14 * MB } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Refused room in the process: memory is wanted from here until the running task has ended.
    await expect(pool.run(16, { name: 'dropBuffer', memory: { heap: 0, external: 860 * MB } })).rejects.toMatchObject({ code: 'ERR_MEMORY_PRESSURE', scope: 'process' });
    await later;
    // Its 14 MiB are counted as leftovers, and collected as the idle worker is nudged (before the
    // fix: still there, unseen).
    await vi.waitFor(() => expect(pool.stats().workers[0]!.leftovers).toBe(0), { timeout: 2000, interval: 20 });
    expect(pool.stats().counters.nudges).toBeGreaterThan(0);
    expect(pool.stats().workers[0]!.external - clean).toBeLessThan(8 * MB);
    expect(pool.stats().workers[0]!.leftovers).toBe(0);
    expectAllSettled(pool, 4);
  });

  it('a run that starts on garbage its worker left is not measured: learned needs do not come out low', async () => {
    // Roomy: memory is never wanted, so each run leaves its 24 MiB for V8, and the next starts on
    // it; a GC in the middle of the run frees it (measured from its start, the run grew 12 MiB).
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, memoryLimit: 1024 * MB });
    for (let run = 0; run < 6; run++) {
      await pool.run(24, { name: 'collectMidway' });
      expect(pool.stats().estimates.collectMidway?.external ?? 0).toBeGreaterThan(22 * MB);
    }
    expectAllSettled(pool, 6);
  });

  it('an idle worker whose live heap stays full after the nudge is recycled', async () => {
    // A mark at 70% (45 MB) lets a worker be hot with a safe margin below its 64 MB limit.
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, policy: 'wait', highWater: 0.7, lowWater: 0.6, resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const first = (await pool.run(48, { name: 'keep' })) as number;
    const second = (await pool.run(undefined, { name: 'whoami' })) as number;
    expect(second).not.toBe(first);
    expect(pool.stats().counters).toMatchObject({ recycled: 1, nudges: 1 });
    expectAllSettled(pool, 2);
  });

  it('tasks held before their need was learned start with it; leaky workers are recycled, none dies', async () => {
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, policy: 'wait', resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const admitted: number[] = [];
    const died: number[] = [];
    pool.on('admit', ({ need }) => admitted.push(need));
    pool.on('workerExit', ({ threadId }) => died.push(threadId));
    // 12 × 6 MiB kept for good: more than one 64 MB worker holds. All submitted before any ran.
    const results = await settleAll(Array.from({ length: 12 }, () => pool.run(6, { name: 'keep' })));
    console.log('held before learned: admitted with needs (MiB)', admitted.map((need) => Math.round(need / MB)), pool.stats().counters);
    expect(results.every((result) => typeof result === 'number')).toBe(true);
    // Three runs teach the need; every later task takes it — held, or sent ahead and placed after —
    // but the fourth: Piscina hands it to the worker as it takes the third's result, before the
    // pool has recorded that run.
    expect(admitted.filter((need) => need === 0).length).toBeLessThanOrEqual(4);
    expect(admitted.slice(4).every((need) => need >= 6 * MB)).toBe(true);
    expect(pool.stats().counters.recycled).toBeGreaterThan(0);
    expect(died).toEqual([]);
    expectAllSettled(pool, 12);
  });

  it('a task that ran is never refused as too large: a learned need is capped at what a fresh worker can admit', async () => {
    // 30 MiB held on a 48 MB worker: it fits, but 1.25 × its measured peak is above 85% of 48 MB
    // less what a fresh worker holds. Before the fix every later run got TaskTooLargeError.
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 48 }, memoryLimit: false });
    const runs = [30, 30, 30, 30].map((mb) => pool.run({ mb, ms: 0 }));
    expect(await settleAll(runs)).toEqual([30 * 128, 30 * 128, 30 * 128, 30 * 128]);
    const { counters, estimates, workers } = pool.stats();
    // The situation arose: the need as learned, with its margin, is above 85% of the worker's limit less the ~8 MiB a fresh worker holds.
    expect(1.25 * (estimates.default?.heap ?? 0)).toBeGreaterThan(0.85 * (workers[0]?.limit ?? 0) - 8 * MB);
    expect(counters.rejected.tooLarge).toBe(0);
    expect(counters.crashed).toBe(0);
    expectAllSettled(pool, 4);
  });

  it('a leaky worker is recycled even when the only live heap ever published is its own full one', async () => {
    // One at a time, policy 'reject': each task finds the worker idle. Before the fix the pool took
    // the smallest live heap any worker had published for a fresh one's, so this worker — the only
    // one, nudged once when full — looked as if a restart would free nothing, and tasks were refused.
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, policy: 'reject', resourceLimits: { maxOldGenerationSizeMb: 64 }, memoryLimit: false });
    const died: number[] = [];
    pool.on('workerExit', ({ threadId }) => died.push(threadId));
    for (let i = 0; i < 12; i++) await pool.run(6, { name: 'keep', memory: 6 * MB });
    const { counters } = pool.stats();
    expect(counters.rejected.pressure).toBe(0);
    expect(counters.recycled).toBeGreaterThan(0);
    expect(died).toEqual([]);
    expectAllSettled(pool, 12);
  });

  it('learns the need of a task whose data sits in the young generation, run after run', async () => {
    // A 40 MiB task on a 96 MB worker fits the young generation whole; the isolate's running
    // survival rate falls as each finished task's data is found dead, and measuring with it made
    // the learned need decay run after run (40, 32, 17, 0 MiB measured).
    const pool = makePool({ filename: hold, maxThreads: 1, minThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 96 }, memoryLimit: false });
    const needs: number[] = [];
    pool.on('admit', ({ need }) => needs.push(need));
    for (let i = 0; i < 12; i++) await pool.run({ mb: 40, ms: 100 });
    console.log('reserved for each run (MiB):', needs.map((need) => (need / MB).toFixed(1)).join(' '));
    // The first run teaches it (slow start); from then on every run reserves at least the 40 MiB it holds.
    expect(needs[0]).toBe(0);
    expect(needs.slice(1).every((need) => need >= 40 * MB)).toBe(true);
    expectAllSettled(pool, 12);
  });

  it('routes to the idle worker with the most headroom', async () => {
    const pool = makePool({ filename: hold, maxThreads: 2, minThreads: 2, resourceLimits: { maxOldGenerationSizeMb: 128 }, memoryLimit: false });
    await settleAll([pool.run(undefined, { name: 'whoami' }), pool.run(undefined, { name: 'whoami' })]);
    const loaded = (await pool.run(40, { name: 'keep' })) as number;
    for (let i = 0; i < 5; i++) expect(await pool.run(undefined, { name: 'whoami', memory: 20 * MB })).not.toBe(loaded);
    expectAllSettled(pool, 8);
  });

  it('a running task stops counting twice once its heap shows: the process reservation is credited', async () => {
    const hold = new URL('./fixtures/hold.mjs', import.meta.url).href;
    const pool = makePool({ filename: hold, maxThreads: 1, memoryLimit: 16 * 1024 * MB, resourceLimits: { maxOldGenerationSizeMb: 128 } });
    await pool.run({ mb: 1, ms: 0 });
    const running = pool.run({ mb: 24, ms: 900 }, { memory: { heap: 24 * MB } });
    expect(pool.stats().process!.reserved).toBe(24 * MB);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The worker publishes its heap growth every 10 ms while the task awaits: its 24 MiB of
    // objects are resident, and counted in the process's usage now.
    expect(pool.stats().process!.reserved).toBeLessThan(4 * MB);
    await running;
    expect(pool.stats().process!.reserved).toBe(0);
    expectAllSettled(pool, 2);
  });

  it('off-heap growth is credited once written (resident), not when merely allocated', async () => {
    // In a process of its own (see the fixture: a worker handed an earlier thread's allocator arena
    // may write without faulting, and the credit then errs low).
    const { json, stderr } = await runFixture<{
      credited: boolean;
      writtenRunning: number;
      reservedAfterWritten: number;
      untouchedRunning: number;
      untouchedReserved: number;
      counters: { submitted: number; settled: number; completed: number };
      held: number;
      running: number;
      ledger: { open: number; main: number; process: number };
      workersReserved: number[];
    }>('run-credit.mjs');
    expect(json, stderr).toBeDefined();
    expect(json!.writtenRunning).toBe(1);
    expect(json!.credited).toBe(true);
    expect(json!.reservedAfterWritten).toBe(0);
    expect(json!.untouchedRunning).toBe(1);
    expect(json!.untouchedReserved).toBe(40 * MB);
    expect(json!.counters).toMatchObject({ submitted: 3, settled: 3, completed: 3 });
    expect([json!.held, json!.running]).toEqual([0, 0]);
    expect(json!.ledger).toEqual({ open: 0, main: 0, process: 0 });
    expect(json!.workersReserved.every((reserved) => reserved === 0)).toBe(true);
  });


  it('reservations are released exactly once whatever the end: result, error, crash, abort, timeout', async () => {
    // Workers get the main isolate's heap limit, so that the large needs below fit them.
    const limit = v8.getHeapStatistics().heap_size_limit;
    const pool = makePool({ maxThreads: 2, minThreads: 2, maxWaitMs: 1500, memoryLimit: 16 * 1024 * MB, resourceLimits: { maxOldGenerationSizeMb: Math.ceil(limit / MB) } });
    const memory = { heap: 8 * MB, external: 4 * MB };
    const controller = new AbortController();
    const out = settleAll([
      pool.run(1, { memory }),
      pool.run('boom', { name: 'fail', memory }),
      pool.run(1, { name: 'exit', memory }),
      pool.run(10_000, { name: 'sleep', memory: { heap: Math.round(0.5 * limit), external: 4 * MB }, signal: controller.signal }),
      pool.run('late', { memory: { heap: Math.round(0.4 * limit), external: 4 * MB } }),
    ]);
    // 'late' waits for the main isolate, where the 10 s sleep holds half the heap reserved, and
    // times out at 1.5 s; the sleep is aborted at 2.5 s.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    controller.abort();
    const results = await out;
    expect(results[0]).toBe(1);
    expect(results.slice(1).map((error) => (error as { code?: string }).code ?? (error as Error).message)).toEqual(['boom', 'ERR_WORKER_CRASHED', 'ABORT_ERR', 'ERR_WAIT_TIMEOUT']);
    const stats = pool.stats();
    expect(stats.main.reserved).toBe(0);
    expect(stats.process!.reserved).toBe(0);
    expect(stats.workers.every((worker) => worker.reserved === 0)).toBe(true);
    expectAllSettled(pool, 5);
  });

  it('a learned need above what any worker can admit is capped, not refused: the task runs when it has a worker to itself; others run', async () => {
    // In a child process: the warm-up runs take a worker to half its heap.
    type Learned = { learned: { heap: number; samples: number }; again: unknown; limit: number; other: string; counters: { submitted: number; settled: number; crashed: number; rejected: { tooLarge: number } } };
    const run = await runFixture<Learned>('run-learned-too-large.mjs');
    console.log('learned above the mark:', run.json ?? run.stderr.slice(-1500));
    expect(run.code).toBe(0);
    const result = run.json!;
    expect(result.learned.samples).toBe(1);
    // Learned with its margin, the need is above the mark (45% of 64 MB)…
    expect(1.25 * result.learned.heap).toBeGreaterThan(0.45 * result.limit);
    // …and the task runs all the same.
    expect(result.again).toBe(32 * 128);
    expect(result.other).toBe('number');
    expect(result.counters.rejected.tooLarge).toBe(0);
    expect(result.counters.crashed).toBe(0);
    expect(result.counters.settled).toBe(result.counters.submitted);
  });
});

describe('worker starts', () => {
  it('a cold pool starts a worker per task of a burst at once, up to maxThreads (as Piscina does)', async () => {
    // Needs declared: unknown work would run one at a time until measured (slow start).
    const pool = makePool({ minThreads: 0, maxThreads: 3 });
    const runs = [1, 2, 3].map((n) => pool.run(40 + n, { name: 'sleep', memory: MB }));
    expect(pool.threads.length).toBe(3);
    const overflow = pool.run(40, { name: 'sleep', memory: MB });
    expect(pool.threads.length).toBe(3);
    expect(await settleAll([...runs, overflow])).toEqual([41, 42, 43, 40]);
    expect(pool.stats().counters.startFailures).toBe(0);
    expectAllSettled(pool, 4);
  });

  it('the free slots of a worker being started count as room: maxQueue and queueSize as in Piscina; size counts every waiting task', async () => {
    const pool = makePool({ minThreads: 0, maxThreads: 1, concurrentTasksPerWorker: 2, maxQueue: 0, slowStart: false });
    const first = pool.run(30, { name: 'sleep' });
    const second = pool.run(40, { name: 'sleep' });
    // The first went to the worker being started; the second waits for that worker's other slot.
    expect([pool.size, pool.queueSize, pool.pending]).toEqual([1, 0, 1]);
    const third = pool.run(50, { name: 'sleep' });
    expect(await settleAll([first, second, third])).toEqual([30, 40, expect.any(QueueFullError)]);
    expectAllSettled(pool, 3);
  });

  // Found by a new user's trial (2026-12-01): with maxQueue 0, a second unknown task beside an idle
  // worker was refused saying "all Workers are busy": it waited for slow start, not for a worker.
  // Since 2026-12-02 a task held by slow start takes a free slot for Piscina's counts: it is not
  // queued, and only a task beyond every slot is refused, saying why it would wait.
  it('maxQueue 0: unknown work held for slow start takes free slots; beyond them it is refused with a message saying so', async () => {
    const pool = makePool({ minThreads: 2, maxThreads: 2, maxQueue: 0 });
    const first = pool.run(30, { name: 'sleep' });
    const second = pool.run(40, { name: 'sleep' });
    // The second waits for slow start on the idle worker's slot: not queued, that worker not idle.
    expect([pool.size, pool.queueSize, pool.idleThreads]).toEqual([1, 0, 0]);
    const third = pool.run(50, { name: 'sleep' });
    const [a, b, c] = await settleAll([first, second, third]);
    expect([a, b]).toEqual([30, 40]);
    expect(c).toBeInstanceOf(QueueFullError);
    expect((c as Error).message).toMatch(/^No task queue available and all Workers are busy: .*waits for a run of its name to be measured \(slow start/);
    // Once learned, both start (two idle workers).
    expect(await settleAll([pool.run(1, { name: 'sleep' }), pool.run(2, { name: 'sleep' })])).toEqual([1, 2]);
    expectAllSettled(pool, 5);
  });

  it('idleThreads counts ready workers running no task', async () => {
    const pool = makePool({ minThreads: 2, maxThreads: 2 });
    await settleAll([pool.run(1, { name: 'sleep' }), pool.run(1, { name: 'sleep', memory: MB })]);
    expect(pool.idleThreads).toBe(2);
    const running = pool.run(100, { name: 'sleep' });
    expect(pool.idleThreads).toBe(1);
    await running;
    expect(pool.idleThreads).toBe(2);
    await pool.destroy();
    expect(pool.idleThreads).toBe(0);
    expectAllSettled(pool, 3);
  });
});

describe('slow start', () => {
  it('unknown work that keeps growing runs one run at a time until a run of it is measured', async () => {
    const pool = makePool({ minThreads: 3, maxThreads: 3 });
    const runs = (await settleAll([1, 2, 3].map(() => pool.run(1500, { name: 'grow' })))) as { start: number; end: number }[];
    const [first, second] = [...runs].sort((a, b) => a.start - b.start);
    // The first run teaches the need; the ones held behind it start only once it has ended.
    expect(second?.start).toBeGreaterThanOrEqual(first?.end ?? Infinity);
    expect(pool.stats().counters.completed).toBe(3);
    expectAllSettled(pool, 3);
  }, 20_000);

  // Piscina's own suite (thread-count, task-queue, idle-timeout, pool-close) reads its counts right
  // after run(): slow start delays a run of unknown work, not its worker slot.
  it('a burst of unknown work starts a worker per task up to maxThreads, as Piscina, while its runs still go one at a time', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 3 });
    const threads = [pool.threads.length];
    const runs = [1, 2, 3, 4].map(() => {
      const run = pool.run(600, { name: 'grow' });
      threads.push(pool.threads.length);
      return run;
    });
    expect(threads).toEqual([1, 1, 2, 3, 3]);
    // Held by slow start on slots of workers being started (not queued), but the fourth: beyond every slot.
    expect([pool.size, pool.queueSize]).toEqual([3, 1]);
    const done = (await settleAll(runs)) as { start: number; end: number }[];
    const [first, second] = [...done].sort((a, b) => a.start - b.start);
    expect(second?.start).toBeGreaterThanOrEqual(first?.end ?? Infinity);
    expectAllSettled(pool, 4);
  }, 20_000);

  it('a task held by slow start on an idle worker makes it not idle; close({ force: true }) lets it run and rejects what is beyond the slots', async () => {
    const pool = makePool({ minThreads: 2, maxThreads: 2 });
    expect(pool.idleThreads).toBe(2);
    const first = pool.run(100, { name: 'sleep' });
    expect(pool.idleThreads).toBe(1);
    const second = pool.run(50, { name: 'sleep' });
    expect([pool.idleThreads, pool.queueSize, pool.size]).toEqual([0, 0, 1]);
    const third = pool.run(60, { name: 'sleep' });
    expect([pool.queueSize, pool.size]).toEqual([1, 2]);
    const settled = settleAll([first, second, third]);
    await pool.close({ force: true });
    const [a, b, c] = await settled;
    expect([a, b]).toEqual([100, 50]);
    expect(c).toBeInstanceOf(PoolClosedError);
    expectAllSettled(pool, 3);
  });

  // Piscina's pool-close suite: one worker, two slots; the second task waits for slow start on the
  // learning run's worker (held without a decision: no worker could take it).
  it('close({ force: true }) lets a task held by slow start on the other slot of a busy worker run', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 2 });
    const settled = settleAll([pool.run(30, { name: 'sleep' }), pool.run(20, { name: 'sleep' })]);
    expect(pool.queueSize).toBe(0);
    await pool.close({ force: true });
    expect(await settled).toEqual([30, 20]);
    expectAllSettled(pool, 2);
  });

  // Piscina's abort-task suite: an abortable task never shares its worker, so beside a learning run
  // it is queued (found by that suite against the first version of the change above).
  it('an abortable task held by slow start beside a busy worker is queued: it takes only an idle worker', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 2 });
    const first = pool.run(100, { name: 'sleep' });
    const controller = new AbortController();
    const second = pool.run(10, { name: 'sleep', signal: controller.signal });
    expect(pool.queueSize).toBe(1);
    controller.abort();
    expect(pool.queueSize).toBe(0);
    const [a, b] = await settleAll([first, second]);
    expect(a).toBe(100);
    expect(b).toBeInstanceOf(AbortError);
    expectAllSettled(pool, 2);
  });

  // Found by a new user's trial (2026-12-02): with two tasks per worker and no worker yet, a cold
  // burst was refused under maxQueue 0 after 2 tasks, and started a worker per 2 tasks; Piscina
  // starts a worker per task it queues and takes maxThreads × concurrentTasksPerWorker.
  it('maxQueue 0, two tasks per worker, no worker yet: a cold burst of unknown work starts a worker per task and takes every slot, as Piscina', async () => {
    const pool = makePool({ minThreads: 0, maxThreads: 3, concurrentTasksPerWorker: 2, maxQueue: 0 });
    const threads: number[] = [];
    const runs = Array.from({ length: 8 }, () => {
      const run = pool.run(20, { name: 'sleep' });
      threads.push(pool.threads.length);
      return run;
    });
    expect(threads).toEqual([1, 2, 3, 3, 3, 3, 3, 3]);
    const out = await settleAll(runs);
    expect(out.slice(0, 6)).toEqual([20, 20, 20, 20, 20, 20]);
    expect(out[6]).toBeInstanceOf(QueueFullError);
    expect(out[7]).toBeInstanceOf(QueueFullError);
    expectAllSettled(pool, 8);
  });

  // Found by a review (2026-12-02): behind a head held for process memory, a worker started for a
  // task held by slow start was idle, not warm for the head, and reaped at once; the next pump
  // started another (39 starts in 3 s). Now none is started while the head waits for memory.
  it('no worker is started for tasks held by slow start while the head of the queue waits for memory', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 4, memoryLimit: 1024 * MB, maxWaitMs: 60_000 });
    let created = 0;
    pool.on('workerCreate', () => created++);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const learning = pool.run(1200, { name: 'sleep' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { used, reserved } = pool.stats().process!;
    // More than the process has left under its mark while the learning run holds its reservation.
    const external = Math.round(0.9 * 1024 * MB - used - reserved + 40 * MB);
    const big = pool.run('big', { memory: { external } });
    const deferred = pool.run(10, { name: 'sleep' });
    const createdBefore = created;
    const out = await settleAll([learning, big, deferred]);
    expect(out).toEqual([1200, 'big', 10]);
    expect(created - createdBefore).toBeLessThanOrEqual(1);
    expectAllSettled(pool, 3);
  }, 20_000);

  it('unknown work that waits for its siblings is not held forever: a run that stops growing lets the next one start', async () => {
    const pool = makePool({ minThreads: 0, maxThreads: 3 });
    const shared = new SharedArrayBuffer(4);
    const runs = [1, 2, 3].map(() => pool.run({ shared, parties: 3 }, { name: 'barrier' }));
    const timeout = new Promise((resolve) => setTimeout(() => resolve('held forever'), 15_000).unref());
    // Before: the first run waited for two siblings slow start never let start.
    expect(await Promise.race([settleAll(runs), timeout])).toEqual([3, 3, 3]);
    expectAllSettled(pool, 3);
  }, 20_000);

  // Found by a new user's trial: with a worker heap limit large beside the process's limit, the
  // first run of any undeclared task reserved that whole heap limit, which the process could never
  // take; every task then waited out maxWaitMs ('wait') or was refused at once ('reject').
  it('the first run of unknown work starts on a process that could not take a whole worker heap beside what it holds', async () => {
    // The process as the pool measures it (RSS, or the container's charge), before this pool's worker.
    const probe = makePool({ maxThreads: 1, minThreads: 1, memoryLimit: 64 * 1024 * MB });
    const used = probe.stats().process!.used;
    await probe.destroy();
    const memoryLimit = used + 256 * MB;
    for (const policy of ['wait', 'reject'] as const) {
      const pool = makePool({ minThreads: 1, maxThreads: 1, memoryLimit, policy, maxWaitMs: 5_000, resourceLimits: { maxOldGenerationSizeMb: Math.ceil(memoryLimit / MB) } });
      expect(await pool.run(21)).toBe(21);
      expect(await pool.run({ a: 1, b: 2 }, { name: 'add' })).toBe(3);
      expectAllSettled(pool, 2);
      await pool.destroy();
    }
  }, 20_000);
});

describe('close and destroy', () => {
  it('close() finishes admitted and held work, then refuses new tasks', async () => {
    const pool = makePool({ maxThreads: 1 });
    const settled = settleAll([pool.run(50, { name: 'sleep' }), pool.run('held 1'), pool.run('held 2')]);
    await pool.close();
    const out = await settled;
    expect(out).toEqual([50, 'held 1', 'held 2']);
    const [late] = await settleAll([pool.run('late')]);
    expect(late).toBeInstanceOf(PoolClosedError);
    expectAllSettled(pool, 4);
  });

  it('close({ force: true }) rejects held work with PoolClosedError and lets running work finish', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    const settled = settleAll([pool.run(200, { name: 'sleep' }), pool.run('held 1'), pool.run('held 2')]);
    expect(pool.queueSize).toBe(2);
    await pool.close({ force: true });
    const out = await settled;
    expect(out[0]).toBe(200);
    expect(out[1]).toBeInstanceOf(PoolClosedError);
    expect(out[2]).toBeInstanceOf(PoolClosedError);
    expectAllSettled(pool, 3);
  });

  it('close() ends work still running after closeTimeout, as destroy() does', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1, closeTimeout: 200 });
    const settled = settleAll([pool.run(60_000, { name: 'sleep' })]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = pool.close();
    const bound = new Promise((resolve) => setTimeout(() => resolve('close() still pending'), 10_000));
    expect(await Promise.race([closing.then(() => 'closed'), bound])).toBe('closed');
    const [hung] = await settled;
    expect(hung).toBeInstanceOf(PoolClosedError);
    expectAllSettled(pool, 1);
  });

  it('close() options are checked; Symbol.asyncDispose closes', async () => {
    const pool = makePool({ maxThreads: 1 });
    await expect(pool.close({ force: 'yes' } as never)).rejects.toThrow('close options.force must be a boolean, got "yes"');
    // A misspelled option is refused, not ignored (a mistyped `force` would wait for closeTimeout).
    await expect(pool.close({ forse: true } as never)).rejects.toThrow('close options.forse is not an option (did you mean force?)');
    await expect(pool.close('x' as never)).rejects.toThrow('close options must be an object, got "x"');
    expect(await pool.run('x')).toBe('x');
    await pool[Symbol.asyncDispose]();
    const [late] = await settleAll([pool.run('late')]);
    expect(late).toBeInstanceOf(PoolClosedError);
  });

  it("'needsDrain' when a new task would have to wait, 'drain' when it would not any more", async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    const events: string[] = [];
    pool.on('needsDrain', () => events.push(`needsDrain ${pool.needsDrain}`));
    pool.on('drain', () => events.push(`drain ${pool.needsDrain}`));
    await Promise.all([pool.run(50, { name: 'sleep' }), pool.run(1), pool.run(2)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['needsDrain true', 'drain false']);
    expectAllSettled(pool, 3);
  });

  // Was: the state was compared when it changed but the event was emitted a microtask later, so a
  // caller awaiting a task ran first; 'drain' then came while the pool was full again (a producer
  // resuming on it resumed into a full pool), and the task's end gave no 'drain' at all.
  it("'drain' and 'needsDrain' tell the state at the moment they are emitted, and alternate", async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    const events: string[] = [];
    pool.on('needsDrain', () => events.push(`needsDrain ${pool.needsDrain}`));
    pool.on('drain', () => events.push(`drain ${pool.needsDrain}`));
    await pool.run(1);
    // At once, in the continuation of the task just ended.
    await Promise.all([pool.run(30, { name: 'sleep' }), pool.run(30, { name: 'sleep' })]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.length).toBeGreaterThanOrEqual(2);
    events.forEach((event, index) => expect(event, `event ${index} of ${events.join(', ')}`).toBe(index % 2 === 0 ? 'needsDrain true' : 'drain false'));
    expect(events.at(-1)).toBe('drain false');
    expectAllSettled(pool, 3);
  });

  it('a worker heap limit of 0 means Node\'s default, also with no process limit to derive one from (Node aborted the process)', async () => {
    const pool = makePool({ maxThreads: 1, memoryLimit: false, resourceLimits: { maxOldGenerationSizeMb: 0 } });
    expect(await pool.run(7)).toBe(7);
    expectAllSettled(pool, 1);
  });

  it("Piscina's statics on the class: move, isWorkerThread, workerData, transferableSymbol, valueSymbol", async () => {
    expect(GatedPool.isWorkerThread).toBe(Piscina.isWorkerThread);
    expect(GatedPool.workerData).toBe(Piscina.workerData);
    expect(GatedPool.transferableSymbol).toBe(Piscina.transferableSymbol);
    expect(GatedPool.valueSymbol).toBe(Piscina.valueSymbol);
    const pool = makePool();
    const bytes = new Uint8Array([1, 2, 3]);
    // A moved buffer is transferred: detached here once sent.
    expect(await pool.run(GatedPool.move(bytes.buffer), { name: 'byteLength' })).toBe(3);
    expect(bytes.buffer.byteLength).toBe(0);
    expectAllSettled(pool, 1);
  });

  it("Piscina's read-only members: threads, queueSize, completed, needsDrain, maxThreads, minThreads, utilization, duration, histogram", async () => {
    const pool = makePool({ maxThreads: 2, minThreads: 1 });
    expect(pool.maxThreads).toBe(2);
    expect(pool.minThreads).toBe(1);
    const settled = settleAll([pool.run(100, { name: 'sleep' }), pool.run(100, { name: 'sleep' }), pool.run('a'), pool.run('boom', { name: 'fail' })]);
    expect(pool.needsDrain).toBe(true);
    await settled;
    expect(pool.queueSize).toBe(0);
    expect(pool.completed).toBe(4);
    expect(pool.needsDrain).toBe(false);
    expect(pool.threads.length).toBeGreaterThanOrEqual(1);
    expect(pool.threads.every((thread) => typeof thread.threadId === 'number')).toBe(true);
    expect(pool.utilization).toBeGreaterThanOrEqual(0);
    expect(pool.duration).toBeGreaterThan(0);
    expect(typeof pool.histogram.runTime.mean).toBe('number');
    expectAllSettled(pool, 4);
  });

  // Found by a new user's trial (2026-12-02): Piscina counts a task aborted while it ran in `completed`.
  it('completed counts a task aborted while it ran (it ran and ended), not one aborted before it ran', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1 });
    expect(await pool.run(1, { name: 'sleep', memory: MB })).toBe(1);
    const running = new AbortController();
    const ran = pool.run(5_000, { name: 'sleep', memory: MB, signal: running.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    running.abort();
    const early = new AbortController();
    early.abort();
    const [a, b] = await settleAll([ran, pool.run(1, { name: 'sleep', memory: MB, signal: early.signal })]);
    expect(a).toBeInstanceOf(AbortError);
    expect(b).toBeInstanceOf(AbortError);
    expect(pool.completed).toBe(2);
    expectAllSettled(pool, 3);
  });

  // A terminate() that reaches a worker while it starts can be lost (Node 24: the worker posts
  // ready and waits for work forever; about 1 in 15 pools destroyed right after a worker was
  // started for a task that went elsewhere hung in destroy()). Simulated here deterministically:
  // each worker ignores the first terminate().
  for (const end of ['destroy', 'close'] as const) {
    it(`${end}() ends even when every worker ignores the first terminate()`, async () => {
      const pool = makePool({ maxThreads: 2, minThreads: 2 });
      expect(await pool.run('x')).toBe('x');
      const ignored: number[] = [];
      for (const thread of pool.threads) {
        const terminate = thread.terminate.bind(thread);
        let first = true;
        thread.terminate = () => {
          if (!first) return terminate();
          first = false;
          ignored.push(thread.threadId);
          return Promise.resolve(0);
        };
      }
      const bound = new Promise((resolve) => setTimeout(() => resolve(`${end}() still pending`), 10_000));
      expect(await Promise.race([pool[end]().then(() => 'ended'), bound])).toBe('ended');
      expect(ignored).toHaveLength(2);
      expect(pool.threads).toHaveLength(0);
    });
  }

  it('destroy() rejects held and running work with PoolClosedError', async () => {
    const pool = makePool({ maxThreads: 1 });
    const settled = settleAll([pool.run(5000, { name: 'sleep' }), pool.run('held')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool.destroy();
    const out = await settled;
    expect(out[0]).toBeInstanceOf(PoolClosedError);
    expect(out[1]).toBeInstanceOf(PoolClosedError);
    expectAllSettled(pool, 2);
  });
});

describe('stats and events', () => {
  it('reports each worker with its own published limit and readings', async () => {
    const pool = makePool({ maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 48 } });
    await pool.run('x');
    const stats = pool.stats();
    expect(stats.workers).toHaveLength(1);
    const [worker] = stats.workers;
    expect(worker!.limit).toBe(48 * MB);
    expect(worker!.used).toBeGreaterThan(0);
    expect(worker!.updatedAt).toBeGreaterThan(0);
    expect(stats.main.limit).toBeGreaterThan(0);
    expect(stats.policy).toBe('wait');
    expect(stats.maxQueue).toBe(16_384);
    expectAllSettled(pool, 1);
  });

  it('emits admit, hold and reject', async () => {
    const pool = makePool({ maxThreads: 1, maxQueue: 1 });
    const seen: string[] = [];
    pool.on('admit', () => seen.push('admit'));
    pool.on('hold', () => seen.push('hold'));
    pool.on('reject', (error) => seen.push(error.code));
    await settleAll([pool.run(30, { name: 'sleep' }), pool.run(1), pool.run(2)]);
    expect(seen).toEqual(['admit', 'hold', 'ERR_QUEUE_FULL', 'admit']);
    expectAllSettled(pool, 3);
  });

  it('concurrentTasksPerWorker: several tasks share one worker, never more than allowed', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 3 });
    const out = (await settleAll(Array.from({ length: 6 }, () => pool.run(150, { name: 'overlap' })))) as number[];
    expect(pool.stats().workers).toHaveLength(1);
    expect(Math.max(...out)).toBe(3);
    expectAllSettled(pool, 6);
  });

  it('an abortable task never shares a worker (as in Piscina): it waits for an idle one, and nothing joins it', async () => {
    // Strict order (overtakeMs: 0), so that the last task waits behind the abortable one.
    const pool = makePool({ maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 3, overtakeMs: 0 });
    await pool.run(1, { name: 'overlap', memory: MB }); // the worker has published: it takes 3 at once
    const controller = new AbortController();
    const out = (await settleAll([
      pool.run(100, { name: 'overlap', memory: MB }),
      pool.run(150, { name: 'overlap', memory: MB }),
      pool.run(60, { name: 'overlap', memory: MB, signal: controller.signal }),
      pool.run(60, { name: 'overlap', memory: MB }),
    ])) as number[];
    // The first two share the worker; the abortable one runs alone; the last one waits for it.
    expect(out).toEqual([2, 2, 1, 1]);
    expectAllSettled(pool, 5);
  });

  it('a worker whose heap is not known yet takes one task at a time; once it has published, as many as allowed', async () => {
    const pool = makePool({ maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 3 });
    const first = Array.from({ length: 3 }, () => pool.run(50, { name: 'overlap', memory: MB }));
    // The worker has published nothing yet: its heap is unknown, not empty.
    expect(pool.stats().running).toBe(1);
    expect(pool.stats().held).toBe(2);
    await settleAll(first);
    expect(pool.stats().workers[0]!.updatedAt).toBeGreaterThan(0);
    const second = Array.from({ length: 3 }, () => pool.run(50, { name: 'overlap', memory: MB }));
    expect(pool.stats().running).toBe(3);
    expect(pool.stats().held).toBe(0);
    await settleAll(second);
    expectAllSettled(pool, 6);
  });
});
