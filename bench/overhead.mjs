// What the gate costs, and what the pools a user might pick instead cost: raw Piscina, GatedPool,
// tinypool, poolifier and workerpool, measured side by side in one run on the same task functions
// (bench/tasks.mjs: a no-op returning its input, and a ~1 ms busy loop), with pools of 1 and 2
// threads (minThreads = maxThreads, idle timeout long, so no worker starts or stops while measuring).
// Beside them, 'Piscina + a plain queue': the least any pool that holds waiting tasks outside Piscina
// pays (see its definition).
//
// Scenarios (one tinybench iteration each; throughput = tasks of one iteration / median iteration time):
// - callers: C async loops, each awaiting one task before submitting the next, K tasks each;
// - batch: submit N tasks at once, await them all.
// Per contender and scenario, over tinybench's run phase (warm-up excluded):
// - main-thread CPU per task: `process.threadCpuUsage()` (Node >= 23.9); where it does not exist,
//   `process.cpuUsage()` instead, labelled whole-process in the output;
// - whole-process CPU per task (`process.cpuUsage()`: the main thread, the workers, GC threads);
// - a "bound" note: main-thread CPU per task × tasks/s near 1 s/s means the main thread is the
//   bottleneck (what any per-task cost of a pool shows up in); the whole machine's busy CPU
//   (`os.cpus()` times, every process: another process's load shows here) near the CPU count, the
//   machine; on ~1 ms tasks the workers' CPU near the thread count, the workers; else the time to
//   hand a task to a worker and its result back (latency).
// Rounds: every pool measures every scenario once per round, in an order that rotates and reverses
// from round to round, so machine noise falls on all of them. Ratios to raw Piscina are taken per
// round; the median of rounds is reported with the range (min–max) of the rounds.
// All pools of one size stay alive for the whole size block (each idle while another is measured).
//
// Run: npm run build && node bench/overhead.mjs
//   BENCH_ROUNDS=n  rounds (default 5)
//   BENCH_QUICK=1   one round, short times: a smoke check, not a measurement
//   BENCH_POOLS=a,b only these contenders beside raw Piscina and GatedPool (names as printed)
// Writes bench/results/overhead.json (read by bench/results.mjs).
import { availableParallelism, cpus } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import { FixedThreadPool } from 'poolifier';
import workerpool from 'workerpool';
import PQueue from 'p-queue';
import diagnosticsChannel from 'node:diagnostics_channel';
import { CHANNELS, GatedPool } from '../dist/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = QUICK ? 1 : Number(process.env.BENCH_ROUNDS ?? 5);
const BENCH_OPTIONS = QUICK
  ? { time: 40, iterations: 2, warmupTime: 10, warmupIterations: 1, throws: true }
  : { time: 500, iterations: 5, warmupTime: 100, warmupIterations: 2, throws: true };
const SIZES = [1, 2];
const CPUS = availableParallelism();
const IDLE_TIMEOUT = 10 * 60_000;
const TARGETS = { mainCpuRatioMax: 1.1, throughputRatioMin: { noop: 0.9, cpu: 0.98 } };

const taskModule = new URL('./tasks.mjs', import.meta.url).href;
const poolifierWorker = fileURLToPath(new URL('./workers/poolifier.mjs', import.meta.url));
const workerpoolWorker = fileURLToPath(new URL('./workers/workerpool.mjs', import.meta.url));

// Main-thread CPU time, µs.
const THREAD_CPU = typeof process.threadCpuUsage === 'function';
const MAIN_CPU_SOURCE = THREAD_CPU ? 'process.threadCpuUsage() (main thread only)' : 'process.cpuUsage() (WHOLE PROCESS: process.threadCpuUsage() unavailable on this Node)';
const mainCpu = THREAD_CPU ? () => process.threadCpuUsage() : () => process.cpuUsage();
const micros = (usage) => usage.user + usage.system;
/** Busy CPU time of the whole machine (every CPU, every process), ms; 10 ms granularity. */
const machineBusy = () => cpus().reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.irq, 0);

