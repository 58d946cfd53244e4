// The decision table of the pure gate, with injected readings: every tier, every scope, both
// policies, hysteresis. No timers, no workers: these are the rules themselves.
import { describe, expect, it } from 'vitest';
import { actionFor, chooseWorker, decide, fits, fitsAlone, levelOf, measuredLevel, nextPressure, processShortfall, type Decision, type GateInput, type Reading, type WorkerReading } from '../src/admission/gate.js';

const MB = 2 ** 20;
const water = { high: 0.8, low: 0.6 };
const LIMIT = 100 * MB;

function reading(over: Partial<Reading> = {}): Reading {
  return { used: 10 * MB, live: 10 * MB, limit: LIMIT, reserved: 0, underPressure: false, ...over };
}

function worker(id: number, over: Partial<WorkerReading> = {}): WorkerReading {
  return { ...reading(), id, free: true, fresh: true, ...over };
}

function input(over: Partial<GateInput> = {}): GateInput {
  return { need: 0, mainNeed: 0, external: 0, water, main: reading(), process: undefined, workers: [worker(1)], canSpawn: false, workerLimit: LIMIT, workerFloor: 0, ...over };
}

describe('fits: the tiers of one scope', () => {
  const cases: [string, Partial<Reading>, number, boolean][] = [
    ['tier 1: used below high', { used: 79 * MB, live: undefined }, 0, true],
    ['tier 1 fails, no live figure: no', { used: 81 * MB, live: undefined }, 0, false],
    ['tier 2: used above high, live low', { used: 95 * MB, live: 20 * MB }, 0, true],
    ['tier 2: young garbage puts used past the limit, old generation under the mark', { used: 130 * MB, live: 20 * MB, retained: 60 * MB }, 0, true],
    ['tier 2 capped: old generation at the mark, even with low (stale) live', { used: 130 * MB, live: 20 * MB, retained: 80 * MB }, 0, false],
    ['tier 2 cap counts reservations and need', { used: 95 * MB, live: 20 * MB, retained: 50 * MB, reserved: 20 * MB }, 10 * MB, false],
    ['tier 2 fails: live above high', { used: 95 * MB, live: 85 * MB }, 0, false],
    ['need counts in tier 1', { used: 70 * MB, live: undefined }, 10 * MB, false],
    ['need counts in tier 2', { used: 90 * MB, live: 70 * MB }, 9 * MB, true],
    ['need counts against the cap', { used: 90 * MB, live: 20 * MB, retained: 75 * MB }, 10 * MB, false],
    ['no old-generation figure: no cap (process scope)', { used: 150 * MB, live: 20 * MB, retained: undefined }, 10 * MB, true],
    ['reservations count in tier 1', { used: 50 * MB, live: undefined, reserved: 30 * MB }, 0, false],
    ['reservations count in tier 2', { used: 90 * MB, live: 40 * MB, reserved: 40 * MB }, 0, false],
    ['under pressure: never, whatever the figures', { used: 1 * MB, live: 1 * MB, underPressure: true }, 0, false],
    ['exactly at high: no (strict)', { used: 80 * MB, live: 80 * MB }, 0, false],
  ];
  for (const [name, over, need, expected] of cases) {
    it(name, () => expect(fits(reading(over), need, water.high)).toBe(expected));
  }

  it('measuredLevel takes the smaller of used and live; levelOf adds reservations', () => {
    expect(measuredLevel({ used: 90, live: 30 })).toBe(30);
    expect(measuredLevel({ used: 90, live: undefined })).toBe(90);
    expect(levelOf({ used: 90, live: 30, reserved: 5 })).toBe(35);
    expect(levelOf({ used: 20, live: 30, reserved: 5 })).toBe(25);
    expect(levelOf({ used: 90, live: undefined, reserved: 5 })).toBe(95);
  });
});

