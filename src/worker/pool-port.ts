/**
 * The worker's end of the pool's line (see `placement/worker-port.ts`), sent to it once through
 * Piscina: every task and nudge arrives on it, and every answer goes back on it.
 *
 * Between messages the worker waits as Piscina's `atomics` option says (Piscina's own worker does
 * the same): `'sync'` blocks in `Atomics.wait` on the count of messages sent and reads them with
 * `receiveMessageOnPort` — no event-loop wake, no callback — while nothing is in flight (timers
 * and I/O a task left behind wait meanwhile); `'async'` waits with `Atomics.waitAsync`;
 * `'disabled'` leaves it to the event loop.
 *
 * Invariants: each message is answered exactly once, under its own order number: with the value
 * the run gave, or with what it threw or rejected with, or, for a result that cannot be cloned,
 * with Node's message saying why (the worker goes on). The worker blocks only while no message is
 * in flight (received and not answered), so an async task's event loop always turns.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { AnswerMessage, LineHandover, TaskMessage } from '../placement/worker-port.js';
import { movedValue } from '../placement/movable.js';

/** Runs a task or nudge: its value, or a promise of it; throws or rejects when it fails. */
export type RunMessage = (key: string, input: unknown, order: number) => unknown;

/** Serves the line: `run` serves each message, `received` learns each order number first. */
export function servePoolPort({ port, sent, wait }: LineHandover, run: RunMessage, received: (order: number) => void): void {
  let inFlight = 0;
  /** Inside the `'sync'` wait loop (which goes on by itself once a message is answered). */
  let waiting = false;
  /** An `Atomics.waitAsync` is pending (one at a time). */
  let waitingAsync = false;
  let seen = 0;

  const answered = (): void => {
    if (--inFlight === 0 && !waiting) idle();
  };

  /**
   * Sends an answer. Waiting with `Atomics.wait` stops the worker's output streams, which pass
   * their data on through its event loop: in `'sync'` mode what a task wrote goes out first (as
   * Piscina's worker does), the message still in flight meanwhile.
   */
  const reply = (send: () => void): void => {
    const flushing = wait === 'sync' ? unflushedOutput() : undefined;
    if (!flushing) {
      send();
      answered();
      return;
    }
    void flushing.then(() => {
      send();
      answered();
    });
  };

  const handle = (message: TaskMessage): void => {
    inFlight++;
    received(message.o);
    const order = message.o;
    let value: unknown;
    try {
      value = run(message.k, message.i, order);
    } catch (error) {
      reply(() => answer(port, { o: order, e: error }));
      return;
    }
    if (isThenable(value)) {
      value.then(
        (settled) => reply(() => answerValue(port, order, settled)),
        (error: unknown) => reply(() => answer(port, { o: order, e: error })),
      );
    } else {
      reply(() => answerValue(port, order, value));
    }
  };

  const drain = (): void => {
    let entry: { message: unknown } | undefined;
    while ((entry = receiveMessageOnPort(port)) !== undefined) handle(entry.message as TaskMessage);
  };

  const waitSync = (): void => {
    waiting = true;
    try {
      for (;;) {
        // Read the count before the port: a message sent after the read bumps it past `seen`.
        seen = Atomics.load(sent, 0);
        drain();
        if (inFlight > 0) return;
        Atomics.wait(sent, 0, seen);
      }
    } finally {
      waiting = false;
    }
  };

  const waitAsync = (): void => {
    if (waitingAsync) return;
    for (;;) {
      seen = Atomics.load(sent, 0);
      drain();
      if (inFlight > 0) return;
      const result = Atomics.waitAsync(sent, 0, seen);
      if (!result.async) continue;
      waitingAsync = true;
      void result.value.then(() => {
        waitingAsync = false;
        if (inFlight === 0) waitAsync();
      });
      return;
    }
  };

  const idle = (): void => {
    if (wait === 'sync') waitSync();
    else if (wait === 'async') waitAsync();
  };

  port.on('message', handle);
  // Once the handover's own answer has gone back through Piscina.
  if (wait !== 'disabled') setImmediate(() => inFlight === 0 && idle());
}

/** A promise of the worker's stdout and stderr having passed on what they hold; `undefined` when they hold nothing. */
function unflushedOutput(): Promise<unknown> | undefined {
  const out = process.stdout.writableLength > 0;
  const err = process.stderr.writableLength > 0;
  if (!out && !err) return undefined;
  return Promise.all([out && new Promise((resolve) => process.stdout.write('', resolve)), err && new Promise((resolve) => process.stderr.write('', resolve))]);
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
    // What the task failed with cannot be cloned: it fails with Node's error instead.
    try {
      port.postMessage({ o: message.o, e: error } satisfies AnswerMessage);
    } catch {
      port.postMessage({ o: message.o, e: new Error(error instanceof Error ? error.message : String(error)) } satisfies AnswerMessage);
    }
  }
}

/** Whether `value` is a promise or a promise-like object. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
