/**
 * The board: a SharedArrayBuffer on which each worker publishes its own readings, so the main
 * thread reads every worker's state synchronously for the cost of a few memory loads.
 *
 * One slot per worker. A worker claims a free slot with a compare-and-swap on the slot's owner
 * word (its thread id); the main thread frees it when the worker exits. Each slot is written
 * under a sequence lock: the writer makes the sequence odd, writes, makes it even again; a reader
 * retries while the sequence is odd or changed under it.
 *
 * A slot has three sections, each written whole: the isolate's readings ({@link Board.write}, at
 * task end and after major GCs); while the worker runs tasks, how far it has grown since it went
 * busy ({@link Board.writeBusy}, when a busy period starts and ends, every few ms between); and
 * the growth of the last task it ran alone ({@link Board.writeMeasure}, before its result goes
 * back, so the main side finds it when the result arrives).
 *
 * After the slots, one word the pool writes for every worker: whether it wants memory back
 * ({@link Board.memoryWanted}): workers then collect the garbage earlier tasks left before a task
 * starts, or while one awaits (not for a run placed to reuse it).
 */
import type { IsolateSnapshot } from './isolate.js';

const OWNER = 0;
const SEQ = 1;
const HEADER_INT32S = 2;
const FIELDS = ['used', 'live', 'retained', 'limit', 'external', 'majorGcs', 'collections', 'fresh', 'updatedAt', 'leftovers'] as const;
const BUSY_FIELDS = ['baseHeap', 'heap', 'baseExternal', 'external', 'resident', 'since', 'at', 'ended', 'tasks'] as const;
const MEASURE_FIELDS = ['order', 'heap', 'external', 'resident'] as const;
const BUSY_OFFSET = FIELDS.length;
const MEASURE_OFFSET = FIELDS.length + BUSY_FIELDS.length;
const FLOATS = MEASURE_OFFSET + MEASURE_FIELDS.length;
const SLOT_BYTES = HEADER_INT32S * 4 + FLOATS * 8;
const READ_ATTEMPTS = 8;
/** The pool-wide words after the slots: [memory wanted (0 or 1)]. */
const TAIL_BYTES = 8;

/** What a worker publishes. `live` is `undefined` before its first major GC. */
export interface BoardReading extends IsolateSnapshot {
  /** What could still be live when the reading was written (see `IsolateTracker.retained`). */
  retained: number;
  /**
   * The heap in use when the worker's first task was about to be called (its task module loaded,
   * no task run yet): at most what a fresh worker carries. `undefined` until then.
   */
  fresh: number | undefined;
  /** When the reading was written, `Date.now()` milliseconds. */
  updatedAt: number;
  /**
   * Off-heap bytes of garbage tasks left uncollected (no memory was wanted at their ends): the
   * off-heap bytes above where they were before the first such task; 0 when none. Until it is
   * collected, the worker's allocator cannot give that memory to a new run.
   */
  leftovers: number;
}

/**
 * A worker's busy period: from when it went from no task to one until it has none again. Its heap
 * in use and off-heap bytes when the period began (`base…`) and at the latest look, bytes.
 */
export interface BusyReading {
  baseHeap: number;
  heap: number;
  baseExternal: number;
  external: number;
  /**
   * Bytes its thread has made resident (first-touch page faults) since a task with an off-heap
   * need started; `NaN` when not tracked or not readable.
   */
  resident: number;
  /** When the period began, `Date.now()` milliseconds. */
  since: number;
  /** When the figures were taken, `Date.now()` milliseconds. */
  at: number;
  /** When its last task returned, `Date.now()` milliseconds; 0 while tasks run. */
  ended: number;
  /** Tasks the worker had started in all when this was written. */
  tasks: number;
}

