"""The 2-D playground's core: data, scores, the Keras ToyGAN, and the browser's trainer agreeing with it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ci_support import skip_or_fail

from gan_core.config import GAN_LOSSES
from gan_core.toy import ToyConfig, js_divergence, mode_centres, mode_scores, sample_points

ROOT = Path(__file__).resolve().parents[1]
TOY_JS = ROOT / "ui" / "components" / "playground" / "toy_gan.js"

# Reads {config, generator, discriminator, real, d_noise, g_noise, mix} on stdin; runs one update; prints the
# weights after it and the update's numbers.
NODE_DRIVER = """
const T = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const job = JSON.parse(input);
  const model = T.makeModel(job.config, T.makeRng(0));
  T.setWeights(model.G, job.generator);
  T.setWeights(model.D, job.discriminator);
  if (model.Gema) T.setWeights(model.Gema, job.generator);
  if (job.iterations) { model.adamD.iterations = job.iterations.d; model.adamG.iterations = job.iterations.g; }
  const flat = (a) => Float64Array.from(a.flat(Infinity));
  const rows = job.g_noise.length;
  const values = T.update(model, job.real.map(flat), job.d_noise.map(flat), flat(job.g_noise),
                          job.mix.map(flat), rows);
  process.stdout.write(JSON.stringify({ values, generator: T.getWeights(model.G),
    discriminator: T.getWeights(model.D), ema: model.Gema ? T.getWeights(model.Gema) : null }));
});
"""


_missing = skip_or_fail  # node missing: skip here, fail in CI


def _run_node(job: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed (apt-get install nodejs): the browser's 2-D trainer was not run")
    result = subprocess.run([node, "-e", NODE_DRIVER, str(TOY_JS)], input=json.dumps(job),
                            capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


# ---- data and scores ----
def test_presets_keep_the_literature_parameters():
    ring = mode_centres("ring8")
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), 2.0)
    grid = mode_centres("grid25")
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0] and len(grid) == 25
    points = sample_points("ring8", 20000, seed=1)
    spread = np.linalg.norm(points - ring[np.linalg.norm(points[:, None] - ring[None], axis=2).argmin(1)], axis=1)
    assert points.dtype == np.float32 and abs(np.sqrt(np.mean(spread ** 2) / 2) - 0.02) < 0.002


def test_mode_scores_count_modes_and_quality():
    real = sample_points("ring8", 2500, seed=0)
    scores = mode_scores(real, "ring8")
    assert scores["modes_covered"] == 8 and scores["high_quality"] > 0.98
    collapsed = np.repeat(mode_centres("ring8")[:3], 834, axis=0)[:2500]
    assert mode_scores(collapsed, "ring8")["modes_covered"] == 3
    off = real + np.float32(0.2)  # every point 0.28 from its mode: covered nowhere
    assert mode_scores(off, "ring8")["high_quality"] == 0.0
    with pytest.raises(ValueError, match="no modes"):
        mode_scores(real, "moons")


def test_js_divergence_is_zero_for_the_same_cloud_and_large_for_disjoint_ones():
    real = sample_points("moons", 4000, seed=0)
    assert js_divergence(real, sample_points("moons", 4000, seed=1), extent=2.5)["js"] < 0.1
    ring = sample_points("ring8", 4000, seed=1)
    assert js_divergence(real * 0.3, ring, extent=2.5)["js"] > 0.6  # disjoint: near ln 2


def test_toy_config_names_bad_fields():
    with pytest.raises(ValueError, match="loss must be one of"):
        ToyConfig(loss="nope")
    with pytest.raises(ValueError, match=r"hidden_units must be a whole number in \[1, 512\]"):
        ToyConfig(hidden_units=0)
    assert ToyConfig.textbook().r1_gamma == 0 and ToyConfig().r1_gamma > 0


def test_the_grid_gets_larger_networks_in_both_recipes():
    from gan_core.toy import recipe_for

    ring, grid = recipe_for("ring8"), recipe_for("grid25", textbook=True, seed=3)
    assert (ring.hidden_units, ring.depth) == (32, 2)
    assert (grid.hidden_units, grid.depth, grid.r1_gamma, grid.seed) == (64, 3, 0.0, 3)
    assert grid.lr_half_life == 0 and recipe_for("grid25").lr_half_life > 0  # the default grid decays its rate


# ---- Keras and the browser agree ----
def _job(config: ToyConfig, seed: int = 0, steps_done: int = 0):
    """A ToyGAN, one update's draws, and the browser's job; `steps_done` whole steps already taken (the
    optimizers' counters, which the learning-rate schedule and Adam's bias correction read)."""
    from gan_core.toy_models import build_toy_gan

    gan = build_toy_gan(config)
    if steps_done:
        for optimizer, network, count in ((gan.d_optimizer, gan.discriminator, config.d_steps * steps_done),
                                          (gan.g_optimizer, gan.generator, steps_done)):
            optimizer.build(network.trainable_variables)
            optimizer.iterations.assign(count)
    rng = np.random.default_rng(seed)
    batch, steps = config.batch_size, config.d_steps
    arrays = dict(real=sample_points(config.dataset, steps * batch, rng).reshape(steps, batch, 2),
                  d_noise=rng.normal(size=(steps, batch, config.latent_dim)).astype(np.float32),
                  g_noise=rng.normal(size=(batch, config.latent_dim)).astype(np.float32),
                  mix=rng.uniform(size=(steps, batch, 1)).astype(np.float32))
    job = {"config": config.to_dict(), "generator": [w.tolist() for w in gan.generator.get_weights()],
           "discriminator": [w.tolist() for w in gan.discriminator.get_weights()],
           **{name: value.tolist() for name, value in arrays.items()}}
    if steps_done:
        job["iterations"] = {"d": config.d_steps * steps_done, "g": steps_done}
    return gan, arrays, job


def _assert_close(browser, keras_weights, what, learning_rate):
    # Adam's first step moves each weight by lr * g / (|g| + 1e-7): about lr wherever the gradient is not tiny,
    # so a wrong gradient shows as an error of order lr. Where |g| is near 1e-7, float32 rounding of g (Keras
    # computes in float32, the browser in float64) moves the step by a fraction of lr: 1% of lr is allowed.
    for i, (ours, theirs) in enumerate(zip(browser, keras_weights)):
        ours = np.asarray(ours).reshape(theirs.shape)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=0.01 * learning_rate, err_msg=f"{what} array {i}")


@pytest.mark.parametrize("loss", GAN_LOSSES)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_one_update_agrees_with_keras(loss, activation):
    config = ToyConfig(loss=loss, activation=activation, hidden_units=16, depth=2, batch_size=32, d_steps=2,
                       r1_gamma=0.5, gp_weight=1.0, label_smoothing=0.1, latent_dim=3, seed=4)
    gan, arrays, job = _job(config)
    before = [w.copy() for w in gan.discriminator.get_weights()]
    keras_values = gan.update_once(arrays["real"], arrays["d_noise"], arrays["g_noise"], arrays["mix"])
    browser = _run_node(job)
    assert not np.allclose(before[0], gan.discriminator.get_weights()[0])  # the update did move D
    lr = config.g_learning_rate
    _assert_close(browser["discriminator"], gan.discriminator.get_weights(), "discriminator", lr)
    _assert_close(browser["generator"], gan.generator.get_weights(), "generator", lr)
    _assert_close(browser["ema"], gan.ema_generator.get_weights(), "generator average", lr)
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert browser["values"][name] == pytest.approx(keras_values[name], rel=1e-4, abs=1e-5), name


def test_the_learning_rate_schedule_is_the_same_formula_everywhere():
    from gan_core.toy_models import HalvingSchedule

    config = ToyConfig(lr_decay_start=100, lr_half_life=50, d_steps=2)
    steps = [0, 99, 100, 101, 150, 200, 333, 10_000]
    expected = [1e-3, 1e-3, 1e-3, 1e-3 * 0.5 ** (1 / 50), 5e-4, 2.5e-4, 1e-3 * 0.5 ** (233 / 50), 1e-3 * 0.5 ** 198]
    assert [config.learning_rate_at(1e-3, s) for s in steps] == pytest.approx(expected, rel=1e-12)
    assert ToyConfig().learning_rate_at(1e-3, 10_000) == 1e-3  # lr_half_life 0: constant
    schedule = HalvingSchedule(1e-3, 100, 50, per_step=2)  # D's: its counter runs d_steps times as fast
    assert [float(schedule(2 * s + 1)) for s in steps] == pytest.approx(expected, rel=1e-6)
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed (apt-get install nodejs): the browser's schedule was not run")
    script = ("const T = require(process.argv[1]); const c = JSON.parse(process.argv[2]);"
              "const steps = JSON.parse(process.argv[3]);"
              "console.log(JSON.stringify(steps.map((s) => T.learningRateAt(1e-3, 2 * s + 1, c, 2))))")
    result = subprocess.run([node, "-e", script, str(TOY_JS), json.dumps(config.to_dict()), json.dumps(steps)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="lr_half_life must be a whole number"):
        ToyConfig(lr_half_life=-1)


def test_an_update_after_the_rate_has_decayed_agrees_with_keras():
    """Two whole half-lives past the decay's start both trainers step with a quarter of the base rate."""
    config = ToyConfig(hidden_units=16, batch_size=32, d_steps=2, r1_gamma=0.5, seed=5, lr_decay_start=300,
                       lr_half_life=100)
    gan, arrays, job = _job(config, steps_done=500)
    before = [w.copy() for w in gan.generator.get_weights()]
    gan.update_once(arrays["real"], arrays["d_noise"], arrays["g_noise"], arrays["mix"])
    browser = _run_node(job)
    # Adam's first step from zero moments at t = 501 moves a weight by at most
    # lr * sqrt(1 - 0.999^501) / (1 - 0.5^501) * 0.5 / sqrt(1 - 0.999) = 9.9 lr
    lr = config.learning_rate_at(config.g_learning_rate, 500)
    moved = np.abs(gan.generator.get_weights()[0] - before[0]).max()
    assert 9 * lr < moved < 11 * lr  # the decayed rate, not the base one (4 times larger)
    _assert_close(browser["discriminator"], gan.discriminator.get_weights(), "discriminator", 10 * lr)
    _assert_close(browser["generator"], gan.generator.get_weights(), "generator", 10 * lr)
    _assert_close(browser["ema"], gan.ema_generator.get_weights(), "generator average", 10 * lr)
    constant = _run_node(dict(job, config=config.replace(lr_half_life=0).to_dict()))
    assert not np.allclose(np.asarray(constant["generator"][0]), np.asarray(browser["generator"][0]), atol=10 * lr)


