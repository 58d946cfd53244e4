// Every option is validated at construction: the error names the option and the value given.
import { describe, expect, it } from 'vitest';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';

const filename = new URL('./fixtures/tasks.mjs', import.meta.url).href;

function construct(options: Record<string, unknown>): () => GatedPool {
  return () => new GatedPool({ filename, ...options } as unknown as GatedPoolOptions);
}

describe('pool options', () => {
  const bad: [string, Record<string, unknown>, ErrorConstructor, RegExp][] = [
    ['options not an object', { __replace: 'nope' }, TypeError, /options must be an object, got "nope"/],
    ['filename a number', { filename: 12 }, TypeError, /options\.filename must be a string .* got 12/],
    ['filename relative', { filename: './tasks.js' }, RangeError, /options\.filename must be an absolute path or a file: URL, got "\.\/tasks\.js"/],
    ['policy unknown', { policy: 'drop' }, RangeError, /options\.policy must be 'reject' or 'wait', got "drop"/],
    ['policy a number', { policy: 5 }, TypeError, /options\.policy must be 'reject' or 'wait', got 5/],
    ['policy null', { policy: null }, TypeError, /options\.policy must be 'reject' or 'wait', got null/],
    ['highWater NaN', { highWater: Number.NaN }, RangeError, /options\.highWater must not be NaN/],
    ['highWater above 1', { highWater: 1.5 }, RangeError, /options\.highWater must be <= 1, got 1\.5/],
    ['highWater zero', { highWater: 0 }, RangeError, /options\.highWater must be > 0, got 0/],
    ['highWater string', { highWater: '0.8' }, TypeError, /options\.highWater must be a number, got "0\.8"/],
    ['lowWater negative', { lowWater: -0.1 }, RangeError, /options\.lowWater must be >= 0, got -0\.1/],
    ['lowWater above highWater', { highWater: 0.7, lowWater: 0.8 }, RangeError, /options\.lowWater \(0\.8\) must not be above options\.highWater \(0\.7\)/],
    ['maxQueue negative', { maxQueue: -1 }, RangeError, /options\.maxQueue must be a non-negative integer, got -1/],
    ['maxQueue a word', { maxQueue: 'lots' }, RangeError, /options\.maxQueue must be a non-negative integer, Infinity or 'auto', got "lots"/],
    ['maxQueue NaN', { maxQueue: Number.NaN }, RangeError, /options\.maxQueue must be a non-negative integer, got NaN/],
    ['maxQueue fractional', { maxQueue: 1.5 }, RangeError, /options\.maxQueue must be a non-negative integer, got 1\.5/],
    ['maxWaitMs negative', { maxWaitMs: -5 }, RangeError, /options\.maxWaitMs must be >= 0, got -5/],
    ['maxWaitMs null', { maxWaitMs: null }, TypeError, /options\.maxWaitMs must be a number, got null/],
    ['pollIntervalMs zero', { pollIntervalMs: 0 }, RangeError, /options\.pollIntervalMs must be >= 1, got 0/],
    ['retryAfterMs negative', { retryAfterMs: -1 }, RangeError, /options\.retryAfterMs must be >= 0, got -1/],
    ['maxThreads zero', { maxThreads: 0 }, RangeError, /options\.maxThreads must be a positive integer, got 0/],
    ['minThreads above maxThreads', { minThreads: 4, maxThreads: 2 }, RangeError, /options\.minThreads and options\.maxThreads must not conflict: minThreads \(4\) is above maxThreads \(2\)/],
    ['concurrentTasksPerWorker fractional', { concurrentTasksPerWorker: 1.5 }, RangeError, /options\.concurrentTasksPerWorker must be a positive integer, got 1\.5/],
    ['idleTimeout NaN', { idleTimeout: Number.NaN }, RangeError, /options\.idleTimeout must be a non-negative integer, got NaN/],
    ['resourceLimits not an object', { resourceLimits: 64 }, TypeError, /options\.resourceLimits must be an object, got 64/],
    ['maxOldGenerationSizeMb negative', { resourceLimits: { maxOldGenerationSizeMb: -64 } }, RangeError, /options\.resourceLimits\.maxOldGenerationSizeMb must be >= 0, got -64/],
    // 1 MB aborted the whole process; 4–8 MB workers died at start-up.
    ['maxOldGenerationSizeMb 1', { resourceLimits: { maxOldGenerationSizeMb: 1 } }, RangeError, /options\.resourceLimits\.maxOldGenerationSizeMb must be 0 \(Node's default\) or at least 16 MB, got 1/],
    ['maxOldGenerationSizeMb 8', { resourceLimits: { maxOldGenerationSizeMb: 8 } }, RangeError, /maxOldGenerationSizeMb must be 0 \(Node's default\) or at least 16 MB, got 8/],
    ['stackSizeMb a thousandth', { resourceLimits: { stackSizeMb: 0.001 } }, RangeError, /options\.resourceLimits\.stackSizeMb must be 0 \(Node's default\) or at least 1 MB, got 0\.001/],
    // Found by a new user's trial: Node's raw EAGAIN (ERR_WORKER_INIT_FAILED) came out of the constructor.
    ['stackSizeMb beyond the machine', { resourceLimits: { stackSizeMb: 1e9 } }, RangeError, /options\.resourceLimits\.stackSizeMb must be below the machine's memory \(\d+ MB\), got 1000000000/],
    ['slowStart not a boolean', { slowStart: 'yes' }, TypeError, /options\.slowStart must be a boolean, got "yes"/],
    ['name empty', { name: '' }, RangeError, /options\.name must not be empty/],
    ['name a number', { name: 12 }, TypeError, /options\.name must be a string or null, got 12/],
    ['minThreads negative', { minThreads: -1 }, RangeError, /options\.minThreads must be a non-negative integer, got -1/],
    ['loadBalancer given', { loadBalancer: (task: unknown, workers: unknown) => [task, workers][1] }, TypeError, /options\.loadBalancer is not supported/],
    ['taskQueue given', { taskQueue: { size: 0, shift() {}, push() {}, remove() {} } }, TypeError, /options\.taskQueue is not supported/],
    ['taskQueue not a queue', { taskQueue: {} }, TypeError, /options\.taskQueue must be a TaskQueue object, got \{\}/],
    ['loadBalancer not a function', { loadBalancer: 5 }, TypeError, /options\.loadBalancer must be a function with at least two args, got 5/],
    // Piscina's own options, checked before the gate's refusals, each naming the value.
    ['workerHistogram a number', { workerHistogram: 1 }, TypeError, /options\.workerHistogram must be a boolean, got 1/],
    ['stricterFIFO a string', { stricterFIFO: 'yes' }, TypeError, /options\.stricterFIFO must be a boolean, got "yes"/],
    ['atomics unknown', { atomics: 'fast' }, TypeError, /options\.atomics should be a value of sync, sync or disabled\. Got "fast"/],
    ['closeTimeout negative', { closeTimeout: -1 }, RangeError, /options\.closeTimeout must be a non-negative integer, got -1/],
    ['niceIncrement negative', { niceIncrement: -1 }, RangeError, /options\.niceIncrement must be a non-negative integer on Unix systems, got -1/],
    ['niceIncrement a string', { niceIncrement: '1' }, TypeError, /options\.niceIncrement must be a non-negative integer on Unix systems, got "1"/],
    ['memoryLimit a word', { memoryLimit: 'lots' }, RangeError, /options\.memoryLimit must be a number of bytes, 'auto' or false, got "lots"/],
    ['memoryLimit true', { memoryLimit: true }, TypeError, /options\.memoryLimit must be a number of bytes, 'auto' or false, got true/],
    ['memoryLimit zero', { memoryLimit: 0 }, RangeError, /options\.memoryLimit is in bytes and must be at least 67108864 .*, got 0$/],
    // Found by a new user's trial: a negative limit was told the least is 1 (it is 64 MiB).
    ['memoryLimit negative', { memoryLimit: -1 }, RangeError, /options\.memoryLimit is in bytes and must be at least 67108864 .*, got -1$/],
    ['memoryLimit fractional', { memoryLimit: 1.5 }, RangeError, /options\.memoryLimit must be an integer, got 1\.5/],
    ['cgroupRoot relative', { cgroupRoot: 'sys/fs/cgroup' }, RangeError, /options\.cgroupRoot must be an absolute path, got "sys\/fs\/cgroup"/],
    ['cgroupRoot not a string', { cgroupRoot: 7 }, TypeError, /options\.cgroupRoot must be a string, got 7/],
    ['a misspelt option', { polciy: 'reject' }, TypeError, /options\.polciy is not an option \(did you mean policy\?\)/],
    ['a misspelt Piscina option', { maxThread: 2 }, TypeError, /options\.maxThread is not an option \(did you mean maxThreads\?\)/],
    ['an option nothing resembles', { turbo: true }, TypeError, /options\.turbo is not an option$/],
  ];
  for (const [name, options, type, message] of bad) {
    it(`${name} → ${type.name}`, () => {
      const make = '__replace' in options ? () => new GatedPool(options.__replace as unknown as GatedPoolOptions) : construct(options);
      expect(make).toThrow(type);
      expect(make).toThrow(message);
    });
  }

  it('reads own properties only: options set on Object.prototype are not options', async () => {
    const polluted = Object.prototype as unknown as Record<string, unknown>;
    polluted.policy = 'nonsense';
    polluted.loadBalancer = () => null;
    polluted.execArgv = ['--not-a-real-flag'];
    try {
      const pool = new GatedPool({ filename, maxThreads: 1 });
      expect(pool.stats().policy).toBe('wait');
      expect(pool.options.execArgv).toBeUndefined();
      expect(pool.options.loadBalancer).toBeUndefined();
      expect(await pool.run(3)).toBe(3);
      await pool.destroy();
    } finally {
      delete polluted.policy;
      delete polluted.loadBalancer;
      delete polluted.execArgv;
    }
  });

  it('new GatedPool() with no options is a pool whose runs name their module; options shows the filled options', async () => {
    const pool = new GatedPool();
    expect(pool.options).toMatchObject({ filename: null, name: 'default', maxQueue: 16_384, policy: 'wait', highWater: 0.85 });
    expect(Object.getPrototypeOf(pool.options)).toBe(null);
    expect(await pool.run(4, { filename })).toBe(4);
    await pool.destroy();
  });

  it("maxQueue takes Piscina's values too: 'auto' (maxThreads²) and Infinity", async () => {
    const auto = new GatedPool({ filename, maxThreads: 3, maxQueue: 'auto' });
    expect(auto.stats().maxQueue).toBe(9);
    const unbounded = new GatedPool({ filename, maxThreads: 1, maxQueue: Infinity });
    expect(unbounded.stats().maxQueue).toBe(Infinity);
    await Promise.all([auto.destroy(), unbounded.destroy()]);
  });

  it('accepts the defaults and a file path, and reports them', async () => {
    const pool = new GatedPool({ filename: new URL(filename).pathname, maxThreads: 1 });
    expect(pool.stats()).toMatchObject({ policy: 'wait', maxQueue: 16_384 });
    expect(await pool.run(5)).toBe(5);
    await pool.destroy();
  });

  it('lowWater defaults to 0.1 below highWater (half of it below 0.2): hysteresis kept, and never 0', async () => {
    const cases: [Record<string, number>, number, number][] = [
      [{}, 0.85, 0.75],
      [{ highWater: 0.7 }, 0.7, 0.6],
      [{ highWater: 0.1 }, 0.1, 0.05],
      [{ highWater: 0.05 }, 0.05, 0.025],
      [{ highWater: 0.7, lowWater: 0.65 }, 0.7, 0.65],
    ];
    for (const [options, high, low] of cases) {
      const pool = new GatedPool({ filename, maxThreads: 1, ...options });
      expect(pool.options).toMatchObject({ highWater: high, lowWater: low });
      await pool.destroy();
    }
  });

  it('the smallest limits accepted are ones a worker starts and works with', async () => {
    const pool = new GatedPool({ filename, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 } });
    expect(await pool.run({ a: 2, b: 3 }, { name: 'add' })).toBe(5);
    expect(pool.stats().counters.crashed).toBe(0);
    await pool.destroy();
  });
});

describe('run options', () => {
  const bad: [string, unknown, ErrorConstructor, RegExp][] = [
    ['not an object', 'fast', TypeError, /run options must be an object, got "fast"/],
    ['memory negative', { memory: -1 }, RangeError, /run options\.memory must be >= 0, got -1/],
    ['memory NaN', { memory: Number.NaN }, RangeError, /run options\.memory must not be NaN/],
    ['memory string', { memory: '64MB' }, TypeError, /run options\.memory must be a number, got "64MB"/],
    ['memory.external negative', { memory: { external: -1 } }, RangeError, /run options\.memory\.external must be >= 0, got -1/],
    ['memory.heap a string', { memory: { heap: '1' } }, TypeError, /run options\.memory\.heap must be a number, got "1"/],
    ['memory with an unknown part', { memory: { buffers: 1 } }, TypeError, /run options\.memory\.buffers is not an option: use heap and external/],
    ['memory a boxed number', { memory: new Number(5) }, TypeError, /run options\.memory must be a number of bytes or a plain object \{ heap, external \}, got a boxed number \(5\)/],
    ['memory an array', { memory: [5] }, TypeError, /run options\.memory must be a number of bytes or a plain object \{ heap, external \}, got \[5\]/],
    ['transferList holding a number', { transferList: [5] }, TypeError, /run options\.transferList\[0\] must be a transferable object \(an ArrayBuffer, a MessagePort…\), got 5/],
    ['name not a string', { name: 5 }, TypeError, /name argument must be a string: run options\.name got 5/],
    ['name empty', { name: '' }, RangeError, /run options\.name must not be empty/],
    ['filename a number', { filename: 42 }, TypeError, /filename argument must be a string: run options\.filename \(an absolute path or a file: URL\) got 42/],
    ['signal a number', { signal: 42 }, TypeError, /signal argument must be an object: run options\.signal \(an AbortSignal or an EventEmitter\) got 42/],
    ['signal not a signal', { signal: {} }, TypeError, /run options\.signal must be an AbortSignal or an EventEmitter, got \{\}/],
    ['transferList not an array', { transferList: 'x' }, TypeError, /transferList argument must be an Array: run options\.transferList got "x"/],
    ['a misspelt run option', { memroy: 5 }, TypeError, /run options\.memroy is not an option \(did you mean memory\?\)/],
    ['a run option that does not exist', { retries: 3 }, TypeError, /run options\.retries is not an option$/],
  ];
  for (const [name, options, type, message] of bad) {
    it(`${name} → rejected ${type.name}, counted as nothing submitted`, async () => {
      const pool = new GatedPool({ filename, maxThreads: 1 });
      const result = pool.run(1, options as never);
      await expect(result).rejects.toThrow(type);
      await expect(result).rejects.toThrow(message);
      expect(pool.stats().counters.submitted).toBe(0);
      await pool.destroy();
    });
  }
});

describe('a task input that cannot be sent to a worker', () => {
  it('rejects with TaskInputError (Node\'s DataCloneError as its cause), counted, nothing reserved left', async () => {
    const pool = new GatedPool({ filename, maxThreads: 1 });
    const buffer = new ArrayBuffer(8);
    const outcomes = await Promise.allSettled([
      pool.run({ f: () => 1 }, { memory: 1024 }),
      pool.run(buffer, { transferList: [buffer, buffer] }),
      pool.run(1),
    ]);
    const [fn, duplicate, fine] = outcomes;
    for (const outcome of [fn, duplicate]) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as Error & { code?: string; cause?: unknown };
      expect(error.name).toBe('TaskInputError');
      expect(error.code).toBe('ERR_TASK_INPUT');
      expect(error.message).toMatch(/cannot be sent to a worker/);
      expect((error.cause as Error).name).toBe('DataCloneError');
    }
    expect(fine).toEqual({ status: 'fulfilled', value: 1 });
    const stats = pool.stats();
    expect(stats.counters.rejected.input).toBe(2);
    expect(stats.counters.settled).toBe(3);
    expect(stats.ledger).toEqual({ open: 0, main: 0, process: 0 });
    await pool.destroy();
  });
});

describe('default worker heaps', () => {
  it('share half the process limit among as many workers as may live at once, minThreads included', async () => {
    const pool = new GatedPool({ filename, minThreads: 8, memoryLimit: 2 ** 30 });
    expect(pool.options.maxThreads).toBe(8);
    expect(pool.options.resourceLimits).toMatchObject({ maxOldGenerationSizeMb: 64 });
    await pool.destroy();
  });
});
