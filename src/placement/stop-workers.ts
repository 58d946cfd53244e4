/**
 * Making sure workers Piscina is stopping do stop.
 *
 * A `terminate()` that reaches a worker while it is still starting (loading its modules) can be
 * lost: the worker then posts that it is ready and waits for work forever, and Piscina's
 * `destroy()` (and `close()`, which ends in it) waits for that worker's `exit` forever. Measured on
 * Node 24: about 1 in 15 pools destroyed right after a worker was started for a task that went to
 * another worker. A worker that is waiting for work stops at the next `terminate()`; so while
 * Piscina stops the pool, each thread that has not exited is terminated again every
 * {@link RETRY_MS} ms.
 */
import type { Worker } from 'node:worker_threads';

const RETRY_MS = 100;

/** Runs `stopping` (Piscina's destroy or close) and terminates again any of `threads` still alive meanwhile. */
export async function stopWorkers(threads: readonly Worker[], stopping: () => Promise<void>): Promise<void> {
  const alive = new Set<Worker>();
  for (const thread of threads) {
    if (thread.threadId < 0) continue;
    alive.add(thread);
    thread.once('exit', () => alive.delete(thread));
  }
  const retry = setInterval(() => {
    for (const thread of alive) void thread.terminate();
  }, RETRY_MS);
  try {
    await stopping();
  } finally {
    clearInterval(retry);
  }
}

/**
 * Calls `ended` once, when `thread` exits or after `waitMs` ms, whichever is first (a stopped
 * worker's memory comes back only as its thread ends; the wait is bounded should it never end).
 */
export function whenThreadEnds(thread: Worker, waitMs: number, ended: () => void): void {
  const done = (): void => {
    clearTimeout(timer);
    thread.off('exit', done);
    ended();
  };
  const timer = setTimeout(done, waitMs).unref();
  thread.once('exit', done);
}