describe('nextPressure: hysteresis between the water marks', () => {
  const at = (mb: number) => ({ used: mb * MB, live: mb * MB, limit: LIMIT, reserved: 0 });
  it('enters at high, not below it', () => {
    expect(nextPressure(at(79), false, water)).toBe(false);
    expect(nextPressure(at(80), false, water)).toBe(true);
  });
  it('stays under pressure between low and high', () => {
    expect(nextPressure(at(70), true, water)).toBe(true);
    expect(nextPressure(at(60), true, water)).toBe(true);
  });
  it('leaves below low', () => expect(nextPressure(at(59), true, water)).toBe(false));
  it('does not enter between low and high', () => expect(nextPressure(at(70), false, water)).toBe(false));
  it('does not flap over a sequence of readings around one threshold', () => {
    let under = false;
    const trail: boolean[] = [];
    for (const mb of [50, 78, 81, 79, 78, 80, 65, 61, 59, 62, 79, 80]) {
      under = nextPressure(at(mb), under, water);
      trail.push(under);
    }
    expect(trail).toEqual([false, false, true, true, true, true, true, true, false, false, false, true]);
  });
  it('prefers the live figure', () => {
    expect(nextPressure({ used: 95 * MB, live: 30 * MB, limit: LIMIT, reserved: 0 }, false, water)).toBe(false);
    expect(nextPressure({ used: 95 * MB, live: 85 * MB, limit: LIMIT, reserved: 0 }, false, water)).toBe(true);
  });
  it('is not latched by reservations: they refuse the tasks that do not fit, and end when those settle', () => {
    const reserved = { used: 40 * MB, live: undefined, limit: LIMIT, reserved: 50 * MB };
    expect(nextPressure(reserved, false, water)).toBe(false);
    expect(fits({ ...reserved, underPressure: false }, 0, water.high)).toBe(false);
    expect(fits({ ...reserved, reserved: 0, underPressure: false }, 0, water.high)).toBe(true);
  });
});

