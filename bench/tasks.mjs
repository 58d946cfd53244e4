// Task module for the benchmarks. Every pool in bench/overhead.mjs runs these very functions:
// Piscina, GatedPool and tinypool load this module by name; poolifier and workerpool register
// them from bench/workers/.
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
