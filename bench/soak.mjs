// Soak: SOAK_SECONDS (default 600) of mixed load with pressure coming and going, in a fresh memory
// cgroup of SOAK_LIMIT_MIB (default 384), GatedPool with 4 threads (bench/soak-run.mjs). The
// gate's own memory — the main isolate's live heap after a full GC, the workers' live heaps, the
// queue and ledger — is sampled every 10 s and must stay flat. Needs root (skips with the reason
// otherwise). Writes bench/results/soak.json. Run after `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cgroupSupport, createCgroup, removeCgroup } from './lib/cgroup.mjs';
import { spawn } from 'node:child_process';

const MiB = 2 ** 20;
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const LIMIT = Number(process.env.SOAK_LIMIT_MIB ?? 384) * MiB;
const out = new URL('./results/soak.json', import.meta.url);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const support = cgroupSupport();
if (!support.ok) {
  console.log(`soak skipped: ${support.reason}`);
  writeFileSync(out, `${JSON.stringify({ skipped: support.reason }, null, 2)}\n`);
  process.exit(0);
}
const cgroup = createCgroup(support.location, LIMIT, 'soak');
try {
  const script = fileURLToPath(new URL('./soak-run.mjs', import.meta.url));
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup.dir, process.execPath, '--expose-gc', script, String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  child.stdout.on('data', (chunk) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      last = line;
      if (!line.includes('"done"')) console.log(line);
    }
  });
  const code = await new Promise((resolve) => child.on('close', (exitCode, signal) => resolve(exitCode ?? signal)));
  const result = last.startsWith('{') && last.includes('"done"') ? JSON.parse(last) : undefined;
  const summary = { date: new Date().toISOString(), node: process.version, seconds: SECONDS, limit: LIMIT, exit: code, oomKills: cgroup.oomKills(), peak: cgroup.peak(), ...(result ?? {}) };
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`soak: exit ${code}, oom_kill ${summary.oomKills}, peak ${Math.round((summary.peak ?? 0) / MiB)} MiB, ${result ? `${result.submitted} submitted, ${result.outcomes.completed} completed` : 'no result'}`);
} finally {
  await removeCgroup(cgroup);
}