describe('decide: scopes, workers, spawning', () => {
  const table: [string, Partial<GateInput>, Decision][] = [
    ['admits on the only worker', {}, { kind: 'admit', worker: 1 }],
    ['process under pressure comes first', { process: reading({ underPressure: true, used: 90 * MB, live: 90 * MB }), main: reading({ underPressure: true }) }, { kind: 'pressure', scope: 'process', used: 90 * MB, limit: LIMIT }],
    ['process without room for the task, not under pressure, no worker free: busy, waiting for memory too (decided again when one frees)', { process: reading({ used: 75 * MB, live: 75 * MB }), need: 10 * MB, workers: [worker(1, { free: false })] }, { kind: 'busy', memory: 'process' }],
    ['process without room for the task, not under pressure, a worker free: pressure', { process: reading({ used: 75 * MB, live: 75 * MB }), need: 10 * MB }, { kind: 'pressure', scope: 'process', used: 75 * MB, limit: LIMIT }],
    ['process without room for the task, not under pressure, can spawn: pressure', { process: reading({ used: 75 * MB, live: 75 * MB }), need: 10 * MB, workers: [], canSpawn: true }, { kind: 'pressure', scope: 'process', used: 75 * MB, limit: LIMIT }],
    ['process under pressure, no worker free: pressure', { process: reading({ used: 75 * MB, live: 75 * MB, underPressure: true }), workers: [worker(1, { free: false })] }, { kind: 'pressure', scope: 'process', used: 75 * MB, limit: LIMIT }],
    ['main without room for the task, not under pressure, no worker free: busy, waiting for memory too', { main: reading({ used: 75 * MB, live: 75 * MB }), mainNeed: 10 * MB, workers: [worker(1, { free: false })] }, { kind: 'busy', memory: 'main' }],
    ['main without room, no worker could ever take the task: pressure on main, the first scope', { main: reading({ used: 75 * MB, live: 75 * MB }), mainNeed: 10 * MB, workers: [worker(1, { used: 90 * MB, live: 90 * MB })] }, { kind: 'pressure', scope: 'main', used: 75 * MB, limit: LIMIT }],
    ['process with room: goes on to main', { process: reading(), main: reading({ used: 95 * MB, live: 90 * MB }) }, { kind: 'pressure', scope: 'main', used: 90 * MB, limit: LIMIT }],
    ['main tier 2 admits despite garbage', { main: reading({ used: 95 * MB, live: 20 * MB }) }, { kind: 'admit', worker: 1 }],
    ['worker under pressure is never chosen; none else: worker pressure', { workers: [worker(1, { underPressure: true, used: 85 * MB, live: 85 * MB })] }, { kind: 'pressure', scope: 'worker', used: 85 * MB, limit: LIMIT }],
    ['picks the free worker with most headroom', { workers: [worker(1, { used: 50 * MB, live: 50 * MB }), worker(2, { used: 20 * MB, live: 20 * MB }), worker(3, { used: 30 * MB, live: 30 * MB })] }, { kind: 'admit', worker: 2 }],
    ['headroom is relative to each worker limit', { workers: [worker(1, { used: 20 * MB, live: 20 * MB, limit: 50 * MB }), worker(2, { used: 40 * MB, live: 40 * MB, limit: 200 * MB })] }, { kind: 'admit', worker: 2 }],
    ['skips a busy worker', { workers: [worker(1, { free: false, used: 1 * MB }), worker(2, { used: 40 * MB, live: 40 * MB })] }, { kind: 'admit', worker: 2 }],
    ['all fitting workers busy: busy, not pressure', { workers: [worker(1, { free: false }), worker(2, { free: false })] }, { kind: 'busy' }],
    ['busy fitting worker beats a free hot one: wait for it', { workers: [worker(1, { free: false }), worker(2, { underPressure: true, used: 90 * MB, live: 90 * MB })] }, { kind: 'busy' }],
    ['a worker that does not fit but is not fresh (a GC may show room): busy, not pressure', { workers: [worker(1, { fresh: false, used: 90 * MB, live: 90 * MB })] }, { kind: 'busy' }],
    ['a fresh worker that does not fit: pressure', { workers: [worker(1, { fresh: true, used: 90 * MB, live: 90 * MB })] }, { kind: 'pressure', scope: 'worker', used: 90 * MB, limit: LIMIT }],
    ['no fitting worker but can spawn: spawn', { canSpawn: true, workers: [worker(1, { underPressure: true, used: 90 * MB, live: 90 * MB })] }, { kind: 'admit', worker: 'spawn' }],
    ['no worker at all, can spawn', { canSpawn: true, workers: [] }, { kind: 'admit', worker: 'spawn' }],
    ['the task and a new worker for it fit the process: spawn', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 10 * MB, workerStart: 15 * MB, canSpawn: true, workers: [] }, { kind: 'admit', worker: 'spawn' }],
    ['the task fits the process, a new worker for it does not, a worker will free: busy, waiting for memory too', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 20 * MB, workerStart: 15 * MB, canSpawn: true, workers: [worker(1, { free: false })] }, { kind: 'busy', memory: 'process' }],
    ['the task fits the process, a new worker for it does not, none will free: process pressure', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 20 * MB, workerStart: 15 * MB, canSpawn: true, workers: [] }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['alone, the task and a new worker for it fit below the limit itself: spawn', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 20 * MB, workerStart: 15 * MB, alone: true, canSpawn: true, workers: [] }, { kind: 'admit', worker: 'spawn' }],
    ['alone, the task fits the limit but not with a new worker: process pressure', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 40 * MB, workerStart: 15 * MB, alone: true, canSpawn: true, workers: [] }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['a free worker needs no start: admitted where a spawn would not fit', { process: reading({ used: 50 * MB, live: 50 * MB }), external: 20 * MB, workerStart: 15 * MB, canSpawn: true }, { kind: 'admit', worker: 1 }],
    ['no worker at all, cannot spawn: busy (one is starting)', { workers: [] }, { kind: 'busy' }],
    ['a task that does not fit any worker now: worker pressure', { need: 30 * MB, workers: [worker(1, { used: 60 * MB, live: 60 * MB }), worker(2, { used: 55 * MB, live: 55 * MB })] }, { kind: 'pressure', scope: 'worker', used: 55 * MB, limit: LIMIT }],
    ['need picks the worker where it fits', { need: 30 * MB, workers: [worker(1, { used: 60 * MB, live: 60 * MB }), worker(2, { used: 45 * MB, live: 45 * MB })] }, { kind: 'admit', worker: 2 }],
    ['too large for any worker', { need: 80 * MB, main: reading({ limit: 1000 * MB }) }, { kind: 'too-large', scope: 'worker', need: 80 * MB, capacity: 80 * MB }],
    ['too large for main', { need: 50 * MB, mainNeed: 50 * MB, main: reading({ limit: 50 * MB }), workerLimit: 1000 * MB }, { kind: 'too-large', scope: 'main', need: 50 * MB, capacity: 40 * MB }],
    ['a learned need (no mainNeed) is not counted in main', { need: 50 * MB, mainNeed: 0, main: reading({ limit: 50 * MB }), workerLimit: 1000 * MB }, { kind: 'admit', worker: 1 }],
    ['too large for the process', { need: 50 * MB, process: reading({ limit: 60 * MB }) }, { kind: 'too-large', scope: 'process', need: 50 * MB, capacity: 48 * MB }],
    ['off-heap need counts in the process only: fits a small worker heap', { need: 1 * MB, external: 60 * MB, process: reading({ limit: 1000 * MB }), workers: [worker(1, { limit: 16 * MB, used: 1 * MB, live: 1 * MB })] }, { kind: 'admit', worker: 1 }],
    ['off-heap need too large for the process', { external: 60 * MB, process: reading({ limit: 60 * MB }) }, { kind: 'too-large', scope: 'process', need: 60 * MB, capacity: 48 * MB }],
    ['off-heap need refused by a process near its mark', { external: 30 * MB, process: reading({ used: 60 * MB, live: 60 * MB }) }, { kind: 'pressure', scope: 'process', used: 60 * MB, limit: LIMIT }],
    ['too large is judged against the largest worker or a fresh one: not too large, spawn', { need: 90 * MB, workerLimit: 200 * MB, main: reading({ limit: 1000 * MB }), canSpawn: true }, { kind: 'admit', worker: 'spawn' }],
    // High water 0.8 of a 100 MB worker is 80 MB; a fresh worker already holds 10 MB of it.
    ['too large for what a fresh worker leaves (its floor counted)', { need: 75 * MB, workerFloor: 10 * MB, main: reading({ limit: 1000 * MB }), canSpawn: true }, { kind: 'too-large', scope: 'worker', need: 75 * MB, capacity: 70 * MB }],
    ['just under what a fresh worker leaves: a worker is started for it', { need: 69 * MB, workerFloor: 10 * MB, main: reading({ limit: 1000 * MB }), workers: [worker(1, { used: 20 * MB, live: 20 * MB })], canSpawn: true }, { kind: 'admit', worker: 'spawn' }],
  ];
  for (const [name, over, expected] of table) {
    it(name, () => expect(decide(input(over))).toEqual(expected));
  }
});