def test_the_penalty_changes_the_update():
    """R1's double backprop is exercised: without it the browser's discriminator would differ from Keras's."""
    config = ToyConfig(hidden_units=8, batch_size=16, r1_gamma=50.0, seed=1)
    gan, arrays, job = _job(config)
    job_without = dict(job, config=config.replace(r1_gamma=0.0).to_dict())
    with_r1, without_r1 = _run_node(job), _run_node(job_without)
    assert not np.allclose(np.asarray(with_r1["discriminator"][0]), np.asarray(without_r1["discriminator"][0]),
                           atol=1e-5)


# ---- the command line ----
def _cli(*args):
    import sys

    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def test_cli_trains_the_2d_model_and_samples_points(tmp_path):
    run = _cli("train", "--model", "toy", "--dataset", "ring8", "--steps", "200", "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    assert "modes covered" in run.stdout
    sample = _cli("sample", "--weights", str(tmp_path / "run"), "--n", "300", "--out", str(tmp_path / "p.npy"))
    assert sample.returncode == 0, sample.stderr
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (300, 2) and points.dtype == np.float32 and np.isfinite(points).all()
    refused = _cli("train", "--model", "toy", "--dataset", "mnist", "--steps", "5", "--out", str(tmp_path / "x"))
    assert refused.returncode == 2 and "the 2-D model trains on ring8, grid25" in refused.stderr
    unused = _cli("train", "--dataset", "grid25", "--architecture", "conv", "--steps", "5", "--out", str(tmp_path / "y"))
    assert unused.returncode == 2 and "--architecture" in unused.stderr


def _main(*args):
    """The CLI in this process (no second TensorFlow start): (exit code, stdout, stderr)."""
    import contextlib
    import io

    from gan_core.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, a flag that is not a number
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_sets_the_learning_rate_schedule_of_the_2d_model(tmp_path):
    code, _, err = _main("train", "--dataset", "grid25", "--hidden-units", "4", "--steps", "2", "--lr-decay-start",
                         "123", "--lr-half-life", "0", "--out", str(tmp_path / "run"))
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "toy_config.json").read_text())
    assert (saved["lr_decay_start"], saved["lr_half_life"]) == (123, 0)  # the grid's own recipe: 8,000, 2,000
    code, helped, _ = _main("train", "--help")
    assert code == 0 and "--lr-decay-start" in helped and "--lr-half-life" in helped
    assert "0 = off" in " ".join(helped.split())


@pytest.mark.parametrize("flag, value", [("--lr-half-life", "-1"), ("--lr-decay-start", "-5"),
                                         ("--lr-half-life", "20000000")])
def test_cli_refuses_a_bad_learning_rate_schedule(tmp_path, flag, value):
    code, _, err = _main("train", "--model", "toy", "--steps", "5", flag, value, "--out", str(tmp_path / "run"))
    assert code == 2 and f"error: {flag} must be a whole number of steps" in err
    assert not (tmp_path / "run").exists()


def test_cli_refuses_the_schedule_for_the_digit_models(tmp_path):
    code, _, err = _main("train", "--steps", "5", "--lr-half-life", "100", "--out", str(tmp_path / "run"))
    assert code == 2 and "--lr-half-life: only the 2-D model" in err
    code, _, err = _main("train", "--model", "toy", "--steps", "5", "--lr-decay-start", "soon", "--out",
                         str(tmp_path / "x"))
    assert code == 2 and "--lr-decay-start" in err
