"""The command line: python -m gan_core {train, sample, project, evaluate, export, train-classifier} (each: --help)."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

from gan_core.checkpoints import KEEP_CHECKPOINTS
from gan_core.config import ARCHITECTURES, GAN_LOSSES, LIKELIHOODS, MODELS, GANConfig
from gan_core.limits import MAX_PROJECT_DIGITS

USAGE_ERROR = 2
MIN_EVALUATE_SAMPLES = 100
DEFAULT_CHECKPOINT_MINUTES = 5.0
MAX_SAMPLES = 200_000  # 630 MB of float32 digits: more is a typo, not a sample
MAX_SEED = 2**32 - 1  # what numpy's generators accept
MAX_EPOCHS = 1000
# Recipe fields --resume may change: the optimisers start afresh on a resume (only weights are saved), so a
# lower rate for a last phase (the usual end of a GAN's schedule) continues the same run cleanly.
RESUME_MAY_CHANGE = ("g_learning_rate", "d_learning_rate")
MAX_PROJECT = MAX_PROJECT_DIGITS  # digits one project command takes (gan_core/limits.py)
MAX_PROJECT_STEPS = 5000  # Adam steps: the loss has long flattened by then
TOY_MODEL = "toy"  # the 2-D playground's GAN (gan_core.toy); its datasets are gan_core.toy.TOY_DATASETS
CHOICES = {"loss": GAN_LOSSES, "model": MODELS + (TOY_MODEL,), "architecture": ARCHITECTURES,
           "likelihood": LIKELIHOODS}

# CLI flag -> config field, for every field that is not spelled the same.
FLAG_HELP = {
    "latent_dim": "size of z", "hidden_units": "width of both hidden layers",
    "image_size": "image side in pixels (28 for MNIST)", "batch_size": "images per step",
    "g_learning_rate": "generator Adam learning rate", "d_learning_rate": "discriminator Adam learning rate",
    "beta1": "Adam beta1 of both optimizers", "beta2": "Adam beta2 of both optimizers",
    "gp_weight": "WGAN-GP gradient-penalty weight", "kl_weight": "VAE: weight of the KL term",
    "kl_warmup_steps": "VAE: ramp the KL weight linearly from 0 over this many steps (0 = off)",
    "likelihood": "ae / vae: the decoder's likelihood, bernoulli or gaussian (one learned variance)",
    "model": "gan, cgan (conditional), ae (autoencoder), vae", "architecture": "dense (documented) or conv (DCGAN)", "d_steps": "discriminator updates per generator update",
    "label_smoothing": "one-sided: real targets become 1 - this", "loss": "generator loss",
    "r1_gamma": "R1 gradient-penalty weight on real images (0 = off)",
    "r1_every": "lazy R1: apply the penalty on one discriminator update in this many, weighted as many times",
    "ema_decay": "generator weight averaging for sampling (0 = off)",
    "steps_per_call": "training steps fused into one traced call", "seed": "random seed",
    "dataset": "mnist-sample (offline), mnist, fashion_mnist, idx:FOLDER, folder:FOLDER (images; sub-folders "
               "0-9 label them), zip:FILE, data:NAME (a folder under GAN_LAB_DATA_ROOT); join with '+'",
}


# Flags only the 2-D model (--model toy) reads: gan_core.toy.ToyConfig fields GANConfig does not have.
TOY_FLAG_HELP = {
    "lr_decay_start": "2-D model: keep both learning rates constant for this many steps, then start halving them "
                      "(0 = from the first step; used only with --lr-half-life above 0)",
    "lr_half_life": "2-D model: after --lr-decay-start, halve both learning rates every this many steps "
                    "(0 = off: constant rates)",
}


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    defaults = GANConfig()
    for field in fields(GANConfig):
        default = getattr(defaults, field.name)
        kwargs = dict(dest=field.name, default=None, help=f"{FLAG_HELP.get(field.name, field.name)} "
                                                           f"(default {default})")
        if field.name in CHOICES:
            kwargs["choices"] = CHOICES[field.name]
        else:
            kwargs["type"] = type(default)
        parser.add_argument(_flag(field.name), **kwargs)
    parser.add_argument("--plain", action="store_true",
                        help="start from the textbook recipe (no smoothing, no averaging, no penalty)")
    for name, help_text in TOY_FLAG_HELP.items():
        parser.add_argument(_flag(name), dest=name, type=int, default=None, metavar="STEPS",
                            help=f"{help_text} (default: the preset's recipe; grid25 decays, ring8 does not)")


def _config_from_args(args: argparse.Namespace, base: GANConfig | None = None) -> GANConfig:
    if base is None:
        base = GANConfig.plain() if args.plain else GANConfig()
    changes = {f.name: getattr(args, f.name) for f in fields(GANConfig) if getattr(args, f.name) is not None}
    try:
        return base.replace(**changes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _check_writable_folder(folder: Path, flag: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {folder}: cannot write there ({exc.strerror or exc}); choose another folder.") from exc


PROGRESS_LABELS = {"d_loss": "d_loss", "g_loss": "g_loss", "d_real": "D(x)", "d_fake": "D(G(z))",
                   "gradient_penalty": "GP", "loss": "loss", "recon_loss": "recon", "kl_loss": "KL"}


def _progress_line(snapshot, target: int, started: float) -> str:
    done = snapshot.step
    width = 24
    filled = int(width * min(done / target, 1.0)) if target else width
    losses = " ".join(f"{label} {snapshot.latest(name):.3f}" for name, label in PROGRESS_LABELS.items()
                      if name in snapshot.history)
    return (f"[{'#' * filled}{'.' * (width - filled)}] step {done}/{target} "
            f"| {snapshot.steps_per_second:6.1f} steps/s | {losses} | {time.perf_counter() - started:5.0f}s")


def _is_toy(args: argparse.Namespace) -> bool:
    from gan_core.toy import TOY_DATASETS

    return args.model == TOY_MODEL or (args.dataset in TOY_DATASETS)


def cmd_train_toy(args: argparse.Namespace) -> int:
    """The 2-D GAN: `train --model toy --dataset ring8` (gan_core.toy's recipe; --plain: the textbook one)."""
    from gan_core.toy import INT_RANGES, MODE_DATASETS, TOY_DATASETS, mode_scores, recipe_for

    if args.steps is None or args.steps < 1:
        raise UsageError(f"--steps must be a positive number of steps (got {args.steps}).")
    if args.resume:
        raise UsageError("--resume is not available for the 2-D model (--model toy); its runs take seconds.")
    dataset = args.dataset or "ring8"
    if dataset not in TOY_DATASETS:
        raise UsageError(f"--dataset {dataset}: the 2-D model trains on {', '.join(TOY_DATASETS)}.")
    toy_fields = [name for name in ("hidden_units", "latent_dim", "batch_size", "d_steps", "loss", "r1_gamma", "gp_weight",
                                 "label_smoothing", "ema_decay", "g_learning_rate", "d_learning_rate", "beta1",
                                 "beta2", "seed", *TOY_FLAG_HELP)]
    for name in TOY_FLAG_HELP:
        value = getattr(args, name)
        low, high = INT_RANGES[name]
        if value is not None and not low <= value <= high:
            raise UsageError(f"{_flag(name)} must be a whole number of steps in [{low}, {high:,}] "
                             f"(got {value}); 0 turns the decay off ({_flag('lr_half_life')}) or starts it at once "
                             f"({_flag('lr_decay_start')}).")
    changes = {name: getattr(args, name) for name in toy_fields if getattr(args, name) is not None}
    unused = [_flag(f.name) for f in fields(GANConfig) if getattr(args, f.name) is not None
              and f.name not in changes and f.name not in ("model", "dataset")]
    if unused:
        raise UsageError(f"{', '.join(unused)}: not used by the 2-D model (--model toy); drop them.")
    try:
        config = recipe_for(dataset, textbook=args.plain, **changes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"--out {out} already holds files; choose another --out.")
    _check_writable_folder(out, "--out")

    from gan_core.toy_models import build_toy_gan, save_toy, train_toy

    gan = build_toy_gan(config)
    print(f"training the 2-D GAN ({config.loss}, R1 {config.r1_gamma:g}) on {dataset}: {args.steps} steps",
          flush=True)
    started = time.perf_counter()

    def on_chunk(step, values):
        if step % 1000 == 0 or step == args.steps:
            print(f"step {step}/{args.steps} | d_loss {values['d_loss']:.3f} g_loss {values['g_loss']:.3f} | "
                  f"{time.perf_counter() - started:5.0f}s", flush=True)

    train_toy(gan, args.steps, on_chunk=on_chunk)
    state = {"step": args.steps, "wall_time_s": round(time.perf_counter() - started, 1), "command": args.command_line}
    if dataset in MODE_DATASETS:
        scores = mode_scores(gan.sample(2500, seed=0), dataset)
        state.update(modes_covered=scores["modes_covered"], high_quality=round(scores["high_quality"], 4))
        print(f"modes covered {scores['modes_covered']}/{scores['modes_total']}, "
              f"high-quality samples {100 * scores['high_quality']:.1f}% (2,500 samples)")
    save_toy(gan, out, state)
    print(f"done: {args.steps} steps in {state['wall_time_s']:.1f} s; weights in {out}")
    return 0


def cmd_sample_toy(args: argparse.Namespace) -> int:
    import numpy as np

    from gan_core.toy_models import load_toy

    try:
        gan = load_toy(args.weights)
    except ValueError as exc:
        raise UsageError(f"--weights: {exc}") from exc
    points = gan.sample(args.n, seed=args.seed).astype(np.float32)
    _atomic_save(Path(args.out), lambda p: np.save(p, points))
    print(f"wrote {points.shape[0]} points {points.shape[1:]} (float32 x, y) to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if _is_toy(args):
        return cmd_train_toy(args)
    toy_only = [_flag(name) for name in TOY_FLAG_HELP if getattr(args, name) is not None]
    if toy_only:
        raise UsageError(f"{', '.join(toy_only)}: only the 2-D model (--model toy) has a learning-rate schedule; "
                         f"drop them or add --model toy.")
    from gan_core import checkpoints
    from gan_core.data import DatasetError, load_dataset
    from gan_core.lab import create_run

    if args.steps is None or args.steps < 1:
        raise UsageError(f"--steps must be a positive number of steps (got {args.steps}).")
    if args.checkpoint_every < 1:
        raise UsageError(f"--checkpoint-every must be positive (got {args.checkpoint_every}).")
    if not (math.isfinite(args.checkpoint_minutes) and args.checkpoint_minutes > 0):
        raise UsageError(f"--checkpoint-minutes must be a positive number of minutes (got {args.checkpoint_minutes}).")
    if args.max_seconds is not None and not (math.isfinite(args.max_seconds) and args.max_seconds > 0):
        raise UsageError(f"--max-seconds must be positive (got {args.max_seconds}).")
    if args.keep_checkpoints < 0:
        raise UsageError(f"--keep-checkpoints must be 0 (keep all) or a positive count (got {args.keep_checkpoints}).")
    out = Path(args.out)
    existing = checkpoints.list_checkpoints(out)
    model, start_step, history = None, 0, {}
    if args.resume:
        if not existing:
            raise UsageError(f"--resume: {out} holds no checkpoint to resume; drop --resume to start a new run.")
        try:
            model, saved_config, state = checkpoints.load_model(out)
            start_step = int(state.get("step", 0))
            # History is written before its checkpoint: rows past the checkpoint belong to steps being redone.
            history = checkpoints.read_history_csv(out / checkpoints.HISTORY_FILE, up_to_step=start_step)
        except (checkpoints.CheckpointError, TypeError, ValueError) as exc:
            raise UsageError(f"--resume: {exc}") from exc
        config = _config_from_args(args, base=saved_config)
        changed = [f.name for f in fields(GANConfig) if getattr(config, f.name) != getattr(saved_config, f.name)]
        fixed = [name for name in changed if name not in RESUME_MAY_CHANGE]
        if fixed:
            raise UsageError(f"--resume keeps the saved config (only the learning rates may change); these flags "
                             f"differ from it: {', '.join(fixed)}.")
        if changed:  # the optimisers start afresh on a resume, so a new rate is a clean second phase
            model.set_learning_rates(config.g_learning_rate, config.d_learning_rate)
            print(f"note: from step {start_step} on, learning rates G {config.g_learning_rate:g}, D "
                  f"{config.d_learning_rate:g} (were G {saved_config.g_learning_rate:g}, D "
                  f"{saved_config.d_learning_rate:g})", file=sys.stderr)
        checkpoints.remove_stale_temporaries(out)
        checkpoints.remove_stale_temporaries(out / checkpoints.CHECKPOINTS_DIR)
    else:
        config = _config_from_args(args)
        if existing or (out / checkpoints.CONFIG_FILE).exists():
            raise UsageError(f"--out {out} already holds a run; pass --resume to continue it or choose another --out.")
    _check_writable_folder(out, "--out")
    if start_step >= args.steps:
        print(f"{out} is already at step {start_step} >= --steps {args.steps}; nothing to do.")
        return 0

    try:
        dataset = load_dataset(config.dataset)
        run = create_run(config, dataset, model=model, total_steps=args.steps, start_step=start_step,
                         chunk_steps=min(500, args.checkpoint_every))
    except DatasetError as exc:
        raise UsageError(f"--dataset: {exc}") from exc
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"training a {config.display_name} on {dataset.name}: {len(dataset)} images; "
          f"{args.steps - start_step} steps to go", flush=True)
    if history:  # continue the saved curves
        run.trainer.restore_history(history)
    started = time.perf_counter()
    tty = sys.stdout.isatty()
    last_print = [0.0]
    command = args.command_line

    # Chunks need not end on multiples of --checkpoint-every (a resumed run starts anywhere): save at the first
    # chunk end at or past each multiple, and whenever --checkpoint-minutes of wall time went by unsaved.
    next_save_step = [(start_step // args.checkpoint_every + 1) * args.checkpoint_every]
    last_save_time = [started]

    def save(snapshot) -> None:
        # History first: a kill between the two leaves rows past the checkpoint, which --resume drops.
        checkpoints.write_history_csv(out / checkpoints.HISTORY_FILE, snapshot.history)
        checkpoints.save_checkpoint(out, run.model, config, snapshot.step,
                                    {"wall_time_s": round(time.perf_counter() - started, 1), "command": command},
                                    keep=args.keep_checkpoints)
        next_save_step[0] = (snapshot.step // args.checkpoint_every + 1) * args.checkpoint_every
        last_save_time[0] = time.perf_counter()

    def on_chunk(snapshot) -> None:
        now = time.perf_counter()
        if tty or now - last_print[0] > 10 or snapshot.step >= args.steps:
            print(("\r" if tty else "") + _progress_line(snapshot, args.steps, started),
                  end="" if tty else "\n", flush=True)
            last_print[0] = now
        out_of_time = args.max_seconds is not None and now - started >= args.max_seconds
        due = snapshot.step >= next_save_step[0] or now - last_save_time[0] >= 60 * args.checkpoint_minutes
        if due or snapshot.step >= args.steps or out_of_time:
            save(snapshot)
        if out_of_time:
            run.trainer.stop(timeout=0)  # the blocking loop ends after this chunk

    try:
        snapshot = run.trainer.run(args.steps - start_step, on_chunk_end=on_chunk)
    except KeyboardInterrupt:
        print("\ninterrupted; the last checkpoint is intact.", file=sys.stderr)
        return 130
    if tty:
        print()
    if snapshot.status == "diverged":
        print(f"error: {snapshot.message}", file=sys.stderr)
        save(snapshot)
        return 1
    print(f"done: {snapshot.step} steps in {time.perf_counter() - started:.1f} s; weights in "
          f"{checkpoints.list_checkpoints(out)[-1]}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from gan_core.images import grid_png
    from gan_core.latent import sample_z

    if not 1 <= args.n <= MAX_SAMPLES:
        raise UsageError(f"--n must be a positive number of samples, at most {MAX_SAMPLES} (got {args.n}).")
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in [0, {MAX_SEED}] (got {args.seed}).")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise UsageError(f"--out {out}: give a file name ending in .npy.")
    png = Path(args.png) if args.png else None
    if png is not None and png.suffix.lower() != ".png":
        raise UsageError(f"--png {png}: give a file name ending in .png.")
    for path, flag in ((out, "--out"), (png, "--png")):
        if path is not None:
            _check_writable_folder(path.parent if str(path.parent) else Path("."), flag)
    from gan_core.toy import is_toy_run

    if is_toy_run(args.weights):
        if png is not None or args.label is not None:
            raise UsageError("--png and --label are for digit models; a 2-D run samples (N, 2) points only.")
        return cmd_sample_toy(args)
    model, config, _ = _load_weights(args.weights)
    if args.label is not None and config.model != "cgan":
        raise UsageError(f"--label works with a conditional GAN only; {args.weights} holds a {config.display_name}.")
    if args.label is not None and not 0 <= args.label <= 9:
        raise UsageError(f"--label must be a digit 0-9 (got {args.label}).")
    z = sample_z(args.n, config.latent_dim, args.seed)
    # A conditional GAN gets the asked-for label, or labels spread evenly (0, 1, ..., 9, 0, ...).
    labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % 10
    images = np.concatenate([model.generate(z[i:i + 1000], labels[i:i + 1000])
                             for i in range(0, args.n, 1000)]).astype(np.float32)
    _atomic_save(out, lambda p: np.save(p, images))
    if png is not None:
        _atomic_save(png, lambda p: Path(p).write_bytes(grid_png(images[:100], columns=10)))
    print(f"wrote {images.shape[0]} samples {images.shape[1:]} in [0, 1] to {out}" + (f" and a grid to {png}" if png else ""))
    return 0


def _read_digits(path: Path, flag: str):
    """(N, 28, 28) digits in [0, 1] from a .npy of floats in [0, 1] or uint8; UsageError names the flag and file.

    The file is parsed in the limited child (gan_core/sandbox.py) with its budgets checked first: whoever made
    it, the worst it can do is be refused."""
    from gan_core import projection, sandbox

    if path.suffix != ".npy":
        raise UsageError(f"{flag} {path}: give a .npy file holding (N, 28, 28) digits.")
    if not path.is_file():
        raise UsageError(f"{flag} {path}: no such file.")
    try:
        return projection.read_digits_file(path, f"{flag} {path}", max_digits=MAX_PROJECT)
    except sandbox.SandboxRefusal as refusal:
        raise UsageError(f"{refusal}.") from refusal
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot be read ({exc.strerror or exc}).") from exc


def labels_path(out: Path) -> Path:
    """Where a conditional GAN's projected labels go: beside the latents, Z.npy -> Z.labels.npy."""
    return out.with_name(out.stem + ".labels.npy")


def cmd_project(args: argparse.Namespace) -> int:
    import numpy as np

    from gan_core import projection
    from gan_core.classifier import DigitJudge
    from gan_core.images import grid_png

    outputs = {"--out": Path(args.out), "--recon": Path(args.recon)}
    for flag, path in outputs.items():
        if path.suffix != ".npy":
            raise UsageError(f"{flag} {path}: give a file name ending in .npy.")
    png = Path(args.png) if args.png else None
    if png is not None and png.suffix.lower() != ".png":
        raise UsageError(f"--png {png}: give a file name ending in .png.")
    for flag, path in (*outputs.items(), ("--png", png)):
        if path is not None:
            _check_writable_folder(path.parent if str(path.parent) else Path("."), flag)
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in [0, {MAX_SEED}] (got {args.seed}).")
    if args.steps > MAX_PROJECT_STEPS:
        raise UsageError(f"--steps {args.steps}: at most {MAX_PROJECT_STEPS:,} (200 is the default).")
    try:
        settings = projection.ProjectionSettings(steps=args.steps, restarts=args.restarts, seed=args.seed)
    except ValueError as exc:
        raise UsageError(f"--steps/--restarts: {exc}.") from exc
    digits = _read_digits(Path(args.images), "--images")
    model, config, _ = _load_weights(args.weights)
    try:
        judge = DigitJudge.load(args.classifier)
    except FileNotFoundError as exc:
        raise UsageError(f"--classifier: {exc}") from exc
    started = time.time()

    def on_progress(done: int, total: int) -> None:
        print(f"\rprojecting {len(digits)} digit(s): step {done}/{total}", end="", file=sys.stderr, flush=True)

    found = projection.project(model, digits, judge, settings, on_progress=on_progress)
    if not projection.uses_encoder(model):
        print(file=sys.stderr)
    _atomic_save(outputs["--out"], lambda p: np.save(p, found.z))
    _atomic_save(outputs["--recon"], lambda p: np.save(p, found.images.astype(np.float32)))
    written = [f"latents {found.z.shape} to {outputs['--out']}", f"projections to {outputs['--recon']}"]
    if found.labels is not None:
        labels_file = labels_path(outputs["--out"])
        _atomic_save(labels_file, lambda p: np.save(p, found.labels.astype(np.int64)))
        written.append(f"the conditional GAN's labels to {labels_file}")
    if png is not None:  # pairs: each input beside its projection, ten pairs a row
        pairs = np.stack([digits[:50], found.images[:50]], axis=1).reshape(-1, 28, 28)
        _atomic_save(png, lambda p: Path(p).write_bytes(grid_png(pairs, columns=10)))
        written.append(f"a grid (input, projection) to {png}")
    same = float((judge.predict_labels(found.images) == judge.predict_labels(digits)).mean())
    print(f"projected {len(digits)} digit(s) with {config.display_name} in {time.time() - started:.1f} s: mean "
          f"pixel error {float(found.pixel_error.mean()):.4f}, classifier reads the same digit for {same:.0%}")
    print("wrote " + ", ".join(written))
    return 0


def _atomic_save(path: Path, write) -> None:
    from gan_core.checkpoints import atomic_write

    atomic_write(path, write)


def _load_weights(weights, need_discriminator: bool = False):
    """(model, config, state) from a weights folder, a run folder or a bundle .zip."""
    from gan_core import bundle, checkpoints

    try:
        if bundle.is_bundle_path(weights):
            return bundle.load_bundle_model(weights, need_discriminator=need_discriminator)
        return checkpoints.load_model(weights, need_discriminator=need_discriminator)
    except (checkpoints.CheckpointError, bundle.BundleError) as exc:
        raise UsageError(f"--weights: {exc}") from exc


def cmd_export(args: argparse.Namespace) -> int:
    from gan_core import bundle, checkpoints

    out = Path(args.out)
    if out.suffix.lower() != ".zip":
        raise UsageError(f"--out {out}: give a file name ending in .zip.")
    if out.exists():
        raise UsageError(f"--out {out} already exists; choose another name or delete it first.")
    if bundle.is_bundle_path(args.weights):
        raise UsageError(f"--weights {args.weights}: already a bundle; give a run folder or a weights folder.")
    _check_writable_folder(out.parent if str(out.parent) else Path("."), "--out")
    try:
        bundle.export_bundle(args.weights, out)
    except checkpoints.CheckpointError as exc:
        raise UsageError(f"--weights: {exc}") from exc
    print(f"wrote {out} ({out.stat().st_size:,} bytes): config, weights, state, history, sample grid, manifest")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from gan_core import bundle, checkpoints
    from gan_core.classifier import DigitJudge
    from gan_core.data import load_dataset
    from gan_core.evaluation import REFERENCE_DATASET, evaluate_generator, format_table

    if args.n < MIN_EVALUATE_SAMPLES:
        raise UsageError(f"--n must be at least {MIN_EVALUATE_SAMPLES} samples (got {args.n}); "
                         f"10000 gives stable numbers.")
    if args.n > MAX_SAMPLES:
        raise UsageError(f"--n must be at most {MAX_SAMPLES} samples (got {args.n}); 10000 gives stable numbers.")
    if not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be in [0, {MAX_SEED}] (got {args.seed}).")
    json_path = Path(args.json) if args.json else None
    if json_path is not None:
        if json_path.suffix != ".json":
            raise UsageError(f"--json {json_path}: give a file name ending in .json.")
        _check_writable_folder(json_path.parent if str(json_path.parent) else Path("."), "--json")
    if bundle.is_bundle_path(args.weights):
        folder = Path(args.weights)
    else:
        try:
            folder = checkpoints.resolve_weights_folder(args.weights)
        except checkpoints.CheckpointError as exc:
            raise UsageError(f"--weights: {exc}") from exc
    model, config, state = _load_weights(folder)
    try:
        judge = DigitJudge.load(args.classifier)
    except FileNotFoundError as exc:
        raise UsageError(f"--classifier: {exc}") from exc
    except Exception as exc:  # not HDF5, truncated, other shapes
        raise UsageError(f"--classifier {args.classifier}: its weights cannot be loaded "
                         f"({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}).") from exc
    real = load_dataset(REFERENCE_DATASET)
    print(f"evaluating {folder} (step {state.get('step', '?')}, trained on {config.dataset}): "
          f"{args.n} samples against {len(real)} real digits ({REFERENCE_DATASET})", flush=True)
    started = time.perf_counter()
    report = evaluate_generator(model.generate, config.latent_dim, judge, real.images, n=args.n, seed=args.seed,
                                dataset=config.dataset)
    report.update(weights=str(folder), step=state.get("step"), dataset=config.dataset, reference=REFERENCE_DATASET,
                  classifier=str(args.classifier), wall_time_s=round(time.perf_counter() - started, 1),
                  command=args.command_line)
    print(format_table(report))
    if json_path is not None:
        _atomic_save(json_path, lambda p: Path(p).write_text(json.dumps(report, indent=2) + "\n"))
        print(f"wrote {json_path}")
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from gan_core.classifier_training import train_classifier
    from gan_core.data import DatasetError

    if not 1 <= args.epochs <= MAX_EPOCHS:
        raise UsageError(f"--epochs must be in [1, {MAX_EPOCHS}] (got {args.epochs}).")
    out = Path(args.out)
    _check_writable_folder(out, "--out")
    command = args.command_line
    try:
        report = train_classifier(args.dataset, args.holdout, out, epochs=args.epochs, seed=args.seed, command=command)
    except DatasetError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(report, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_core", description="Train and sample the documented GAN.")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up log, hidden by default (or set GAN_LAB_VERBOSE=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,project,evaluate,export,train-classifier}")

    train = commands.add_parser("train", help="train a GAN and write checkpoints",
                                description="Train the documented GAN; writes OUT/config.json, OUT/history.csv "
                                            "and OUT/checkpoints/step-N/*.weights.h5 (atomically).")
    train.add_argument("--out", required=True, help="run folder, e.g. runs/first")
    train.add_argument("--steps", type=int, default=20000, help="train until this many steps in total (default 20000)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its newest checkpoint (its saved recipe; only "
                            "--g-learning-rate and --d-learning-rate may differ, for a last phase at a lower rate)")
    train.add_argument("--checkpoint-every", type=int, default=5000, help="steps between checkpoints (default 5000)")
    train.add_argument("--checkpoint-minutes", type=float, default=DEFAULT_CHECKPOINT_MINUTES,
                       help="also checkpoint after this much wall time without one, so a killed run loses at most "
                            f"that (default {DEFAULT_CHECKPOINT_MINUTES:g})")
    train.add_argument("--max-seconds", type=float, help="also stop (with a checkpoint) after this much wall time")
    train.add_argument("--keep-checkpoints", type=int, default=KEEP_CHECKPOINTS,
                       help="how many of the newest checkpoints to keep; 0 keeps every one, for a quality curve "
                            f"(default {KEEP_CHECKPOINTS})")
    _add_config_flags(train)
    train.set_defaults(handler=cmd_train)

    sample = commands.add_parser("sample", help="draw samples from trained weights",
                                 description="Write float32 (N, 28, 28) samples in [0, 1] to a .npy file.")
    sample.add_argument("--weights", required=True,
                        help="a run folder written by train, pretrained/gan, or a bundle .zip written by export")
    sample.add_argument("--n", type=int, default=5000, help="number of samples (default 5000)")
    sample.add_argument("--out", required=True, help="output .npy file")
    sample.add_argument("--seed", type=int, default=0, help="seed of the latent vectors (default 0)")
    sample.add_argument("--png", help="also write a 10x10 grid of the first samples to this .png")
    sample.add_argument("--label", type=int, help="conditional GAN only: draw this digit (default: all ten, evenly)")
    sample.set_defaults(handler=cmd_sample)

    project = commands.add_parser(
        "project", help="find the latent vectors of given digits",
        description="Project digits onto a model: the encoder for an autoencoder or VAE, an optimisation of z "
                    "(restarts, Adam, pixel + classifier-feature loss, a prior on z) for a GAN; a conditional "
                    "GAN's label is chosen too. Writes float32 latents (N, latent_dim) to --out, a conditional "
                    "GAN's int64 labels (N,) beside them (Z.npy -> Z.labels.npy) and the generated pictures "
                    "(N, 28, 28) in [0, 1] to --recon.")
    project.add_argument("--weights", required=True,
                         help="a run folder written by train, pretrained/gan, or a bundle .zip written by export")
    project.add_argument("--images", required=True, help="a .npy of (N, 28, 28) digits, floats in [0, 1] or uint8 "
                         f"(at most {MAX_PROJECT:,}; read in a limited child process, like an upload)")
    project.add_argument("--out", required=True, help="the latents, a .npy file")
    project.add_argument("--recon", required=True, help="the projections (generated pictures), a .npy file")
    project.add_argument("--png", help="also write a grid of (input, projection) pairs for the first 50 digits")
    project.add_argument("--steps", type=int, default=200, help="GANs: Adam steps (default 200)")
    project.add_argument("--restarts", type=int, default=3, help="GANs: random starts per digit (default 3)")
    project.add_argument("--seed", type=int, default=0, help="seed of the starting z (default 0)")
    project.add_argument("--classifier", default="pretrained/classifier",
                         help="folder of the digit classifier whose features the loss uses (default "
                              "pretrained/classifier)")
    project.set_defaults(handler=cmd_project)

    evaluate = commands.add_parser("evaluate", help="score a generator's samples with the digit classifier",
                                   description="FID, KID, Inception score, class coverage and precision/recall of "
                                               "generated digits against the 5,000 real mnist-sample digits, beside "
                                               "the same metrics for real against real (the floor).")
    evaluate.add_argument("--weights", required=True,
                          help="a run folder written by train, pretrained/gan, or a bundle .zip written by export")
    evaluate.add_argument("--n", type=int, default=10000, help="number of generated samples (default 10000)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the latent vectors (default 0)")
    evaluate.add_argument("--json", help="also write the full report to this .json file")
    evaluate.add_argument("--classifier", default="pretrained/classifier",
                          help="folder of the digit classifier (default pretrained/classifier)")
    evaluate.set_defaults(handler=cmd_evaluate)

    export = commands.add_parser("export", help="write a model bundle (.zip) to download or share",
                                 description="One .zip holding the config, weights-only .weights.h5 files, state, "
                                             "history, a sample grid and a manifest of SHA-256 checksums; sample "
                                             "and evaluate take it as --weights.")
    export.add_argument("--weights", required=True, help="a run folder (its newest checkpoint) or a weights folder")
    export.add_argument("--out", required=True, help="the bundle to write, ending in .zip (never overwritten)")
    export.set_defaults(handler=cmd_export)

    classifier = commands.add_parser("train-classifier", help="train the digit classifier used to judge samples",
                                     description="Train a small CNN on labelled digits; report its accuracy on "
                                                 "a held-out labelled set it never trained on.")
    classifier.add_argument("--dataset", required=True, help="labelled training digits, e.g. idx:FOLDER")
    classifier.add_argument("--holdout", default="mnist-sample", help="labelled held-out digits (default mnist-sample)")
    classifier.add_argument("--out", default="pretrained/classifier", help="output folder")
    classifier.add_argument("--epochs", type=int, default=12)
    classifier.add_argument("--seed", type=int, default=0)
    classifier.set_defaults(handler=cmd_train_classifier)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)  # argparse itself exits 2 on unknown flags
    args.command_line = "python -m gan_core " + " ".join(shlex.quote(a) for a in argv)
    from gan_core.checkpoints import CheckpointError
    from gan_core.data import DatasetError
    from gan_core.quiet import VERBOSE_ENV, prefer_one_intra_op_thread, silence_tensorflow

    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    if args.handler in (cmd_train, cmd_project):  # small ops: one thread each trains faster (see the function)
        prefer_one_intra_op_thread()
    silence_tensorflow()
    try:
        return args.handler(args)
    except (UsageError, CheckpointError, DatasetError) as exc:
        # The package's own errors name the input and the fix; anything else is a bug and keeps its traceback.
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
