/**
 * The process against its memory limit: the third scope beside the main isolate and the workers.
 * All isolates share one process, so this is the limit whose breach kills everything at once (the
 * kernel SIGKILLs with no warning), and the only one that sees Buffers and ArrayBuffers, which heap
 * statistics never count.
 *
 * The limit, in order of precedence: explicit bytes > the container (cgroup) limit > system memory
 * (with a one-time warning). Usage: the cgroup's charge read from a kept-open file (~1.5 µs on an
 * idle machine, ~9 µs with every CPU busy), re-read when older than `usageRefreshMs`, and, only when
 * that is above the mark, its non-reclaimable part from `memory.stat`, refreshed at most every
 * `statRefreshMs`. Without a cgroup: RSS against the limit, refreshed like `memory.stat`.
 */
import { totalmem } from 'node:os';
import { readCgroupFile } from './cgroup-files.js';
import { ContainerReader, locateCgroup, readContainerLimit, type CgroupLocation, type ContainerCounters } from './container.js';
import { debug } from '../observability/debug.js';

/** Where the process limit came from. */
export type LimitSource = 'explicit' | 'cgroup' | 'system';

export interface ProcessMonitorOptions {
  /** Bytes, or `'auto'` (cgroup, then system memory). */
  memoryLimit: number | 'auto';
  /** The cgroup filesystem's mount point. */
  cgroupRoot: string;
  /** The text of `/proc/self/cgroup` (read from the system when not given). */
  membership?: string | undefined;
  /** Least time between two reads of `memory.stat` (or RSS). */
  statRefreshMs: number;
  /** Least time between two reads of the cgroup's usage. */
  usageRefreshMs: number;
  /** Least time between two re-reads of the container limit (it can change at run time). */
  limitRefreshMs: number;
}

/** What `stats()` reports of the process scope. */
export interface ProcessStats {
  /** Where the limit came from: the `memoryLimit` option (`'explicit'`), the container (`'cgroup'`), or system memory (`'system'`). */
  source: LimitSource;
  /** What usage is read from now: the cgroup's charge, or RSS (no cgroup, or its files failed). */
  measuredBy: 'cgroup' | 'rss';
  /** The cgroup directory, when there is one. */
  cgroup: string | undefined;
  /** The cgroup's version, when there is one. */
  cgroupVersion: 1 | 2 | undefined;
  /** The file that set the container limit, when there is one. */
  limitFrom: string | undefined;
  /**
   * The cgroup's memory event counters as last read (by the pool's poll timer, at most once a
   * second): empty while usage was never read from a cgroup, the last read once it fell back to RSS.
   */
  counters: ContainerCounters;
}

const warned = new Set<string>();

