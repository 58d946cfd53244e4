// Container readers on fixture trees (cgroup v1 and v2): limit discovery up the hierarchy,
// unlimited, memory.high below memory.max, malformed, missing and unreadable files, usage and
// non-reclaimable memory, counters, precedence and warnings, and a pool on a fixture root.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatedPool, MemoryPressureError } from '../dist/index.js';
import { CgroupFileError, KeptOpenFile, parseMembership } from '../dist/readings/cgroup-files.js';
import { ContainerReader, locateCgroup, readContainerLimit } from '../dist/readings/container.js';
import { ProcessMonitor } from '../dist/readings/process.js';
import { DIRECTORY, makeTree, MiB, V1_UNLIMITED } from './helpers/cgroup-tree.js';

const roots: string[] = [];
function tree(files: Parameters<typeof makeTree>[0]): string {
  const root = makeTree(files);
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const V2_MEMBERSHIP = '0::/app/svc\n';
const V1_MEMBERSHIP = '12:pids:/app/svc\n4:memory:/app/svc\n0::/\n';
const v2Stat = (anon: number, file: number, shmem = 0) => `anon ${anon}\nfile ${file}\nkernel 4096\nshmem ${shmem}\n`;
const v1Stat = (rss: number, cache: number, hierarchical: string | number = V1_UNLIMITED.trim(), shmem = 0) =>
  `cache ${cache}\nrss ${rss}\nshmem ${shmem}\nhierarchical_memory_limit ${hierarchical}\ntotal_cache ${cache}\ntotal_rss ${rss}\ntotal_shmem ${shmem}\ntotal_inactive_file ${cache}\n`;

function v2(files: Record<string, string | typeof DIRECTORY> = {}): string {
  return tree({ 'cgroup.controllers': 'cpuset cpu io memory pids\n', 'app/svc/memory.current': `${50 * MiB}\n`, 'app/svc/memory.stat': v2Stat(40 * MiB, 10 * MiB), ...files });
}
function v1(files: Record<string, string | typeof DIRECTORY> = {}): string {
  return tree({ 'memory/app/svc/memory.usage_in_bytes': `${50 * MiB}\n`, 'memory/app/svc/memory.stat': v1Stat(40 * MiB, 10 * MiB), ...files });
}

describe('locating the cgroup', () => {
  it('parses /proc/self/cgroup: v1 memory (alone or combined) and v2', () => {
    expect(parseMembership('x', '4:memory:/a\n0::/b\n')).toEqual({ v1Memory: '/a', v2: '/b' });
    expect(parseMembership('x', '7:cpu,memory:/c\n')).toEqual({ v1Memory: '/c', v2: undefined });
    expect(() => parseMembership('/proc/self/cgroup', 'garbage\n')).toThrow(/\/proc\/self\/cgroup should hold "id:controllers:path" lines, but holds "garbage"/);
  });

  it('v2 when cgroup.controllers lists memory; v1 when the memory hierarchy exists', () => {
    const root2 = v2();
    expect(locateCgroup(root2, V2_MEMBERSHIP)).toEqual({ version: 2, mount: root2, dir: join(root2, 'app/svc') });
    const root1 = v1();
    expect(locateCgroup(root1, V1_MEMBERSHIP)).toEqual({ version: 1, mount: join(root1, 'memory'), dir: join(root1, 'memory/app/svc') });
  });

  it('no memory controller: no cgroup', () => {
    const root = tree({ 'cgroup.controllers': 'cpu io pids\n' });
    expect(locateCgroup(root, V2_MEMBERSHIP)).toBeUndefined();
  });

  it('a path that does not exist under the mount (cgroup namespace): the mount itself', () => {
    const root = v2({ 'memory.current': '1\n' });
    expect(locateCgroup(root, '0::/elsewhere/not/here\n')?.dir).toBe(root);
  });
});

describe('limit discovery, v2', () => {
  it('a limit set only on a parent is found', () => {
    const root = v2({ 'app/memory.max': `${512 * MiB}\n`, 'app/svc/memory.max': 'max\n', 'app/svc/memory.high': 'max\n' });
    const limit = readContainerLimit(locateCgroup(root, V2_MEMBERSHIP)!);
    expect(limit.limit).toBe(512 * MiB);
    expect(limit.from).toBe(join(root, 'app/memory.max'));
  });

  it('memory.high below memory.max wins', () => {
    const root = v2({ 'app/svc/memory.max': `${512 * MiB}\n`, 'app/svc/memory.high': `${256 * MiB}\n` });
    expect(readContainerLimit(locateCgroup(root, V2_MEMBERSHIP)!)).toMatchObject({ limit: 256 * MiB, from: join(root, 'app/svc/memory.high') });
  });

  it('"max" everywhere and missing files: unlimited', () => {
    const root = v2({ 'app/svc/memory.max': 'max\n' });
    expect(readContainerLimit(locateCgroup(root, V2_MEMBERSHIP)!)).toEqual({ limit: Infinity, from: undefined, unreadable: [] });
  });

  it('a malformed value throws CgroupFileError naming the file and the value', () => {
    const root = v2({ 'app/memory.max': '12abc\n' });
    const location = locateCgroup(root, V2_MEMBERSHIP)!;
    expect(() => readContainerLimit(location)).toThrow(CgroupFileError);
    expect(() => readContainerLimit(location)).toThrow(`${join(root, 'app/memory.max')} should hold a byte count or "max", but holds "12abc"`);
  });

  it('an unreadable file is reported, and the other levels still count', () => {
    const root = v2({ 'app/memory.max': DIRECTORY, 'app/svc/memory.max': `${300 * MiB}\n` });
    const limit = readContainerLimit(locateCgroup(root, V2_MEMBERSHIP)!);
    expect(limit.limit).toBe(300 * MiB);
    expect(limit.unreadable).toEqual([`${join(root, 'app/memory.max')} (EISDIR)`]);
  });
});

describe('limit discovery, v1', () => {
  it('a parent-only limit shows in hierarchical_memory_limit', () => {
    const root = v1({ 'memory/app/svc/memory.limit_in_bytes': V1_UNLIMITED, 'memory/app/svc/memory.stat': v1Stat(1, 1, 300 * MiB) });
    expect(readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!)).toMatchObject({ limit: 300 * MiB, from: `${join(root, 'memory/app/svc/memory.stat')} (hierarchical_memory_limit)` });
  });

  it("a parent's memory.limit_in_bytes counts too", () => {
    const root = v1({ 'memory/app/memory.limit_in_bytes': `${200 * MiB}\n`, 'memory/app/svc/memory.limit_in_bytes': V1_UNLIMITED });
    expect(readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!).limit).toBe(200 * MiB);
  });

  it('the own limit when it is the smallest', () => {
    const root = v1({ 'memory/app/svc/memory.limit_in_bytes': `${100 * MiB}\n`, 'memory/app/svc/memory.stat': v1Stat(1, 1, 100 * MiB) });
    expect(readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!).limit).toBe(100 * MiB);
  });

  it('page-rounded 2^63 everywhere: unlimited', () => {
    const root = v1({ 'memory/memory.limit_in_bytes': V1_UNLIMITED, 'memory/app/svc/memory.limit_in_bytes': V1_UNLIMITED });
    expect(readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!).limit).toBe(Infinity);
  });

  it('an unreadable memory.stat is reported; the limit files still count', () => {
    const root = v1({ 'memory/app/svc/memory.stat': DIRECTORY, 'memory/app/svc/memory.limit_in_bytes': `${128 * MiB}\n` });
    const limit = readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!);
    expect(limit.limit).toBe(128 * MiB);
    expect(limit.unreadable).toEqual([`${join(root, 'memory/app/svc/memory.stat')} (EISDIR)`]);
  });

  it('missing limit files at every level: unlimited, nothing reported', () => {
    const root = v1();
    expect(readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!)).toEqual({ limit: Infinity, from: undefined, unreadable: [] });
  });

  it('a malformed memory.stat line throws CgroupFileError naming the file', () => {
    const root = v1({ 'memory/app/svc/memory.stat': 'cache 1\nthis is not a stat line\n' });
    expect(() => readContainerLimit(locateCgroup(root, V1_MEMBERSHIP)!)).toThrow(/memory\.stat should hold "key value" lines, but holds "this is not a stat line"/);
  });
});

