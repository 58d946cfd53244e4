// An image-like job: a width × height grayscale image in a Float32Array, blurred with a 3 × 3 box
// filter into a second one. Two large typed arrays per task: off-heap memory (ArrayBuffers).
export function blur({ width, height, seed }) {
  const start = Date.now();
  const source = new Float32Array(width * height);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < source.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    source[i] = state / 2 ** 32;
  }
  const target = new Float32Array(width * height);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += source[(y + dy) * width + x + dx];
      target[y * width + x] = sum / 9;
    }
  }
  let mean = 0;
  for (let i = 0; i < target.length; i += 97) mean += target[i];
  return { mean: mean / Math.ceil(target.length / 97), start, end: Date.now() };
}
