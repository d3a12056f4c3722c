// The 2-D playground component (Streamlit components v2): trains ToyGan (toy_gan.js, put in front of this
// file by ui/playground.py) in the browser and redraws every animation frame, with no server round trip.
//
// data = {runs: [{label, config}], drawn: [[x, y], ...], extent, layers: {...}, publish}
//   one run, or two side by side (the recipe comparison: one Start drives both, same seed).
// Back to Python: state "drawn" (the drawn points, on each mouse-up) so a rerun or a remount keeps them; with
//   publish (presenter mode), state "published": the view's state for viewers (gan_core/toy_share.py says what
//   it holds), when it changed, at most every PUBLISH_EVERY_MS (longer for big networks: PUBLISH_BYTES_PER_MS).
// data = {watch: <a published state, or null>}: a viewer's read-only view of a presenter's playground; it
//   trains nothing, draws the latest published weights every frame, and has no buttons.
// A rerun that changes only live fields (learning rates, loss, penalties, d_steps, batch size) applies them to
// the running model; a change of network, dataset or seed starts a new model.
//
// DOM (inside the component's shadow root; Playwright's CSS selectors pierce it):
//   [data-testid="pg-root"] data-running, data-fps (frames drawn in the last second), data-frames,
//     data-steps-per-second, data-draw-ms (drawing time per frame, smoothed), data-work-ms (a frame's scoring,
//     training and drawing, smoothed), data-train-budget-ms
//   [data-testid="pg-start"] Start / Pause; [data-testid="pg-step"] slow motion: one D update, then one G update
//   [data-testid="pg-reset"], [data-testid="pg-train-d"], [data-testid="pg-train-g"], [data-testid="pg-clear"]
//   [data-testid="pg-layer-<name>"] checkboxes: real, fake, heatmap, manifold, arrows
//   [data-testid="pg-panel-<i>"] data-step; [data-testid="pg-canvas-<i>"] the plane (draw on it with "drawn")
//   [data-testid="pg-score-<i>"] data-covered, data-total, data-hq (0-1), data-js
//   [data-testid="pg-sentence"] what the last slow-motion step did
/* global ToyGan */

const PG_VIEWS = new WeakMap();
const LIVE_FIELDS = ["loss", "r1_gamma", "gp_weight", "label_smoothing", "d_steps", "batch_size",
  "g_learning_rate", "d_learning_rate", "ema_decay", "lr_decay_start", "lr_half_life"];
const REBUILD_FIELDS = ["latent_dim", "hidden_units", "depth", "activation", "seed", "dataset", "beta1", "beta2"];
const LAYERS = [
  ["heatmap", "D's heatmap"], ["real", "Real points"], ["fake", "Generated points"],
  ["manifold", "G's manifold"], ["arrows", "Gradient arrows"], ["average", "Averaged G"],
];
// Training time per animation frame, shared by the runs shown: at least FRAME_BUDGET_MS, and more while the
// view keeps >= 30 frames/s. Frames come at the display's 60 Hz, so a frame of up to ~30 ms of work still draws
// at 30 frames/s. Every 15 frames the budget grows by 1 ms while the last second drew more than FAST_FPS frames,
// or at least 30 with a frame's work (training, scoring and drawing, smoothed) more than 1 ms under
// FRAME_WORK_MS; it shrinks (not below FRAME_BUDGET_MS) while the last second drew fewer than 30 frames or the
// work is more than 1 ms over FRAME_WORK_MS. FRAME_WORK_MS leaves the rest of the 33 ms to the browser
// (compositing, garbage collection). The floor: on a loaded machine frames are slow whatever the page does, and
// training less would only slow the run (measured: 8 ms under load average 15 halved the steps per second).
const FRAME_BUDGET_MS = 12;
const FRAME_BUDGET_MIN_MS = FRAME_BUDGET_MS, FRAME_BUDGET_MAX_MS = 24, FAST_FPS = 32, FRAME_WORK_MS = 24;
const EVAL_SAMPLES = 2500; // as the literature scores the ring and the grid
const SHOWN_POINTS = 600;
const ARROW_POINTS = 120;
const HEAT_CELLS = 36;
// While training, D's heatmap is recomputed a band of rows per frame, a full pass every HEAT_PASS_FRAMES frames
// (0.2 s at 30 frames/s): the same work as a whole heatmap every 6 frames, without the long frame. A new model,
// a slow-motion step or a presenter's new weights recompute it all at once.
const HEAT_PASS_FRAMES = 6;
const HEAT_REAL = [60, 170, 90], HEAT_FAKE = [160, 90, 210]; // where D says "real" / "generated"
const MESH_LINES = 21;
const SCORE_EVERY_MS = 1000;
const HISTORY_MAX = 400;
const PUBLISH_EVERY_MS = 300; // presenter mode: about 3 states a second...
const PUBLISH_BYTES_PER_MS = 200; // ...and at most ~200 kB/s for big networks

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

