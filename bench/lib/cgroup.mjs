// Real memory cgroups for the demo and the benchmarks: a child of this process's own memory
// cgroup with a limit, a way to start a Node script inside it, its OOM-kill counter and peak, and
// removal afterwards (killing whatever is left in it), and its charge read from outside. Needs root
// and a writable hierarchy.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateCgroup } from '../../dist/readings/container.js';

/** `{ ok: true, location }` or `{ ok: false, reason }`. */
export function cgroupSupport() {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  let location;
  try {
    location = locateCgroup('/sys/fs/cgroup', readFileSync('/proc/self/cgroup', 'utf8'));
  } catch (error) {
    return { ok: false, reason: `cannot read this process's cgroup: ${error.message}` };
  }
  if (!location) return { ok: false, reason: 'no memory cgroup controller under /sys/fs/cgroup' };
  if (location.version === 2 && !readFileSync(join(location.dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) {
    return { ok: false, reason: `memory is not enabled in ${location.dir}/cgroup.subtree_control` };
  }
  try {
    const probe = join(location.dir, `heapgate-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    return { ok: false, reason: `cannot create a child cgroup in ${location.dir}: ${error.message}` };
  }
  return { ok: true, location };
}

function keyed(path, key) {
  const line = readFileSync(path, 'utf8').split('\n').find((row) => row.startsWith(`${key} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/** Creates a child cgroup with `limit` bytes. */
export function createCgroup(location, limit, label = 'run') {
  const dir = join(location.dir, `heapgate-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  const v1 = location.version === 1;
  writeFileSync(join(dir, v1 ? 'memory.limit_in_bytes' : 'memory.max'), String(limit));
  if (!v1 && existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
  const stat = join(dir, 'memory.stat');
  return {
    dir,
    limit,
    /** Bytes charged to the cgroup (page cache included). */
    usage: () => Number(readFileSync(join(dir, v1 ? 'memory.usage_in_bytes' : 'memory.current'), 'utf8').trim()),
    /** Anonymous + shared memory: what the kernel cannot reclaim. */
    nonReclaimable: () => (v1 ? keyed(stat, 'total_rss') + keyed(stat, 'total_shmem') : keyed(stat, 'anon') + keyed(stat, 'shmem')),
    oomKills: () => (v1 ? keyed(join(dir, 'memory.oom_control'), 'oom_kill') : keyed(join(dir, 'memory.events'), 'oom_kill')),
    peak: () => {
      const file = join(dir, v1 ? 'memory.max_usage_in_bytes' : 'memory.peak');
      return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
    },
  };
}

/** Kills what is left in the cgroup and removes it (retrying while the kernel lets go). */
export async function removeCgroup(cgroup) {
  for (let attempt = 0; attempt < 50; attempt++) {
    for (const pid of readFileSync(join(cgroup.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(cgroup.dir);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`could not remove the cgroup ${cgroup.dir}`);
}

/** Starts `node script ...args`, inside `cgroupDir` when given (a shell joins it, then becomes Node). */
export function spawnNode(script, args, cgroupDir, env = process.env) {
  const command = [process.execPath, script, ...args];
  const options = { stdio: ['ignore', 'pipe', 'pipe'], env };
  return cgroupDir === undefined
    ? spawn(command[0], command.slice(1), options)
    : spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroupDir, ...command], options);
}
