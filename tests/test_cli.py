"""The command line: train / sample end to end on tiny settings, and every usage error path (exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_core.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-units", "16", "--latent-dim", "8", "--batch-size", "16", "--steps-per-call", "5"]


def _train(out, steps=20, *extra):
    return main(["train", "--out", str(out), "--steps", str(steps), "--checkpoint-every", "10", *TINY, *extra])


def test_train_writes_checkpoints_config_history_then_sample_reads_them(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run) == 0
    checkpoints = sorted((run / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == ["step-00000010", "step-00000020"]
    assert {p.name for p in checkpoints[-1].iterdir()} == {
        "generator.weights.h5", "discriminator.weights.h5", "generator_ema.weights.h5", "config.json", "state.json"}
    config = json.loads((run / "config.json").read_text())
    assert config["hidden_units"] == 16 and config["kind"] == "GANConfig"
    state = json.loads((checkpoints[-1] / "state.json").read_text())
    assert state["step"] == 20 and "python -m gan_core train" in state["command"]
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,time,d_loss,g_loss") and len(history) == 1 + 4

    samples = tmp_path / "s.npy"
    png = tmp_path / "grid.png"
    assert main(["sample", "--weights", str(run), "--n", "30", "--out", str(samples), "--png", str(png)]) == 0
    array = np.load(samples)
    assert array.shape == (30, 28, 28) and array.dtype == np.float32
    assert array.min() >= 0 and array.max() <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # same seed -> same samples; another seed -> others
    again = tmp_path / "again.npy"
    other = tmp_path / "other.npy"
    main(["sample", "--weights", str(run), "--n", "30", "--out", str(again)])
    main(["sample", "--weights", str(run), "--n", "30", "--out", str(other), "--seed", "5"])
    np.testing.assert_array_equal(np.load(again), array)
    assert not np.allclose(np.load(other), array)


def test_resume_continues_from_the_newest_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, 10) == 0
    assert _train(run, 20, "--resume") == 0
    assert (run / "checkpoints" / "step-00000020").is_dir()
    history = (run / "history.csv").read_text().splitlines()
    steps = [int(float(line.split(",")[0])) for line in history[1:]]
    assert steps == [5, 10, 15, 20]


def test_weights_save_load_round_trip(tmp_path):
    from gan_core import checkpoints
    from gan_core.config import GANConfig
    from gan_core.models import build_gan

    config = GANConfig(hidden_units=16, latent_dim=8, seed=4)
    model = build_gan(config)
    for network in model.weight_networks().values():  # make every network distinct from a fresh build
        network.set_weights([w + np.random.default_rng(1).normal(size=w.shape).astype(np.float32)
                             for w in network.get_weights()])
    folder = checkpoints.save_weights_folder(tmp_path / "w", model, config, {"step": 7})
    loaded, loaded_config, state = checkpoints.load_model(folder)
    assert loaded_config == config and state == {"step": 7}
    for stem, network in model.weight_networks().items():
        for a, b in zip(network.get_weights(), loaded.weight_networks()[stem].get_weights()):
            np.testing.assert_array_equal(a, b)
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    np.testing.assert_array_equal(model.generate(z), loaded.generate(z))
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary folder left behind


def _usage_error(capsys, argv, match):
    with pytest.raises(SystemExit) as raised:
        code = main(argv)
        raise SystemExit(code)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert match in err, err
    assert len([line for line in err.strip().splitlines() if "error:" in line]) == 1
    return err


def test_negative_steps(tmp_path, capsys):
    _usage_error(capsys, ["train", "--out", str(tmp_path / "r"), "--steps", "-5"], "--steps must be a positive")
    assert not (tmp_path / "r").exists()


def test_unknown_flag(tmp_path, capsys):
    _usage_error(capsys, ["train", "--out", str(tmp_path / "r"), "--learning-rat", "1"], "unrecognized arguments")


def test_bad_config_value_names_the_field(tmp_path, capsys):
    _usage_error(capsys, ["train", "--out", str(tmp_path / "r"), "--beta1", "2"], "beta1 must be in")


def test_unknown_dataset_lists_choices(tmp_path, capsys):
    _usage_error(capsys, ["train", "--out", str(tmp_path / "r"), "--dataset", "cifar", "--steps", "5"], "mnist-sample")


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, 10) == 0
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    _usage_error(capsys, ["train", "--out", str(run), "--steps", "10", *TINY], "already holds a run")
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_resume_without_checkpoint(tmp_path, capsys):
    _usage_error(capsys, ["train", "--out", str(tmp_path / "empty"), "--resume"], "holds no checkpoint")


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _usage_error(capsys, ["train", "--out", str(blocker / "run"), "--steps", "5"], "cannot write there")
    _usage_error(capsys, ["sample", "--weights", str(tmp_path), "--out", str(blocker / "s.npy")], "cannot write there")


def test_sample_missing_weights(tmp_path, capsys):
    _usage_error(capsys, ["sample", "--weights", str(tmp_path / "nope"), "--out", str(tmp_path / "s.npy")],
                 "no such folder")
    _usage_error(capsys, ["sample", "--weights", str(tmp_path), "--out", str(tmp_path / "s.npy")],
                 "no generator/decoder weights")


def test_sample_wrong_shape_weights_and_nothing_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, 10) == 0
    newest = sorted((run / "checkpoints").iterdir())[-1]
    config = json.loads((newest / "config.json").read_text())
    config["hidden_units"] = 32  # the weights were made with 16
    (newest / "config.json").write_text(json.dumps(config))
    out = tmp_path / "s.npy"
    out.write_bytes(b"precious")
    _usage_error(capsys, ["sample", "--weights", str(run), "--out", str(out)], "cannot be loaded")
    assert out.read_bytes() == b"precious"


def test_sample_bad_n_and_suffix(tmp_path, capsys):
    _usage_error(capsys, ["sample", "--weights", str(tmp_path), "--out", str(tmp_path / "s.npy"), "--n", "0"],
                 "--n must be a positive")
    _usage_error(capsys, ["sample", "--weights", str(tmp_path), "--out", str(tmp_path / "s.txt")], "ending in .npy")


def test_help_for_each_command():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in ([], ["train"], ["sample"], ["train-classifier"], ["evaluate"], ["export"], ["project"]):
        result = subprocess.run([sys.executable, "-m", "gan_core", *command, "--help"], capture_output=True,
                                text=True, env=env, timeout=120)
        assert result.returncode == 0 and "usage:" in result.stdout
    train_help = subprocess.run([sys.executable, "-m", "gan_core", "train", "--help"], capture_output=True,
                                text=True, env=env, timeout=120).stdout
    for flag in ("--g-learning-rate", "--d-learning-rate", "--beta1", "--d-steps", "--label-smoothing",
                 "--seed", "--batch-size", "--latent-dim", "--ema-decay", "--r1-gamma", "--dataset"):
        assert flag in train_help


def test_exit_code_two_from_a_real_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "gan_core", "train", "--out", str(tmp_path / "r"), "--steps", "0"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "error: --steps must be a positive" in result.stderr


def test_gan_core_never_imports_streamlit():
    offenders = []
    for path in (ROOT / "gan_core").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import streamlit", "from streamlit")) or "import_module(\"streamlit" in stripped:
                offenders.append(f"{path.name}:{number}")
    assert offenders == []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = ("import sys, gan_core.lab, gan_core.checkpoints, gan_core.latent, gan_core.images, "
             "gan_core.classifier, gan_core.__main__; print('streamlit' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_max_seconds_stops_with_a_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "100000", "--checkpoint-every", "10", "--max-seconds",
                 "0.001", *TINY]) == 0
    checkpoints = sorted((run / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == ["step-00000010"]
    _usage_error(capsys, ["train", "--out", str(tmp_path / "r2"), "--max-seconds", "0"], "--max-seconds must be positive")


def _saved_steps(run):
    return [int(p.name.split("-")[1]) for p in sorted((run / "checkpoints").iterdir())]


def test_checkpoint_every_saves_at_the_first_chunk_end_past_each_multiple(tmp_path, capsys):
    run = tmp_path / "run"  # chunks are 500 steps: ends at 500, 1000, 1500, ... never on a multiple of 1200
    assert main(["train", "--out", str(run), "--steps", "2600", "--checkpoint-every", "1200", *TINY]) == 0
    assert _saved_steps(run) == [1500, 2500, 2600]


def test_keep_checkpoints_zero_keeps_every_checkpoint_for_a_quality_curve(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "50", "--checkpoint-every", "10", "--keep-checkpoints", "0",
                 *TINY]) == 0
    assert _saved_steps(run) == [10, 20, 30, 40, 50]  # the default keeps the newest three
    assert main(["train", "--out", str(tmp_path / "bad"), "--keep-checkpoints", "-1", *TINY]) == 2
    assert "--keep-checkpoints" in capsys.readouterr().err


def test_a_run_resumed_off_the_grid_keeps_saving_periodically(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "25", "--checkpoint-every", "10", *TINY]) == 0
    assert _saved_steps(run) == [10, 20, 25]
    assert main(["train", "--out", str(run), "--steps", "60", "--checkpoint-every", "10", "--resume", *TINY]) == 0
    assert _saved_steps(run) == [45, 55, 60]  # chunk ends 35, 45, 55, 60: the first past 30, 40, 50, 60


def test_checkpoint_minutes_saves_on_wall_time_between_step_multiples(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "1200", "--checkpoint-every", "100000",
                 "--checkpoint-minutes", "0.00001", *TINY]) == 0
    assert _saved_steps(run) == [500, 1000, 1200]
    quiet = tmp_path / "quiet"
    assert main(["train", "--out", str(quiet), "--steps", "1200", "--checkpoint-every", "100000", *TINY]) == 0
    assert _saved_steps(quiet) == [1200]
    for bad in ("0", "-1", "nan", "inf"):
        _usage_error(capsys, ["train", "--out", str(tmp_path / "r"), "--checkpoint-minutes", bad],
                     "--checkpoint-minutes must be a positive number of minutes")


def test_resume_drops_history_rows_written_past_the_checkpoint(tmp_path, capsys):
    from gan_core import checkpoints

    run = tmp_path / "run"
    assert _train(run, 20) == 0
    history = checkpoints.read_history_csv(run / "history.csv")
    # A kill between the history write and its checkpoint: rows up to 30, newest checkpoint at 20.
    checkpoints.write_history_csv(run / "history.csv", {name: np.concatenate([series, series[-2:] + (
        10 if name == "step" else 0)]) for name, series in history.items()})
    assert _train(run, 30, "--resume") == 0
    steps = checkpoints.read_history_csv(run / "history.csv")["step"]
    assert steps.tolist() == [5, 10, 15, 20, 25, 30]


@pytest.mark.parametrize("argv, message", [
    (["sample", "--weights", "pretrained/gan", "--n", "10", "--out", "{tmp}/s.npy", "--seed", "-1"], "--seed"),
    (["sample", "--weights", "pretrained/gan", "--n", "100000000", "--out", "{tmp}/s.npy"], "--n"),
    (["evaluate", "--weights", "pretrained/gan", "--n", "100000000"], "--n"),
    (["evaluate", "--weights", "pretrained/gan", "--n", "200", "--seed", "-3"], "--seed"),
    (["evaluate", "--weights", "pretrained/gan", "--n", "200", "--classifier", "{tmp}"], "--classifier"),
    (["train", "--out", "{tmp}/r", "--hidden-units", "1000000000"], "hidden_units"),
    (["train", "--out", "{tmp}/r", "--max-seconds", "nan"], "--max-seconds"),
    (["train-classifier", "--dataset", "idx:{tmp}/none", "--out", "{tmp}/c", "--epochs", "1"], "idx:"),
    (["train-classifier", "--dataset", "mnist-sample", "--out", "{tmp}/c", "--epochs", "100000"], "--epochs"),
])
def test_hostile_cli_inputs_are_one_line_exit_2(tmp_path, capsys, argv, message):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    _usage_error(capsys, argv, message)


def test_resume_of_a_corrupt_run_is_one_line_exit_2(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, 10) == 0
    (run / "history.csv").write_text("step,time\n1,2,3\nx\n")
    _usage_error(capsys, ["train", "--out", str(run), "--steps", "20", "--checkpoint-every", "10", "--resume", *TINY],
                 "history.csv")
    (run / "checkpoints" / "step-00000010" / "generator.weights.h5").write_bytes(b"not hdf5")
    _usage_error(capsys, ["train", "--out", str(run), "--steps", "20", "--checkpoint-every", "10", "--resume", *TINY],
                 "generator.weights.h5")


def test_cli_stderr_is_free_of_tensorflow_start_up_noise(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("GAN_LAB_VERBOSE", None)
    argv = [sys.executable, "-m", "gan_core", "sample", "--weights", str(ROOT / "pretrained" / "gan"), "--n", "10",
            "--out", str(tmp_path / "s.npy")]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    loud = subprocess.run([argv[0], "-m", "gan_core", "--verbose", *argv[3:]], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert loud.returncode == 0 and loud.stderr != ""  # the switch still shows them


def test_resume_may_lower_the_learning_rates_and_nothing_else(tmp_path, capsys, monkeypatch):
    import gan_core.lab as lab  # the train command imports create_run from there when it runs

    trained_at = []  # the optimisers' rates of the model each run trains

    def create_run(config, dataset, *, model=None, **kwargs):
        run = real_create_run(config, dataset, model=model, **kwargs)
        trained_at.append((float(run.model.g_optimizer.learning_rate), float(run.model.d_optimizer.learning_rate)))
        return run

    real_create_run = lab.create_run
    monkeypatch.setattr(lab, "create_run", create_run)
    run = tmp_path / "run"
    assert _train(run, 10) == 0
    _usage_error(capsys, ["train", "--out", str(run), "--steps", "20", "--checkpoint-every", "10", "--resume", *TINY,
                          "--batch-size", "32"], "batch_size")
    assert _train(run, 20, "--resume", "--g-learning-rate", "1e-4", "--d-learning-rate", "5e-5") == 0
    assert "learning rates G 0.0001, D 5e-05" in capsys.readouterr().err
    for folder in (run, run / "checkpoints" / "step-00000020"):  # the run and its newest checkpoint say so
        config = json.loads((folder / "config.json").read_text())
        assert (config["g_learning_rate"], config["d_learning_rate"]) == (1e-4, 5e-5)
    assert _train(run, 30, "--resume") == 0  # the new rates are the run's now: a plain resume keeps them
    assert json.loads((run / "config.json").read_text())["g_learning_rate"] == 1e-4
    assert trained_at[1:] == [pytest.approx((1e-4, 5e-5))] * 2 and trained_at[0] != trained_at[1]
