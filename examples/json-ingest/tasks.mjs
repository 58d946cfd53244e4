// A JSON-ingest job: a batch of `records` events arrives as one big JSON string (built here from a
// seed, as if read from a queue or a file), is parsed, and summed per category. Big strings and
// the parsed objects live on the worker's heap.
export function ingest({ records, seed }) {
  const events = [];
  let state = seed >>> 0 || 1;
  for (let i = 0; i < records; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    events.push({ id: `${seed}-${i}`, category: `c${state % 16}`, amount: state % 1000, note: 'x'.repeat(state % 64) });
  }
  const text = JSON.stringify(events);
  const parsed = JSON.parse(text);
  const totals = {};
  for (const event of parsed) totals[event.category] = (totals[event.category] ?? 0) + event.amount;
  return { records: parsed.length, bytes: text.length, categories: Object.keys(totals).length };
}
