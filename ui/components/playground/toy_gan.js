// The 2-D GAN trained in the browser (or Node): small MLPs, hand-written backprop, Adam as Keras 3 does it.
//
// The reference is gan_core/toy_models.py (ToyGAN): the same networks (Dense layers, W of shape (in, out),
// row-major), the same losses (non_saturating, minimax, least_squares, hinge, wgan_gp), R1 on real points, the
// same Adam (epsilon 1e-7, bias correction folded into the step size), the same generator weight average with
// its warm-up. tests/test_playground_models.py runs one update of each loss here and in Keras from the same
// weights, points and noise and compares them. Why no TensorFlow.js: these networks are a few thousand weights,
// where plain loops over Float64Arrays run several times faster than tf.js's CPU backend (no per-op overhead)
// and add 30 kB to the page instead of 1.4 MB.
//
// R1 and the WGAN-GP penalty need the gradient of a function of D's input gradient with respect to D's
// weights (double backprop). For an MLP that is written out here: `inputGradient` is the backward pass for
// d(score)/dx, and `penaltyGradients` differentiates that backward pass, including the activations' second
// derivatives (zero for ReLU and leaky ReLU, as TensorFlow's, nonzero for tanh).

const LEAKY_SLOPE = 0.2;
const ADAM_EPSILON = 1e-7;
const LOGISTIC = new Set(["non_saturating", "minimax"]);

// ---- random numbers: seeded, so a run is repeatable -------------------------------------------
function makeRng(seed) {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare = null;
  const normal = () => {
    if (spare !== null) { const value = spare; spare = null; return value; }
    let u = 0;
    while (u === 0) u = uniform();
    const radius = Math.sqrt(-2 * Math.log(u)), angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { uniform, normal };
}

// ---- activations ------------------------------------------------------------------------------
const ACTIVATIONS = {
  relu: { f: (z) => (z > 0 ? z : 0), d1: (z) => (z > 0 ? 1 : 0), d2: () => 0 },
  leaky_relu: { f: (z) => (z > 0 ? z : LEAKY_SLOPE * z), d1: (z) => (z > 0 ? 1 : LEAKY_SLOPE), d2: () => 0 },
  tanh: {
    f: (z) => Math.tanh(z),
    d1: (z) => { const t = Math.tanh(z); return 1 - t * t; },
    d2: (z) => { const t = Math.tanh(z); return -2 * t * (1 - t * t); },
  },
};

// ---- networks ---------------------------------------------------------------------------------
// A network: {sizes: [in, h, ..., out], activation, W: Float64Array[], b: Float64Array[]}.
function makeNetwork(sizes, activation, rng) {
  const W = [], b = [];
  for (let l = 1; l < sizes.length; l++) {
    const fanIn = sizes[l - 1], fanOut = sizes[l], limit = Math.sqrt(6 / (fanIn + fanOut)); // Glorot uniform
    const w = new Float64Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * limit;
    W.push(w);
    b.push(new Float64Array(fanOut));
  }
  return { sizes: sizes.slice(), activation, W, b };
}

function cloneNetwork(net) {
  return { sizes: net.sizes.slice(), activation: net.activation, W: net.W.map((w) => w.slice()),
    b: net.b.map((v) => v.slice()) };
}

function zerosLike(net) {
  return { W: net.W.map((w) => new Float64Array(w.length)), b: net.b.map((v) => new Float64Array(v.length)) };
}

// ---- passes through a network -----------------------------------------------------------------
// A pass's buffers for `rows` points (its "cache"): zs[l] the pre-activations, as[l] the activations (as[0] the
// input), and for ReLU networks each hidden layer's active units row by row: active[l][r * size + k] for
// k < counts[l][r], the units with z > 0. Every other unit has activation and derivative zero, so the passes
// below visit only active units: about half of each hidden layer, a quarter of each hidden weight matrix. A sum
// that skips zero terms is the same sum in the same order, so the results are bit for bit those of plain loops
// (which the other activations run). The training step keeps one cache per use in the model and reuses it every
// step: a cache's buffers hold the last pass through it only.
function makeCache(net, rows) {
  const layers = net.W.length, sparse = net.activation === "relu";
  const cache = { rows, sizes: net.sizes.slice(), activation: net.activation, as: [null], zs: [null], active: [null],
    counts: [null], out: null, buffers: {} };
  for (let l = 1; l <= layers; l++) {
    const length = rows * net.sizes[l], hidden = l < layers, z = new Float64Array(length);
    cache.zs.push(z);
    cache.as.push(hidden ? new Float64Array(length) : z);
    cache.active.push(hidden && sparse ? new Int32Array(length) : null);
    cache.counts.push(hidden && sparse ? new Int32Array(rows) : null);
  }
  cache.out = cache.zs[layers];
  return cache;
}

function cacheFits(cache, net, rows) {
  return !!cache && cache.rows === rows && cache.activation === net.activation &&
    cache.sizes.length === net.sizes.length && cache.sizes.every((size, i) => size === net.sizes[i]);
}

// A cache's named scratch buffer, made on first use.
function scratch(cache, name, length) {
  let buffer = cache.buffers[name];
  if (!buffer || buffer.length !== length) buffer = cache.buffers[name] = new Float64Array(length);
  return buffer;
}

// The three products below are written for speed in V8 (the training step spends nearly all its time in them):
// over active units they take four at a time, so each pass over a row loads and stores a quarter as often. Every
// output still adds its terms one by one in order of the summed index, as a plain loop does.

// out (rows x outSize) = x (rows x inSize) times W (inSize x outSize) plus bias (none: 0), adding x's nonzero
// entries in order of i: a row's active units when xActive is given. With outActive, only a row's active outputs
// are computed and the others are 0.
function matmul(x, xActive, xCounts, rows, inSize, W, bias, outSize, out, outActive, outCounts) {
  if (outActive || !bias) out.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * outSize, xr = r * inSize, m = outActive ? outCounts[r] : outSize;
    if (bias) for (let j = 0; j < outSize; j++) out[o + j] = bias[j];
    if (!xActive) {
      for (let i = 0; i < inSize; i++) {
        const value = x[xr + i], w = i * outSize;
        if (value === 0) continue;
        if (outActive) for (let q = 0; q < m; q++) { const j = outActive[o + q]; out[o + j] += value * W[w + j]; }
        else for (let j = 0; j < outSize; j++) out[o + j] += value * W[w + j];
      }
      continue;
    }
    const n = xCounts[r];
    let k = 0;
    for (; k + 3 < n; k += 4) {
      const i0 = xActive[xr + k], i1 = xActive[xr + k + 1], i2 = xActive[xr + k + 2], i3 = xActive[xr + k + 3];
      const v0 = x[xr + i0], v1 = x[xr + i1], v2 = x[xr + i2], v3 = x[xr + i3];
      const w0 = i0 * outSize, w1 = i1 * outSize, w2 = i2 * outSize, w3 = i3 * outSize;
      if (outActive) {
        for (let q = 0; q < m; q++) {
          const j = outActive[o + q];
          out[o + j] = (((out[o + j] + v0 * W[w0 + j]) + v1 * W[w1 + j]) + v2 * W[w2 + j]) + v3 * W[w3 + j];
        }
      } else {
        for (let j = 0; j < outSize; j++) {
          out[o + j] = (((out[o + j] + v0 * W[w0 + j]) + v1 * W[w1 + j]) + v2 * W[w2 + j]) + v3 * W[w3 + j];
        }
      }
    }
    for (; k < n; k++) {
      const i = xActive[xr + k], value = x[xr + i], w = i * outSize;
      if (outActive) for (let q = 0; q < m; q++) { const j = outActive[o + q]; out[o + j] += value * W[w + j]; }
      else for (let j = 0; j < outSize; j++) out[o + j] += value * W[w + j];
    }
  }
}

