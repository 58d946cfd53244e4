/**
 * One submitted task, from `run()` until it settles.
 *
 * States: `held` (in the pool's queue) → `running` (placed on a worker, or sent to a worker being
 * started for it) → `settled`; or straight from `new`/`held` to `settled` (refused, timed out,
 * aborted, closed). A `running` task goes back to `held` only when the spawn it was sent as is
 * taken back before any worker ran it.
 */
import type { Transferable } from 'node:worker_threads';
import type { MemoryPressureError } from '../errors.js';
import type { AbortSource, RunOptions } from '../options.js';
import type { TrackedWorker } from '../placement/workers.js';
import type { Charge } from '../accounting/ledger.js';
import type { Growth } from '../worker/growth-meter.js';

export interface Task {
  /** Its number in its pool: 1, 2, … in the order `run()` was called. */
  id: number;
  input: unknown;
  transferList: readonly Transferable[] | undefined;
  /** The export it calls. */
  name: string;
  /** Its module's file URL when it is not the pool's (a per-run `filename`). */
  file: string | undefined;
  /** What its memory need is learned under: its export name, with its module when not the pool's. */
  learnAs: string;
  /** Heap bytes needed, declared or learned: on its worker and in the process. */
  heap: number;
  /** Heap bytes counted in the main isolate: the declared heap need only. */
  main: number;
  /** Off-heap bytes, declared or learned: in the process only. */
  external: number;
  /** Its place in the queue: higher first (p-queue's `priority`). */
  priority: number;
  /** Where the need comes from. `none`: nothing declared or learned yet for its name. */
  estimate: 'declared' | 'learned' | 'none' | 'off';
  signal: AbortSource | undefined;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  /** The held queue's memory clock when it was held (see `HeldQueue`): its wait for memory counts from here. */
  heldMark: number;
  /** When it was put in the held queue (`performance.now()`); -1 when it never was. */
  heldAt: number;
  /** When `run()` took it (`performance.now()`; 0 when timing is not recorded). */
  submittedAt: number;
  /** When it went to a worker (`performance.now()`; 0 when timing is not recorded). */
  startedAt: number;
  state: 'new' | 'held' | 'running' | 'settled';
  /** What it reserved, from admission until it settles (released exactly once, by the ledger). */
  charge: Charge | undefined;
  /** The worker it runs on. */
  worker: TrackedWorker | undefined;
  /** Its order number on that worker (see the worker runtime's `started`). */
  order: number;
  /** Its name had no need known when it started: this run is measured to learn it (slow start). */
  learning: boolean;
  /** It runs alone on its worker: it has an abort signal (as in Piscina), or it is a learning run (nothing it could crowd, and measured only alone). */
  exclusive: boolean;
  /** Why it was last held, when memory pressure was the reason. */
  lastPressure: MemoryPressureError | undefined;
  /** At its last decision, the scope whose memory could not take it (whether or not it also waited for a worker); `undefined` when none. */
  waitsForMemory: 'main' | 'process' | 'worker' | undefined;
  /** Removes the pool's abort listener from `signal`. */
  unlisten: (() => void) | undefined;
  /** Its signal fired while it ran (an emitter signal has no `aborted` of its own to ask later). */
  aborted: boolean;
  /** It runs on a worker warm for its name, reusing what the worker's allocator holds (measured as a warm run). */
  warmRun: boolean;
  /** Admitted on its warm need, it waits for a worker being started, counting on that worker being warm. */
  warmSpawn: boolean;
  /**
   * At its last decision: the idle worker holding garbage its name's last run there left, the
   * process bytes a run placed there is charged (see the pool's `#inPlaceNeed`) and that garbage;
   * `undefined` when none.
   */
  inPlace: { worker: TrackedWorker; need: number; leftovers: number } | undefined;
  /**
   * At its last decision, not admitted: the worker of `inPlace` when collecting its garbage would
   * not have let it in either (it is not nudged while tasks run; see the pool's `#collectingHelps`).
   */
  sparedGarbage: TrackedWorker | undefined;
  /** It runs on the garbage its name's last run on its worker left, charged for that (`inPlace`). */
  reusesGarbage: boolean;
  /** Admitted once and taken back unrun (a withdrawn spawn): it was started before any pause, so a pause does not hold it. */
  readmit: boolean;
  /**
   * At its last decision it was held by slow start alone (a run of its unknown name is being
   * measured). Such a task is, for Piscina's counts (`queueSize`, `maxQueue`, `idleThreads`,
   * workers started, `close({ force })`), on the worker slot it will run on (see the pool's `#deferredSlots`).
   */
  deferred: boolean;
}

/** How a task's memory need is chosen. */
export interface NeedSource {
  /** Whether needs are reserved at all (the `reservations` option). */
  reservations: boolean;
  /** The learned need for a task name, if known. */
  learned(name: string): Readonly<Growth> | undefined;
}

/** A new task. Its need: declared in `run()`, else learned from earlier runs of its name, else none. */
export function createTask(id: number, input: unknown, opts: RunOptions, name: string, file: string | undefined, source: NeedSource, resolve: (value: unknown) => void, reject: (reason: unknown) => void): Task {
  const task: Task = {
    id,
    input,
    transferList: opts.transferList,
    name,
    file,
    learnAs: file === undefined ? name : `${name} in ${file}`,
    heap: 0,
    main: 0,
    external: 0,
    priority: opts.priority ?? 0,
    estimate: 'none',
    signal: opts.signal ?? undefined,
    resolve,
    reject,
    heldMark: 0,
    heldAt: -1,
    submittedAt: 0,
    startedAt: 0,
    state: 'new',
    charge: undefined,
    worker: undefined,
    order: 0,
    learning: false,
    exclusive: false,
    lastPressure: undefined,
    waitsForMemory: undefined,
    unlisten: undefined,
    aborted: false,
    warmRun: false,
    warmSpawn: false,
    inPlace: undefined,
    sparedGarbage: undefined,
    reusesGarbage: false,
    readmit: false,
    deferred: false,
  };
  const memory = opts.memory;
  if (!source.reservations) {
    task.estimate = 'off';
  } else if (memory !== undefined) {
    task.heap = typeof memory === 'number' ? memory : (memory.heap ?? 0);
    task.external = typeof memory === 'number' ? 0 : (memory.external ?? 0);
    task.main = task.heap;
    task.estimate = 'declared';
  } else {
    learnNeed(task, source);
  }
  return task;
}

/**
 * Gives a task that declared no need the one learned for its name so far, if any. Called when it
 * is created and each time it is decided while held: a task submitted before its name was learned
 * would otherwise reserve nothing however long it waits. Never once it has been charged.
 */
export function learnNeed(task: Task, source: NeedSource): void {
  if ((task.estimate !== 'none' && task.estimate !== 'learned') || task.charge) return;
  const learned = source.learned(task.learnAs);
  if (!learned) return;
  task.heap = learned.heap;
  task.external = learned.external;
  task.estimate = 'learned';
}
