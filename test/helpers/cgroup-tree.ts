// Builds a cgroup-like file tree in a temporary folder: a map from relative path to file content,
// or DIRECTORY for a folder (which also makes a file that cannot be read, when put where a file
// is expected). Returns the root; remove it with rmSync(root, { recursive: true }).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const DIRECTORY = Symbol('directory');

export function makeTree(files: Record<string, string | typeof DIRECTORY>): string {
  const root = mkdtempSync(join(tmpdir(), 'heapgate-cgroup-'));
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (content === DIRECTORY) {
      mkdirSync(full, { recursive: true });
    } else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return root;
}

export const MiB = 2 ** 20;
export const V1_UNLIMITED = '9223372036854771712\n';
