/**
 * `node:diagnostics_channel` channels: what the pool does, for tracers and metrics that subscribe
 * by name, without a reference to the pool. Nothing is built or published while a channel has no
 * subscriber (the pool asks `hasSubscribers` first), so they cost nothing unless used.
 *
 * Channels (messages carry the pool, so one subscriber can tell pools apart):
 * - `heapgate:task:admit`  a task was sent to a worker ({@link AdmitMessage});
 * - `heapgate:task:hold`   a task was put in the held queue ({@link HoldMessage});
 * - `heapgate:task:reject` a task was refused or ended with a heapgate error ({@link RejectMessage});
 * - `heapgate:task:settle` a task settled, whatever the outcome ({@link SettleMessage});
 * - `heapgate:pressure`    a scope entered or left pressure ({@link PressureMessage});
 * - `heapgate:worker:recycle` an idle worker was terminated to free memory ({@link RecycleMessage});
 * - tracing channel `heapgate:run` around each `run()` (`tracing:heapgate:run:start`, `:end`,
 *   `:asyncStart`, `:asyncEnd`, `:error`; context {@link RunContext}).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { HeapgateError, Scope } from '../errors.js';

/** Which pool, which task: every task message has these. */
export interface TaskMessage {
  /** The pool (a `GatedPool`). */
  pool: object;
  /** The task's number in its pool: 1, 2, … in the order `run()` was called. */
  taskId: number;
  /** The export it calls. */
  name: string;
}

export interface AdmitMessage extends TaskMessage {
  /** Its heap need in bytes (declared or learned; 0 when none). */
  need: number;
  /** Off-heap bytes it reserves in the process: declared, learned, or for a name not learned yet what its run is charged; 0 when none. */
  external: number;
  /** The worker's thread id, or `'spawn'`: a worker being started for it. */
  worker: number | 'spawn';
  /** How long it was held before this, ms (0 when it was admitted at once). */
  heldMs: number;
}

export interface HoldMessage extends TaskMessage {
  /** Its heap need in bytes (declared or learned; 0 when none). */
  need: number;
  /** Off-heap bytes it reserves in the process: declared, learned, or for a name not learned yet what its run is charged; 0 when none. */
  external: number;
  /** Set when memory pressure in this scope is why it is held; `undefined`: it waits for a worker. */
  scope: Scope | undefined;
}

export interface RejectMessage extends TaskMessage {
  /** The heapgate error the task was rejected with (its `code` tells the reason). */
  error: HeapgateError;
  /** How long it was held before this, ms (0 when never held). */
  heldMs: number;
}

/** How a task ended: `completed` (its result), `failed` (its own error), `crashed` (its worker died), or refused by heapgate (`rejected.<reason>`). */
export type SettleOutcome = 'completed' | 'failed' | 'crashed' | `rejected.${string}`;

export interface SettleMessage extends TaskMessage {
  /** How it ended. */
  outcome: SettleOutcome;
  /** Its result (`completed`) or what it was rejected with. */
  value: unknown;
}

/** A scope entered or left pressure (the pool's `'pressure'` event, with the pool). */
export interface PressureMessage {
  /** The pool (a `GatedPool`). */
  pool: object;
  /** The scope whose state changed. */
  scope: Scope;
  /** The worker's thread id, for scope `'worker'`. */
  threadId: number | undefined;
  /** `true`: it entered pressure (reached `highWater` × limit); `false`: it left it (fell below `lowWater` × limit). */
  underPressure: boolean;
  /** The level the decision rests on, bytes. */
  level: number;
  /** The scope's limit in bytes (an isolate's old-generation limit, or the process limit). */
  limit: number;
}

/** An idle worker was terminated to free memory (the pool's `'recycle'` event, with the pool). */
export interface RecycleMessage {
  /** The pool (a `GatedPool`). */
  pool: object;
  /** The worker's thread id. */
  threadId: number;
  /** The scope whose room the restart is for: its heap (`worker`), or the process (`process`). */
  scope: 'worker' | 'process';
  /** Its live heap after a major GC, bytes. */
  live: number;
  /** Its old-generation limit, bytes. */
  limit: number;
}

/** The context object of the `heapgate:run` tracing channel. */
export interface RunContext {
  /** The pool (a `GatedPool`). */
  pool: object;
  /** The export `run()` was asked to call. */
  name: string;
  /** Set by the channel: the task's result, or its error. */
  result?: unknown;
  /** Set by the channel when `run()` rejects: the task's own error, a heapgate error, or the `TypeError`/`RangeError` of bad options. */
  error?: unknown;
}

/** The channel names, for `diagnostics_channel.subscribe(name, …)`. */
export const CHANNELS = {
  /** A task was sent to a worker ({@link AdmitMessage}). */
  admit: 'heapgate:task:admit',
  /** A task was put in the held queue ({@link HoldMessage}). */
  hold: 'heapgate:task:hold',
  /** A task was refused or ended with a heapgate error ({@link RejectMessage}). */
  reject: 'heapgate:task:reject',
  /** A task settled, whatever the outcome ({@link SettleMessage}). */
  settle: 'heapgate:task:settle',
  /** A scope entered or left pressure ({@link PressureMessage}). */
  pressure: 'heapgate:pressure',
  /** An idle worker was terminated to free memory ({@link RecycleMessage}). */
  recycle: 'heapgate:worker:recycle',
  /** The tracing channel around each `run()`: subscribe with `diagnostics_channel.tracingChannel(name)` ({@link RunContext}). */
  run: 'heapgate:run',
} as const;

export const admitChannel = diagnosticsChannel.channel(CHANNELS.admit);
export const holdChannel = diagnosticsChannel.channel(CHANNELS.hold);
export const rejectChannel = diagnosticsChannel.channel(CHANNELS.reject);
export const settleChannel = diagnosticsChannel.channel(CHANNELS.settle);
export const pressureChannel = diagnosticsChannel.channel(CHANNELS.pressure);
export const recycleChannel = diagnosticsChannel.channel(CHANNELS.recycle);
/**
 * What the pool uses of the `run()` tracing channel. Typed here rather than as Node's
 * `TracingChannel`, whose type parameters changed order between `@types/node` majors: the
 * declarations then type-check with any of them.
 */
export interface RunTracer {
  readonly hasSubscribers: boolean;
  tracePromise<T>(fn: () => Promise<T>, context: RunContext): Promise<T>;
}

export const runChannel: RunTracer = diagnosticsChannel.tracingChannel(CHANNELS.run) as unknown as RunTracer;
