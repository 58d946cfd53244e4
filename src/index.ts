/** heapgate: a worker-thread pool (Piscina) with a memory-aware admission gate in front of it. */
export { GatedPool } from './pool.js';
export { isMemLimitReached, type MemLimitCheckOptions } from './check.js';
export {
  HeapgateError,
  MemoryPressureError,
  QueueFullError,
  WaitTimeoutError,
  TaskTooLargeError,
  AbortError,
  WorkerCrashError,
  PoolClosedError,
  type Scope,
} from './errors.js';
export { decide, actionFor, nextPressure, fits, levelOf, measuredLevel, chooseWorker, type Action, type Decision, type GateInput, type Reading, type WorkerReading, type WaterMarks } from './gate.js';
export { DEFAULTS, type GatedPoolOptions, type RunOptions, type MemoryNeed, type Policy } from './options.js';
export type { PoolStats, CounterSnapshot } from './pool/stats.js';
export type { Estimate } from './pool/estimates.js';
export type { WorkerStats } from './pool/workers.js';
export type { GatedPoolEvents } from './pool/events.js';
