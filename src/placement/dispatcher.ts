/**
 * Hands placed tasks to Piscina, onto the worker the gate chose, through Piscina's load balancer.
 *
 * Invariant: Piscina holds no task of ours in its queue, except tasks sent each to a worker being
 * started for it (spawns; Piscina starts one worker per queued task, up to `maxThreads`, as it
 * does for a cold burst). While spawns are pending nothing is sent to a ready worker (Piscina
 * would queue it behind them, unseen by the balancer); the pool holds everything else. Each spawn
 * carries a withdrawal signal, so it can always be taken back: when a worker started for it dies
 * before it is ready, or when Piscina offers it to workers it does not fit.
 */
import { EventEmitter } from 'node:events';
import type { Piscina } from 'piscina';
import type { Task } from '../admission/task.js';
import type { TrackedWorker, WorkerRegistry } from './workers.js';

/** Task keys whose run options are kept (a key is a name and flags: few). */
const MAX_KEYS = 4096;

/** The part of Piscina's worker view the balancer reads. */
export interface PiscinaWorkerView {
  readonly id: number;
  /** Piscina's count of the worker's tasks (`Infinity` while it runs an abortable one). */
  readonly currentUsage?: number;
}

/** What the dispatcher reports to the pool. */
export interface DispatchHooks {
  /**
   * Piscina answered for a task placed on a worker: `failed` false with its result, or true with
   * what it was rejected with (any value, `undefined` included: a task may throw anything).
   */
  answered(task: Task, failed: boolean, payload: unknown): void;
  /** The spawn was placed on `worker` (by Piscina's drain, once a worker was ready for it). */
  placed(task: Task, worker: TrackedWorker): void;
  /** The spawn was taken back before it ran: it goes back to the head of the held queue. */
  withdrawn(task: Task): void;
}

/**
 * An abort signal shaped as Piscina's emitter form (`once('abort')`, `aborted`, `reason`): an
 * `AbortController`'s EventTarget listener costs Piscina more per task.
 */
