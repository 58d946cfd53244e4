// One contender running the mixed workload, in its own process (started by the demo or the
// survival benchmark, inside a memory cgroup when it can). argv[2]: JSON config:
//   contender: 'bare' | 'threshold' | 'gated-wait' | 'gated-reject'
//   threads: maxThreads (omitted: the pool's default); workerHeapMb: per-worker heap limit (optional); seconds; rate (tasks/s);
//   mix: [{ task, input, memory }] submitted round-robin; keep: results the caller keeps.
// Prints JSON lines: {type:'sample'} every 100 ms, {type:'death'} when a worker dies, and a final
// {type:'result'} — unless the process itself is killed first, which the parent records.
import v8 from 'node:v8';
import { Piscina } from 'piscina';
import { GatedPool } from 'heapgate';

const config = JSON.parse(process.argv[2]);
const MiB = 2 ** 20;
const started = performance.now();
const now = () => Math.round(performance.now() - started);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

// In a cgroup the parent reads the process's memory from outside; RSS is what is sent otherwise.
const rss = () => process.memoryUsage.rss();
const processLimit = Number(process.env.HEAPGATE_LIMIT ?? 0) || undefined;

const filename = new URL('./workload.mjs', import.meta.url).href;
const resourceLimits = config.workerHeapMb ? { maxOldGenerationSizeMb: config.workerHeapMb } : undefined;
const base = { filename, ...(config.threads ? { maxThreads: config.threads } : {}), ...(resourceLimits ? { resourceLimits } : {}) };
const gated = config.contender.startsWith('gated');
const pool = gated ? new GatedPool({ ...base, policy: config.contender === 'gated-reject' ? 'reject' : 'wait' }) : new Piscina(base);

// Marks: what the gate did since the last sample.
const marks = { admit: 0, hold: 0, reject: 0 };
if (gated) {
  pool.on('admit', () => marks.admit++);
  pool.on('hold', () => marks.hold++);
  pool.on('reject', (error) => error.code === 'ERR_MEMORY_PRESSURE' && marks.reject++);
}

// Worker heaps for plain Piscina, sampled from the main thread (Node >= 22.16).
const workerHeaps = new Map();
function sampleWorkers() {
  if (gated) return pool.stats().workers.map((w) => ({ id: w.id, used: w.used, limit: w.limit }));
  for (const thread of pool.threads) {
    const limit = (thread.resourceLimits?.maxOldGenerationSizeMb ?? 0) * MiB;
    thread.getHeapStatistics?.().then((stats) => workerHeaps.set(thread.threadId, { id: thread.threadId, used: stats.used_heap_size, limit }), () => {});
  }
  const alive = new Set(pool.threads.map((thread) => thread.threadId));
  return [...workerHeaps.values()].filter((w) => alive.has(w.id));
}

// Samples for the charts go out every 100 ms.
const sampler = setInterval(() => {
  emit({ type: 'sample', t: now(), process: rss(), live: rss(), main: v8.getHeapStatistics().used_heap_size, workers: sampleWorkers(), marks: { ...marks }, done: outcome.completed });
  marks.admit = marks.hold = marks.reject = 0;
}, 100);

// The threshold contender: refuse when RSS or main heap is above 85% (as common HTTP overload plugins do).
function thresholdRefuses() {
  const rssLimit = processLimit ?? Infinity;
  return process.memoryUsage.rss() >= 0.85 * rssLimit || v8.getHeapStatistics().used_heap_size >= 0.85 * v8.getHeapStatistics().heap_size_limit;
}

const outcome = { submitted: 0, completed: 0, rejected: {}, lost: 0 };
const kept = [];
const pending = [];
let index = 0;
function submitOne() {
  const item = config.mix[index++ % config.mix.length];
  outcome.submitted++;
  if (config.contender === 'threshold' && thresholdRefuses()) {
    outcome.rejected.THRESHOLD = (outcome.rejected.THRESHOLD ?? 0) + 1;
    return;
  }
  const memory = item.memory && { heap: (item.memory.heap ?? 0) * MiB, external: (item.memory.external ?? 0) * MiB };
  const promise = gated ? pool.run(item.input, { name: item.task, memory }) : pool.run(item.input, { name: item.task });
  pending.push(
    promise.then(
      (result) => {
        outcome.completed++;
        kept.push(result);
        if (kept.length > config.keep) kept.shift();
      },
      (error) => {
        const code = error?.code ?? 'Error';
        const workerDied = code === 'ERR_WORKER_OUT_OF_MEMORY' || code === 'ERR_WORKER_CRASHED' || /worker exited/.test(error?.message ?? '');
        if (workerDied) {
          outcome.lost++;
          emit({ type: 'death', t: now(), what: `worker died (${code})` });
        } else {
          const reason = error?.scope ? `${code} (${error.scope})` : code;
          outcome.rejected[reason] = (outcome.rejected[reason] ?? 0) + 1;
        }
      },
    ),
  );
}

await new Promise((resolve) => {
  const interval = 1000 / config.rate;
  const submitter = setInterval(() => {
    if (performance.now() - started >= config.seconds * 1000) {
      clearInterval(submitter);
      resolve();
      return;
    }
    submitOne();
  }, interval);
});
await Promise.all(pending);
clearInterval(sampler);
const seconds = (performance.now() - started) / 1000;
const gateStats = gated ? pool.stats() : undefined;
await pool.destroy();
emit({
  type: 'result',
  contender: config.contender,
  ...outcome,
  seconds,
  goodput: outcome.completed / seconds,
  limit: processLimit,
  counters: gateStats?.counters,
});
