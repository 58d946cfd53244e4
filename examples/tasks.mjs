// Task module for the quickstart.
export function resize({ width, height }) {
  return { width: Math.round(width / 2), height: Math.round(height / 2) };
}
