/**
 * The worker-side wrapper: runs each task and nudge that comes on the pool's port (see
 * `pool-port.ts`) by the handler for its task key (see `task-key.ts`); Piscina loads it and sends
 * it only what starts a worker. A handler calls the user's export with the task's input as is and
 * returns its result as is; the
 * wrapper's own readings go on the shared board: the isolate's readings when a task ends and after
 * each major GC, the busy period while tasks that reserve process memory run, and the growth of a
 * task that ran alone (read by the main side when its result arrives).
 *
 * Invariant: `started` is the order number of the last task or nudge this worker received (the
 * pool numbers them per worker, 1, 2, …, and the port keeps their order); a measurement carries
 * its task's number.
 */
import { getEnvironmentData, threadId, type MessagePort } from 'node:worker_threads';
import { Board } from '../readings/board.js';
import { isolateTracker, type IsolateSnapshot } from '../readings/isolate.js';
import { GrowthMeter, shouldMeasure } from './growth-meter.js';
import { BusyPeriod } from './busy-period.js';
import { threadFaultBytes } from './thread-faults.js';
import { decodeKey, settingsKey, type TaskFlags, type WorkerSettings } from './task-key.js';
import { encodeTaskError } from './task-error.js';
import { isThenable, servePoolPort } from './pool-port.js';
import type { LineHandover } from '../placement/worker-port.js';

type TaskFunction = (input: unknown) => unknown;
/** Runs one task or nudge; `order`: its order number, from the pool (see `started`). */
type Handler = (input: unknown, order: number) => unknown;

/** One pool's settings in this worker (a worker serves one pool; a map keeps it honest). */
interface PoolContext {
  board: Board;
  slot: number;
  highWater: number;
  /** The pool's task module, a file URL; `undefined` when every task names its own. */
  filename: string | undefined;
}

/** Task modules loaded in this worker, by file URL (a module stays loaded for the worker's life). */
const modules = new Map<string, Promise<Record<string, unknown>>>();

function moduleAt(file: string): Promise<Record<string, unknown>> {
  let loading = modules.get(file);
  if (!loading) {
    loading = loadModule(file);
    modules.set(file, loading);
  }
  return loading;
}

const pools = new Map<number, PoolContext>();
/** Tasks running in this worker now, and the order number of the last task or nudge received. */
let running = 0;
let started = 0;
/** Tasks and nudges that have begun here (their handlers ran), however they arrived: the busy period publishes it. */
let begun = 0;
/** Whether the task that began this worker's current run of tasks was placed to reuse the garbage earlier runs left (see `TaskFlags.reuse`). */
let reusing = false;
/** Open from the start of a task that reserves process memory until no task runs. */
let busy: BusyPeriod | undefined;
/** Heap in use just before the first task was called (see `BoardReading.fresh`). */
let fresh: number | undefined;
let publishing: PoolContext | undefined;

/**
 * The user's task module. A default export that is a promise (a module that loads its handler
 * asynchronously, as Piscina allows) is awaited: its value stands as the default export.
 */
async function loadModule(filename: string): Promise<Record<string, unknown>> {
  const mod = (await import(filename)) as Record<string, unknown>;
  return isThenable(mod.default) ? { ...mod, default: await mod.default } : mod;
}

function poolContext(poolId: number): PoolContext {
  const known = pools.get(poolId);
  if (known) return known;
  const settings = getEnvironmentData(settingsKey(poolId)) as WorkerSettings | undefined;
  if (!settings) throw new Error(`heapgate: no settings for pool ${poolId} in this worker`);
  const board = new Board(settings.board);
  const context: PoolContext = {
    board,
    slot: board.claim(threadId),
    highWater: settings.highWater,
    filename: settings.filename,
  };
  pools.set(poolId, context);
  if (!publishing) {
    publishing = context;
    isolateTracker().onMajorGc(() => publish());
    publish();
  }
  return context;
}

/**
 * Off-heap garbage tasks left (a task's end never collects it: see {@link publishAfterTask}): the
 * clean level (below) those tasks were judged against; `undefined` when there is none. It may
 * include live data a task kept (it errs towards "garbage": runs starting on it are not measured)
 * until a major GC of the worker's own (see {@link collectLeftovers}),
 * or until V8 itself has brought the off-heap bytes back within {@link OFF_HEAP_SWEEP_BYTES} of it.
 */
let offHeapBeforeLeftovers: number | undefined;
/**
 * The clean level: the least off-heap bytes this worker is known to hold with no garbage — right
 * after a major GC of its own with no task running, or at its first task — lowered by any smaller
 * figure seen since. A task's end compares with the lower of this and where the task started
 * (which may itself have been garbage that V8 freed while the task ran).
 */
