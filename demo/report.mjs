// The demo's self-contained HTML report. Charts are drawn by Observable Plot on a jsdom document
// and inlined as static SVG: no scripts, nothing fetched, readable offline, from 800 px up.
// Per contender: memory over time (the process, its non-reclaimable part, the main isolate, each
// worker) against the container limit, the gate's high-water line and the worker heap limit, with
// the moment of the first death; and, for a gated pool, what the gate decided in each 100 ms. On top: tasks
// completed over time by every contender, and the results table.
import * as Plot from '@observablehq/plot';
import { JSDOM } from 'jsdom';

const MiB = 2 ** 20;
const WIDTH = 720;
const { document } = new JSDOM('').window;

/** Series names, one colour each, the same in every chart. */
const COLORS = {
  'process (cgroup charge)': '#1f77b4',
  'process (RSS)': '#1f77b4',
  'process, non-reclaimable': '#6baed6',
  'main isolate heap': '#9467bd',
  'worker heaps (one line each)': '#ff7f0e',
  'container limit': '#d62728',
  'GatedPool high water': '#e6a700',
  'worker heap limit': '#8c564b',
  'death': '#000000',
};
const DECISIONS = { admitted: '#2ca02c', held: '#e6a700', rejected: '#d62728' };

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const seconds = (ms) => ms / 1000;

/** The worker heap limit the samples report, if any is finite. */
function workerLimitOf(run) {
  const limits = run.samples.flatMap((s) => s.workers.map((w) => w.limit)).filter((l) => l > 0 && l < 64 * 1024 * MiB);
  return limits.length ? Math.max(...limits) : undefined;
}

/** Each death's label, on the side of its rule with more room. */
function deathLabels(deaths, maxT) {
  const text = (d) => `${d.what} at ${d.t.toFixed(1)} s`;
  const early = deaths.filter((d) => d.t < seconds(maxT) / 2);
  const late = deaths.filter((d) => d.t >= seconds(maxT) / 2);
  const common = { x: 't', frameAnchor: 'top', dy: 8, text, fill: 'series', fontWeight: 'bold', fontSize: 11 };
  return [Plot.text(early, { ...common, textAnchor: 'start', dx: 6 }), Plot.text(late, { ...common, textAnchor: 'end', dx: -6 })];
}

function memoryChart(run, { maxT, highWater, inCgroup }) {
  const processName = inCgroup ? 'process (cgroup charge)' : 'process (RSS)';
  const rows = [];
  for (const s of run.samples) {
    const t = seconds(s.t);
    rows.push({ t, mib: s.process / MiB, series: processName, z: 'process' });
    if (inCgroup) rows.push({ t, mib: s.live / MiB, series: 'process, non-reclaimable', z: 'live' });
    rows.push({ t, mib: s.main / MiB, series: 'main isolate heap', z: 'main' });
    for (const w of s.workers) rows.push({ t, mib: w.used / MiB, series: 'worker heaps (one line each)', z: `worker ${w.id}` });
  }
  const rules = [];
  if (run.limit) {
    rules.push({ mib: run.limit / MiB, series: 'container limit' });
    rules.push({ mib: (highWater * run.limit) / MiB, series: 'GatedPool high water' });
  }
  const workerLimit = workerLimitOf(run);
  if (workerLimit) rules.push({ mib: workerLimit / MiB, series: 'worker heap limit' });
  const deaths = run.deaths.map((d) => ({ t: seconds(d.t), what: d.what, series: 'death' }));
  const series = [...new Set([...rows.map((r) => r.series), ...rules.map((r) => r.series), ...deaths.map((d) => d.series)])];
  const peak = Math.max(1, ...rows.map((r) => r.mib), ...rules.map((r) => r.mib));
  return Plot.plot({
    document,
    width: WIDTH,
    height: 300,
    marginLeft: 70,
    marginRight: 20,
    x: { domain: [0, seconds(maxT)], label: 'time (s)', labelAnchor: 'right' },
    y: { domain: [0, peak * 1.1], label: 'memory (MiB)', grid: true, nice: true },
    color: { domain: series, range: series.map((name) => COLORS[name]), legend: true },
    marks: [
      Plot.ruleY(rules, { y: 'mib', stroke: 'series', strokeDasharray: '6 4', strokeWidth: 1.5 }),
      Plot.line(rows, { x: 't', y: 'mib', z: 'z', stroke: 'series', strokeWidth: (r) => (r.z === 'process' ? 2 : 1.2) }),
      Plot.ruleX(deaths, { x: 't', stroke: 'series', strokeWidth: 2 }),
      ...deathLabels(deaths, maxT),
      Plot.ruleY([0]),
    ],
  });
}

