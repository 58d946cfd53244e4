// Bad input, as a matrix: every constructor option and every run option given values of the wrong
// type (null, boxed primitives, arrays, plain objects, functions, bigints) and values out of range
// (NaN, ±Infinity where not allowed, negatives, fractions where integers are meant). Each must be
// refused with a TypeError (wrong type) or RangeError (wrong value) naming the option and showing
// the value — at construction, or as a rejected run() — never accepted, never a raw error from
// Piscina, Node or V8.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatedPool, type GatedPoolOptions } from '../dist/index.js';

const filename = new URL('./fixtures/tasks.mjs', import.meta.url).href;

/** How a value is shown in an error message (mirrors the library's own `describe`). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return `a boxed ${typeof value.valueOf()}`;
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

const WRONG_TYPES: unknown[] = [null, 'x', new Number(1), new Boolean(true), new String('wait'), [1], {}, () => 1, 1n];
const notNumbers = WRONG_TYPES;
const notBooleans: unknown[] = [null, 1, 'true', new Boolean(true), [], {}, () => true];

/** Per option: values that must be refused, and with which error type. */
const CONSTRUCTOR: Record<string, { type: unknown[]; range: unknown[] }> = {
  policy: { type: [null, 5, new String('wait'), [], {}, true], range: ['drop', ''] },
  highWater: { type: notNumbers, range: [Number.NaN, 0, -0.5, 1.01, Infinity, -Infinity] },
  lowWater: { type: notNumbers, range: [Number.NaN, -0.1, 1.01, Infinity] },
  maxQueue: { type: [null, new Number(1), [1], {}, () => 1, true], range: [Number.NaN, -1, 1.5, -Infinity, 'lots'] },
  maxWaitMs: { type: notNumbers, range: [Number.NaN, -1, -Infinity, 2 ** 31, 2 ** 40] },
  pollIntervalMs: { type: notNumbers, range: [Number.NaN, 0, -5, Infinity, 60_001] },
  retryAfterMs: { type: notNumbers, range: [Number.NaN, -1] },
  overtakeMs: { type: notNumbers, range: [Number.NaN, -1, -Infinity, 2 ** 40] },
  memoryLimit: { type: [null, new Number(5), [], {}, () => 1, true, 1n], range: [Number.NaN, -1, 0, 1.5, Infinity, 'lots', 10, 32 * 2 ** 20] },
  cgroupRoot: { type: [null, 5, [], {}, new String('/sys/fs/cgroup')], range: ['relative/path', '/no/such/cgroup/mount'] },
  reservations: { type: notBooleans, range: [] },
  slowStart: { type: notBooleans, range: [] },
  autoStart: { type: notBooleans, range: [] },
  minThreads: { type: notNumbers, range: [Number.NaN, -1, 1.5, Infinity] },
  maxThreads: { type: notNumbers, range: [Number.NaN, 0, -1, 1.5, Infinity] },
  idleTimeout: { type: notNumbers, range: [Number.NaN, -1, 1.5, -Infinity, 2 ** 40] },
  concurrentTasksPerWorker: { type: notNumbers, range: [Number.NaN, 0, -1, 1.5, Infinity] },
  closeTimeout: { type: notNumbers, range: [Number.NaN, -1, 1.5, -Infinity, 2 ** 40] },
  niceIncrement: { type: notNumbers, range: [Number.NaN, -1, 1.5] },
  // An unknown word is a TypeError, as in Piscina (its message is kept word for word).
  atomics: { type: [5, true, [], {}, new String('sync'), 'fast'], range: [] },
  trackUnmanagedFds: { type: notBooleans, range: [] },
  recordTiming: { type: notBooleans, range: [] },
  stricterFIFO: { type: notBooleans, range: [] },
  workerHistogram: { type: notBooleans, range: [] },
  resourceLimits: { type: [null, 5, 'x', [64], () => 1, new Number(64)], range: [] },
  argv: { type: [5, 'x', {}, () => 1, null], range: [] },
  // Flags Node would refuse when a worker starts (see 'worker flags' below).
  execArgv: { type: [5, 'x', {}, [5], () => 1, null], range: [['--not-a-real-flag']] },
  env: { type: [5, 'x', [1], () => 1, null], range: [{ NODE_OPTIONS: '--not-a-real-flag' }] },
  workerData: { type: [() => 1, Symbol('x'), { f: () => 1 }], range: [] },
  filename: { type: [5, {}, [], new String('/x.mjs')], range: ['relative/tasks.mjs', '/no/such/tasks.mjs', '/tmp'] },
  name: { type: [5, {}, [], new String('x')], range: [''] },
};

