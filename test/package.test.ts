// The package as a user gets it: `npm pack`, installed into an empty project, run from an ES module
// script and a CommonJS script (both at once in one process too), and type-checked with `tsc` from
// both; and on a Node older than 22, a clear error at import and at require.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** A `node` on PATH older than 22 (outside this project's own), or `undefined`. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    const major = Number(/^v(\d+)\./.exec(version)?.[1]);
    if (major > 0 && major < 22) return candidate;
  }
  return undefined;
}

describe('the published package', () => {
  it('packs, installs into an empty project, runs from ESM and CommonJS and type-checks both', { timeout: 120_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), 'heapgate-pack-'));
    // `npm test` built dist already; `prepack` (the build) is skipped so no other test sees dist rewritten.
    execFileSync(npm, ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const listing = execFileSync('tar', ['-tzf', join(work, tarball as string)], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('package/dist/index.js');
    // One build's chunks only: a stale hashed chunk of an earlier build is not shipped.
    const chunks = new Map<string, number>();
    for (const file of listing) {
      const chunk = /^package\/dist\/([a-z-]+?)-[A-Za-z0-9_-]{8}\.d\.cts$/.exec(file)?.[1];
      if (chunk !== undefined) chunks.set(chunk, (chunks.get(chunk) ?? 0) + 1);
    }
    expect(chunks.size).toBeGreaterThan(0);
    expect([...chunks.values()].every((count) => count === 1)).toBe(true);
    expect(listing).toContain('package/dist/worker/entry.cjs');
    expect(listing).toContain('package/dist/index.cjs');
    expect(listing).toContain('package/dist/index.d.cts');
    expect(listing).toContain('package/dist/admission/gate.cjs');
    expect(listing).toContain('package/dist/integrations/prometheus.cjs');
    expect(listing).toContain('package/dist/integrations/fastify.d.ts');
    expect(listing).toContain('package/dist/integrations/bullmq.cjs');
    expect(listing).toContain('package/LICENSE');
    expect(listing.some((file) => file.startsWith('package/src/') || file.startsWith('package/test/'))).toBe(false);

    const project = join(work, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
    execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball as string)], { cwd: project, stdio: 'pipe' });

    writeFileSync(join(project, 'tasks.mjs'), 'export function double(n) { return n * 2; }\n');
    writeFileSync(
      join(project, 'main.mjs'),
      [
        "import { GatedPool, MemoryPressureError } from 'heapgate';",
        "import { decide } from 'heapgate/gate';",
        "import { move, isWorkerThread } from 'heapgate';",
        "if (typeof move !== 'function' || isWorkerThread !== false) throw new Error('Piscina helpers missing');",
        "const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 1 });",
        "const out = await pool.run(21, { name: 'double' });",
        'await pool.close();',
        "console.log(JSON.stringify({ out, error: typeof MemoryPressureError, decide: typeof decide }));",
      ].join('\n'),
    );
    const ran = execFileSync(process.execPath, ['main.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(ran.trim().split('\n').at(-1) as string)).toEqual({ out: 42, error: 'function', decide: 'function' });

    // CommonJS: require() of the package and its subpath; then the ES module build in the same
    // process, two pools at once (the builds are two copies of the code: they must not collide).
    writeFileSync(
      join(project, 'main.cjs'),
      [
        "const { GatedPool, MemoryPressureError, move } = require('heapgate');",
        "const { decide } = require('heapgate/gate');",
        "const path = require('node:path');",
        'async function main() {',
        "  const filename = path.join(__dirname, 'tasks.mjs');",
        '  const fromRequire = new GatedPool({ filename, maxThreads: 1, minThreads: 0, idleTimeout: 60_000 });',
        "  const esm = await import('heapgate');",
        '  const fromImport = new esm.GatedPool({ filename, maxThreads: 1, minThreads: 0, idleTimeout: 60_000 });',
        "  const outs = await Promise.all([fromRequire.run(21, { name: 'double' }), fromImport.run(5, { name: 'double' }), fromRequire.run(1, { name: 'double' }), fromImport.run(2, { name: 'double' })]);",
        // Each pool's workers published their readings on that pool's own board.
        '  const published = [fromRequire, fromImport].map((pool) => pool.stats().workers.length > 0 && pool.stats().workers.every((worker) => worker.updatedAt > 0));',
        '  await Promise.all([fromRequire.close(), fromImport.close()]);',
        "  console.log(JSON.stringify({ outs, published, error: typeof MemoryPressureError, decide: typeof decide, move: typeof move }));",
        '}',
        'main().catch((error) => { console.error(error); process.exit(1); });',
      ].join('\n'),
    );
    const required = execFileSync(process.execPath, ['main.cjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(required.trim().split('\n').at(-1) as string)).toEqual({ outs: [42, 10, 2, 4], published: [true, true], error: 'function', decide: 'function', move: 'function' });

    writeFileSync(
      join(project, 'main.cts'),
      [
        "import { GatedPool, QueueClearedError, type RunOptions } from 'heapgate';",
        "import { decide } from 'heapgate/gate';",
        "const pool = new GatedPool<number, number>({ filename: __dirname + '/tasks.mjs', maxThreads: 1 });",
        "const options: RunOptions = { name: 'double', priority: 1 };",
        'const out: Promise<number> = pool.run(21, options);',
        'export const used = [out, decide, QueueClearedError, pool.size];',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'main.ts'),
      [
        "import { GatedPool, MemoryPressureError, type PoolStats, type RunOptions } from 'heapgate';",
        "import { decide, type GateInput } from 'heapgate/gate';",
        "const pool = new GatedPool<number, number>({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 1, policy: 'reject' });",
        "const options: RunOptions = { name: 'double', memory: { heap: 1024, external: 0 } };",
        'const out: Promise<number> = pool.run(21, options);',
        'const stats: PoolStats = pool.stats();',
        'const input = undefined as unknown as GateInput;',
        // Code typed for Piscina compiles unchanged: `any` by default, and its run options' nulls.
        "export const asPiscina: Pick<import('piscina').Piscina, 'run'> = new GatedPool();",
        'export async function piscinaStyle(untyped: GatedPool): Promise<number> {',
        "  const n: number = await untyped.run({ a: 1 }, { name: 'double' });",
        '  await untyped.run(1, { name: null, signal: null, filename: null });',
        '  return n;',
        '}',
        'export const used = [out, stats.held, decide, input, MemoryPressureError];',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
        files: ['main.ts', 'main.cts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);

    // The optional peers: everything above ran without them; with them installed, the subpaths
    // load from both builds and type-check.
    execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', 'prom-client@15', 'fastify@5', 'bullmq@6', 'ioredis@5'], { cwd: project, stdio: 'pipe' });
    writeFileSync(
      join(project, 'integrations.mjs'),
      [
        "import { registerMetrics } from 'heapgate/prometheus';",
        "import { heapgate, readiness } from 'heapgate/fastify';",
        "import { GatedPool } from 'heapgate';",
        "import { Registry } from 'prom-client';",
        "import Fastify from 'fastify';",
        "const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href, maxThreads: 1 });",
        'const registry = new Registry();',
        'registerMetrics(pool, { registry });',
        'const app = Fastify();',
        'await app.register(heapgate, { pool, readiness: true });',
        "const ready = await app.inject({ method: 'GET', url: '/ready' });",
        "const scraped = (await registry.metrics()).includes('heapgate_tasks_submitted_total');",
        'await app.close();',
        'await pool.close();',
        'console.log(JSON.stringify({ status: ready.statusCode, scraped, readiness: readiness(pool).ready }));',
      ].join('\n'),
    );
    const integrated = execFileSync(process.execPath, ['integrations.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(integrated.trim().split('\n').at(-1) as string)).toEqual({ status: 200, scraped: true, readiness: false });
    const requiredIntegrations = execFileSync(process.execPath, ['-e', "const p = require('heapgate/prometheus'); const f = require('heapgate/fastify'); const b = require('heapgate/bullmq'); console.log(typeof p.registerMetrics, typeof f.heapgate, typeof f.default, typeof b.GatedConsumer)"], { cwd: project, encoding: 'utf8' });
    expect(requiredIntegrations.trim()).toBe('function function function function');
    writeFileSync(
      join(project, 'integrations.ts'),
      [
        "import { GatedPool } from 'heapgate';",
        "import { registerMetrics, type PrometheusOptions } from 'heapgate/prometheus';",
        "import { heapgate, type HeapgateFastifyOptions } from 'heapgate/fastify';",
        "import { GatedConsumer, type GatedConsumerOptions } from 'heapgate/bullmq';",
        "import Fastify from 'fastify';",
        "const pool = new GatedPool({ filename: new URL('./tasks.mjs', import.meta.url).href });",
        "const consumerOptions: GatedConsumerOptions = { queue: 'jobs', pool, worker: { connection: { host: '127.0.0.1', port: 6379 } }, task: (job) => ({ input: job.data, name: job.name }) };",
        'export const consumer = new GatedConsumer(consumerOptions);',
        "const options: PrometheusOptions = { prefix: 'svc_' };",
        'const plugin: HeapgateFastifyOptions = { pool, readiness: { path: "/ready" } };',
        'export const used = [registerMetrics(pool, options).names, Fastify().register(heapgate, plugin)];',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
        files: ['integrations.ts'],
      }),
    );
    const checkedIntegrations = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(checkedIntegrations.stdout + checkedIntegrations.stderr).toBe('');
    expect(checkedIntegrations.status).toBe(0);
  });

  it('on Node older than 22, importing or requiring it throws an error naming the version needed', (context) => {
    const node = olderNode();
    if (!node) {
      console.log('skipped: no node older than 22 on PATH to try');
      context.skip();
      return;
    }
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const result = spawnSync(node, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/heapgate needs Node\.js 22 or newer; this is Node\.js \d+\.\d+\.\d+/);
    const cjs = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
    const required = spawnSync(node, ['-e', `require(${JSON.stringify(cjs)})`], { encoding: 'utf8' });
    expect(required.status).not.toBe(0);
    expect(required.stderr).toMatch(/heapgate needs Node\.js 22 or newer; this is Node\.js \d+\.\d+\.\d+/);
    // And every subpath entry, in both builds.
    for (const sub of ['admission/gate', 'integrations/fastify', 'integrations/prometheus', 'integrations/bullmq']) {
      const esm = spawnSync(node, ['--input-type=module', '-e', `await import(${JSON.stringify(new URL(`../dist/${sub}.js`, import.meta.url).href)})`], { encoding: 'utf8' });
      expect(esm.stderr, sub).toMatch(/heapgate needs Node\.js 22 or newer/);
      const cjsSub = spawnSync(node, ['-e', `require(${JSON.stringify(fileURLToPath(new URL(`../dist/${sub}.cjs`, import.meta.url)))})`], { encoding: 'utf8' });
      expect(cjsSub.stderr, sub).toMatch(/heapgate needs Node\.js 22 or newer/);
    }
  });
});
