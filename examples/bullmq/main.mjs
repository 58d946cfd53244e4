// Two replicas of different memory share one BullMQ queue: `node examples/bullmq/main.mjs`
// (a Redis on REDIS_URL, default redis://127.0.0.1:6379). It starts the replicas (replica.mjs,
// 192 MiB and 384 MiB), queues 24 report jobs of 40 MiB each, waits until all are done, and prints
// what each replica did: the smaller one takes fewer, nobody runs out of memory, nothing is lost.
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { Queue } from 'bullmq';

const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null };
// Without a Redis there is nothing to show: say so rather than retry forever (a PING must get PONG).
const reachable = await new Promise((resolve) => {
  const socket = connect(connection.port, connection.host, () => socket.write('PING\r\n'));
  socket.setTimeout(2000, () => socket.destroy());
  socket.on('data', (chunk) => {
    resolve(String(chunk).startsWith('+PONG'));
    socket.end();
  });
  socket.on('error', () => resolve(false));
  socket.on('close', () => resolve(false));
});
if (!reachable) {
  console.error(`no Redis at ${redis.href}: start one (e.g. redis-server) or set REDIS_URL`);
  process.exit(1);
}
const queue = new Queue('reports', { connection });
await queue.obliterate({ force: true });

const replicas = [
  { REPLICA: 'small', MEMORY_MB: '192' },
  { REPLICA: 'large', MEMORY_MB: '384' },
].map((env) => fork(new URL('./replica.mjs', import.meta.url), { env: { ...process.env, ...env } }));
await Promise.all(replicas.map((child) => new Promise((resolve) => child.once('message', resolve))));

const count = 24;
await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'report', data: { id: i, mb: 40, ms: 300 }, opts: { attempts: 3 } })));
let counts;
do {
  await new Promise((resolve) => setTimeout(resolve, 200));
  counts = await queue.getJobCounts('completed', 'failed');
} while (counts.completed + counts.failed < count);

const stats = await Promise.all(replicas.map((child) => new Promise((resolve) => {
  child.on('message', (message) => message.stats && resolve(message.stats));
  child.kill('SIGTERM');
})));
for (const s of stats) console.log(`${s.name}: took ${s.taken}, completed ${s.completed}, handed back ${s.handedBack}, failed ${JSON.stringify(s.failed)}`);
await queue.obliterate({ force: true });
await queue.close();
console.log(JSON.stringify({ completed: counts.completed, failed: counts.failed, byReplica: Object.fromEntries(stats.map((s) => [s.name, s.completed])) }));