let cleanExternal: number | undefined;

/** A major GC of this worker's own ran: nothing earlier tasks dropped is left. */
function ranOwnMajorGc(): void {
  offHeapBeforeLeftovers = undefined;
  const external = isolateTracker().snapshot().external;
  // With a task running, its live Buffers are not the clean level: only lower it then.
  cleanExternal = running === 0 ? external : Math.min(cleanExternal ?? external, external);
}
/** Off-heap bytes at the last look (a task's end or a publish): where the next task starts. */
let externalSeen = 0;
/** What was last written to the board. */
let published: IsolateSnapshot | undefined;
/** Whether the board has this worker's `fresh` figure (it is known from its first task on). */
let freshPublished = false;
/** The `leftovers` figure last written to the board. */
let publishedLeftovers = 0;
/** Changes smaller than this (heap in use, off-heap) are not worth a board write after a task. */
const PUBLISH_STEP_BYTES = 256 * 2 ** 10;

/**
 * Publishes this isolate's readings (from `snapshot` when the caller has just taken one). After a
 * task (`onlyIfChanged`), an unchanged reading is not written again: the gate's figures stay true
 * to within {@link PUBLISH_STEP_BYTES}.
 */
function publish(snapshot = isolateTracker().snapshot(), onlyIfChanged = false): void {
  externalSeen = snapshot.external;
  if (cleanExternal !== undefined && snapshot.external < cleanExternal) cleanExternal = snapshot.external;
  if (offHeapBeforeLeftovers !== undefined && snapshot.external - offHeapBeforeLeftovers < OFF_HEAP_SWEEP_BYTES) offHeapBeforeLeftovers = undefined;
  const leftovers = offHeapBeforeLeftovers === undefined ? 0 : snapshot.external - offHeapBeforeLeftovers;
  if (!publishing || publishing.slot === -1) return;
  if (onlyIfChanged && published && sameReading(published, snapshot) && (freshPublished || fresh === undefined) && (publishedLeftovers > 0) === (leftovers > 0)) return;
  published = snapshot;
  freshPublished = fresh !== undefined;
  // The retained estimate (1–2.5 µs) only matters once the heap nears the mark; below half the
  // limit, `used` (which it never exceeds) stands in for it.
  const retained = snapshot.used < snapshot.limit / 2 ? snapshot.used : isolateTracker().retained();
  publishedLeftovers = leftovers;
  publishing.board.write(publishing.slot, { ...snapshot, retained, fresh, updatedAt: Date.now(), leftovers });
}

function sameReading(a: IsolateSnapshot, b: IsolateSnapshot): boolean {
  return (
    Math.abs(a.used - b.used) < PUBLISH_STEP_BYTES &&
    Math.abs(a.external - b.external) < PUBLISH_STEP_BYTES &&
    a.live === b.live &&
    a.majorGcs === b.majorGcs &&
    a.collections === b.collections
  );
}

/** Off-heap growth during one task above which what it dropped counts as leftovers (see {@link offHeapBeforeLeftovers}). */
const OFF_HEAP_SWEEP_BYTES = 8 * 2 ** 20;

/**
 * At the end of a task, before the result goes back. What the task dropped is not collected here:
 * when its off-heap memory grew by {@link OFF_HEAP_SWEEP_BYTES} or more, it is published as
 * leftovers, and the pool decides who collects them — the next run of the same name placed here
 * reuses that memory as V8 frees it (no collection), any other task starting here collects them
 * first while the pool wants memory (see {@link begin}), and an idle worker holding them collects
 * when asked (a nudge). A full GC between two runs throws away optimized code the next run
 * rebuilds (measured: the next run of a fetch-heavy job took ~25 % more CPU, with ~8 × the
 * deoptimizations). When the heap in use is above the mark and the last live figure does not
 * already show the worker full, a full GC measures it.
 */
function publishAfterTask(externalAtStart: number, highWater: number): Promise<void> | undefined {
  const ceiling = highWater * isolateTracker().limit;
  const clean = Math.min(cleanExternal ?? externalAtStart, externalAtStart);
  const atEnd = isolateTracker().snapshot();
  if (atEnd.external - clean >= OFF_HEAP_SWEEP_BYTES) offHeapBeforeLeftovers = Math.min(offHeapBeforeLeftovers ?? Number.POSITIVE_INFINITY, clean);
  const measure = ({ used, live }: IsolateSnapshot): boolean => used >= ceiling && !(live !== undefined && live >= ceiling);
  if (!measure(atEnd)) {
    publish(atEnd, true);
    return undefined;
  }
  return measureThenPublish(measure);
}

