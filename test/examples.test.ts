// Every example runs to completion as a user would run it (`node examples/<name>/main.mjs`, which
// imports 'heapgate' by its package name), and prints what its header says it shows.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../bench/lib/redis.mjs';

async function runExample(name: string, file = 'main.mjs', env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string; last: Record<string, unknown> }> {
  const main = fileURLToPath(new URL(`../examples/${name}/${file}`, import.meta.url));
  const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  console.log(`examples/${name}:\n${stdout}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return { code, stdout, stderr, last: line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : {} };
}

describe('examples', () => {
  it('images: large typed arrays with a declared need; the process limit decides how many run at once', async () => {
    const run = await runExample('images');
    expect(run.code, run.stderr).toBe(0);
    expect(run.last).toMatchObject({ completed: 12, crashed: 0 });
    expect(run.stdout).toMatch(/ran at once on 4 threads/);
  }, 130_000);

  it('json-ingest: nothing declared; the need is learned from measured runs', async () => {
    const run = await runExample('json-ingest');
    expect(run.code, run.stderr).toBe(0);
    expect(run.last).toMatchObject({ completed: 16, crashed: 0 });
    expect(run.last.samples).toBeGreaterThanOrEqual(1);
    expect(run.last.learnedHeapMiB).toBeGreaterThan(0);
  }, 130_000);

  it('http-server: a Fastify service under a load generator, 200s turn into 503s and back', async () => {
    const run = await runExample('http-server');
    expect(run.code, run.stderr).toBe(0);
    const phases = run.last.phases as { name: string; statuses: Record<string, number> }[];
    expect(phases.map((phase) => phase.name)).toEqual(['calm', 'burst', 'calm']);
    expect(phases[0]?.statuses).toEqual({ 200: 4 });
    expect(phases[1]?.statuses[503]).toBeGreaterThan(0);
    expect(phases[1]?.statuses[200]).toBeGreaterThan(0);
    expect(phases[2]?.statuses).toEqual({ 200: 4 });
    expect(run.stdout).toMatch(/Retry-After: 2s/);
    expect(run.last.crashed).toBe(0);
  }, 130_000);

  it('http-server/plain-node: the same mapping by hand with node:http (503 + Retry-After, 413, readiness)', async () => {
    const run = await runExample('http-server', 'plain-node.mjs');
    expect(run.code, run.stderr).toBe(0);
    expect(run.last).toEqual({ render: { status: 503, retryAfter: '1', code: 'ERR_MEMORY_PRESSURE' }, huge: { status: 413, retryAfter: null, code: 'ERR_TASK_TOO_LARGE' }, ready: { status: 503, retryAfter: null } });
  }, 130_000);

  it('prometheus: the pool scraped on /metrics by plain node:http', async () => {
    const run = await runExample('prometheus');
    expect(run.code, run.stderr).toBe(0);
    expect(run.last).toMatchObject({ completed: 10 });
    expect(run.stdout).toMatch(/heapgate_tasks_settled_total\{outcome="failed",pool="example"\} 1/);
    // Every hold is in the histogram: its count equals the held counter's total (how many were held depends on timing).
    const heldTotal = [...run.stdout.matchAll(/^heapgate_tasks_held_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(heldTotal).toBeGreaterThan(0);
    expect(run.stdout).toMatch(new RegExp(`heapgate_held_seconds_count\\{pool="example"\\} ${heldTotal}\\b`));
  }, 130_000);

  describe('bullmq', () => {
    let redis: RedisHandle = { ok: false, reason: 'not started' };
    beforeAll(async () => {
      redis = await startRedis();
      if (!redis.ok) console.log(`examples/bullmq skipped: ${redis.reason}`);
    }, 20_000);
    afterAll(async () => {
      if (redis.ok) await redis.stop();
    });

    it('two replicas of different memory share a queue; the smaller takes fewer, nothing lost', async (context) => {
      if (!redis.ok) return context.skip();
      const run = await runExample('bullmq', 'main.mjs', { ...process.env, REDIS_URL: `redis://${redis.host}:${redis.port}` });
      expect(run.code, run.stderr).toBe(0);
      expect(run.last).toMatchObject({ completed: 24, failed: 0 });
      const byReplica = run.last.byReplica as { small: number; large: number };
      expect(byReplica.small + byReplica.large).toBe(24);
      expect(byReplica.small).toBeLessThan(byReplica.large);
    }, 130_000);
  });
});