describe('decide: a task that would run alone may use the process room above the mark', () => {
  // Process at 75 of 100 MB, high 0.8: a 10 MB need does not fit below the mark, but does below the limit.
  const full = reading({ used: 75 * MB, live: 75 * MB });
  it('admits it alone (nothing of the pool running), below the limit', () => {
    expect(decide(input({ process: full, need: 10 * MB, alone: true }))).toEqual({ kind: 'admit', worker: 1 });
  });
  it('refuses it beside running tasks (the room above the mark is for what they may do)', () => {
    expect(decide(input({ process: full, need: 10 * MB, alone: false }))).toMatchObject({ kind: 'pressure', scope: 'process' });
    expect(decide(input({ process: full, need: 10 * MB }))).toMatchObject({ kind: 'pressure', scope: 'process' });
  });
  it('refuses it alone when it would reach the limit, or the scope is under pressure', () => {
    expect(decide(input({ process: full, need: 25 * MB, alone: true }))).toMatchObject({ kind: 'pressure', scope: 'process' });
    expect(decide(input({ process: reading({ used: 75 * MB, live: 75 * MB, underPressure: true }), need: 10 * MB, alone: true }))).toMatchObject({ kind: 'pressure', scope: 'process' });
  });
  it('over a grid: alone, the process admits exactly what fits below the limit with nothing under pressure', () => {
    for (const used of [0, 50, 75, 79, 81, 95, 100].map((mb) => mb * MB)) {
      for (const reserved of [0, 5 * MB]) {
        for (const underPressure of [false, true]) {
          for (const need of [0, 5 * MB, 15 * MB, 30 * MB]) {
            const process = reading({ used, live: used, reserved, underPressure });
            const decision = decide(input({ process, need, alone: true }));
            const below = !underPressure && used + reserved + need < LIMIT;
            expect(fitsAlone(process, need)).toBe(below);
            if (decision.kind === 'admit') expect(below || fits(process, need, water.high)).toBe(true);
            if (below) expect(decision.kind === 'admit' || decision.kind === 'too-large').toBe(true);
          }
        }
      }
    }
  });
});