async function measureThenPublish(measure: (snapshot: IsolateSnapshot) => boolean): Promise<void> {
  const tracker = isolateTracker();
  // What a finished task allocated can stay reachable until the event loop turns once.
  await new Promise((resolve) => setImmediate(resolve));
  if (measure(tracker.snapshot()) && tracker.collect('major')) ranOwnMajorGc();
  publish();
}

/**
 * Collects what earlier tasks left (see {@link offHeapBeforeLeftovers}): when the pool wants memory,
 * or (`evenIfUnwanted`) before a run that learns its name's need, whose measurement must not start on
 * garbage that V8 may free while it runs, and before a task the pool placed here while that
 * garbage is large beside the process's room (a long task could keep it there). A major GC.
 */
function collectLeftovers(board: Board, evenIfUnwanted = false): void {
  if (offHeapBeforeLeftovers === undefined || !(evenIfUnwanted || board.memoryWanted)) return;
  if (isolateTracker().collect('major')) ranOwnMajorGc();
  publish();
}

/** A nudge: collect garbage and publish fresh readings. */
async function collectNow(): Promise<void> {
  begun++;
  // Let the worker run what it scheduled first (with Piscina's `atomics: 'sync'` a worker can take
  // this message without its event loop turning since the last task), then collect.
  await new Promise((resolve) => setImmediate(resolve));
  if (isolateTracker().collect('major')) ranOwnMajorGc();
  publish();
}


function pick(value: unknown, name: string): TaskFunction | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  const found = (value as Record<string, unknown>)[name];
  return typeof found === 'function' ? (found as TaskFunction) : undefined;
}

/** The user's export `name`: a named export, a property of the default export, or the default export itself for `'default'`. */
function exportOf(mod: Record<string, unknown>, name: string, filename: string): TaskFunction {
  const fn = pick(mod, name) ?? pick(mod.default, name) ?? (name === 'default' && typeof mod.default === 'function' ? (mod.default as TaskFunction) : undefined);
  // Piscina's words first, so that code matching Piscina's message keeps working.
  if (!fn) throw new TypeError(`No handler function exported from ${filename}: it has no function export named '${name}'`);
  return fn;
}

/** One task's bookkeeping, from its start until its result goes back. */
interface Run {
  context: PoolContext;
  externalAtStart: number;
  order: number;
  meter: GrowthMeter | undefined;
  /** This thread's fault bytes when it started alone with an off-heap need; `undefined` otherwise. */
  faultsAtStart: number | undefined;
  /** It was placed to reuse the garbage earlier runs left (`TaskFlags.reuse`) and began the worker's run of tasks. */
  reuses: boolean;
}

function begin(context: PoolContext, name: string, flags: TaskFlags, order: number): Run {
  // Before anything is read for this task: its starting point is then without that garbage.
  if (running === 0) {
    // A run placed to reuse its name's garbage here starts on it, and V8 frees it as the run allocates.
    reusing = flags.reuse;
    if (!reusing) collectLeftovers(context.board, flags.measure || flags.clean);
  }
  // Its module loaded, no task run yet: nothing off-heap is garbage.
  cleanExternal ??= isolateTracker().snapshot().external;
  running++;
  begun++;
  // Started by a later task of the period, a busy period counts from there (less credit: errs safe).
  if (flags.credit && !busy && context.slot !== -1) busy = new BusyPeriod(context.board, context.slot, isolateTracker().snapshot(), () => begun, () => {
    if (!reusing) collectLeftovers(context.board);
  });
  if (flags.offHeap) busy?.trackResidency();
  // A run that starts on garbage is not measured: V8 may free that garbage as it runs, and its
  // growth would then come out low by as much (the learning run collected it above).
  const meter = running === 1 && offHeapBeforeLeftovers === undefined && (flags.measure || shouldMeasure(name)) ? new GrowthMeter(fresh ?? 0) : undefined;
  const faultsAtStart = running === 1 && flags.offHeap ? threadFaultBytes() : undefined;
  // An idle worker's off-heap bytes stay where its last task or GC left them.
  return { context, externalAtStart: externalSeen, order, meter, faultsAtStart, reuses: running === 1 && reusing };
}

/** Publishes the task's growth and what its thread made resident, when it ran alone on this worker (attributable only then). */
function measured(run: Run): void {
  const growth = run.meter?.stop();
  if ((!growth && run.faultsAtStart === undefined) || started !== run.order || running !== 1 || run.context.slot === -1) return;
  const resident = run.faultsAtStart === undefined ? Number.NaN : (threadFaultBytes() ?? Number.NaN) - run.faultsAtStart;
  run.context.board.writeMeasure(run.context.slot, { order: run.order, heap: growth?.heap ?? Number.NaN, external: growth?.external ?? Number.NaN, resident });
}

