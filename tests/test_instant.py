"""Instant mode: the browser's generator matches the server's, the payload round-trips, the component mounts."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ci_support import skip_or_fail

from gan_core.browser_export import generator_payload, payload_weights
from gan_core.config import GANConfig
from gan_core.models import build_gan, build_model

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_JS = ROOT / "ui" / "instant_generator.js"

# Reads {"payload", "zs", "labels"} on stdin, prints one list of pixel values per z.
NODE_DRIVER = """
const { decodeWeights, generate } = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { payload, zs, labels } = JSON.parse(input);
  const weights = decodeWeights(payload);
  process.stdout.write(JSON.stringify(zs.map((z, i) => Array.from(generate(weights, z, labels[i])))));
});
"""


_missing = skip_or_fail  # node missing: skip here, fail in CI


def _run_node(payload: dict, zs: np.ndarray, labels=None) -> np.ndarray:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed (apt-get install nodejs): the in-browser generator "
                 "(ui/instant_generator.js) was not run")
    if not GENERATOR_JS.is_file():
        _missing(f"{GENERATOR_JS.relative_to(ROOT)} is missing: the in-browser generator was not run")
    result = subprocess.run([node, "-e", NODE_DRIVER, str(GENERATOR_JS)],
                            input=json.dumps({"payload": payload, "zs": zs.tolist(),
                                              "labels": [None] * len(zs) if labels is None else [int(label) for label in labels]}),
                            capture_output=True, text=True, timeout=60, check=True)
    return np.asarray(json.loads(result.stdout), np.float64)


def _latents(latent_dim: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([
        rng.standard_normal((6, latent_dim)),
        np.zeros((1, latent_dim)),
        3.0 * rng.standard_normal((2, latent_dim)),  # the slider ends and beyond: saturated pixels
        np.full((1, latent_dim), -3.0),
        np.where(np.arange(latent_dim) % 2 == 0, 6.0, -6.0)[None],
    ]).astype(np.float32)


def _assert_equal_to_float32_rounding(browser: np.ndarray, expected: np.ndarray) -> None:
    assert browser.shape == expected.shape
    assert np.abs(browser - expected).max() < 1e-4  # float64 sums against TensorFlow's float32
    grey_difference = np.abs(np.round(browser * 255) - np.round(expected * 255))
    assert grey_difference.max() <= 1


def _trained_like(model, seed: int = 1):
    """The same network with larger, trained-looking weights (and batchnorm statistics that are not 0 and 1),
    so many pixels sit far from 0.5 and every layer's arrays matter."""
    rng = np.random.default_rng(seed)
    scaled = build_model(model.config.replace(seed=model.config.seed + 1))
    arrays = [array * 4 + 0.1 * rng.standard_normal(array.shape).astype(np.float32)
              for array in model.sampler.get_weights()]
    if model.config.architecture == "conv":  # [dense 0-1, batchnorm 2-5, conv 6-7, batchnorm 8-11, conv 12-13]
        for variance in (5, 11):
            arrays[variance] = np.abs(arrays[variance]) + 0.5
    scaled.sampler.set_weights(arrays)
    return scaled


FAMILY = {
    "gan": GANConfig(seed=5),
    "wgan_gp": GANConfig(loss="wgan_gp", seed=5),
    "cgan": GANConfig(model="cgan", seed=5),
    "dcgan": GANConfig(architecture="conv", seed=5),
    "vae": GANConfig(model="vae", latent_dim=16, seed=5),
    "ae": GANConfig(model="ae", latent_dim=16, seed=5),
}


@pytest.mark.parametrize("name", list(FAMILY))
def test_browser_generator_matches_keras_for_every_model(name):
    model = build_model(FAMILY[name])
    zs = _latents(model.latent_dim)
    labels = np.arange(len(zs)) % 10 if name == "cgan" else None
    for candidate in (model, _trained_like(model)):
        expected = candidate.generate(zs, labels=labels) if name == "cgan" else candidate.generate(zs)
        expected = expected.reshape(len(zs), -1).astype(np.float64)
        browser = _run_node(generator_payload(candidate), zs, labels)
        assert browser.shape == (len(zs), 784)
        _assert_equal_to_float32_rounding(browser, expected)


def test_the_cgan_label_changes_the_browsers_digit():
    model = build_model(FAMILY["cgan"])
    z = np.repeat(_latents(100)[:1], 3, axis=0)
    browser = _run_node(generator_payload(model), z, [0, 7, 7])
    assert np.abs(browser[0] - browser[1]).max() > 1e-3 and np.array_equal(browser[1], browser[2])