// up (rows x inSize) = delta (rows x outSize) times W^T, summing over delta's active units (all without dActive);
// with upActive only a row's active units are computed and the others are 0.
function matmulBack(delta, dActive, dCounts, rows, outSize, W, inSize, up, upActive, upCounts) {
  if (upActive) up.fill(0);
  for (let r = 0; r < rows; r++) {
    const g = r * outSize, o = r * inSize, n = upActive ? upCounts[r] : inSize, m = dActive ? dCounts[r] : outSize;
    let k = 0;
    for (; k + 3 < n; k += 4) {
      const i0 = upActive ? upActive[o + k] : k, i1 = upActive ? upActive[o + k + 1] : k + 1;
      const i2 = upActive ? upActive[o + k + 2] : k + 2, i3 = upActive ? upActive[o + k + 3] : k + 3;
      const w0 = i0 * outSize, w1 = i1 * outSize, w2 = i2 * outSize, w3 = i3 * outSize;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      if (dActive) {
        for (let q = 0; q < m; q++) {
          const j = dActive[g + q], d = delta[g + j];
          s0 += d * W[w0 + j]; s1 += d * W[w1 + j]; s2 += d * W[w2 + j]; s3 += d * W[w3 + j];
        }
      } else {
        for (let j = 0; j < outSize; j++) {
          const d = delta[g + j];
          s0 += d * W[w0 + j]; s1 += d * W[w1 + j]; s2 += d * W[w2 + j]; s3 += d * W[w3 + j];
        }
      }
      up[o + i0] = s0; up[o + i1] = s1; up[o + i2] = s2; up[o + i3] = s3;
    }
    for (; k < n; k++) {
      const i = upActive ? upActive[o + k] : k, w = i * outSize;
      let sum = 0;
      if (dActive) for (let q = 0; q < m; q++) { const j = dActive[g + q]; sum += delta[g + j] * W[w + j]; }
      else for (let j = 0; j < outSize; j++) sum += delta[g + j] * W[w + j];
      up[o + i] = sum;
    }
  }
}

