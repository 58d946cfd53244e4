/**
 * A worker's busy period, published on the board: from when it goes from no task to one until it
 * has none again, how far its heap in use has grown, and when its last task returned. The main
 * thread counts that as the part of the running tasks' reservations already resident in the
 * process, so it is not counted twice (see `WorkerRegistry.materialized`). Refreshed every
 * {@link TICK_MS} ms while the tasks await (the timer cannot fire during synchronous work; the main
 * side samples those workers).
 */
import v8 from 'node:v8';
import type { Board } from '../readings/board.js';

const TICK_MS = 10;

export class BusyPeriod {
  readonly #board: Board;
  readonly #slot: number;
  readonly #baseHeap: number;
  readonly #since = Date.now();
  readonly #timer: NodeJS.Timeout;
  readonly #tasksStarted: () => number;

  /**
   * `heapAtStart`: heap in use as the first task starts. `tasksStarted`: how many tasks this worker
   * has started in all (published, so the main side can tell whether a task it has just placed
   * here has started yet).
   */
  constructor(board: Board, slot: number, heapAtStart: number, tasksStarted: () => number) {
    this.#board = board;
    this.#slot = slot;
    this.#tasksStarted = tasksStarted;
    this.#baseHeap = heapAtStart;
    this.#write(heapAtStart, 0);
    this.#timer = setInterval(() => this.#write(v8.getHeapStatistics().used_heap_size, 0), TICK_MS).unref();
  }

  /**
   * The worker's last task has returned: stop, and mark the period ended. Its tasks need nothing
   * more, so the main side counts their reservations as wholly accounted for from here on.
   */
  end(): void {
    clearInterval(this.#timer);
    this.#write(this.#baseHeap, Date.now());
  }

  #write(heap: number, ended: number): void {
    this.#board.writeBusy(this.#slot, { baseHeap: this.#baseHeap, since: this.#since, heap, at: Date.now(), ended, tasks: this.#tasksStarted() });
  }
}
