/**
 * A task's own error, across the thread boundary. Structured cloning keeps an Error's message,
 * stack, `cause` and standard class (TypeError, RangeError, …) but drops a custom `name`, `code`
 * and every other own property. When an error would lose any of those, the worker sends this
 * envelope instead (as a result, so Piscina passes it as is), and the main side rebuilds the
 * error from it: its class (for the standard ones), `name`, `message`, `stack`, `cause` (an error
 * cause kept the same way, down to {@link MAX_CAUSES} levels), and each own enumerable property
 * that can be cloned (one whose getter throws is left out). `throw null`
 * is sent as an envelope too: Piscina takes a null error for success, and the task would resolve
 * with null. So is every `DOMException` (rebuilt with its class, name and so its `code`): one
 * crossing as itself could not be told from the `DataCloneError` Piscina rejects with when the
 * *input* cannot be sent. A thrown value that cannot be cloned at all (a function, a symbol)
 * would stop the worker; an envelope says what it was instead. Errors from another realm are
 * errors too. Other errors, and other thrown values, cross as they are. Encoding never throws: a
 * value it cannot read becomes an envelope saying so.
 */
import { types } from 'node:util';

/** The key marking an envelope, and its value. */
const KEY = '__heapgateTaskError';
const VERSION = 1;

/** Error classes structured cloning keeps (and the rebuilt error gets back). */
const STANDARD: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

interface Envelope {
  [KEY]: typeof VERSION;
  kind: string;
  name: string;
  message: string;
  stack: string | undefined;
  cause?: unknown;
  props: Record<string, unknown>;
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** The standard class an error is an instance of, by the nearest standard constructor in its prototype chain. */
function standardKind(error: Error): string {
  for (let proto = Object.getPrototypeOf(error) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor === 'function' && STANDARD[ctor.name] === ctor) return ctor.name;
  }
  return 'Error';
}

/**
 * What to send for `error` (worker side): an envelope when cloning would lose part of it,
 * `undefined` when it crosses as it is.
 */
export function encodeTaskError(error: unknown): Envelope | undefined {
  try {
    return encode(error);
  } catch {
    return plainError('the task threw a value that cannot be read (a revoked proxy, a throwing trap)');
  }
}

/** How deep a chain of causes is kept whole (each an envelope of its own); deeper ones cross as cloning leaves them. */
const MAX_CAUSES = 8;

function encode(error: unknown, depth = 0): Envelope | undefined {
  if (error === null) return { [KEY]: VERSION, kind: 'null', name: '', message: '', stack: undefined, props: {} };
  if (!(error instanceof Error) && !types.isNativeError(error)) {
    if (cloneable(error)) return undefined;
    return plainError(`the task threw a value that cannot be sent to the main thread: ${describeThrown(error)}`);
  }
  const domException = error instanceof DOMException;
  const kind = domException ? 'DOMException' : standardKind(error);
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'cause') continue;
    const value = read(error, key);
    if (value !== UNREADABLE && cloneable(value)) props[key] = value;
  }
  const name = text(read(error, 'name'), 'Error');
  const hasCause = 'cause' in error;
  const cause = hasCause ? read(error, 'cause') : undefined;
  // A cause that is an error keeps what cloning would strip from it too (its `code`, say).
  const causeEnvelope = depth < MAX_CAUSES && cause !== error && (cause instanceof Error || types.isNativeError(cause)) ? encode(cause, depth + 1) : undefined;
  if (!domException && Object.keys(props).length === 0 && name === kind && error instanceof Error && (!hasCause || (causeEnvelope === undefined && cause !== UNREADABLE && cloneable(cause)))) return undefined;
  const stack = read(error, 'stack');
  const envelope: Envelope = { [KEY]: VERSION, kind, name, message: text(read(error, 'message'), ''), stack: typeof stack === 'string' ? stack : undefined, props };
  if (hasCause) envelope.cause = causeEnvelope ?? (cause !== UNREADABLE && cloneable(cause) ? cause : text(cause, 'unreadable'));
  return envelope;
}

/** An envelope for an `Error` with `message` and nothing else (what the task threw could not be sent). */
function plainError(message: string): Envelope {
  return { [KEY]: VERSION, kind: 'Error', name: 'Error', message, stack: undefined, props: {} };
}

const UNREADABLE = Symbol('unreadable');

/** A property of a thrown error, or {@link UNREADABLE} when reading it throws (a getter). */
function read(error: Error, key: string): unknown {
  try {
    return (error as unknown as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

/** A string for a value read off an error: itself when a string, else `String()` of it, else `fallback`. */
function text(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (value === UNREADABLE) return fallback;
  try {
    return String(value);
  } catch {
    return fallback;
  }
}

function describeThrown(value: unknown): string {
  if (typeof value === 'function') {
    const name = text(read(value as unknown as Error, 'name'), '');
    return `a function (${name === '' ? 'anonymous' : name})`;
  }
  if (typeof value === 'symbol') return `a symbol (${value.description ?? ''})`;
  return `${typeof value === 'object' ? 'an object' : typeof value} holding a value that cannot be cloned (a function, a symbol, …)`;
}

/** Whether a task's result is an envelope (main side). Cheap for any result: one type check, one property read. */
export function isTaskError(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[KEY] === VERSION;
}

/** What the task threw, rebuilt from its envelope (main side). */
export function decodeTaskError(envelope: Envelope): unknown {
  if (envelope.kind === 'null') return null;
  const cause = isTaskError(envelope.cause) ? decodeTaskError(envelope.cause) : envelope.cause;
  const error =
    envelope.kind === 'DOMException'
      ? new DOMException(envelope.message, envelope.name)
      : 'cause' in envelope
        ? new (STANDARD[envelope.kind] ?? Error)(envelope.message, { cause })
        : new (STANDARD[envelope.kind] ?? Error)(envelope.message);
  if (envelope.kind === 'DOMException' && 'cause' in envelope) Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  if (error.name !== envelope.name) Object.defineProperty(error, 'name', { value: envelope.name, writable: true, configurable: true, enumerable: false });
  if (envelope.stack !== undefined) Object.defineProperty(error, 'stack', { value: envelope.stack, writable: true, configurable: true, enumerable: false });
  Object.assign(error, envelope.props);
  return error;
}
