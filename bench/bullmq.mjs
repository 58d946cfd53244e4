// Memory-aware consumers (heapgate/bullmq) against plain BullMQ workers on the same burst, side by
// side: N replicas each in its own real memory cgroup (different sizes), the same concurrency (4
// threads each), one queue on a real Redis, a burst of jobs each holding 40 MiB of Buffers for 300 ms.
// Plain workers run each job on a bare Piscina with `concurrency: 4`. Printed and written to
// bench/results/bullmq.json: jobs completed, failed, never finished, OOM kills, seconds, per replica.
// Needs root (cgroups) and a Redis (HEAPGATE_REDIS_URL or redis-server on PATH); skips with the reason otherwise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cgroupSupport } from './lib/cgroup.mjs';
import { startRedis } from './lib/redis.mjs';
import { runReplicas } from './lib/replicas.mjs';

const MiB = 2 ** 20;
const support = cgroupSupport();
const redis = await startRedis();
if (!support.ok || !redis.ok) {
  console.log(`bench/bullmq.mjs skipped: ${support.ok ? redis.reason : support.reason}`);
  process.exit(0);
}
const replicas = [
  { name: 'small', limit: 192 * MiB },
  { name: 'medium', limit: 288 * MiB },
  { name: 'large', limit: 384 * MiB },
];
const jobs = { count: Number(process.env.BULLMQ_JOBS ?? 60), mb: 40, ms: 300, attempts: 3 };
const rounds = Number(process.env.BULLMQ_ROUNDS ?? 2);
const results = { node: process.version, date: new Date().toISOString(), replicas, jobs, threads: 4, rounds: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? ['plain', 'gated'] : ['gated', 'plain']) {
      const run = await runReplicas({ redis, kind, replicas, jobs, threads: 4, location: support.location, timeoutMs: 60_000 });
      const entry = {
        round,
        kind,
        seconds: Number(run.seconds.toFixed(1)),
        completed: run.counts.completed,
        failed: run.counts.failed,
        unfinished: jobs.count - run.counts.completed - run.counts.failed,
        oomKills: run.replicas.reduce((sum, r) => sum + r.oomKills, 0),
        replicasKilled: run.replicas.filter((r) => r.exit.signal === 'SIGKILL').length,
        completedTwice: [...run.completedEvents.values()].filter((n) => n > 1).length,
        perReplica: run.replicas.map((r) => ({ name: r.name, limitMiB: r.limit / MiB, exit: r.exit.signal ?? r.exit.code, oomKills: r.oomKills, completed: r.completedInRedis, handedBack: r.stats?.handedBack ?? 0 })),
      };
      results.rounds.push(entry);
      console.log(`${kind.padEnd(5)} round ${round}: ${entry.completed}/${jobs.count} completed, ${entry.failed} failed, ${entry.unfinished} unfinished, ${entry.oomKills} OOM kills (${entry.replicasKilled} replicas dead) in ${entry.seconds} s; ` +
        entry.perReplica.map((r) => `${r.name} ${r.completed}${r.oomKills ? ' KILLED' : ''}`).join(', '));
    }
  }
} finally {
  await redis.stop();
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/bullmq.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
