"""The train page's pure helpers: per-model recipes and the discriminator histogram."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gan_core.config import TEXTBOOK_BATCH_SIZE, TEXTBOOK_LEARNING_RATE, GANConfig, recommended_config
from gan_core.train_views import score_histogram


def test_recommended_config_for_the_documented_gan_is_the_default():
    assert recommended_config("gan") == GANConfig()


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_autoencoders_get_one_fast_adam_and_a_16d_latent(model):
    config = recommended_config(model)
    assert (config.model, config.g_learning_rate, config.beta1, config.latent_dim) == (model, 1e-3, 0.9, 16)
    assert config.architecture == "dense"


def test_wgan_gp_gets_the_papers_recipe_with_r1_off():
    config = recommended_config("gan", "wgan_gp")
    # The paper's Adam(beta2 0.9) and 5 critic steps; the dense networks train at the rate measured for them.
    assert (config.g_learning_rate, config.d_learning_rate, config.beta2, config.d_steps) == (1e-3, 1e-3, 0.9, 5)
    assert config.r1_gamma == 0 and config.label_smoothing == 0 and config.loss == "wgan_gp"
    convolutional = recommended_config("gan", "wgan_gp", "conv")
    assert (convolutional.g_learning_rate, convolutional.d_steps, convolutional.r1_gamma) == (1e-4, 5, 0)


def test_switching_back_from_wgan_gp_restores_the_gan_recipe():
    config = recommended_config("cgan", "non_saturating", base=recommended_config("gan", "wgan_gp"))
    # The conditional GAN keeps the textbook rate and batch it was measured and shipped with (the dense GAN's
    # defaults are 1e-3 and 32).
    assert config == GANConfig(model="cgan", g_learning_rate=TEXTBOOK_LEARNING_RATE,
                               d_learning_rate=TEXTBOOK_LEARNING_RATE, batch_size=TEXTBOOK_BATCH_SIZE)


def test_only_the_dense_gans_logistic_losses_take_the_small_batch():
    assert recommended_config("gan").batch_size == recommended_config("gan", "minimax").batch_size == 32
    assert recommended_config("gan", base=recommended_config("cgan")).batch_size == 32
    others = [recommended_config("cgan"), recommended_config("gan", "non_saturating", "conv"),
              recommended_config("gan", "wgan_gp"), recommended_config("gan", "hinge"), recommended_config("vae"),
              recommended_config("ae"), GANConfig.plain()]
    assert [config.batch_size for config in others] == [TEXTBOOK_BATCH_SIZE] * len(others)


def test_latent_size_is_kept_within_a_kind_and_reset_across_kinds():
    small = GANConfig(latent_dim=8, hidden_units=16)
    assert recommended_config("gan", "hinge", base=small).latent_dim == 8
    assert recommended_config("vae", base=small).latent_dim == 16
    assert recommended_config("ae", base=recommended_config("vae").replace(latent_dim=2)).latent_dim == 2
    assert recommended_config("gan", base=recommended_config("vae")).latent_dim == 100
    assert recommended_config("gan", "non_saturating", "conv").architecture == "conv"


def test_recommended_config_rejects_what_the_config_rejects():
    with pytest.raises(ValueError, match="architecture 'conv' is available for model 'gan' only"):
        recommended_config("cgan", architecture="conv")


def test_score_histogram_counts_probabilities_over_fixed_bins():
    histogram = score_histogram(np.array([0.95, 0.99, 0.5]), np.array([0.01, 0.02, np.nan]), bins=10)
    assert histogram["lower"][0] == 0 and histogram["upper"][-1] == 1
    assert histogram["real"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert histogram["fake"].tolist() == [2] + [0] * 9  # NaN left out


def test_score_histogram_spans_raw_critic_scores():
    histogram = score_histogram(np.array([3.0, 5.0]), np.array([-2.0]), probabilities=False, bins=7)
    assert histogram["lower"][0] == -2 and histogram["upper"][-1] == 5
    assert histogram["real"].sum() == 2 and histogram["fake"].tolist() == [1] + [0] * 6
    flat = score_histogram(np.array([1.0]), np.array([1.0]), probabilities=False, bins=2)
    assert flat["lower"][0] < 1 < flat["upper"][-1]


def test_the_gradient_norm_text_does_not_call_a_normal_fall_unhealthy():
    """Default runs that drew good digits took G's norm from 1.23 to 0.08: a healthy run, read by this text."""
    from ui.train_text import GRAD_NORM_TEXT

    assert "order of magnitude" not in GRAD_NORM_TEXT
    assert "under 0.1" in GRAD_NORM_TEXT and "spikes" in GRAD_NORM_TEXT


def test_the_explore_copy_caption_never_shows_a_copy_ahead_of_training():
    from ui.train_text import copy_caption

    ahead = copy_caption("session:shared-abc:15200", 15125)  # the viewer's view lags the worker's weights
    assert "15,200" in ahead and "15,125" not in ahead and "15200" not in ahead
    behind = copy_caption("session:abc:9000", 12500)
    assert "9,000" in behind and "since reached step 12,500" in behind


def test_the_model_page_names_a_dcgans_layers_in_words():
    from gan_core.config import GANConfig
    from gan_core.networks import build_conv_discriminator, build_conv_generator, describe
    from ui.train_text import layer_words

    config = GANConfig(architecture="conv", hidden_units=8, latent_dim=4)
    rows = describe(build_conv_generator(config)) + describe(build_conv_discriminator(config))
    words = [layer_words(row["name"]) for row in rows]
    assert not any(re.search(r"_\d|_", word) for word in words), words
    assert "fully connected" in words and "batch normalisation" in words
    assert layer_words("dense_2") == "fully connected" and layer_words("re_lu_4") == "ReLU"
