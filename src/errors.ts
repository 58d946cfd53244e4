/**
 * Typed errors. Every task submitted to a {@link GatedPool} settles exactly once: it resolves, or
 * it rejects with one of these (or with the error the task itself threw).
 */

/** Which isolate or budget an admission decision was about. */
export type Scope = 'main' | 'worker' | 'process';

/** Base class of every error heapgate creates, so callers can tell them apart with one check. */
export class HeapgateError extends Error {
  /** A stable, machine-readable code, e.g. `'ERR_MEMORY_PRESSURE'`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The gate refused (policy `'reject'`) or could not admit a task because an isolate or the
 * process is above its high-water mark, or would be with the task: what is in use there plus what
 * admitted tasks have reserved and not yet used. Transient: retry after {@link retryAfterMs}.
 */
export class MemoryPressureError extends HeapgateError {
  /** The isolate or budget that is under pressure. */
  readonly scope: Scope;
  /** Bytes in use in that scope when the decision was taken, plus those reserved by admitted tasks and not yet in use. */
  readonly used: number;
  /** The limit in bytes the scope is measured against. */
  readonly limit: number;
  /** A hint: how long to wait before retrying, in milliseconds. */
  readonly retryAfterMs: number;
  /** The task's `name` (the exported function), if any. */
  readonly taskName: string | undefined;
  /** Bytes the task needs in that scope (declared or learned; 0 when unknown). */
  readonly need: number;
  /** Bytes the gate lets that scope commit: `highWater` × `limit` (a task running alone may use the room above it). */
  readonly ceiling: number;

  constructor(init: { scope: Scope; used: number; limit: number; retryAfterMs: number; taskName?: string | undefined; need?: number; ceiling?: number; cause?: unknown }) {
    const need = init.need ?? 0;
    const ceiling = init.ceiling ?? init.limit;
    super(
      'ERR_MEMORY_PRESSURE',
      `memory pressure in ${init.scope} scope: ${init.taskName === undefined ? 'the task' : `task '${init.taskName}'`} needs ${mib(need)}; ${mib(init.used)} in use or reserved, admitting up to ${mib(ceiling)} of the ${mib(init.limit)} limit; retry after ${init.retryAfterMs} ms`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    // Whole bytes: the figures are products of fractions (marks, margins).
    this.scope = init.scope;
    this.used = Math.ceil(init.used);
    this.limit = Math.floor(init.limit);
    this.retryAfterMs = init.retryAfterMs;
    this.taskName = init.taskName;
    this.need = Math.ceil(need);
    this.ceiling = Math.floor(ceiling);
  }
}

/** The bounded queue of held tasks (`maxQueue`) is full. Transient. */
export class QueueFullError extends HeapgateError {
  /** The `maxQueue` bound that was reached. */
  readonly maxQueue: number;

  /** `waitsFor`: why the task could not start at once (said in the message). */
  constructor(maxQueue: number, waitsFor: 'a worker' | 'memory' | 'slow start' = 'a worker') {
    // Piscina's words first, so that code matching them keeps working.
    const piscina = maxQueue === 0 ? 'No task queue available and all Workers are busy' : 'Task queue is at limit';
    const why = waitsFor === 'a worker' ? '' : waitsFor === 'memory' ? '; the task waits for memory' : '; the task waits for a run of its name to be measured (slow start: declare `memory`, or set `slowStart: false`)';
    super('ERR_QUEUE_FULL', `${piscina}: the queue of held tasks is full (maxQueue: ${maxQueue})${why}`);
    this.maxQueue = maxQueue;
  }
}

/** A held task waited `maxWaitMs` for memory to free up (time spent waiting for a busy worker does not count). Transient. */
export class WaitTimeoutError extends HeapgateError {
  /** How long the task waited for memory, in milliseconds. */
  readonly waitedMs: number;
  /** The task's `name`, if any. */
  readonly taskName: string | undefined;
  /** Why it was still held when the time ran out, when the reason was memory pressure. */
  override readonly cause: MemoryPressureError | undefined;

  constructor(waitedMs: number, taskName: string | undefined, cause: MemoryPressureError | undefined) {
    super('ERR_WAIT_TIMEOUT', `task${taskName ? ` '${taskName}'` : ''} waited ${Math.round(waitedMs)} ms for memory, reaching maxWaitMs`, { cause });
    this.waitedMs = waitedMs;
    this.taskName = taskName;
    this.cause = cause;
  }
}

/** A task's need (declared, or learned for its name) can never fit the scope's limit. Permanent: retrying will not help. */
export class TaskTooLargeError extends HeapgateError {
  /** The scope the task cannot fit in. */
  readonly scope: Scope;
  /** The task's need in the scope, bytes. */
  readonly need: number;
  /** The most that scope could ever admit, bytes: highWater × limit (for a worker, less what a fresh worker already holds). */
  readonly capacity: number;

