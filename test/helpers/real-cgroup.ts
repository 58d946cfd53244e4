// Real memory cgroups for tests: a child of this process's own memory cgroup, with a limit, a
// way to run a fixture inside it, its OOM-kill counter, and removal afterwards even on failure.
// Needs root and a writable memory hierarchy; realCgroupSupport() says why not otherwise.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { locateCgroup, type CgroupLocation } from '../../dist/readings/container.js';

export type Support = { ok: true; location: CgroupLocation } | { ok: false; reason: string };

export function realCgroupSupport(): Support {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  let location: CgroupLocation | undefined;
  try {
    location = locateCgroup('/sys/fs/cgroup', readFileSync('/proc/self/cgroup', 'utf8'));
  } catch (error) {
    return { ok: false, reason: `cannot read this process's cgroup: ${(error as Error).message}` };
  }
  if (!location) return { ok: false, reason: 'no memory cgroup controller under /sys/fs/cgroup' };
  if (location.version === 2) {
    const subtree = readFileSync(join(location.dir, 'cgroup.subtree_control'), 'utf8');
    if (!subtree.split(/\s+/).includes('memory')) return { ok: false, reason: `cgroup v2: memory is not enabled in ${location.dir}/cgroup.subtree_control` };
  }
  try {
    const probe = join(location.dir, `heapgate-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    return { ok: false, reason: `cannot create a child cgroup in ${location.dir}: ${(error as Error).message}` };
  }
  return { ok: true, location };
}

export interface TestCgroup {
  dir: string;
  version: 1 | 2;
  limit: number;
  /** OOM kills the kernel has made in this cgroup. */
  oomKills(): number;
  /** Highest usage seen, bytes. */
  peak(): number | undefined;
}

function keyed(path: string, key: string): number | undefined {
  const line = readFileSync(path, 'utf8').split('\n').find((row) => row.startsWith(`${key} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** Creates a child cgroup with `limit` bytes, runs `use`, then kills what is left in it and removes it. */
export async function withCgroup<T>(location: CgroupLocation, limit: number, use: (cgroup: TestCgroup) => Promise<T>): Promise<T> {
  const dir = join(location.dir, `heapgate-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  const version = location.version;
  try {
    if (version === 1) {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limit));
    } else {
      writeFileSync(join(dir, 'memory.max'), String(limit));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    }
    const cgroup: TestCgroup = {
      dir,
      version,
      limit,
      oomKills: () => (version === 1 ? keyed(join(dir, 'memory.oom_control'), 'oom_kill') : keyed(join(dir, 'memory.events'), 'oom_kill')) ?? 0,
      peak: () => {
        const file = join(dir, version === 1 ? 'memory.max_usage_in_bytes' : 'memory.peak');
        return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
      },
    };
    return await use(cgroup);
  } finally {
    await removeCgroup(dir);
  }
}

async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`could not remove the test cgroup ${dir}`);
}
