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
  /** Heap bytes on its worker. */
  readonly heap: number;
  /** Heap bytes in the main isolate. */
  readonly main: number;
  /** Heap bytes in the process: its heap need, or less when admitted on its warm need. */
  readonly processHeap: number;
  /** Off-heap bytes in the process: its off-heap need, or less when admitted on its warm need. */
  readonly external: number;
  /** What the process would take beyond this charge were its warm run not warm after all; 0 for a full charge. */
  readonly surprise: number;
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
  #surprise = 0;
  #open = 0;

  /** Heap bytes reserved in the main isolate by open charges. */
  get main(): number {
    return this.#main;
  }

  /** Bytes reserved in the process by open charges. */
  get process(): number {
    return this.#process;
  }

  /**
   * What the open charges made on a warm need count on reusing: the process bytes they would take
   * beyond themselves were none of their runs warm after all (the sum of their `surprise`).
   */
  get surprise(): number {
    return this.#surprise;
  }

  /** Charges not released yet. */
  get open(): number {
    return this.#open;
  }

  /**
   * Charges a task's need; on `account` when its worker is known. `warmNeed`: the task was
   * admitted on its warm need (see the gate's `WarmOption`): the process is charged that much
   * only, heap first, the rest off-heap; its worker and the main isolate in full.
   */
  charge(need: Need, account: Account | undefined, warmNeed?: number): Charge {
    // Whole bytes: the totals stay exact sums, and return to exactly 0 (fractions left residues).
    const heap = Math.ceil(need.heap);
    const main = Math.ceil(need.main);
    const needExternal = Math.ceil(need.external);
    const warm = warmNeed === undefined ? undefined : Math.ceil(warmNeed);
    const processHeap = warm === undefined ? heap : Math.min(heap, warm);
    const external = warm === undefined ? needExternal : Math.min(needExternal, Math.max(0, warm - processHeap));
    const surprise = heap + needExternal - processHeap - external;
    const charge: Charge = { account: undefined, heap, main, processHeap, external, surprise, released: false };
    this.#main += main;
    this.#process += processHeap + external;
    this.#surprise += surprise;
    this.#open++;
    if (account) this.place(charge, account);
    return charge;
  }

  /** A charge made before its worker was known moves onto it (once). */
  place(charge: Charge, account: Account): void {
    if (charge.released || charge.account) return;
    charge.account = account;
    account.reserved += charge.heap;
    account.processReserved.heap += charge.processHeap;
    account.processReserved.external += charge.external;
  }

  /** Releases a charge. False when it was released already (nothing changes then). */
  release(charge: Charge): boolean {
    if (charge.released) return false;
    charge.released = true;
    this.#main -= charge.main;
    this.#process -= charge.processHeap + charge.external;
    this.#surprise -= charge.surprise;
    this.#open--;
    const account = charge.account;
    if (account) {
      account.reserved -= charge.heap;
      account.processReserved.heap -= charge.processHeap;
      account.processReserved.external -= charge.external;
    }
    return true;
  }
}