/** What one task that ran alone on its worker grew, bytes. */
export interface Measurement {
  /** Which task this was to start on the worker (1, 2, …; nudges count). */
  order: number;
  /** Its heap growth; `NaN` when it was not measured (then neither is `external`). */
  heap: number;
  /** Its off-heap growth; `NaN` when not measured. */
  external: number;
  /** What its thread made resident while it ran (first-touch page faults); `NaN` when not tracked. */
  resident: number;
}

/** A view of the board; both sides construct one over the same buffer. */
export class Board {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;
  /** Slots found by {@link slotOf}, checked against the owner field before use (one load, not a scan). */
  readonly #found = new Map<number, number>();
  /** The reading last decoded from each slot, with the sequence it was decoded at: read again only when the slot changed. */
  readonly #decoded: ({ seq: number; owner: number; reading: BoardReading | undefined } | undefined)[] = [];

  constructor(bufferOrSlots: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrSlots === 'number' ? new SharedArrayBuffer(bufferOrSlots * SLOT_BYTES + TAIL_BYTES) : bufferOrSlots;
    this.slots = Math.floor((this.buffer.byteLength - TAIL_BYTES) / SLOT_BYTES);
    this.#ints = new Int32Array(this.buffer);
    this.#floats = new Float64Array(this.buffer);
  }