/** Ends the task's bookkeeping; a promise only when garbage is collected before the result goes back. */
function end(run: Run): Promise<void> | undefined {
  run.meter?.stop();
  // Its garbage reused (or freed by V8) as it ran: what is left now is this run's own.
  if (run.reuses) reusing = false;
  if (--running === 0) {
    busy?.end();
    busy = undefined;
  }
  return publishAfterTask(run.externalAtStart, run.context.highWater);
}

/** What a task that threw ends with: its error as is, or the envelope that keeps all of it (`task-error.ts`). */
function thrown(error: unknown): unknown {
  const envelope = encodeTaskError(error);
  if (envelope === undefined) throw error;
  return envelope;
}

function failed(run: Run, error: unknown): unknown {
  const collecting = end(run);
  if (!collecting) return thrown(error);
  return collecting.then(() => thrown(error));
}

async function completeAsync(run: Run, returned: PromiseLike<unknown>): Promise<unknown> {
  busy?.watch();
  let value: unknown;
  try {
    value = await returned;
    measured(run);
  } catch (error) {
    await end(run);
    return thrown(error);
  }
  await end(run);
  return value;
}

/**
 * Calls the task and returns its result. A synchronous task's result goes back as a plain value
 * (Piscina awaits whatever it gets): no promise of the wrapper's own.
 */
function complete(run: Run, fn: TaskFunction, input: unknown): unknown {
  fresh ??= isolateTracker().snapshot().used;
  let result: unknown;
  try {
    const returned = fn(input);
    if (isThenable(returned)) return completeAsync(run, returned);
    result = returned;
    measured(run);
  } catch (error) {
    return failed(run, error);
  }
  const collecting = end(run);
  return collecting ? collecting.then(() => result) : result;
}

/**
 * The handler for a task key: a function, or a promise of one while the user's module loads
 * (Piscina awaits it). It never rejects: a module that fails to load, or has no such export, gives
 * a handler that fails each task with that error.
 */
export function handlerFor(key: string): Handler | Promise<Handler> {
  const decoded = decodeKey(key);
  if (!decoded) {
    return () => {
      throw new TypeError(`heapgate: '${key}' is not a task key`);
    };
  }
  const context = poolContext(decoded.poolId);
  if (decoded.kind === 'connect') return decoded.threadId === threadId ? connect : dropLine;
  if (decoded.kind !== 'task') return decoded.kind === 'collect' ? collectNow : doNothing;
  const { name, flags } = decoded;
  const file = decoded.file ?? context.filename;
  if (file === undefined) return failing(context, name, flags, new TypeError('filename must be provided to run() or in options object'));
  const made = (fn: TaskFunction): Handler => (input, order) => complete(begin(context, name, flags, order), fn, input);
  return moduleAt(file).then(
    (mod) => {
      try {
        return made(exportOf(mod, name, file));
      } catch (error) {
        return failing(context, name, flags, error);
      }
    },
    (error: unknown) => failing(context, name, flags, error),
  );
}

/** A handler that fails every task with `error`, keeping the order count and readings. */
function failing(context: PoolContext, name: string, flags: TaskFlags, error: unknown): Handler {
  return (_input, order) => failed(begin(context, name, flags, order), error);
}

function doNothing(): undefined {
  return undefined;
}

/** A line meant for a worker that was gone when Piscina placed it. */
function dropLine(input: unknown): undefined {
  (input as { port: MessagePort }).port.close();
  return undefined;
}

/** Takes this worker's end of the pool's line (see `pool-port.ts`). */
function connect(input: unknown): undefined {
  servePoolPort(input as LineHandover, runMessage, (order) => (started = order));
  return undefined;
}

/** Handlers by task key, as made (a promise while the user's module loads). */
const handlers = new Map<string, Handler | Promise<Handler>>();
/** Task keys whose handlers are kept (a key is a name and flags: few). */
const MAX_HANDLERS = 4096;

/** Runs a task or nudge that came on the pool's port (see `pool-port.ts`). */
function runMessage(key: string, input: unknown, order: number): unknown {
  let handler = handlers.get(key);
  if (handler === undefined) {
    if (handlers.size >= MAX_HANDLERS) handlers.clear();
    const made = handlerFor(key);
    handler = made;
    handlers.set(key, made);
    if (!(typeof made === 'function')) void made.then((loaded) => handlers.get(key) === made && handlers.set(key, loaded));
  }
  if (typeof handler === 'function') return handler(input, order);
  return handler.then((loaded) => loaded(input, order));
}