const WORKLOADS = { noop: { task: 'noop', input: 1 }, cpu: { task: 'cpu', input: 1 } };
const SCENARIOS = [
  { id: 'noop-1-caller', workload: 'noop', label: 'no-op, 1 caller', callers: 1, perCaller: 256 },
  { id: 'noop-16-callers', workload: 'noop', label: 'no-op, 16 callers', callers: 16, perCaller: 32 },
  { id: 'noop-256-callers', workload: 'noop', label: 'no-op, 256 callers', callers: 256, perCaller: 8 },
  { id: 'noop-batch-500', workload: 'noop', label: 'no-op, batches of 500', batch: 500 },
  { id: 'cpu-batch-40', workload: 'cpu', label: '~1 ms CPU, batches of 40', batch: 40 },
  { id: 'cpu-2-callers-per-thread', workload: 'cpu', label: '~1 ms CPU, 2 callers/thread', callersPerThread: 2, perCaller: 10 },
];

/**
 * The contenders. `create(threads)` returns `call(workload)`, a function submitting one task of that
 * workload (options objects made once, so no contender pays for the harness's allocations), and `close()`.
 */
const RAW = 'raw Piscina';
const GATED = 'GatedPool';
const FLOOR = 'Piscina + a plain queue';
const PQUEUE = 'Piscina + p-queue';
const TRACED = 'GatedPool (traced)';
const ignore = () => undefined;
const TASK_CHANNELS = [CHANNELS.admit, CHANNELS.hold, CHANNELS.reject, CHANNELS.settle, CHANNELS.pressure, CHANNELS.recycle];
const TRACE_HANDLERS = { start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore };
const ALL_CONTENDERS = [
  {
    name: RAW,
    create(threads) {
      const pool = new Piscina({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      return { call: ({ task, input }) => { const options = { name: task }; return () => pool.run(input, options); }, close: () => pool.destroy() };
    },
  },
  {
    name: GATED,
    create(threads) {
      const pool = new GatedPool({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      return { call: ({ task, input }) => { const options = { name: task }; return () => pool.run(input, options); }, close: () => pool.destroy() };
    },
  },
  {
    // GatedPool with a subscriber on every diagnostics_channel channel and on the run() tracing
    // channel (each a no-op), subscribed only while this contender is measured: what tracing costs
    // when used. Beside plain GatedPool (no subscriber): that channels cost nothing unused.
    name: TRACED,
    create(threads) {
      const pool = new GatedPool({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      return { call: ({ task, input }) => { const options = { name: task }; return () => pool.run(input, options); }, close: () => pool.destroy() };
    },
    enter() {
      for (const name of TASK_CHANNELS) diagnosticsChannel.subscribe(name, ignore);
      diagnosticsChannel.tracingChannel(CHANNELS.run).subscribe(TRACE_HANDLERS);
    },
    leave() {
      for (const name of TASK_CHANNELS) diagnosticsChannel.unsubscribe(name, ignore);
      diagnosticsChannel.tracingChannel(CHANNELS.run).unsubscribe(TRACE_HANDLERS);
    },
  },
  {
    // The floor of any pool that keeps waiting tasks outside Piscina (as heapgate must, to decide each
    // one when a worker frees): a FIFO array in front of raw Piscina that hands a task over only when a
    // thread is free, from the finished task's promise. No gate, no readings, no accounting.
    name: FLOOR,
    create(threads) {
      const pool = new Piscina({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      const waiting = [];
      let running = 0;
      const next = () => {
        while (running < threads && waiting.length > 0) {
          const job = waiting.shift();
          running++;
          pool.run(job.input, job.options).then(
            (value) => { running--; job.resolve(value); next(); },
            (error) => { running--; job.reject(error); next(); },
          );
        }
      };
      return {
        call: ({ task, input }) => {
          const options = { name: task };
          return () => {
            const { promise, resolve, reject } = Promise.withResolvers();
            waiting.push({ input, options, resolve, reject });
            next();
            return promise;
          };
        },
        close: () => pool.destroy(),
      };
    },
  },
  {
    // p-queue (concurrency = threads) in front of raw Piscina: what building heapgate's queue of
    // waiting tasks on p-queue would cost at the least (see docs/ARCHITECTURE.md, "The queue").
    name: PQUEUE,
    create(threads) {
      const pool = new Piscina({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      const queue = new PQueue({ concurrency: threads });
      return {
        call: ({ task, input }) => {
          const options = { name: task };
          const job = () => pool.run(input, options);
          return () => queue.add(job);
        },
        close: () => pool.destroy(),
      };
    },
  },
  {
    name: 'tinypool',
    create(threads) {
      const pool = new Tinypool({ filename: taskModule, minThreads: threads, maxThreads: threads, idleTimeout: IDLE_TIMEOUT });
      return { call: ({ task, input }) => { const options = { name: task }; return () => pool.run(input, options); }, close: () => pool.destroy() };
    },
  },
  {
    name: 'poolifier',
    create(threads) {
      const pool = new FixedThreadPool(threads, poolifierWorker, { errorHandler: (error) => console.error('poolifier worker error', error) });
      return { call: ({ task, input }) => () => pool.execute(input, task), close: () => pool.destroy() };
    },
  },
  {
    name: 'workerpool',
    create(threads) {
      const pool = workerpool.pool(workerpoolWorker, { minWorkers: threads, maxWorkers: threads, workerType: 'thread' });
      return { call: ({ task, input }) => { const params = [input]; return () => pool.exec(task, params); }, close: () => pool.terminate() };
    },
  },
];

// BENCH_POOLS=name,name: only these (raw Piscina and GatedPool always run: the ratios are to raw).
const only = process.env.BENCH_POOLS?.split(',').map((name) => name.trim());
const CONTENDERS = only ? ALL_CONTENDERS.filter(({ name }) => name === RAW || name === GATED || only.includes(name)) : ALL_CONTENDERS;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const round = (value, digits) => Number(value.toFixed(digits));

/** One iteration of a scenario: `tasks` tasks through `call`. */
function iterationOf(scenario, call, threads) {
  if (scenario.batch) {
    const n = scenario.batch;
    return {
      tasks: n,
      run: () => {
        const all = new Array(n);
        for (let i = 0; i < n; i++) all[i] = call();
        return Promise.all(all);
      },
    };
  }
  const callers = scenario.callers ?? scenario.callersPerThread * threads;
  const perCaller = scenario.perCaller;
  const loop = async () => {
    for (let i = 0; i < perCaller; i++) await call();
  };
  return {
    tasks: callers * perCaller,
    run: () => {
      const loops = new Array(callers);
      for (let c = 0; c < callers; c++) loops[c] = loop();
      return Promise.all(loops);
    },
  };
}

/** Starts every worker, checks the answers, and warms the JIT of both sides. */
async function warmUp(name, calls, threads) {
  const noop = calls.noop;
  const answers = await Promise.all(Array.from({ length: 500 }, () => noop()));
  if (answers.some((answer) => answer !== WORKLOADS.noop.input)) throw new Error(`${name}: the no-op task did not return its input`);
  const spins = await Promise.all(Array.from({ length: threads * 4 }, () => calls.cpu()));
  if (spins.some((x) => !(x > 0))) throw new Error(`${name}: the ~1 ms CPU task did not spin`);
  for (let i = 0; i < 200; i++) await noop();
}

/** Contender order for a round: rotated by the round number, reversed on odd rounds. */
function orderFor(roundIndex) {
  const shift = roundIndex % CONTENDERS.length;
  const rotated = [...CONTENDERS.slice(shift), ...CONTENDERS.slice(0, shift)];
  return roundIndex % 2 ? rotated.reverse() : rotated;
}

/** One round of one scenario on pools of `threads`: every contender, measured with tinybench. */
async function measureScenario(scenario, pools, threads, roundIndex) {
  const bench = new Bench({ name: `${threads} thread(s), ${scenario.label}`, ...BENCH_OPTIONS });
  const measured = new Map();
  for (const contender of orderFor(roundIndex)) {
    const { name } = contender;
    const iteration = iterationOf(scenario, pools.get(name).calls[scenario.workload], threads);
    const sample = { tasks: 0, wall: 0, main: undefined, process: undefined, machine: 0, mainMicros: 0, processMicros: 0 };
    measured.set(name, { iteration, sample });
    bench.add(
      name,
      async () => {
        await iteration.run();
        sample.tasks += iteration.tasks;
      },
      {
        beforeAll(mode) {
          contender.enter?.();
          if (mode !== 'run') return;
          sample.tasks = 0;
          sample.machine = machineBusy();
          sample.process = process.cpuUsage();
          sample.main = mainCpu();
          sample.wall = performance.now();
        },
        afterAll(mode) {
          contender.leave?.();
          if (mode !== 'run') return;
          sample.mainMicros = micros(THREAD_CPU ? process.threadCpuUsage(sample.main) : process.cpuUsage(sample.main));
          sample.processMicros = micros(process.cpuUsage(sample.process));
          sample.machine = machineBusy() - sample.machine;
          sample.wall = performance.now() - sample.wall;
        },
      },
    );
  }
  await bench.run();
  const result = {};
  for (const task of bench.tasks) {
    if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state} ${task.result.error ?? ''}`);
    const { iteration, sample } = measured.get(task.name);
    result[task.name] = {
      perSecond: (iteration.tasks * 1000) / task.result.latency.p50,
      mainMicrosPerTask: sample.mainMicros / sample.tasks,
      processMicrosPerTask: sample.processMicros / sample.tasks,
      machineLoad: sample.machine / sample.wall,
    };
  }
  return result;
}

/** Why a contender's throughput is what it is, from its CPU per task × tasks/s. */
function boundOf(row, threads, workload) {
  const mainLoad = (row.mainCpuMicrosPerTask * row.perSecond) / 1e6;
  const processLoad = (row.processCpuMicrosPerTask * row.perSecond) / 1e6;
  const { machineLoad } = row;
  const loads = `main ${mainLoad.toFixed(2)}, process ${processLoad.toFixed(2)}, machine ${machineLoad.toFixed(2)}/${CPUS} s/s`;
  const note = (bound) => ({ mainLoad, processLoad, bound: `${bound} (${loads})` });
  if (THREAD_CPU && mainLoad >= 0.85) return note('main-thread CPU');
  if (machineLoad >= 0.85 * CPUS) return note(processLoad >= 0.85 * CPUS ? 'machine CPU' : 'machine CPU, shared with other processes');
  if (workload === 'cpu' && THREAD_CPU && processLoad - mainLoad >= 0.85 * threads) return note('worker CPU');
  if (!THREAD_CPU) return note('unknown: no per-thread CPU');
  return note('hand-off latency');
}

/** Median over rounds, ratios to raw Piscina per round (median and range), bound notes, targets. */
function summarize(scenario, threads, rounds) {
  const range = (values, digits) => ({ median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits) });
  const contenders = {};
  for (const { name } of CONTENDERS) {
    const rate = rounds.map((r) => r[name].perSecond);
    const main = rounds.map((r) => r[name].mainMicrosPerTask);
    const whole = rounds.map((r) => r[name].processMicrosPerTask);
    const throughputRatio = range(rounds.map((r) => r[name].perSecond / r[RAW].perSecond), 3);
    const mainCpuRatio = range(rounds.map((r) => r[name].mainMicrosPerTask / r[RAW].mainMicrosPerTask), 3);
    const row = {
      perSecond: Math.round(median(rate)),
      ratio: throughputRatio.median,
      ratioMin: throughputRatio.min,
      ratioMax: throughputRatio.max,
      mainCpuMicrosPerTask: round(median(main), 1),
      mainCpuRatio: mainCpuRatio.median,
      mainCpuRatioMin: mainCpuRatio.min,
      mainCpuRatioMax: mainCpuRatio.max,
      processCpuMicrosPerTask: round(median(whole), 1),
      machineLoad: round(median(rounds.map((r) => r[name].machineLoad)), 2),
    };
    const { mainLoad, processLoad, bound } = boundOf(row, threads, scenario.workload);
    contenders[name] = { ...row, mainLoad: round(mainLoad, 2), processLoad: round(processLoad, 2), bound };
  }
  const gated = contenders[GATED];
  const throughputTarget = TARGETS.throughputRatioMin[scenario.workload];
  return {
    threads,
    scenario: scenario.id,
    workload: scenario.workload,
    label: scenario.label,
    shape: scenario.batch ? { batch: scenario.batch } : { callers: scenario.callers ?? scenario.callersPerThread * threads, tasksPerCaller: scenario.perCaller },
    rounds: rounds.length,
    contenders,
    gatedTargets: {
      throughputRatioMin: throughputTarget,
      throughputMet: gated.ratio >= throughputTarget,
      mainCpuRatioMax: TARGETS.mainCpuRatioMax,
      mainCpuMet: gated.mainCpuRatio <= TARGETS.mainCpuRatioMax,
    },
  };
}

/** Plain-text table with right-aligned numbers. */
function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((cell, i) => (typeof cell === 'number' ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

console.log(`Node ${process.version}, ${CPUS} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${ROUNDS} round(s)${QUICK ? ' — QUICK MODE: a smoke check, not a measurement' : ''}; main-thread CPU: ${MAIN_CPU_SOURCE}`);
const results = [];
for (const threads of SIZES) {
  const pools = new Map();
  for (const contender of CONTENDERS) {
    const pool = contender.create(threads);
    const calls = Object.fromEntries(Object.entries(WORKLOADS).map(([key, workload]) => [key, pool.call(workload)]));
    pools.set(contender.name, { ...pool, calls });
    await warmUp(contender.name, calls, threads);
  }
  const perScenario = new Map(SCENARIOS.map((scenario) => [scenario.id, []]));
  for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
    for (const scenario of SCENARIOS) {
      const result = await measureScenario(scenario, pools, threads, roundIndex);
      perScenario.get(scenario.id).push(result);
      const ratio = result[GATED].perSecond / result[RAW].perSecond;
      process.stdout.write(`${threads} thread(s), round ${roundIndex + 1}/${ROUNDS}, ${scenario.label}: raw ${Math.round(result[RAW].perSecond)}/s, GatedPool ${Math.round(result[GATED].perSecond)}/s (${ratio.toFixed(3)})\n`);
    }
  }
  for (const { close } of pools.values()) await close();
  for (const scenario of SCENARIOS) results.push(summarize(scenario, threads, perScenario.get(scenario.id)));
}

const mainLabel = THREAD_CPU ? 'main µs/task' : 'process µs/task (no thread CPU)';
for (const threads of SIZES) {
  console.log(`\n${threads} thread(s): tasks/s and ratio to raw Piscina (median of rounds, min–max); ${mainLabel} and its ratio to raw; whole-process µs/task`);
  const rows = [];
  for (const result of results.filter((r) => r.threads === threads)) {
    for (const [name, c] of Object.entries(result.contenders)) {
      const target = name === GATED ? `${result.gatedTargets.throughputMet ? 'ok' : 'MISS'} ≥${result.gatedTargets.throughputRatioMin} / ${result.gatedTargets.mainCpuMet ? 'ok' : 'MISS'} ≤${result.gatedTargets.mainCpuRatioMax}` : '';
      rows.push([result.label, name, c.perSecond, `${c.ratio} (${c.ratioMin}–${c.ratioMax})`, c.mainCpuMicrosPerTask, `${c.mainCpuRatio} (${c.mainCpuRatioMin}–${c.mainCpuRatioMax})`, c.processCpuMicrosPerTask, c.bound, target]);
    }
  }
  printTable(['scenario', 'pool', 'tasks/s', '× raw', mainLabel, 'CPU × raw', 'process µs/task', 'bound', 'GatedPool targets (rate / CPU)'], rows);
}

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const report = {
  node: process.version,
  cpus: CPUS,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  date: new Date().toISOString(),
  quick: QUICK,
  rounds: ROUNDS,
  benchOptions: BENCH_OPTIONS,
  mainCpuSource: MAIN_CPU_SOURCE,
  targets: TARGETS,
  contenders: CONTENDERS.map((c) => c.name),
  results,
};
writeFileSync(new URL('./results/overhead.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
console.log('\nwrote bench/results/overhead.json');
