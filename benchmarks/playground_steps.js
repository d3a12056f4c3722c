// Steps the browser's trainer (ui/components/playground/toy_gan.js) needs to reach the Playground's goal on a
// preset, per seed: all modes covered with >= 90% (ring8) / 80% (grid25) high-quality samples, scored on the
// generator average from the same 2,500 fixed z and with the same random draws as the page's run of that seed
// (seconds in Chromium are steps divided by the page's steps/s: benchmarks/playground.py --browser-only).
//
//   node benchmarks/playground_steps.js '{"g_learning_rate": 8e-3}' 0,1,2,3 6000 250
//   (recipe overrides as JSON over the ring's default recipe, seeds, most steps, steps between scores)
//   node benchmarks/playground_steps.js '{"dataset": "grid25"}' 0,1,2 16000 4000 hold
//   (hold: train on to the most steps after the goal and print the score at every scoring step, to see whether
//   a run keeps its modes; grid25 in the overrides takes the grid's preset networks and optimiser, as
//   gan_core.toy.recipe_for does, unless the overrides name them)
const ToyGan = require("../ui/components/playground/toy_gan.js");

const DEFAULT = { latent_dim: 2, hidden_units: 32, depth: 2, activation: "relu", loss: "non_saturating",
  r1_gamma: 0.03, gp_weight: 1, label_smoothing: 0, ema_decay: 0.99, d_steps: 1, batch_size: 64,
  g_learning_rate: 8e-3, d_learning_rate: 8e-3, beta1: 0.5, beta2: 0.999, seed: 0, dataset: "ring8",
  lr_decay_start: 0, lr_half_life: 0 };
// gan_core.toy.PRESET_NETWORKS and PRESET_OPTIMISER (a copy: change both together)
const PRESETS = { grid25: { hidden_units: 64, depth: 3, g_learning_rate: 3e-3, d_learning_rate: 3e-3, r1_gamma: 0.1,
  batch_size: 128, lr_decay_start: 8000, lr_half_life: 2000 } };
const overrides = JSON.parse(process.argv[2] || "{}");
const hold = process.argv[6] === "hold";
const seeds = (process.argv[3] || "0,1,2").split(",").map(Number);
const maxSteps = Number(process.argv[4] || 6000), every = Number(process.argv[5] || 250);

for (const seed of seeds) {
  const config = { ...DEFAULT, ...(PRESETS[overrides.dataset] || {}), ...overrides, seed };
  const goal = config.dataset === "grid25" ? 0.8 : 0.9;
  const rng = ToyGan.makeRng(config.seed), model = ToyGan.makeModel(config, rng); // as PlaygroundRun.configure
  const evalZ = ToyGan.normals(2500, config.latent_dim, ToyGan.makeRng(config.seed + 1001));
  const started = Date.now();
  let reached = null, last = null;
  const trace = [];
  for (let step = 1; step <= maxSteps && (hold || reached === null); step++) {
    const rows = config.batch_size, reals = [], noises = [], mixes = []; // as PlaygroundRun.batch
    for (let i = 0; i < config.d_steps; i++) {
      reals.push(ToyGan.samplePoints(config.dataset, rows, rng, []));
      noises.push(ToyGan.normals(rows, config.latent_dim, rng));
      const mix = new Float64Array(rows);
      for (let k = 0; k < rows; k++) mix[k] = rng.uniform();
      mixes.push(mix);
    }
    ToyGan.update(model, reals, noises, ToyGan.normals(rows, config.latent_dim, rng), mixes, rows, true, true);
    if (step % every === 0) {
      const s = ToyGan.modeScores(ToyGan.predict(model.Gema || model.G, evalZ, 2500), 2500, config.dataset);
      last = { step, modes: `${s.modes_covered}/${s.modes_total}`, high_quality: +s.high_quality.toFixed(3) };
      if (hold) trace.push(`${step}: ${last.modes} (${(100 * s.high_quality).toFixed(1)}%)`);
      if (reached === null && s.modes_covered === s.modes_total && s.high_quality >= goal) reached = step;
    }
  }
  console.log(JSON.stringify({ seed, overrides, steps_to_goal: reached, last, ...(hold ? { trace } : {}),
    ms_per_step: +((Date.now() - started) / last.step).toFixed(2) }));
}
