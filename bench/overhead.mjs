// What the gate costs: raw Piscina against GatedPool, same pool size, same task module, on no-op
// tasks and ~1 ms CPU tasks. Each round measures both contenders with tinybench, the order
// alternating from round to round, so machine noise falls on both; the ratio GatedPool/raw is the
// median of the per-round ratios. Each round also measures the CPU time (all threads of the process,
// `process.cpuUsage()`) each contender spends per task over the same batches: on no-op tasks the
// throughput is bound by thread hand-off latency, the CPU time is what the gate adds.
// Two pool sizes: one thread per CPU (workers take every CPU, and the main thread's work, the
// gate's included, competes with them), and one CPU left to the main thread.
// Writes bench/results/overhead.json.
// Run: npm run build && node bench/overhead.mjs
import { availableParallelism } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Bench } from 'tinybench';
import { Piscina } from 'piscina';
import { GatedPool } from '../dist/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CPUS = availableParallelism();
const SIZES = [...new Set([CPUS, Math.max(1, CPUS - 1)])];
const filename = new URL('./tasks.mjs', import.meta.url).href;
const workloads = [
  { name: 'no-op', task: 'noop', input: 1, batch: 500 },
  { name: '~1 ms CPU', task: 'cpu', input: 1, batch: 40 },
];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** CPU time of the whole process (every thread) per task, µs, over `CPU_BATCHES` batches. */
const CPU_BATCHES = 10;
async function cpuPerTask(run, workload) {
  const before = process.cpuUsage();
  for (let b = 0; b < CPU_BATCHES; b++) {
    const batch = [];
    for (let i = 0; i < workload.batch; i++) batch.push(run(workload));
    await Promise.all(batch);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (CPU_BATCHES * workload.batch);
}

const results = [];
for (const threads of SIZES) {
  const raw = new Piscina({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
  const gated = new GatedPool({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
  const contenders = {
    'raw Piscina': (w) => raw.run(w.input, { name: w.task }),
    GatedPool: (w) => gated.run(w.input, { name: w.task }),
  };
  for (const workload of workloads) results.push({ threads, ...(await measure(contenders, workload, threads)) });
  await raw.destroy();
  await gated.destroy();
}

/** Rounds of side-by-side measurement of one workload on pools of `threads`. */
async function measure(contenders, workload, threads) {
  const perRound = [];
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 400, warmupTime: 100 });
    const order = round % 2 === 0 ? Object.entries(contenders) : Object.entries(contenders).reverse();
    for (const [name, run] of order) {
      bench.add(name, async () => {
        const batch = [];
        for (let i = 0; i < workload.batch; i++) batch.push(run(workload));
        await Promise.all(batch);
      });
    }
    await bench.run();
    const throughput = Object.fromEntries(bench.tasks.map((task) => [task.name, (workload.batch * 1000) / task.result.latency.p50]));
    const cpu = {};
    for (const [name, run] of order) cpu[name] = await cpuPerTask(run, workload);
    perRound.push({ throughput, cpu });
    process.stdout.write(`${threads} thread(s), ${workload.name} round ${round + 1}/${ROUNDS}: raw ${Math.round(throughput['raw Piscina'])}/s ${cpu['raw Piscina'].toFixed(1)} µs CPU/task, gated ${Math.round(throughput.GatedPool)}/s ${cpu.GatedPool.toFixed(1)} µs CPU/task\n`);
  }
  const ratios = perRound.map((r) => r.throughput.GatedPool / r.throughput['raw Piscina']);
  return {
    workload: workload.name,
    batch: workload.batch,
    rounds: ROUNDS,
    rawPerSecond: Math.round(median(perRound.map((r) => r.throughput['raw Piscina']))),
    gatedPerSecond: Math.round(median(perRound.map((r) => r.throughput.GatedPool))),
    ratio: Number(median(ratios).toFixed(3)),
    ratioMin: Number(Math.min(...ratios).toFixed(3)),
    ratioMax: Number(Math.max(...ratios).toFixed(3)),
    rawCpuMicrosPerTask: Number(median(perRound.map((r) => r.cpu['raw Piscina'])).toFixed(1)),
    gatedCpuMicrosPerTask: Number(median(perRound.map((r) => r.cpu.GatedPool)).toFixed(1)),
  };
}

console.table(results);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/overhead.json', import.meta.url), `${JSON.stringify({ node: process.version, cpus: CPUS, date: new Date().toISOString(), results }, null, 2)}\n`);
