// The job behind the HTTP route: render a `size` × `size` RGBA image into a Uint8ClampedArray
// (4 bytes a pixel, off-heap) and return a small digest of it.
export function render({ size, seed }) {
  const pixels = new Uint8ClampedArray(size * size * 4);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < pixels.length; i += 4) {
    state = (state * 1664525 + 1013904223) >>> 0;
    pixels[i] = state & 255;
    pixels[i + 1] = (state >>> 8) & 255;
    pixels[i + 2] = (state >>> 16) & 255;
    pixels[i + 3] = 255;
  }
  let digest = 0;
  for (let i = 0; i < pixels.length; i += 4099) digest = (digest * 31 + pixels[i]) >>> 0;
  return { digest, bytes: pixels.length };
}
