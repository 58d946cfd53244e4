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
  WorkerStartError,
  PoolClosedError,
  type Scope,
} from './errors.js';
export { CgroupFileError } from './readings/cgroup-files.js';
export { decide, actionFor, nextPressure, fits, levelOf, measuredLevel, chooseWorker, type Action, type Decision, type GateInput, type Reading, type WorkerReading, type WaterMarks } from './admission/gate.js';
export { DEFAULTS, type GatedPoolOptions, type RunOptions, type MemoryNeed, type Policy } from './options.js';
export type { PoolStats, CounterSnapshot } from './accounting/counters.js';
export type { Estimate } from './accounting/estimates.js';
export type { WorkerStats } from './placement/workers.js';
export type { GatedPoolEvents } from './events.js';