class PlaygroundRun {
  constructor(view, index, spec) {
    this.view = view;
    this.index = index;
    this.panel = el("div", { class: "pg-panel", "data-testid": `pg-panel-${index}`, "data-step": "0" });
    this.title = el("div", { class: "pg-title" });
    this.canvas = el("canvas", { class: "pg-canvas", "data-testid": `pg-canvas-${index}`, width: "360", height: "360" });
    this.score = el("div", { class: "pg-score", "data-testid": `pg-score-${index}`, "data-covered": "0",
      "data-total": "0", "data-hq": "0", "data-js": "" });
    this.stats = el("div", { class: "pg-stats", "data-testid": `pg-stats-${index}` });
    this.curves = el("canvas", { class: "pg-curves", "data-testid": `pg-curves-${index}`, width: "360", height: "110" });
    this.panel.append(this.title, this.canvas, this.score, this.stats, this.curves);
    this.heat = document.createElement("canvas");
    this.heat.width = this.heat.height = HEAT_CELLS;
    this.caches = {}; // the buffers of this run's passes for the view (see pass)
    this.canvas.addEventListener("pointerdown", (event) => this.view.startDrawing(this, event));
    this.canvas.addEventListener("pointermove", (event) => this.view.continueDrawing(this, event));
    this.configure(spec, true);
  }

  configure(spec, rebuild) {
    this.label = spec.label || "";
    this.title.textContent = this.label;
    const config = { ...spec.config };
    if (!rebuild && this.model) {
      for (const name of LIVE_FIELDS) this.model.config[name] = config[name];
      this.config = config;
      this.heatFresh = false; // the heatmap's colours follow the loss
      return;
    }
    this.config = config;
    this.rng = ToyGan.makeRng(config.seed);
    this.model = ToyGan.makeModel(config, this.rng);
    this.step = 0;
    this.history = [];
    this.historyEvery = 5;
    this.evalZ = ToyGan.normals(EVAL_SAMPLES, config.latent_dim, ToyGan.makeRng(config.seed + 1001));
    this.shownZ = this.evalZ.subarray(0, SHOWN_POINTS * config.latent_dim);
    this.realShown = ToyGan.samplePoints(config.dataset, SHOWN_POINTS, ToyGan.makeRng(config.seed + 7), this.view.drawn);
    this.realEval = null;
    this.phase = "D";
    this.lastScoreAt = 0;
    this.heatFresh = false;
    this.previousPoints = null;
    this.updateScore(true);
  }

  // A viewer's run: the presenter's published weights, step, curves and scores (see PlaygroundView.watch).
  applyPublished(published) {
    const spec = { label: published.label, config: published.config };
    const rebuild = !this.model || REBUILD_FIELDS.some((name) => spec.config[name] !== this.config[name]);
    this.configure(spec, rebuild);
    if (!ToyGan.decodeWeights(this.model.G, published.G) || !ToyGan.decodeWeights(this.model.D, published.D)) return;
    this.model.Gema = null; // the presenter sends the generator their view shows
    this.step = published.step;
    const h = published.history, num = (v) => (v === null ? NaN : v);
    this.history = h.step.map((step, i) => ({ step, d_loss: num(h.d_loss[i]), g_loss: num(h.g_loss[i]),
      d_real: num(h.d_real[i]), d_fake: num(h.d_fake[i]) }));
    this.showScores(published.scores);
    this.heatFresh = false;
  }

  // The state a viewer needs to draw this run as it is now.
  published() {
    const columns = { step: [], d_loss: [], g_loss: [], d_real: [], d_fake: [] };
    const finite = (v) => (Number.isFinite(v) ? v : null);
    for (const row of this.history) for (const key of Object.keys(columns)) columns[key].push(finite(row[key]));
    const d = this.score.dataset;
    return { label: this.label, config: { ...this.config, ...pick(this.model.config, LIVE_FIELDS) }, step: this.step,
      G: ToyGan.encodeWeights(this.viewNetwork()), D: ToyGan.encodeWeights(this.model.D), history: columns,
      scores: { covered: Number(d.covered) || 0, total: Number(d.total) || 0, hq: Number(d.hq) || 0,
        js: d.js === "" ? null : finite(Number(d.js)), kl: d.kl === undefined || d.kl === "" ? null : finite(Number(d.kl)) } };
  }

  showScores(s) {
    if (this.modeDataset) {
      this.score.dataset.covered = String(s.covered);
      this.score.dataset.total = String(s.total);
      this.score.dataset.hq = Number(s.hq).toFixed(4);
      this.score.textContent = `Modes covered ${s.covered}/${s.total} · high-quality samples ${(100 * s.hq).toFixed(1)}%`;
    } else if (s.js !== null) {
      this.score.dataset.js = Number(s.js).toFixed(4);
      this.score.textContent = `JS divergence ${Number(s.js).toFixed(3)} nats (0 = same; ln 2 = 0.693 = disjoint)` +
        (s.kl !== null ? ` · KL(real‖generated) ${Number(s.kl).toFixed(2)}` : "");
    }
  }

