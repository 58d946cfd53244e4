// The mixed workload's tasks: heap held across awaits, Buffers held, and garbage churned.
export async function heap({ mb, ms }) {
  const kept = [];
  for (let i = 0; i < mb * 128; i++) kept.push(new Array(1024).fill(i + 0.5));
  await new Promise((resolve) => setTimeout(resolve, ms));
  // A result the caller keeps for a while (~256 KiB).
  return new Array(32_768).fill(kept.length);
}

export async function buffers({ mb, ms }) {
  const buffer = Buffer.alloc(mb * 2 ** 20, 1);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return buffer.length;
}

export function churn({ mb }) {
  let sink = 0;
  for (let i = 0; i < mb / 2; i++) sink += new Array(262_144).fill(i + 0.5).length;
  return sink;
}

const cache = [];

/** Keeps ~8 MiB more in a module-level cache on every call: a leak. */
export function leak() {
  cache.push(new Array(1_000_000).fill(cache.length + 0.5));
  return cache.length;
}