// target (inSize x outSize) += left^T right (left rows x inSize, right rows x outSize), over active units, row by
// row (each target entry adds its rows' terms in order of r).
function addOuter(target, left, lActive, lCounts, right, rActive, rCounts, rows, inSize, outSize) {
  for (let r = 0; r < rows; r++) {
    const x = r * inSize, g = r * outSize, m = rActive ? rCounts[r] : outSize;
    if (!lActive) {
      for (let i = 0; i < inSize; i++) {
        const value = left[x + i], w = i * outSize;
        if (value === 0) continue;
        if (rActive) for (let q = 0; q < m; q++) { const j = rActive[g + q]; target[w + j] += value * right[g + j]; }
        else for (let j = 0; j < outSize; j++) target[w + j] += value * right[g + j];
      }
      continue;
    }
    const n = lCounts[r];
    let k = 0;
    for (; k + 3 < n; k += 4) {
      const i0 = lActive[x + k], i1 = lActive[x + k + 1], i2 = lActive[x + k + 2], i3 = lActive[x + k + 3];
      const v0 = left[x + i0], v1 = left[x + i1], v2 = left[x + i2], v3 = left[x + i3];
      const w0 = i0 * outSize, w1 = i1 * outSize, w2 = i2 * outSize, w3 = i3 * outSize;
      if (rActive) {
        for (let q = 0; q < m; q++) {
          const j = rActive[g + q], value = right[g + j];
          target[w0 + j] += v0 * value; target[w1 + j] += v1 * value;
          target[w2 + j] += v2 * value; target[w3 + j] += v3 * value;
        }
      } else {
        for (let j = 0; j < outSize; j++) {
          const value = right[g + j];
          target[w0 + j] += v0 * value; target[w1 + j] += v1 * value;
          target[w2 + j] += v2 * value; target[w3 + j] += v3 * value;
        }
      }
    }
    for (; k < n; k++) {
      const i = lActive[x + k], value = left[x + i], w = i * outSize;
      if (rActive) for (let q = 0; q < m; q++) { const j = rActive[g + q]; target[w + j] += value * right[g + j]; }
      else for (let j = 0; j < outSize; j++) target[w + j] += value * right[g + j];
    }
  }
}

function addColumnSums(target, grad, active, counts, rows, size) {
  for (let r = 0; r < rows; r++) {
    const g = r * size;
    if (active) {
      for (let q = 0, m = counts[r]; q < m; q++) { const j = active[g + q]; target[j] += grad[g + j]; }
    } else {
      for (let j = 0; j < size; j++) target[j] += grad[g + j];
    }
  }
}

// Forward pass of `rows` points through `cache` (a new one when it does not fit): every pre-activation and
// activation, and for ReLU the active units. Returns the cache ({as, zs, out, rows, ...}).
function forward(net, input, rows, cache) {
  if (!cacheFits(cache, net, rows)) cache = makeCache(net, rows);
  const layers = net.W.length, f = ACTIVATIONS[net.activation].f;
  cache.as[0] = input;
  for (let l = 1; l <= layers; l++) {
    const outSize = net.sizes[l], z = cache.zs[l];
    matmul(cache.as[l - 1], cache.active[l - 1], cache.counts[l - 1], rows, net.sizes[l - 1], net.W[l - 1],
      net.b[l - 1], outSize, z, null, null);
    if (l === layers) break;
    const a = cache.as[l], active = cache.active[l], counts = cache.counts[l];
    if (active) {
      for (let r = 0; r < rows; r++) {
        const o = r * outSize;
        let n = 0;
        for (let j = 0; j < outSize; j++) {
          const value = z[o + j];
          if (value > 0) { a[o + j] = value; active[o + n] = j; n += 1; } else a[o + j] = 0;
        }
        counts[r] = n;
      }
    } else {
      for (let i = 0; i < z.length; i++) a[i] = f(z[i]);
    }
  }
  return cache;
}

function predict(net, input, rows, cache) {
  return forward(net, input, rows, cache).out;
}

