/**
 * The two scopes every task touches besides its worker: the main isolate and the process. Each
 * holds its reservations and its pressure flag, and turns the latest readings into the gate's
 * `Reading`. The expensive figure of each (the main isolate's retained estimate, the cgroup's
 * `memory.stat`) is only taken when the cheap one cannot admit the task.
 */
import { performance } from 'node:perf_hooks';
import { measuredLevel, nextPressure, type Reading, type WaterMarks } from '../gate.js';
import type { IsolateTracker } from '../readings/isolate.js';
import type { ProcessMonitor, ProcessStats } from '../readings/process.js';

/** Called when a scope enters or leaves pressure. */
export type PressureListener = (underPressure: boolean, level: number, limit: number) => void;

abstract class Scope {
  reserved = 0;
  #underPressure = false;
  readonly #water: WaterMarks;
  readonly #onPressure: PressureListener;

  constructor(water: WaterMarks, onPressure: PressureListener) {
    this.#water = water;
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

  protected abstract measure(need: number, high: number): Omit<Reading, 'underPressure'>;
}

/** The main isolate. */
export class MainScope extends Scope {
  readonly tracker: IsolateTracker;

  constructor(tracker: IsolateTracker, water: WaterMarks, onPressure: PressureListener) {
    super(water, onPressure);
    this.tracker = tracker;
  }

  protected measure(need: number, high: number): Omit<Reading, 'underPressure'> {
    const { used, live, limit } = this.tracker.snapshot();
    const tier1 = used + this.reserved + need < high * limit;
    return { used, live, retained: tier1 ? undefined : this.tracker.retained(), limit, reserved: this.reserved };
  }
}

/** The process against its container or system limit. */
export class ProcessScope extends Scope {
  readonly monitor: ProcessMonitor;
  readonly #materialized: () => number;

  /** `materialized`: reserved bytes already visible in usage (see `WorkerRegistry.materialized`). */
  constructor(monitor: ProcessMonitor, water: WaterMarks, onPressure: PressureListener, materialized: () => number) {
    super(water, onPressure);
    this.monitor = monitor;
    this.#materialized = materialized;
  }

  /** `live` is left unknown when the cheap figure admits: the level then rests on usage alone. */
  protected measure(need: number, high: number): Omit<Reading, 'underPressure'> {
    const now = performance.now();
    const used = this.monitor.used(now);
    const limit = this.monitor.limit;
    const reserved = this.reserved > 0 ? Math.max(0, this.reserved - this.#materialized()) : 0;
    const tier1 = used + reserved + need < high * limit;
    return { used, live: tier1 ? undefined : this.monitor.live(now, used), retained: undefined, limit, reserved };
  }

  stats(): Reading & ProcessStats {
    return { ...this.reading(Infinity), ...this.monitor.stats() };
  }
}
