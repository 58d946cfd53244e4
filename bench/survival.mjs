// Who survives a memory-heavy mixed workload under a real container limit, and at what goodput.
// Each contender runs alone in its own fresh 256 MiB memory cgroup (created and removed here):
//   bare Piscina (defaults); Piscina with maxThreads swept 1..4 (the best run that survives is the
//   hand-tuned oracle); a used-heap/RSS threshold in front of Piscina, as HTTP overload plugins do;
//   GatedPool with default options, policy 'wait' and policy 'reject'; and GatedPool given more
//   threads than the memory can carry (6, with 48 MB worker heaps), where the gate is the limit.
// The workload: tasks holding 16 MiB of heap for 300 ms, tasks holding 48 MiB of Buffers for
// 200 ms, tasks churning 32 MiB of garbage; 20 tasks/s for 8 s; the caller keeps recent results.
// Needs root (skips with the reason otherwise). Writes bench/results/survival.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cgroupSupport } from './lib/cgroup.mjs';
import { runContender } from '../demo/run.mjs';

const MiB = 2 ** 20;
const LIMIT = 256 * MiB;
const workload = {
  seconds: Number(process.env.SURVIVAL_SECONDS ?? 8),
  rate: 20,
  keep: 20,
  mix: [
    { task: 'heap', input: { mb: 16, ms: 300 }, memory: { heap: 20 } },
    { task: 'buffers', input: { mb: 48, ms: 200 }, memory: { external: 48 } },
    { task: 'churn', input: { mb: 32 } },
  ],
};
const contenders = [
  { name: 'bare Piscina (defaults)', config: { contender: 'bare' } },
  ...[1, 2, 3, 4].map((threads) => ({ name: `Piscina maxThreads ${threads}`, config: { contender: 'bare', threads }, sweep: true })),
  { name: 'threshold check + Piscina', config: { contender: 'threshold' } },
  { name: "GatedPool (defaults), 'wait'", config: { contender: 'gated-wait' } },
  { name: "GatedPool (defaults), 'reject'", config: { contender: 'gated-reject' } },
  // With defaults the pool has 1.5 threads per CPU (3 here) and threads, not memory, bound it. With
  // more threads than the memory can carry, the gate is what holds the line: its use of the limit.
  { name: "GatedPool, maxThreads 6, 48 MB workers (memory-bound), 'wait'", config: { contender: 'gated-wait', threads: 6, workerHeapMb: 48 } },
  { name: "GatedPool, maxThreads 6, 48 MB workers (memory-bound), 'reject'", config: { contender: 'gated-reject', threads: 6, workerHeapMb: 48 } },
];

const results = { node: process.version, date: new Date().toISOString(), limit: LIMIT, workload, contenders: [] };
const out = new URL('./results/survival.json', import.meta.url);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const support = cgroupSupport();
if (!support.ok) {
  console.log(`survival benchmark skipped: ${support.reason}`);
  writeFileSync(out, `${JSON.stringify({ ...results, skipped: support.reason }, null, 2)}\n`);
  process.exit(0);
}

for (const { name, config, sweep } of contenders) {
  process.stdout.write(`${name} … `);
  const run = await runContender({ ...workload, ...config }, { location: support.location, limit: LIMIT });
  const r = run.result;
  const lastDone = run.samples.at(-1)?.done ?? 0;
  // Read from outside every 10 ms, whether the contender finished or was killed.
  const peakLive = run.peakLive;
  const entry = {
    name,
    sweep: Boolean(sweep),
    survived: r !== undefined && run.oomKills === 0,
    process: run.exit,
    completed: r?.completed ?? lastDone,
    rejected: r?.rejected ?? {},
    lost: r?.lost ?? null,
    kills: { worker: r?.lost ?? null, mainAbort: run.exit.startsWith('aborted') ? 1 : 0, kernel: run.oomKills },
    goodput: r ? Number(r.goodput.toFixed(2)) : 0,
    peakNonReclaimableOfLimit: Number((peakLive / LIMIT).toFixed(3)),
  };
  results.contenders.push(entry);
  console.log(`${entry.process}; completed ${entry.completed}; goodput ${entry.goodput}/s; peak ${entry.peakNonReclaimableOfLimit} of the limit`);
}

const survivors = results.contenders.filter((c) => c.sweep && c.survived && c.lost === 0);
const oracle = survivors.sort((a, b) => b.goodput - a.goodput)[0];
results.oracle = oracle ? { name: oracle.name, goodput: oracle.goodput } : null;
for (const c of results.contenders) c.goodputOfOracle = oracle ? Number((c.goodput / oracle.goodput).toFixed(2)) : null;
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.table(results.contenders.map((c) => ({ contender: c.name, process: c.process, completed: c.completed, lost: c.lost, 'kernel kills': c.kills.kernel, 'goodput/s': c.goodput, 'of oracle': c.goodputOfOracle, 'peak/limit': c.peakNonReclaimableOfLimit })));
