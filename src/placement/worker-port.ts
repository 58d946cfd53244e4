/**
 * The pool's own line to one worker: a `MessageChannel` whose other end goes to the worker once,
 * as soon as Piscina reports the worker (in the one message the pool sends through Piscina to
 * it, see `dispatcher.ts`); every task and nudge goes to the worker on it, and every answer comes
 * back on it. Piscina starts and stops the workers; it carries none of the pool's tasks.
 *
 * Invariants: messages reach the worker in the order sent (what is sent before the worker took
 * its end waits in the channel); whatever was sent is answered exactly once — by the worker, or
 * by {@link WorkerPort.failAll} once the worker is gone — unless taken back by
 * {@link WorkerPort.cancel}; the worker's thread keeps the process alive while an answer is
 * awaited, and only then (its thread, not the port: a worker that dies closes the port before its
 * thread's `exit`, which is when what it was sent fails, and the process must live until then);
 * every message sent bumps the shared count a worker waiting with `Atomics.wait` watches (see
 * `worker/pool-port.ts`), and wakes it.
 */
import { MessageChannel, type MessagePort, type Transferable } from 'node:worker_threads';

/** A task or nudge for the worker: its order number, its task key, its input. */
export interface TaskMessage {
  o: number;
  k: string;
  i: unknown;
}

/**
 * The worker's answer: `v`, the result, or `e`, what the task failed with (present even when
 * `undefined`), or `r`, why its result could not be sent (Node's message).
 */
export interface AnswerMessage {
  o: number;
  v?: unknown;
  e?: unknown;
  r?: string;
}

/** What a task whose result could not be sent back failed with, as the line reports it. */
export class ResultNotSent {
  readonly message: string;

  constructor(message: string) {
    this.message = message;
  }
}

/** How a worker waits for its next message (Piscina's `atomics` option). */
export type WaitMode = 'sync' | 'async' | 'disabled';

/** What the worker receives, once: its end of the line and how to wait on it. */
export interface LineHandover {
  port: MessagePort;
  /** A count of messages sent, at index 0, bumped after each. */
  sent: Int32Array;
  wait: WaitMode;
}

/** What keeps the process alive while an answer is awaited: the worker's thread. */
export interface KeepAlive {
  ref(): void;
  unref(): void;
}

/** Called once per sent message, with what it was sent for. */
export type AnswerHandler<T> = (sent: T, failed: boolean, payload: unknown) => void;

export class WorkerPort<T> {
  readonly #port: MessagePort;
  /** The worker's end, until it is handed over (see {@link takeWorkerEnd}). */
  #workerEnd: MessagePort | undefined;
  readonly #sent = new Int32Array(new SharedArrayBuffer(4));
  readonly #wait: WaitMode;
  /** What awaits an answer, by order number. */
  readonly #pending = new Map<number, T>();
  readonly #onAnswer: AnswerHandler<T>;
  readonly #keepAlive: KeepAlive;
  #closed = false;

  constructor(onAnswer: AnswerHandler<T>, wait: WaitMode, keepAlive: KeepAlive) {
    this.#onAnswer = onAnswer;
    this.#wait = wait;
    this.#keepAlive = keepAlive;
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#workerEnd = port2;
    port1.on('message', this.#answered);
    port1.unref();
  }

  /** What to send the worker (once): its end of the line. */
  takeWorkerEnd(): LineHandover | undefined {
    const port = this.#workerEnd;
    this.#workerEnd = undefined;
    return port && { port, sent: this.#sent, wait: this.#wait };
  }

  /** How many sent messages await an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends a task or nudge; `sent` is handed back with its answer. Throws, sending nothing, when the
   * input or transfer list cannot be cloned (Node's `DataCloneError`).
   */
  send(sent: T, order: number, key: string, input: unknown, transferList: readonly Transferable[] | undefined): void {
    if (this.#closed) throw new Error('heapgate: internal error: a message was sent to a worker that is gone');
    const message: TaskMessage = { o: order, k: key, i: input };
    if (transferList === undefined) this.#port.postMessage(message);
    else this.#port.postMessage(message, transferList as Transferable[]);
    if (this.#wait !== 'disabled') {
      Atomics.add(this.#sent, 0, 1);
      Atomics.notify(this.#sent, 0, 1);
    }
    if (this.#pending.size === 0) this.#keepAlive.ref();
    this.#pending.set(order, sent);
  }

  /** Takes back what was sent with `order` (its answer, should it come, is dropped). */
  cancel(order: number): boolean {
    if (!this.#pending.delete(order)) return false;
    if (this.#pending.size === 0) this.#keepAlive.unref();
    return true;
  }

  /** The worker is gone: everything awaiting an answer fails with `error`, in order sent. */
  failAll(error: unknown): void {
    this.close();
    const sent = [...this.#pending.values()];
    if (sent.length > 0) this.#keepAlive.unref();
    this.#pending.clear();
    for (const entry of sent) this.#onAnswer(entry, true, error);
  }

  /** Nothing more is sent; the port closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.off('message', this.#answered);
    this.#port.close();
    this.#workerEnd?.close();
    this.#workerEnd = undefined;
  }

  readonly #answered = (message: AnswerMessage): void => {
    const sent = this.#pending.get(message.o);
    if (sent === undefined) return;
    this.#pending.delete(message.o);
    if (this.#pending.size === 0) this.#keepAlive.unref();
    if ('e' in message) this.#onAnswer(sent, true, message.e);
    else if (message.r !== undefined) this.#onAnswer(sent, true, new ResultNotSent(message.r));
    else this.#onAnswer(sent, false, message.v);
  };
}
