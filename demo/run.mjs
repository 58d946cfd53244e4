// Runs one contender (contender.mjs) in its own process — inside a fresh memory cgroup when
// `location` and `limit` are given — and collects what it streams: samples, worker deaths, the
// result, and how the process ended (exit code, signal, kernel OOM kills). In a cgroup, the
// process's memory is read here, from outside, as each sample arrives; without one, the contender
// reports its own RSS.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createCgroup, removeCgroup, spawnNode } from '../bench/lib/cgroup.mjs';

const script = fileURLToPath(new URL('./contender.mjs', import.meta.url));

/**
 * @param {object} config the contender's config (see contender.mjs)
 * @param {{ location?: object, limit?: number, onSample?: (sample: object) => void }} where
 */
export async function runContender(config, { location, limit, onSample } = {}) {
  const cgroup = location && limit ? createCgroup(location, limit, config.contender) : undefined;
  const run = { samples: [], deaths: [], result: undefined, exit: '', oomKills: 0, peak: undefined, peakLive: 0, stderr: '' };
  // The child's clock (sample.t) against ours, to place a kill that no sample reports.
  let lastSampleAt = performance.now();
  // The peak of non-reclaimable memory, read every 10 ms (a memory.stat read is ~10 µs).
  const peakTracker = cgroup && setInterval(() => (run.peakLive = Math.max(run.peakLive, cgroup.nonReclaimable())), 10);
  try {
    const env = { ...process.env, HEAPGATE_LIMIT: String(limit ?? '') };
    const child = spawnNode(script, [JSON.stringify(config)], cgroup?.dir, env);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const message = JSON.parse(line);
      if (message.type === 'sample') {
        if (cgroup) {
          message.process = cgroup.usage();
          message.live = cgroup.nonReclaimable();
          run.peakLive = Math.max(run.peakLive, message.live);
        }
        lastSampleAt = performance.now();
        run.samples.push(message);
        onSample?.(message);
      } else if (message.type === 'death') {
        if (run.deaths.length === 0) run.deaths.push(message);
      } else if (message.type === 'result') {
        run.result = message;
      }
    });
    child.stderr.on('data', (chunk) => (run.stderr = (run.stderr + chunk).slice(-4000)));
    const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
    const endedAt = Math.round((run.samples.at(-1)?.t ?? 0) + performance.now() - lastSampleAt);
    if (cgroup) {
      run.oomKills = cgroup.oomKills();
      run.peak = cgroup.peak();
    }
    if (signal === 'SIGKILL' || run.oomKills > 0) {
      run.exit = `killed by the kernel (SIGKILL, oom_kill ${run.oomKills})`;
      run.deaths.push({ t: endedAt, what: 'kernel OOM kill' });
    } else if (code === 134 || signal === 'SIGABRT') {
      run.exit = 'aborted: JavaScript heap out of memory';
      run.deaths.push({ t: endedAt, what: 'heap out of memory: process aborted' });
    } else {
      run.exit = code === 0 ? 'alive' : `exit ${code}`;
    }
    return run;
  } finally {
    clearInterval(peakTracker);
    if (cgroup) await removeCgroup(cgroup);
  }
}
