// The soak's workload, run in this process (bench/soak.mjs puts it in a memory cgroup). argv:
// seconds. Mixed tasks (heap, Buffers, garbage, kept results; some declared, some not, many task
// names) with pressure coming and going: 30 s phases alternate a heavy rate and a light one. Every
// 10 s, after a full GC of the main isolate (run with --expose-gc), prints one JSON sample: the
// main isolate's live heap, the workers' live heaps, the queue and ledger, and the counters. A
// last line sums up.
import v8 from 'node:v8';
import { GatedPool } from '../dist/index.js';

const MiB = 2 ** 20;
const seconds = Number(process.argv[2] ?? 600);
const pool = new GatedPool({ filename: new URL('../test/fixtures/chaos/tasks.mjs', import.meta.url).href, maxThreads: 4, maxWaitMs: 10_000, resourceLimits: { maxOldGenerationSizeMb: 96 } });
const kinds = [
  { name: 'heap', input: { mb: 24, holdMs: 300 }, memory: { heap: 30 * MiB } },
  { name: 'buffers', input: { mb: 32, holdMs: 200, pieces: 512 } },
  { name: 'buffers', input: { mb: 40, holdMs: 250, pieces: 1 }, memory: { heap: 4 * MiB, external: 40 * MiB } },
  { name: 'churn', input: { mb: 24 } },
  { name: 'keep', input: { mb: 2 } },
];
const kept = [];
const outcomes = { completed: 0, rejected: {} };
let submitted = 0;
let inFlight = 0;
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;

function submit() {
  const kind = kinds[submitted % kinds.length];
  submitted++;
  inFlight++;
  // Many task names too: the gate keeps something per name, and must not keep it forever.
  const name = submitted % 10 === 0 ? 'churn' : kind.name;
  pool
    .run(kind.input, { name, ...(kind.memory ? { memory: kind.memory } : {}) })
    .then(
      (result) => {
        outcomes.completed++;
        if (name === 'keep') {
          kept.push(result);
          if (kept.length > 20) kept.shift();
        }
      },
      (error) => {
        const code = error?.code ?? 'unknown';
        outcomes.rejected[code] = (outcomes.rejected[code] ?? 0) + 1;
      },
    )
    .finally(() => inFlight--);
}

const samples = [];
let nextSample = 10;
while (elapsed() < seconds) {
  const heavy = Math.floor(elapsed() / 30) % 2 === 0;
  if (inFlight < (heavy ? 24 : 4)) submit();
  await new Promise((resolve) => setTimeout(resolve, heavy ? 20 : 120));
  if (elapsed() >= nextSample) {
    nextSample += 10;
    globalThis.gc?.();
    const stats = pool.stats();
    const sample = {
      t: Math.round(elapsed()),
      mainLive: v8.getHeapStatistics().used_heap_size,
      workersLive: stats.workers.map((worker) => worker.live ?? worker.used),
      held: stats.held,
      running: stats.running,
      ledgerOpen: stats.ledger.open,
      estimates: Object.keys(stats.estimates).length,
      processUsed: stats.process?.used,
      completed: outcomes.completed,
      rejected: { ...outcomes.rejected },
    };
    samples.push(sample);
    console.log(JSON.stringify(sample));
  }
}
while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 50));
const stats = pool.stats();
await pool.destroy();
console.log(JSON.stringify({ done: true, seconds, submitted, outcomes, counters: stats.counters, ledger: stats.ledger, samples }));
