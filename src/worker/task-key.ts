/**
 * The task key: what the pool sends as Piscina's per-run `name`, and so the only per-task data
 * besides the input. Piscina posts `{ task, taskId, filename, name }` for every task and caches
 * the handler per `filename/name` in the worker, so a key is parsed once per worker, not per task.
 *
 * Shape: `<pool id> SEP <flags> SEP <export name>`, and `SEP <file URL>` for a task whose module
 * is not the pool's (a per-run `filename`). The pool id selects the pool's settings (the board,
 * the high-water mark, the pool's module) published with `setEnvironmentData`; the flags are
 * single letters (see {@link TaskFlags}). Export names never hold SEP (`run()` refuses them). A
 * key never equals `then` or `__esModule`, which the worker entry's handler table answers itself.
 */

/** The separator of a key's parts; no export name may hold it. */
export const SEP = '\u0001';

/** Per-task instructions to the worker wrapper. */
export interface TaskFlags {
  /** Publish a busy period: the task's process reservation is credited once its memory shows. */
  credit: boolean;
  /** Track this thread's resident pages: the task has an off-heap need. */
  offHeap: boolean;
  /** Measure this run's growth whatever the sampling says (a name being learned). */
  measure: boolean;
  /** Collect the garbage earlier tasks left here before this one starts (it matters beside the process's room). */
  clean: boolean;
  /**
   * Leave the garbage earlier runs of this task's name left here: the run reuses that memory as V8
   * frees it while the run allocates, and the pool charged it for that (no collection before or
   * while it runs).
   */
  reuse: boolean;
}

/**
 * A decoded key. `collect` keys ask the worker to collect garbage and publish (a nudge); `start`
 * keys do nothing (what the pool sends through Piscina to have it start a worker); `connect` keys
 * hand the worker its end of the pool's line (sent through Piscina, once per worker).
 */
export type DecodedKey =
  | { kind: 'task'; poolId: number; name: string; flags: TaskFlags; file: string | undefined }
  | { kind: 'collect' | 'start'; poolId: number }
  | { kind: 'connect'; poolId: number; threadId: number };

/** The environment-data key under which a pool publishes its worker settings. */
export function settingsKey(poolId: number): string {
  return `heapgate:pool:${poolId}`;
}

/** The key of a task; `file`: its module's URL when it is not the pool's. */
export function taskKey(poolId: number, name: string, flags: TaskFlags, file?: string): string {
  const key = `${poolId}${SEP}${flags.credit ? 'c' : ''}${flags.offHeap ? 'o' : ''}${flags.measure ? 'm' : ''}${flags.clean ? 'l' : ''}${flags.reuse ? 'r' : ''}${SEP}${name}`;
  return file === undefined ? key : `${key}${SEP}${file}`;
}

/** The key of a nudge. */
export function collectKey(poolId: number): string {
  return `${poolId}${SEP}g${SEP}`;
}

/** The key of what the pool sends through Piscina to have it start a worker (it does nothing). */
export function startKey(poolId: number): string {
  return `${poolId}${SEP}s${SEP}`;
}

/** The key of the message that hands worker `threadId` its end of the pool's line. */
export function connectKey(poolId: number, threadId: number): string {
  return `${poolId}${SEP}p${SEP}${threadId}`;
}

/** Decodes a key; `undefined` for anything that is not one. */
export function decodeKey(key: string): DecodedKey | undefined {
  const first = key.indexOf(SEP);
  const second = first === -1 ? -1 : key.indexOf(SEP, first + 1);
  if (second === -1) return undefined;
  const poolId = Number(key.slice(0, first));
  if (!Number.isInteger(poolId)) return undefined;
  const flags = key.slice(first + 1, second);
  if (flags === 'g') return { kind: 'collect', poolId };
  if (flags === 's') return { kind: 'start', poolId };
  if (flags === 'p') return { kind: 'connect', poolId, threadId: Number(key.slice(second + 1)) };
  const third = key.indexOf(SEP, second + 1);
  return {
    kind: 'task',
    poolId,
    name: third === -1 ? key.slice(second + 1) : key.slice(second + 1, third),
    flags: { credit: flags.includes('c'), offHeap: flags.includes('o'), measure: flags.includes('m'), clean: flags.includes('l'), reuse: flags.includes('r') },
    file: third === -1 ? undefined : key.slice(third + 1),
  };
}

/** What a pool publishes for its workers (`setEnvironmentData`, read once per worker). */
export interface WorkerSettings {
  /** The shared board every worker publishes its readings on. */
  board: SharedArrayBuffer;
  /** The pool's task module, a file URL; `undefined` when every task names its own. */
  filename: string | undefined;
  /** The pool's high-water fraction. */
  highWater: number;
}
