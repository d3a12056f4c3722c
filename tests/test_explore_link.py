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


def test_a_drawing_travels_whole_and_comes_back_byte_for_byte():
    projected = latent.sample_z(1, 100, 3)[0] * 1.7
    projected[5] = 0.0  # an exact zero is no entry, and still comes back as zero
    projected[9] = 25.0  # past the link's range: kept at its edge, on screen and in the link alike
    point = explore_link.canonical_point(projected)
    assert point[9] == explore_link.MAX_Z_VALUE and point[5] == 0.0
    assert np.max(np.abs(point - projected)[np.arange(100) != 9]) <= 0.0005 + 1e-6
    text = explore_link.encode_point(point)
    assert text.startswith(explore_link.PACKED_PREFIX) and len(text) < 300
    request = explore_link.parse_params({"drawn": text}, ["gan"], ["sliders"])
    assert request.ignored == [] and np.array_equal(explore_link.point_from_moves(request.drawn, 100), point)
    assert explore_link.point_from_moves(request.drawn, 64) is None  # another model's z: refused, not cut
    small = explore_link.canonical_point(np.array([1.23456, -0.5], np.float32))
    assert explore_link.encode_point(small) == "0_1.235~1_-0.5"  # a 2-D drawing stays readable


def test_a_hostile_drawing_costs_a_named_refusal():
    for text in ("x" * (explore_link.MAX_Z_CHARS + 1), "0_1e400", ".%%", "3_11"):
        request = explore_link.parse_params({"drawn": text}, ["gan"], ["sliders"])
        assert request.drawn is None and len(request.ignored) == 1 and request.ignored[0].startswith("`drawn`")
        assert text[:20] not in request.ignored[0]  # named, never echoed


def test_a_z_started_from_a_drawing_says_so_in_its_json():
    import json

    record = json.loads(explore_link.z_json_bytes(np.zeros(4, np.float32), "gan", None))
    assert record["start"] == "drawing" and "seed" not in record and record["latent_dim"] == 4
    assert json.loads(explore_link.z_json_bytes(np.zeros(4, np.float32), "gan", 5))["seed"] == 5
