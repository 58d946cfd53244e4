/**
 * The worker's end of the pool's line (see `placement/worker-port.ts`): opened when the pool's
 * runtime first runs in this worker and sent to the main thread on `parentPort` (ahead of
 * Piscina's "ready", which goes on the same port); then every task and nudge arrives on it, and
 * every answer goes back on it.
 *
 * Invariant: each message is answered exactly once, under its own order number: with the value
 * the run gave, or with what it threw or rejected with; a result that cannot be cloned fails the
 * task with Node's `DataCloneError` (the worker goes on).
 */
import { MessageChannel, parentPort, threadId, type MessagePort, type Transferable } from 'node:worker_threads';
import { PORT_MESSAGE, type AnswerMessage, type PortMessage, type TaskMessage } from '../placement/worker-port.js';
import { movedValue } from '../placement/movable.js';

/** Runs a task or nudge: its value, or a promise of it; throws or rejects when it fails. */
export type RunMessage = (key: string, input: unknown, order: number) => unknown;

/** Opens the line for pool `poolId`; `run` serves each message, `received` learns each order number first. */
export function openPoolPort(poolId: number, run: RunMessage, received: (order: number) => void): void {
  if (!parentPort) return;
  const { port1, port2 } = new MessageChannel();
  port2.on('message', (message: TaskMessage) => {
    received(message.o);
    let value: unknown;
    try {
      value = run(message.k, message.i, message.o);
    } catch (error) {
      answer(port2, { o: message.o, e: error });
      return;
    }
    if (isThenable(value)) {
      value.then(
        (settled) => answerValue(port2, message.o, settled),
        (error: unknown) => answer(port2, { o: message.o, e: error }),
      );
    } else {
      answerValue(port2, message.o, value);
    }
  });
  const hello: PortMessage = { [PORT_MESSAGE]: poolId, threadId, port: port1 };
  parentPort.postMessage(hello, [port1]);
}

function answerValue(port: MessagePort, order: number, value: unknown): void {
  const moved = movedValue(value);
  if (moved) answer(port, { o: order, v: moved.value }, moved.transferList);
  else answer(port, { o: order, v: value });
}

function answer(port: MessagePort, message: AnswerMessage, transferList?: Transferable[]): void {
  try {
    port.postMessage(message, transferList);
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