describe('usage, non-reclaimable memory and counters', () => {
  it('v2: memory.current; anon + shmem; memory.events', () => {
    const root = v2({ 'app/svc/memory.stat': v2Stat(30 * MiB, 100 * MiB, 2 * MiB), 'app/svc/memory.events': 'low 0\nhigh 3\nmax 7\noom 2\noom_kill 1\n' });
    const reader = new ContainerReader(locateCgroup(root, V2_MEMBERSHIP)!);
    expect(reader.usage()).toBe(50 * MiB);
    expect(reader.nonReclaimable()).toBe(32 * MiB);
    expect(reader.counters()).toEqual({ max: 7, oom: 2, oomKill: 1 });
    // Kept-open files give fresh values on every read.
    writeFileSync(join(root, 'app/svc/memory.current'), `${70 * MiB}\n`);
    expect(reader.usage()).toBe(70 * MiB);
    reader.close();
    expect(reader.usage()).toBe(70 * MiB);
  });

  it('v1: memory.usage_in_bytes; total_rss + total_shmem; failcnt and oom_control', () => {
    const root = v1({ 'memory/app/svc/memory.stat': v1Stat(30 * MiB, 100 * MiB, V1_UNLIMITED.trim(), 1 * MiB), 'memory/app/svc/memory.failcnt': '166\n', 'memory/app/svc/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n' });
    const reader = new ContainerReader(locateCgroup(root, V1_MEMBERSHIP)!);
    expect(reader.usage()).toBe(50 * MiB);
    expect(reader.nonReclaimable()).toBe(31 * MiB);
    expect(reader.counters()).toEqual({ failcnt: 166, oomKill: 3 });
    reader.close();
  });

  it('a memory.stat without the anon line, or a usage that is not a number: CgroupFileError', () => {
    const root = v2({ 'app/svc/memory.stat': 'file 100\n', 'app/svc/memory.current': 'lots\n' });
    const reader = new ContainerReader(locateCgroup(root, V2_MEMBERSHIP)!);
    expect(() => reader.nonReclaimable()).toThrow(/memory\.stat should hold a "anon" line/);
    expect(() => reader.usage()).toThrow(/memory\.current should hold a whole number, but holds "lots"/);
    reader.close();
  });
});