def test_payload_round_trip_and_hash():
    documented_gan = build_gan(GANConfig(seed=5))
    payload = generator_payload(documented_gan)
    weights = documented_gan.sampler.get_weights()
    assert [layer["shapes"] for layer in payload["layers"]] == [{"kernel": [100, 256], "bias": [256]},
                                                                {"kernel": [256, 784], "bias": [784]}]
    assert [layer["activation"] for layer in payload["layers"]] == ["relu", "sigmoid"]
    assert (payload["latent_dim"], payload["classes"], payload["image_size"]) == (100, 0, 28)
    for decoded, original in zip(payload_weights(payload), weights, strict=True):
        assert decoded.dtype == np.float32
        np.testing.assert_array_equal(decoded, original)
    json.dumps(payload)  # JSON-ready as it stands

    assert generator_payload(documented_gan, include_arrays=False) == {
        name: value for name, value in payload.items() if name != "arrays"}
    changed = build_gan(GANConfig(seed=5))
    assert generator_payload(changed)["hash"] == payload["hash"]  # same seed, same weights, same hash
    changed_weights = changed.sampler.get_weights()
    changed_weights[3] = changed_weights[3] + np.float32(1e-3)
    changed.sampler.set_weights(changed_weights)
    assert generator_payload(changed)["hash"] != payload["hash"]


def _served_handle(config, source):
    """What a page holds for a model the inference worker serves (nothing is loaded until it is used)."""
    from gan_core.engine import ModelHandle

    return ModelHandle(None, "key", config, "a model", source=source)


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_the_page_exports_a_served_model_from_its_folder_or_arrays_as_keras_does(name, tmp_path):
    from gan_core.checkpoints import save_weights_folder

    model = _trained_like(build_model(FAMILY[name]))
    expected = generator_payload(model)
    folder = save_weights_folder(tmp_path / "weights", model, model.config, {"step": 0})
    from_folder = generator_payload(_served_handle(model.config, {"folder": str(folder)}))
    from_arrays = generator_payload(_served_handle(model.config, {"weights": {
        stem: network.get_weights() for stem, network in model.weight_networks().items()}}))
    assert from_folder == expected and from_arrays == expected


def test_the_page_exports_its_numpy_models():
    from gan_core.numpy_models import NumpyModel

    model = build_model(FAMILY["vae"])
    numpy_model = NumpyModel(model.config, {stem: network.get_weights()
                                            for stem, network in model.weight_networks().items()})
    assert generator_payload(numpy_model) == generator_payload(model)


@pytest.mark.parametrize("config, message", [
    (GANConfig(latent_dim=100), "do not match"),
])
def test_payload_refuses_weights_that_do_not_fit_the_config(config, message):
    wrong = build_gan(GANConfig(latent_dim=50))
    with pytest.raises(ValueError, match=message):
        generator_payload(_served_handle(config, {"weights": {"generator": wrong.sampler.get_weights()}}))


APP_SCRIPT = """
import numpy as np
import streamlit as st

from gan_core.config import GANConfig
from gan_core.models import build_gan
from ui.instant import instant_generator


@st.cache_resource
def model():
    return build_gan(GANConfig(hidden_units=16, latent_dim=8, seed=3))


if "z" not in st.session_state:
    st.session_state.z = np.zeros(8, np.float32)
released = instant_generator(model(), st.session_state.z, [0, 3, 7], key="instant")
st.session_state.answers = st.session_state.get("answers", []) + [None if released is None else released.tolist()]
if released is not None:
    st.session_state.z = released
"""


@pytest.fixture
def instant_app(tmp_path):
    from streamlit.testing.v1 import AppTest

    if not (ROOT / "ui" / "instant.py").is_file():
        _missing("ui/instant.py is missing: the instant-mode component was not tested")

    script = tmp_path / "instant_app.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(APP_SCRIPT))
    return AppTest.from_file(str(script), default_timeout=60)


def _sent(at) -> dict:
    """The data the component got in the last run."""
    [element] = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_component_sends_weights_until_the_browser_confirms_them(instant_app):
    at = instant_app.run()
    assert not at.exception, at.exception
    sent = _sent(at)
    assert sent["dims"] == [0, 3, 7] and sent["z"] == [0.0] * 8 and sent["size"] == 280
    assert set(sent["generator"]["arrays"]) == {"0.kernel", "0.bias", "1.kernel", "1.bias"}
    at.run()
    assert "arrays" in _sent(at)["generator"]  # nothing confirmed by a browser yet

    at.session_state["_instant_generator_weight_hashes"] = [sent["generator"]["hash"]]  # as the callback does
    at.run()
    assert not at.exception, at.exception
    assert "arrays" not in _sent(at)["generator"]
    assert _sent(at)["generator"]["hash"] == sent["generator"]["hash"]


def test_component_hands_over_each_release_once(instant_app):
    at = instant_app.run()
    at.session_state["instant"] = {"released": {"seq": "page-1", "z": [0.5] * 8}}  # what the page sends
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["answers"] == [None, [0.5] * 8]
    assert _sent(at)["z"] == [0.5] * 8  # the sliders' own z goes back, which the page takes as an echo
    at.run()
    assert at.session_state["answers"][-1] is None  # the same release is not handed over twice
    assert _sent(at)["z"] == [0.5] * 8


def test_missing_tools_fail_in_ci_and_skip_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        _missing("node is not installed")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        _missing("node is not installed")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="node is not installed"):
        _run_node({}, np.zeros((1, 100), np.float32))