  /** Claims a free slot for `threadId` (worker side). Returns its index, or -1 when none is free. */
  claim(threadId: number): number {
    const existing = this.slotOf(threadId);
    if (existing !== -1) return existing;
    for (let slot = 0; slot < this.slots; slot++) {
      if (Atomics.compareExchange(this.#ints, this.#intBase(slot) + OWNER, 0, threadId) === 0) return slot;
    }
    return -1;
  }

  /** The slot owned by `threadId`, or -1. */
  slotOf(threadId: number): number {
    const known = this.#found.get(threadId);
    if (known !== undefined && Atomics.load(this.#ints, this.#intBase(known) + OWNER) === threadId) return known;
    for (let slot = 0; slot < this.slots; slot++) {
      if (Atomics.load(this.#ints, this.#intBase(slot) + OWNER) === threadId) {
        this.#found.set(threadId, slot);
        return slot;
      }
    }
    this.#found.delete(threadId);
    return -1;
  }

  /** Frees the slot of `threadId` (main side, when the worker has exited). */
  release(threadId: number): void {
    const slot = this.slotOf(threadId);
    if (slot === -1) return;
    const base = this.#intBase(slot);
    Atomics.add(this.#ints, base + SEQ, 1);
    this.#floats.fill(0, this.#floatBase(slot), this.#floatBase(slot) + FLOATS);
    Atomics.add(this.#ints, base + SEQ, 1);
    Atomics.store(this.#ints, base + OWNER, 0);
    this.#found.delete(threadId);
  }

  /** Writes a reading into `slot` (worker side). */
  write(slot: number, reading: BoardReading): void {
    this.#writeLocked(slot, 0, [reading.used, reading.live ?? Number.NaN, reading.retained, reading.limit, reading.external, reading.majorGcs, reading.collections, reading.fresh ?? Number.NaN, reading.updatedAt, reading.leftovers]);
  }

  /** Writes the busy section of `slot` (worker side). */
  writeBusy(slot: number, busy: BusyReading): void {
    this.#writeLocked(slot, BUSY_OFFSET, [busy.baseHeap, busy.heap, busy.baseExternal, busy.external, busy.resident, busy.since, busy.at, busy.ended, busy.tasks]);
  }

  /** Writes the measure section of `slot` (worker side). */
  writeMeasure(slot: number, measurement: Measurement): void {
    this.#writeLocked(slot, MEASURE_OFFSET, [measurement.order, measurement.heap, measurement.external, measurement.resident]);
  }

  /** The last measurement `threadId` published, or `undefined`. */
  readMeasure(threadId: number): Measurement | undefined {
    const measured = this.#readLocked(threadId, MEASURE_OFFSET, (field) => ({ order: field(0), heap: field(1), external: field(2), resident: field(3) }));
    return measured && measured.order > 0 ? measured : undefined;
  }

  /** The busy period `threadId` last published (ended or not), or `undefined` when it never had one. */
  readBusy(threadId: number): BusyReading | undefined {
    const busy = this.#readLocked(threadId, BUSY_OFFSET, (field) => ({
      baseHeap: field(0),
      heap: field(1),
      baseExternal: field(2),
      external: field(3),
      resident: field(4),
      since: field(5),
      at: field(6),
      ended: field(7),
      tasks: field(8),
    }));
    return busy && busy.since !== 0 ? busy : undefined;
  }

  /**
   * Reads what `threadId` last published, or `undefined` when it has no slot or never wrote. The
   * same object is returned while the slot is unchanged: callers must not modify it.
   */
  read(threadId: number): BoardReading | undefined {
    const slot = this.slotOf(threadId);
    if (slot === -1) return undefined;
    const seq = Atomics.load(this.#ints, this.#intBase(slot) + SEQ);
    const cached = this.#decoded[slot];
    if (cached && cached.seq === seq && cached.owner === threadId) return cached.reading;
    const reading = this.#decode(threadId);
    if (seq % 2 === 0 && Atomics.load(this.#ints, this.#intBase(slot) + SEQ) === seq) this.#decoded[slot] = { seq, owner: threadId, reading };
    return reading;
  }

  /** The order number of the last measurement `threadId` published (one load, no decoding); 0 when none. */
  measuredOrder(threadId: number): number {
    const slot = this.slotOf(threadId);
    return slot === -1 ? 0 : (this.#floats[this.#floatBase(slot) + MEASURE_OFFSET] ?? 0);
  }

  #decode(threadId: number): BoardReading | undefined {
    const reading = this.#readLocked(threadId, 0, (field) => {
      const live = field(1);
      const fresh = field(7);
      return {
        used: field(0),
        live: Number.isNaN(live) ? undefined : live,
        retained: field(2),
        limit: field(3),
        external: field(4),
        majorGcs: field(5),
        collections: field(6),
        fresh: Number.isNaN(fresh) ? undefined : fresh,
        updatedAt: field(8),
        leftovers: field(9),
      };
    });
    return reading && reading.updatedAt !== 0 ? reading : undefined;
  }

  /**
   * Whether the pool wants memory back: a task waits for (or was refused) room in the process or a
   * worker, or a scope is under pressure. Read by workers, written by the pool only.
   */
  get memoryWanted(): boolean {
    return Atomics.load(this.#ints, (this.slots * SLOT_BYTES) / 4) === 1;
  }

  set memoryWanted(wanted: boolean) {
    Atomics.store(this.#ints, (this.slots * SLOT_BYTES) / 4, wanted ? 1 : 0);
  }

  /** Writes `values` at float `offset` of `slot` under its sequence lock. */
  #writeLocked(slot: number, offset: number, values: readonly number[]): void {
    const base = this.#intBase(slot);
    Atomics.add(this.#ints, base + SEQ, 1);
    this.#floats.set(values, this.#floatBase(slot) + offset);
    Atomics.add(this.#ints, base + SEQ, 1);
  }

  /** Decodes the fields at float `offset` of `threadId`'s slot, retrying while a write is under way. */
  #readLocked<T>(threadId: number, offset: number, decode: (field: (index: number) => number) => T): T | undefined {
    const slot = this.slotOf(threadId);
    if (slot === -1) return undefined;
    const base = this.#intBase(slot);
    const at = this.#floatBase(slot) + offset;
    const field = (index: number): number => this.#floats[at + index] ?? 0;
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.#ints, base + SEQ);
      if (before % 2 === 1) continue;
      const value = decode(field);
      if (Atomics.load(this.#ints, base + SEQ) === before) return value;
    }
    return undefined;
  }

  #intBase(slot: number): number {
    return (slot * SLOT_BYTES) / 4;
  }

  #floatBase(slot: number): number {
    return (slot * SLOT_BYTES + HEADER_INT32S * 4) / 8;
  }
}
