// Types for replicas.mjs (used from the TypeScript tests).
import type { CgroupLocation } from '../../dist/readings/container.js';
import type { ConsumerStats } from '../../dist/integrations/bullmq.js';

export interface ReplicaOutcome {
  name: string;
  limit: number;
  killedByTest: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  oomKills: number;
  stats: ConsumerStats | undefined;
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