// Backprop of dOut (rows x out) through a cached forward pass: weight gradients (added to `grads` when
// given) and the gradient with respect to the input (a buffer of the cache).
function backward(net, cache, dOut, grads) {
  const act = ACTIVATIONS[net.activation], layers = net.W.length, rows = cache.rows;
  let delta = dOut, dActive = null, dCounts = null;
  for (let l = layers; l >= 1; l--) {
    const inSize = net.sizes[l - 1], outSize = net.sizes[l];
    const inActive = cache.active[l - 1], inCounts = cache.counts[l - 1];
    if (grads) {
      addOuter(grads.W[l - 1], cache.as[l - 1], inActive, inCounts, delta, dActive, dCounts, rows, inSize, outSize);
      addColumnSums(grads.b[l - 1], delta, dActive, dCounts, rows, outSize);
    }
    const upstream = scratch(cache, `back${l - 1}`, rows * inSize);
    matmulBack(delta, dActive, dCounts, rows, outSize, net.W[l - 1], inSize, upstream, inActive, inCounts);
    if (l > 1 && !inActive) { // ReLU's derivative is 1 on the active units, which are all matmulBack computed
      const z = cache.zs[l - 1];
      for (let i = 0; i < upstream.length; i++) upstream[i] *= act.d1(z[i]);
    }
    delta = upstream; dActive = inActive; dCounts = inCounts;
  }
  return delta;
}

// d(sum of D's scores)/dx at each point, with the intermediate deltas that penaltyGradients differentiates
// (errors: the deltas before the activation's derivative; for ReLU, on the active units only).
function inputGradient(net, cache) {
  const act = ACTIVATIONS[net.activation], layers = net.W.length, rows = cache.rows;
  const deltas = new Array(layers + 1), errors = new Array(layers + 1);
  deltas[layers] = scratch(cache, "ones", rows * net.sizes[layers]).fill(1);
  for (let l = layers; l >= 1; l--) {
    const inSize = net.sizes[l - 1], outSize = net.sizes[l], inActive = cache.active[l - 1];
    const e = (errors[l - 1] = scratch(cache, `error${l - 1}`, rows * inSize));
    matmulBack(deltas[l], cache.active[l], cache.counts[l], rows, outSize, net.W[l - 1], inSize, e, inActive,
      cache.counts[l - 1]);
    if (l === 1) break;
    if (inActive) { deltas[l - 1] = e; continue; } // ReLU: times 1 on the active units
    const z = cache.zs[l - 1], d = (deltas[l - 1] = scratch(cache, `delta${l - 1}`, e.length));
    for (let i = 0; i < e.length; i++) d[i] = e[i] * act.d1(z[i]);
  }
  return { g: errors[0], deltas, errors };
}

// Given dP/dg for the input gradients g of inputGradient, add dP/dweights to grads (double backprop).
function penaltyGradients(net, cache, inputGrad, dG, grads) {
  const act = ACTIVATIONS[net.activation], layers = net.W.length, rows = cache.rows;
  const injected = new Array(layers + 1).fill(null);
  let errorBar = dG, eActive = null, eCounts = null; // dP/dE_{l-1}
  for (let l = 1; l <= layers; l++) {
    const inSize = net.sizes[l - 1], outSize = net.sizes[l], dActive = cache.active[l], dCounts = cache.counts[l];
    // E_{l-1} = delta_l W_l^T
    addOuter(grads.W[l - 1], errorBar, eActive, eCounts, inputGrad.deltas[l], dActive, dCounts, rows, inSize, outSize);
    if (l === layers) break;
    const deltaBar = scratch(cache, `deltaBar${l}`, rows * outSize);
    matmul(errorBar, eActive, eCounts, rows, inSize, net.W[l - 1], null, outSize, deltaBar, dActive, dCounts);
    // delta_l = E_l * act'(Z_l): for ReLU, deltaBar on the active units (act' = 1; act'' = 0)
    if (dActive) { errorBar = deltaBar; eActive = dActive; eCounts = dCounts; continue; }
    const z = cache.zs[l], e = inputGrad.errors[l];
    const nextErrorBar = scratch(cache, `errorBar${l}`, deltaBar.length);
    const inject = (injected[l] = scratch(cache, `inject${l}`, deltaBar.length));
    for (let i = 0; i < deltaBar.length; i++) {
      nextErrorBar[i] = deltaBar[i] * act.d1(z[i]);
      inject[i] = deltaBar[i] * e[i] * act.d2(z[i]);
    }
    errorBar = nextErrorBar;
  }
  // The second derivatives enter the forward pass at each hidden pre-activation: backprop them to the weights.
  // ReLU and leaky ReLU have none (zero almost everywhere, as TensorFlow's gradient of their gradient).
  if (net.activation !== "tanh") return;
  let zBar = null;
  for (let l = layers - 1; l >= 1; l--) {
    const size = net.sizes[l], next = net.sizes[l + 1];
    let total = injected[l];
    if (zBar !== null) {
      const aBar = scratch(cache, `aBar${l}`, rows * size);
      matmulBack(zBar, null, null, rows, next, net.W[l], size, aBar, null, null);
      const z = cache.zs[l], sum = scratch(cache, `total${l}`, rows * size);
      for (let i = 0; i < sum.length; i++) sum[i] = total[i] + aBar[i] * act.d1(z[i]);
      total = sum;
      addOuter(grads.W[l], cache.as[l], null, null, zBar, null, null, rows, size, next);
      addColumnSums(grads.b[l], zBar, null, null, rows, next);
    }
    zBar = total;
  }
  if (zBar !== null) {
    addOuter(grads.W[0], cache.as[0], null, null, zBar, null, null, rows, net.sizes[0], net.sizes[1]);
    addColumnSums(grads.b[0], zBar, null, null, rows, net.sizes[1]);
  }
}

