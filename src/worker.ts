/**
 * The worker-side wrapper: the module Piscina loads in every worker. It loads the user's task
 * module, runs the task, and publishes this isolate's readings on the shared board when the task
 * ends and after each major GC (a `'gc'` observer, which needs this isolate's event loop, so during
 * a long synchronous task the main side samples with `worker.getHeapStatistics()` instead).
 */
import { threadId } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Board } from './readings/board.js';
import { isolateTracker, type IsolateSnapshot } from './readings/isolate.js';
import { GrowthMeter, shouldMeasure } from './worker/growth-meter.js';
import { BusyPeriod } from './worker/busy-period.js';
import type { Envelope, Growth, ResultEnvelope, TaskEnvelope } from './pool/envelope.js';

type TaskFunction = (input: unknown) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();
let board: Board | undefined;
let slot = -1;
/** Tasks running in this worker now, and how many have started in all (to tell solo runs). */
let running = 0;
let started = 0;
/** Open from the start of a task that reserves process memory until no task runs. */
let busy: BusyPeriod | undefined;
/** Heap in use just before the first task was called (see `BoardReading.fresh`). */
let fresh: number | undefined;

/** Publishes this isolate's readings (from `snapshot` when the caller has just taken one). */
function publish(snapshot = isolateTracker().snapshot()): void {
  if (!board || slot === -1) return;
  // The retained estimate (1–2.5 µs) only matters once the heap nears the mark; below half the
  // limit, `used` (which it never exceeds) stands in for it.
  const retained = snapshot.used < snapshot.limit / 2 ? snapshot.used : isolateTracker().retained();
  board.write(slot, { ...snapshot, retained, fresh, updatedAt: Date.now() });
}

/** Off-heap growth during one task above which its end runs a minor GC. */
const OFF_HEAP_SWEEP_BYTES = 8 * 2 ** 20;

/**
 * At the end of a task, before the result goes back, so that the readings the gate sees next are
 * true:
 * - when off-heap memory grew by 8 MiB or more during the task, a minor GC (0.5–4 ms) frees the
 *   Buffers the task dropped, and a major GC follows when that was not enough (their objects had
 *   outlived a GC during the task); otherwise they stay charged to the process until this idle
 *   worker happens to collect, and the gate holds work for memory that is already garbage;
 * - when the heap in use is above the mark and the last live figure does not already show the
 *   worker as full, the gate cannot tell garbage from growth, so a full GC measures the live heap.
 */
function publishAfterTask(highWater: number, externalAtStart: number): Promise<void> | undefined {
  const ceiling = highWater * isolateTracker().limit;
  const sweep = (snapshot: IsolateSnapshot): boolean => snapshot.external - externalAtStart >= OFF_HEAP_SWEEP_BYTES;
  const measure = ({ used, live }: IsolateSnapshot): boolean => used >= ceiling && !(live !== undefined && live >= ceiling);
  const atEnd = isolateTracker().snapshot();
  if (!sweep(atEnd) && !measure(atEnd)) {
    publish(atEnd);
    return undefined;
  }
  return collectThenPublish(sweep, measure);
}

/** The slow end of {@link publishAfterTask}: collect what the task left, then publish. */
async function collectThenPublish(sweep: (snapshot: IsolateSnapshot) => boolean, measure: (snapshot: IsolateSnapshot) => boolean): Promise<void> {
  const tracker = isolateTracker();
  // What a finished task allocated can stay reachable until the event loop turns once (its
  // timers and promise bookkeeping); collecting before that would count it as live.
  await new Promise((resolve) => setImmediate(resolve));
  if (sweep(tracker.snapshot())) tracker.collect('minor');
  // Still up: the dropped Buffers' objects outlived a GC during the task (V8 moved them to the old
  // generation), and only a major GC frees them and their memory.
  if (sweep(tracker.snapshot()) || measure(tracker.snapshot())) tracker.collect('major');
  publish();
}

function joinBoard(buffer: SharedArrayBuffer): void {
  if (board) return;
  board = new Board(buffer);
  slot = board.claim(threadId);
  isolateTracker().onMajorGc(publish);
  publish();
}

/** Task functions already loaded, by file and export name. */
const loaded = new Map<string, TaskFunction>();

