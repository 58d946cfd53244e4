// JSON ingest with learned memory needs: `node examples/json-ingest/main.mjs`.
// Nothing is declared: the first batch runs alone (slow start) and is measured; from then on its
// learned need decides how many batches each 96 MB worker heap takes at once, so none runs out.
import { GatedPool } from 'heapgate';

const MiB = 2 ** 20;
const pool = new GatedPool({
  filename: new URL('./tasks.mjs', import.meta.url).href,
  maxThreads: 2,
  concurrentTasksPerWorker: 4,
  resourceLimits: { maxOldGenerationSizeMb: 96 },
  policy: 'wait',
});

const batches = Array.from({ length: 16 }, (_, seed) => pool.run({ records: 60_000, seed }, { name: 'ingest' }));
const results = await Promise.all(batches);
const { counters, estimates } = pool.stats();
await pool.close();

const learned = estimates.ingest;
console.log(`${results.length} batches of ${results[0].records} events (${Math.round(results[0].bytes / MiB)} MiB of JSON each) parsed`);
console.log(`learned need: ${Math.round(learned.heap / MiB)} MiB of heap per batch, from ${learned.samples} measured runs; worker crashes: ${counters.crashed}`);
console.log(JSON.stringify({ completed: counters.completed, crashed: counters.crashed, learnedHeapMiB: Math.round(learned.heap / MiB), samples: learned.samples }));
