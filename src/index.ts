/**
 * heapgate: a worker-thread pool (Piscina) with a memory-aware admission gate in front of it.
 *
 * @module heapgate
 */
// First: an older Node fails here, with a message naming the version needed.
import './node-version.js';
export { GatedPool } from './pool.js';
// Piscina's helpers, as Piscina exports them: task modules may import them from here.
export { move, isWorkerThread, workerData, transferableSymbol, valueSymbol } from 'piscina';
export { isMemLimitReached, type MemLimitCheckOptions } from './check.js';
export {
  HeapgateError,
  MemoryPressureError,
  QueueFullError,
  WaitTimeoutError,
  TaskTooLargeError,
  AbortError,
  WorkerCrashError,
  WorkerStartError,
  PoolClosedError,
  QueueClearedError,
  TaskInputError,
  TaskResultError,
  type Scope,
} from './errors.js';
export { CgroupFileError } from './readings/cgroup-files.js';
export { DEFAULTS, type GatedPoolOptions, type RunOptions, type MemoryNeed, type Policy, type AbortSource } from './options.js';
export type { PoolStats, CounterSnapshot, HeadBlockedBy } from './accounting/counters.js';
export type { HeldTimeSnapshot } from './accounting/held-time.js';
export type { ProcessStats, LimitSource } from './readings/process.js';
export type { ContainerCounters } from './readings/container.js';
export type { Reading } from './admission/gate.js';
export type { AdmissionCheck, AdmissionQuestion, AdmitNow, RefusedByPressure, RefusedTooLarge, RefusedForNow } from './admission/admission-check.js';
export type { Estimate } from './accounting/estimates.js';
export type { WorkerStats } from './placement/workers.js';
export type { GatedPoolEvents, WorkerView } from './events.js';
export type { RunTimeHistogram, HistogramSummary } from './observability/run-times.js';
export {
  CHANNELS,
  type TaskMessage,
  type AdmitMessage,
  type HoldMessage,
  type RejectMessage,
  type SettleMessage,
  type SettleOutcome,
  type PressureMessage,
  type RecycleMessage,
  type RunContext,
} from './observability/channels.js';
