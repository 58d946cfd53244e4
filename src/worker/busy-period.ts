/**
 * A worker's busy period, published on the board: from when a task that reserves process memory
 * starts on it (no period being open) until it has no task again, how far its heap and off-heap
 * memory have grown, how much of that its thread has made resident (when a task has an off-heap
 * need), and when its last task returned. The main
 * thread counts what is resident as the part of the running tasks' reservations already in the
 * process's usage, so it is not counted twice (see `WorkerRegistry.materialized`). Refreshed every
 * {@link TICK_MS} ms once a task awaits (a synchronous task ends before a timer could fire, so none
 * is started for it; the main side samples the heaps of workers busy with synchronous work).
 * Growth is counted from the lowest heap and off-heap figures seen in the period. Before each
 * refresh it calls its owner's `beforeTick` (the runtime collects garbage earlier tasks left there
 * once the pool wants memory).
 */
import v8 from 'node:v8';
import type { Board } from '../readings/board.js';
import { threadFaultBytes } from './thread-faults.js';

const TICK_MS = 10;

type HeapStatsWithExternal = v8.HeapInfo & { external_memory?: number };

export class BusyPeriod {
  readonly #board: Board;
  readonly #slot: number;
  /**
   * The lowest heap in use and off-heap bytes seen in the period: growth is counted from there, so
   * garbage present at its start that a GC frees during it does not hide the tasks' own growth.
   */
  #baseHeap: number;
  #baseExternal: number;
  readonly #since = Date.now();
  #timer: NodeJS.Timeout | undefined;
  readonly #tasksStarted: () => number;
  readonly #beforeTick: () => void;
  /** This thread's fault bytes when residency tracking began; `undefined` while not tracked. */
  #baseFaults: number | undefined;

  /**
   * `atStart`: heap in use and off-heap bytes as the first task starts. `tasksStarted`: how many
   * tasks this worker has started in all (published, so the main side can tell whether a task it
   * has just placed here has started yet). `beforeTick`: called before each refresh.
   */
  constructor(board: Board, slot: number, atStart: { used: number; external: number }, tasksStarted: () => number, beforeTick: () => void = () => undefined) {
    this.#board = board;
    this.#slot = slot;
    this.#tasksStarted = tasksStarted;
    this.#beforeTick = beforeTick;
    this.#baseHeap = atStart.used;
    this.#baseExternal = atStart.external;
    this.#write(atStart.used, atStart.external, 0);
  }

  /** A task is awaiting something: publish every {@link TICK_MS} ms until the period ends. */
  watch(): void {
    this.#timer ??= setInterval(() => this.#tick(), TICK_MS).unref();
  }

  /** A task with an off-heap need runs: from now on, publish how much this thread made resident. */
  trackResidency(): void {
    this.#baseFaults ??= threadFaultBytes();
  }

  /**
   * The worker's last task has returned: stop, and mark the period ended. Its tasks need nothing
   * more, so the main side counts their reservations as wholly accounted for from here on.
   */
  end(): void {
    clearInterval(this.#timer);
    this.#write(this.#baseHeap, this.#baseExternal, Date.now());
  }

  #tick(): void {
    this.#beforeTick();
    const stats = v8.getHeapStatistics() as HeapStatsWithExternal;
    const external = stats.external_memory ?? 0;
    this.#baseHeap = Math.min(this.#baseHeap, stats.used_heap_size);
    this.#baseExternal = Math.min(this.#baseExternal, external);
    this.#write(stats.used_heap_size, external, 0);
  }

  #write(heap: number, external: number, ended: number): void {
    const faults = this.#baseFaults === undefined || ended > 0 ? undefined : threadFaultBytes();
    const resident = faults === undefined || this.#baseFaults === undefined ? Number.NaN : faults - this.#baseFaults;
    this.#board.writeBusy(this.#slot, {
      baseHeap: this.#baseHeap,
      heap,
      baseExternal: this.#baseExternal,
      external,
      resident,
      since: this.#since,
      at: Date.now(),
      ended,
      tasks: this.#tasksStarted(),
    });
  }
}
