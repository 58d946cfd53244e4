/**
 * The dispatcher: gets each admitted task into Piscina and onto the worker the gate chose, and
 * nudges onto the worker asked for. It owns Piscina's load balancer, the tasks parked in Piscina's
 * queue (for a spawn, or waiting ahead for the next free worker), and the tasks Piscina queued
 * without asking the balancer. The pool keeps the bookkeeping of what a placement means
 * (reservations on the worker, counters, events); the dispatcher tells it when one happens.
 */
import type { Piscina } from 'piscina';
import type { Board } from '../readings/board.js';
import type { CollectEnvelope, TaskEnvelope } from './envelope.js';
import { ParkingSpot, type ParkedFor } from './parking.js';
import { PullBack } from './pull-back.js';
import type { Task } from './task.js';
import type { TrackedWorker, WorkerRegistry } from './workers.js';

/** The part of Piscina's worker view the balancer reads. */
export interface PiscinaWorkerView {
  readonly id: number;
  readonly currentUsage: number;
}

/** Where a task is sent: a worker by thread id, a worker started for it, or the next that frees. */
export type DispatchTarget = number | 'spawn' | 'next';

/** What the dispatcher reports to the pool. */
export interface DispatchHooks {
  /** The balancer put `task` on the worker `workerId` (`parkedFor`: what it had been parked for). */
  placed(task: Task, workerId: number, parkedFor: ParkedFor | undefined): void;
  /** Piscina answered for `task`: its result envelope, or an error. */
  answered(task: Task, error: unknown, value: unknown): void;
  /** `task`, sent ahead, is about to be placed: it takes the need learned since it was sent. */
  relearn(task: Task): void;
}

/** The pool's settings the envelopes carry. */
export interface DispatchSettings {
  /** The user's task module. */
  filename: string;
  highWater: number;
  maxWaitMs: number;
  concurrentTasksPerWorker: number;
  /** Whether the process scope is watched (then tasks with a need publish their busy period). */
  processWatched: boolean;
}

/** What `Piscina.run()` is being called for: a task (`undefined` for a nudge), and whether the balancer has seen it. */
interface Dispatching {
  task: Task | undefined;
  target: DispatchTarget;
  placed: boolean;
}

export class Dispatcher {
  readonly #piscina: Piscina;
  readonly #board: Board;
  readonly #workers: WorkerRegistry;
  readonly #settings: DispatchSettings;
  readonly #hooks: DispatchHooks;
  readonly #parking: ParkingSpot;
  /** What `Piscina.run()` is being called for right now. */
  #dispatching: Dispatching | undefined;
  /**
   * Tasks Piscina queued without asking the balancer during `run()` (it does when its own queue
   * is not empty), oldest first. Piscina's queue is FIFO, so the next unknown task it offers is
   * the first of these. Without this, such a task was placed with none of the gate's bookkeeping,
   * and died when its worker — idle to the gate — was recycled.
   */
  readonly #unseen: Task[] = [];
  /**
   * How many tasks may wait ahead in Piscina's queue: one per worker, so workers that free at the
   * same moment each start one at once, but at most two. Piscina puts a queued task it offered and
   * the balancer declined back at the tail of its queue; with two waiting ahead, the one declined is
   * the only one left, so their order holds.
   */
  readonly #aheadLimit: number;

  constructor(piscina: Piscina, board: Board, workers: WorkerRegistry, settings: DispatchSettings, hooks: DispatchHooks) {
    this.#piscina = piscina;
    this.#board = board;
    this.#workers = workers;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#parking = new ParkingSpot(settings.maxWaitMs);
    this.#aheadLimit = Math.min(2, piscina.maxThreads);
  }

  /** Tasks waiting ahead for the next free worker (held, to the caller). */
  get waitingAhead(): number {
    return this.#parking.waitingAhead;
  }

  /** Whether one more worker may be started for a task now: nothing is parked and `maxThreads` allows. */
  canSpawn(): boolean {
    return this.#parking.empty && this.#piscina.threads.length < this.#piscina.maxThreads;
  }

  /** Whether one more task may be sent ahead: nothing parked for a spawn, fewer than the limit ahead, nothing queued unseen. */
  roomAhead(): boolean {
    return this.#unseen.length === 0 && this.#parking.roomAhead(this.#aheadLimit);
  }

