// The cost of one admission decision and of isMemLimitReached(), in ns per call, beside
// v8.getHeapStatistics() and process.memoryUsage() for scale, measured side by side in one run.
// Run: npm run build && node bench/decision.mjs. Writes bench/results/decision.json.
import v8 from 'node:v8';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { isMemLimitReached } from '../dist/index.js';
import { decide } from 'heapgate/gate';

const BATCH = 1000;
const MB = 2 ** 20;
const worker = (id, used) => ({ id, used: used * MB, live: used * MB, retained: undefined, limit: 256 * MB, reserved: 0, underPressure: false, free: true, fresh: true });
const input = {
  need: 8 * MB,
  mainNeed: 8 * MB,
  external: 0,
  water: { high: 0.85, low: 0.75 },
  main: { used: 40 * MB, live: 30 * MB, limit: 4096 * MB, reserved: 16 * MB, underPressure: false },
  process: undefined,
  workers: [worker(1, 120), worker(2, 40), worker(3, 200), worker(4, 90)],
  canSpawn: false,
  workerLimit: 256 * MB,
};

let sink = 0;
const bench = new Bench({ time: 500, warmupTime: 100 });
bench
  .add('v8.getHeapStatistics()', () => {
    for (let i = 0; i < BATCH; i++) sink += v8.getHeapStatistics().used_heap_size;
  })
  .add('process.memoryUsage()', () => {
    for (let i = 0; i < BATCH; i++) sink += process.memoryUsage().heapUsed;
  })
  .add('isMemLimitReached()', () => {
    for (let i = 0; i < BATCH; i++) sink += isMemLimitReached() ? 1 : 0;
  })
  .add('decide() (4 workers)', () => {
    for (let i = 0; i < BATCH; i++) sink += decide(input).kind.length;
  });
await bench.run();

const perCall = Object.fromEntries(bench.tasks.map((task) => [task.name, (task.result.latency.p50 * 1e6) / BATCH]));
const base = perCall['v8.getHeapStatistics()'];
console.table(Object.entries(perCall).map(([name, ns]) => ({ name, 'ns/call (median)': Math.round(ns), 'x getHeapStatistics': Number((ns / base).toFixed(2)) })));
console.log(`node ${process.version}; sink ${sink > 0}`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const results = Object.entries(perCall).map(([name, ns]) => ({ name, nsPerCall: Math.round(ns), ofGetHeapStatistics: Number((ns / base).toFixed(2)) }));
writeFileSync(new URL('./results/decision.json', import.meta.url), `${JSON.stringify({ node: process.version, date: new Date().toISOString(), results }, null, 2)}\n`);
