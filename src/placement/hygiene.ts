/**
 * Worker hygiene, on demand.
 * - A task blocked by idle workers that cannot take it: each is first asked to collect (a nudge:
 *   a full GC and fresh readings, once per task it has run), since its figures may count garbage;
 *   one that still could not take the task by its live heap after that, and keeps enough more than
 *   a fresh worker that a restart would make room (see `WorkerRegistry.worthRecycling`), is
 *   recycled (terminated and replaced).
 * - A task blocked by the process scope: idle workers that hold memory a full GC may free (off-heap
 *   Buffers whose objects are garbage, heap above live) are asked to collect before the pool calls
 *   it pressure. A Buffer whose object was promoted is freed only by a major GC in its own worker,
 *   and an idle worker has no reason to run one: this is the garbage that piles up in a container
 *   while nothing is wrong (measured: ~250 MB after one 128 MB job of the seed program).
 * - A task blocked by the process scope while none of the pool's tasks runs, after that
 *   collection: no garbage is left and nothing running will free memory. What a worker thread's C
 *   allocator keeps after its tasks freed it (no GC returns it), and what it keeps alive (a cache,
 *   a leak), may go with the thread: the idle worker that may hold the most (see
 *   `WorkerRegistry.idleArenaHolder`) is recycled, one at a time (the next only after the last
 *   one's thread exited), only a worker that ran a task itself, at most {@link STUCK_RECYCLES}
 *   times for one blocked task, and only while what the idle workers may hold adds up to what the
 *   task lacks (docs/ARCHITECTURE.md, "A pool stuck on the process scope").
 */
import { whenThreadEnds } from './stop-workers.js';
import type { TrackedWorker, WorkerRegistry } from './workers.js';

/** What hygiene needs from the pool. */
export interface HygieneHooks {
  /** Sends a collect request to this worker; settles when it has answered (`true`) or is gone (`false`). */
  collect(worker: TrackedWorker): Promise<boolean>;
  /** A nudge was sent. */
  onNudge(worker: TrackedWorker): void;
  /** A worker is being recycled, with its live heap and limit, for room in `scope`. */
  onRecycle(worker: TrackedWorker, live: number, limit: number, scope: 'worker' | 'process'): void;
  /** A nudge was answered: the gate should look again. */
  onAnswer(): void;
}

/** Off-heap plus collectable heap bytes an idle worker must hold to be nudged for the process scope. */
const PROCESS_NUDGE_BYTES = 4 * 2 ** 20;
/** Recycles for the process scope while no task runs, at most, for one blocked task (see above). */
export const STUCK_RECYCLES = 3;
/** How long a task waits for a recycled worker's thread to end before it is decided again. */
const EXIT_WAIT_MS = 5000;

export class WorkerHygiene {
  readonly #workers: WorkerRegistry;
  readonly #hooks: HygieneHooks;
  #nudgesInFlight = 0;
  /** The task the last recycles for the process scope were for, and how many there were. */
  #stuckTask: number | undefined;
  #stuckRecycles = 0;
  /** A worker recycled for the process scope whose thread has not exited yet. */
  #stuckRecycling: TrackedWorker | undefined;

  constructor(workers: WorkerRegistry, hooks: HygieneHooks) {
    this.#workers = workers;
    this.#hooks = hooks;
  }

  /**
   * Tends the idle workers that cannot take a task needing `need` heap bytes. Returns whether room
   * may appear soon (a nudge is under way, or a worker was just recycled): a decision blocked by
   * such a worker waits instead of refusing.
   */
  tend(need: number): boolean {
    let recycled = false;
    for (const worker of this.#workers.idleNotFitting(need)) {
      if (!worker.nudged) {
        this.#nudge(worker);
      } else if (this.#workers.worthRecycling(worker, need)) {
        this.#recycle(worker, 'worker');
        recycled = true;
      }
    }
    return recycled || this.#nudgesInFlight > 0;
  }