describe('actionFor: both policies', () => {
  const pressure: Decision = { kind: 'pressure', scope: 'worker', used: 1, limit: 2 };
  const rows: [Decision, 'start' | 'hold' | 'reject', 'start' | 'hold' | 'reject'][] = [
    [{ kind: 'admit', worker: 1 }, 'start', 'start'],
    [{ kind: 'admit', worker: 'spawn' }, 'start', 'start'],
    [{ kind: 'busy' }, 'hold', 'hold'],
    [pressure, 'reject', 'hold'],
    [{ kind: 'too-large', scope: 'main', need: 2, capacity: 1 }, 'reject', 'reject'],
  ];
  for (const [decision, underReject, underWait] of rows) {
    it(`${decision.kind}: reject → ${underReject}, wait → ${underWait}`, () => {
      expect(actionFor(decision, 'reject')).toBe(underReject);
      expect(actionFor(decision, 'wait')).toBe(underWait);
    });
  }
});

describe('decide: invariants over a grid of readings', () => {
  const levels = [0, 50, 79, 81, 95, 100].map((mb) => mb * MB);
  const lives = [undefined, 10 * MB, 85 * MB];
  const needs = [0, 15 * MB];

  function* readings(): Generator<Reading> {
    for (const used of levels) for (const live of lives) for (const underPressure of [false, true]) yield reading({ used, live, underPressure });
  }

  it('never admits past a scope that does not fit; always admits when everything fits and a worker is free', () => {
    let checked = 0;
    for (const need of needs) {
      for (const main of readings()) {
        for (const w of readings()) {
          for (const free of [true, false]) {
            for (const canSpawn of [false, true]) {
              const workers = [worker(7, { ...w, free })];
              const decision = decide(input({ need, mainNeed: need, main, workers, canSpawn }));
              checked++;
              const mainFits = fits(main, need, water.high);
              const workerFits = fits(workers[0]!, need, water.high);
              const couldStartNow = (workerFits && free) || canSpawn;
              const waitsForWorker = !couldStartNow && (workerFits || !workers[0]!.fresh);
              if (decision.kind === 'admit') {
                expect(mainFits).toBe(true);
                if (decision.worker === 7) expect(workerFits && free).toBe(true);
                else expect(canSpawn).toBe(true);
              }
              if (mainFits && workerFits && free) expect(decision).toEqual({ kind: 'admit', worker: 7 });
              if (!mainFits && (couldStartNow || main.underPressure || !waitsForWorker)) expect(decision).toMatchObject({ kind: 'pressure', scope: 'main' });
              if (!mainFits && waitsForWorker && !main.underPressure) expect(decision).toEqual({ kind: 'busy', memory: 'main' });
              if (mainFits && !workerFits && !canSpawn) expect(decision).toMatchObject({ kind: 'pressure', scope: 'worker' });
              if (mainFits && workerFits && !free && !canSpawn) expect(decision).toEqual({ kind: 'busy' });
            }
          }
        }
      }
    }
    expect(checked).toBe(2 * 36 * 36 * 2 * 2);
  });

  it('chooseWorker returns a free fitting worker with the most room, and says whether waiting helps', () => {
    const busyFit = worker(1, { free: false });
    const freeHot = worker(2, { used: 99 * MB, live: 99 * MB });
    expect(chooseWorker([busyFit, freeHot], 0, water.high)).toEqual({ best: undefined, anyFitsLater: true });
    expect(chooseWorker([freeHot], 0, water.high)).toEqual({ best: undefined, anyFitsLater: false });
    expect(chooseWorker([freeHot, worker(3)], 0, water.high).best?.id).toBe(3);
  });
});

