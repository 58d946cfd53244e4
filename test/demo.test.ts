// `npm start`'s demo, in its quick mode: it finishes, and the HTML report it writes has what a
// reader needs — a chart per contender with the memory series, the limits drawn, the gate's marks,
// and the moment the bare pool died. (Timings are not asserted.)
import { mkdtempSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the demo', () => {
  it('writes a self-contained report with series, limits, marks and the bare pool death', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'heapgate-demo-')), 'report.html');
    const demo = fileURLToPath(new URL('../examples/demo.mjs', import.meta.url));
    const child = spawn(process.execPath, [demo, '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    console.log(stdout.split('\n').filter((line) => line.includes('│')).join('\n'));
    expect(code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // No scripts and nothing fetched: no src/href pointing anywhere (the SVG namespace URI loads nothing).
    expect(html).not.toMatch(/<script|(src|href)="?https?:/);
    const charts = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(charts).toHaveLength(3);
    for (const chart of charts) {
      for (const series of ['process', 'process-live', 'main']) expect(chart).toContain(`data-series="${series}"`);
      expect(chart).toMatch(/data-series="worker-\d+"/);
      expect(chart).toMatch(/data-limit="(process|worker)"/);
    }
    const [bare, wait, reject] = charts as [string, string, string];
    expect(bare).toContain('data-event="death"');
    expect(wait).not.toContain('data-event="death"');
    expect(reject).not.toContain('data-event="death"');
    expect(wait).toContain('data-mark="admit"');
    expect(wait + reject).toMatch(/data-mark="(hold|reject)"/);
  });
});
