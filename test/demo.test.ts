/// <reference lib="dom" />
// `npm start`'s demo, in its quick mode: it finishes, prints lines that fit 80 columns, and the
// HTML report it writes holds up in a real headless browser (Debian's chromium) at 800 px: no
// console errors, every chart drawn with its series, limits, kill marker and legend, nothing
// wider than the page, no label over another. (Timings are not asserted.)
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const contenders = ['bare Piscina', "GatedPool, policy 'wait'", "GatedPool, policy 'reject'"];

let out = '';
let stdout = '';
let code: number | null = null;

beforeAll(async () => {
  out = join(mkdtempSync(join(tmpdir(), 'heapgate-demo-')), 'report.html');
  const demo = fileURLToPath(new URL('../demo/main.mjs', import.meta.url));
  const child = spawn(process.execPath, [demo, '--quick', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  code = await new Promise((resolve) => child.on('close', resolve));
  console.log(stdout);
}, 120_000);

describe('the demo', () => {
  it('finishes, and every line it prints fits 80 columns', () => {
    expect(code).toBe(0);
    for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThan(80);
    for (const label of contenders) expect(stdout).toContain(label);
  });

  it('writes a self-contained report: no scripts, nothing fetched, a chart per contender', () => {
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // No scripts and nothing fetched: no src/href pointing anywhere (the SVG namespace URI loads nothing).
    expect(html).not.toMatch(/<script|(src|href)="?https?:/);
    for (const label of contenders) expect(html).toContain(`data-chart="memory: ${label.replace(/'/g, "'")}"`);
    expect(html).toContain('data-chart="completed"');
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`the report in headless chromium at 800 px${existsSync(CHROMIUM) ? '' : ` (skipped: no browser at ${CHROMIUM}; install Debian's chromium or set CHROMIUM_PATH)`}`, () => {
  it('has no console errors, draws every chart with its marks and legend, and clips nothing', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
      const errors: string[] = [];
      page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(pathToFileURL(out).href);
      const layout = await page.evaluate(() => {
        const box = (element: Element) => element.getBoundingClientRect();
        const charts = [...document.querySelectorAll('figure[data-chart]')].map((figure) => {
          const svg = figure.querySelector('svg[viewBox^="0 0"]')!;
          const frame = box(svg);
          const texts = [...svg.querySelectorAll('text')].filter((text) => (text.textContent ?? '').trim() !== '').map((text) => {
            const r = box(text);
            return { text: text.textContent ?? '', left: r.left, right: r.right, top: r.top, bottom: r.bottom };
          });
          return {
            name: figure.getAttribute('data-chart') ?? '',
            frame: { left: frame.left, right: frame.right, top: frame.top, bottom: frame.bottom, width: frame.width },
            texts,
            legend: [...figure.querySelectorAll('span')].map((span) => span.textContent ?? ''),
            lines: [...svg.querySelectorAll('g[aria-label="line"] path')].filter((path) => (path.getAttribute('d') ?? '').length > 20).length,
            rules: svg.querySelectorAll('g[aria-label="rule"] line').length,
            ticks: svg.querySelectorAll('g[aria-label="tick"] line').length,
            yTicks: [...svg.querySelectorAll('g[aria-label="y-axis tick label"] text')].map((text) => text.textContent ?? ''),
          };
        });
        return { scrollWidth: document.documentElement.scrollWidth, charts };
      });
      expect(errors).toEqual([]);
      expect(layout.scrollWidth).toBeLessThanOrEqual(800);
      const names = layout.charts.map((chart) => chart.name);
      expect(names).toEqual(['completed', ...contenders.flatMap((label) => (label.startsWith('bare') ? [`memory: ${label}`] : [`memory: ${label}`, `decisions: ${label}`]))]);
      for (const chart of layout.charts) {
        expect(chart.frame.width, chart.name).toBeGreaterThan(600);
        expect(chart.frame.right, chart.name).toBeLessThanOrEqual(800);
        // Every label inside its chart, and no two labels over each other.
        for (const t of chart.texts) {
          expect(t.left >= chart.frame.left - 0.5 && t.right <= chart.frame.right + 0.5 && t.top >= chart.frame.top - 0.5 && t.bottom <= chart.frame.bottom + 0.5, `${chart.name}: "${t.text}" clipped`).toBe(true);
        }
        for (let i = 0; i < chart.texts.length; i++) {
          for (let j = i + 1; j < chart.texts.length; j++) {
            const [a, b] = [chart.texts[i]!, chart.texts[j]!];
            const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
            expect(overlap, `${chart.name}: "${a.text}" over "${b.text}"`).toBe(false);
          }
        }
        // Round ticks: every y tick label a multiple of 5 (Plot's nice scale).
        for (const tick of chart.yTicks) expect(Number(tick.replace(/[^\d.]/g, '')) % 5, `${chart.name}: tick ${tick}`).toBe(0);
      }
      const memory = layout.charts.filter((chart) => chart.name.startsWith('memory: '));
      for (const chart of memory) {
        // process, main and at least one worker line; the limits drawn and named in the legend.
        expect(chart.lines, chart.name).toBeGreaterThanOrEqual(3);
        expect(chart.rules, chart.name).toBeGreaterThanOrEqual(2);
        expect(chart.legend.join('|')).toMatch(/process \((cgroup charge|RSS)\)/);
        expect(chart.legend).toContain('main isolate heap');
        expect(chart.legend).toContain('worker heaps (one line each)');
        expect(chart.legend.some((name) => name === 'container limit' || name === 'worker heap limit')).toBe(true);
      }
      // The bare pool died, and the chart says where; the gated pools did not.
      const [bare, ...gated] = memory;
      expect(bare!.legend).toContain('death');
      expect(bare!.texts.some((t) => / at \d+\.\d s$/.test(t.text))).toBe(true);
      for (const chart of gated) expect(chart.legend).not.toContain('death');
      // The gate's decisions, admitted on every gated chart.
      for (const chart of layout.charts.filter((c) => c.name.startsWith('decisions: '))) {
        expect(chart.ticks, chart.name).toBeGreaterThan(0);
        expect(chart.texts.map((t) => t.text)).toEqual(expect.arrayContaining(['admitted', 'held', 'rejected']));
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