  /**
   * Asks the idle workers that hold collectable memory to collect, for a task the process scope
   * blocks. `stuck` when none of the pool's tasks runs: the blocked task (its id) and the bytes the
   * process must give back for it (`processShortfall`). With no collection to wait for, the idle
   * worker that may hold the most is recycled (see above) — only while what the idle workers may
   * hold adds up to the shortfall (memory beyond that is not the workers'), and at most
   * {@link STUCK_RECYCLES} times for one blocked task. `spare`: an idle worker not to nudge (see
   * `collectIdle`). Returns whether a collection or a recycle is under way (the task
   * waits for its outcome rather than being refused now).
   */
  relieveProcess(stuck: { task: number; shortfall: number } | undefined, spare?: TrackedWorker): boolean {
    if (this.collectIdle(spare)) return true;
    if (!stuck) return false;
    if (this.#stuckRecycling) return true;
    if (stuck.task !== this.#stuckTask) {
      this.#stuckTask = stuck.task;
      this.#stuckRecycles = 0;
    }
    if (stuck.shortfall <= 0 || this.#stuckRecycles >= STUCK_RECYCLES) return false;
    const worker = this.#workers.idleArenaHolder(stuck.shortfall);
    if (!worker || worker.thread.threadId < 0) return false;
    this.#stuckRecycles++;
    this.#stuckRecycling = worker;
    // The restart is for its allocator's memory to go: the next worker started must not count on
    // reusing it (warm), whether it went or not.
    worker.warmFor.clear();
    this.#recycle(worker, 'process');
    // Its memory can come back only as its thread ends: until then the task waits (at most
    // EXIT_WAIT_MS, should the thread never end).
    whenThreadEnds(worker.thread, EXIT_WAIT_MS, () => {
      if (this.#stuckRecycling !== worker) return;
      this.#stuckRecycling = undefined;
      this.#hooks.onAnswer();
    });
    return true;
  }

  /**
   * Asks the idle workers that hold memory a full GC may free (off-heap bytes, heap above live:
   * {@link PROCESS_NUDGE_BYTES} or more) to collect, once per task each has run — all but `spare`
   * (a worker whose garbage a held task will reuse in place, where collecting would not let it in).
   * Returns whether a collection is under way.
   */
  collectIdle(spare?: TrackedWorker): boolean {
    for (const worker of this.#workers.idleHoldingGarbage(PROCESS_NUDGE_BYTES)) if (worker !== spare) this.#nudge(worker);
    return this.#nudgesInFlight > 0;
  }

  /** Terminates `worker` (Piscina starts another when needed), for room in `scope`. */
  #recycle(worker: TrackedWorker, scope: 'worker' | 'process'): void {
    const reading = this.#workers.reading(worker);
    this.#hooks.onRecycle(worker, reading.live ?? reading.used, reading.limit, scope);
    this.#workers.retire(worker);
  }

  #nudge(worker: TrackedWorker): void {
    // The worker counts nudges among the tasks it receives: the order numbers stay in step.
    const order = ++worker.placed;
    const answer = this.#hooks.collect(worker);
    worker.running++;
    this.#nudgesInFlight++;
    this.#hooks.onNudge(worker);
    void answer
      .catch(() => false)
      .then((answered) => {
        // Fresh only once answered, and only if no task was placed on it meanwhile: until then
        // its figures are the old ones, and a worker marked fresh that does not fit is given up on
        // (worker pressure) — which refused tasks under policy 'reject' while the very collection
        // that would show room was in flight. Gone: nothing new to look at, so no second look
        // now — the next event (a task ending, the poll timer) brings one.
        if (answered && worker.placed === order) worker.nudged = true;
        return answered;
      })
      .then((answered) => {
        worker.running--;
        this.#nudgesInFlight--;
        if (answered) this.#hooks.onAnswer();
      });
  }
}