class Withdrawal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  withdraw(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** A task sent to a worker being started for it. */
interface Spawn {
  task: Task;
  withdrawal: Withdrawal;
  /** Piscina's id for it, learned when the balancer first sees it. */
  piscinaId: number | undefined;
  /** Taken back on our side (not the user's abort): its rejection is not an answer. */
  withdrawn: boolean;
}

/** Sent synchronously through `Piscina.run()`: where the balancer must put it. */
type Target = { kind: 'worker'; id: number; placed: boolean } | { kind: 'spawn'; spawn: Spawn };

export class Dispatcher {
  readonly #piscina: Piscina;
  readonly #workers: WorkerRegistry;
  readonly #hooks: DispatchHooks;
  #target: Target | undefined;
  /** The target of {@link place}: one object, reused (the balancer reads it within `Piscina.run()`). */
  readonly #workerTarget: Extract<Target, { kind: 'worker' }> = { kind: 'worker', id: -1, placed: false };
  /** Spawns not placed yet, in the order sent (Piscina's queue order). */
  readonly #spawns = new Set<Spawn>();
  readonly #optionsByKey = new Map<string, { name: string }>();

  constructor(piscina: Piscina, workers: WorkerRegistry, hooks: DispatchHooks) {
    this.#piscina = piscina;
    this.#workers = workers;
    this.#hooks = hooks;
  }

  /** How many tasks wait in Piscina for workers being started for them. */
  get spawnCount(): number {
    return this.#spawns.size;
  }

  /** Whether tasks wait in Piscina for workers being started for them. */
  get spawning(): boolean {
    return this.#spawns.size > 0;
  }

  /** Runs `task` on `worker` now (the gate chose it; it is free). */
  place(task: Task, worker: TrackedWorker, key: string): void {
    const target = this.#workerTarget;
    target.id = worker.id;
    target.placed = false;
    const answer = this.#run(task.input, key, task.transferList, task.signal as AbortSignal | undefined, target);
    // The target is always among Piscina's ready workers (the registry holds only those), so it is
    // placed; were it not, Piscina would hold it, and nothing of ours may wait there unseen.
    if (!target.placed) throw new Error(`heapgate: internal error: worker ${worker.id} was not among Piscina's ready workers`);
    answer.then(
      (value) => this.#hooks.answered(task, false, value),
      (error: unknown) => this.#hooks.answered(task, true, error),
    );
  }

  /** Sends `task` to a worker Piscina starts for it (only while Piscina has fewer than `maxThreads` workers). */
  spawn(task: Task, key: string): void {
    const spawn: Spawn = { task, withdrawal: new Withdrawal(), piscinaId: undefined, withdrawn: false };
    this.#spawns.add(spawn);
    // The user's abort reaches Piscina through this signal (Piscina stops the worker if it runs).
    task.abortInPiscina = (reason) => spawn.withdrawal.withdraw(reason);
    let answer: Promise<unknown>;
    try {
      answer = this.#run(task.input, key, task.transferList, spawn.withdrawal as unknown as AbortSignal, { kind: 'spawn', spawn });
    } catch (error) {
      // Piscina could not start a worker for it: nothing is pending for this spawn.
      this.#spawns.delete(spawn);
      task.abortInPiscina = undefined;
      throw error;
    }
    answer.then(
      (value) => this.#spawnAnswered(spawn, false, value),
      (error: unknown) => this.#spawnAnswered(spawn, true, error),
    );
  }

  /** Takes the latest pending spawn back before it runs (a worker being started died). */
  withdrawSpawn(): void {
    let latest: Spawn | undefined;
    for (const spawn of this.#spawns) if (!spawn.withdrawn) latest = spawn;
    if (!latest) return;
    latest.withdrawn = true;
    latest.withdrawal.withdraw('worker start failed');
  }

  /**
   * Sends a nudge (collect garbage, publish) to an idle worker; settles when it has answered.
   * `undefined` when it cannot be sent now (a spawn is pending, or Piscina did not take it).
   */
  nudge(worker: TrackedWorker, key: string): Promise<unknown> | undefined {
    if (this.#spawns.size > 0) return undefined;
    const withdrawal = new Withdrawal();
    const target: Target = { kind: 'worker', id: worker.id, placed: false };
    const answer = this.#run(undefined, key, undefined, withdrawal as unknown as AbortSignal, target);
    if (target.placed) return answer;
    withdrawal.withdraw('not placed');
    answer.catch(() => undefined);
    return undefined;
  }

  /** Piscina's load balancer. */
  balance(piscinaTask: { taskId: number }, views: readonly PiscinaWorkerView[]): PiscinaWorkerView | null {
    const target = this.#target;
    if (target?.kind === 'worker') {
      for (const view of views) {
        if (view.id === target.id) {
          target.placed = true;
          return view;
        }
      }
      return null;
    }
    if (target?.kind === 'spawn') {
      target.spawn.piscinaId = piscinaTask.taskId;
      return null;
    }
    // Piscina's drain, offering what it holds: only ever spawns.
    let spawn: Spawn | undefined;
    for (const pending of this.#spawns) {
      if (pending.piscinaId === piscinaTask.taskId) {
        spawn = pending;
        break;
      }
    }
    if (!spawn || spawn.withdrawn) return null;
    const chosen = this.#workers.choosePlacement(views, spawn.task.heap, spawn.task.exclusive);
    const view = chosen === undefined ? undefined : views.find((candidate) => candidate.id === chosen);
    const worker = chosen === undefined ? undefined : this.#workers.get(chosen);
    if (!view || !worker) {
      // A worker that frees while the new one starts, and cannot take it: taken back rather than
      // left for Piscina to offer to every worker (it would start more workers meanwhile).
      spawn.withdrawn = true;
      spawn.withdrawal.withdraw('not placed');
      return null;
    }
    this.#spawns.delete(spawn);
    this.#hooks.placed(spawn.task, worker);
    return view;
  }

  #run(input: unknown, key: string, transferList: Task['transferList'], signal: AbortSignal | undefined, target: Target): Promise<unknown> {
    this.#target = target;
    try {
      // The common case (no transfer list, no signal) reuses one options object per key.
      if (!signal && !transferList) return this.#piscina.run(input, this.#plainOptions(key));
      return this.#piscina.run(input, signal ? { name: key, transferList: transferList as never, signal } : { name: key, transferList: transferList as never });
    } finally {
      this.#target = undefined;
    }
  }

  #plainOptions(key: string): { name: string } {
    let options = this.#optionsByKey.get(key);
    if (!options) {
      if (this.#optionsByKey.size >= MAX_KEYS) this.#optionsByKey.clear();
      options = Object.freeze({ name: key });
      this.#optionsByKey.set(key, options);
    }
    return options;
  }

  #spawnAnswered(spawn: Spawn, failed: boolean, payload: unknown): void {
    this.#spawns.delete(spawn);
    if (spawn.withdrawn && spawn.task.worker === undefined) this.#hooks.withdrawn(spawn.task);
    else this.#hooks.answered(spawn.task, failed, payload);
  }
}