const RESOURCE_LIMITS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];

/** Each wrong value with the error it must get: `type` ones a TypeError, `range` ones a RangeError. */
function* refusals({ type, range }: { type: unknown[]; range: unknown[] }): Generator<[ErrorConstructor, unknown]> {
  for (const value of type) yield [TypeError, value];
  for (const value of range) yield [RangeError, value];
}

function refusal(build: () => unknown): Error | undefined {
  try {
    const pool = build() as GatedPool;
    void pool.destroy();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('every constructor option refuses wrong types and values, naming both', () => {
  for (const [key, values] of Object.entries(CONSTRUCTOR)) {
    for (const [expected, value] of refusals(values)) {
      it(`options.${key} = ${typeof value === 'symbol' ? 'a symbol' : shown(value)} → ${expected.name}`, () => {
        const error = refusal(() => new GatedPool({ filename, [key]: value } as unknown as GatedPoolOptions));
        expect(error, `options.${key} = ${String(typeof value === 'symbol' ? 'symbol' : shown(value))} was accepted`).toBeInstanceOf(expected);
        expect(error!.message).toContain(`options.${key}`);
        if (typeof value !== 'symbol' && typeof value !== 'function' && !(typeof value === 'object' && value !== null)) expect(error!.message).toContain(shown(value));
      });
    }
  }

  for (const limit of RESOURCE_LIMITS) {
    for (const [expected, value] of refusals({ type: [null, '64', new Number(64)], range: [Number.NaN, -1, Infinity] })) {
      it(`options.resourceLimits.${limit} = ${shown(value)} → ${expected.name}`, () => {
        const error = refusal(() => new GatedPool({ filename, resourceLimits: { [limit]: value } } as unknown as GatedPoolOptions));
        expect(error).toBeInstanceOf(expected);
        expect(error!.message).toContain(`options.resourceLimits.${limit}`);
      });
    }
  }
});

// Node refuses bad worker flags only inside \`new Worker()\`. A pool with no worker yet would meet
// them in run(), where Piscina had already queued the task: the task failed with Node's raw error,
// and close() or destroy() then ended the process with an unhandled rejection (5 of 5 runs).
describe('worker flags are checked at construction, without starting a worker', () => {
  it('options.execArgv a worker cannot start with → RangeError naming it, with minThreads 0 too', () => {
    for (const minThreads of [0, 1]) {
      const error = refusal(() => new GatedPool({ filename, minThreads, execArgv: ['--not-a-real-flag'] }));
      expect(error, `minThreads ${minThreads}`).toBeInstanceOf(RangeError);
      expect(error!.message).toContain('options.execArgv');
      expect(error!.message).toContain('--not-a-real-flag');
      expect((error!.cause as { code?: unknown }).code).toBe('ERR_WORKER_INVALID_EXEC_ARGV');
    }
  });

  // Review: the env object was handed to Piscina by reference: a bad NODE_OPTIONS set in it after
  // construction got past the check, and met Node in run() (a task left in Piscina's queue, then
  // an unhandled rejection on destroy()).
  it('the flags checked are the ones workers start with: later changes to the caller\'s objects do not reach them', async () => {
    const env: Record<string, string | undefined> = { ...process.env };
    const execArgv: string[] = [];
    const pool = new GatedPool({ filename, minThreads: 0, maxThreads: 1, env, execArgv });
    env.NODE_OPTIONS = '--not-a-real-flag';
    execArgv.push('--not-a-real-flag');
    expect(await pool.run(4)).toBe(4);
    await pool.destroy();
  });

  it('the check runs no preload: a valid --import in execArgv runs only in the workers the pool starts', async () => {
    const marks = mkdtempSync(join(tmpdir(), 'heapgate-preload-'));
    const preload = join(marks, 'preload.mjs');
    writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nimport { threadId } from 'node:worker_threads';\nwriteFileSync(${JSON.stringify(marks)} + '/ran-' + threadId, '');\n`);
    try {
      const pool = new GatedPool({ filename, minThreads: 0, maxThreads: 1, execArgv: ['--import', preload] });
      expect(readdirSync(marks).filter((file) => file.startsWith('ran-')), 'preloads run by construction').toEqual([]);
      expect(await pool.run(3)).toBe(3);
      expect(readdirSync(marks).filter((file) => file.startsWith('ran-')), 'preloads run by the one worker').toHaveLength(1);
      await pool.destroy();
    } finally {
      rmSync(marks, { recursive: true, force: true });
    }
  });
});

describe('options objects themselves', () => {
  it('an array is not an options object: constructor TypeError, run() rejected with TypeError', async () => {
    expect(refusal(() => new GatedPool([] as never))).toBeInstanceOf(TypeError);
    expect(refusal(() => new GatedPool(Object.assign([], { filename }) as never))?.message).toMatch(/^options must be an object, got \[\]/);
    const pool = new GatedPool({ filename, maxThreads: 1, minThreads: 0 });
    try {
      const error = await pool.run(1, [] as never).then(() => undefined, (reason: unknown) => reason as Error);
      expect(error).toBeInstanceOf(TypeError);
      expect(error?.message).toBe('run options must be an object, got []');
    } finally {
      await pool.destroy();
    }
  });

  it('a misspelled resourceLimits field is refused, with the field it is close to', () => {
    const error = refusal(() => new GatedPool({ filename, resourceLimits: { maxOldGenSizeMb: 64 } } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error?.message).toBe('options.resourceLimits.maxOldGenSizeMb is not an option (did you mean maxOldGenerationSizeMb?)');
  });

  it('a closeTimeout of Infinity waits for running work (a timer given it would fire after 1 ms)', async () => {
    const pool = new GatedPool({ filename, maxThreads: 1, minThreads: 1, closeTimeout: Infinity });
    const running = pool.run(300, { name: 'sleep', memory: 2 ** 20 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool.close();
    expect(await running).toBe(300);
    expect(pool.stats().counters.completed).toBe(1);
  });
});

describe('every run option refuses wrong types and values, naming both', () => {
  const RUN: Record<string, { type: unknown[]; range: unknown[] }> = {
    name: { type: [5, {}, [], new String('x'), () => 1], range: [''] },
    filename: { type: [5, {}, [], new String('/x.mjs')], range: ['relative/tasks.mjs', '/no/such/tasks.mjs', '/tmp'] },
    transferList: { type: ['x', 5, {}, [5], [null], () => 1], range: [] },
    signal: { type: [5, 'x', {}, [], () => 1], range: [] },
    memory: { type: [null, '64', new Number(5), [5], () => 1, { heap: '1' }, { heap: null }, { external: new Number(1) }], range: [Number.NaN, -1, Infinity, { heap: -1 }, { external: Number.NaN }] },
    priority: { type: [null, '1', new Number(1), [1], {}], range: [Number.NaN] },
  };
  for (const [key, values] of Object.entries(RUN)) {
    for (const [expected, value] of refusals(values)) {
      it(`run options.${key} = ${shown(value)} → rejected ${expected.name}`, async () => {
        const pool = new GatedPool({ filename, maxThreads: 1, minThreads: 0 });
        try {
          const error = await pool.run(1, { [key]: value } as never).then(
            () => undefined,
            (reason: unknown) => reason as Error,
          );
          expect(error, `run options.${key} = ${shown(value)} was accepted`).toBeInstanceOf(expected);
          expect(error!.message).toContain(`options.${key}`);
          expect(pool.stats().counters.submitted).toBe(0);
        } finally {
          await pool.destroy();
        }
      });
    }
  }
});