  constructor(scope: Scope, need: number, capacity: number) {
    super('ERR_TASK_TOO_LARGE', `task needs ${mib(need)} but the ${scope} scope can admit at most ${mib(capacity)}`);
    this.scope = scope;
    this.need = Math.ceil(need);
    this.capacity = Math.floor(capacity);
  }
}

/** The task was aborted through its `AbortSignal` (while held or while running). */
export class AbortError extends HeapgateError {
  constructor(reason: unknown) {
    // Piscina's wording, so that code matching Piscina's message keeps working.
    super('ABORT_ERR', 'The task has been aborted', { cause: reason });
  }
}

/**
 * The worker running the task died (`ERR_WORKER_OUT_OF_MEMORY`, a crash, an exit) before the task
 * finished. The original error is the `cause`.
 */
export class WorkerCrashError extends HeapgateError {
  /** The task's `name`, if any. */
  readonly taskName: string | undefined;
  /** The thread id of the worker that died, if known. */
  readonly threadId: number | undefined;

  constructor(taskName: string | undefined, threadId: number | undefined, cause: unknown) {
    const why = describeCrash(cause);
    super('ERR_WORKER_CRASHED', `worker${threadId === undefined ? '' : ` ${threadId}`} died running task${taskName ? ` '${taskName}'` : ''}: ${why}`, { cause });
    this.taskName = taskName;
    this.threadId = threadId;
  }
}

/**
 * What a worker's death says of itself. An error that crossed from the worker may have lost its
 * message (a DOMException's is an accessor: its stack's first line still names it), or everything
 * (Node 22.0 sends a DOMException thrown in a worker as an empty object).
 */
function describeCrash(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : undefined;
  const stack = (cause as { stack?: unknown } | null)?.stack;
  const said = message || (typeof stack === 'string' && stack.split('\n')[0]);
  if (said) return said;
  if (typeof cause === 'object' && cause !== null && !(cause instanceof Error) && Reflect.ownKeys(cause).length === 0) {
    return 'an error with no details (an empty object: something threw `{}`, or, on Node 22.0, a DOMException lost its details on the way)';
  }
  return String(cause);
}

/**
 * Workers started for the task kept dying before they were ready (a throwing `--import`, a module
 * that cannot load, limits a worker cannot start with). The last failure is the `cause`.
 */
export class WorkerStartError extends HeapgateError {
  /** How many starts failed in a row. */
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    super('ERR_WORKER_START', `${attempts} workers in a row died before they were ready${why}`, { cause });
    this.attempts = attempts;
  }
}

/**
 * The task's input or `transferList` could not be sent to a worker (structured cloning refused
 * it: a function, a symbol, a detached or duplicate buffer…). It never ran; what it reserved is
 * released. Node's `DataCloneError` is the `cause`.
 */
export class TaskInputError extends HeapgateError {
  constructor(taskName: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('ERR_TASK_INPUT', `the input of task${taskName ? ` '${taskName}'` : ''} cannot be sent to a worker: ${why}`, { cause });
  }
}

/**
 * The task ran, but its result could not be sent back to the main thread (structured cloning
 * refused it: a function, a symbol, an object holding one…). The worker goes on. `cause` is an
 * `Error` with Node's message (`DataCloneError: …`).
 */
export class TaskResultError extends HeapgateError {
  constructor(taskName: string | undefined, why: string) {
    super('ERR_TASK_RESULT', `the result of task${taskName ? ` '${taskName}'` : ''} cannot be sent back to the main thread: ${why}`, { cause: new Error(why) });
  }
}

/** The task was waiting in the queue when `clear()` was called: it never ran. */
export class QueueClearedError extends HeapgateError {
  constructor() {
    super('ERR_QUEUE_CLEARED', 'the task was removed from the queue by clear() before it started');
  }
}

/**
 * The task cannot run because of the pool's end: submitted after `close()`/`destroy()`, held when
 * `close({ force: true })` was called, or held or running when `destroy()` was called. The message
 * begins with Piscina's for the same case (`The task has been aborted`, `Terminating worker
 * thread`), so code matching Piscina's messages keeps working; `code` tells it apart.
 */
export class PoolClosedError extends HeapgateError {
  /** Why: `'closed'` (submitted after close/destroy), `'forced'` (held at `close({ force })`), `'destroyed'` (held or running at `destroy()`). */
  readonly reason: 'closed' | 'forced' | 'destroyed';

  constructor(reason: 'closed' | 'forced' | 'destroyed' = 'closed', detail?: string) {
    // Submitted after close: Piscina's exact message and cause (the name and code say the rest).
    const message = reason === 'destroyed' ? `Terminating worker thread: ${detail ?? 'the pool was destroyed'}` : detail === undefined ? 'The task has been aborted' : `The task has been aborted: ${detail}`;
    // Piscina gives a task submitted while it closes this very cause.
    super('ERR_POOL_CLOSED', message, reason === 'closed' ? { cause: 'queue is being terminated' } : undefined);
    this.reason = reason;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
