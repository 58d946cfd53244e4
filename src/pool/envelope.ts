/** What the pool posts to the worker wrapper for each task. */
export interface Envelope {
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
}