async function loadTask(filename: string, name: string): Promise<TaskFunction> {
  let loading = modules.get(filename);
  if (!loading) {
    loading = import(filename) as Promise<Record<string, unknown>>;
    modules.set(filename, loading);
  }
  const mod = await loading;
  const fn = pick(mod, name) ?? pick(mod.default, name) ?? (name === 'default' && typeof mod.default === 'function' ? mod.default : undefined);
  if (typeof fn !== 'function') {
    throw new TypeError(`task module ${filename} has no function export named '${name}'`);
  }
  loaded.set(`${filename}\0${name}`, fn as TaskFunction);
  return fn as TaskFunction;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function pick(value: unknown, name: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  const found = (value as Record<string, unknown>)[name];
  return typeof found === 'function' ? found : undefined;
}

/**
 * The result for Piscina: `{ v, m }`. When the task returned a `move()`d value, the envelope is
 * itself made movable with the same transferables, so the transfer still happens.
 */
function wrapResult(value: unknown, growth: Growth | undefined): unknown {
  const movable = value as Record<symbol, unknown> | null;
  if (movable !== null && typeof movable === 'object' && transferableSymbol in movable && valueSymbol in movable) {
    const envelope: ResultEnvelope = { v: movable[valueSymbol], m: growth };
    return move({ [transferableSymbol]: movable[transferableSymbol], [valueSymbol]: envelope } as never);
  }
  const envelope: ResultEnvelope = { v: value, m: growth };
  return envelope;
}

/** One task's bookkeeping, from its start until its result goes back. */
interface Run {
  atStart: IsolateSnapshot;
  /** Which task this was to start on this worker (1, 2, …). */
  order: number;
  meter: GrowthMeter | undefined;
  highWater: number;
}

function begin(envelope: TaskEnvelope): Run {
  const atStart = isolateTracker().snapshot();
  const order = ++started;
  running++;
  // A busy period is published only for tasks whose process reservation it lets the pool credit;
  // started by a later task of the period, it counts from there (less credit: errs safe).
  if (envelope.credit && !busy && board && slot !== -1) busy = new BusyPeriod(board, slot, atStart, () => started);
  if (envelope.offHeap) busy?.trackResidency();
  const meter = running === 1 && shouldMeasure(envelope.name) ? new GrowthMeter(fresh ?? 0) : undefined;
  return { atStart, order, meter, highWater: envelope.highWater };
}

/** The result for Piscina, with the task's growth when it ran alone on this worker (called before {@link end}). */
function resultOf(run: Run, value: unknown): unknown {
  const growth = run.meter?.stop();
  // Attributable only if no other task started or ran on this worker meanwhile.
  return wrapResult(value, started === run.order && running === 1 ? growth : undefined);
}

/** Ends the task's bookkeeping; a promise only when garbage is collected before the result goes back. */
function end(run: Run): Promise<void> | undefined {
  run.meter?.stop();
  if (--running === 0) {
    busy?.end();
    busy = undefined;
  }
  return publishAfterTask(run.highWater, run.atStart.external);
}

/** The task failed (or its function could not be loaded): end its bookkeeping, then fail with its error. */
function failed(run: Run, error: unknown): never | Promise<never> {
  const collecting = end(run);
  if (!collecting) throw error;
  return collecting.then(() => Promise.reject(error as Error));
}

async function completeAsync(run: Run, returned: PromiseLike<unknown>): Promise<unknown> {
  busy?.watch();
  try {
    return resultOf(run, await returned);
  } finally {
    await end(run);
  }
}

/**
 * Calls the task and returns its result. A synchronous task's result goes back as a plain value
 * (Piscina awaits whatever it gets): no promise of the wrapper's own, so handing a worker its next
 * task costs no extra microtask turns.
 */
function complete(run: Run, call: () => unknown): unknown {
  // Once per worker: what it carries with the task module loaded and no task run (an upper bound
  // of a fresh worker's live heap: garbage from loading is counted too).
  fresh ??= isolateTracker().snapshot().used;
  let result: unknown;
  try {
    const returned = call();
    if (isThenable(returned)) return completeAsync(run, returned);
    result = resultOf(run, returned);
  } catch (error) {
    return failed(run, error);
  }
  const collecting = end(run);
  return collecting ? collecting.then(() => result) : result;
}

/** A nudge: collect garbage and publish fresh readings. */
async function collectNow(): Promise<ResultEnvelope> {
  // Let the worker run what it scheduled first (with Piscina's default `atomics: 'sync'` a worker
  // can take this message without its event loop turning since the last task), then collect.
  await new Promise((resolve) => setImmediate(resolve));
  isolateTracker().collect('major');
  publish();
  return { v: undefined, m: undefined };
}

/** Runs one task, or a nudge. */
export default function runTask(envelope: Envelope): unknown {
  if (envelope.board) joinBoard(envelope.board);
  if (envelope.kind === 'collect') return collectNow();
  const run = begin(envelope);
  const { input } = envelope;
  const fn = loaded.get(`${envelope.filename}\0${envelope.name}`);
  if (fn) return complete(run, () => fn(input));
  return loadTask(envelope.filename, envelope.name).then(
    (loadedFn) => complete(run, () => loadedFn(input)),
    (error: unknown) => failed(run, error),
  );
}
