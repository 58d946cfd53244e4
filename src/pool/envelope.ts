/** What the pool and the worker wrapper send each other. */

/** A task to run. */
export interface TaskEnvelope {
  kind: 'task';
  /** The user's task module, as a file URL. */
  filename: string;
  /** The export to call (`'default'` when none was given). */
  name: string;
  /** The task's input, as given to `run()` (unwrapped when it was a `move()` value). */
  input: unknown;
  /** The shared board; sent until the worker has claimed a slot on it. */
  board: SharedArrayBuffer | undefined;
  /** The pool's high-water fraction: a task that ends above it with no fresh live figure collects first. */
  highWater: number;
  /**
   * The task reserves process memory (a heap or off-heap need, and a process scope): its worker
   * publishes its busy period, so the reservation stops counting once the memory shows in usage.
   */
  credit: boolean;
  /** The task has an off-heap need: its worker publishes how much of its memory is resident. */
  offHeap: boolean;
}

/** A nudge: collect garbage now and publish fresh readings. */
export interface CollectEnvelope {
  kind: 'collect';
  board: SharedArrayBuffer | undefined;
}

export type Envelope = TaskEnvelope | CollectEnvelope;

/** What a task grew while it ran alone on its worker: the peak above its starting point, bytes. */
export interface Growth {
  heap: number;
  external: number;
}

/**
 * What the wrapper returns for a task: the task's own result, and its growth when it ran alone on
 * its worker (the only runs a measurement can be attributed to).
 */
export interface ResultEnvelope {
  v: unknown;
  m: Growth | undefined;
}