  // A forward pass for the view through this run's buffers named `name` (see ToyGan.forward): no allocation per
  // frame. Its results hold until the next pass with that name.
  pass(name, net, input, rows) {
    this.caches[name] = ToyGan.forward(net, input, rows, this.caches[name]);
    return this.caches[name];
  }

  get modeDataset() {
    return ToyGan.modeCentres(this.config.dataset) !== null;
  }

  batch(rows) {
    const c = this.model.config, latent = c.latent_dim, reals = [], noises = [], mixes = [];
    for (let i = 0; i < c.d_steps; i++) {
      reals.push(ToyGan.samplePoints(c.dataset, rows, this.rng, this.view.drawn));
      noises.push(ToyGan.normals(rows, latent, this.rng));
      const mix = new Float64Array(rows);
      for (let k = 0; k < rows; k++) mix[k] = this.rng.uniform();
      mixes.push(mix);
    }
    return { reals, noises, mixes, gNoise: ToyGan.normals(rows, latent, this.rng) };
  }

  trainStep(trainD, trainG) {
    if (this.config.dataset === "drawn" && this.view.drawn.length === 0) return null;
    const rows = this.model.config.batch_size, b = this.batch(rows);
    const values = ToyGan.update(this.model, b.reals, b.noises, b.gNoise, b.mixes, rows, trainD, trainG);
    this.step += 1;
    this.record(values);
    return values;
  }

  record(values) {
    if (this.step % this.historyEvery !== 0) return;
    this.history.push({ step: this.step, ...values });
    if (this.history.length > HISTORY_MAX) { // keep it bounded: every other point, sampled half as often
      this.history = this.history.filter((_, i) => i % 2 === 1);
      this.historyEvery *= 2;
    }
  }

  // Slow motion: one phase at a time, each with a sentence.
  slowStep() {
    if (this.config.dataset === "drawn" && this.view.drawn.length === 0) return "Draw some points first.";
    const rows = this.model.config.batch_size, b = this.batch(rows), c = this.model.config;
    const before = this.probe(b.reals[0], b.noises[0], rows);
    if (this.phase === "D") {
      for (let i = 0; i < c.d_steps; i++) ToyGan.updateDiscriminator(this.model, b.reals[i], b.noises[i], rows, b.mixes[i]);
      const after = this.probe(b.reals[0], b.noises[0], rows);
      this.phase = "G";
      this.heatFresh = false;
      this.previousPoints = null;
      return `Discriminator update: on real points D went ${fmt(before.real)} → ${fmt(after.real)}, on generated ` +
        `points ${fmt(before.fake)} → ${fmt(after.fake)}. The heatmap moved to tell the two clouds apart better; ` +
        "the generated points did not move.";
    }
    this.previousPoints = ToyGan.predict(this.model.G, this.shownZ, SHOWN_POINTS);
    ToyGan.updateGenerator(this.model, b.gNoise, rows);
    this.step += 1;
    const moved = ToyGan.predict(this.model.G, this.shownZ, SHOWN_POINTS);
    let distance = 0;
    for (let k = 0; k < SHOWN_POINTS; k++) {
      distance += Math.hypot(moved[2 * k] - this.previousPoints[2 * k], moved[2 * k + 1] - this.previousPoints[2 * k + 1]);
    }
    const after = this.probe(b.reals[0], b.noises[0], rows);
    this.phase = "D";
    this.updateScore(true);
    return `Generator update: the generated points moved ${fmt(distance / SHOWN_POINTS, 4)} on average, along ` +
      `their arrows (the grey lines show where they were); D on generated points ${fmt(before.fake)} → ` +
      `${fmt(after.fake)}. The discriminator did not change.`;
  }

  probe(real, noise, rows) {
    const loss = this.model.config.loss;
    const fake = ToyGan.predict(this.model.G, noise, rows);
    return { real: ToyGan.meanScore(loss, ToyGan.predict(this.model.D, real, rows)),
      fake: ToyGan.meanScore(loss, ToyGan.predict(this.model.D, fake, rows)) };
  }

  viewNetwork() {
    return this.view.layers.average && this.model.Gema && !this.view.slowMotion ? this.model.Gema : this.model.G;
  }

