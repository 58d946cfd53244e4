// Types for cgroup.mjs (used from the TypeScript tests).
import type { ChildProcess } from 'node:child_process';
import type { CgroupLocation } from '../../dist/readings/container.js';

export type Support = { ok: true; location: CgroupLocation } | { ok: false; reason: string };

export interface CgroupHandle {
  dir: string;
  limit: number;
  /** Bytes charged to the cgroup (page cache included). */
  usage(): number;
  /** Anonymous + shared memory: what the kernel cannot reclaim. */
  nonReclaimable(): number;
  /** OOM kills the kernel has made in this cgroup. */
  oomKills(): number;
  /** Highest usage seen, bytes, where the kernel reports it. */
  peak(): number | undefined;
}

export function cgroupSupport(): Support;
export function createCgroup(location: CgroupLocation, limit: number, label?: string): CgroupHandle;
export function removeCgroup(cgroup: CgroupHandle): Promise<void>;
export function spawnNode(script: string, args: string[], cgroupDir?: string, env?: NodeJS.ProcessEnv): ChildProcess;