// ---- losses on logits: value and d(loss)/d(logit) ----------------------------------------------
const sigmoid = (s) => (s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s)));
const bce = (target, s) => Math.max(s, 0) - s * target + Math.log1p(Math.exp(-Math.abs(s)));

function realTerm(loss, logits, smoothing) {
  const n = logits.length, grad = new Float64Array(n);
  let value = 0;
  for (let k = 0; k < n; k++) {
    const s = logits[k];
    if (LOGISTIC.has(loss)) { value += bce(1 - smoothing, s); grad[k] = (sigmoid(s) - (1 - smoothing)) / n; }
    else if (loss === "least_squares") { value += 0.5 * (s - 1) * (s - 1); grad[k] = (s - 1) / n; }
    else if (loss === "hinge") { value += Math.max(0, 1 - s); grad[k] = 1 - s > 0 ? -1 / n : 0; }
    else { value -= s; grad[k] = -1 / n; }
  }
  return { value: value / n, grad };
}

function fakeTermD(loss, logits) {
  const n = logits.length, grad = new Float64Array(n);
  let value = 0;
  for (let k = 0; k < n; k++) {
    const s = logits[k];
    if (LOGISTIC.has(loss)) { value += bce(0, s); grad[k] = sigmoid(s) / n; }
    else if (loss === "least_squares") { value += 0.5 * s * s; grad[k] = s / n; }
    else if (loss === "hinge") { value += Math.max(0, 1 + s); grad[k] = 1 + s > 0 ? 1 / n : 0; }
    else { value += s; grad[k] = 1 / n; }
  }
  return { value: value / n, grad };
}

function generatorTerm(loss, logits) {
  const n = logits.length, grad = new Float64Array(n);
  let value = 0;
  for (let k = 0; k < n; k++) {
    const s = logits[k];
    if (loss === "minimax") { value -= bce(0, s); grad[k] = -sigmoid(s) / n; }
    else if (loss === "least_squares") { value += 0.5 * (s - 1) * (s - 1); grad[k] = (s - 1) / n; }
    else if (loss === "hinge" || loss === "wgan_gp") { value -= s; grad[k] = -1 / n; }
    else { value += bce(1, s); grad[k] = (sigmoid(s) - 1) / n; }
  }
  return { value: value / n, grad };
}

function meanScore(loss, logits) {
  let sum = 0;
  for (const s of logits) sum += LOGISTIC.has(loss) ? sigmoid(s) : s;
  return sum / logits.length;
}

// ---- the learning-rate schedule, as gan_core.toy.learning_rate_at ------------------------------
// Constant for lr_decay_start updates, then halved every lr_half_life updates (lr_half_life 0: constant).
// `step` counts an optimizer's updates before this one (Keras's optimizer.iterations); D's count is divided by
// d_steps (whole steps), so both networks' rates fall together.
function learningRateAt(base, step, config, perStep = 1) {
  if (!(config.lr_half_life > 0)) return base;
  const past = Math.floor(step / perStep) - (config.lr_decay_start || 0);
  return past <= 0 ? base : base * Math.pow(0.5, past / config.lr_half_life);
}

// ---- Adam, as keras.optimizers.Adam ------------------------------------------------------------
function makeAdam(net) {
  return { m: zerosLike(net), v: zerosLike(net), iterations: 0 };
}

function adamApply(adam, net, grads, lr, beta1, beta2) {
  adam.iterations += 1;
  const t = adam.iterations;
  const alpha = lr * Math.sqrt(1 - Math.pow(beta2, t)) / (1 - Math.pow(beta1, t));
  const groups = [[net.W, grads.W, adam.m.W, adam.v.W], [net.b, grads.b, adam.m.b, adam.v.b]];
  for (const [params, gradients, ms, vs] of groups) {
    for (let p = 0; p < params.length; p++) {
      const w = params[p], g = gradients[p], m = ms[p], v = vs[p];
      for (let i = 0; i < w.length; i++) {
        m[i] += (g[i] - m[i]) * (1 - beta1);
        v[i] += (g[i] * g[i] - v[i]) * (1 - beta2);
        w[i] -= alpha * m[i] / (Math.sqrt(v[i]) + ADAM_EPSILON);
      }
    }
  }
}

