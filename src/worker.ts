/**
 * The worker-side wrapper: the module Piscina loads in every worker. It loads the user's task
 * module, runs the task, and publishes this isolate's readings on the shared board when the task
 * ends and after each major GC (a `'gc'` observer, which needs this isolate's event loop, so during
 * a long synchronous task the main side samples with `worker.getHeapStatistics()` instead).
 */
import { threadId } from 'node:worker_threads';
import { Board } from './readings/board.js';
import { isolateTracker } from './readings/isolate.js';
import type { Envelope } from './pool/envelope.js';

type TaskFunction = (input: unknown) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();
let board: Board | undefined;
let slot = -1;

function publish(): void {
  if (!board || slot === -1) return;
  const tracker = isolateTracker();
  board.write(slot, { ...tracker.snapshot(), retained: tracker.retained(), updatedAt: Date.now() });
}

/**
 * At the end of a task: when the heap in use is above the mark and the last live figure does not
 * already show the worker as full, the gate cannot tell garbage from growth, so collect once and
 * publish the exact live heap before the result goes back.
 */
function publishAfterTask(highWater: number): void {
  const tracker = isolateTracker();
  const ceiling = highWater * tracker.limit;
  const { used, live } = tracker.snapshot();
  if (used >= ceiling && !(live !== undefined && live >= ceiling)) tracker.collect();
  publish();
}

function joinBoard(buffer: SharedArrayBuffer): void {
  if (board) return;
  board = new Board(buffer);
  slot = board.claim(threadId);
  isolateTracker().onMajorGc(publish);
}

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
  return fn as TaskFunction;
}

function pick(value: unknown, name: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  const found = (value as Record<string, unknown>)[name];
  return typeof found === 'function' ? found : undefined;
}

/** Runs one task. Its result (including a `move()`d value) goes back to Piscina unchanged. */
export default async function runTask(envelope: Envelope): Promise<unknown> {
  if (envelope.board) joinBoard(envelope.board);
  try {
    const fn = await loadTask(envelope.filename, envelope.name);
    return await fn(envelope.input);
  } finally {
    publishAfterTask(envelope.highWater);
  }
}
