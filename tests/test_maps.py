"""Latent maps (manifold grid, label paths, fitted Gaussian) and the conditional GAN's soft labels."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core import maps
from gan_core.config import GANConfig
from gan_core.models import build_model


def test_normal_quantiles_are_the_inverse_cdf():
    np.testing.assert_allclose(maps.normal_quantiles(3, 0.05, 0.95), [-1.644854, 0.0, 1.644854], atol=1e-5)
    np.testing.assert_allclose(maps.normal_quantiles(2, 0.025, 0.975), [-1.959964, 1.959964], atol=1e-5)


@pytest.mark.parametrize("count, low, high, message", [(1, 0.05, 0.95, "count"), (3, 0.0, 0.9, "low"),
                                                       (3, 0.6, 0.4, "low"), (3, 0.1, 1.0, "low")])
def test_normal_quantiles_reject_bad_arguments(count, low, high, message):
    with pytest.raises(ValueError, match=message):
        maps.normal_quantiles(count, low, high)


def test_latent_plane_grid_reads_like_a_picture():
    grid = maps.latent_plane_grid(3, 0.05, 0.95)
    q = 1.644854
    assert grid.shape == (9, 2)
    np.testing.assert_allclose(grid[0], [-q, q], atol=1e-5)  # top left: smallest z0, largest z1
    np.testing.assert_allclose(grid[2], [q, q], atol=1e-5)  # top right
    np.testing.assert_allclose(grid[4], [0, 0], atol=1e-5)  # centre
    np.testing.assert_allclose(grid[8], [q, -q], atol=1e-5)  # bottom right
    assert maps.latent_plane_grid(20).shape == (400, 2)


def test_label_path_walks_from_one_class_to_another():
    path = maps.label_path(3, 8, 5)
    assert path.shape == (5, 10)
    np.testing.assert_array_equal(path[0], np.eye(10)[3])
    np.testing.assert_array_equal(path[-1], np.eye(10)[8])
    np.testing.assert_allclose(path[2, [3, 8]], [0.5, 0.5])
    np.testing.assert_allclose(path.sum(axis=1), 1.0)


@pytest.mark.parametrize("start, end, steps, message", [(10, 1, 5, "start"), (1, -1, 5, "end"), (1, 2, 1, "steps")])
def test_label_path_rejects_bad_arguments(start, end, steps, message):
    with pytest.raises(ValueError, match=message):
        maps.label_path(start, end, steps)


def test_fit_gaussian_recovers_mean_and_covariance_and_samples_from_it():
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    fitted = maps.fit_gaussian(codes)
    np.testing.assert_allclose(fitted.mean, [1.0, 1.0])
    np.testing.assert_allclose(fitted.covariance, [[4 / 3, 0.0], [0.0, 4 / 3]])
    draws = maps.sample_gaussian(fitted, 20000, seed=1)
    assert draws.shape == (20000, 2) and draws.dtype == np.float32
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, 1.0], atol=0.05)
    np.testing.assert_array_equal(draws[:5], maps.sample_gaussian(fitted, 20000, seed=1)[:5])
    with pytest.raises(ValueError, match="codes"):
        maps.fit_gaussian(np.zeros((1, 2)))


def test_soft_labels_match_hard_labels_and_blend_between_them():
    model = build_model(GANConfig(model="cgan", hidden_units=16, latent_dim=4))
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(model.generate_soft(z, np.eye(10)[[1, 5, 9]]), model.generate(z, labels=[1, 5, 9]),
                               atol=1e-6)
    path = model.generate_soft(np.repeat(z[:1], 3, axis=0), maps.label_path(1, 5, 3))
    assert path.shape == (3, 28, 28) and not np.allclose(path[1], path[0]) and not np.allclose(path[1], path[2])
    with pytest.raises(ValueError, match="one row per z"):
        model.generate_soft(z, np.eye(10)[:2])


def test_soft_labels_need_a_conditional_gan():
    with pytest.raises(ValueError, match="conditional GAN"):
        build_model(GANConfig(hidden_units=16, latent_dim=4)).generate_soft(np.zeros((1, 4)), np.eye(10)[:1])
