// The documented generator, z -> Dense(hidden, ReLU) -> Dense(784, sigmoid), computed in the browser or Node.
//
// Weights come from gan_core/browser_export.py: W1 (latent, hidden), b1, W2 (hidden, pixels), b2, row-major
// float32 little-endian in base64. Sums are accumulated in float64, so the result stays within about 1e-6
// of TensorFlow's float32 matmul: the rounded uint8 image differs by at most one grey level, where a value
// sits exactly on a rounding boundary.

function decodeFloat32(base64, expectedLength) {
  let bytes;
  if (typeof atob === "function") {
    const text = atob(base64);
    bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  } else {
    bytes = Uint8Array.from(Buffer.from(base64, "base64"));
  }
  if (bytes.length !== expectedLength * 4) {
    throw new Error(`expected ${expectedLength} float32 values, got ${bytes.length} bytes`);
  }
  // DataView reads little-endian whatever the machine's byte order; the copy is also 4-byte aligned.
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(expectedLength);
  for (let i = 0; i < expectedLength; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

// A payload from generator_payload(model) -> {latentDim, hidden, pixels, imageSize, hash, W1, b1, W2, b2}.
function decodeWeights(payload) {
  const shapes = payload.shapes;
  const [latentDim, hidden] = shapes.W1;
  const pixels = shapes.b2[0];
  if (shapes.b1[0] !== hidden || shapes.W2[0] !== hidden || shapes.W2[1] !== pixels) {
    throw new Error(`weight shapes do not chain: ${JSON.stringify(shapes)}`);
  }
  const arrays = payload.arrays;
  return {
    hash: payload.hash,
    latentDim,
    hidden,
    pixels,
    imageSize: payload.image_size,
    W1: decodeFloat32(arrays.W1, latentDim * hidden),
    b1: decodeFloat32(arrays.b1, hidden),
    W2: decodeFloat32(arrays.W2, hidden * pixels),
    b2: decodeFloat32(arrays.b2, pixels),
  };
}

function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

// G(z): Float32Array(pixels) in [0, 1]. `z` is any array-like of latentDim numbers.
function generate(weights, z) {
  const { latentDim, hidden, pixels, W1, b1, W2, b2 } = weights;
  if (z.length !== latentDim) throw new Error(`z has ${z.length} values; the generator takes ${latentDim}`);
  const h = new Float64Array(hidden);
  for (let j = 0; j < hidden; j++) h[j] = b1[j];
  // Row by row of W1 (and of W2 below): the inner loop walks memory in order.
  for (let i = 0; i < latentDim; i++) {
    const zi = +z[i];
    if (zi === 0) continue;
    const row = i * hidden;
    for (let j = 0; j < hidden; j++) h[j] += zi * W1[row + j];
  }
  const acc = new Float64Array(pixels);
  for (let k = 0; k < pixels; k++) acc[k] = b2[k];
  for (let j = 0; j < hidden; j++) {
    const hj = h[j];
    if (hj <= 0) continue; // ReLU: a dead unit adds nothing
    const row = j * pixels;
    for (let k = 0; k < pixels; k++) acc[k] += hj * W2[row + k];
  }
  const out = new Float32Array(pixels);
  for (let k = 0; k < pixels; k++) out[k] = sigmoid(acc[k]);
  return out;
}

// [0, 1] values -> grey levels 0..255, as gan_core.images.to_uint8 does (clip, scale, round).
function toGrey(values) {
  const out = new Uint8ClampedArray(values.length);
  for (let k = 0; k < values.length; k++) out[k] = Math.round(Math.min(1, Math.max(0, values[k])) * 255);
  return out;
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = { decodeFloat32, decodeWeights, generate, toGrey };
}
