// Slow start's rule on injected readings: one run of an unknown name at a time, unless every run
// of it in flight is quiet (on its worker QUIET_MS and not growing).
import { describe, expect, it } from 'vitest';
import { QUIET_MS, RISE_BYTES, SlowStart } from '../src/admission/slow-start.js';

const MiB = 2 ** 20;

function started(slow: SlowStart<object>, name: string, at: number, base: number | undefined): object {
  const run = {};
  slow.began(name, run);
  slow.placed(name, run, at, base);
  return run;
}

describe('slow start', () => {
  it('a name with no run in flight may start; one being learned holds the next until its run has been quiet for QUIET_MS', () => {
    const slow = new SlowStart<object>();
    expect(slow.mayStart('job', 0)).toBe(true);
    const run = {};
    slow.began('job', run);
    // Waiting for a worker being started: never quiet.
    expect(slow.mayStart('job', 10 * QUIET_MS)).toBe(false);
    slow.placed('job', run, 1000, 50 * MiB);
    expect(slow.mayStart('job', 1000 + QUIET_MS - 1)).toBe(false);
    expect(slow.mayStart('job', 1000 + QUIET_MS)).toBe(true);
    expect(slow.mayStart('other', 1000)).toBe(true);
    slow.ended('job', run);
    expect(slow.mayStart('job', 1000)).toBe(true);
  });

  it('a run that keeps growing keeps the next held; the quiet time counts from its last rise', () => {
    const slow = new SlowStart<object>();
    let level = 10 * MiB;
    started(slow, 'job', 0, level);
    for (let now = 50; now <= 5000; now += 50) {
      level += RISE_BYTES / 2;
      slow.observe(now, () => level);
      expect(slow.mayStart('job', now)).toBe(false);
    }
    // It stops growing at 5000 ms.
    slow.observe(5000 + QUIET_MS - 1, () => level);
    expect(slow.mayStart('job', 5000 + QUIET_MS - 1)).toBe(false);
    expect(slow.mayStart('job', 5000 + QUIET_MS)).toBe(true);
    expect(slow.grownSoFar('job')).toBe(level - 10 * MiB);
  });

  it('rises smaller than RISE_BYTES above the peak, and falls, are quiet', () => {
    const slow = new SlowStart<object>();
    started(slow, 'job', 0, 100 * MiB);
    slow.observe(100, () => 100 * MiB + RISE_BYTES - 1);
    slow.observe(200, () => 20 * MiB);
    expect(slow.mayStart('job', QUIET_MS)).toBe(true);
    expect(slow.grownSoFar('job')).toBe(0);
  });

  // Found by review: a learning run's worker may hold garbage an earlier task left when the run is
  // placed (its published level is the base), and collect it as the run starts; growth from the
  // lower point up to the old base was not seen, so a growing run looked quiet.
  it('after a fall below its base (garbage collected), growth is counted from the lower point', () => {
    const slow = new SlowStart<object>();
    started(slow, 'job', 0, 100 * MiB);
    slow.observe(100, () => 20 * MiB);
    let level = 20 * MiB;
    for (let now = 150; now <= 100 + 2 * QUIET_MS; now += 50) {
      level += RISE_BYTES / 2;
      slow.observe(now, () => level);
      expect(slow.mayStart('job', now)).toBe(false);
    }
    expect(level).toBeLessThan(100 * MiB);
    expect(slow.grownSoFar('job')).toBe(level - 20 * MiB);
  });

  it('every run of the name in flight must be quiet; readings are asked for from when each was placed', () => {
    const slow = new SlowStart<object>();
    const first = started(slow, 'job', 0, 0);
    const second = started(slow, 'job', 2000, 0);
    const asked: number[] = [];
    slow.observe(2500, (run, since) => {
      asked.push(since);
      return run === first ? 0 : 30 * MiB;
    });
    expect(asked.sort((a, b) => a - b)).toEqual([0, 2000]);
    expect(slow.mayStart('job', 3000)).toBe(false);
    expect(slow.mayStart('job', 2500 + QUIET_MS)).toBe(true);
    expect(slow.grownSoFar('job')).toBe(30 * MiB);
    slow.ended('job', second);
    expect(slow.grownSoFar('job')).toBe(0);
  });

  it('without a published base, the first reading is the base; without readings, only time counts', () => {
    const slow = new SlowStart<object>();
    started(slow, 'job', 0, undefined);
    slow.observe(100, () => undefined);
    expect(slow.grownSoFar('job')).toBe(0);
    slow.observe(200, () => 40 * MiB);
    expect(slow.grownSoFar('job')).toBe(0);
    expect(slow.mayStart('job', QUIET_MS)).toBe(true);
    slow.observe(300, () => 41 * MiB);
    expect(slow.mayStart('job', QUIET_MS)).toBe(false);
    expect(slow.grownSoFar('job')).toBe(MiB);
  });

  it('ending a run twice, or one never begun, changes nothing', () => {
    const slow = new SlowStart<object>();
    const run = started(slow, 'job', 0, 0);
    const other = started(slow, 'job', 0, 0);
    slow.ended('job', run);
    slow.ended('job', run);
    slow.ended('job', {});
    slow.ended('nobody', run);
    expect(slow.mayStart('job', QUIET_MS - 1)).toBe(false);
    slow.ended('job', other);
    expect(slow.mayStart('job', 0)).toBe(true);
  });
});
