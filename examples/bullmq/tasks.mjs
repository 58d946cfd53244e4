// A report job: builds `mb` MiB of data in Buffers, works on it for a while, returns a summary.
export async function report({ mb, ms }) {
  const data = Buffer.alloc(mb * 2 ** 20, 7);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { bytes: data.length };
}
