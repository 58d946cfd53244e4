/**
 * heapgate needs Node.js 22 or newer (worker heap statistics, `Promise.withResolvers`, Piscina 5).
 * Imported first by the entry point, so an older Node fails at import with this message rather
 * than later with an unrelated `TypeError`.
 */
const MIN_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= MIN_MAJOR)) {
  throw new Error(`heapgate needs Node.js ${MIN_MAJOR} or newer; this is Node.js ${process.versions.node}`);
}
export {};
