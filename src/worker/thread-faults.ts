/**
 * Pages this thread has made resident: its minor page faults (`/proc/thread-self/stat`, Linux),
 * each the first touch of a page. A Buffer's bytes are counted by V8 when it is allocated but
 * charged by the kernel only as they are written; this thread's faults tell how much of what it
 * allocated is resident. About 8 µs a read: taken only for tasks with an off-heap need.
 */
import { readFileSync } from 'node:fs';

/**
 * Bytes per fault. 4 KiB, the smallest page: where pages are larger (a transparent huge page, a
 * 64 KiB-page kernel) one fault makes more resident than this counts, which errs low — the safe
 * side, since the figure is only ever credited against a reservation.
 */
const PAGE_BYTES = 4096;
/** `minflt` is the 10th field of `stat`; fields after the `(comm)` one start at the 3rd. */
const MINFLT_AFTER_COMM = 7;

let supported = true;

/** Bytes of minor faults this thread has taken so far, or `undefined` where it cannot be read. */
export function threadFaultBytes(): number | undefined {
  if (!supported) return undefined;
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const faults = Number(fields[MINFLT_AFTER_COMM]);
    if (!Number.isFinite(faults)) throw new Error('unparsable');
    return faults * PAGE_BYTES;
  } catch {
    supported = false;
    return undefined;
  }
}
