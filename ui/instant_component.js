// The instant-mode component (Streamlit components v2): latent sliders and a canvas redrawn in the browser.
// ui/instant.py puts ui/instant_generator.js (decodeWeights, generate, toGrey) in front of this file.
//
// Streamlit calls the default export on mount and again whenever `data` changes, with the same
// parentElement, so the view is built once per parentElement and then only updated.
// data = {generator: {hash, layers, arrays?}, z: number[], dims: number[], range, step, size, label: 0-9 | null}
// Back to Python: state "weights_hash" once the weights of that hash are decoded here; state "released"
// ({seq, z}: the whole z) when a slider is let go; trigger "missing_weights" (a hash) when data names
// weights this page does not hold, so Python sends the arrays again.

// Shared by every instance on the page, and across re-imports of this module: hash -> decoded weights.
const WEIGHTS = (globalThis.__ganLabInstantWeights ??= new Map());
const KEEP_WEIGHTS = 4; // a few recent hashes: a training run makes a new one every snapshot
const VIEWS = new WeakMap();
const FPS_WINDOW_MS = 1000;

function rememberWeights(weights) {
  WEIGHTS.delete(weights.hash);
  WEIGHTS.set(weights.hash, weights);
  while (WEIGHTS.size > KEEP_WEIGHTS) WEIGHTS.delete(WEIGHTS.keys().next().value);
}

function sameZ(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-6) return false;
  return true;
}

class InstantView {
  constructor(root) {
    this.root = root;
    this.canvas = root.querySelector(".instant-canvas");
    this.slidersBox = root.querySelector(".instant-sliders");
    this.fpsBox = root.querySelector(".instant-fps");
    this.statusBox = root.querySelector(".instant-status");
    this.small = document.createElement("canvas"); // the 28x28 image, scaled up onto `canvas`
    this.weights = null;
    this.z = null;
    this.lastServerZ = null;
    this.reportedZ = []; // z values this view sent: when they come back from Python they are echoes
    this.dims = [];
    this.frameRequested = false;
    this.drawTimes = [];
    this.draws = 0;
    this.reportedHash = null;
    this.generation = 0;
    this.instanceId = Math.random().toString(36).slice(2, 10);
    this.releases = 0;
    this.onInput = (event) => this.handleInput(event);
    this.onChange = (event) => this.handleChange(event);
    this.slidersBox.addEventListener("input", this.onInput);
    this.slidersBox.addEventListener("change", this.onChange);
  }

  update(data, setStateValue, setTriggerValue) {
    this.setStateValue = setStateValue;
    this.setTriggerValue = setTriggerValue;
    this.range = Number(data.range);
    this.step = Number(data.step);
    this.resize(Number(data.size));
    this.label = data.label ?? null; // a conditional GAN's digit; the other models take none
    this.useWeights(data.generator);
    this.useZ(data.z.map(Number));
    this.useDims(data.dims.map(Number));
    this.requestDraw();
  }

  useWeights(generator) {
    let weights = WEIGHTS.get(generator.hash);
    if (!weights && generator.arrays) {
      weights = decodeWeights(generator);
      rememberWeights(weights);
    }
    if (!weights) {
      this.weights = null;
      this.root.dataset.state = "waiting";
      this.statusBox.textContent = "Loading the generator's weights...";
      this.setTriggerValue("missing_weights", generator.hash);
      return;
    }
    this.weights = weights;
    this.root.dataset.state = "ready";
    this.root.dataset.hash = weights.hash;
    this.statusBox.textContent = "";
    // Python sends the arrays until it hears that this page holds them.
    if (generator.arrays && this.reportedHash !== weights.hash) {
      this.reportedHash = weights.hash;
      this.setStateValue("weights_hash", weights.hash);
    }
  }

  useZ(serverZ) {
    const changedOnServer = !sameZ(serverZ, this.lastServerZ);
    this.lastServerZ = serverZ;
    const echo = this.reportedZ.some((reported) => sameZ(reported, serverZ));
    // A new z from the server (seed, new random z, reset) replaces the sliders; an echo of one we sent
    // is older than what the sliders show now, so it is ignored.
    if (this.z === null || this.z.length !== serverZ.length || (changedOnServer && !echo)) {
      this.z = Float64Array.from(serverZ);
      this.reportedZ = [];
      this.syncSliders();
    }
  }

  useDims(dims) {
    const same = dims.length === this.dims.length && dims.every((dim, i) => dim === this.dims[i]);
    if (same && this.slidersBox.childElementCount === dims.length) {
      this.syncSliders();
      return;
    }
    this.dims = dims;
    this.slidersBox.replaceChildren(...dims.map((dim) => this.makeSlider(dim)));
    this.syncSliders();
  }