  updateScore(force) {
    if (this.view.watching) return; // a viewer shows the presenter's scores
    const now = performance.now();
    if (!force && now - this.lastScoreAt < SCORE_EVERY_MS) return;
    this.lastScoreAt = now;
    const G = this.model.Gema || this.model.G, c = this.config;
    if (c.dataset === "drawn" && this.view.drawn.length === 0) {
      this.score.textContent = "Draw points on the plane (click and drag), then press Start.";
      return;
    }
    const points = this.pass("eval", G, this.evalZ, EVAL_SAMPLES).out;
    if (this.modeDataset) {
      const s = ToyGan.modeScores(points, EVAL_SAMPLES, c.dataset);
      this.score.dataset.covered = String(s.modes_covered);
      this.score.dataset.total = String(s.modes_total);
      this.score.dataset.hq = s.high_quality.toFixed(4);
      this.score.textContent = `Modes covered ${s.modes_covered}/${s.modes_total} · high-quality samples ` +
        `${(100 * s.high_quality).toFixed(1)}%`;
    } else {
      if (!this.realEval) this.realEval = ToyGan.samplePoints(c.dataset, EVAL_SAMPLES, ToyGan.makeRng(c.seed + 3), this.view.drawn);
      const d = ToyGan.jsDivergence(this.realEval, EVAL_SAMPLES, points, EVAL_SAMPLES, this.view.extent);
      this.score.dataset.js = d.js.toFixed(4);
      this.score.dataset.kl = d.kl.toFixed(4);
      this.score.textContent = `JS divergence ${d.js.toFixed(3)} nats (0 = same; ln 2 = 0.693 = disjoint) · ` +
        `KL(real‖generated) ${d.kl.toFixed(2)}`;
    }
  }

  // ---- drawing ----
  toPixel(x, y) {
    const size = this.canvas.width, e = this.view.extent;
    return [((x + e) / (2 * e)) * size, ((e - y) / (2 * e)) * size];
  }

  draw() {
    const ctx = this.canvas.getContext("2d"), size = this.canvas.width, layers = this.view.layers;
    // The background (heatmap and real points) changes only when a heatmap pass completes or a layer is switched:
    // drawn into an offscreen canvas then, and copied unscaled every frame (software rendering makes scaling costly).
    let changed = !this.background || this.backgroundKey !== this.layerKey();
    if (!layers.heatmap) this.heatFresh = false;
    else if (!this.heatFresh) changed = this.updateHeat(true) || changed;
    else if (this.view.running && !this.view.watching) changed = this.updateHeat(false) || changed;
    if (changed) this.drawBackground(size);
    ctx.drawImage(this.background, 0, 0);
    const G = this.viewNetwork();
    const fake = this.pass("shown", G, this.shownZ, SHOWN_POINTS).out;
    if (layers.manifold) this.drawManifold(ctx, G);
    if (this.previousPoints) this.drawTrails(ctx, this.previousPoints, this.pass("trail", this.model.G, this.shownZ, SHOWN_POINTS).out);
    if (layers.fake) this.drawPoints(ctx, fake, SHOWN_POINTS, "rgba(140, 50, 200, 0.8)", 2);
    if (layers.arrows) this.drawArrows(ctx, fake);
    if (this.config.dataset === "drawn") this.drawPoints(ctx, flatten(this.view.drawn), this.view.drawn.length, "rgba(0,0,0,0.55)", 1.5);
    this.panel.dataset.step = String(this.step);
    const last = this.history[this.history.length - 1], c = this.model.config;
    const rate = ToyGan.learningRateAt(1, this.model.adamG.iterations, c); // the decay's factor on both rates
    this.stats.textContent = `step ${this.step.toLocaleString("en")}` + (last
      ? ` · d_loss ${fmt(last.d_loss)} · g_loss ${fmt(last.g_loss)} · D(x) ${fmt(last.d_real)} · D(G(z)) ${fmt(last.d_fake)}` : "") +
      (rate < 1 ? ` · rates ×${fmt(rate, 3)} (decayed)` : "");
    if (this.view.frames % 10 === this.index || !this.view.running) this.drawCurves();
  }

  layerKey() {
    const layers = this.view.layers;
    return `${layers.heatmap}${layers.real}${this.realShown.length}${this.view.drawn.length}`;
  }

