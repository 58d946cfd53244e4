// Faults while a pool serves: cgroup files turning malformed, limits changing, hung tasks, tasks
// that exit their thread. Each keeps the pool serving, says once what happened, and ends every
// task with its result or a typed error.
import { readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { GatedPool } from '../dist/index.js';
import { createCgroup, removeCgroup, spawnNode } from '../bench/lib/cgroup.mjs';
import { makeTree, MiB } from './helpers/cgroup-tree.js';
import { realCgroupSupport } from './helpers/real-cgroup.js';

const tasks = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function collectWarnings(): string[] {
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }): void => {
    warnings.push(`${warning.code} ${warning.message}`);
  };
  process.on('warning', onWarning);
  cleanups.push(() => process.off('warning', onWarning));
  return warnings;
}

describe('cgroup files that change under a running pool', () => {
  it('a malformed memory.current: one warning, the pool keeps serving, stats() says it measures by RSS now; a malformed limit keeps the last one', async () => {
    const root = makeTree({ 'cgroup.controllers': 'cpu io memory pids\n', 'memory.max': `${4096 * MiB}\n`, 'memory.current': `${100 * MiB}\n`, 'memory.stat': `anon ${90 * MiB}\nfile 4096\n`, 'memory.events': 'oom 0\noom_kill 0\n' });
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const warnings = collectWarnings();
    const pool = new GatedPool({ filename: tasks, memoryLimit: 'auto', cgroupRoot: root, maxThreads: 1, pollIntervalMs: 10 });
    cleanups.push(() => pool.destroy());
    const batch = async (): Promise<unknown[]> => Promise.all([5, 5, 5].map((ms) => pool.run(ms, { name: 'sleep', memory: 1024 })));

    expect(await batch()).toEqual([5, 5, 5]);
    expect(pool.stats().process).toMatchObject({ source: 'cgroup', measuredBy: 'cgroup', used: 100 * MiB, limit: 4096 * MiB });

    // Written in place, as the kernel's files change.
    writeFileSync(join(root, 'memory.current'), 'garbage\n');
    writeFileSync(join(root, 'memory.stat'), 'anon\n');
    writeFileSync(join(root, 'memory.events'), 'oom x\n');
    expect(await batch()).toEqual([5, 5, 5]);
    expect(await batch()).toEqual([5, 5, 5]);
    expect(pool.stats().process).toMatchObject({ source: 'cgroup', measuredBy: 'rss', limit: 4096 * MiB });
    expect(warnings.filter((warning) => warning.startsWith('HEAPGATE_CGROUP_UNREADABLE'))).toHaveLength(1);
    expect(warnings[0]).toMatch(/memory\.current should hold a whole number, but holds "garbage"\); measuring the process by RSS from now on/);
    expect(pool.stats().counters).toMatchObject({ submitted: 9, completed: 9 });
  });
});

describe('tasks that hang or leave', () => {
  it('a hung task is ended by its signal, by close({ force }) after closeTimeout, and by destroy(); held tasks are settled', async () => {
    const first = new GatedPool({ filename: tasks, maxThreads: 1, memoryLimit: false });
    cleanups.push(() => first.destroy());
    const controller = new AbortController();
    const aborted = first.run(60_000, { name: 'spin', signal: controller.signal }).catch((error: Error & { code?: string }) => error.code);
    setTimeout(() => controller.abort(), 100);
    expect(await aborted).toBe('ABORT_ERR');
    expect(await first.run({ a: 1, b: 2 }, { name: 'add' })).toBe(3);

    const second = new GatedPool({ filename: tasks, maxThreads: 1, memoryLimit: false, closeTimeout: 200 });
    const hung = second.run(60_000, { name: 'spin' }).catch((error: Error & { code?: string }) => error.code);
    const held = second.run(1).catch((error: Error & { code?: string }) => error.code);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await second.close({ force: true });
    expect([await hung, await held]).toEqual(['ERR_POOL_CLOSED', 'ERR_POOL_CLOSED']);

    const third = new GatedPool({ filename: tasks, maxThreads: 1, memoryLimit: false });
    const stuck = third.run(60_000, { name: 'spin' }).catch((error: Error & { code?: string }) => error.code);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await third.destroy();
    expect(await stuck).toBe('ERR_POOL_CLOSED');
  });

  it('a task that calls process.exit() ends with WorkerCrashError; the pool goes on with a new worker', async () => {
    const pool = new GatedPool({ filename: tasks, maxThreads: 1, memoryLimit: false });
    cleanups.push(() => pool.destroy());
    const error = (await pool.run(3, { name: 'exit' }).catch((reason: unknown) => reason)) as Error & { code?: string };
    expect(error.code).toBe('ERR_WORKER_CRASHED');
    expect(error.message).toMatch(/exited with code: 3/);
    expect(await pool.run({ a: 2, b: 3 }, { name: 'add' })).toBe(5);
    expect(pool.stats().counters).toMatchObject({ submitted: 2, settled: 2, crashed: 1, completed: 1 });
  });
});

