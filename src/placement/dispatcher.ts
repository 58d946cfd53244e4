/**
 * Hands placed tasks to the worker the gate chose, on the pool's own line to it (see
 * `worker-port.ts`), and has Piscina start workers for tasks no ready worker can take.
 *
 * Invariants: Piscina carries no task of ours, and its queue is always empty. It carries only a
 * worker's end of its line (once per worker, once the worker is tracked and ready; Piscina's
 * balancer gives it to that very worker). To start a worker the dispatcher sends Piscina a start
 * request that no worker is offered (Piscina queues it and starts a worker, as it does for a
 * cold burst) and withdraws it at once (Piscina drops it from its queue; the worker goes on
 * starting). The task it was sent for waits here, as a spawn, until a worker Piscina started is
 * ready, or a worker that can take it frees, and then goes to that worker on its line.
 */
import { EventEmitter } from 'node:events';
import type { Transferable, Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Task } from '../admission/task.js';
import { connectKey } from '../worker/task-key.js';
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

/** An abort signal in Piscina's emitter form (`once('abort')`, `aborted`, `reason`), fired at once. */
class Withdrawal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  withdraw(): void {
    this.aborted = true;
    this.reason = 'start request withdrawn';
    this.emit('abort');
  }
}

export class Dispatcher {
  readonly #piscina: Piscina;
  readonly #hooks: DispatchHooks;
  readonly #poolId: number;
  /** Lines handed over through Piscina and not yet given to their worker: the worker's id by message name. */
  readonly #connecting = new Map<string, number>();
  /** Task keys of the spawns, in the order sent (the first worker ready takes the first). */
  readonly #spawns = new Map<Task, string>();
  /** Set only while the dispatcher's own start request is inside `Piscina.run()`. */
  #starting = false;
  readonly #startKey: string;

  constructor(piscina: Piscina, poolId: number, startKey: string, hooks: DispatchHooks) {
    this.#piscina = piscina;
    this.#poolId = poolId;
    this.#startKey = startKey;
    this.#hooks = hooks;
  }

  /**
   * Hands a tracked worker its end of its line, through Piscina, once (what is sent on the line
   * before it arrives waits in the channel). The worker must be among Piscina's ready workers.
   */
  connect(worker: TrackedWorker): void {
    const handover = worker.port.takeWorkerEnd();
    if (!handover) return;
    const name = connectKey(this.#poolId, worker.id);
    this.#connecting.set(name, worker.id);
    // Should the worker die first, what was sent on its line fails through `failSent`.
    this.#piscina.run(handover, { name, transferList: [handover.port] as never }).catch(() => undefined);
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

  /**
   * Has Piscina start a worker for `task` (only while Piscina has fewer than `maxThreads` workers).
   * Returns the thread Piscina started.
   */
  spawn(task: Task, key: string): Worker | undefined {
    const thread = this.startWorker();
    this.#spawns.set(task, key);
    return thread;
  }

  /**
   * Has Piscina start a worker for no task in particular (only while Piscina has fewer than
   * `maxThreads` workers): it is ready for the tasks the pool holds. Returns the thread Piscina
   * started. Throws when Piscina could not start it.
   */
  startWorker(): Worker | undefined {
    const before = new Set(this.#piscina.threads);
    const withdrawal = new Withdrawal();
    this.#starting = true;
    let request: Promise<unknown>;
    try {
      request = this.#piscina.run(undefined, { name: this.#startKey, signal: withdrawal as never });
    } finally {
      this.#starting = false;
      // Even when starting the worker threw: Piscina had queued the request by then.
      withdrawal.withdraw();
    }
    request.catch(() => undefined);
    return this.#piscina.threads.find((thread) => !before.has(thread));
  }

  /**
   * A worker Piscina started is ready, or a worker freed: it takes the first spawn, if any (and
   * if `takes` says it can: a worker started for it always can).
   */
  workerReady(worker: TrackedWorker, takes: (task: Task) => boolean = () => true): void {
    for (const [task, key] of this.#spawns) {
      if (!takes(task)) return;
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
   * Piscina's load balancer. A line goes to its own worker (were that worker gone, to any: the
   * worker's runtime drops a line meant for another); a start request sent now, to none (Piscina
   * then starts a worker). Anything else (a start request Piscina kept) goes to any worker: it
   * does nothing there.
   */
  balance(task: { name?: unknown }, views: readonly PiscinaWorkerView[]): PiscinaWorkerView | null {
    if (this.#starting) return null;
    const target = typeof task.name === 'string' ? this.#connecting.get(task.name) : undefined;
    const view = (target === undefined ? undefined : views.find((candidate) => candidate.id === target)) ?? views[0];
    if (view && target !== undefined) this.#connecting.delete(task.name as string);
    return view ?? null;
  }
}
