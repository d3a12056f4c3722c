"""Model bundles: one .zip to download a trained model and load it again (config, weights, state, history, samples).

Decisions:
- Loading never executes anything from a bundle. Weights are weights-only `.weights.h5` files (data, no
  code); a full `.keras` model, whose config can name code to run, is refused, as is any entry not on a fixed
  list. JSON entries are checked field by field (type and range); every entry must match the SHA-256 the
  manifest gives it.
- Reading and checking a bundle needs no TensorFlow (the page process reads uploads and must never import
  it): zipfile, json and h5py. Only the functions that build or save a model import Keras, lazily.
- A bundle is a stranger's file, and the HDF5 library reading it is exactly what belongs in a box: `read_bundle`
  runs the whole check in a limited child process (gan_core/sandbox.py) that sends back JSON and arrays; a
  crash, a memory or time limit there is a BundleError naming the bundle. Budgets come before work: the
  entries' declared sizes together (MAX_BUNDLE_TOTAL_BYTES) before any is inflated, every array's declared
  size, alone and all together (MAX_BUNDLE_TOTAL_ARRAY_BYTES), before any is read; an array reachable by two
  paths (an HDF5 hard link), and chunked storage whose chunk is larger than its dataset, are refused.
- Entries are read in memory with a size limit each, and nothing from a bundle is written to disk: weights
  reach a model through `set_weights` from arrays read out of the in-memory HDF5 file.
- The manifest records, per network, the HDF5 path of each array in `get_weights()` order. Keras names the
  groups in a `.weights.h5` by layer class and position, not by variable, so without this record the order
  could only be recovered by building the model; with it the page can hand plain arrays to a worker.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from gan_core import limits, sandbox
from gan_core.data import display_name
from gan_core.uploads import zip_directory_entries
from gan_core.config import GANConfig

BUNDLE_FORMAT = "gan-lab-bundle"
BUNDLE_VERSION = 1  # raised when an older app could not read what a newer one writes
APP_NAME = "gan-lab"

MANIFEST, CONFIG, STATE, HISTORY, SAMPLES = "manifest.json", "config.json", "state.json", "history.csv", "samples.png"
WEIGHTS_SUFFIX = ".weights.h5"
NETWORKS_BY_MODEL = {"gan": ("generator", "discriminator", "generator_ema"),
                     "cgan": ("generator", "discriminator", "generator_ema"),
                     "ae": ("encoder", "decoder"), "vae": ("encoder", "decoder")}
REQUIRED_NETWORKS = {"gan": ("generator",), "cgan": ("generator",), "ae": ("encoder", "decoder"),
                     "vae": ("encoder", "decoder")}
ALL_NETWORKS = ("generator", "discriminator", "generator_ema", "encoder", "decoder")
ENTRY_LIMITS = {MANIFEST: limits.MAX_BUNDLE_JSON_BYTES, CONFIG: limits.MAX_BUNDLE_JSON_BYTES,
                STATE: limits.MAX_BUNDLE_JSON_BYTES, HISTORY: limits.MAX_BUNDLE_HISTORY_BYTES,
                SAMPLES: limits.MAX_BUNDLE_PNG_BYTES,
                **{stem + WEIGHTS_SUFFIX: limits.MAX_BUNDLE_WEIGHTS_BYTES for stem in ALL_NETWORKS}}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HDF5_BUILTIN_FILTERS = (1, 2, 3)  # deflate, shuffle, fletcher32: never a plugin loaded from disk
ARRAY_PATH = re.compile(r"^layers/[a-z0-9_]{1,64}/vars/[0-9]{1,3}$")
HISTORY_COLUMN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
FIXED_TIME = (2024, 1, 1, 0, 0, 0)  # every entry's timestamp, so the same model always zips to the same bytes


class BundleError(ValueError):
    """A bundle that cannot be loaded; the message names the bundle, the entry and what is wrong.

    `report` says what parsing it cost, when a parsing child ran."""

    report: "sandbox.ParseReport | None" = None


@dataclass(frozen=True)
class Bundle:
    """A bundle's checked contents; `weights` holds each network's arrays in `get_weights()` order."""

    source: str
    config: GANConfig
    state: dict
    history: dict[str, np.ndarray]
    samples_png: bytes | None
    weights: dict[str, list[np.ndarray]]
    manifest: dict
    report: sandbox.ParseReport | None = None  # what the parsing child cost


# ---------------------------------------------------------------- reading (no TensorFlow)

def is_bundle_path(path: str | Path) -> bool:
    """True for a path naming a .zip file: what `--weights` treats as a bundle."""
    return str(path).lower().endswith(".zip")


def read_bundle(source: str | Path | bytes, name: str | None = None,
                parser: limits.ParserLimits = limits.PAGE_PARSER_LIMITS) -> Bundle:
    """Open, check and parse a bundle from a path or from bytes, in the parsing child; raises BundleError
    saying what is wrong. `name` labels every message (default: the path, or 'uploaded bundle')."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "uploaded bundle"
    else:
        label = name or str(source)
        path = Path(source)
        if not path.is_file():
            raise BundleError(f"{label}: no such file; give a bundle written by 'python -m gan_core export'.")
        if path.stat().st_size > limits.MAX_BUNDLE_BYTES:
            raise BundleError(f"{label}: {path.stat().st_size:,} bytes is over the bundle limit of "
                              f"{limits.MAX_BUNDLE_BYTES // limits.MIB} MB.")
        data = path.read_bytes()
    if len(data) > limits.MAX_BUNDLE_BYTES:
        raise BundleError(f"{label}: {len(data):,} bytes is over the bundle limit of "
                          f"{limits.MAX_BUNDLE_BYTES // limits.MIB} MB.")
    try:
        job = sandbox.run_job("bundle", {"label": label}, [data], what=label, limits=parser)
    except sandbox.SandboxRefusal as refusal:
        error = BundleError(str(refusal))
        error.report = refusal.report
        raise error from None
    meta, arrays = job.meta, job.arrays
    if "error" in meta:
        error = BundleError(str(meta["error"]))
        error.report = job.report
        raise error
    try:
        config = _parse_config(label, json.dumps(meta["config"]).encode())  # checked again on this side
        weights = {stem: [arrays[f"weights/{stem}/{i}"] for i in range(int(count))]
                   for stem, count in meta["networks"].items()}
        history = {column: arrays[f"history/{column}"] for column in meta["history"]}
        samples = arrays["samples"].tobytes() if "samples" in arrays else None
        return Bundle(label, config, dict(meta["state"]), history, samples, weights, dict(meta["manifest"]),
                      job.report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"{label}: not read: the reader's answer was malformed ({_short(exc)}).") from None