describe('the memory cgroup removed under a running pool', () => {
  const support = realCgroupSupport();
  if (!support.ok) console.log(`skipping the removed-cgroup test: ${support.reason}`);
  it.skipIf(!support.ok)('the process moved out and its cgroup removed: one warning, the pool keeps serving, stats() says RSS', async () => {
    if (!support.ok) return;
    const first = createCgroup(support.location, 512 * MiB, 'vanish');
    const second = createCgroup(support.location, 512 * MiB, 'vanish-to');
    cleanups.push(() => removeCgroup(second));
    let firstRemoved = false;
    cleanups.push(() => (firstRemoved ? undefined : removeCgroup(first)));
    const script = fileURLToPath(new URL('./fixtures/run-cgroup-vanish.mjs', import.meta.url));
    const child = spawnNode(script, ['3'], first.dir);
    let stdout = '';
    const serving = new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('serving')) resolve();
      });
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await serving;
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Move the process (writing its pid to cgroup.procs moves every thread), then remove the cgroup it measured.
    for (const pid of readFileSync(join(first.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(second.dir, 'cgroup.procs'), pid);
    rmdirSync(first.dir);
    firstRemoved = true;
    expect(await closed).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { before: { measuredBy: string }; after: { measuredBy: string; used: number }; warnings: string[]; outcomes: { completed: number; rejected: Record<string, number> }; counters: { submitted: number; settled: number; completed: number } };
    console.log('removed cgroup:', JSON.stringify({ before: result.before, after: result.after, warnings: result.warnings, outcomes: result.outcomes }));
    expect(result.before.measuredBy).toBe('cgroup');
    expect(result.after.measuredBy).toBe('rss');
    expect(result.after.used).toBeGreaterThan(0);
    expect(result.warnings.filter((warning) => warning.startsWith('HEAPGATE_CGROUP_UNREADABLE'))).toHaveLength(1);
    expect(result.outcomes.rejected).toEqual({});
    expect(result.counters.settled).toBe(result.counters.submitted);
    expect(result.counters.completed).toBe(result.counters.submitted);
  });
});

describe('worker churn', () => {
  it('minThreads 0 and idleTimeout 0: workers start and are reaped between bursts; every task settles, nothing stays reserved, no worker is left', async () => {
    const pool = new GatedPool({ filename: tasks, minThreads: 0, maxThreads: 3, idleTimeout: 0, memoryLimit: false });
    cleanups.push(() => pool.destroy());
    const created: number[] = [];
    pool.on('workerCreate', (view) => created.push(view.id));
    for (let burst = 0; burst < 6; burst++) {
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.run(i % 2 ? 5 : { a: burst, b: i }, { name: i % 2 ? 'sleep' : 'add', memory: 2 * MiB })));
      expect(results).toEqual(Array.from({ length: 5 }, (_, i) => (i % 2 ? 5 : burst + i)));
      // Idle between bursts: Piscina reaps every worker (idleTimeout 0, minThreads 0).
      for (let wait = 0; wait < 100 && pool.threads.length > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(pool.threads.length).toBe(0);
    }
    const stats = pool.stats();
    expect(stats.counters).toMatchObject({ submitted: 30, settled: 30, completed: 30, crashed: 0 });
    expect(stats.ledger).toEqual({ open: 0, main: 0, process: 0 });
    expect(stats.workers).toEqual([]);
    expect(new Set(created).size).toBeGreaterThanOrEqual(6);
  });
});
