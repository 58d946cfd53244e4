// Consumer replicas against one BullMQ queue on a real Redis, for the tests and the benchmark:
// each replica (test/fixtures/bullmq/replica.mjs) in its own process — inside its own memory
// cgroup when `location` is given — a burst of jobs queued, optionally one replica SIGKILLed
// mid-run, and everything read back: per replica what it did, how it ended, and in Redis which
// replica completed each job and how many times each job was completed.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { createCgroup, removeCgroup, spawnNode } from './cgroup.mjs';

const script = fileURLToPath(new URL('../../test/fixtures/bullmq/replica.mjs', import.meta.url));

/**
 * @param {{ redis: { host: string, port: number }, kind: 'gated' | 'plain', replicas: { name: string, limit: number }[],
 *   jobs: { count: number, mb: number, ms: number, attempts?: number }, threads: number, location?: object,
 *   kill?: { name: string, afterCompleted: number }, timeoutMs?: number }} run
 */
export async function runReplicas({ redis, kind, replicas, jobs, threads, location, kill, timeoutMs = 90_000 }) {
  const connection = { host: redis.host, port: redis.port, maxRetriesPerRequest: null };
  const queueName = `heapgate-${kind}-${process.pid}-${Date.now()}`;
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  const completedEvents = new Map();
  events.on('completed', ({ jobId }) => completedEvents.set(jobId, (completedEvents.get(jobId) ?? 0) + 1));
  const stalled = new Set();
  events.on('stalled', ({ jobId }) => stalled.add(jobId));
  await events.waitUntilReady();
  const started = performance.now();
  const running = replicas.map((replica) => {
    const cgroup = location ? createCgroup(location, replica.limit, `bullmq-${replica.name}`) : undefined;
    const config = { kind, queue: queueName, host: redis.host, port: redis.port, name: replica.name, threads, lockDuration: 2000, stalledInterval: 1000, ...(cgroup ? {} : { memoryLimit: replica.limit }) };
    const child = spawnNode(script, [JSON.stringify(config)], cgroup?.dir);
    const state = { ...replica, cgroup, child, ready: undefined, stats: undefined, completedSeen: 0, exit: undefined, stderr: '', killed: false };
    state.ready = new Promise((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const message = JSON.parse(line);
        if (message.type === 'ready') resolve(true);
        else if (message.type === 'completed') state.completedSeen++;
        else if (message.type === 'stats') state.stats = message;
      });
      child.stderr.on('data', (chunk) => (state.stderr = (state.stderr + chunk).slice(-4000)));
      state.exited = new Promise((done) => child.on('close', (code, signal) => {
        state.exit = { code, signal };
        resolve(false);
        done();
      }));
    });
    return state;
  });
  try {
    const ready = await Promise.all(running.map((r) => r.ready));
    if (ready.includes(false)) throw new Error(`a replica ended before it was ready: ${running.map((r) => `${r.name}: ${JSON.stringify(r.exit)} ${r.stderr}`).join('; ')}`);
    await queue.addBulk(Array.from({ length: jobs.count }, (_, i) => ({
      name: 'buffers',
      data: { mb: jobs.mb, ms: jobs.ms, memory: { external: jobs.mb * 2 ** 20 }, index: i },
      opts: { attempts: jobs.attempts ?? 3, removeOnComplete: false, removeOnFail: false },
    })));
    let counts;
    for (;;) {
      counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed');
      if (counts.completed + counts.failed >= jobs.count) break;
      if (running.every((r) => r.exit !== undefined)) break;
      if (performance.now() - started > timeoutMs) break;
      if (kill && !running.find((r) => r.name === kill.name).killed && counts.completed >= kill.afterCompleted) {
        const victim = running.find((r) => r.name === kill.name);
        victim.killed = true;
        victim.child.kill('SIGKILL');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    for (const r of running) if (r.exit === undefined) r.child.kill('SIGTERM');
    await Promise.all(running.map((r) => r.exited));
    const byReplica = {};
    for (const job of await queue.getJobs(['completed'], 0, -1)) byReplica[job.processedBy ?? '?'] = (byReplica[job.processedBy ?? '?'] ?? 0) + 1;
    // QueueEvents are streamed: give the last ones a moment to arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    return {
      seconds,
      counts,
      completedEvents,
      stalled: stalled.size,
      replicas: running.map((r) => ({
        name: r.name,
        limit: r.limit,
        killedByTest: r.killed,
        exit: r.exit,
        oomKills: r.cgroup ? r.cgroup.oomKills() : 0,
        stats: r.stats,
        completedSeen: r.completedSeen,
        completedInRedis: byReplica[r.name] ?? 0,
        stderr: r.stderr,
      })),
    };
  } finally {
    for (const r of running) if (r.exit === undefined) r.child.kill('SIGKILL');
    await Promise.all(running.map((r) => r.exited));
    for (const r of running) if (r.cgroup) await removeCgroup(r.cgroup);
    await queue.obliterate({ force: true }).catch(() => {});
    await events.close();
    await queue.close();
  }
}
