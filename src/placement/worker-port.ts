/**
 * The pool's own line to one worker. The pool's worker runtime opens a `MessageChannel` when it
 * starts and sends one end to the main thread (see `worker/pool-port.ts`); every task and nudge
 * goes to the worker on it, and every answer comes back on it. Piscina starts and stops the
 * workers; it carries none of the pool's tasks.
 *
 * Invariants: messages reach the worker in the order sent (those sent before the worker's end
 * arrived wait here and go first, in order); whatever was sent is answered exactly once — by the
 * worker, or by {@link WorkerPort.failAll} once the worker is gone, or taken back by
 * {@link WorkerPort.cancel}; the port keeps the process alive only while an answer is awaited.
 */
import type { MessagePort, Transferable } from 'node:worker_threads';

/** The key of the message a worker's runtime sends on `parentPort` with its end of the line. */
export const PORT_MESSAGE = 'heapgate:port';

/** What the worker runtime sends on `parentPort` when it starts. */
export interface PortMessage {
  [PORT_MESSAGE]: number;
  threadId: number;
  port: MessagePort;
}

/** A task or nudge for the worker: its order number, its task key, its input. */
export interface TaskMessage {
  o: number;
  k: string;
  i: unknown;
}

/** The worker's answer: `v`, the result, or `e`, what the task failed with (present even when `undefined`). */
export interface AnswerMessage {
  o: number;
  v?: unknown;
  e?: unknown;
}

/** Whether a message from a worker's `parentPort` is its port (the pool's, not the user's). */
export function isPortMessage(message: unknown, poolId: number): message is PortMessage {
  return typeof message === 'object' && message !== null && (message as Partial<PortMessage>)[PORT_MESSAGE] === poolId;
}

/** Called once per sent message, with what it was sent for. */
export type AnswerHandler<T> = (sent: T, failed: boolean, payload: unknown) => void;

export class WorkerPort<T> {
  #port: MessagePort | undefined;
  /** Sent before the worker's end arrived, in order. */
  #outbox: { message: TaskMessage; transferList: readonly Transferable[] | undefined }[] = [];
  /** What awaits an answer, by order number. */
  readonly #pending = new Map<number, T>();
  readonly #onAnswer: AnswerHandler<T>;
  #closed = false;

  constructor(onAnswer: AnswerHandler<T>) {
    this.#onAnswer = onAnswer;
  }

  /** Whether the worker's end has arrived. */
  get attached(): boolean {
    return this.#port !== undefined;
  }

  /** How many sent messages await an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The worker's end has arrived: what waited goes now, in order. */
  attach(port: MessagePort): void {
    if (this.#closed || this.#port) {
      port.close();
      return;
    }
    this.#port = port;
    port.on('message', this.#answered);
    if (this.#pending.size === 0) port.unref();
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const { message, transferList } of outbox) {
      try {
        this.#post(port, message, transferList);
      } catch (error) {
        // Not cloneable (Node's `DataCloneError`): that task fails, the others go.
        const sent = this.#pending.get(message.o);
        if (sent !== undefined && this.cancel(message.o)) this.#onAnswer(sent, true, error);
      }
    }
  }

  /**
   * Sends a task or nudge; `sent` is handed back with its answer. Throws, sending nothing, when the
   * input or transfer list cannot be cloned (Node's `DataCloneError`).
   */
  send(sent: T, order: number, key: string, input: unknown, transferList: readonly Transferable[] | undefined): void {
    if (this.#closed) throw new Error('heapgate: internal error: a message was sent to a worker that is gone');
    const message: TaskMessage = { o: order, k: key, i: input };
    if (this.#port) {
      this.#post(this.#port, message, transferList);
      if (this.#pending.size === 0) this.#port.ref();
    } else {
      this.#outbox.push({ message, transferList });
    }
    this.#pending.set(order, sent);
  }

  /** Takes back what was sent with `order` (its answer, should it come, is dropped). */
  cancel(order: number): boolean {
    if (!this.#pending.delete(order)) return false;
    if (this.#pending.size === 0) this.#port?.unref();
    return true;
  }

  /** The worker is gone: everything awaiting an answer fails with `error`, in order sent. */
  failAll(error: unknown): void {
    this.close();
    const sent = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of sent) this.#onAnswer(entry, true, error);
  }

  /** Nothing more is sent; the port closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbox = [];
    if (this.#port) {
      this.#port.off('message', this.#answered);
      this.#port.close();
    }
  }

  #post(port: MessagePort, message: TaskMessage, transferList: readonly Transferable[] | undefined): void {
    if (transferList === undefined) port.postMessage(message);
    else port.postMessage(message, transferList as Transferable[]);
  }

  readonly #answered = (message: AnswerMessage): void => {
    const sent = this.#pending.get(message.o);
    if (sent === undefined) return;
    this.#pending.delete(message.o);
    if (this.#pending.size === 0) this.#port?.unref();
    if ('e' in message) this.#onAnswer(sent, true, message.e);
    else this.#onAnswer(sent, false, message.v);
  };
}