/** Emits a process warning once per code and text. */
function warnOnce(code: string, message: string): void {
  const key = `${code}:${message}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(message, { code });
}

export class ProcessMonitor {
  readonly #options: ProcessMonitorOptions;
  #reader: ContainerReader | undefined;
  #location: CgroupLocation | undefined;
  #limit = Infinity;
  #limitFrom: string | undefined;
  #source: LimitSource = 'system';
  #limitReadAt = 0;
  #live: number | undefined;
  #liveReadAt = -Infinity;
  #usedAtLiveRead = 0;
  #usage = 0;
  #usageReadAt = -Infinity;
  #rss = 0;
  #rssReadAt = -Infinity;
  #counters: ContainerCounters = {};
  #countersReadAt = -Infinity;

  /** Throws `CgroupFileError` when a cgroup file holds a malformed value. */
  constructor(options: ProcessMonitorOptions) {
    this.#options = options;
    const membership = options.membership ?? readMembership();
    this.#location = membership === undefined ? undefined : locateCgroup(options.cgroupRoot, membership);
    if (this.#location) {
      try {
        this.#reader = new ContainerReader(this.#location);
      } catch (error) {
        warnOnce('HEAPGATE_CGROUP_UNREADABLE', `heapgate: cannot read the memory cgroup at ${this.#location.dir} (${(error as Error).message}); measuring the process by RSS`);
      }
    }
    this.#readLimit(performance.now());
    // A cgroup with no memory limit on it or above is not a container: on an ordinary machine it
    // is a login session or a service, and its charge counts other processes. Then this process
    // is measured by its own RSS (seen: a cgroup shared with a test run charged 301 MiB against an
    // explicit 213 MiB limit while the process itself held far less, and its tasks waited in vain).
    if (this.#reader && this.#source !== 'cgroup' && !(this.#location && Number.isFinite(readContainerLimit(this.#location).limit))) {
      debug(`the memory cgroup ${this.#location?.dir ?? ''} has no limit: it may hold other processes; measuring this process by RSS`);
      this.#reader.close();
      this.#reader = undefined;
    }
  }

  /** The limit in bytes. */
  get limit(): number {
    return this.#limit;
  }

  /** Where the limit came from. */
  get source(): LimitSource {
    return this.#source;
  }

  /**
   * Bytes in use now: the cgroup charge (page cache included), or RSS without a cgroup; a read at
   * most `maxAgeMs` old (default `usageRefreshMs`) is reused.
   */
  used(now: number, maxAgeMs = this.#options.usageRefreshMs): number {
    if (this.#reader) {
      try {
        if (now - this.#usageReadAt >= maxAgeMs) {
          this.#usage = this.#reader.usage();
          this.#usageReadAt = now;
        }
        return this.#usage;
      } catch (error) {
        this.#dropReader(error);
      }
    }
    return this.#rssAt(now);
  }

  /**
   * Non-reclaimable bytes, re-read when older than `statRefreshMs`. Between reads, the last figure
   * plus whatever usage (`usedNow`) has grown since it was read: new usage counts as
   * non-reclaimable until a read says otherwise, so a cached figure never hides a burst.
   */
  live(now: number, usedNow: number): number {
    if (now - this.#liveReadAt >= this.#options.statRefreshMs) {
      this.#live = this.#rssAt(now);
      if (this.#reader) {
        try {
          this.#live = this.#reader.nonReclaimable();
        } catch (error) {
          this.#dropReader(error);
        }
      }
      this.#liveReadAt = now;
      this.#usedAtLiveRead = usedNow;
    }
    return (this.#live ?? 0) + Math.max(0, usedNow - this.#usedAtLiveRead);
  }

  /**
   * Re-reads the container limit when it is older than `limitRefreshMs`. A failure at run time
   * keeps the last limit and warns (the constructor, by contrast, throws on a malformed value).
   */
  refreshLimit(now: number): void {
    if (now - this.#limitReadAt < this.#options.limitRefreshMs) return;
    try {
      this.#readLimit(now);
    } catch (error) {
      this.#limitReadAt = now;
      warnOnce('HEAPGATE_CGROUP_UNREADABLE', `heapgate: re-reading the container limit failed (${(error as Error).message}); keeping ${this.#limit} bytes`);
    }
  }

  /** What is known now, from cached values only (no file is read). */
  stats(): ProcessStats {
    return {
      source: this.#source,
      measuredBy: this.#reader ? 'cgroup' : 'rss',
      cgroup: this.#location?.dir,
      cgroupVersion: this.#location?.version,
      limitFrom: this.#limitFrom,
      counters: { ...this.#counters },
    };
  }

  /** The next `live()` re-reads the non-reclaimable figure (memory may have been freed since). */
  forgetLive(): void {
    this.#liveReadAt = -Infinity;
    this.#rssReadAt = -Infinity;
  }

  /** The usage last read (no file is read). */
  get lastUsed(): number {
    return this.#reader ? this.#usage : this.#rss;
  }

  /** The usage and non-reclaimable figures last read (no file is read). */
  cached(): { used: number; live: number | undefined } {
    return { used: this.#reader ? this.#usage : this.#rss, live: this.#live };
  }

  /**
   * Re-reads the cgroup's event counters when older than `everyMs` (called from the pool's poll
   * timer, never from `stats()`). A counters file that cannot be read or parsed warns once and
   * keeps the last counters: it says nothing about usage, so the usage reader stays.
   */
  refreshCounters(now: number, everyMs: number): void {
    if (!this.#reader || now - this.#countersReadAt < everyMs) return;
    this.#countersReadAt = now;
    try {
      this.#counters = this.#reader.counters();
    } catch (error) {
      warnOnce('HEAPGATE_CGROUP_UNREADABLE', `heapgate: reading the cgroup's event counters failed (${(error as Error).message}); keeping the last ones`);
    }
  }

  close(): void {
    this.#reader?.close();
  }

  #readLimit(now: number): void {
    this.#limitReadAt = now;
    const { memoryLimit, cgroupRoot } = this.#options;
    if (memoryLimit !== 'auto') {
      this.#limit = memoryLimit;
      this.#source = 'explicit';
      this.#limitFrom = undefined;
      return;
    }
    const container = this.#location ? readContainerLimit(this.#location) : undefined;
    for (const file of container?.unreadable ?? []) {
      warnOnce('HEAPGATE_CGROUP_UNREADABLE', `heapgate: cannot read ${file}; the container limit may be missing a level`);
    }
    if (container && Number.isFinite(container.limit)) {
      this.#limit = container.limit;
      this.#source = 'cgroup';
      this.#limitFrom = container.from;
      return;
    }
    this.#limit = totalmem();
    this.#source = 'system';
    this.#limitFrom = undefined;
    const where = this.#location ? `in ${this.#location.dir} or above it` : `under ${cgroupRoot}`;
    // An ordinary machine has no container limit: not worth a warning on every run (stats() says
    // `source: 'system'`); NODE_DEBUG=heapgate tells where it looked.
    debug(`no container memory limit found ${where}; measuring the process against system memory (${Math.round(this.#limit / 2 ** 20)} MiB)`);
  }

  /**
   * A cgroup file that could be read at start failed later (the cgroup was removed, a value became
   * malformed): warn once and measure by RSS from now on, rather than fail the task being decided.
   */
  #dropReader(error: unknown): void {
    const dir = this.#reader?.location.dir;
    this.#reader?.close();
    this.#reader = undefined;
    warnOnce('HEAPGATE_CGROUP_UNREADABLE', `heapgate: reading the memory cgroup at ${dir} failed (${(error as Error).message}); measuring the process by RSS from now on`);
  }

  #rssAt(now: number): number {
    if (now - this.#rssReadAt >= this.#options.statRefreshMs) {
      this.#rss = process.memoryUsage.rss();
      this.#rssReadAt = now;
    }
    return this.#rss;
  }
}

function readMembership(): string | undefined {
  const read = readCgroupFile('/proc/self/cgroup');
  return read.kind === 'ok' ? read.text : undefined;
}
