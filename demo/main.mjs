// `npm start`: a survival comparison, bare Piscina against GatedPool ('wait' and 'reject'), on
// the same workload. With root, each contender runs in its own 256 MiB memory cgroup (a real
// container limit and a real kernel OOM killer); without (or with HEAPGATE_DEMO_NO_CGROUP=1),
// workers get 64 MB heaps and every task leaks ~8 MiB into a module-level cache.
// Shows live progress, prints the results table, and writes a self-contained HTML report.
// Options: --quick (shorter runs), --out <file> (default: heapgate-report.html).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULTS } from 'heapgate';
import { cgroupSupport } from '../bench/lib/cgroup.mjs';
import { createProgress } from './progress.mjs';
import { renderReport } from './report.mjs';
import { runContender } from './run.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const out = resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : 'heapgate-report.html');
const MiB = 2 ** 20;
const support = process.env.HEAPGATE_DEMO_NO_CGROUP === '1' ? { ok: false, reason: 'HEAPGATE_DEMO_NO_CGROUP=1' } : cgroupSupport();
const inCgroup = support.ok;
const seconds = quick ? 4 : 8;
const threads = 4;
const rate = 20;
const keep = 20;

// The same workload for every contender. GatedPool's tasks declare their needs where known.
const scenario = inCgroup
  ? {
      title: 'Mixed workload in a 256 MiB container',
      limit: 256 * MiB,
      config: { threads, seconds, rate, keep, mix: [
        { task: 'heap', input: { mb: 16, ms: 300 }, memory: { heap: 18 } },
        { task: 'buffers', input: { mb: 48, ms: 200 }, memory: { external: 48 } },
        { task: 'churn', input: { mb: 32 } },
      ] },
      workload: [
        `A real memory cgroup with a 256 MiB limit per contender (the kernel OOM-kills the whole process above it).`,
        `${threads} worker threads; one task every ${1000 / rate} ms for ${seconds} s, in turn:`,
        `heap: holds 16 MiB of JavaScript arrays for 300 ms (GatedPool is told memory: { heap: 18 MiB });`,
        `buffers: holds a 48 MiB Buffer for 200 ms (told memory: { external: 48 MiB });`,
        `churn: allocates and drops 32 MiB of arrays (nothing declared: GatedPool learns it).`,
        `The caller keeps the last ${keep} results (~256 KiB each for heap tasks).`,
      ],
    }
  : {
      title: 'Leaky workers: 4 workers with 64 MB heaps, every task keeps ~8 MiB',
      limit: undefined,
      config: { threads, workerHeapMb: 64, seconds, rate, keep, mix: [{ task: 'leak', input: null }] },
      workload: [
        `No container limit here (${support.reason}): each worker gets a 64 MB heap (resourceLimits.maxOldGenerationSizeMb).`,
        `${threads} worker threads; one task every ${1000 / rate} ms for ${seconds} s.`,
        `leak: every task keeps ~8 MiB more in a module-level cache of its worker, so each worker's heap only grows.`,
      ],
    };

const contenders = [
  { contender: 'bare', label: 'bare Piscina', gated: false },
  { contender: 'gated-wait', label: "GatedPool, policy 'wait'", gated: true },
  { contender: 'gated-reject', label: "GatedPool, policy 'reject'", gated: true },
];

const environment = `Node ${process.version} on ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ${new Date().toISOString()}`;
console.log(`heapgate demo: ${scenario.title}`);
if (!inCgroup) console.log(`(${support.reason}: using worker heap limits instead of a cgroup)`);
console.log('');

const progress = createProgress();
const limitText = scenario.limit ? ` / ${scenario.limit / MiB}` : '';
const runs = [];
for (const { contender, label, gated } of contenders) {
  const name = label.padEnd(27);
  progress.show(`${name} starting`);
  const run = await runContender({ ...scenario.config, contender }, {
    location: inCgroup ? support.location : undefined,
    limit: scenario.limit,
    onSample: (s) => {
      const phase = s.t <= seconds * 1000 ? `sending ${(s.t / 1000).toFixed(1).padStart(4)} s` : `draining ${(s.t / 1000).toFixed(1).padStart(4)} s`;
      progress.show(`${name} ${phase}  done ${String(s.done).padStart(3)}  process ${Math.round(s.process / MiB)}${limitText} MiB`);
    },
  });
  const completed = run.result?.completed ?? run.samples.at(-1)?.done ?? 0;
  const death = run.deaths[0] ? `, died at ${(run.deaths[0].t / 1000).toFixed(1)} s (${run.deaths[0].what})` : '';
  progress.done(`${name} ${completed} completed${death}`);
  runs.push({ ...run, label, gated, limit: scenario.limit });
}

// The results, in 80 columns.
const columns = [['contender', 27], ['process', 19], ['completed', 9], ['rejected', 8], ['lost', 4], ['tasks/s', 7]];
const row = (cells) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(columns[i][1]) : String(cell).padStart(columns[i][1]))).join(' ');
console.log(`\n${row(columns.map(([name]) => name))}`);
for (const run of runs) {
  const r = run.result;
  const killed = run.deaths[0] ? `died at ${(run.deaths[0].t / 1000).toFixed(1)} s` : run.exit;
  const rejected = r ? Object.values(r.rejected).reduce((a, b) => a + b, 0) : '—';
  console.log(row([run.label, r ? run.exit : killed, r?.completed ?? run.samples.at(-1)?.done ?? 0, rejected, r?.lost ?? (run.deaths.length ? 'all' : '—'), r ? r.goodput.toFixed(1) : '—']));
}
writeFileSync(out, renderReport({ title: `heapgate demo: ${scenario.title}`, workload: scenario.workload, environment, highWater: DEFAULTS.highWater, inCgroup, runs }));
console.log(`\nreport: ${out}`);