describe('decide: the warm way into the process', () => {
  // Process limit 100 MB, high 0.8: the full need (heap 10 + off-heap 30) does not fit at 50 MB
  // used; the warm need (12) does.
  const full = { need: 10 * MB, external: 30 * MB };
  const busyProcess = reading({ used: 50 * MB, live: 50 * MB });
  const warmOption = (over: Partial<{ need: number; spawn: boolean; surprise: number; reusable: number }> = {}) => ({ need: 12 * MB, spawn: false, surprise: 0, reusable: 50 * MB, ...over });
  const cases: [string, Partial<GateInput>, Decision][] = [
    ['a free warm worker takes it on its warm need', { workers: [worker(1), worker(2, { warm: true })] }, { kind: 'admit', worker: 2, warm: true }],
    ['no warm worker, none to start: process pressure', { workers: [worker(1)] }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['the warm worker is busy: wait for it (the process could not take the task but warm)', { workers: [worker(1), worker(2, { warm: true, free: false })] }, { kind: 'busy', memory: 'process' }],
    ['a worker started now inherits warmth: spawn on the warm need', { workers: [worker(1)], canSpawn: true, warm: warmOption({ spawn: true }) }, { kind: 'admit', worker: 'spawn', warm: true }],
    ['a worker started now would be cold: process pressure', { workers: [worker(1)], canSpawn: true }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['were it cold after all, the process would reach its limit: no', { workers: [worker(2, { warm: true })], process: reading({ used: 60 * MB, live: 60 * MB }) }, { kind: 'pressure', scope: 'process', used: 60 * MB, limit: LIMIT }],
    ['nor when a running warm task could fall that short', { workers: [worker(2, { warm: true })], warm: warmOption({ surprise: 40 * MB }) }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['the memory a warm run would reuse is not in the process (given back to the system): no way in', { workers: [worker(2, { warm: true })], warm: warmOption({ reusable: 27 * MB }) }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['exactly its shortfall is there: in', { workers: [worker(2, { warm: true })], warm: warmOption({ reusable: 28 * MB }) }, { kind: 'admit', worker: 2, warm: true }],
    ['a warm need no smaller than the full one is no way in', { workers: [worker(2, { warm: true })], warm: warmOption({ need: 40 * MB }) }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['never while the process is under pressure', { workers: [worker(2, { warm: true })], process: reading({ used: 50 * MB, live: 50 * MB, underPressure: true }) }, { kind: 'pressure', scope: 'process', used: 50 * MB, limit: LIMIT }],
    ['the main isolate still has its say', { workers: [worker(2, { warm: true })], mainNeed: 10 * MB, main: reading({ used: 75 * MB, live: 75 * MB }) }, { kind: 'pressure', scope: 'main', used: 75 * MB, limit: LIMIT }],
    ['the full need fits: a free warm worker still comes first, on its warm need', { workers: [worker(1), worker(2, { warm: true, used: 40 * MB, live: 40 * MB })], process: reading() }, { kind: 'admit', worker: 2, warm: true }],
    ['the full need fits, no warm worker: the most room, on its full need', { workers: [worker(1), worker(2, { used: 40 * MB, live: 40 * MB })], process: reading() }, { kind: 'admit', worker: 1 }],
    ['the full need fits, the warm worker is busy: a cold one now, on its full need', { workers: [worker(1), worker(2, { warm: true, free: false })], process: reading() }, { kind: 'admit', worker: 1 }],
  ];
  for (const [name, over, expected] of cases) {
    it(name, () => expect(decide(input({ ...full, process: busyProcess, warm: warmOption(), ...over }))).toEqual(expected));
  }

  it("found by a new user's trial: runs admitted warm while the memory they counted on reusing had gone back to the system (294–297 of a 300 MiB cgroup in 3 of 14 runs)", () => {
    // The first of three admissions at 5.28 s in that trace: a 300 MiB cgroup, high 0.85, the
    // process at 45 MiB with nothing running (the earlier runs' Buffers had been unmapped), a run of
    // 1 + 101 MiB whose name's warm runs make 8 MiB resident, on a worker that ran it. Admitted warm,
    // two such runs and a cold third went in together, and the warm two made 93 MiB each resident.
    const containerLimit = 300 * MB;
    const process = { used: 45 * MB, live: undefined, limit: containerLimit, reserved: 0, underPressure: false };
    const task = { need: 1 * MB, external: 101 * MB, water: { high: 0.85, low: 0.6 }, process, workers: [worker(2, { warm: true })] };
    expect(decide(input({ ...task, warm: { need: 8 * MB, spawn: false, surprise: 0, reusable: 45 * MB } }))).toEqual({ kind: 'admit', worker: 2 });
    // Where the process does hold what such runs freed (idle at 150 MiB), it goes in warm.
    expect(decide(input({ ...task, process: { ...process, used: 150 * MB }, warm: { need: 8 * MB, spawn: false, surprise: 0, reusable: 150 * MB } }))).toEqual({ kind: 'admit', worker: 2, warm: true });
  });

  it('over a grid: a warm admission fits the warm need below high and the full need below the limit, on a warm free worker or a warm spawn', () => {
    let warmAdmits = 0;
    for (const used of [0, 30, 45, 50, 60, 70, 79, 90].map((mb) => mb * MB)) {
      for (const warmNeed of [5, 12, 39, 40].map((mb) => mb * MB)) {
        for (const [surprise, reusable] of [[0, 100 * MB], [20 * MB, 100 * MB], [60 * MB, 100 * MB], [0, 20 * MB], [0, 30 * MB]] as const) {
          for (const spawn of [false, true]) {
            for (const canSpawn of [false, true]) {
              for (const [isWarm, free] of [[false, true], [true, true], [true, false]] as const) {
                const process = reading({ used, live: used });
                const workers = [worker(3, { warm: isWarm, free })];
                const decision = decide(input({ ...full, process, workers, canSpawn, warm: { need: warmNeed, spawn, surprise, reusable } }));
                const fullNeed = full.need + full.external;
                if (decision.kind !== 'admit') continue;
                if (decision.warm) {
                  warmAdmits++;
                  // A spawn goes warm only for want of room; a free warm worker is taken warm either way.
                  if (decision.worker === 'spawn') expect(fits(process, fullNeed, water.high)).toBe(false);
                  expect(used + warmNeed).toBeLessThan(water.high * LIMIT);
                  expect(used + warmNeed + Math.max(fullNeed - warmNeed, surprise)).toBeLessThan(LIMIT);
                  expect(fullNeed - warmNeed).toBeLessThanOrEqual(reusable);
                  if (decision.worker === 'spawn') expect(spawn && canSpawn).toBe(true);
                  else expect(isWarm && free).toBe(true);
                } else {
                  expect(fits(process, fullNeed, water.high)).toBe(true);
                }
              }
            }
          }
        }
      }
    }
    expect(warmAdmits).toBeGreaterThan(0);
  });
});

describe('processShortfall: what the process must give back before a task fits', () => {
  // Limit 100 MB, high 0.8, low 0.6 (the water marks above).
  const cases: [string, Partial<Reading>, number, boolean, number][] = [
    ['alone: room below the limit itself', { used: 90 * MB, live: 90 * MB }, 20 * MB, true, 10 * MB],
    ['not alone: room below the high mark', { used: 70 * MB, live: 70 * MB }, 20 * MB, false, 10 * MB],
    ['reservations count', { used: 50 * MB, live: 50 * MB, reserved: 30 * MB }, 30 * MB, true, 10 * MB],
    ['live, not used, is what is kept', { used: 95 * MB, live: 60 * MB }, 30 * MB, true, -10 * MB],
    ['fits already: nothing to give back', { used: 20 * MB, live: 20 * MB }, 10 * MB, true, -70 * MB],
    ['under pressure: down to the low mark first, even for a small need', { used: 85 * MB, live: 85 * MB, underPressure: true }, 1 * MB, true, 25 * MB],
    ['under pressure: or the need, whichever is more', { used: 85 * MB, live: 85 * MB, underPressure: true }, 50 * MB, true, 35 * MB],
  ];
  it.each(cases)('%s', (_name, over, need, alone, expected) => {
    expect(processShortfall(reading(over), need, water, alone)).toBeCloseTo(expected, -1);
  });
});
