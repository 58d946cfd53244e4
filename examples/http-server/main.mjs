// An HTTP service on heapgate: `node examples/http-server/main.mjs`.
// A Fastify server renders images in worker threads (4096 × 4096 RGBA: 64 MiB off-heap each,
// declared); heapgate's plugin answers 503 with Retry-After when a render would not fit, and a
// readiness route says so to the load balancer. The process gets a limit of 384 MiB (in a
// container, leave `memoryLimit` out: the cgroup's limit is read), room for two or three renders
// at once. A load generator then sends one request at a time, a burst, and one at a time again:
// 200s turn into 503s and back.
import Fastify from 'fastify';
import { GatedPool } from 'heapgate';
import { heapgate } from 'heapgate/fastify';
import { generateLoad } from './load.mjs';

const MiB = 2 ** 20;
const pool = new GatedPool({
  filename: new URL('./tasks.mjs', import.meta.url).href,
  maxThreads: 4,
  policy: 'reject',
  retryAfterMs: 2000,
  memoryLimit: 384 * MiB,
});

const app = Fastify();
await app.register(heapgate, { pool, readiness: { path: '/ready' } });
app.get('/render', async (request) => {
  const size = Number(request.query.size ?? 4096);
  return pool.run({ size, seed: Number(request.query.seed ?? 1) }, { name: 'render', memory: { external: size * size * 4 } });
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`listening on ${address}; process limit ${Math.round(pool.stats().process.limit / MiB)} MiB`);

const phases = await generateLoad(address);
const { counters } = pool.stats();
await app.close();
await pool.close();
console.log(JSON.stringify({ phases: phases.map(({ name, statuses, readiness }) => ({ name, statuses, readiness })), completed: counters.completed, refused: counters.rejected.pressure, crashed: counters.crashed }));