def sandbox_job(request: dict, blobs: list[bytes]) -> tuple[dict, dict[str, np.ndarray]]:
    """The parsing child's entry (gan_core.sandbox JOBS['bundle']): bundle bytes -> JSON and plain arrays."""
    try:
        bundle = _read_bundle_in_process(request["label"], blobs[0])
    except BundleError as exc:
        return {"error": str(exc)}, {}
    arrays = {f"weights/{stem}/{i}": array for stem, network in bundle.weights.items()
              for i, array in enumerate(network)}
    arrays.update({f"history/{column}": values for column, values in bundle.history.items()})
    if bundle.samples_png is not None:
        arrays["samples"] = np.frombuffer(bundle.samples_png, np.uint8)
    meta = {"config": json.loads(bundle.config.to_json()), "state": bundle.state, "manifest": bundle.manifest,
            "networks": {stem: len(network) for stem, network in bundle.weights.items()},
            "history": list(bundle.history)}
    return meta, arrays


def _read_bundle_in_process(label: str, data: bytes) -> Bundle:
    """The whole check, in this process: what the parsing child runs. Callers want `read_bundle`."""
    entries = _read_entries(label, data)
    manifest = _check_manifest(label, entries)
    config = _parse_config(label, entries[CONFIG])
    allowed = NETWORKS_BY_MODEL[config.model]
    weight_files = {name.removesuffix(WEIGHTS_SUFFIX): content for name, content in entries.items()
                    if name.endswith(WEIGHTS_SUFFIX)}
    for stem in weight_files:
        if stem not in allowed:
            raise BundleError(f"{label}: {stem}{WEIGHTS_SUFFIX}: a {config.model} model has no {stem}; "
                              f"expected only {', '.join(s + WEIGHTS_SUFFIX for s in allowed)}.")
        if not weight_files[stem].startswith(HDF5_SIGNATURE):
            raise BundleError(f"{label}: {stem}{WEIGHTS_SUFFIX}: not an HDF5 weights file.")
    missing = [stem for stem in REQUIRED_NETWORKS[config.model] if stem not in weight_files]
    if missing:
        raise BundleError(f"{label}: no {', '.join(s + WEIGHTS_SUFFIX for s in missing)}; a {config.model} model "
                          f"cannot be drawn from without it.")
    layout = _check_layout(label, manifest.get("networks"), weight_files)
    budget = [limits.MAX_BUNDLE_TOTAL_ARRAY_BYTES]  # bytes every network's arrays may still declare
    weights = {stem: _read_arrays(label, stem, content, layout[stem], config, budget)
               for stem, content in weight_files.items()}
    if "generator" in weights and "generator_ema" in weights and (
            [a.shape for a in weights["generator"]] != [a.shape for a in weights["generator_ema"]]):
        raise BundleError(f"{label}: generator_ema{WEIGHTS_SUFFIX}: its arrays do not match the generator's shapes.")
    samples = entries.get(SAMPLES)
    if samples is not None and not samples.startswith(PNG_SIGNATURE):
        raise BundleError(f"{label}: {SAMPLES}: not a PNG image.")
    return Bundle(label, config, _parse_state(label, entries.get(STATE)), _parse_history(label, entries.get(HISTORY)),
                  samples, weights, manifest)


