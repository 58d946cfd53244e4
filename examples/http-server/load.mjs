// A small load generator: `node examples/http-server/load.mjs http://127.0.0.1:3000` (or imported).
// Phases: calm (one request at a time), a burst (many at once), calm again; between them it asks
// the readiness route. Prints one line per phase: answers by status, and readiness.
export async function generateLoad(base, { burst = 24, calm = 4, log = console.log } = {}) {
  const phases = [];
  async function phase(name, concurrency, count) {
    const statuses = {};
    let retryAfter;
    const readiness = [];
    let next = 0;
    async function worker() {
      while (next < count) {
        next++;
        const response = await fetch(`${base}/render?seed=${next}`);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.status === 503) retryAfter = response.headers.get('retry-after');
        await response.arrayBuffer();
      }
    }
    const probe = (async () => {
      const ready = await fetch(`${base}/ready`);
      readiness.push(ready.status);
      await ready.arrayBuffer();
    })();
    await Promise.all([...Array.from({ length: concurrency }, worker), probe]);
    const after = await fetch(`${base}/ready`);
    readiness.push(after.status);
    const body = await after.json();
    const result = { name, statuses, retryAfter, readiness, reasons: body.reasons };
    log(`${name.padEnd(6)} ${JSON.stringify(statuses)}${retryAfter ? ` Retry-After: ${retryAfter}s` : ''}; /ready ${readiness.join(' → ')}${body.reasons.length ? ` (${body.reasons.join(', ')})` : ''}`);
    phases.push(result);
    return result;
  }
  await phase('calm', 1, calm);
  await phase('burst', burst, burst * 2);
  // Let the burst's memory go before the calm phase (readiness follows the readings).
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`${base}/ready`);
    await ready.arrayBuffer();
    if (ready.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await phase('calm', 1, calm);
  return phases;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await generateLoad(process.argv[2] ?? 'http://127.0.0.1:3000');
}
