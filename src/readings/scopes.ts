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

  /** The decisions' reading: one object, refilled for each decision (the gate keeps none beyond one). */
  readonly #reading: Reading = { used: 0, live: undefined, retained: undefined, limit: 0, reserved: 0, underPressure: false };

  /** The reading for a task needing `need` bytes, with the pressure flag brought up to date (valid until the next call). */
  reading(need: number): Reading {
    const reading = this.measure(need, this.#water.high, this.#reading);
    const under = nextPressure(reading, this.#underPressure, this.#water);
    if (under !== this.#underPressure) {
      this.#underPressure = under;
      this.#onPressure(under, measuredLevel(reading), reading.limit);
    }
    reading.underPressure = under;
    return reading;
  }

  /** The current figures, with the pressure flag as last decided. No side effects. */
  peek(): Reading {
    const reading = this.measure(0, this.#water.high, { used: 0, live: undefined, retained: undefined, limit: 0, reserved: 0, underPressure: false });
    reading.underPressure = this.#underPressure;
    return reading;
  }

  /** Whether the scope was under pressure at the last decision. */
  get underPressure(): boolean {
    return this.#underPressure;
  }

  /** The figures now, written into `into` and returned (`underPressure` left for the caller to set). */
  protected abstract measure(need: number, high: number, into: Reading): Reading;
}

/**
 * Far from its mark, a scope's cheap figure may be reused for a short while instead of read for
 * every decision: the room left is more than the scope can grow in that time.
 * - Main isolate: a heap reading up to {@link MAIN_REUSE_MS} old, while the room left below the
 *   mark exceeds a quarter of the limit plus what the main thread could write meanwhile at
 *   {@link WRITE_BYTES_PER_MS} (results land there). Nearer the mark, it is read for every decision.
 *   (Measured: with ~1 ms tasks a reading taken for every millisecond was one of the costliest
 *   steps between a worker's answer and its next task, ~2 µs on a main thread back from sleep.)
 * - Process: a usage read up to {@link USAGE_REUSE_MS} old, while the room left exceeds what every
 *   thread could write meanwhile at {@link WRITE_BYTES_PER_MS} (measured: 1–2 MiB per ms per thread
 *   filling heap objects). Nearer the mark, the usage is read every millisecond.
 */
const MAIN_REUSE_MS = 10;
const USAGE_REUSE_MS = 10;
const WRITE_BYTES_PER_MS = 2 * 2 ** 20;

/** The main isolate. */
export class MainScope extends Scope {
  readonly tracker: IsolateTracker;
  #used = 0;
  #usedAt = -Infinity;

  constructor(tracker: IsolateTracker, water: WaterMarks, reserved: () => number, onPressure: PressureListener) {
    super(water, reserved, onPressure);
    this.tracker = tracker;
  }

  #usedNow(high: number, limit: number): number {
    const now = performance.now();
    if (now - this.#usedAt < MAIN_REUSE_MS && this.#used + this.reserved() < (high - 0.25) * limit - MAIN_REUSE_MS * WRITE_BYTES_PER_MS) return this.#used;
    this.#used = this.tracker.usedNow();
    this.#usedAt = now;
    return this.#used;
  }

  protected measure(need: number, high: number, into: Reading): Reading {
    const limit = this.tracker.limit;
    const used = this.#usedNow(high, limit);
    const reserved = this.reserved();
    into.used = used;
    into.live = this.tracker.live;
    into.retained = used + reserved + need < high * limit ? undefined : this.tracker.retained();
    into.limit = limit;
    into.reserved = reserved;
    return into;
  }
}

/** The process against its container or system limit. */
export class ProcessScope extends Scope {
  readonly monitor: ProcessMonitor;
  readonly #materialized: () => number;

  readonly #threads: number;

  /**
   * `materialized`: reserved bytes already visible in usage (see `WorkerRegistry.materialized`).
   * `threads`: the most threads that may write at once (workers and the main thread).
   */
  constructor(monitor: ProcessMonitor, water: WaterMarks, reserved: () => number, onPressure: PressureListener, materialized: () => number, threads: number) {
    super(water, reserved, onPressure);
    this.monitor = monitor;
    this.#materialized = materialized;
    this.#threads = threads;
  }

  /** `live` is left unknown when the cheap figure admits: the level then rests on usage alone. */
  protected measure(need: number, high: number, into: Reading): Reading {
    const now = performance.now();
    const limit = this.monitor.limit;
    const total = this.reserved();
    const far = high * limit - this.monitor.lastUsed - total > USAGE_REUSE_MS * WRITE_BYTES_PER_MS * this.#threads;
    const used = far ? this.monitor.used(now, USAGE_REUSE_MS) : this.monitor.used(now);
    const reserved = total > 0 ? Math.max(0, total - this.#materialized()) : 0;
    into.used = used;
    into.live = used + reserved + need < high * limit ? undefined : this.monitor.live(now, used);
    into.retained = undefined;
    into.limit = limit;
    into.reserved = reserved;
    return into;
  }

  /** The process figures for `stats()`, from the values last read (no file is read here). */
  stats(): Reading & ProcessStats {
    // Usage as last read, or read now if it is older than the monitor reuses it for (an idle pool
    // reads nothing on its own: a fresh service would report 0 bytes in use).
    this.monitor.used(performance.now());
    const { used, live } = this.monitor.cached();
    const total = this.reserved();
    const reserved = total > 0 ? Math.max(0, total - this.#materialized()) : 0;
    return { used, live, retained: undefined, limit: this.monitor.limit, reserved, underPressure: this.underPressure, ...this.monitor.stats() };
  }
}
