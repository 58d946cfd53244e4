// One replica of a service consuming a BullMQ queue through heapgate: run as many as you like,
// each with its own memory (in Kubernetes, each pod's memory limit; here MEMORY_MB stands in for it).
//   REDIS_URL=redis://127.0.0.1:6379 MEMORY_MB=256 node examples/bullmq/replica.mjs
// It takes a job only while its pool has room for it; SIGTERM closes it cleanly.
import { GatedPool } from 'heapgate';
import { GatedConsumer } from 'heapgate/bullmq';

const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const name = process.env.REPLICA ?? `replica-${process.pid}`;
const memoryLimit = process.env.MEMORY_MB ? Number(process.env.MEMORY_MB) * 2 ** 20 : undefined;

// In a container, leave memoryLimit out: the pool reads the cgroup's limit itself.
const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 4, ...(memoryLimit ? { memoryLimit } : {}) });
const consumer = new GatedConsumer({
  queue: 'reports',
  pool,
  worker: {
    connection: { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null },
    name,
    // A replica that dies holding jobs: after lockDuration its locks lapse, and the stalled-job
    // checker of another replica (every stalledInterval) puts them back in the queue.
    lockDuration: 10_000,
    stalledInterval: 5_000,
  },
  // The job's declared need (a report of `mb` MiB holds about that much off-heap).
  task: (job) => ({ input: job.data, name: 'report', memory: { external: job.data.mb * 2 ** 20 } }),
});
consumer.on('error', (error) => console.error(`${name}: ${error.message}`));
await consumer.start();
process.send?.({ ready: name });

process.once('SIGTERM', async () => {
  await consumer.close();
  await pool.close();
  process.send?.({ stats: { name, ...consumer.stats() } });
  process.disconnect?.();
});