// ---- the model ---------------------------------------------------------------------------------
// config: the fields of gan_core.toy.ToyConfig (snake_case, as Python sends them).
function makeModel(config, rng) {
  const hidden = new Array(config.depth).fill(config.hidden_units);
  const G = makeNetwork([config.latent_dim, ...hidden, 2], config.activation, rng);
  const D = makeNetwork([2, ...hidden, 1], config.activation, rng);
  return { config: { ...config }, G, D, Gema: config.ema_decay > 0 ? cloneNetwork(G) : null,
    adamD: makeAdam(D), adamG: makeAdam(G), caches: {}, grads: {} };
}

// The model's cache for one use in the training step (see makeCache), remade when the batch size changed.
function cacheFor(model, name, net, rows) {
  if (!model.caches) model.caches = {};
  let cache = model.caches[name];
  if (!cacheFits(cache, net, rows)) cache = model.caches[name] = makeCache(net, rows);
  return cache;
}

// A network's gradient buffers, zeroed: made once per model.
function zeroGrads(model, name, net) {
  if (!model.grads) model.grads = {};
  let grads = model.grads[name];
  if (!grads || grads.W.some((w, l) => w.length !== net.W[l].length)) return (model.grads[name] = zerosLike(net));
  for (const w of grads.W) w.fill(0);
  for (const v of grads.b) v.fill(0);
  return grads;
}

// D's loss on one batch; adds its weight gradients to `grads`. mix: (rows) weights for WGAN-GP's x_hat.
function discriminatorLoss(model, real, fake, rows, mix, grads) {
  const { config, D } = model;
  const loss = config.loss, smoothing = LOGISTIC.has(loss) ? config.label_smoothing : 0;
  const realCache = forward(D, real, rows, cacheFor(model, "dReal", D, rows));
  const fakeCache = forward(D, fake, rows, cacheFor(model, "dFake", D, rows));
  const realPart = realTerm(loss, realCache.out, smoothing), fakePart = fakeTermD(loss, fakeCache.out);
  backward(D, realCache, realPart.grad, grads);
  backward(D, fakeCache, fakePart.grad, grads);
  let value = realPart.value + fakePart.value;
  if (loss === "wgan_gp") {
    const between = new Float64Array(rows * 2);
    for (let k = 0; k < rows; k++) for (let c = 0; c < 2; c++) {
      between[2 * k + c] = mix[k] * real[2 * k + c] + (1 - mix[k]) * fake[2 * k + c];
    }
    const cache = forward(D, between, rows, cacheFor(model, "dBetween", D, rows)), ig = inputGradient(D, cache), dG = new Float64Array(rows * 2);
    let penalty = 0;
    for (let k = 0; k < rows; k++) {
      const gx = ig.g[2 * k], gy = ig.g[2 * k + 1], norm = Math.sqrt(gx * gx + gy * gy + 1e-12);
      penalty += (norm - 1) * (norm - 1);
      const scale = (config.gp_weight * 2 * (norm - 1)) / norm / rows;
      dG[2 * k] = scale * gx;
      dG[2 * k + 1] = scale * gy;
    }
    penaltyGradients(D, cache, ig, dG, grads);
    value += (config.gp_weight * penalty) / rows;
  } else if (config.r1_gamma > 0) {
    const ig = inputGradient(D, realCache), dG = new Float64Array(rows * 2);
    let penalty = 0;
    for (let i = 0; i < rows * 2; i++) { penalty += ig.g[i] * ig.g[i]; dG[i] = (config.r1_gamma * ig.g[i]) / rows; }
    penaltyGradients(D, realCache, ig, dG, grads);
    value += (0.5 * config.r1_gamma * penalty) / rows;
  }
  return { value, realLogits: realCache.out, fakeLogits: fakeCache.out };
}

// G's loss on one noise batch; adds G's weight gradients to `grads` when given. Returns the fake points and
// d(loss)/d(point) (the gradient arrows point along its negative), in the model's buffers: valid until its next
// update.
function generatorLoss(model, noise, rows, grads) {
  const { config, G, D } = model;
  const gCache = forward(G, noise, rows, cacheFor(model, "gNoise", G, rows));
  const dCache = forward(D, gCache.out, rows, cacheFor(model, "dGenerated", D, rows));
  const term = generatorTerm(config.loss, dCache.out);
  const dPoints = backward(D, dCache, term.grad, null);
  if (grads) backward(G, gCache, dPoints, grads);
  return { value: term.value, fake: gCache.out, dPoints, logits: dCache.out };
}

