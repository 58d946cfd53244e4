// Image-like jobs with a declared memory need: `node examples/images/main.mjs`.
// Each job holds two 3000 × 3000 float images (69 MiB off-heap). The process is given a limit of
// what it uses now plus 200 MiB (in a container, leave `memoryLimit` out: the cgroup's limit is
// read), so only a few jobs fit at once: the others wait for memory instead of overrunning it.
// Each image is above 32 MiB, the most glibc (by default) serves from a thread's malloc arena: mapped
// on its own and given back to the system when freed. Freed blocks below that can stay resident in
// the worker's arena, which the gate cannot tell from memory in use (README, "Not guaranteed").
import { GatedPool } from 'heapgate';

const MiB = 2 ** 20;
const width = 3000;
const height = 3000;
const need = 2 * 4 * width * height; // two Float32Arrays

const pool = new GatedPool({
  filename: new URL('./tasks.mjs', import.meta.url).href,
  maxThreads: 4,
  policy: 'wait',
  memoryLimit: process.memoryUsage().rss + 200 * MiB,
});

const jobs = Array.from({ length: 12 }, (_, seed) => pool.run({ width, height, seed }, { name: 'blur', memory: { external: need } }));
const results = await Promise.all(jobs);
const { counters, process: proc } = pool.stats();
await pool.close();

// The most jobs that ran at the same moment, from when each started and ended in its worker.
const mostAtOnce = Math.max(...results.map(({ start }) => results.filter((other) => other.start <= start && other.end > start).length));
const mean = results.reduce((sum, result) => sum + result.mean, 0) / results.length;
console.log(`12 images blurred (mean ${mean.toFixed(3)}), ${Math.round(need / MiB)} MiB each`);
console.log(`process limit ${Math.round(proc.limit / MiB)} MiB: at most ${mostAtOnce} ran at once on 4 threads; ${counters.held} waited in the queue`);
console.log(JSON.stringify({ completed: counters.completed, crashed: counters.crashed, mostAtOnce, held: counters.held }));