  drawBackground(size) {
    if (!this.background) {
      this.background = document.createElement("canvas");
      this.background.width = this.background.height = size;
    }
    const ctx = this.background.getContext("2d"), layers = this.view.layers;
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, size, size);
    if (layers.heatmap) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.heat, 0, 0, size, size);
    }
    if (layers.real) this.drawPoints(ctx, this.realShown, SHOWN_POINTS, "rgba(20, 140, 60, 0.75)", 2);
    this.backgroundKey = this.layerKey();
  }

  // D over the plane (HEAT_CELLS x HEAT_CELLS cells) into this.heat: every row when `all`, else the next band of
  // rows of the current pass. True when a pass completed (this.heat changed).
  updateHeat(all) {
    const cells = HEAT_CELLS, e = this.view.extent;
    if (!this.heatImage || this.heatExtent !== e) {
      this.heatExtent = e;
      this.heatImage = new ImageData(cells, cells);
      this.heatPlane = new Float64Array(cells * cells * 2);
      for (let r = 0; r < cells; r++) for (let c = 0; c < cells; c++) {
        this.heatPlane[2 * (r * cells + c)] = -e + ((c + 0.5) / cells) * 2 * e;
        this.heatPlane[2 * (r * cells + c) + 1] = e - ((r + 0.5) / cells) * 2 * e;
      }
      this.heatRow = 0;
    }
    const first = all ? 0 : this.heatRow;
    const last = all ? cells : Math.min(cells, first + Math.ceil(cells / HEAT_PASS_FRAMES));
    const count = (last - first) * cells;
    const scores = this.pass(all ? "heat" : "heatBand", this.model.D,
      this.heatPlane.subarray(2 * first * cells, 2 * last * cells), count).out;
    const data = this.heatImage.data, ls = this.model.config.loss === "least_squares";
    for (let i = 0; i < count; i++) {
      const p = ls ? Math.min(1, Math.max(0, scores[i])) : ToyGan.sigmoid(scores[i]);
      // green where D says "real", purple where it says "generated", white at 0.5
      const t = Math.abs(p - 0.5) * 2 * 0.6, base = p >= 0.5 ? HEAT_REAL : HEAT_FAKE, at = 4 * (first * cells + i);
      data[at] = 255 + (base[0] - 255) * t;
      data[at + 1] = 255 + (base[1] - 255) * t;
      data[at + 2] = 255 + (base[2] - 255) * t;
      data[at + 3] = 255;
    }
    this.heatRow = last % cells;
    if (last < cells) return false;
    this.heat.getContext("2d").putImageData(this.heatImage, 0, 0);
    this.heatFresh = true;
    return true;
  }

  drawPoints(ctx, points, rows, colour, radius) {
    ctx.fillStyle = colour;
    for (let k = 0; k < rows; k++) {
      const [px, py] = this.toPixel(points[2 * k], points[2 * k + 1]);
      ctx.fillRect(px - radius / 2, py - radius / 2, radius, radius);
    }
  }

  drawManifold(ctx, G) {
    const latent = this.config.latent_dim, n = MESH_LINES, z = new Float64Array(n * n * latent);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const k = (i * n + j) * latent;
      z[k] = -2.5 + (5 * i) / (n - 1);
      if (latent > 1) z[k + 1] = -2.5 + (5 * j) / (n - 1);
    }
    const out = this.pass("manifold", G, z, n * n).out;
    ctx.strokeStyle = "rgba(120, 60, 170, 0.28)";
    ctx.lineWidth = 1;
    for (let i = 0; i < n; i++) {
      for (const along of [true, false]) {
        ctx.beginPath();
        for (let j = 0; j < n; j++) {
          const k = along ? i * n + j : j * n + i;
          const [px, py] = this.toPixel(out[2 * k], out[2 * k + 1]);
          if (j === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
        }
        ctx.stroke();
      }
    }
  }

  drawArrows(ctx, fake) {
    const rows = ARROW_POINTS, points = fake.subarray(0, rows * 2);
    const cache = this.pass("arrows", this.model.D, points, rows);
    const term = ToyGan.generatorTermFor(this.model.config.loss, cache.out);
    const grad = ToyGan.backward(this.model.D, cache, term, null);
    let largest = 1e-12;
    for (let k = 0; k < rows; k++) largest = Math.max(largest, Math.hypot(grad[2 * k], grad[2 * k + 1]));
    ctx.strokeStyle = "rgba(40, 40, 40, 0.7)";
    ctx.lineWidth = 1;
    for (let k = 0; k < rows; k++) {
      const gx = -grad[2 * k], gy = -grad[2 * k + 1], length = Math.hypot(gx, gy);
      if (length === 0) continue;
      const pixels = 4 + 22 * (length / largest);
      const [px, py] = this.toPixel(points[2 * k], points[2 * k + 1]);
      const dx = (gx / length) * pixels, dy = (-gy / length) * pixels;
      ctx.beginPath();
      ctx.moveTo(px, py);
      ctx.lineTo(px + dx, py + dy);
      const angle = Math.atan2(dy, dx);
      ctx.lineTo(px + dx - 4 * Math.cos(angle - 0.5), py + dy - 4 * Math.sin(angle - 0.5));
      ctx.moveTo(px + dx, py + dy);
      ctx.lineTo(px + dx - 4 * Math.cos(angle + 0.5), py + dy - 4 * Math.sin(angle + 0.5));
      ctx.stroke();
    }
  }

  drawTrails(ctx, before, after) {
    ctx.strokeStyle = "rgba(90, 90, 90, 0.5)";
    ctx.beginPath();
    for (let k = 0; k < SHOWN_POINTS; k++) {
      const [ax, ay] = this.toPixel(before[2 * k], before[2 * k + 1]), [bx, by] = this.toPixel(after[2 * k], after[2 * k + 1]);
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
    }
    ctx.stroke();
  }

  drawCurves() {
    const ctx = this.curves.getContext("2d"), w = this.curves.width, h = this.curves.height, half = h / 2;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "10px sans-serif";
    const series = [
      { key: "d_loss", colour: "#1f77b4", top: 0 }, { key: "g_loss", colour: "#ff7f0e", top: 0 },
      { key: "d_real", colour: "#2ca02c", top: half }, { key: "d_fake", colour: "#9467bd", top: half },
    ];
    const data = this.history;
    if (data.length < 2) return;
    for (const band of [0, half]) {
      const keys = series.filter((s) => s.top === band).map((s) => s.key);
      let low = Infinity, high = -Infinity;
      for (const row of data) for (const key of keys) { low = Math.min(low, row[key]); high = Math.max(high, row[key]); }
      if (band === half && ToyGan.LOGISTIC.has(this.model.config.loss)) { low = 0; high = 1; }
      if (high - low < 1e-6) { high += 0.5; low -= 0.5; }
      for (const s of series.filter((x) => x.top === band)) {
        ctx.strokeStyle = s.colour;
        ctx.beginPath();
        data.forEach((row, i) => {
          const x = (i / (data.length - 1)) * (w - 2) + 1, y = band + half - 4 - ((row[s.key] - low) / (high - low)) * (half - 10);
          if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        });
        ctx.stroke();
      }
      ctx.fillStyle = "#555";
      ctx.fillText(band === 0 ? "d_loss (blue), g_loss (orange)" : "D(x) (green), D(G(z)) (purple)", 4, band + 10);
    }
  }
}

