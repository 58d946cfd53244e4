import type { Scope } from '../errors.js';
import type { MemoryNeed } from '../options.js';

/**
 * What the gate would do with a task submitted now ({@link GatedPool.wouldAdmit}): start it at
 * once, or not — and why not.
 * - `pressure`: `scope` is too full for it now (`used`, `limit`: bytes, the gate's reading);
 * - `too-large`: it can never fit `scope` (`need`, `capacity`: bytes);
 * - `busy`: every worker that could take it is busy, and no worker can be started;
 * - `queued`: tasks are held already, and it would be held behind them;
 * - `learning`: a run of its name, whose need is not known yet, is being measured (slow start);
 * - `paused`: the pool is paused; `closed`: the pool is closing or closed.
 */
export type AdmissionCheck = AdmitNow | RefusedByPressure | RefusedTooLarge | RefusedForNow;

/** It would start at once. */
export interface AdmitNow {
  /** Always `true`. */
  admit: true;
}

/** A scope is too full for it now. */
export interface RefusedByPressure {
  /** Always `false`. */
  admit: false;
  /** Always `'pressure'`. */
  reason: 'pressure';
  /** The scope that is too full. */
  scope: Scope;
  /** The scope's level as the gate weighs it: measured memory plus what admitted tasks reserve, bytes. */
  used: number;
  /** The scope's limit, bytes. */
  limit: number;
  /** The task's need in that scope (declared or learned; 0 when unknown), bytes. */
  need: number;
  /** What the gate admits that scope up to (`highWater` × `limit`), bytes. */
  ceiling: number;
}

/** It can never fit a scope, however empty that gets. */
export interface RefusedTooLarge {
  /** Always `false`. */
  admit: false;
  /** Always `'too-large'`. */
  reason: 'too-large';
  /** The scope it can never fit. */
  scope: Scope;
  /** Its need in that scope, bytes. */
  need: number;
  /** The most that scope can ever admit, bytes. */
  capacity: number;
}

/** It would wait for something other than memory (see {@link AdmissionCheck}). */
export interface RefusedForNow {
  /** Always `false`. */
  admit: false;
  /** What it would wait for. */
  reason: 'busy' | 'queued' | 'learning' | 'paused' | 'closed';
}

/** The task a check is made for: what `run()` would be given. */
export interface AdmissionQuestion {
  /** The task name (its export; needs are learned per name). Default: the pool's `name`. */
  name?: string | null;
  /** The declared need, as in `run()`. Default: the need learned for `name`, if any. */
  memory?: number | MemoryNeed;
  /** The task module, as in `run()`. Default: the pool's `filename`. */
  filename?: string;
}
