"""The shipped models: which folders, what each one is, loaded once per server and shared read-only."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from gan_core import checkpoints
from ui import state

LOG = logging.getLogger(__name__)

PRETRAINED_ROOT = state.ROOT / "pretrained"
QUALITY_FILE = state.ROOT / "benchmarks" / "quality.json"  # written by the evaluate command; optional
LIVE_SAMPLES = 2000  # samples behind a live quality measurement on the compare page
SESSION = "session"  # the picker's value for this session's trained model


@dataclass(frozen=True)
class Shipped:
    name: str  # folder under pretrained/
    label: str
    description: str


SHIPPED = (
    Shipped("gan", "GAN", "The documented GAN: two dense networks, non-saturating loss."),
    Shipped("cgan", "Conditional GAN", "The same GAN told which digit to draw: the label joins z and the image."),
    Shipped("wgan_gp", "WGAN-GP", "The documented networks trained as a Wasserstein critic with a gradient penalty."),
    Shipped("dcgan", "DCGAN", "A small convolutional GAN: transposed convolutions draw, convolutions judge."),
    Shipped("vae", "VAE (16-D)", "A variational autoencoder: an encoder, a decoder, and a latent space shaped "
                                 "like N(0, I)."),
    Shipped("vae2d", "VAE (2-D)", "A VAE squeezed to a 2-D latent, so the whole space fits on one picture."),
    Shipped("ae", "Autoencoder", "A plain autoencoder: learns to reconstruct, never told what its latent space "
                                 "should look like."),
)
BY_NAME = {shipped.name: shipped for shipped in SHIPPED}


def folder_of(name: str) -> Path:
    # The documented GAN keeps its override (GAN_LAB_PRETRAINED) and its home in ui/state.
    return state.pretrained_folder() if name == "gan" else PRETRAINED_ROOT / name


def _weights(name: str) -> Path | None:
    try:
        return checkpoints.resolve_weights_folder(folder_of(name))
    except checkpoints.CheckpointError:
        return None


def available() -> tuple[list[Shipped], list[Shipped]]:
    """(the shipped models whose weights are here, those that are missing)."""
    present = [shipped for shipped in SHIPPED if _weights(shipped.name) is not None]
    return present, [shipped for shipped in SHIPPED if shipped not in present]


def missing_note(missing: list[Shipped]) -> str:
    if not missing:
        return ""
    names = ", ".join(f"{s.label} (`{folder_of(s.name)}`)" for s in missing)
    return f"Not shipped in this copy of the app, so left out: {names}."


def load(name: str, directions: bool = True) -> tuple[state.LoadedModel | None, str]:
    """A shipped model by folder name (shared by everyone), or None and a message saying what to do.

    Principal directions (GANSpace) are computed the first time a page reads them, so `directions` only
    says whether the caller will; pages that never read them pay nothing.
    """
    if name == "gan":
        return _documented_gan()
    shipped, weights = BY_NAME[name], _weights(name)
    if weights is None:
        return None, (f"No weights for the {shipped.label} at `{folder_of(name)}`; `scripts/train_pretrained.sh "
                      f"{name}` makes them (see pretrained/README.md).")
    return state.load_folder(weights, shipped.label)


def _documented_gan() -> tuple[state.LoadedModel | None, str]:
    loaded, message = state.pretrained()
    if loaded is None:
        return None, message
    # Named like its siblings in the picker ("GAN (60,000 steps)"), not "Pretrained (...)".
    loaded.label = loaded.label.replace("Pretrained", BY_NAME["gan"].label, 1)
    return loaded, ""


def quality_reports() -> tuple[dict, str]:
    """The committed quality numbers (model folder name -> evaluation report), or {} and why there are none."""
    if not QUALITY_FILE.is_file():
        return {}, f"No saved quality numbers (`{QUALITY_FILE.name}`) yet."
    try:
        reports = json.loads(QUALITY_FILE.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        LOG.warning("reading %s failed: %s", QUALITY_FILE, exc)
        return {}, f"The saved quality numbers (`{QUALITY_FILE.name}`) cannot be read."
    if not isinstance(reports, dict):
        return {}, f"`{QUALITY_FILE}` should hold a JSON object of model name -> report."
    return {name: report for name, report in reports.items() if isinstance(report, dict)}, ""
