// The same mapping by hand, with plain node:http: `node examples/http-server/plain-node.mjs`.
// heapgate's errors are told apart by `code`: 503 + Retry-After when the work may fit later, 413
// when it never will. `readiness(pool)` answers the readiness route (it needs no Fastify).
// The pool here is given a 64 MiB process limit, below what Node itself uses, so every render is
// refused: the answers show the mapping.
import { createServer } from 'node:http';
import { GatedPool } from 'heapgate';
import { readiness } from 'heapgate/fastify';

const RETRY = new Set(['ERR_MEMORY_PRESSURE', 'ERR_QUEUE_FULL', 'ERR_WAIT_TIMEOUT', 'ERR_POOL_CLOSED']);
const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 2, policy: 'reject', memoryLimit: 64 * 2 ** 20 });

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname === '/ready') {
    const state = readiness(pool);
    return send(response, state.ready ? 200 : 503, state);
  }
  try {
    const size = Number(url.searchParams.get('size') ?? 512);
    send(response, 200, await pool.run({ size, seed: 1 }, { name: 'render', memory: { external: size * size * 4 } }));
  } catch (error) {
    if (RETRY.has(error.code)) send(response, 503, { code: error.code, message: error.message }, { 'retry-after': String(Math.ceil((error.retryAfterMs ?? 1000) / 1000)) });
    else if (error.code === 'ERR_TASK_TOO_LARGE') send(response, 413, { code: error.code, message: error.message });
    else send(response, 500, { message: error.message });
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const seen = {};
for (const [name, path] of [['render', '/render'], ['huge', '/render?size=8192'], ['ready', '/ready']]) {
  const response = await fetch(base + path);
  seen[name] = { status: response.status, retryAfter: response.headers.get('retry-after'), code: (await response.json()).code };
  console.log(`GET ${path} → ${response.status}${seen[name].retryAfter ? ` Retry-After: ${seen[name].retryAfter}` : ''} ${seen[name].code ?? ''}`);
}
server.close();
await pool.close();
console.log(JSON.stringify(seen));