  /** Hands an admitted task to Piscina for `target`. Its answer goes to `hooks.answered`. */
  send(task: Task, target: DispatchTarget): void {
    // The board goes along (a SharedArrayBuffer: ~50 µs to post) only to a worker that may not have
    // joined it: a given one without a slot, one being started, or — for the next free worker —
    // when some worker has not joined yet.
    const known = typeof target === 'number' ? this.#board.slotOf(target) !== -1 : target === 'next' && this.#workers.allOnBoard();
    const envelope: TaskEnvelope = {
      kind: 'task',
      filename: this.#settings.filename,
      name: task.name,
      input: task.input,
      board: known ? undefined : this.#board.buffer,
      highWater: this.#settings.highWater,
      credit: this.#settings.processWatched && task.need + task.external > 0,
      offHeap: task.external > 0,
    };
    const signal = typeof target === 'number' ? task.signal : this.#parking.prepare(task, target);
    const dispatching: Dispatching = { task, target, placed: false };
    this.#dispatching = dispatching;
    let result: Promise<unknown>;
    try {
      result = this.#piscina.run(envelope, { transferList: task.transferList as never, ...(signal ? { signal } : {}) });
    } finally {
      this.#dispatching = undefined;
    }
    if (!dispatching.placed) this.#unseen.push(task);
    result.then(
      (value) => this.#hooks.answered(task, undefined, value),
      (error: unknown) => this.#hooks.answered(task, error, undefined),
    );
  }

  /** Sends a nudge (a collect request) to one worker through Piscina, placed by the balancer. */
  nudge(worker: TrackedWorker): Promise<unknown> {
    const envelope: CollectEnvelope = { kind: 'collect', board: this.#board.slotOf(worker.id) === -1 ? this.#board.buffer : undefined };
    // A nudge runs on its worker or not at all: one Piscina cannot place now (the worker is gone
    // from its list, say, being reaped) is withdrawn rather than left in Piscina's queue, where
    // the tasks sent after it would wait unseen by the balancer.
    const withdraw = new PullBack();
    const dispatching: Dispatching = { task: undefined, target: worker.id, placed: false };
    this.#dispatching = dispatching;
    try {
      const answer = this.#piscina.run(envelope, { signal: withdraw });
      if (!dispatching.placed) withdraw.abort();
      return answer;
    } finally {
      this.#dispatching = undefined;
    }
  }

  /**
   * Pulls parked tasks back when nothing will place them: the pool has lost every worker, or a
   * worker is free that did not take the tasks waiting ahead (see `ParkingSpot.pullBackIfStranded`).
   */
  pullBackIfStranded(anyFree: boolean): void {
    if (this.#parking.empty) return;
    // Piscina's thread list is built on each call; a tracked worker already says it is not empty.
    const threads = this.#workers.size > 0 ? this.#workers.size : this.#piscina.threads.length;
    this.#parking.pullBackIfStranded(threads, anyFree);
  }

  /**
   * Piscina answered for `task`: forget it here. Returns what it had been parked for when it was
   * pulled back (it never ran and goes back to the held queue), else `undefined`.
   */
  forget(task: Task, error: unknown): ParkedFor | undefined {
    const unseen = this.#unseen.length > 0 ? this.#unseen.indexOf(task) : -1;
    if (unseen !== -1) this.#unseen.splice(unseen, 1);
    return this.#parking.finished(task, error, task.worker !== undefined);
  }

  /** Stops the timers (the pool is shutting down). */
  close(): void {
    this.#parking.close();
  }

  /** Piscina's load balancer: puts each task on the worker the gate chose. */
  balance(piscinaTask: { taskId: number }, views: readonly PiscinaWorkerView[]): PiscinaWorkerView | null {
    const dispatching = this.#dispatching;
    // Piscina may first offer a parked task while `run()` is called for another one.
    const parked = this.#parking.lookup(piscinaTask.taskId);
    if (!parked && dispatching && dispatching.task === undefined) {
      const view = views.find((candidate) => candidate.id === dispatching.target);
      dispatching.placed = view !== undefined;
      return view ?? null;
    }
    // With tasks in its own queue Piscina queues a new one without asking; it offers them later,
    // oldest first, with no `run()` under way: those are the unseen ones, in order.
    let task = parked;
    if (!task && dispatching?.task) {
      task = dispatching.task;
      dispatching.placed = true;
    } else if (!task) {
      task = this.#unseen.shift();
    }
    if (!task) return views.find((view) => view.currentUsage < this.#settings.concurrentTasksPerWorker) ?? null;
    const given = dispatching?.task === task ? dispatching.target : undefined;
    if (given === undefined) this.#hooks.relearn(task);
    const target = typeof given === 'number' || given === 'spawn' ? given : this.#workers.choosePlacement(views, task.need);
    const chosen = typeof target === 'number' ? views.find((view) => view.id === target) : undefined;
    if (!chosen) {
      this.#parking.park(task, piscinaTask.taskId);
      return null;
    }
    this.#hooks.placed(task, chosen.id, this.#parking.placed(task, piscinaTask.taskId));
    return chosen;
  }
}