function averageGenerator(model) {
  if (!model.Gema) return;
  const t = model.adamG.iterations;
  const decay = Math.min(model.config.ema_decay, (1 + t) / (10 + t));
  const pairs = [[model.Gema.W, model.G.W], [model.Gema.b, model.G.b]];
  for (const [averages, currents] of pairs) {
    for (let p = 0; p < averages.length; p++) {
      const a = averages[p], c = currents[p];
      for (let i = 0; i < a.length; i++) a[i] = decay * a[i] + (1 - decay) * c[i];
    }
  }
}

// One discriminator update (the `index`-th of d_steps) from given points and noise.
function updateDiscriminator(model, real, noise, rows, mix) {
  const fake = predict(model.G, noise, rows, cacheFor(model, "gFake", model.G, rows));
  const grads = zeroGrads(model, "D", model.D);
  const result = discriminatorLoss(model, real, fake, rows, mix, grads);
  const c = model.config;
  const lr = learningRateAt(c.d_learning_rate, model.adamD.iterations, c, c.d_steps);
  adamApply(model.adamD, model.D, grads, lr, c.beta1, c.beta2);
  return { d_loss: result.value, d_real: meanScore(c.loss, result.realLogits), d_fake: meanScore(c.loss, result.fakeLogits) };
}

function updateGenerator(model, noise, rows) {
  const grads = zeroGrads(model, "G", model.G);
  const result = generatorLoss(model, noise, rows, grads);
  const c = model.config;
  const lr = learningRateAt(c.g_learning_rate, model.adamG.iterations, c);
  adamApply(model.adamG, model.G, grads, lr, c.beta1, c.beta2);
  averageGenerator(model);
  return { g_loss: result.value };
}

// One full update, as ToyGAN.update: realBatches[i], dNoises[i], mixes[i] for each of d_steps, then gNoise.
function update(model, realBatches, dNoises, gNoise, mixes, rows, trainD = true, trainG = true) {
  let dResult = { d_loss: 0, d_real: 0, d_fake: 0 };
  for (let i = 0; i < model.config.d_steps; i++) {
    if (trainD) dResult = updateDiscriminator(model, realBatches[i], dNoises[i], rows, mixes[i]);
  }
  const gResult = trainG ? updateGenerator(model, gNoise, rows) : { g_loss: generatorLoss(model, gNoise, rows, null).value };
  return { ...dResult, ...gResult };
}

// ---- data: the presets of gan_core/toy.py ------------------------------------------------------
const RING_RADIUS = 2, RING_STD = 0.02, GRID_STD = 0.05, DRAWN_NOISE_STD = 0.03;

function modeCentres(dataset) {
  if (dataset === "ring8") {
    return Array.from({ length: 8 }, (_, k) => [RING_RADIUS * Math.cos((2 * Math.PI * k) / 8),
      RING_RADIUS * Math.sin((2 * Math.PI * k) / 8)]);
  }
  if (dataset === "grid25") {
    const out = [];
    for (const x of [-4, -2, 0, 2, 4]) for (const y of [-4, -2, 0, 2, 4]) out.push([x, y]);
    return out;
  }
  return null;
}

function modeStd(dataset) {
  return dataset === "ring8" ? RING_STD : GRID_STD;
}

function samplePoints(dataset, rows, rng, drawn) {
  const out = new Float64Array(rows * 2);
  const centres = modeCentres(dataset);
  for (let k = 0; k < rows; k++) {
    let x, y;
    if (centres) {
      const c = centres[Math.floor(rng.uniform() * centres.length)], std = modeStd(dataset);
      x = c[0] + std * rng.normal(); y = c[1] + std * rng.normal();
    } else if (dataset === "moons") {
      const t = Math.PI * rng.uniform();
      if (rng.uniform() < 0.5) { x = Math.cos(t) - 0.5; y = Math.sin(t) - 0.25; }
      else { x = 1 - Math.cos(t) - 0.5; y = 0.5 - Math.sin(t) - 0.25; }
      x = x * 1.2 + 0.05 * rng.normal(); y = y * 1.2 + 0.05 * rng.normal();
    } else if (dataset === "spiral") {
      const t = Math.sqrt(0.05 + 0.95 * rng.uniform()) * 3 * Math.PI;
      x = (t * Math.cos(t)) / (3 * Math.PI) * 2 + 0.04 * rng.normal();
      y = (t * Math.sin(t)) / (3 * Math.PI) * 2 + 0.04 * rng.normal();
    } else if (dataset === "line") {
      const t = -1.5 + 3 * rng.uniform();
      x = t + 0.03 * rng.normal(); y = 0.5 * t + 0.03 * rng.normal();
    } else if (dataset === "drawn" && drawn && drawn.length) {
      const p = drawn[Math.floor(rng.uniform() * drawn.length)];
      x = p[0] + DRAWN_NOISE_STD * rng.normal(); y = p[1] + DRAWN_NOISE_STD * rng.normal();
    } else {
      x = 0; y = 0;
    }
    out[2 * k] = x; out[2 * k + 1] = y;
  }
  return out;
}

