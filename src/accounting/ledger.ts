/**
 * The reservation ledger: one charge per admitted task, recording what it reserved where — heap
 * on its worker, heap in the main isolate (where its result lands), heap and off-heap bytes in the
 * process — released exactly once, whatever ends the task. The gate reads the totals from here;
 * nothing else changes a reservation.
 *
 * Invariants: every total is the sum of the open charges; a released charge is never counted
 * again; an account's totals are written only by this ledger. A task that reserves nothing is not
 * charged.
 */

/** What a worker's record keeps of the charges placed on it. */
export interface Account {
  /** Heap bytes reserved on this worker by the tasks placed on it. */
  reserved: number;
  /** Process bytes those tasks reserved: heap and off-heap. */
  processReserved: { heap: number; external: number };
}

/** What one admitted task reserved. */
export interface Charge {
  /** The worker it was placed on; `undefined` while it waits for a worker being started. */
  account: Account | undefined;
  /** Heap bytes: on its worker and in the process. */
  readonly heap: number;
  /** Heap bytes in the main isolate. */
  readonly main: number;
  /** Off-heap bytes in the process. */
  readonly external: number;
  released: boolean;
}

/** How much a task needs, bytes. */
export interface Need {
  heap: number;
  main: number;
  external: number;
}

export class Ledger {
  #main = 0;
  #process = 0;
  #open = 0;

  /** Heap bytes reserved in the main isolate by open charges. */
  get main(): number {
    return this.#main;
  }

  /** Bytes reserved in the process by open charges. */
  get process(): number {
    return this.#process;
  }

  /** Charges not released yet. */
  get open(): number {
    return this.#open;
  }

  /** Charges a task's need; on `account` when its worker is known. */
  charge(need: Need, account: Account | undefined): Charge {
    const charge: Charge = { account: undefined, heap: need.heap, main: need.main, external: need.external, released: false };
    this.#main += need.main;
    this.#process += need.heap + need.external;
    this.#open++;
    if (account) this.place(charge, account);
    return charge;
  }

  /** A charge made before its worker was known moves onto it (once). */
  place(charge: Charge, account: Account): void {
    if (charge.released || charge.account) return;
    charge.account = account;
    account.reserved += charge.heap;
    account.processReserved.heap += charge.heap;
    account.processReserved.external += charge.external;
  }

  /** Releases a charge. False when it was released already (nothing changes then). */
  release(charge: Charge): boolean {
    if (charge.released) return false;
    charge.released = true;
    this.#main -= charge.main;
    this.#process -= charge.heap + charge.external;
    this.#open--;
    const account = charge.account;
    if (account) {
      account.reserved -= charge.heap;
      account.processReserved.heap -= charge.heap;
      account.processReserved.external -= charge.external;
    }
    return true;
  }
}
