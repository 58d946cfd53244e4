// Runs one contender (bench/lib/contender.mjs) in its own process — inside a fresh memory cgroup
// when `cgroup` support is given — and collects what it streams: samples, worker deaths, the
// result, and how the process ended (exit code, signal, kernel OOM kills).
import { fileURLToPath } from 'node:url';
import { createCgroup, removeCgroup, spawnNode } from './cgroup.mjs';

const script = fileURLToPath(new URL('./contender.mjs', import.meta.url));

/**
 * @param {object} config the contender's config (see contender.mjs)
 * @param {{ location?: object, limit?: number, onSample?: (sample: object) => void }} where
 */
export async function runContender(config, { location, limit, onSample } = {}) {
  const cgroup = location && limit ? createCgroup(location, limit, config.contender) : undefined;
  const run = { samples: [], deaths: [], result: undefined, exit: '', oomKills: 0, peak: undefined, stderr: '' };
  const started = performance.now();
  try {
    const env = { ...process.env, HEAPGATE_IN_CGROUP: cgroup ? '1' : '0', HEAPGATE_LIMIT: String(limit ?? '') };
    const child = spawnNode(script, [JSON.stringify(config)], cgroup?.dir, env);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line);
        if (message.type === 'sample') {
          run.samples.push(message);
          onSample?.(message);
        } else if (message.type === 'death') {
          if (run.deaths.length === 0) run.deaths.push(message);
        } else if (message.type === 'result') {
          run.result = message;
        }
      }
    });
    child.stderr.on('data', (chunk) => (run.stderr = (run.stderr + chunk).slice(-4000)));
    const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
    const t = Math.round(performance.now() - started);
    if (cgroup) {
      run.oomKills = cgroup.oomKills();
      run.peak = cgroup.peak();
    }
    if (signal === 'SIGKILL' || run.oomKills > 0) {
      run.exit = `killed by the kernel (SIGKILL, oom_kill ${run.oomKills})`;
      run.deaths.push({ t: run.samples.at(-1)?.t ?? t, what: 'kernel OOM kill' });
    } else if (code === 134 || signal === 'SIGABRT') {
      run.exit = 'aborted: JavaScript heap out of memory';
      run.deaths.push({ t: run.samples.at(-1)?.t ?? t, what: 'heap out of memory: process aborted' });
    } else {
      run.exit = code === 0 ? 'alive' : `exit ${code}`;
    }
    return run;
  } finally {
    if (cgroup) await removeCgroup(cgroup);
  }
}