function normals(rows, dims, rng) {
  const out = new Float64Array(rows * dims);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

// ---- scores, as gan_core/toy.py counts them ----------------------------------------------------
function modeScores(points, rows, dataset) {
  const centres = modeCentres(dataset), limit = 3 * modeStd(dataset);
  const counts = new Array(centres.length).fill(0);
  let good = 0;
  for (let k = 0; k < rows; k++) {
    let best = Infinity, which = 0;
    for (let c = 0; c < centres.length; c++) {
      const dx = points[2 * k] - centres[c][0], dy = points[2 * k + 1] - centres[c][1];
      const d = dx * dx + dy * dy;
      if (d < best) { best = d; which = c; }
    }
    if (Math.sqrt(best) <= limit) { good += 1; counts[which] += 1; }
  }
  const needed = Math.max(1, Math.ceil((20 * rows) / 2500));
  return { modes_covered: counts.filter((n) => n >= needed).length, modes_total: centres.length,
    high_quality: good / rows, mode_counts: counts };
}

function jsDivergence(real, realRows, fake, fakeRows, extent, cells = 40) {
  const histogram = (points, rows) => {
    const h = new Float64Array(cells * cells);
    for (let k = 0; k < rows; k++) {
      const i = Math.floor(((points[2 * k] + extent) / (2 * extent)) * cells);
      const j = Math.floor(((points[2 * k + 1] + extent) / (2 * extent)) * cells);
      if (i >= 0 && i < cells && j >= 0 && j < cells) h[i * cells + j] += 1;
    }
    let total = 0;
    for (let i = 0; i < h.length; i++) { h[i] += 1e-6; total += h[i]; }
    for (let i = 0; i < h.length; i++) h[i] /= total;
    return h;
  };
  const p = histogram(real, realRows), q = histogram(fake, fakeRows);
  let js = 0, kl = 0;
  for (let i = 0; i < p.length; i++) {
    const m = 0.5 * (p[i] + q[i]);
    js += 0.5 * p[i] * Math.log(p[i] / m) + 0.5 * q[i] * Math.log(q[i] / m);
    kl += p[i] * Math.log(p[i] / q[i]);
  }
  return { js, kl };
}

// ---- weights in and out (for the agreement test) -----------------------------------------------
function setWeights(net, arrays) {
  for (let l = 0; l < net.W.length; l++) {
    net.W[l] = Float64Array.from(arrays[2 * l].flat());
    net.b[l] = Float64Array.from(arrays[2 * l + 1]);
  }
}

function getWeights(net) {
  const out = [];
  for (let l = 0; l < net.W.length; l++) { out.push(Array.from(net.W[l])); out.push(Array.from(net.b[l])); }
  return out;
}

// ---- weights on the wire (presenter mode; gan_core/toy_share.py checks them) ---------------------
// One network as base64 of little-endian float32: every layer's W (row-major), then its b, in order.
function encodeWeights(net) {
  let count = 0;
  for (let l = 0; l < net.W.length; l++) count += net.W[l].length + net.b[l].length;
  const values = new Float32Array(count);
  let at = 0;
  for (let l = 0; l < net.W.length; l++) { values.set(net.W[l], at); at += net.W[l].length; values.set(net.b[l], at); at += net.b[l].length; }
  const bytes = new Uint8Array(values.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

// Loads encodeWeights' output into a network of the same sizes; false (and the network untouched) otherwise.
function decodeWeights(net, encoded) {
  const binary = atob(encoded), bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const values = new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
  let count = 0;
  for (let l = 0; l < net.W.length; l++) count += net.W[l].length + net.b[l].length;
  if (values.length !== count) return false;
  let at = 0;
  for (let l = 0; l < net.W.length; l++) {
    net.W[l] = Float64Array.from(values.subarray(at, at + net.W[l].length)); at += net.W[l].length;
    net.b[l] = Float64Array.from(values.subarray(at, at + net.b[l].length)); at += net.b[l].length;
  }
  return true;
}

const generatorTermFor = (loss, logits) => generatorTerm(loss, logits).grad;

const ToyGan = { generatorTermFor, makeRng, makeNetwork, cloneNetwork, forward, predict, backward, inputGradient, makeModel,
  discriminatorLoss, generatorLoss, updateDiscriminator, updateGenerator, update, learningRateAt, samplePoints, normals,
  modeCentres, modeStd, modeScores, jsDivergence, setWeights, getWeights, encodeWeights, decodeWeights, meanScore, sigmoid, LOGISTIC };

if (typeof module !== "undefined" && module.exports) module.exports = ToyGan;
