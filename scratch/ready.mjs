import { GatedPool } from '../dist/index.js';
const pool = new GatedPool({ filename: new URL('../test/fixtures/tasks.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1, memoryLimit: process.memoryUsage.rss() + 320 * 2 ** 20 });
const running = pool.run(500, { name: 'sleep', memory: { external: 200 * 2 ** 20 } });
console.log(pool.wouldAdmit(), pool.wouldAdmit({ memory: { external: 200 * 2 ** 20 } }), pool.stats().process);
await running;
await pool.destroy();
