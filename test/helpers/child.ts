// Runs a fixture script in its own Node process (the same Node binary as the tests) and parses the
// last JSON line it prints. Processes that can die (abort, OOM) never take the test runner with them.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildResult<T> {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout parsed as JSON, when there is one. */
  json: T | undefined;
}

/**
 * Runs `fixtures/<script>`. With `cgroupDir`, the process starts inside that cgroup: a shell writes
 * its own pid to `cgroup.procs` and then becomes Node, so every byte Node uses is charged there.
 */
export function runFixture<T = Record<string, unknown>>(script: string, args: string[] = [], execArgv: string[] = [], timeoutMs = 90_000, cgroupDir?: string): Promise<ChildResult<T>> {
  const path = fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url));
  const command = [process.execPath, ...execArgv, path, ...args];
  const [file, argv] = cgroupDir === undefined ? [process.execPath, command.slice(1)] : ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroupDir, ...command]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let json: T | undefined;
      try {
        json = last.startsWith('{') ? (JSON.parse(last) as T) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** How a batch of tasks settled (see fixtures/outcomes.mjs). */
export interface Outcomes {
  submitted: number;
  settled: number;
  resolved: number;
  rejected: Record<string, number>;
}
