/**
 * Checks, at construction, that a worker can be started with the flags the user gave
 * (`execArgv`, and `NODE_OPTIONS` in `env`), without starting one.
 *
 * Why here: Node refuses such flags only inside `new Worker()`, synchronously. Piscina calls it
 * from `run()` for a pool with no worker yet (`minThreads: 0`), after it has queued the task: the
 * task stays in Piscina's queue, and `close()` or `destroy()` later rejects a promise nobody holds
 * (an unhandled rejection, which ends the process). Refused up front, no task ever gets there.
 *
 * How: a `Worker` is constructed with `workerData` that cannot be cloned. Node parses the flags
 * first (`ERR_WORKER_INVALID_EXEC_ARGV`), then posts the start message holding `workerData`,
 * which throws a `DataCloneError`, and only after that starts the thread: with valid flags no
 * thread starts and no preload (`--import`, `--require`) runs. `test/bad-input.test.ts` checks
 * that no preload runs, so a Node that changed that order is caught.
 */
import { Worker, SHARE_ENV } from 'node:worker_threads';

/** Not cloneable: the probe never gets as far as starting a thread. */
const UNCLONEABLE = (): void => undefined;

/**
 * Flag sets found good (a probed `Worker` is never collected: ~27 KiB each, measured), so that a
 * program making many pools with the same flags probes once. Bounded.
 */
const good = new Set<string>();
const MAX_GOOD = 64;

/**
 * Throws a `RangeError` naming `options.execArgv` (or `options.env` for its `NODE_OPTIONS`) when
 * Node would refuse to start a worker with them. Does nothing when neither is given.
 */
export function checkWorkerFlags(execArgv: readonly string[] | undefined, env: Record<string, unknown> | typeof SHARE_ENV | undefined): void {
  if (execArgv === undefined && env === undefined) return;
  const nodeOptions = env === undefined || env === SHARE_ENV ? process.env.NODE_OPTIONS : (env as Record<string, unknown>).NODE_OPTIONS;
  const key = JSON.stringify([execArgv ?? null, nodeOptions ?? null]);
  if (good.has(key)) return;
  try {
    // The probe's own Worker: never started (see above).
    new Worker('', { eval: true, execArgv: execArgv as string[] | undefined, env: env as NodeJS.Dict<string> | undefined, workerData: UNCLONEABLE, stdout: true, stderr: true });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') {
      if (good.size >= MAX_GOOD) good.clear();
      good.add(key);
      return;
    }
    const message = (error as Error).message;
    if (message.includes('NODE_OPTIONS')) {
      throw new RangeError(`options.env has a NODE_OPTIONS a worker cannot start with, got ${JSON.stringify((env as Record<string, unknown>).NODE_OPTIONS)}: ${message}`, { cause: error });
    }
    throw new RangeError(`options.execArgv has flags a worker cannot start with, got ${JSON.stringify(execArgv)}: ${message}`, { cause: error });
  }
}
