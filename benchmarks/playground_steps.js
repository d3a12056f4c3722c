// Steps the browser's trainer (ui/components/playground/toy_gan.js) needs to reach the Playground's goal on a
// preset, per seed: all modes covered with >= 90% (ring8) / 80% (grid25) high-quality samples, scored on the
// generator average from the same 2,500 fixed z and with the same random draws as the page's run of that seed
// (seconds in Chromium are steps divided by the page's steps/s: benchmarks/playground.py --browser-only).
//
//   node benchmarks/playground_steps.js '{"g_learning_rate": 8e-3}' 0,1,2,3 6000 250
//   (recipe overrides as JSON over the preset's default recipe, seeds, most steps, steps between scores)
//   node benchmarks/playground_steps.js '{"dataset": "grid25"}' 0,1,2 16000 4000 hold
//   (hold: train on to the most steps after the goal and print the score at every scoring step, to see whether
//   a run keeps its modes)
// The recipe is gan_core.toy.recipe_for(dataset, **overrides), read from Python (the virtualenv's, or $PYTHON), so
// this script trains exactly what the page and the CLI train, and a bad override is refused as ToyConfig refuses
// it. Every score goes to stderr as it is taken; one JSON line per seed goes to stdout, with the wall-clock and the
// CPU milliseconds per step (on a loaded machine compare CPU time: wall-clock counts the other jobs' turns too).
const path = require("path");
const { execFileSync } = require("child_process");
const ToyGan = require("../ui/components/playground/toy_gan.js");

const ROOT = path.resolve(__dirname, "..");
const PYTHON = process.env.PYTHON || path.join(ROOT, ".venv", "bin", "python");
const RECIPE = "import json, sys\nfrom gan_core.toy import recipe_for\n" +
  "overrides = json.loads(sys.argv[1])\n" +
  "print(json.dumps(recipe_for(overrides.pop('dataset', 'ring8'), **overrides).to_dict()))";

function recipe(overrides) {
  try {
    return JSON.parse(execFileSync(PYTHON, ["-c", RECIPE, JSON.stringify(overrides)], { cwd: ROOT, encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"] }));
  } catch (error) {
    const lines = String(error.stderr || error.message).trim().split("\n");
    console.error(`the overrides ${JSON.stringify(overrides)} are not a recipe: ${lines[lines.length - 1]}`);
    process.exit(2);
  }
}

const overrides = JSON.parse(process.argv[2] || "{}");
const hold = process.argv[6] === "hold";
const seeds = (process.argv[3] || "0,1,2").split(",").map(Number);
const maxSteps = Number(process.argv[4] || 6000), every = Number(process.argv[5] || 250);

for (const seed of seeds) {
  const config = recipe({ ...overrides, seed });
  const goal = config.dataset === "grid25" ? 0.8 : 0.9;
  const rng = ToyGan.makeRng(config.seed), model = ToyGan.makeModel(config, rng); // as PlaygroundRun.configure
  const evalZ = ToyGan.normals(2500, config.latent_dim, ToyGan.makeRng(config.seed + 1001));
  const started = Date.now(), cpuStarted = process.cpuUsage();
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
      trace.push(`${step}: ${last.modes} (${(100 * s.high_quality).toFixed(1)}%)`);
      process.stderr.write(`seed ${seed} ${trace[trace.length - 1]}\n`);
      if (reached === null && s.modes_covered === s.modes_total && s.high_quality >= goal) reached = step;
    }
  }
  console.log(JSON.stringify({ seed, overrides, steps_to_goal: reached, last, trace,
    ms_per_step: +((Date.now() - started) / last.step).toFixed(2),
    cpu_ms_per_step: +(Object.values(process.cpuUsage(cpuStarted)).reduce((a, b) => a + b, 0) / 1000 / last.step).toFixed(2) }));
}
