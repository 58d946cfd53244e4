// Task module for the benchmarks.
export function noop(input) {
  return input;
}

/** Spins for about `ms` milliseconds of CPU. */
export function cpu(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x++;
  return x;
}
