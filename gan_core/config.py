"""Typed, frozen configuration: every hyperparameter has one home and one default."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

from gan_core import limits

GAN_LOSSES = ("non_saturating", "minimax", "least_squares", "hinge", "wgan_gp")
LOGISTIC_LOSSES = ("non_saturating", "minimax")
MODELS = ("gan", "cgan", "ae", "vae")
# The decoder's likelihood p(x|z) for ae / vae: Bernoulli per pixel, or a Gaussian whose one shared variance is
# the batch's mean squared error, its maximum-likelihood value (the sigma-VAE of Rybkin et al. 2021).
LIKELIHOODS = ("bernoulli", "gaussian")
ARCHITECTURES = ("dense", "conv")
NUM_CLASSES = 10

# Every integer field's allowed range, inclusive. The tops keep a config from asking TensorFlow for memory no
# digit model needs (hidden_units 10**9 is a 3 TB weight matrix): the largest is still a generous model.
INT_RANGES = {
    "latent_dim": (1, limits.MAX_LATENT_DIM),
    "hidden_units": (1, limits.MAX_HIDDEN_UNITS),
    "image_size": (28, 28),  # every dataset and the DCGAN's layers are 28x28
    "batch_size": (1, 4096),
    "d_steps": (1, 100),
    "r1_every": (1, 1000),
    "steps_per_call": (1, 1000),
    "kl_warmup_steps": (0, 10_000_000),
    "seed": (0, 100_000_000),  # initializer seeds are seed * 10 + k and must stay within int32
}
# Adam's rate in the DCGAN paper and most GAN tutorials: the textbook recipe's, and the conditional GAN's and
# DCGAN's (their shipped weights were trained with it; the dense GAN's default is faster, see GANConfig).
TEXTBOOK_LEARNING_RATE = 2e-4
# The DCGAN paper's batch: the textbook recipe's, and every model's but the dense GAN's logistic losses (each was
# measured and shipped with it; the dense GAN's default is smaller, see GANConfig).
TEXTBOOK_BATCH_SIZE = 128
WGAN_GP_PAPER_LEARNING_RATE = 1e-4  # Gulrajani et al. 2017
WGAN_GP_DENSE_LEARNING_RATE = 1e-3  # the documented networks with the WGAN-GP loss (benchmarks/wgan_sweep.sh)
# Upper bounds of the non-negative weights; learning rates and betas have their own ranges below.
MAX_WEIGHT = 1000.0


@dataclass(frozen=True)
class GANConfig:
    """Hyperparameters of the documented GAN and of its training recipe.

    The network fields carry the design document's values. The recipe fields
    default to the stabilised recipe measured in benchmarks/README.md; the
    plain recipe is `GANConfig.plain()`.
    """

    # Which model of the family, and which networks. The documented GAN is model="gan", architecture="dense".
    model: str = "gan"  # gan, cgan (label-conditioned GAN), ae (autoencoder), vae
    architecture: str = "dense"  # dense (documented) or conv (a small DCGAN; gan only)

    # The documented networks.
    latent_dim: int = 100
    hidden_units: int = 256
    image_size: int = 28

    # The training recipe.
    # 32, not the textbook 128: on a CPU a step of these small networks costs mostly its fixed overhead, so batch 32
    # makes twice the steps in the same time and scores better after two minutes on every seed measured, ties after
    # five, and keeps all ten digits (benchmarks/README.md, "Batch size and R1, timed"). Other models pin 128.
    batch_size: int = 32
    # 1e-3, not the textbook 2e-4: with R1 and the weight average it reaches a given FID in under half the steps
    # and keeps all ten digits (benchmarks/README.md, "The default recipe"). Other models pin their own rates.
    g_learning_rate: float = 1e-3
    d_learning_rate: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # discriminator updates per generator update
    label_smoothing: float = 0.1  # one-sided: real targets are 1 - label_smoothing
    loss: str = "non_saturating"
    gp_weight: float = 10.0  # WGAN-GP only: weight of the gradient penalty (Gulrajani et al. 2017)
    kl_weight: float = 1.0  # VAE only: weight of the KL term of the ELBO
    kl_warmup_steps: int = 0  # VAE only: the KL weight ramps linearly from 0 to kl_weight over these steps
    likelihood: str = "bernoulli"  # ae / vae: the decoder's p(x|z), one of LIKELIHOODS
    r1_gamma: float = 1.0  # weight of the zero-centred gradient penalty on real images (Mescheder 2018)
    # Lazy R1 (StyleGAN2): the penalty on one discriminator update in r1_every, weighted r1_every times, so it
    # costs 1/r1_every of its work; 1 = every update.
    r1_every: int = 1
    ema_decay: float = 0.999  # generator weight averaging for sampling; 0 turns it off
    steps_per_call: int = 25  # training steps fused into one traced call

    seed: int = 0
    dataset: str = "mnist-sample"

    def __post_init__(self) -> None:
        problems = self._normalise_types()
        if problems:
            raise ValueError("; ".join(problems))
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def _normalise_types(self) -> list[str]:
        """Whole numbers become int and numbers float (2.0 -> 2, numpy scalars -> Python); 1.5 for an int is refused."""
        out = []
        for f in fields(self):
            value, kind = getattr(self, f.name), type(f.default)
            if kind is str:
                if not isinstance(value, str):
                    out.append(f"{f.name} must be a string (got {value!r})")
                continue
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if kind is int:
                if number and isinstance(value, numbers.Integral):
                    object.__setattr__(self, f.name, int(value))
                elif number and math.isfinite(value) and float(value).is_integer():
                    object.__setattr__(self, f.name, int(value))
                else:
                    low, high = INT_RANGES[f.name]
                    out.append(f"{f.name} must be a whole number in [{low}, {high}] (got {value!r})")
            elif kind is float:
                if number and math.isfinite(value):
                    object.__setattr__(self, f.name, float(value))
                else:
                    out.append(f"{f.name} must be a finite number (got {value!r})")
        return out

    def problems(self) -> list[str]:
        """Each invalid field, named, with the range it must be in."""
        out = []
        for name, (low, high) in INT_RANGES.items():
            value = getattr(self, name)
            if low == high and value != low:
                out.append(f"{name} must be {low} (got {value!r})")
            elif value > high:
                out.append(f"{name} {value} is over the limit: it must be an integer in [{low}, {high}]")
            elif value < low:
                out.append(f"{name} must be an integer in [{low}, {high}] (got {value!r})")
        for name in ("gp_weight", "kl_weight", "r1_gamma"):
            if getattr(self, name) > MAX_WEIGHT:
                out.append(f"{name} must be in [0, {MAX_WEIGHT:g}] (got {getattr(self, name)!r})")
        for name in ("g_learning_rate", "d_learning_rate"):
            value = getattr(self, name)
            if not (0 < value < 1):
                out.append(f"{name} must be in (0, 1) (got {value!r})")
        for name in ("beta1", "beta2"):
            if not (0 <= getattr(self, name) < 1):
                out.append(f"{name} must be in [0, 1) (got {getattr(self, name)!r})")
        if self.gp_weight < 0:
            out.append(f"gp_weight must be >= 0 (got {self.gp_weight!r})")
        if not (0 <= self.label_smoothing < 0.5):
            out.append(f"label_smoothing must be in [0, 0.5) (got {self.label_smoothing!r})")
        if not (0 <= self.ema_decay < 1):
            out.append(f"ema_decay must be in [0, 1) (got {self.ema_decay!r})")
        if self.r1_gamma < 0:
            out.append(f"r1_gamma must be >= 0 (got {self.r1_gamma!r})")
        if self.kl_weight < 0:
            out.append(f"kl_weight must be >= 0 (got {self.kl_weight!r})")
        if self.model not in MODELS:
            out.append(f"model must be one of {', '.join(MODELS)} (got {self.model!r})")
        if self.likelihood not in LIKELIHOODS:
            out.append(f"likelihood must be one of {', '.join(LIKELIHOODS)} (got {self.likelihood!r})")
        if self.architecture not in ARCHITECTURES:
            out.append(f"architecture must be one of {', '.join(ARCHITECTURES)} (got {self.architecture!r})")
        elif self.architecture == "conv" and self.model != "gan":
            out.append(f"architecture 'conv' is available for model 'gan' only (got model {self.model!r})")
        if self.loss not in GAN_LOSSES:
            out.append(f"loss must be one of {', '.join(GAN_LOSSES)} (got {self.loss!r})")
        return out

    @property
    def is_adversarial(self) -> bool:
        return self.model in ("gan", "cgan")

    @property
    def display_name(self) -> str:
        if self.model == "gan":
            name = "DCGAN" if self.architecture == "conv" else "GAN"
            return name if self.loss == "non_saturating" else f"{name} ({self.loss.replace('_', '-')})"
        return {"cgan": "Conditional GAN", "ae": "Autoencoder", "vae": f"VAE ({self.latent_dim}-D latent)"}[self.model]

    @property
    def image_pixels(self) -> int:
        return self.image_size * self.image_size

    @classmethod
    def plain(cls, **overrides: Any) -> "GANConfig":
        """The textbook recipe: Adam 2e-4, batch 128, no smoothing, no averaging, no penalty."""
        base = dict(label_smoothing=0.0, ema_decay=0.0, r1_gamma=0.0, g_learning_rate=TEXTBOOK_LEARNING_RATE,
                    d_learning_rate=TEXTBOOK_LEARNING_RATE, batch_size=TEXTBOOK_BATCH_SIZE)
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes: Any) -> "GANConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps({"kind": "GANConfig", **self.to_dict()}, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GANConfig":
        """Build from plain data, ignoring unknown keys. Values are checked, never evaluated or silently
        rounded: a wrong type or an out-of-range size raises ValueError naming the field and its range."""
        if not isinstance(data, dict):
            raise ValueError(f"a config is a mapping of field names to values (got {type(data).__name__})")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    # Fields whose change needs new networks (a rebuild); the others apply live.
    REBUILD_FIELDS = ("model", "architecture", "kl_weight", "kl_warmup_steps", "likelihood", "latent_dim", "hidden_units", "image_size", "batch_size", "d_steps", "beta1", "beta2",
                      "loss", "gp_weight", "label_smoothing", "r1_gamma", "r1_every", "ema_decay", "steps_per_call", "seed",
                      "dataset")


def recommended_config(model: str = "gan", loss: str = "non_saturating", architecture: str = "dense",
                       base: GANConfig | None = None) -> GANConfig:
    """The recipe each model of the family trains well with, on top of `base` (default GANConfig()).

    The Train page starts each model from it. The CLI's `train` does not: it starts from GANConfig() (or --plain)
    and the flags given, so the commands that made the shipped weights (scripts/train_pretrained.sh) still make them;
    pass the values below as flags to train a model the way the page does.
    - gan / cgan / DCGAN with a logistic, least-squares or hinge loss: the stabilised GAN recipe; Adam 1e-3 and
      batch 32 for the dense GAN's logistic losses, the textbook 2e-4 and 128 for the others (what they were
      measured and shipped with).
    - WGAN-GP: Adam(beta2 0.9) and 5 critic steps per generator step, as in Gulrajani et al. 2017; R1 and label
      smoothing off (the gradient penalty replaces them). Adam 1e-3 for the dense networks (measured: FID / floor
      34 after 7,500 steps, where the paper's 1e-4 had 56 after 20,000), the paper's 1e-4 for the DCGAN's.
    - ae / vae: one Adam(1e-3, beta1 0.9), batch 128 and a 16-D latent (2-D gives a latent map, at some cost in
      quality).
    The latent size of `base` is kept when it belongs to the same kind of model (adversarial or autoencoder).
    """
    base = base if base is not None else GANConfig()
    if model in ("ae", "vae"):
        latent_dim = base.latent_dim if base.model in ("ae", "vae") else 16
        return base.replace(model=model, architecture="dense", loss="non_saturating", latent_dim=latent_dim,
                            g_learning_rate=1e-3, d_learning_rate=1e-3, beta1=0.9, beta2=0.999,
                            batch_size=TEXTBOOK_BATCH_SIZE)
    defaults = GANConfig()
    recipe = dict(model=model, architecture=architecture, loss=loss,
                  latent_dim=base.latent_dim if base.is_adversarial else defaults.latent_dim,
                  g_learning_rate=defaults.g_learning_rate, d_learning_rate=defaults.d_learning_rate,
                  beta1=defaults.beta1, beta2=defaults.beta2, d_steps=defaults.d_steps,
                  label_smoothing=defaults.label_smoothing, r1_gamma=defaults.r1_gamma,
                  batch_size=defaults.batch_size)
    if model != "gan" or architecture != "dense" or loss not in ("non_saturating", "minimax"):
        # Measured at the faster rate and the smaller batch: the dense GAN's logistic losses only.
        recipe.update(g_learning_rate=TEXTBOOK_LEARNING_RATE, d_learning_rate=TEXTBOOK_LEARNING_RATE,
                      batch_size=TEXTBOOK_BATCH_SIZE)
    if loss == "wgan_gp":
        rate = WGAN_GP_DENSE_LEARNING_RATE if architecture == "dense" else WGAN_GP_PAPER_LEARNING_RATE
        recipe.update(g_learning_rate=rate, d_learning_rate=rate, beta2=0.9, d_steps=5, r1_gamma=0.0,
                      label_smoothing=0.0)
    return base.replace(**recipe)
