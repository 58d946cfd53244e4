/**
 * Hands placed tasks to the worker the gate chose, on the pool's own line to it (see
 * `worker-port.ts`), and has Piscina start workers for tasks no ready worker can take.
 *
 * Invariant: Piscina holds no task of ours. To start a worker the dispatcher sends Piscina a
 * start request (a no-op task no ready worker is offered: Piscina queues it and starts a worker,
 * as it does for a cold burst); the task it was sent for waits here, as a spawn, until a worker
 * Piscina started is ready, and then goes to that worker on its line. Piscina's queue holds only
 * start requests, and its drain gives each to any worker (it does nothing there).
 */
import type { Transferable } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Task } from '../admission/task.js';
import { movedValue } from './movable.js';
import type { TrackedWorker } from './workers.js';

/** The part of Piscina's worker view the balancer reads. */
export interface PiscinaWorkerView {
  readonly id: number;
}

/** What the dispatcher reports to the pool. */
export interface DispatchHooks {
  /**
   * A task placed on a worker answered: `failed` false with its result, or true with what it
   * failed with (any value, `undefined` included: a task may throw anything).
   */
  answered(task: Task, failed: boolean, payload: unknown): void;
  /** A spawn went onto `worker`, a worker started for it (its answer comes through `answered`). */
  placed(task: Task, worker: TrackedWorker): void;
  /** The spawn was taken back before it ran: it goes back to the head of the held queue. */
  withdrawn(task: Task): void;
}

/** A nudge sent on a worker's line: settles `true` when the worker has answered, `false` when it is gone. */
export class Nudge {
  readonly settle: (answered: boolean) => void;

  constructor(settle: (answered: boolean) => void) {
    this.settle = settle;
  }
}

/** What a worker's line carries, handed back with its answer. */
export type Sent = Task | Nudge;

export class Dispatcher {
  readonly #piscina: Piscina;
  readonly #hooks: DispatchHooks;
  readonly #startKey: string;
  /** Task keys of the spawns, in the order sent (the first worker ready takes the first). */
  readonly #spawns = new Map<Task, string>();
  /** Set only while the dispatcher's own start request is inside `Piscina.run()`. */
  #starting = false;
  /** Options of every start request (one object, frozen). */
  readonly #startOptions: { name: string };

  constructor(piscina: Piscina, startKey: string, hooks: DispatchHooks) {
    this.#piscina = piscina;
    this.#startKey = startKey;
    this.#startOptions = Object.freeze({ name: startKey });
    this.#hooks = hooks;
  }

  /** Receives a worker line's answers (see `WorkerRegistry`). */
  readonly answer = (sent: Sent, failed: boolean, payload: unknown): void => {
    if (sent instanceof Nudge) sent.settle(!failed);
    else this.#hooks.answered(sent, failed, payload);
  };

  /** How many tasks wait for workers being started for them. */
  get spawnCount(): number {
    return this.#spawns.size;
  }

  /** Whether tasks wait for workers being started for them. */
  get spawning(): boolean {
    return this.#spawns.size > 0;
  }

  /**
   * Runs `task` on `worker` now (the gate chose it; it is free). Throws, sending nothing, when its
   * input or transfer list cannot be cloned.
   */
  place(task: Task, worker: TrackedWorker, key: string): void {
    let input = task.input;
    let transferList: readonly Transferable[] | undefined = task.transferList;
    const moved = movedValue(input);
    if (moved) {
      input = moved.value;
      transferList = transferList === undefined ? moved.transferList : [...transferList, ...moved.transferList];
    }
    worker.port.send(task, task.order, key, input, transferList);
  }

  /** Has Piscina start a worker for `task` (only while Piscina has fewer than `maxThreads` workers). */
  spawn(task: Task, key: string): void {
    this.#starting = true;
    let request: Promise<unknown>;
    try {
      request = this.#piscina.run(undefined, this.#startOptions);
    } finally {
      this.#starting = false;
    }
    // It does nothing; should its worker die, the spawn comes back through `workerGone`.
    request.catch(() => undefined);
    this.#spawns.set(task, key);
  }

  /** A worker Piscina started is ready: it takes the first spawn, if any. */
  workerReady(worker: TrackedWorker): void {
    for (const [task, key] of this.#spawns) {
      this.#spawns.delete(task);
      this.#hooks.placed(task, worker);
      try {
        this.place(task, worker, key);
      } catch (error) {
        this.#hooks.answered(task, true, error);
      }
      return;
    }
  }

  /** A spawn settled before any worker took it (its task was aborted, or the pool destroyed). */
  forgetSpawn(task: Task): boolean {
    return this.#spawns.delete(task);
  }

  /** Takes the latest spawn back before it runs (a worker being started died). */
  withdrawSpawn(): void {
    let latest: Task | undefined;
    for (const task of this.#spawns.keys()) latest = task;
    if (!latest) return;
    this.#spawns.delete(latest);
    this.#hooks.withdrawn(latest);
  }

  /** Sends a nudge (collect garbage, publish) to an idle worker; settles when it has answered. */
  nudge(worker: TrackedWorker, key: string): Promise<boolean> {
    return new Promise<boolean>((resolve) => worker.port.send(new Nudge(resolve), worker.placed, key, undefined, undefined));
  }

  /**
   * Piscina's load balancer: it is only ever offered start requests. The dispatcher's own request
   * is offered no worker (Piscina then queues it and starts one); Piscina's drain gives each
   * queued request to the first worker it offers, a worker being started first (it does nothing).
   */
  balance(_task: unknown, views: readonly PiscinaWorkerView[]): PiscinaWorkerView | null {
    if (this.#starting) return null;
    return views[0] ?? null;
  }
}
