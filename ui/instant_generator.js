// Every sampler of the family, computed in the browser or Node: the layers gan_core/browser_export.py sends.
//
// Layers, in order, on a flat Float64Array (feature maps height x width x channels, channels last as Keras):
//   dense {kernel (in, out), bias, activation}       batchnorm {gamma, beta, mean, variance, epsilon}
//   relu                                             reshape {shape}
//   conv2d_transpose {kernel (kh, kw, out, in), bias, strides, padding "same", activation}
// The input is z, with the label's one-hot joined on for a conditional GAN (payload.classes > 0). Arrays
// arrive row-major float32 little-endian in base64. Sums are accumulated in float64, so the result stays
// within about 1e-6 of TensorFlow's float32: the rounded uint8 image differs by at most one grey level, where a
// value sits exactly on a rounding boundary.

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

const product = (shape) => shape.reduce((a, b) => a * b, 1);

// A payload from generator_payload(model) -> {hash, latentDim, classes, imageSize, layers: [{op, ..., arrays}]}.
function decodeWeights(payload) {
  const layers = payload.layers.map((layer, index) => {
    const arrays = {};
    for (const [part, shape] of Object.entries(layer.shapes)) {
      arrays[part] = decodeFloat32(payload.arrays[`${index}.${part}`], product(shape));
    }
    return { ...layer, arrays };
  });
  return { hash: payload.hash, latentDim: payload.latent_dim, classes: payload.classes || 0,
    imageSize: payload.image_size, layers };
}

function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

function activate(values, activation) {
  if (activation === "sigmoid") for (let k = 0; k < values.length; k++) values[k] = sigmoid(values[k]);
  else if (activation === "relu") for (let k = 0; k < values.length; k++) values[k] = Math.max(0, values[k]);
  else if (activation !== "linear") throw new Error(`unknown activation ${activation}`);
  return values;
}

function dense(x, layer) {
  const [inputs, outputs] = layer.shapes.kernel;
  if (x.length !== inputs) throw new Error(`dense layer takes ${inputs} values, got ${x.length}`);
  const { kernel, bias } = layer.arrays;
  const out = new Float64Array(outputs);
  for (let j = 0; j < outputs; j++) out[j] = bias[j];
  // Row by row of the kernel: the inner loop walks memory in order.
  for (let i = 0; i < inputs; i++) {
    const xi = x[i];
    if (xi === 0) continue; // a zero input (a ReLU that is off, an unset one-hot) adds nothing
    const row = i * outputs;
    for (let j = 0; j < outputs; j++) out[j] += xi * kernel[row + j];
  }
  return activate(out, layer.activation);
}

// Keras's inference batch normalisation over the last axis: (x - mean) / sqrt(variance + epsilon) * gamma + beta.
function batchnorm(x, layer) {
  const { gamma, beta, mean, variance } = layer.arrays;
  const channels = gamma.length;
  const scale = new Float64Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = gamma[c] / Math.sqrt(variance[c] + layer.epsilon);
  for (let k = 0; k < x.length; k++) {
    const c = k % channels;
    x[k] = (x[k] - mean[c]) * scale[c] + beta[c];
  }
  return x;
}

// TensorFlow's conv2d_transpose (the gradient of a strided convolution), padding "same": output = input x
// strides; each input pixel spreads kernel-weighted into the output, shifted by the "same" padding's lead.
function conv2dTranspose(x, shape, layer) {
  const [height, width, inChannels] = shape;
  const [kh, kw, outChannels, kernelIn] = layer.shapes.kernel;
  if (kernelIn !== inChannels) throw new Error(`conv2d_transpose takes ${kernelIn} channels, got ${inChannels}`);
  if (layer.padding !== "same") throw new Error(`padding ${layer.padding} is not supported`);
  const s = layer.strides;
  const outHeight = height * s, outWidth = width * s;
  const padTop = Math.floor(Math.max(kh - s, 0) / 2), padLeft = Math.floor(Math.max(kw - s, 0) / 2);
  const { kernel, bias } = layer.arrays;
  const out = new Float64Array(outHeight * outWidth * outChannels);
  for (let p = 0; p < outHeight * outWidth; p++) for (let o = 0; o < outChannels; o++) out[p * outChannels + o] = bias[o];
  for (let iy = 0; iy < height; iy++) {
    for (let ix = 0; ix < width; ix++) {
      const input = (iy * width + ix) * inChannels;
      for (let ky = 0; ky < kh; ky++) {
        const oy = iy * s + ky - padTop;
        if (oy < 0 || oy >= outHeight) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ox = ix * s + kx - padLeft;
          if (ox < 0 || ox >= outWidth) continue;
          const target = (oy * outWidth + ox) * outChannels;
          const taps = (ky * kw + kx) * outChannels * inChannels; // kernel[ky][kx][o][c]
          for (let o = 0; o < outChannels; o++) {
            const row = taps + o * inChannels;
            let sum = 0;
            for (let c = 0; c < inChannels; c++) sum += x[input + c] * kernel[row + c];
            out[target + o] += sum;
          }
        }
      }
    }
  }
  return { values: activate(out, layer.activation), shape: [outHeight, outWidth, outChannels] };
}

// G(z) (or the decoder's picture): Float32Array(pixels) in [0, 1]. `z` is any array-like of latentDim numbers;
// `label` (0-9) is required for a conditional GAN and ignored otherwise.
function generate(weights, z, label) {
  const { latentDim, classes, layers } = weights;
  if (z.length !== latentDim) throw new Error(`z has ${z.length} values; the generator takes ${latentDim}`);
  let x = new Float64Array(latentDim + classes);
  for (let i = 0; i < latentDim; i++) x[i] = +z[i];
  if (classes) {
    const digit = Number(label);
    if (!Number.isInteger(digit) || digit < 0 || digit >= classes) throw new Error(`label must be 0-${classes - 1}`);
    x[latentDim + digit] = 1;
  }
  let shape = [x.length];
  for (const layer of layers) {
    if (layer.op === "dense") {
      x = dense(x, layer);
      shape = [x.length];
    } else if (layer.op === "batchnorm") {
      x = batchnorm(x, layer);
    } else if (layer.op === "relu") {
      x = activate(x, "relu");
    } else if (layer.op === "reshape") {
      if (product(layer.shape) !== x.length) throw new Error(`cannot reshape ${x.length} values to ${layer.shape}`);
      shape = layer.shape;
    } else if (layer.op === "conv2d_transpose") {
      ({ values: x, shape } = conv2dTranspose(x, shape, layer));
    } else {
      throw new Error(`unknown layer ${layer.op}`);
    }
  }
  return Float32Array.from(x);
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
