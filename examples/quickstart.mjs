// The smallest useful GatedPool: run with `node examples/quickstart.mjs` after `npm run build`.
import { GatedPool, MemoryPressureError } from 'heapgate';

const pool = new GatedPool({
  filename: new URL('./tasks.mjs', import.meta.url).href,
  maxThreads: 2,
  resourceLimits: { maxOldGenerationSizeMb: 64 },
  policy: 'wait',
});

try {
  const out = await pool.run({ width: 640, height: 480 }, { name: 'resize', memory: 1024 * 1024 });
  console.log('resized to', out);
} catch (error) {
  if (error instanceof MemoryPressureError) console.log(`busy: retry in ${error.retryAfterMs} ms`);
  else throw error;
} finally {
  console.log(pool.stats().counters);
  await pool.close();
}
