// heapgate/bullmq against a real Redis (HEAPGATE_REDIS_URL, or a redis-server started here):
// three consumer replicas of different memory — each in its own real memory cgroup when this
// process can make them, else with a different `memoryLimit` — take a burst of memory-heavy jobs
// from one queue. Every job completes exactly once, nothing dies of memory, and the smaller
// replicas take fewer jobs. Then the same with the largest replica SIGKILLed mid-run: BullMQ's
// stalled-job checker gives its jobs to the others; a job that finished is not run again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../bench/lib/redis.mjs';
import { runReplicas, type ReplicasRun } from '../bench/lib/replicas.mjs';
import { realCgroupSupport } from './helpers/real-cgroup.js';

const MiB = 2 ** 20;
const support = realCgroupSupport();
const replicas = [
  { name: 'small', limit: 192 * MiB },
  { name: 'medium', limit: 288 * MiB },
  { name: 'large', limit: 384 * MiB },
];
const jobs = { count: 48, mb: 40, ms: 300 };

let redis: RedisHandle = { ok: false, reason: 'not started' };
beforeAll(async () => {
  redis = await startRedis();
  if (!redis.ok) console.log(`heapgate/bullmq tests skipped: ${redis.reason}`);
  if (!support.ok) console.log(`heapgate/bullmq: no real cgroups (${support.reason}); replicas differ by memoryLimit instead`);
}, 20_000);
afterAll(async () => {
  if (redis.ok) await redis.stop();
});

function print(title: string, run: ReplicasRun): void {
  console.log(`${title}: ${run.counts.completed} completed, ${run.counts.failed} failed, ${run.stalled} stalled in ${run.seconds.toFixed(1)} s`);
  for (const r of run.replicas) {
    const s = r.stats;
    const ended = r.killedByTest ? 'SIGKILLed by the test' : `exit ${r.exit.code ?? r.exit.signal}`;
    console.log(`  ${r.name.padEnd(7)} ${Math.round(r.limit / MiB)} MiB: ${ended}, oom kills ${r.oomKills}; ` +
      (s ? `taken ${s.taken}, completed ${s.completed}, handed back ${s.handedBack}, failed ${JSON.stringify(s.failed)}, lost lock ${s.lostLock}` : `completed before the kill ${r.completedSeen}`) +
      `; completed in Redis ${r.completedInRedis}`);
  }
}

function expectEveryJobCompletedOnce(run: ReplicasRun): void {
  expect(run.counts.completed).toBe(jobs.count);
  expect(run.counts.failed).toBe(0);
  // Each job completed exactly once (Redis's own completion events, one per move to completed).
  expect(run.completedEvents.size).toBe(jobs.count);
  for (const [id, times] of run.completedEvents) expect(times, `job ${id}`).toBe(1);
  // Which replica completed each job, from Redis, adds up to the jobs queued.
  expect(run.replicas.reduce((sum, r) => sum + r.completedInRedis, 0)).toBe(jobs.count);
}

describe('heapgate/bullmq on a real Redis', () => {
  it('three replicas of different memory: every job once, no OOM death, the smaller take fewer', async (context) => {
    if (!redis.ok) return context.skip();
    const run = await runReplicas({ redis, kind: 'gated', replicas, jobs, threads: 4, location: support.ok ? support.location : undefined });
    print('three replicas', run);
    expectEveryJobCompletedOnce(run);
    for (const r of run.replicas) {
      expect(r.oomKills, r.name).toBe(0);
      expect(r.exit.code, `${r.name}: ${r.stderr}`).toBe(0);
      expect(r.stats, r.name).toBeDefined();
      // What each replica says it did adds up: taken = completed + handed back + failed.
      const s = r.stats!;
      expect(s.taken).toBe(s.completed + s.handedBack + Object.values(s.failed).reduce((a, b) => a + b, 0) + s.lostLock);
      expect(s.completed).toBe(r.completedInRedis);
      expect(s.failed).toEqual({});
    }
    const [small, , large] = run.replicas;
    expect(small!.completedInRedis).toBeLessThan(large!.completedInRedis);
  }, 150_000);

  it('a replica SIGKILLed mid-run: its jobs go to the others, none lost, none finished twice', async (context) => {
    if (!redis.ok) return context.skip();
    const run = await runReplicas({ redis, kind: 'gated', replicas, jobs, threads: 4, location: support.ok ? support.location : undefined, kill: { name: 'large', afterCompleted: 12 } });
    print('one replica killed', run);
    expectEveryJobCompletedOnce(run);
    const killed = run.replicas.find((r) => r.killedByTest)!;
    expect(killed.exit.signal).toBe('SIGKILL');
    // It died holding jobs, and the stalled-job checker gave them back to the queue.
    expect(run.stalled).toBeGreaterThan(0);
    for (const r of run.replicas.filter((replica) => !replica.killedByTest)) {
      expect(r.oomKills, r.name).toBe(0);
      expect(r.exit.code, `${r.name}: ${r.stderr}`).toBe(0);
      expect(r.stats!.completed).toBe(r.completedInRedis);
    }
  }, 150_000);
});