function fmt(value, digits = 3) {
  return Number.isFinite(value) ? value.toFixed(digits) : "—";
}

function pick(object, names) {
  const out = {};
  for (const name of names) out[name] = object[name];
  return out;
}

function flatten(points) {
  const out = new Float64Array(points.length * 2);
  points.forEach((p, k) => { out[2 * k] = p[0]; out[2 * k + 1] = p[1]; });
  return out;
}

class PlaygroundView {
  constructor(root) {
    this.root = root;
    this.runs = [];
    this.running = false;
    this.slowMotion = false;
    this.frames = 0;
    this.trainBudget = FRAME_BUDGET_MS;
    this.frameTimes = [];
    this.drawn = [];
    this.drawing = null;
    this.layers = { real: true, fake: true, heatmap: true, manifold: true, arrows: true, average: true };
    this.trainD = true;
    this.trainG = true;
    this.buildControls();
    this.onPointerUp = () => this.stopDrawing();
    window.addEventListener("pointerup", this.onPointerUp);
    this.alive = true;
    this.loop = () => this.frame();
    requestAnimationFrame(this.loop);
  }

  buildControls() {
    const root = this.root;
    root.setAttribute("data-testid", "pg-root");
    root.dataset.running = "false";
    root.dataset.fps = "0";
    const bar = el("div", { class: "pg-bar" });
    this.startButton = el("button", { class: "pg-button pg-primary", "data-testid": "pg-start" }, "Start");
    this.stepButton = el("button", { class: "pg-button", "data-testid": "pg-step",
      title: "Slow motion: one discriminator update, then (next press) one generator update" }, "Slow-motion step");
    this.resetButton = el("button", { class: "pg-button", "data-testid": "pg-reset" }, "Reset");
    this.clearButton = el("button", { class: "pg-button", "data-testid": "pg-clear" }, "Clear drawing");
    this.startButton.addEventListener("click", () => this.toggleRunning());
    this.stepButton.addEventListener("click", () => this.slowStep());
    this.resetButton.addEventListener("click", () => this.reset());
    this.clearButton.addEventListener("click", () => { this.drawn = []; this.sendDrawn(); this.reset(); });
    const toggles = el("span", { class: "pg-toggles" });
    for (const [name, label, key] of [["pg-train-d", "Train D", "trainD"], ["pg-train-g", "Train G", "trainG"]]) {
      const box = el("input", { type: "checkbox", "data-testid": name });
      box.checked = true;
      box.addEventListener("change", () => { this[key] = box.checked; });
      const wrap = el("label", { class: "pg-toggle" });
      wrap.append(box, document.createTextNode(` ${label}`));
      toggles.append(wrap);
    }
    this.fpsBox = el("span", { class: "pg-fps", "data-testid": "pg-fps" }, "");
    bar.append(this.startButton, this.stepButton, this.resetButton, this.clearButton, toggles, this.fpsBox);
    const layerBar = el("div", { class: "pg-layers" });
    for (const [name, label] of LAYERS) {
      const box = el("input", { type: "checkbox", "data-testid": `pg-layer-${name}` });
      box.checked = this.layers[name];
      box.addEventListener("change", () => { this.layers[name] = box.checked; });
      const wrap = el("label", { class: "pg-toggle" });
      wrap.append(box, document.createTextNode(` ${label}`));
      layerBar.append(wrap);
    }
    this.sentence = el("div", { class: "pg-sentence", "data-testid": "pg-sentence" },
      "Press Start to train, or Slow-motion step to watch one update at a time.");
    this.panels = el("div", { class: "pg-panels" });
    root.replaceChildren(bar, layerBar, this.sentence, this.panels);
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    if ("watch" in data) {
      this.watch(data.watch);
      return;
    }
    this.publish = !!data.publish;
    this.extent = Number(data.extent) || 3;
    if (Array.isArray(data.drawn) && this.drawn.length === 0 && data.drawn.length) this.drawn = data.drawn.map((p) => [p[0], p[1]]);
    if (data.layers) for (const [name, on] of Object.entries(data.layers)) if (name in this.layers) this.layers[name] = !!on;
    for (const box of this.root.querySelectorAll("[data-testid^='pg-layer-']")) {
      box.checked = this.layers[box.dataset.testid.slice("pg-layer-".length)];
    }
    const specs = data.runs || [];
    const sameShape = specs.length === this.runs.length;
    const drawnPreset = specs.some((s) => s.config.dataset === "drawn");
    this.clearButton.style.display = drawnPreset ? "" : "none";
    if (!sameShape) {
      this.runs = specs.map((spec, i) => new PlaygroundRun(this, i, spec));
      this.panels.replaceChildren(...this.runs.map((r) => r.panel));
      this.setRunning(false);
    } else {
      specs.forEach((spec, i) => {
        const run = this.runs[i];
        const rebuild = REBUILD_FIELDS.some((name) => spec.config[name] !== run.config[name]);
        run.configure(spec, rebuild);
        if (rebuild) this.setRunning(false);
      });
    }
    this.root.classList.toggle("pg-drawing-mode", drawnPreset);
  }

