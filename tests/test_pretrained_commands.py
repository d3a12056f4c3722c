"""The commands recorded for the shipped models make the configs those models hold.

scripts/train_pretrained.sh is the record of how each folder under pretrained/ was made. A command that leans on
a default that has since changed (the learning rate became 1e-3 on 29 November, the batch 32 on 30 November) would
silently train something else, so each `train NAME ...` line is parsed with the CLI's own parser, on top of what
the script's `train` function adds, and compared field by field with `pretrained/NAME/config.json`. No training,
no network and no MNIST download (the dataset, a path on the machine that trained them, is not compared).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest

from gan_core.__main__ import _config_from_args, build_parser
from gan_core.config import GANConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_pretrained.sh"
AUTOENCODER_UNUSED = {"d_learning_rate"}  # an autoencoder has one optimizer (the G rate)


def _train_lines() -> dict[str, list[str]]:
    """NAME -> the arguments of its `NAME) train NAME ...` line (continuation lines joined)."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    return {match.group(1): shlex.split(match.group(3).split(";;")[0])
            for match in re.finditer(r"^\s*(\w+)\)\s+train (\w+) ([^\n]*)", text, re.M)
            if match.group(1) == match.group(2)}


def _wrapper_arguments() -> list[str]:
    """What the script's train() puts before a line's own arguments (its --dataset is replaced: not compared)."""
    [line] = [line for line in SCRIPT.read_text().splitlines()
              if "-m gan_core train " in line and "--resume" not in line]
    words = shlex.split(line.split("-m gan_core train", 1)[1].replace('"$@"', ""))
    return ["x" if "$" in word else word for word in words]  # the shell's variables: replaced by the test


COMMANDS = _train_lines()


def test_every_shipped_model_has_a_command():
    shipped = {path.parent.name for path in (ROOT / "pretrained").glob("*/config.json")}
    assert shipped and shipped <= set(COMMANDS), f"no train line for {sorted(shipped - set(COMMANDS))}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_recorded_command_makes_the_shipped_config(name):
    arguments = ["train", *_wrapper_arguments(), *COMMANDS[name]]
    arguments[arguments.index("--dataset") + 1] = "mnist-sample"
    arguments[arguments.index("--out") + 1] = "unused"
    made = _config_from_args(build_parser().parse_args(arguments))
    saved = json.loads((ROOT / "pretrained" / name / "config.json").read_text())
    shipped = GANConfig.from_dict(saved.get("config", saved))  # fields added since take their defaults
    ignored = {"dataset"} | (AUTOENCODER_UNUSED if not shipped.is_adversarial else set())
    differing = {field.name: (getattr(made, field.name), getattr(shipped, field.name)) for field in fields(GANConfig)
                 if field.name not in ignored and getattr(made, field.name) != getattr(shipped, field.name)}
    assert not differing, f"scripts/train_pretrained.sh's {name} command makes (command, shipped): {differing}"
