/**
 * A task's own error, across the thread boundary. Structured cloning keeps an Error's message,
 * stack, `cause` and standard class (TypeError, RangeError, …) but drops a custom `name`, `code`
 * and every other own property. When an error would lose any of those, the worker sends this
 * envelope instead (as a result, so Piscina passes it as is), and the main side rebuilds the
 * error from it: its class (for the standard ones), `name`, `message`, `stack`, `cause`, and each
 * own enumerable property that can be cloned. `throw null` is sent as an envelope too: Piscina
 * takes a null error for success, and the task would resolve with null. Other errors, and other
 * thrown values, cross as they are.
 */

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
  if (error === null) return { [KEY]: VERSION, kind: 'null', name: '', message: '', stack: undefined, props: {} };
  if (!(error instanceof Error)) return undefined;
  const kind = standardKind(error);
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'cause') continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) props[key] = value;
  }
  if (Object.keys(props).length === 0 && error.name === kind) return undefined;
  const envelope: Envelope = { [KEY]: VERSION, kind, name: error.name, message: error.message, stack: error.stack, props };
  if ('cause' in error) envelope.cause = cloneable(error.cause) ? error.cause : String(error.cause);
  return envelope;
}

/** Whether a task's result is an envelope (main side). Cheap for any result: one type check, one property read. */
export function isTaskError(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[KEY] === VERSION;
}

/** What the task threw, rebuilt from its envelope (main side). */
export function decodeTaskError(envelope: Envelope): unknown {
  if (envelope.kind === 'null') return null;
  const Kind = STANDARD[envelope.kind] ?? Error;
  const error = 'cause' in envelope ? new Kind(envelope.message, { cause: envelope.cause }) : new Kind(envelope.message);
  if (error.name !== envelope.name) Object.defineProperty(error, 'name', { value: envelope.name, writable: true, configurable: true, enumerable: false });
  if (envelope.stack !== undefined) Object.defineProperty(error, 'stack', { value: envelope.stack, writable: true, configurable: true, enumerable: false });
  Object.assign(error, envelope.props);
  return error;
}