  // ---- presenter mode ----
  // A viewer: no buttons, no training; the runs follow the presenter's latest published state.
  watch(state) {
    if (!this.watching) {
      this.watching = true;
      this.root.classList.add("pg-watching");
      for (const node of this.root.querySelectorAll(".pg-bar button, .pg-toggles, .pg-layers")) node.style.display = "none";
      this.sentence.textContent = "Waiting for the presenter's playground...";
    }
    if (!state || state.seq === this.watchedSeq) return;
    this.watchedSeq = state.seq;
    this.extent = Number(state.extent) || 3;
    Object.assign(this.layers, state.layers || {});
    const drawn = (state.drawn || []).map((p) => [p[0], p[1]]);
    const drawnChanged = drawn.length !== this.drawn.length;
    this.drawn = drawn;
    if (state.runs.length !== this.runs.length) {
      this.runs = state.runs.map((published, i) => new PlaygroundRun(this, i, { label: published.label, config: published.config }));
      this.panels.replaceChildren(...this.runs.map((r) => r.panel));
    }
    state.runs.forEach((published, i) => {
      const run = this.runs[i];
      if (drawnChanged && published.config.dataset === "drawn") run.model = null; // new real points: rebuild
      run.applyPublished(published);
    });
    this.running = !!state.running;
    this.slowMotion = !!state.slow_motion;
    this.root.dataset.running = String(this.running);
    this.root.dataset.watchedStep = String(this.runs.length ? this.runs[0].step : 0);
    if (state.sentence) this.sentence.textContent = state.sentence;
    else this.sentence.textContent = this.running ? "The presenter is training: this view follows their run live."
      : "The presenter's training is paused.";
  }

  // The presenter: publish the view's state when it changed, a few times a second (see the file's header).
  maybePublish(now) {
    if (!this.publish || !this.setStateValue || !this.runs.length) return;
    if (now - (this.publishedAt || -Infinity) < (this.publishEvery || PUBLISH_EVERY_MS)) return;
    const signature = JSON.stringify([this.runs.map((r) => [r.step, r.phase, r.model.config]), this.sentence.textContent,
      this.layers, this.running, this.slowMotion, this.drawn.length, this.extent]);
    if (signature === this.publishedSignature) return;
    this.publishedSignature = signature;
    this.publishedAt = now;
    this.publishSeq = (this.publishSeq || 0) + 1;
    const runs = this.runs.map((run) => run.published());
    const bytes = runs.reduce((sum, r) => sum + r.G.length + r.D.length, 0);
    this.publishEvery = Math.max(PUBLISH_EVERY_MS, bytes / PUBLISH_BYTES_PER_MS);
    const drawnUsed = this.runs.some((r) => r.config.dataset === "drawn");
    this.setStateValue("published", { seq: this.publishSeq, extent: this.extent, running: this.running,
      slow_motion: this.slowMotion, sentence: this.slowMotion ? this.sentence.textContent.slice(0, 600) : "", layers: this.layers,
      drawn: drawnUsed ? this.drawn : [], runs });
  }

  toggleRunning() {
    this.setRunning(!this.running);
  }

