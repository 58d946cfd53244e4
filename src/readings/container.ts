/**
 * The container (memory cgroup) the process runs in: where it is, its limit, its usage, and its
 * non-reclaimable memory. The kernel OOM-kills on the working set, so page cache (reclaimable) is
 * not pressure; anonymous + shared memory (`total_rss + total_shmem` on v1, `anon + shmem` on v2)
 * is what cannot be reclaimed.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, isAbsolute } from 'node:path';
import { KeptOpenFile, parseCount, parseKeyed, parseLimit, parseMembership, readCgroupFile, CgroupFileError } from './cgroup-files.js';

/** Where the process's memory cgroup is. */
export interface CgroupLocation {
  version: 1 | 2;
  /** The hierarchy's mount point (v1: `<root>/memory`; v2: `<root>`). */
  mount: string;
  /** The process's own cgroup directory. */
  dir: string;
}

/**
 * Finds the process's memory cgroup under `root` from the text of `/proc/self/cgroup`. v1 when a
 * v1 hierarchy carries the memory controller, else v2 when its `cgroup.controllers` lists memory.
 * When the listed path does not exist under the mount (a cgroup namespace shows the process's own
 * cgroup as the root), the mount itself is used. `undefined`: no memory cgroup here.
 */
export function locateCgroup(root: string, membershipText: string, membershipPath = '/proc/self/cgroup'): CgroupLocation | undefined {
  const membership = parseMembership(membershipPath, membershipText);
  if (membership.v1Memory !== undefined) {
    const mount = join(root, 'memory');
    if (existsSync(mount)) return { version: 1, mount, dir: inside(mount, membership.v1Memory) };
  }
  if (membership.v2 !== undefined) {
    const controllers = readCgroupFile(join(root, 'cgroup.controllers'));
    if (controllers.kind === 'ok' && controllers.text.split(/\s+/).includes('memory')) {
      return { version: 2, mount: root, dir: inside(root, membership.v2) };
    }
  }
  return undefined;
}

function inside(mount: string, cgroupPath: string): string {
  const dir = join(mount, cgroupPath);
  return existsSync(dir) ? dir : mount;
}

/** A limit found by walking the hierarchy. */
export interface ContainerLimit {
  /** The smallest limit in bytes on the way to the root; Infinity when there is none. */
  limit: number;
  /** The file that set it, when there is one. */
  from: string | undefined;
  /** Files that exist but could not be read, with the reason: the limit may be missing one. */
  unreadable: string[];
}

/**
 * The memory limit that applies to the cgroup: the smallest of every limit from its own directory
 * up to the mount. v2: `memory.max` and `memory.high` at each level. v1: `memory.limit_in_bytes` at
 * each level, and `hierarchical_memory_limit` from the cgroup's own `memory.stat`. Throws
 * `CgroupFileError` on a malformed value.
 */
export function readContainerLimit(location: CgroupLocation): ContainerLimit {
  const found: ContainerLimit = { limit: Infinity, from: undefined, unreadable: [] };
  const consider = (path: string, bytes: number): void => {
    if (bytes < found.limit) {
      found.limit = bytes;
      found.from = path;
    }
  };
  const files = location.version === 2 ? ['memory.max', 'memory.high'] : ['memory.limit_in_bytes'];
  for (const dir of upTo(location.dir, location.mount)) {
    for (const name of files) {
      const path = join(dir, name);
      const read = readCgroupFile(path);
      if (read.kind === 'ok') consider(path, parseLimit(path, read.text));
      else if (read.kind === 'unreadable') found.unreadable.push(`${path} (${read.error.code ?? read.error.message})`);
    }
  }
  if (location.version === 1) {
    const path = join(location.dir, 'memory.stat');
    const read = readCgroupFile(path);
    if (read.kind === 'ok') {
      const hierarchical = parseKeyed(path, read.text).get('hierarchical_memory_limit');
      if (hierarchical !== undefined) consider(`${path} (hierarchical_memory_limit)`, parseLimit(path, String(hierarchical)));
    } else if (read.kind === 'unreadable') {
      found.unreadable.push(`${path} (${read.error.code ?? read.error.message})`);
    }
  }
  return found;
}

/** `dir` and each parent up to and including `mount` (never above it). */
function upTo(dir: string, mount: string): string[] {
  const rel = relative(mount, dir);
  if (rel.startsWith('..') || isAbsolute(rel)) return [dir];
  const dirs: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    dirs.push(current);
    if (current === mount || dirname(current) === current) break;
  }
  return dirs;
}

/** Event counters of the cgroup, for `stats()`. Absent keys were not reported by this kernel. */
export interface ContainerCounters {
  /** v1 `memory.failcnt`: times usage hit the limit. */
  failcnt?: number;
  /** v2 `memory.events` `max`: times usage hit `memory.max`. */
  max?: number;
  /** v2 `memory.events` `oom`. */
  oom?: number;
  /** OOM kills in this cgroup (v1 `memory.oom_control`, v2 `memory.events`). */
  oomKill?: number;
}

/** Reads the cgroup's usage and non-reclaimable memory from files kept open. */
export class ContainerReader {
  readonly location: CgroupLocation;
  readonly #usage: KeptOpenFile;
  readonly #stat: KeptOpenFile;

  /** Throws when the usage or stat file cannot be opened (for example v2's root cgroup has neither). */
  constructor(location: CgroupLocation) {
    this.location = location;
    this.#usage = new KeptOpenFile(join(location.dir, location.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'), 64);
    try {
      this.#stat = new KeptOpenFile(join(location.dir, 'memory.stat'));
    } catch (error) {
      this.#usage.close();
      throw error;
    }
  }

  /** Bytes charged to the cgroup now, page cache included. About 1.5 µs. */
  usage(): number {
    return parseCount(this.#usage.path, this.#usage.read());
  }

  /** Bytes that cannot be reclaimed: anonymous + shared memory. About 8–10 µs. */
  nonReclaimable(): number {
    const stats = parseKeyed(this.#stat.path, this.#stat.read());
    const keys = this.location.version === 2 ? ['anon', 'shmem'] : ['total_rss', 'total_shmem'];
    let bytes = 0;
    for (const key of keys) {
      const value = stats.get(key);
      if (value === undefined) throw new CgroupFileError(this.#stat.path, `(no "${key}" line)`, `a "${key}" line`);
      bytes += value;
    }
    return bytes;
  }

  /** The cgroup's event counters (not for the hot path). */
  counters(): ContainerCounters {
    const { dir, version } = this.location;
    const counters: ContainerCounters = {};
    if (version === 2) {
      const path = join(dir, 'memory.events');
      const read = readCgroupFile(path);
      if (read.kind === 'ok') {
        const events = parseKeyed(path, read.text);
        counters.max = events.get('max');
        counters.oom = events.get('oom');
        counters.oomKill = events.get('oom_kill');
      }
      return counters;
    }
    const failcnt = readCgroupFile(join(dir, 'memory.failcnt'));
    if (failcnt.kind === 'ok') counters.failcnt = parseCount(join(dir, 'memory.failcnt'), failcnt.text);
    const oomControl = readCgroupFile(join(dir, 'memory.oom_control'));
    if (oomControl.kind === 'ok') counters.oomKill = parseKeyed(join(dir, 'memory.oom_control'), oomControl.text).get('oom_kill');
    return counters;
  }

  close(): void {
    this.#usage.close();
    this.#stat.close();
  }
}
