// A Redis for the BullMQ tests and benchmark: the one named by HEAPGATE_REDIS_URL (`.ci/run`
// starts one), else a private `redis-server` started on a free port (no persistence), stopped by
// `stop()`. `{ ok: false, reason }` when neither is possible.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';

/** A free TCP port on localhost. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `host:port` answers PING with PONG, or rejects after `ms`. */
async function answers(host, port, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, host);
      let text = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\r\n')) socket.end();
      });
      socket.on('close', () => resolve(text.startsWith('+PONG')));
      socket.on('error', () => {});
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no Redis answered on ${host}:${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `{ ok: true, host, port, stop }` or `{ ok: false, reason }`. */
export async function startRedis() {
  const url = process.env.HEAPGATE_REDIS_URL;
  if (url) {
    const { hostname, port } = new URL(url);
    const host = hostname || '127.0.0.1';
    const portNumber = Number(port || 6379);
    try {
      await answers(host, portNumber, 2000);
    } catch (error) {
      return { ok: false, reason: `HEAPGATE_REDIS_URL=${url}: ${error.message}` };
    }
    return { ok: true, host, port: portNumber, stop: async () => {} };
  }
  if (spawnSync('redis-server', ['--version']).error) return { ok: false, reason: "no redis-server on PATH (Debian: apt-get install redis-server) and no HEAPGATE_REDIS_URL" };
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    await answers('127.0.0.1', port, 5000);
  } catch (error) {
    server.kill('SIGKILL');
    return { ok: false, reason: `redis-server did not start: ${error.message}` };
  }
  return {
    ok: true,
    host: '127.0.0.1',
    port,
    stop: async () => {
      server.kill('SIGTERM');
      await exited;
    },
  };
}
