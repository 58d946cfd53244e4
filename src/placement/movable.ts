/**
 * Piscina's movable values (`Piscina.move(value)`): an input or result so marked goes to the other
 * thread by transfer, not by copy. Piscina's marker symbol is its own; it is recognized here by its
 * description on the marked object (the transfer and value symbols are registered: `Symbol.for`).
 */
import type { Transferable } from 'node:worker_threads';

const TRANSFERABLE = Symbol.for('Piscina.transferable');
const VALUE = Symbol.for('Piscina.valueOf');
const MOVABLE_DESCRIPTION = 'Piscina.kMovable';

/** For a value marked with `Piscina.move()`: the value to send and what to transfer; otherwise `undefined`. */
export function movedValue(value: unknown): { value: unknown; transferList: Transferable[] } | undefined {
  if (typeof value !== 'object' || value === null || !(TRANSFERABLE in value) || !(VALUE in value)) return undefined;
  const marked = value as Record<symbol, unknown>;
  const movable = Object.getOwnPropertySymbols(value).some((symbol) => symbol.description === MOVABLE_DESCRIPTION && marked[symbol] === true);
  if (!movable) return undefined;
  // One transferable or several, as Piscina takes them.
  return { value: marked[VALUE], transferList: ([] as Transferable[]).concat(marked[TRANSFERABLE] as Transferable | Transferable[]) };
}
