// Task module for the examples. Every task keeps ~8 MB in a module-level cache: a leak that
// kills a worker with a 64 MB heap after a handful of tasks.
const cache = [];

export default function leak(index) {
  cache.push(new Array(1_000_000).fill(index + 0.5));
  return cache.length;
}

export function resize({ width, height }) {
  return { width: Math.round(width / 2), height: Math.round(height / 2) };
}
