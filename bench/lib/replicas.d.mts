// Types for replicas.mjs (used from the TypeScript tests).
import type { CgroupLocation } from '../../dist/readings/container.js';

export interface ReplicaStats {
  taken: number;
  completed: number;
  handedBack: number;
  failed: Record<string, number>;
  lostLock: number;
  inFlight: number;
}

export interface ReplicaOutcome {
  name: string;
  limit: number;
  killedByTest: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  oomKills: number;
  stats: ReplicaStats | undefined;
  completedSeen: number;
  completedInRedis: number;
  stderr: string;
}

export interface ReplicasRun {
  seconds: number;
  counts: Record<string, number>;
  completedEvents: Map<string, number>;
  /** Jobs BullMQ's stalled-job checker moved back to wait (a replica died holding them). */
  stalled: number;
  replicas: ReplicaOutcome[];
}

export function runReplicas(run: {
  redis: { host: string; port: number };
  kind: 'gated' | 'plain';
  replicas: { name: string; limit: number }[];
  jobs: { count: number; mb: number; ms: number; attempts?: number };
  threads: number;
  location?: CgroupLocation;
  kill?: { name: string; afterCompleted: number };
  timeoutMs?: number;
}): Promise<ReplicasRun>;
