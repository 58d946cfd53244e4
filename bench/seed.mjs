// The seed program ("When is a leak not a leak?") side by side. A range server in this process
// (outside every cgroup) serves 32 KiB ranges; each job fetches SEED_COUNT of them (default 2048:
// 64 MiB, 16 requests in flight) into Buffers and builds a tar-like archive with Buffer.concat.
// SEED_JOBS jobs (default 12) are submitted at once. Each contender runs alone in its own child
// process in a fresh memory cgroup of SEED_LIMIT_MIB (default 576 MiB: a little less than 4 jobs at
// once need):
//   Piscina with maxThreads 1..4 (4 is bare Piscina as a user would size it; the fastest that
//   survives every round is the oracle); GatedPool, 4 threads, policy 'wait', with a declared
//   { heap, external } per job and with no estimate.
// SEED_ROUNDS rounds (default 3), each running every contender once. A contender survives when no
// round had an OOM kill and every job was done. Needs root (skips with the reason otherwise).
// Writes bench/results/seed.json. Run after `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { cgroupSupport } from './lib/cgroup.mjs';
import { runSeedContender } from '../test/fixtures/seed/contest.mjs';
import { startRangeServer } from '../test/fixtures/seed/server.mjs';

const MiB = 2 ** 20;
const RANGE_BYTES = 32 * 1024;
const COUNT = Number(process.env.SEED_COUNT ?? 2048);
const JOBS = Number(process.env.SEED_JOBS ?? 12);
const LIMIT = Number(process.env.SEED_LIMIT_MIB ?? 576) * MiB;
const ROUNDS = Number(process.env.SEED_ROUNDS ?? 3);
const MAX_WAIT_MS = 120_000;
const dataMiB = (COUNT * RANGE_BYTES) / MiB;
/** Responses plus archive plus the fetch machinery's own copies: 2.5 × the data off-heap. */
const DECLARED = { heapMiB: 16, externalMiB: Math.ceil(2.5 * dataMiB) };

const contenders = [
  ...[1, 2, 3, 4].map((threads) => ({
    name: threads === 4 ? 'bare Piscina, maxThreads 4' : `Piscina, maxThreads ${threads}`,
    sweep: true,
    config: { kind: 'piscina', threads },
  })),
  { name: "GatedPool, maxThreads 4, 'wait', declared", config: { kind: 'gated-declared', threads: 4, ...DECLARED } },
  { name: "GatedPool, maxThreads 4, 'wait', no estimate", config: { kind: 'gated-undeclared', threads: 4 } },
];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? undefined : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const results = {
  node: process.version,
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model },
  sizes: { rangeBytes: RANGE_BYTES, count: COUNT, dataMiB, jobs: JOBS, limit: LIMIT, declared: DECLARED, maxWaitMs: MAX_WAIT_MS },
  rounds: ROUNDS,
  contenders: [],
};
const out = new URL('./results/seed.json', import.meta.url);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const support = cgroupSupport();
if (!support.ok) {
  console.log(`seed benchmark skipped: ${support.reason}`);
  writeFileSync(out, `${JSON.stringify({ ...results, skipped: support.reason }, null, 2)}\n`);
  process.exit(0);
}

console.log(`seed program: ${JOBS} jobs × ${dataMiB} MiB, cgroup ${LIMIT / MiB} MiB, ${ROUNDS} rounds, ${results.machine.cpus} CPUs, Node ${process.version}`);
const server = await startRangeServer({ size: RANGE_BYTES });
const runs = contenders.map(() => []);
try {
  // Rounds interleave the contenders so that a slow spell of the machine hits all of them.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, { name, config }] of contenders.entries()) {
      const run = await runSeedContender(
        { ...config, url: server.url, count: COUNT, jobs: JOBS, maxWaitMs: MAX_WAIT_MS },
        { location: support.location, limit: LIMIT, timeoutMs: MAX_WAIT_MS + 60_000 },
      );
      const entry = {
        oomKills: run.oomKills,
        code: run.code,
        signal: run.signal,
        timedOut: run.timedOut,
        peak: run.peak,
        done: run.result?.done ?? 0,
        jobsEnded: run.jobsEnded,
        failed: run.result?.failed,
        elapsedMs: run.result?.elapsedMs,
        archives: run.result?.archives.length,
        // GatedPool's restarts of idle workers (full heaps, or a pool stuck on the process scope).
        recycled: run.result?.counters?.recycled,
      };
      runs[i].push(entry);
      const peak = entry.peak === undefined ? '?' : `${Math.round(entry.peak / MiB)} MiB (${(entry.peak / LIMIT).toFixed(2)})`;
      const outcome = run.result === undefined ? `died after ${run.jobsEnded} jobs` : `${entry.done}/${JOBS} done in ${entry.elapsedMs} ms, failed ${JSON.stringify(entry.failed)}${entry.recycled === undefined ? '' : `, workers recycled ${entry.recycled}`}`;
      console.log(`round ${round}  ${name}: oom_kill ${entry.oomKills}, exit ${entry.code} ${entry.signal ?? ''}, peak ${peak}, ${outcome}`);
    }
  }
} finally {
  await server.close();
}

for (const [i, { name, sweep, config }] of contenders.entries()) {
  const own = runs[i];
  const survived = own.every((run) => run.oomKills === 0 && run.code === 0 && run.done === JOBS);
  const times = own.map((run) => run.elapsedMs).filter((ms) => ms !== undefined);
  results.contenders.push({
    name,
    sweep: Boolean(sweep),
    kind: config.kind,
    threads: config.threads,
    survived,
    kills: own.reduce((sum, run) => sum + run.oomKills, 0),
    medianMs: survived ? median(times) : undefined,
    peak: Math.max(...own.map((run) => run.peak ?? 0)),
    runs: own,
  });
}
const oracle = results.contenders.filter((c) => c.sweep && c.survived).sort((a, b) => a.medianMs - b.medianMs)[0];
results.oracle = oracle === undefined ? undefined : { name: oracle.name, threads: oracle.threads, medianMs: oracle.medianMs };
results.survivingStatic = results.contenders.filter((c) => c.sweep && c.survived).map((c) => c.threads);
results.ratios = Object.fromEntries(
  results.contenders
    .filter((c) => c.kind !== 'piscina')
    .map((c) => [c.kind, c.survived && oracle !== undefined ? Number((c.medianMs / oracle.medianMs).toFixed(3)) : null]),
);

console.log('');
for (const c of results.contenders) {
  const time = c.survived ? `median ${c.medianMs} ms` : 'did not survive';
  console.log(`${c.name.padEnd(48)} ${c.survived ? 'survived' : 'KILLED/FAILED'} (kills ${c.kills}), ${time}, peak ${Math.round(c.peak / MiB)} MiB`);
}
console.log(`oracle: ${results.oracle ? `${results.oracle.name}, ${results.oracle.medianMs} ms` : 'none survived'}`);
console.log(`GatedPool time / oracle time: declared ${results.ratios['gated-declared']}, no estimate ${results.ratios['gated-undeclared']}`);
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
