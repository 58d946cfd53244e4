// Tasks for the metrics example: one that waits `ms`, one that throws.
export async function wait(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}

export function fail(message) {
  throw new Error(message);
}