function decisionChart(run, { maxT }) {
  const rows = [];
  for (const s of run.samples) {
    const counts = { admitted: s.marks?.admit ?? 0, held: s.marks?.hold ?? 0, rejected: s.marks?.reject ?? 0 };
    for (const [kind, count] of Object.entries(counts)) if (count > 0) rows.push({ t: seconds(s.t), kind, count });
  }
  return Plot.plot({
    document,
    width: WIDTH,
    height: 110,
    marginLeft: 70,
    marginRight: 20,
    x: { domain: [0, seconds(maxT)], label: 'time (s)', labelAnchor: 'right' },
    y: { domain: Object.keys(DECISIONS), label: null },
    color: { domain: Object.keys(DECISIONS), range: Object.values(DECISIONS) },
    marks: [
      Plot.tickX(rows, { x: 't', y: 'kind', stroke: 'kind', strokeWidth: 2, title: (r) => `${r.count} ${r.kind} at ${r.t.toFixed(1)} s` }),
    ],
  });
}

function completedChart(runs, { maxT }) {
  const rows = runs.flatMap((run) => run.samples.map((s) => ({ t: seconds(s.t), done: s.done, contender: run.label })));
  // A death drawn on its contender's line: the tasks completed by the last sample before it.
  const doneAt = (run, t) => run.samples.findLast((s) => s.t <= t)?.done ?? 0;
  const deaths = runs.flatMap((run) => run.deaths.map((d) => ({ t: seconds(d.t), done: doneAt(run, d.t), contender: run.label })));
  return Plot.plot({
    document,
    width: WIDTH,
    height: 240,
    marginLeft: 70,
    marginRight: 20,
    x: { domain: [0, seconds(maxT)], label: 'time (s)', labelAnchor: 'right' },
    y: { label: 'tasks completed', grid: true, nice: true },
    color: { domain: runs.map((run) => run.label), scheme: 'tableau10', legend: true },
    symbol: { domain: ['a death (process or worker)'], range: ['times'], legend: deaths.length > 0 },
    marks: [
      Plot.line(rows, { x: 't', y: 'done', stroke: 'contender', strokeWidth: 2 }),
      Plot.dot(deaths, { x: 't', y: 'done', stroke: 'contender', symbol: () => 'a death (process or worker)', r: 6, strokeWidth: 2.5 }),
      Plot.ruleY([0]),
    ],
  });
}

const figure = (name, caption, chart) =>
  `<figure data-chart="${escape(name)}">${chart.outerHTML}<figcaption>${escape(caption)}</figcaption></figure>`;

/**
 * The report as an HTML string.
 * @param {{ title: string, workload: string[], environment: string, highWater: number, inCgroup: boolean,
 *   runs: { label: string, gated: boolean, limit?: number, samples: object[], deaths: object[], result?: object, exit: string }[] }} report
 */
export function renderReport({ title, workload, environment, highWater, inCgroup, runs }) {
  const maxT = Math.max(1000, ...runs.flatMap((run) => [...run.samples.map((s) => s.t), ...run.deaths.map((d) => d.t)]));
  const rows = runs.map((run) => {
    const r = run.result;
    const rejected = r ? Object.entries(r.rejected).map(([code, n]) => `${escape(code)}: ${n}`).join('<br>') || '0' : '—';
    return `<tr><td>${escape(run.label)}</td><td>${escape(run.exit)}</td><td>${r?.completed ?? run.samples.at(-1)?.done ?? '—'}</td><td>${rejected}</td><td>${r?.lost ?? (run.deaths.length ? 'every unfinished task' : '—')}</td><td>${r ? r.goodput.toFixed(1) : '—'}</td></tr>`;
  });
  const sections = runs.map((run) => {
    const memory = figure(`memory: ${run.label}`, `${run.label}: memory over time. ${run.deaths.length ? `First death: ${run.deaths[0].what} at ${seconds(run.deaths[0].t).toFixed(1)} s.` : 'Nothing died.'}`, memoryChart(run, { maxT, highWater, inCgroup }));
    const decisions = run.gated
      ? figure(`decisions: ${run.label}`, 'What the gate decided: a tick for every 100 ms in which at least one task was admitted, held, or rejected (hover a tick for the count).', decisionChart(run, { maxT }))
      : '<p class="note">Bare Piscina has no gate: it starts every task as soon as a worker is free.</p>';
    return `<section data-contender="${escape(run.label)}"><h2>${escape(run.label)}</h2>${memory}${decisions}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:${WIDTH}px;margin:0 auto;padding:16px}
h1{font-size:22px}h2{font-size:18px;margin:32px 0 4px}
figure{margin:12px 0}figcaption{font-size:12px;color:#555}
table{border-collapse:collapse;width:100%;font-size:13px}th{white-space:nowrap}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
.note{font-size:13px;color:#555}
</style>
</head><body>
<h1>${escape(title)}</h1>
<p>${escape(environment)}</p>
<h2>Workload</h2>
<ul>${workload.map((line) => `<li>${escape(line)}</li>`).join('')}</ul>
<h2>Results</h2>
<table><thead><tr><th>contender</th><th>process</th><th>completed</th><th>rejected (why)</th><th>lost</th><th>goodput (tasks/s)</th></tr></thead><tbody>${rows.join('')}</tbody></table>
${figure('completed', 'Tasks completed over time by each contender; a cross marks the first death: the process killed, or a worker lost with its tasks.', completedChart(runs, { maxT }))}
${sections.join('\n')}
</body></html>
`;
}
