// Real memory cgroups for tests, from the benchmarks' library (bench/lib/cgroup.mjs): a child of
// this process's own memory cgroup with a limit, removed afterwards even on failure.
import { cgroupSupport, createCgroup, removeCgroup, type CgroupHandle, type Support } from '../../bench/lib/cgroup.mjs';
import type { CgroupLocation } from '../../dist/readings/container.js';

export type TestCgroup = CgroupHandle;

/** Whether real cgroup tests can run here, and why not. */
export function realCgroupSupport(): Support {
  return cgroupSupport();
}

/** Creates a child cgroup with `limit` bytes, runs `use`, then kills what is left in it and removes it. */
export async function withCgroup<T>(location: CgroupLocation, limit: number, use: (cgroup: TestCgroup) => Promise<T>): Promise<T> {
  const cgroup = createCgroup(location, limit, 'test');
  try {
    return await use(cgroup);
  } finally {
    await removeCgroup(cgroup);
  }
}
