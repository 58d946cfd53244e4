// `npm start`: a small survival comparison, bare Piscina against GatedPool, in under a minute.
// With root, each contender runs in its own 256 MiB memory cgroup (a real container limit and a
// real kernel OOM killer); without (or with HEAPGATE_DEMO_NO_CGROUP=1), workers get 64 MB heaps
// and tasks leak ~8 MiB each into a module-level cache.
// Shows live progress, prints the table, and writes a self-contained HTML report with charts.
// Options: --quick (shorter runs), --out <file> (default: heapgate-report.html).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cgroupSupport } from '../bench/lib/cgroup.mjs';
import { runContender } from '../bench/lib/run.mjs';
import { renderReport } from '../bench/lib/report.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const out = resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : 'heapgate-report.html');
const MiB = 2 ** 20;
const support = process.env.HEAPGATE_DEMO_NO_CGROUP === '1' ? { ok: false, reason: 'HEAPGATE_DEMO_NO_CGROUP=1' } : cgroupSupport();
const inCgroup = support.ok;
const seconds = quick ? 4 : 12;

// The same workload for every contender: tasks that hold heap, tasks that hold Buffers, tasks
// that churn garbage; results kept by the caller for a while. GatedPool's tasks declare their needs.
const scenario = inCgroup
  ? {
      title: 'Mixed workload in a 256 MiB container',
      limit: 256 * MiB,
      config: { threads: 4, seconds, rate: 20, keep: 20, mix: [
        { task: 'heap', input: { mb: 16, ms: 300 }, memory: { heap: 20 } },
        { task: 'buffers', input: { mb: 48, ms: 200 }, memory: { external: 48 } },
        { task: 'churn', input: { mb: 32 } },
      ] },
    }
  : {
      title: 'Leaky workers: 4 workers with 64 MB heaps, every task keeps ~8 MiB',
      limit: undefined,
      config: { threads: 4, workerHeapMb: 64, seconds, rate: 20, keep: 20, mix: [{ task: 'leak', input: null }] },
    };

const contenders = [
  { contender: 'bare', label: 'bare Piscina' },
  { contender: 'gated-wait', label: "GatedPool, policy 'wait'" },
  { contender: 'gated-reject', label: "GatedPool, policy 'reject'" },
];

console.log(`heapgate demo — ${scenario.title}${inCgroup ? '' : `\n(${support.reason}: using worker heap limits instead of a cgroup)`}\n`);
const runs = [];
for (const { contender, label } of contenders) {
  const show = (text) => process.stdout.write(`\r${label.padEnd(28)} ${text}`.padEnd(100));
  let shownAt = -Infinity;
  const run = await runContender({ ...scenario.config, contender }, {
    location: inCgroup ? support.location : undefined,
    limit: scenario.limit,
    onSample: (s) => {
      if (s.t - shownAt < 500) return;
      shownAt = s.t;
      show(`${(s.t / 1000).toFixed(1)} s  done ${s.done}  process ${Math.round(s.process / MiB)} MiB${scenario.limit ? ` / ${scenario.limit / MiB} MiB` : ''}`);
    },
  });
  show(`${run.exit}${run.result ? `, ${run.result.completed} completed` : ''}\n`);
  runs.push({ ...run, label, limit: scenario.limit });
}

console.log('');
console.table(
  runs.map((run) => ({
    contender: run.label,
    process: run.exit,
    completed: run.result?.completed ?? '—',
    rejected: run.result ? Object.values(run.result.rejected).reduce((a, b) => a + b, 0) : '—',
    lost: run.result?.lost ?? '—',
    'goodput/s': run.result ? Number(run.result.goodput.toFixed(1)) : '—',
  })),
);
writeFileSync(out, renderReport({ title: `heapgate demo: ${scenario.title}`, subtitle: `Node ${process.version}, ${new Date().toISOString()}`, runs }));
console.log(`\nreport: ${out}`);
