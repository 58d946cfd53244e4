/**
 * The worker's end of the pool's line (see `placement/worker-port.ts`), sent to it once through
 * Piscina: every task and nudge arrives on it, and every answer goes back on it.
 *
 * Invariant: each message is answered exactly once, under its own order number: with the value
 * the run gave, or with what it threw or rejected with, or, for a result that cannot be cloned,
 * with Node's message saying why (the worker goes on).
 */
import type { MessagePort } from 'node:worker_threads';
import type { AnswerMessage, TaskMessage } from '../placement/worker-port.js';
import { movedValue } from '../placement/movable.js';

/** Runs a task or nudge: its value, or a promise of it; throws or rejects when it fails. */
export type RunMessage = (key: string, input: unknown, order: number) => unknown;

/** Serves the line `port`: `run` serves each message, `received` learns each order number first. */
export function servePoolPort(port: MessagePort, run: RunMessage, received: (order: number) => void): void {
  port.on('message', (message: TaskMessage) => {
    received(message.o);
    let value: unknown;
    try {
      value = run(message.k, message.i, message.o);
    } catch (error) {
      answer(port, { o: message.o, e: error });
      return;
    }
    if (isThenable(value)) {
      value.then(
        (settled) => answerValue(port, message.o, settled),
        (error: unknown) => answer(port, { o: message.o, e: error }),
      );
    } else {
      answerValue(port, message.o, value);
    }
  });
}

function answerValue(port: MessagePort, order: number, value: unknown): void {
  const moved = movedValue(value);
  try {
    if (moved) port.postMessage({ o: order, v: moved.value } satisfies AnswerMessage, moved.transferList);
    else port.postMessage({ o: order, v: value } satisfies AnswerMessage);
  } catch (error) {
    port.postMessage({ o: order, r: error instanceof Error ? `${error.name}: ${error.message}` : String(error) } satisfies AnswerMessage);
  }
}

function answer(port: MessagePort, message: AnswerMessage): void {
  try {
    port.postMessage(message);
  } catch (error) {
    // The result (or the error) cannot be cloned: the task fails with Node's error instead.
    try {
      port.postMessage({ o: message.o, e: error } satisfies AnswerMessage);
    } catch {
      port.postMessage({ o: message.o, e: new Error(error instanceof Error ? error.message : String(error)) } satisfies AnswerMessage);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