describe('the process monitor: precedence, warnings, refresh', () => {
  const options = { statRefreshMs: 100, usageRefreshMs: 0, limitRefreshMs: 5000 };

  it('a cgroup with no memory limit on it or above (a login session, a service) is not measured: this process is, by RSS', () => {
    const root = v2({ 'app/svc/memory.max': 'max\n' });
    for (const memoryLimit of ['auto', 512 * MiB] as const) {
      const monitor = new ProcessMonitor({ ...options, memoryLimit, cgroupRoot: root, membership: V2_MEMBERSHIP });
      expect(monitor.stats().measuredBy, String(memoryLimit)).toBe('rss');
      // The fixture's memory.current says 50 MiB; this process's RSS is what counts.
      const used = monitor.used(0);
      expect(used).not.toBe(50 * MiB);
      expect(Math.abs(used - process.memoryUsage.rss())).toBeLessThan(0.2 * used);
      monitor.close();
    }
    const limited = new ProcessMonitor({ ...options, memoryLimit: 512 * MiB, cgroupRoot: v2({ 'app/svc/memory.max': `${1024 * MiB}\n` }), membership: V2_MEMBERSHIP });
    expect([limited.stats().measuredBy, limited.used(0)]).toEqual(['cgroup', 50 * MiB]);
    limited.close();
  });

  it('explicit bytes > cgroup > system', () => {
    const root = v2({ 'app/svc/memory.max': `${256 * MiB}\n` });
    const fromCgroup = new ProcessMonitor({ ...options, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    expect([fromCgroup.source, fromCgroup.limit]).toEqual(['cgroup', 256 * MiB]);
    const explicit = new ProcessMonitor({ ...options, memoryLimit: 100 * MiB, cgroupRoot: root, membership: V2_MEMBERSHIP });
    expect([explicit.source, explicit.limit]).toEqual(['explicit', 100 * MiB]);
    expect(explicit.used(0)).toBe(50 * MiB);
    fromCgroup.close();
    explicit.close();
  });

  it('no limit anywhere: system memory, said by stats() and NODE_DEBUG=heapgate, not by a process warning', async () => {
    const root = v2({ 'app/svc/memory.max': 'max\n' });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const monitor = new ProcessMonitor({ ...options, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(monitor.source).toBe('system');
    expect(monitor.limit).toBe(totalmem());
    expect(warnings.filter((warning) => warning.message.includes(join(root, 'app/svc')))).toHaveLength(0);
    monitor.close();
    // With NODE_DEBUG=heapgate, the debug log names where it looked.
    const script = `import { GatedPool } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      new GatedPool({ filename: ${JSON.stringify(new URL('./fixtures/tasks.mjs', import.meta.url).href)}, memoryLimit: 'auto', cgroupRoot: ${JSON.stringify(root)}, minThreads: 0 }).destroy();`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'heapgate' } });
    expect(child.status).toBe(0);
    expect(child.stderr).toMatch(/HEAPGATE \d+: no container memory limit found .*measuring the process against system memory/);
  });

  it('re-reads the limit when it changes at run time', () => {
    const root = v2({ 'app/svc/memory.max': `${256 * MiB}\n` });
    const monitor = new ProcessMonitor({ ...options, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    writeFileSync(join(root, 'app/svc/memory.max'), `${128 * MiB}\n`);
    monitor.refreshLimit(performance.now());
    expect(monitor.limit).toBe(256 * MiB);
    monitor.refreshLimit(performance.now() + 5000);
    expect(monitor.limit).toBe(128 * MiB);
    monitor.close();
  });

  it('non-reclaimable memory is re-read at most every statRefreshMs; between reads, usage growth counts as non-reclaimable', () => {
    const root = v2({ 'app/svc/memory.max': `${256 * MiB}\n` });
    const monitor = new ProcessMonitor({ ...options, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    expect(monitor.live(1000, 100 * MiB)).toBe(40 * MiB);
    writeFileSync(join(root, 'app/svc/memory.stat'), v2Stat(90 * MiB, 0));
    expect(monitor.live(1050, 100 * MiB)).toBe(40 * MiB);
    // Usage grew 30 MiB since the read: a burst the cached figure must not hide.
    expect(monitor.live(1060, 130 * MiB)).toBe(70 * MiB);
    // Usage fell: the cached figure stands (nothing is subtracted until a read says so).
    expect(monitor.live(1070, 80 * MiB)).toBe(40 * MiB);
    expect(monitor.live(1100, 130 * MiB)).toBe(90 * MiB);
    monitor.close();
  });

  it('usage is re-read once usageRefreshMs has passed, and shared by the decisions before that', () => {
    const root = v2({ 'app/svc/memory.max': `${256 * MiB}\n` });
    const monitor = new ProcessMonitor({ ...options, usageRefreshMs: 1, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    expect(monitor.used(1000)).toBe(50 * MiB);
    writeFileSync(join(root, 'app/svc/memory.current'), `${70 * MiB}\n`);
    expect(monitor.used(1000.5)).toBe(50 * MiB);
    expect(monitor.used(1001)).toBe(70 * MiB);
    monitor.close();
  });

  it('a cgroup file that turns bad at run time: one warning, RSS from then on, no throw', async () => {
    const root = v2({ 'app/svc/memory.max': `${256 * MiB}\n` });
    const monitor = new ProcessMonitor({ ...options, memoryLimit: 'auto', cgroupRoot: root, membership: V2_MEMBERSHIP });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    writeFileSync(join(root, 'app/svc/memory.current'), 'garbled\n');
    writeFileSync(join(root, 'app/svc/memory.max'), 'garbled\n');
    const used = monitor.used(0);
    monitor.refreshLimit(performance.now() + 10_000);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    // The fixture said 50 MiB; the fallback measures this process's RSS instead.
    expect(used).not.toBe(50 * MiB);
    expect(Math.abs(used - process.memoryUsage.rss())).toBeLessThan(64 * MiB);
    expect(monitor.limit).toBe(256 * MiB);
    expect(warnings.some((message) => message.includes('measuring the process by RSS from now on'))).toBe(true);
    expect(warnings.some((message) => message.includes('keeping'))).toBe(true);
    monitor.close();
  });

  it('a malformed limit makes the pool constructor throw CgroupFileError', () => {
    const root = v1({ [`memory${ownV1Path()}/memory.limit_in_bytes`]: 'twelve\n', [`memory${ownV1Path()}/memory.usage_in_bytes`]: '1\n', [`memory${ownV1Path()}/memory.stat`]: v1Stat(1, 1) });
    expect(() => new GatedPool({ filename: new URL('./fixtures/tasks.mjs', import.meta.url).href, cgroupRoot: root })).toThrow(CgroupFileError);
  });
});

/** This process's own v1 memory cgroup path, or '/' (the fixture mirrors it under its root). */
function ownV1Path(): string {
  return parseMembership('/proc/self/cgroup', readFileSync('/proc/self/cgroup', 'utf8')).v1Memory ?? '/';
}

/**
 * A fixture root laid out at this process's own cgroup path (v1 or v2, whichever
 * /proc/self/cgroup names), with the files a pool reads; `undefined` where there is no membership.
 */
function ownLayout(limit: number, usage: number, stat: { anon: number; cache: number }): { root: string; dir: string; stat: (anon: number, cache: number) => string } | undefined {
  const membership = parseMembership('/proc/self/cgroup', readFileSync('/proc/self/cgroup', 'utf8'));
  if (membership.v1Memory !== undefined) {
    const dir = `memory${membership.v1Memory}`;
    const statText = (anon: number, cache: number) => v1Stat(anon, cache, limit);
    const root = tree({ [`${dir}/memory.limit_in_bytes`]: `${limit}\n`, [`${dir}/memory.usage_in_bytes`]: `${usage}\n`, [`${dir}/memory.stat`]: statText(stat.anon, stat.cache) });
    return { root, dir, stat: statText };
  }
  if (membership.v2 !== undefined) {
    const dir = membership.v2.replace(/^\//, '');
    const statText = (anon: number, cache: number) => v2Stat(anon, cache);
    const root = tree({ 'cgroup.controllers': 'memory\n', [`${dir}/memory.max`]: `${limit}\n`, [`${dir}/memory.current`]: `${usage}\n`, [`${dir}/memory.stat`]: statText(stat.anon, stat.cache) });
    return { root, dir, stat: statText };
  }
  return undefined;
}

const hasMembership = ownLayout(1, 1, { anon: 1, cache: 1 }) !== undefined;
if (!hasMembership) console.log('skipping the pool-on-fixture test: /proc/self/cgroup names no cgroup to mirror');

describe('a pool on a fixture root laid out at this process own cgroup path', () => {
  it.skipIf(!hasMembership)('admits on the fast path, refuses above the mark, and does not count page cache as pressure', async () => {
    const layout = ownLayout(4096 * MiB, 100 * MiB, { anon: 90 * MiB, cache: 10 * MiB })!;
    const { root, dir } = layout;
    const usageFile = join(root, dir, existsSync(join(root, dir, 'memory.current')) ? 'memory.current' : 'memory.usage_in_bytes');
    const pool = new GatedPool({ filename: new URL('./fixtures/tasks.mjs', import.meta.url).href, cgroupRoot: root, policy: 'reject', maxThreads: 1 });
    try {
      expect(pool.stats().process).toMatchObject({ source: 'cgroup', limit: 4096 * MiB });
      expect(await pool.run('fast path')).toBe('fast path');
      // No resourceLimits given: each worker gets 0.5 × 4096 MiB / maxThreads (1) = 2048 MiB.
      expect(pool.stats().workers[0]!.limit).toBe(2048 * MiB);
      // Usage above the mark, but almost all of it page cache: still admitted.
      writeFileSync(usageFile, `${4000 * MiB}\n`);
      writeFileSync(join(root, dir, 'memory.stat'), layout.stat(200 * MiB, 3800 * MiB));
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await pool.run('cache is not pressure')).toBe('cache is not pressure');
      // Non-reclaimable memory above the mark: refused, scope process.
      writeFileSync(join(root, dir, 'memory.stat'), layout.stat(3900 * MiB, 100 * MiB));
      await new Promise((resolve) => setTimeout(resolve, 120));
      const refused = await pool.run('too full').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(MemoryPressureError);
      expect((refused as MemoryPressureError).scope).toBe('process');
      expect(pool.stats().counters).toMatchObject({ submitted: 3, settled: 3, completed: 2 });
    } finally {
      await pool.destroy();
    }
  });
});

describe('a cgroup file kept open', () => {
  it('is read whole, however long (a memory.stat past the first buffer is not cut short), and fresh on each read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'heapgate-kept-'));
    try {
      const path = join(dir, 'memory.stat');
      const lines = Array.from({ length: 1500 }, (_, i) => `field_${i} ${i * 4096}`).join('\n');
      writeFileSync(path, lines);
      expect(lines.length).toBeGreaterThan(3 * 8192);
      const file = new KeptOpenFile(path, 64);
      expect(file.read()).toBe(lines);
      writeFileSync(path, 'anon 1\nfile 2\n');
      expect(file.read()).toBe('anon 1\nfile 2\n');
      file.close();
      expect(file.read()).toBe('anon 1\nfile 2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
