"""Builders of the hostile corpus (issue 15's table): small crafted files that once took the lab down.

Built in memory at test time (never committed). Used by tests/test_hostile.py and benchmarks/hostile.py.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
from PIL import Image

MIB = 1024 * 1024


def many_tiny_images_npy(count: int = 1_000_000, side: int = 4) -> bytes:
    """A 16 MB .npy of a million 4x4 images: every one was converted before the 70,000-image cap applied."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.save(buffer, (rng.random((count, side, side)) < 0.5).astype(np.uint8) * 255)
    return buffer.getvalue()


def png_flood_zip(copies: int = 12_000, side: int = 4096) -> bytes:
    """A ~4 MB zip of `copies` 4096x4096 PNGs that deflate to a few hundred bytes each (~200 G pixels)."""
    buffer = io.BytesIO()
    Image.new("L", (side, side), 0).save(buffer, "PNG", optimize=True)
    picture = buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for index in range(copies):
            archive.writestr(f"flood/{index:05d}.png", picture)
    return out.getvalue()


def zip64_entry_count_liar(entries: int = 200_000) -> bytes:
    """A zip whose classic end record says 1 entry while the zip64 record zipfile reads says 200,000."""
    local, central, offset = [], [], 0
    for index in range(entries):
        name = f"{index}.png".encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0,
                                   0, 0, offset) + name)
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    directory_offset = offset
    end64_offset = directory_offset + len(directory)
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, len(directory),
                        directory_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end64_offset, 1)
    classic = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return b"".join(local) + directory + end64 + locator + classic


def _bundle(weights_file: bytes, paths: list[str]) -> bytes:
    """A bundle around one generator weights file, every checksum right: only the HDF5 inside is hostile."""
    from gan_core import bundle
    from gan_core.config import GANConfig

    files = {bundle.CONFIG: GANConfig().to_json().encode(), bundle.STATE: b'{"step": 1}',
             "generator" + bundle.WEIGHTS_SUFFIX: weights_file}
    return bundle.pack_bundle(files, {"generator": paths}, {"app": "gan-lab"})


def hdf5_alias_bundle(aliases: int = 64, array_mib: int = 32) -> bytes:
    """A 2 KB bundle whose weights file hard-links one 32 MiB fill-value dataset at 64 paths (2 GiB declared)."""
    import h5py

    buffer = io.BytesIO()
    paths = [f"layers/dense_{index}/vars/0" for index in range(aliases)]
    with h5py.File(buffer, "w") as file:
        first = file.create_dataset(paths[0], shape=(array_mib * MIB // 4,), dtype="f4", fillvalue=0.5)
        for path in paths[1:]:
            file[path] = first  # a hard link: the same object again
    return _bundle(buffer.getvalue(), paths)


def hdf5_big_chunk_bundle(chunk_mib: int = 64) -> bytes:
    """A bundle whose one-element dataset sits in a 64 MiB gzip chunk: 8 bytes that inflate 64 MiB to read."""
    import h5py

    buffer = io.BytesIO()
    path = "layers/dense/vars/0"
    with h5py.File(buffer, "w") as file:
        dataset = file.create_dataset(path, shape=(1,), maxshape=(None,), chunks=(chunk_mib * MIB // 8,),
                                      dtype="f8", compression="gzip")
        dataset[0] = 1.0
    return _bundle(buffer.getvalue(), [path])


def oversized_files(count: int = 3, megabytes: int = 45) -> list[tuple[str, int]]:
    """Several files in one upload widget, each under the per-file limit, together over the upload's total."""
    return [(f"part{index}.npy", megabytes * MIB) for index in range(count)]


def table_rows() -> list[tuple[str, str]]:
    """(row, the file's name) for each row of issue 15's table, in its order."""
    return [("1,000,000 4x4 images in a 16 MB .npy (folder:, CLI)", "tiny.npy"),
            ("the same .npy uploaded on the Train page", "tiny.npy"),
            ("zip of 12,000 4096x4096 PNGs (~230 bytes each)", "flood.zip"),
            ("bundle: one 32 MiB dataset hard-linked at 64 paths", "alias.zip"),
            ("bundle: one-element dataset in a 64 MiB gzip chunk", "chunk.zip"),
            ("zip: classic end record 1 entry, zip64 record 200,000", "liar.zip"),
            ("several files, each under the limit, over it together", "part2.npy")]


def manifest_json(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("manifest.json"))


# ---------------------------------------------------------------- jobs for testing the box itself (run in its child)

def sleep_job(request: dict, blobs: list[bytes]):
    import time

    time.sleep(3600)


def abort_job(request: dict, blobs: list[bytes]):
    import os

    os.abort()


def limits_job(request: dict, blobs: list[bytes]):
    import resource

    return {"memory": resource.getrlimit(resource.RLIMIT_AS)[0], "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
            "core": resource.getrlimit(resource.RLIMIT_CORE)[0]}, {}
