"""Arbitrary input at every parser: a valid result or the package's own error with a message, nothing else.

Hypothesis draws the inputs; example counts are modest so the suite stays fast.
"""

from __future__ import annotations

import gzip
import json
import struct
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gan_core import checkpoints, data
from gan_core.config import GANConfig

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _idx_header(magic: int, dims: list[int]) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)


# Mostly near-valid IDX files (right magic, dims that may lie, bodies that may be short), plus pure noise.
idx_bytes = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda magic, dims, body: _idx_header(magic, dims) + body,
              st.sampled_from([data.IDX_IMAGES_MAGIC, data.IDX_LABELS_MAGIC, 0x0803, 0x0801]),
              st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 40), min_size=0, max_size=4),
              st.binary(max_size=3000)),
    st.builds(lambda n, body: _idx_header(data.IDX_IMAGES_MAGIC, [n, 28, 28]) + body,
              st.integers(0, 3), st.binary(max_size=3 * 784 + 2)),
)


@FAST
@given(raw=idx_bytes, compress=st.booleans(), magic=st.sampled_from([data.IDX_IMAGES_MAGIC, data.IDX_LABELS_MAGIC]))
def test_idx_reader_returns_an_array_or_a_dataset_error(raw, compress, magic):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x-images-idx3-ubyte"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        tracemalloc.start()
        try:
            array = data.read_idx(path, magic)
        except data.DatasetError as exc:
            assert str(exc).startswith(str(path))
            return
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 10 * len(raw) + 1_000_000  # nothing the file does not hold
    assert array.dtype == np.uint8 and array.size == len(raw) - 4 - 4 * array.ndim
    if magic == data.IDX_IMAGES_MAGIC:
        assert array.shape[1:] == (28, 28)


def test_idx_reader_refuses_a_gzip_bomb_without_inflating_it(tmp_path):
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    header = _idx_header(data.IDX_IMAGES_MAGIC, [2_000_000, 28, 28])
    with gzip.open(path, "wb", compresslevel=9) as stream:  # 1.5 GB of zeros in a ~1.5 MB file
        stream.write(header)
        block = bytes(16 * 2**20)
        for _ in range(2_000_000 * 784 // len(block)):
            stream.write(block)
    tracemalloc.start()
    try:
        data.read_idx(path, data.IDX_IMAGES_MAGIC)
        raise AssertionError("a 1.5 GB image file was accepted")
    except data.DatasetError as exc:
        assert "MB" in str(exc) and str(path) in str(exc)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 400 * 2**20


scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8)
           | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
field_names = st.sampled_from([f.name for f in GANConfig.__dataclass_fields__.values()] + ["kind", "bogus"])


@FAST
@given(st.dictionaries(field_names, scalars, max_size=6))
def test_config_parser_returns_a_valid_config_or_a_value_error_naming_a_field(values):
    try:
        config = GANConfig.from_dict(values)
    except ValueError as exc:
        assert any(name in str(exc) for name in GANConfig.__dataclass_fields__), str(exc)
        return
    assert config.problems() == []
    for name, value in values.items():
        if name in GANConfig.__dataclass_fields__:
            assert getattr(config, name) == value  # accepted means kept, never rounded or coerced
    assert GANConfig.from_dict(json.loads(config.to_json())) == config


@FAST
@given(st.one_of(st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.dictionaries(field_names, scalars, max_size=6).map(json.dumps),
                 st.lists(scalars, max_size=3).map(json.dumps)))
def test_config_files_load_or_raise_a_checkpoint_error(text):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_text(text, encoding="latin-1")
        try:
            config = checkpoints.read_config(Path(folder))
        except checkpoints.CheckpointError as exc:
            assert "config.json" in str(exc)
            return
        assert config.problems() == [] and GANConfig.from_dict(json.loads(config.to_json())) == config
        for name, value in json.loads(text).items():  # what the file said is what the config holds
            if name in GANConfig.__dataclass_fields__:
                assert getattr(config, name) == value


entry_names = st.sampled_from(["generator.weights.h5", "decoder.weights.h5", "checkpoints", "step-00000010",
                               "step-x", "state.json", "config.json", ".step-00000020.1.0123abcd.tmp"])


@FAST
@given(path_text=st.text(max_size=300),
       layout=st.lists(st.tuples(st.lists(entry_names, min_size=1, max_size=3), st.booleans()), max_size=6))
def test_weights_folder_resolver_returns_a_folder_or_a_checkpoint_error(path_text, layout):
    with tempfile.TemporaryDirectory() as root:
        for parts, is_dir in layout:  # a random tree of the names the resolver looks for
            target = Path(root).joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.mkdir() if is_dir else target.write_bytes(b"x")
            except OSError:  # a name already taken by a file or a folder
                pass
        for candidate in (Path(root), Path(root) / path_text, path_text):
            try:
                folder = checkpoints.resolve_weights_folder(candidate)
            except checkpoints.CheckpointError as exc:
                assert "folder" in str(exc) or "weights" in str(exc), str(exc)  # says what to give instead
                continue
            assert folder.is_dir()
            assert (folder / "generator.weights.h5").is_file() or (folder / "decoder.weights.h5").is_file() or (
                folder / checkpoints.STATE_FILE).is_file()


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=4096))
def test_random_weight_files_are_refused_with_a_checkpoint_error(raw):
    config = GANConfig(hidden_units=8, latent_dim=4)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_text(config.to_json())
        (Path(folder) / "generator.weights.h5").write_bytes(raw)
        try:
            checkpoints.load_model(folder, need_discriminator=False)
        except checkpoints.CheckpointError as exc:
            assert "generator.weights.h5" in str(exc)
        else:
            pytest.fail("random bytes loaded as weights")