  makeSlider(dim) {
    const row = document.createElement("label");
    row.className = "instant-slider";
    row.dataset.dim = String(dim);
    const name = document.createElement("span");
    name.className = "instant-slider-label";
    name.textContent = `z[${dim}]`;
    const input = document.createElement("input");
    input.type = "range";
    input.className = "instant-slider-input";
    input.dataset.dim = String(dim);
    input.setAttribute("data-testid", `instant-slider-${dim}`);
    input.setAttribute("aria-label", `z[${dim}]`);
    input.min = String(-this.range);
    input.max = String(this.range);
    input.step = String(this.step);
    const value = document.createElement("output");
    value.className = "instant-slider-value";
    value.setAttribute("data-testid", `instant-slider-value-${dim}`);
    row.append(name, input, value);
    return row;
  }

  syncSliders() {
    for (const input of this.slidersBox.querySelectorAll("input")) {
      const dim = Number(input.dataset.dim);
      const value = Math.max(-this.range, Math.min(this.range, this.z[dim]));
      input.min = String(-this.range);
      input.max = String(this.range);
      input.step = String(this.step);
      input.value = String(value);
      input.nextElementSibling.textContent = this.z[dim].toFixed(2);
    }
  }

  handleInput(event) {
    const input = event.target;
    if (!input.classList || !input.classList.contains("instant-slider-input")) return;
    const dim = Number(input.dataset.dim);
    this.z[dim] = Number(input.value);
    input.nextElementSibling.textContent = this.z[dim].toFixed(2);
    this.requestDraw();
  }

  handleChange(event) {
    // `change` on a range input fires when it is let go (or stepped with a key): tell Python once. A state
    // value, not a trigger, so that an interrupted rerun cannot lose it; the sequence id tells releases apart.
    if (!event.target.classList || !event.target.classList.contains("instant-slider-input")) return;
    const z = Array.from(this.z);
    this.releases += 1;
    this.reportedZ = [...this.reportedZ.slice(-3), z];
    this.setStateValue("released", { seq: `${this.instanceId}-${this.releases}`, z });
  }

  requestDraw() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    this.frame = requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  resize(size) {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.style.width = `${size}px`;
    this.canvas.style.height = `${size}px`;
    const pixels = Math.round(size * ratio);
    if (this.canvas.width !== pixels) this.canvas.width = pixels;
    if (this.canvas.height !== pixels) this.canvas.height = pixels;
  }

  draw() {
    if (!this.weights || !this.z) return;
    const started = performance.now();
    const side = this.weights.imageSize;
    const grey = toGrey(generate(this.weights, this.z, this.label));
    if (this.small.width !== side) {
      this.small.width = side;
      this.small.height = side;
    }
    const image = new ImageData(side, side);
    for (let k = 0; k < grey.length; k++) {
      image.data[4 * k] = image.data[4 * k + 1] = image.data[4 * k + 2] = grey[k]; // white digit on black
      image.data[4 * k + 3] = 255;
    }
    this.small.getContext("2d").putImageData(image, 0, 0);
    const context = this.canvas.getContext("2d");
    context.imageSmoothingEnabled = false; // nearest neighbour: crisp pixels
    context.drawImage(this.small, 0, 0, this.canvas.width, this.canvas.height);
    this.countFrame(started, performance.now());
  }

  countFrame(started, finished) {
    this.draws += 1;
    this.drawTimes.push(finished);
    while (this.drawTimes.length && this.drawTimes[0] < finished - FPS_WINDOW_MS) this.drawTimes.shift();
    const fps = this.drawTimes.length;
    const ms = finished - started;
    this.fpsBox.dataset.fps = String(fps);
    this.fpsBox.dataset.draws = String(this.draws);
    this.fpsBox.dataset.ms = ms.toFixed(2);
    this.fpsBox.textContent = `${fps} frames/s · ${ms.toFixed(1)} ms a frame`;
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.slidersBox.removeEventListener("input", this.onInput);
    this.slidersBox.removeEventListener("change", this.onChange);
    this.slidersBox.replaceChildren();
    VIEWS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".instant-generator");
  if (!root || !data) return undefined;
  let view = VIEWS.get(root);
  if (!view) {
    view = new InstantView(root);
    VIEWS.set(root, view);
  }
  const generation = ++view.generation;
  view.update(data, setStateValue, setTriggerValue);
  // Streamlit keeps only the latest cleanup and may call an older one late: only the latest may tear down.
  return () => {
    if (view.generation === generation) view.destroy();
  };
}
