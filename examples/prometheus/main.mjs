// Prometheus metrics for a pool: `node examples/prometheus/main.mjs`.
// Registers the pool's metrics in a prom-client registry, serves them on /metrics with plain
// node:http, runs some work (a few tasks wait for a worker, one fails), and scrapes itself.
import { createServer } from 'node:http';
import { Registry } from 'prom-client';
import { GatedPool } from 'heapgate';
import { registerMetrics } from 'heapgate/prometheus';

const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 2 });
const registry = new Registry();
registerMetrics(pool, { registry, labels: { pool: 'example' } });

const server = createServer(async (request, response) => {
  if (request.url !== '/metrics') return response.writeHead(404).end();
  response.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/metrics`;

await Promise.allSettled([...Array.from({ length: 10 }, (_, i) => pool.run(20 + i, { name: 'wait' })), pool.run('no such input', { name: 'fail' })]);
const text = await (await fetch(url)).text();
for (const line of text.split('\n')) {
  if (/^heapgate_(tasks_settled_total|tasks_held_total|held_seconds_count|workers|memory_used_bytes)\b/.test(line)) console.log(line);
}
server.close();
await pool.close();
const settled = /heapgate_tasks_settled_total\{outcome="completed",pool="example"\} (\d+)/.exec(text);
console.log(JSON.stringify({ scraped: text.split('\n').filter((line) => line && !line.startsWith('#')).length, completed: Number(settled?.[1]) }));