  setRunning(running) {
    this.running = running;
    if (running) this.slowMotion = false;
    this.root.dataset.running = String(running);
    this.startButton.textContent = running ? "Pause" : "Start";
  }

  slowStep() {
    this.setRunning(false);
    this.slowMotion = true;
    const sentences = this.runs.map((run) => (this.runs.length > 1 ? `${run.label}: ` : "") + run.slowStep());
    this.sentence.textContent = sentences.join("  ");
  }

  reset() {
    this.setRunning(false);
    this.slowMotion = false;
    for (const run of this.runs) run.configure({ label: run.label, config: run.config }, true);
    this.sentence.textContent = "Reset: new networks from the same seed.";
  }

  // ---- mouse drawing on a "drawn" run's plane ----
  startDrawing(run, event) {
    if (run.config.dataset !== "drawn" || this.watching) return;
    this.drawing = run;
    run.canvas.setPointerCapture?.(event.pointerId);
    this.addPoint(run, event);
  }

  continueDrawing(run, event) {
    if (this.drawing === run) this.addPoint(run, event);
  }

  addPoint(run, event) {
    if (this.drawn.length >= 2000) return;
    const rect = run.canvas.getBoundingClientRect(), e = this.extent;
    const x = ((event.clientX - rect.left) / rect.width) * 2 * e - e;
    const y = e - ((event.clientY - rect.top) / rect.height) * 2 * e;
    this.drawn.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
    for (const r of this.runs) { r.realShown = ToyGan.samplePoints("drawn", SHOWN_POINTS, ToyGan.makeRng(r.config.seed + 7), this.drawn); r.realEval = null; }
  }

  stopDrawing() {
    if (!this.drawing) return;
    this.drawing = null;
    this.sendDrawn();
    for (const run of this.runs) run.updateScore(true);
  }

  sendDrawn() {
    if (this.setStateValue) this.setStateValue("drawn", this.drawn);
  }

  // ---- the animation loop ----
  frame() {
    if (!this.alive) return;
    const started = performance.now();
    if (this.running && this.runs.length && !this.watching) {
      // The score first (a pass of 2,500 points once a second): its time comes out of this frame's training.
      for (const run of this.runs) run.updateScore(false);
      const budget = this.trainBudget;
      let i = 0;
      while (performance.now() - started < budget) {
        this.runs[i % this.runs.length].trainStep(this.trainD, this.trainG);
        i += 1;
      }
    }
    const drawStarted = performance.now();
    for (const run of this.runs) run.draw();
    this.drawMs = 0.9 * (this.drawMs || 0) + 0.1 * (performance.now() - drawStarted);
    this.root.dataset.drawMs = this.drawMs.toFixed(1);
    this.workMs = 0.9 * (this.workMs || 0) + 0.1 * (performance.now() - started);
    this.root.dataset.workMs = this.workMs.toFixed(1);
    this.frames += 1;
    const steps = this.runs.reduce((sum, run) => sum + run.step, 0);
    this.frameTimes.push([started, steps]);
    while (this.frameTimes.length && started - this.frameTimes[0][0] > 1000) this.frameTimes.shift();
    const stepsPerSecond = steps - this.frameTimes[0][1];
    this.root.dataset.fps = String(this.frameTimes.length);
    this.root.dataset.frames = String(this.frames);
    this.root.dataset.stepsPerSecond = String(stepsPerSecond);
    if (this.frames % 15 === 0 && this.running && this.frameTimes.length > 1) this.adaptBudget(this.frameTimes.length);
    if (this.frames % 15 === 0) {
      this.fpsBox.textContent = `${this.frameTimes.length} frames/s` + (this.watching ? "" : ` · ${stepsPerSecond} steps/s`);
    }
    if (this.publish) this.maybePublish(performance.now());
    requestAnimationFrame(this.loop);
  }

  adaptBudget(fps) {
    const room = FRAME_WORK_MS - this.workMs;
    if (fps < 30 || (fps <= FAST_FPS && room < -1)) this.trainBudget = Math.max(FRAME_BUDGET_MIN_MS, this.trainBudget - 1);
    else if (fps > FAST_FPS || room > 1) this.trainBudget = Math.min(FRAME_BUDGET_MAX_MS, this.trainBudget + 1);
    this.root.dataset.trainBudgetMs = String(this.trainBudget);
  }

  destroy() {
    this.alive = false;
    window.removeEventListener("pointerup", this.onPointerUp);
    PG_VIEWS.delete(this.root);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".pg-root");
  if (!root || !data) return undefined;
  let view = PG_VIEWS.get(root);
  if (!view) {
    view = new PlaygroundView(root);
    PG_VIEWS.set(root, view);
  }
  const generation = (view.generation = (view.generation || 0) + 1);
  view.update(data, setStateValue);
  // Streamlit keeps only the latest cleanup and may call an older one late: only the latest may tear down.
  return () => {
    if (view.generation === generation) view.destroy();
  };
}
