// A self-contained HTML report: one inline SVG chart per contender (memory over time for the
// process, its non-reclaimable part, the main isolate and each worker, against their limits;
// admit/hold/reject marks; the moment a pool died), and the results table. No scripts, no network.

const MiB = 2 ** 20;
const WIDTH = 960;
const HEIGHT = 280;
const PAD = { left: 56, right: 16, top: 16, bottom: 44 };
const COLORS = { process: '#1f77b4', live: '#6baed6', main: '#9467bd', worker: '#ff7f0e', limit: '#d62728' };

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function chart(run, maxT) {
  const samples = run.samples;
  const workerLimit = Math.max(0, ...samples.flatMap((s) => s.workers.map((w) => w.limit)).filter((l) => l < 64 * 1024 * MiB));
  const peak = Math.max(1, ...samples.map((s) => Math.max(s.process, s.live, s.main, ...s.workers.map((w) => w.used))));
  const yMax = Math.max(peak, run.limit ?? 0, workerLimit) * 1.08;
  const x = (t) => PAD.left + (t / maxT) * (WIDTH - PAD.left - PAD.right);
  const y = (bytes) => HEIGHT - PAD.bottom - (bytes / yMax) * (HEIGHT - PAD.top - PAD.bottom);
  const line = (points, series, color, width = 1.5) =>
    points.length ? `<polyline data-series="${series}" fill="none" stroke="${color}" stroke-width="${width}" points="${points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>` : '';
  const parts = [];
  // Axes and grid.
  for (let i = 0; i <= 4; i++) {
    const value = (yMax / 4) * i;
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(value)}" y2="${y(value)}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y(value) + 4}" text-anchor="end" font-size="11">${Math.round(value / MiB)} MiB</text>`);
  }
  for (let s = 0; s <= maxT / 1000; s += Math.max(1, Math.round(maxT / 10000))) {
    parts.push(`<text x="${x(s * 1000)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle" font-size="11">${s}s</text>`);
  }
  // Limits.
  if (run.limit) {
    parts.push(`<line data-limit="process" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(run.limit)}" y2="${y(run.limit)}" stroke="${COLORS.limit}" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${WIDTH - PAD.right}" y="${y(run.limit) - 4}" text-anchor="end" font-size="11" fill="${COLORS.limit}">process limit ${Math.round(run.limit / MiB)} MiB</text>`);
  }
  if (workerLimit) {
    parts.push(`<line data-limit="worker" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(workerLimit)}" y2="${y(workerLimit)}" stroke="${COLORS.worker}" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${PAD.left + 4}" y="${y(workerLimit) - 4}" text-anchor="start" font-size="11" fill="${COLORS.worker}">worker heap limit ${Math.round(workerLimit / MiB)} MiB</text>`);
  }
  // Series.
  parts.push(line(samples.map((s) => [s.t, s.process]), 'process', COLORS.process, 2));
  parts.push(line(samples.map((s) => [s.t, s.live]), 'process-live', COLORS.live));
  parts.push(line(samples.map((s) => [s.t, s.main]), 'main', COLORS.main));
  const workerIds = [...new Set(samples.flatMap((s) => s.workers.map((w) => w.id)))];
  for (const id of workerIds) {
    parts.push(line(samples.flatMap((s) => s.workers.filter((w) => w.id === id).map((w) => [s.t, w.used])), `worker-${id}`, COLORS.worker, 1));
  }
  // Marks: what the gate did in each 100 ms.
  const markRow = { admit: ['#2ca02c', 0], hold: ['#e6a700', 8], reject: ['#d62728', 16] };
  for (const s of samples) {
    for (const [kind, [color, offset]] of Object.entries(markRow)) {
      if (s.marks?.[kind]) parts.push(`<rect data-mark="${kind}" x="${x(s.t) - 1.5}" y="${HEIGHT - PAD.bottom + 22 + offset}" width="3" height="6" fill="${color}"><title>${s.marks[kind]} ${kind}</title></rect>`);
    }
  }
  // Deaths.
  for (const death of run.deaths) {
    parts.push(`<line data-event="death" x1="${x(death.t)}" x2="${x(death.t)}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="${COLORS.limit}" stroke-width="2"/>`);
    parts.push(`<text x="${x(death.t) + 4}" y="${PAD.top + 12}" font-size="12" fill="${COLORS.limit}">${escape(death.what)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="memory over time: ${escape(run.label)}">${parts.join('')}</svg>`;
}

/** The report for `runs` ([{ label, limit, samples, deaths, result, exit }]) as an HTML string. */
export function renderReport({ title, subtitle, runs }) {
  const maxT = Math.max(1000, ...runs.flatMap((run) => [...run.samples.map((s) => s.t), ...run.deaths.map((d) => d.t)]));
  const rows = runs.map((run) => {
    const r = run.result;
    const rejected = r ? Object.entries(r.rejected).map(([code, n]) => `${escape(code)} ${n}`).join(', ') || '0' : '—';
    return `<tr><td>${escape(run.label)}</td><td>${escape(run.exit)}</td><td>${r?.completed ?? '—'}</td><td>${rejected}</td><td>${r?.lost ?? '—'}</td><td>${r ? r.goodput.toFixed(1) : '—'}</td></tr>`;
  });
  const legend = [
    ['process (cgroup charge or RSS)', COLORS.process],
    ['process, non-reclaimable', COLORS.live],
    ['main isolate heap', COLORS.main],
    ['worker heaps', COLORS.worker],
    ['limits (dashed) and deaths', COLORS.limit],
    ['admit', '#2ca02c'],
    ['hold', '#e6a700'],
    ['reject', '#d62728'],
  ]
    .map(([name, color]) => `<span><i style="background:${color}"></i>${escape(name)}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}h2{margin:28px 0 6px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}</style>
</head><body>
<h1>${escape(title)}</h1><p>${escape(subtitle)}</p>
<table><thead><tr><th>contender</th><th>process</th><th>completed</th><th>rejected</th><th>lost</th><th>goodput (tasks/s)</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<p class="legend">${legend}</p>
${runs.map((run) => `<h2>${escape(run.label)}</h2>${chart(run, maxT)}`).join('\n')}
</body></html>
`;
}