def load_bundle_bytes(data: bytes, name: str | None = None) -> tuple[GANConfig, dict[str, list[np.ndarray]], dict,
                                                                      dict[str, np.ndarray]]:
    """An uploaded bundle -> (config, weight arrays per network, state, history), without TensorFlow.

    The arrays are each network's `get_weights()` list, ready for `network.set_weights` in a worker.
    """
    bundle = read_bundle(data, name)
    return bundle.config, bundle.weights, bundle.state, bundle.history


def _read_entries(label: str, data: bytes) -> dict[str, bytes]:
    directory = zip_directory_entries(data, limits.MAX_BUNDLE_ENTRIES)
    if directory is not None and directory[0] > limits.MAX_BUNDLE_ENTRIES:
        raise BundleError(f"{label}: more than {limits.MAX_BUNDLE_ENTRIES} entries; a bundle holds at most "
                          f"{limits.MAX_BUNDLE_ENTRIES}.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise BundleError(f"{label}: not a readable zip (truncated or corrupt: {_short(exc)}).") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.MAX_BUNDLE_ENTRIES:
            raise BundleError(f"{label}: {len(infos)} entries; a bundle holds at most {limits.MAX_BUNDLE_ENTRIES}.")
        declared = sum(info.file_size for info in infos)
        if declared > limits.MAX_BUNDLE_TOTAL_BYTES:
            raise BundleError(f"{label}: its entries declare {declared:,} bytes together, over the limit of "
                              f"{limits.MAX_BUNDLE_TOTAL_BYTES:,}.")
        entries: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            _check_entry_name(label, name)
            if name in entries:
                raise BundleError(f"{label}: {name} appears twice.")
            if info.flag_bits & 0x1:
                raise BundleError(f"{label}: {name} is encrypted.")
            limit = ENTRY_LIMITS[name]
            if info.file_size > limit:
                raise BundleError(f"{label}: {name} is {info.file_size:,} bytes, over the limit of {limit:,}.")
            try:
                with archive.open(info) as stream:
                    content = stream.read(limit + 1)  # bounded: the header's size is not trusted
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
                raise BundleError(f"{label}: {name} is corrupt ({_short(exc)}).") from exc
            if len(content) > limit:
                raise BundleError(f"{label}: {name} holds more than {limit:,} bytes.")
            entries[name] = content
    for required in (MANIFEST, CONFIG):
        if required not in entries:
            raise BundleError(f"{label}: no {required}; give a bundle written by 'python -m gan_core export'.")
    return entries


def _check_entry_name(label: str, name: str) -> None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or ".." in normal.split("/"):
        raise BundleError(f"{label}: {name}: unsafe path (absolute or with '..').")
    if name.lower().endswith(".keras"):
        raise BundleError(f"{label}: {name}: a full .keras model is not accepted (its config can run code); "
                          f"bundles carry weights-only {WEIGHTS_SUFFIX} files.")
    if name not in ENTRY_LIMITS:
        raise BundleError(f"{label}: {name}: unexpected file; a bundle holds only "
                          f"{', '.join(sorted(ENTRY_LIMITS))}.")


def _load_json(label: str, name: str, content: bytes):
    try:
        return json.loads(content.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise BundleError(f"{label}: {name}: not valid JSON ({_short(exc)}).") from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _check_manifest(label: str, entries: dict[str, bytes]) -> dict:
    manifest = _load_json(label, MANIFEST, entries[MANIFEST])
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{label}: {MANIFEST}: not a GAN Lab bundle manifest (format must be {BUNDLE_FORMAT!r}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"{label}: {MANIFEST}: format_version must be a positive integer (got {version!r}).")
    if version > BUNDLE_VERSION:
        raise BundleError(f"{label}: made by a newer GAN Lab (bundle format {version}; this one reads up to "
                          f"{BUNDLE_VERSION}); update the app.")
    versions = manifest.get("versions")
    if not isinstance(versions, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) < 100
                                                 for k, v in versions.items()):
        raise BundleError(f"{label}: {MANIFEST}: 'versions' must map names to version strings.")
    listed = manifest.get("entries")
    if not isinstance(listed, dict):
        raise BundleError(f"{label}: {MANIFEST}: 'entries' must map each file to its sha256.")
    present = set(entries) - {MANIFEST}
    if set(listed) != present:
        extra, absent = sorted(present - set(listed)), sorted(set(listed) - present)
        raise BundleError(f"{label}: {MANIFEST} does not match the archive"
                          + (f"; not listed: {', '.join(extra)}" if extra else "")
                          + (f"; listed but missing: {', '.join(absent)}" if absent else "") + ".")
    for name in sorted(present):
        record = listed[name]
        expected = record.get("sha256") if isinstance(record, dict) else None
        if not isinstance(expected, str) or not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise BundleError(f"{label}: {MANIFEST}: no valid sha256 for {name}.")
        if hashlib.sha256(entries[name]).hexdigest() != expected:
            raise BundleError(f"{label}: {name}: checksum mismatch; the file was changed or damaged after export.")
    return manifest


def _parse_config(label: str, content: bytes) -> GANConfig:
    raw = _load_json(label, CONFIG, content)
    if not isinstance(raw, dict):
        raise BundleError(f"{label}: {CONFIG}: expected a JSON object of config fields.")
    if raw.get("kind", "GANConfig") != "GANConfig":
        raise BundleError(f"{label}: {CONFIG}: kind must be 'GANConfig' (got {raw.get('kind')!r}).")
    known = {f.name: f for f in fields(GANConfig)}
    defaults = GANConfig()
    for key, value in raw.items():
        if key == "kind":
            continue
        if key not in known:
            raise BundleError(f"{label}: {CONFIG}: unknown field {key!r}.")
        expected = type(getattr(defaults, key))
        # JSON has no int/float distinction for whole numbers; bool is an int in Python but never a size.
        ok = (isinstance(value, expected) and not isinstance(value, bool)) or (
            expected is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (expected is float and not math.isfinite(value)) or (expected is str and len(value) > 500):
            raise BundleError(f"{label}: {CONFIG}: {key} must be {'a finite ' if expected is float else 'an ' if expected is int else 'a '}"
                              f"{expected.__name__} (got {value!r}).")
    try:
        config = GANConfig.from_dict({k: v for k, v in raw.items() if k != "kind"})
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{label}: {CONFIG}: {exc}.") from exc
    for key, top in (("latent_dim", limits.MAX_LATENT_DIM), ("hidden_units", limits.MAX_HIDDEN_UNITS)):
        if getattr(config, key) > top:
            raise BundleError(f"{label}: {CONFIG}: {key} {getattr(config, key)} is over the limit of {top}.")
    if config.image_size != 28:
        raise BundleError(f"{label}: {CONFIG}: image_size must be 28 (got {config.image_size}).")
    return config


def _parse_state(label: str, content: bytes | None) -> dict:
    if content is None:
        return {}
    state = _load_json(label, STATE, content)
    if not isinstance(state, dict):
        raise BundleError(f"{label}: {STATE}: expected a JSON object.")
    problem = _plain_json_problem(state, depth=0)
    if problem:
        raise BundleError(f"{label}: {STATE}: {problem}.")
    step = state.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise BundleError(f"{label}: {STATE}: step must be a non-negative integer (got {step!r}).")
    return state


def _plain_json_problem(value, depth: int) -> str | None:
    """Numbers, short strings, and lists / objects of them, nested at most 4 deep."""
    if depth > 4:
        return "nested too deeply"
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, str):
        return None if len(value) <= 10_000 else "a string is over 10,000 characters"
    if isinstance(value, list):
        return next((p for p in (_plain_json_problem(v, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) and len(k) <= 200 for k in value):
            return "a key is over 200 characters"
        return next((p for p in (_plain_json_problem(v, depth + 1) for v in value.values()) if p), None)
    return f"unexpected value {value!r}"


def _parse_history(label: str, content: bytes | None) -> dict[str, np.ndarray]:
    if content is None:
        return {}
    try:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BundleError(f"{label}: {HISTORY}: not a readable CSV ({_short(exc)}).") from exc
    if not rows:
        return {}
    names = rows[0]
    if len(names) > 64 or not all(HISTORY_COLUMN.fullmatch(name) for name in names) or len(set(names)) != len(names):
        raise BundleError(f"{label}: {HISTORY}: the header must be up to 64 distinct names of letters, digits and _.")
    if any(len(row) != len(names) for row in rows[1:]):
        raise BundleError(f"{label}: {HISTORY}: every row must have {len(names)} values.")
    try:
        values = np.array(rows[1:], dtype=np.float64).reshape(len(rows) - 1, len(names))
    except ValueError as exc:
        raise BundleError(f"{label}: {HISTORY}: every value must be a number ({_short(exc)}).") from exc
    return {name: values[:, i] for i, name in enumerate(names)}


def _check_layout(label: str, networks, weight_files: dict[str, bytes]) -> dict[str, list[str]]:
    if not isinstance(networks, dict):
        raise BundleError(f"{label}: {MANIFEST}: 'networks' must list each network's weight arrays.")
    layout = {}
    for stem in weight_files:
        paths = networks.get(stem)
        if (not isinstance(paths, list) or not 0 < len(paths) <= limits.MAX_BUNDLE_ARRAYS_PER_NETWORK
                or not all(isinstance(p, str) and ARRAY_PATH.fullmatch(p) for p in paths)
                or len(set(paths)) != len(paths)):
            raise BundleError(f"{label}: {MANIFEST}: 'networks' has no valid array list for {stem}.")
        layout[stem] = paths
    return layout


def _read_arrays(label: str, stem: str, content: bytes, paths: list[str], config: GANConfig,
                 budget: list[int]) -> list[np.ndarray]:
    """The arrays at `paths`, every one checked (links, storage, size, aliases) before any is read."""
    import h5py

    name = stem + WEIGHTS_SUFFIX
    try:
        with h5py.File(io.BytesIO(content), "r") as file:
            datasets = [_checked_dataset(label, name, file, path) for path in paths]
            addresses = [h5py.h5o.get_info(dataset.id).addr for dataset in datasets]
            if len(set(addresses)) != len(addresses):
                raise BundleError(f"{label}: {name}: one array is listed under several paths (HDF5 hard links).")
            declared = sum(dataset.size * dataset.dtype.itemsize for dataset in datasets)
            if declared > budget[0]:
                raise BundleError(f"{label}: {name}: its arrays declare {declared:,} bytes, over what is left of "
                                  f"the bundle's limit of {limits.MAX_BUNDLE_TOTAL_ARRAY_BYTES:,} for all arrays.")
            budget[0] -= declared
            arrays = [np.asarray(dataset[()], dtype=dataset.dtype) for dataset in datasets]
    except BundleError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError... for a damaged file
        raise BundleError(f"{label}: {name}: cannot be read as HDF5 ({_short(exc)}).") from exc
    if not all(np.isfinite(array).all() for array in arrays):
        raise BundleError(f"{label}: {name}: holds NaN or infinite weights.")
    expected = _expected_shapes(config, stem)
    shapes = [tuple(array.shape) for array in arrays]
    if expected is not None and shapes != expected:
        raise BundleError(f"{label}: {name}: array shapes {shapes} do not fit the {stem} of this config "
                          f"(expected {expected}).")
    return arrays


def _checked_dataset(label: str, name: str, file, path: str):
    """The dataset at `path`, refused when it is a link, stored outside the file, too large, reachable by more
    than one path, filtered by a plugin, or chunked in pieces larger than itself."""
    import h5py

    # Soft and external links, external storage and virtual datasets can all point at other files.
    parts = path.split("/")
    if not all(isinstance(file.get("/".join(parts[:i]), getlink=True), h5py.HardLink)
               for i in range(1, len(parts) + 1)):
        raise BundleError(f"{label}: {name}: {path} is missing or a link.")
    dataset = file[path]
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind != "f" or dataset.ndim > 4:
        raise BundleError(f"{label}: {name}: {path} is not an array of floats.")
    if dataset.external or dataset.is_virtual:
        raise BundleError(f"{label}: {name}: {path} keeps its data outside the file.")
    nbytes = dataset.size * dataset.dtype.itemsize
    if nbytes > limits.MAX_BUNDLE_WEIGHTS_BYTES:
        raise BundleError(f"{label}: {name}: {path} is too large.")
    if h5py.h5o.get_info(dataset.id).rc != 1:
        raise BundleError(f"{label}: {name}: {path} is reachable by more than one path (an HDF5 hard link).")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if any(code not in HDF5_BUILTIN_FILTERS for code in filters):
        raise BundleError(f"{label}: {name}: {path} uses an HDF5 filter this app does not read ({filters}).")
    if dataset.chunks is not None and (math.prod(dataset.chunks) > max(dataset.size, 1)
                                       or any(c > max(s, 1) for c, s in zip(dataset.chunks, dataset.shape))):
        raise BundleError(f"{label}: {name}: {path} is stored in chunks larger than the array itself.")
    return dataset


def _expected_shapes(config: GANConfig, stem: str) -> list[tuple[int, ...]] | None:
    """The dense networks' shapes, known without Keras; convolutional ones are checked when loaded."""
    from gan_core import numpy_models

    return numpy_models.expected_shapes(config, stem) if numpy_models.supports(config) else None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


# ---------------------------------------------------------------- loading a model (Keras, lazily)

def load_bundle_model(source: str | Path | bytes, need_discriminator: bool = True, name: str | None = None):
    """Build the model a bundle's config describes and set its weights from memory: (model, config, state)."""
    from gan_core.models import build_model

    bundle = read_bundle(source, name)
    arrays = bundle.weights
    model = build_model(bundle.config)
    for stem, network in model.weight_networks().items():
        if stem not in arrays:
            if stem == "generator_ema":  # trained without averaging: draw from the raw generator, as checkpoints do
                network.set_weights(model.generator.get_weights())
                continue
            if stem == "discriminator" and not need_discriminator:
                continue
            raise BundleError(f"{bundle.source}: no {stem}{WEIGHTS_SUFFIX}; this use needs the {stem}.")
        try:
            network.set_weights(arrays[stem])
        except ValueError as exc:
            raise BundleError(f"{bundle.source}: {stem}{WEIGHTS_SUFFIX} does not fit the {stem} of this config "
                              f"({_short(exc)}).") from exc
    return model, bundle.config, bundle.state


# ---------------------------------------------------------------- writing (Keras, lazily)

def bundle_bytes_from_arrays(config: GANConfig, weights_by_network: dict[str, list[np.ndarray]], state: dict,
                             history: dict[str, np.ndarray] | None, samples_png: bytes | None) -> bytes:
    """A bundle built from arrays a worker sent (each network's `get_weights()` list). Imports Keras."""
    from gan_core.models import build_model

    model = build_model(config)
    networks = model.weight_networks()
    unknown = set(weights_by_network) - set(networks)
    if unknown:
        raise BundleError(f"no network {', '.join(sorted(unknown))} in a {config.model} model; "
                          f"expected {', '.join(networks)}.")
    for stem, arrays in weights_by_network.items():
        networks[stem].set_weights([np.asarray(a) for a in arrays])
    return _bundle_from_model(model, config, list(weights_by_network), state, history, samples_png)


def export_bundle(weights: str | Path, out_zip: str | Path, seed: int = 0) -> Path:
    """A run folder (its newest checkpoint) or a weights folder -> one bundle .zip, written atomically."""
    from gan_core import checkpoints
    from gan_core.images import grid_png
    from gan_core.latent import sample_z

    out_zip = Path(out_zip)
    folder = checkpoints.resolve_weights_folder(weights)
    model, config, state = checkpoints.load_model(folder, need_discriminator=False)
    stems = [stem for stem in model.weight_networks() if (folder / f"{stem}{WEIGHTS_SUFFIX}").is_file()]
    run_dir = folder.parent.parent if folder.parent.name == checkpoints.CHECKPOINTS_DIR else folder
    history = checkpoints.read_history_csv(run_dir / checkpoints.HISTORY_FILE)
    z = sample_z(100, config.latent_dim, seed)
    samples_png = grid_png(model.generate(z, np.arange(100) % 10), columns=10)
    data = _bundle_from_model(model, config, stems, state, history, samples_png)
    return checkpoints.atomic_write_bytes(out_zip, data)  # the package's one atomic write: fsynced, unique temp


def _bundle_from_model(model, config: GANConfig, stems: list[str], state: dict,
                       history: dict[str, np.ndarray] | None, samples_png: bytes | None) -> bytes:
    import keras
    import tensorflow as tf

    networks = model.weight_networks()
    files: dict[str, bytes] = {}
    layout: dict[str, list[str]] = {}
    folder = Path(tempfile.mkdtemp(prefix="gan-lab-bundle-"))  # Keras writes .weights.h5 to a path only
    try:
        for stem in stems:
            path = folder / f"{stem}{WEIGHTS_SUFFIX}"
            networks[stem].save_weights(path)
            files[stem + WEIGHTS_SUFFIX] = path.read_bytes()
            layout[stem] = _array_paths(path, networks[stem].get_weights())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # The recipe names its dataset without the folders it was read from (no server path in a bundle).
    files[CONFIG] = config.replace(dataset=display_name(config.dataset)).to_json().encode()
    files[STATE] = json.dumps(state or {}, indent=2, sort_keys=True).encode()
    if history:
        files[HISTORY] = _history_csv(history).encode()
    if samples_png:
        files[SAMPLES] = bytes(samples_png)
    versions = {"app": APP_NAME, "keras": keras.__version__, "tensorflow": tf.__version__}
    return pack_bundle(files, layout, versions)


def _array_paths(path: Path, weights: list[np.ndarray]) -> list[str]:
    """The HDF5 path of each array of `get_weights()`, in that order, found by content.

    Matching by value, not by Keras's private group-naming rule: two arrays with equal contents and shape are
    interchangeable, so whichever path is chosen for them loads the same network.
    """
    import h5py

    with h5py.File(path, "r") as file:
        stored: dict[str, np.ndarray] = {}
        file.visititems(lambda name, item: stored.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
                        else None)
    unused, paths = dict(stored), []
    for index, array in enumerate(weights):
        match = next((name for name, value in unused.items()
                      if value.shape == array.shape and np.array_equal(value, array)), None)
        if match is None:
            raise RuntimeError(f"{path.name}: weight {index} {array.shape} not found in the saved file")
        paths.append(match)
        del unused[match]
    return paths


def _history_csv(history: dict[str, np.ndarray]) -> str:
    # Exact values (repr), never rounded: a step past 1,000,000 stays itself (checkpoints' one CSV format).
    from gan_core import checkpoints  # (imported here as the module's other uses do)

    return checkpoints.history_csv_text(history)


def pack_bundle(files: dict[str, bytes], layout: dict[str, list[str]], versions: dict[str, str]) -> bytes:
    """Zip `files` with a manifest of their SHA-256s; the same inputs always give the same bytes."""
    manifest = {"format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION, "versions": versions,
                "networks": layout,
                "entries": {name: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
                            for name, content in sorted(files.items())}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in [(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())] + sorted(
                files.items()):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()
