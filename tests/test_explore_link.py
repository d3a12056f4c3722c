"""The Explore link: short when many values moved, and the very same digit either way."""

from __future__ import annotations

import numpy as np

from gan_core import explore_link, latent


def test_a_direction_slider_link_is_packed_short_and_reopens_the_same_z():
    base = latent.sample_z(1, 100, 7)[0]
    direction = np.random.default_rng(1).normal(size=100).astype(np.float32)
    z = explore_link.canonical_z(base + 0.8 * direction / np.linalg.norm(direction), base)  # every value moved
    text = explore_link.encode_z(z, base)
    assert text.startswith(explore_link.PACKED_PREFIX) and len(text) < 300  # was ~1,000 characters of pairs
    again, outside = explore_link.apply_z_moves(base, explore_link.parse_z_moves(text))
    assert outside == [] and np.array_equal(again, z)


def test_a_few_moves_keep_the_readable_pairs():
    base = latent.sample_z(1, 100, 7)[0]
    z = base.copy()
    z[3] = 1.25
    assert explore_link.encode_z(explore_link.canonical_z(z, base), base) == "3_1.25"


def test_a_hostile_packed_value_is_refused():
    assert explore_link.parse_z_moves(".%%%") is None
    assert explore_link.parse_z_moves(".AA") is None  # one byte: not a whole int16
    too_big = np.array([32000], "<i2").tobytes()
    import base64

    assert explore_link.parse_z_moves("." + base64.urlsafe_b64encode(too_big).decode().rstrip("=")) is None
