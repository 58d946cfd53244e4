// The CommonJS build: one bundle per public entry (dist/index.cjs, dist/admission/gate.cjs,
// dist/integrations/*.cjs) with
// bundled type declarations (.d.cts), for `require('heapgate')` on every Node >= 22 and under
// Jest. The ES module build is tsc's (dist/*.js). Workers always load the ES module runtime
// (dist/worker/), whichever entry created the pool.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'admission/gate': 'src/admission/gate.ts', 'integrations/prometheus': 'src/integrations/prometheus.ts', 'integrations/fastify': 'src/integrations/fastify.ts', 'integrations/bullmq': 'src/integrations/bullmq.ts' },
  format: ['cjs'],
  outDir: 'dist',
  outExtension: () => ({ js: '.cjs' }),
  dts: true,
  shims: true,
  clean: false,
  splitting: false,
  sourcemap: false,
  target: 'node22',
  external: ['piscina', 'prom-client', 'fastify', 'bullmq'],
});
