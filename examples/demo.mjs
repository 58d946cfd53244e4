// `npm start`: leaky workers (64 MB heaps, ~8 MB kept per task), bare Piscina against GatedPool,
// each in its own process so that a crash cannot take the demo down. Prints one row each.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { GatedPool } from 'heapgate';

const TASKS = 48;
const contenders = ['bare Piscina', 'GatedPool wait', 'GatedPool reject'];

async function runContender(contender) {
  const filename = new URL('./tasks.mjs', import.meta.url).href;
  const options = { filename, minThreads: 2, maxThreads: 2, resourceLimits: { maxOldGenerationSizeMb: 64 } };
  const pool = contender === 'bare Piscina' ? new Piscina(options) : new GatedPool({ ...options, policy: contender.split(' ')[1] });
  const started = performance.now();
  const row = { contender, completed: 0, workerDeaths: 0, rejected: 0, recycled: 0, seconds: 0 };
  await Promise.all(
    Array.from({ length: TASKS }, (_, i) =>
      pool.run(i).then(
        () => row.completed++,
        (error) => (error.code === 'ERR_WORKER_OUT_OF_MEMORY' || error.cause?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? row.workerDeaths++ : row.rejected++),
      ),
    ),
  );
  row.seconds = Number(((performance.now() - started) / 1000).toFixed(2));
  if (pool instanceof GatedPool) row.recycled = pool.stats().counters.recycled;
  await pool.destroy();
  return row;
}

if (process.argv[2]) {
  console.log(JSON.stringify(await runContender(process.argv[2])));
} else {
  console.log(`${TASKS} tasks, 2 workers with 64 MB heaps, each task keeps ~8 MB forever\n`);
  const rows = [];
  for (const contender of contenders) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), contender], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    rows.push(out.trim() ? JSON.parse(out.trim().split('\n').at(-1)) : { contender, crashed: `process exit ${code}` });
  }
  console.table(rows);
}
