/**
 * The two scopes every task touches besides its worker: the main isolate and the process. Each
 * turns the latest readings and the ledger's reservations into the gate's `Reading`, and keeps its
 * pressure flag (hysteresis, see `nextPressure`). The expensive figure of each (the main isolate's
 * retained estimate, the cgroup's `memory.stat`) is only taken when the cheap one cannot admit.
 *
 * `reading()` is for decisions: it moves the pressure flag and reports a change. `peek()` is for
 * `stats()`: the same figures with no side effect.
 */
import { performance } from 'node:perf_hooks';
import { measuredLevel, nextPressure, type Reading, type WaterMarks } from '../admission/gate.js';
import type { IsolateTracker } from './isolate.js';
import type { ProcessMonitor, ProcessStats } from './process.js';

/** Called when a scope enters or leaves pressure. */
export type PressureListener = (underPressure: boolean, level: number, limit: number) => void;

abstract class Scope {
  #underPressure = false;
  readonly #water: WaterMarks;
  readonly #onPressure: PressureListener;
  /** Bytes reserved in this scope (from the ledger). */
  protected readonly reserved: () => number;

  constructor(water: WaterMarks, reserved: () => number, onPressure: PressureListener) {
    this.#water = water;
    this.reserved = reserved;
    this.#onPressure = onPressure;
  }

  /** The reading for a task needing `need` bytes, with the pressure flag brought up to date. */
  reading(need: number): Reading {
    const base = this.measure(need, this.#water.high);
    const under = nextPressure(base, this.#underPressure, this.#water);
    if (under !== this.#underPressure) {
      this.#underPressure = under;
      this.#onPressure(under, measuredLevel(base), base.limit);
    }
    return { ...base, underPressure: under };
  }

  /** The current figures, with the pressure flag as last decided. No side effects. */
  peek(): Reading {
    return { ...this.measure(0, this.#water.high), underPressure: this.#underPressure };
  }

  /** Whether the scope was under pressure at the last decision. */
  get underPressure(): boolean {
    return this.#underPressure;
  }

  protected abstract measure(need: number, high: number): Omit<Reading, 'underPressure'>;
}

/** The main isolate. */
export class MainScope extends Scope {
  readonly tracker: IsolateTracker;

  constructor(tracker: IsolateTracker, water: WaterMarks, reserved: () => number, onPressure: PressureListener) {
    super(water, reserved, onPressure);
    this.tracker = tracker;
  }

  protected measure(need: number, high: number): Omit<Reading, 'underPressure'> {
    const { used, live, limit } = this.tracker.snapshot();
    const reserved = this.reserved();
    const tier1 = used + reserved + need < high * limit;
    return { used, live, retained: tier1 ? undefined : this.tracker.retained(), limit, reserved };
  }
}

/** The process against its container or system limit. */
export class ProcessScope extends Scope {
  readonly monitor: ProcessMonitor;
  readonly #materialized: () => number;

  /** `materialized`: reserved bytes already visible in usage (see `WorkerRegistry.materialized`). */
  constructor(monitor: ProcessMonitor, water: WaterMarks, reserved: () => number, onPressure: PressureListener, materialized: () => number) {
    super(water, reserved, onPressure);
    this.monitor = monitor;
    this.#materialized = materialized;
  }

  /** `live` is left unknown when the cheap figure admits: the level then rests on usage alone. */
  protected measure(need: number, high: number): Omit<Reading, 'underPressure'> {
    const now = performance.now();
    const used = this.monitor.used(now);
    const limit = this.monitor.limit;
    const total = this.reserved();
    const reserved = total > 0 ? Math.max(0, total - this.#materialized()) : 0;
    const tier1 = used + reserved + need < high * limit;
    return { used, live: tier1 ? undefined : this.monitor.live(now, used), retained: undefined, limit, reserved };
  }

  /** The process figures for `stats()`, from the values last read (no file is read here). */
  stats(): Reading & ProcessStats {
    const { used, live } = this.monitor.cached();
    const total = this.reserved();
    const reserved = total > 0 ? Math.max(0, total - this.#materialized()) : 0;
    return { used, live, retained: undefined, limit: this.monitor.limit, reserved, underPressure: this.underPressure, ...this.monitor.stats() };
  }
}
