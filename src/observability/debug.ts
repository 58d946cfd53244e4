/**
 * `NODE_DEBUG=heapgate`: what the pool decided and why, on stderr (Node's `util.debuglog`). Callers
 * build a message only when `debug.enabled`.
 */
import { debuglog } from 'node:util';

export const debug = debuglog('heapgate');
