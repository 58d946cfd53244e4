/**
 * Piscina's `idleTimeout`, kept by the pool: a worker above `minThreads` that has run nothing for
 * `idleTimeout` ms is terminated — unless a held task can use it (see `ReaperHooks.keeps`).
 * Piscina keeps a worker busy as long as its own queue has work; heapgate holds that work itself,
 * so to Piscina the worker looks idle between tasks, and with Piscina's default (0) it was stopped
 * at once, to be started again for the next task the gate admitted (measured on the seed program:
 * 15 worker starts for 12 jobs on 2 running at a time, a quarter more CPU than Piscina). Piscina
 * is given `idleTimeout: Infinity`; this is the only place workers are reaped for idleness.
 */
import type { TrackedWorker, WorkerRegistry } from './workers.js';

/** What the reaper needs from the pool. */
export interface ReaperHooks {
  /** Whether a held task can use this idle worker (it is kept, however long it idles). */
  readonly keeps: (worker: TrackedWorker) => boolean;
  /** Piscina's `minThreads`. */
  readonly minThreads: number;
  /** Piscina's `maxThreads`. */
  readonly maxThreads: number;
  /** A worker is being stopped for idleness. */
  readonly onReap: (worker: TrackedWorker) => void;
}

export class IdleReaper {
  readonly #idleTimeout: number;
  readonly #workers: WorkerRegistry;
  readonly #hooks: ReaperHooks;
  /** When each idle worker was first seen idle (`performance.now()`). */
  readonly #idleSince = new Map<TrackedWorker, number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;

  /** Piscina's `idleTimeout` as the user gave it (or Piscina's default), ms. */
  get idleTimeout(): number {
    return this.#idleTimeout;
  }

  constructor(idleTimeout: number, workers: WorkerRegistry, hooks: ReaperHooks) {
    this.#idleTimeout = idleTimeout;
    this.#workers = workers;
    this.#hooks = hooks;
  }

  /** Looks at the workers again: call when a task or nudge ended, a worker started, or the held queue may have emptied. */
  update(): void {
    // Never anything to reap: the common case (minThreads = maxThreads) costs one compare per call.
    if (this.#stopped || this.#idleTimeout === Infinity || this.#hooks.minThreads >= this.#hooks.maxThreads) return;
    // Every worker busy and none was idle: nothing to look at (the steady state under load).
    if (this.#idleSince.size === 0 && this.#workers.idleCount() === 0) return;
    // Nothing above minThreads now.
    // Counted on ready workers not being stopped: workers still starting are never idle here.
    if (this.#workers.keptCount() <= this.#hooks.minThreads) {
      if (this.#idleSince.size > 0) this.#idleSince.clear();
      return;
    }
    const now = performance.now();
    let earliest = Infinity;
    for (const worker of this.#workers.idleWorkers()) {
      if (this.#hooks.keeps(worker)) {
        this.#idleSince.delete(worker);
        continue;
      }
      let since = this.#idleSince.get(worker);
      if (since === undefined) {
        since = now;
        this.#idleSince.set(worker, since);
      }
      earliest = Math.min(earliest, since);
    }
    for (const worker of this.#idleSince.keys()) if (!this.#workers.isIdle(worker)) this.#idleSince.delete(worker);
    if (earliest < Infinity) this.#arm(earliest + this.#idleTimeout);
  }

  /** A task was placed on `worker`: its idleness, if it was idle, ends now. */
  busy(worker: TrackedWorker): void {
    if (this.#idleSince.size > 0) this.#idleSince.delete(worker);
  }

  /** Stops reaping (the pool is closing: Piscina stops the workers). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#idleSince.clear();
  }

  #arm(at: number): void {
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#reap(), Math.max(0, at - performance.now()));
    // Reaping never keeps the process alive (Piscina's idle timer does not either).
    this.#timer.unref();
  }

  #reap(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#stopped) return;
    const now = performance.now();
    // Longest idle first, while above minThreads.
    const due = [...this.#idleSince].filter(([worker, since]) => this.#workers.isIdle(worker) && !this.#hooks.keeps(worker) && now - since >= this.#idleTimeout).sort((a, b) => a[1] - b[1]);
    let threads = this.#workers.keptCount();
    for (const [worker] of due) {
      if (threads <= this.#hooks.minThreads) break;
      this.#idleSince.delete(worker);
      this.#workers.retire(worker, 'reaped');
      this.#hooks.onReap(worker);
      threads--;
    }
    this.update();
  }
}
