"""Every limit on what a user may hand the lab (uploaded images, archives, arrays, model bundles), in one place.

Why these numbers: the largest honest input is full MNIST (60,000 digits: 47 MB as raw IDX, 10 MB gzipped,
a few MB zipped as PNGs), so each limit leaves room for that and refuses what could only be an attack or a
mistake: a 30,000 x 30,000 PNG that decodes to 900 MB, a 40 KB zip that inflates to gigabytes, a million
empty entries. `.streamlit/config.toml` sets `server.maxUploadSize` to MAX_UPLOAD_MB (tests/test_uploads.py
checks that they agree), so the browser refuses an oversized file before it reaches Python.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024

MAX_UPLOAD_MB = 100  # Streamlit counts a megabyte as 1024 * 1024 bytes, as we do


@dataclass(frozen=True)
class UploadLimits:
    """How much one conversion (one upload, or one CLI folder / zip) may hold."""

    max_files: int = 2_000  # files handed in together (entries inside an archive count as max_entries)
    max_upload_bytes: int = MAX_UPLOAD_MB * MIB  # all files of one upload together, as received
    max_file_bytes: int = MAX_UPLOAD_MB * MIB  # one file, as received (the CLI checks this before reading)
    max_image_pixels: int = 4096 * 4096  # width * height of one decoded image
    # width * height of every image decoded for one upload together, read from each header before decoding:
    # 12,000 copies of a 4096 x 4096 PNG that zip to 230 bytes each would otherwise decode for many minutes.
    # All of MNIST as PNGs is 47 M pixels; a hundred phone photos decode at 1/8 scale (JPEG draft mode).
    max_decoded_pixels: int = 256 * 1024 * 1024
    max_total_uncompressed: int = 256 * MIB  # all archive entries and gzip streams, once inflated
    max_compression_ratio: float = 100.0  # uncompressed / compressed, for anything over ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MIB  # smaller streams can never be a dangerous bomb, whatever their ratio
    max_entries: int = 20_000  # entries in one archive (directories included)
    min_images: int = 64  # fewer than this cannot fill one training batch of the default recipe
    max_images: int = 70_000  # all of MNIST (train + test) fits
    max_array_side: int = 512  # H and W of an uploaded array of images
    max_notes: int = 20  # refusals listed one by one in a dataset's notes; the rest are counted


UPLOAD_LIMITS = UploadLimits()

# The command line reads folders the user owns, such as MNIST exported as 60,000 PNGs: more files and
# entries, the same per-image and per-archive protections.
CLI_LIMITS = UploadLimits(max_files=100_000, max_entries=100_000, max_upload_bytes=1024 * MIB,
                          max_total_uncompressed=1024 * MIB, max_decoded_pixels=512 * 1024 * 1024)


@dataclass(frozen=True)
class ParserLimits:
    """The box a stranger's file is parsed in (gan_core/sandbox.py): a fresh child process with these limits.

    memory_bytes is the child's address space (RLIMIT_AS; NumPy, Pillow and h5py take ~0.2 GB of it before any
    file is read); cpu_seconds its processor time (RLIMIT_CPU); wall_seconds the parent's deadline, after which
    the child is killed. Whatever the file does, its worst outcome is a refusal naming it.
    """

    memory_bytes: int = 1536 * MIB  # 70,000 converted digits are 55 MB; a 100 MB upload and its budgets fit
    cpu_seconds: int = 60
    wall_seconds: float = 90.0
    max_output_bytes: int = 192 * MIB  # what the child may send back (all of MNIST as uint8 is 55 MB)


PAGE_PARSER_LIMITS = ParserLimits()
# The command line converts folders the user owns (all of MNIST as 60,000 PNGs): more time, the same box.
CLI_PARSER_LIMITS = ParserLimits(memory_bytes=3072 * MIB, cpu_seconds=600, wall_seconds=900.0)
# The project command's --images: a .npy of digits, read in the parsing child with these budgets.
MAX_PROJECT_DIGITS = 10_000  # digits one project command takes: ~0.5 s each on a busy 2-core machine
MAX_PROJECT_FILE_BYTES = 64 * MIB  # 10,000 digits as float64 (60 MB) and the header fit
MAX_PARALLEL_PARSERS = 4  # children parsing at once in one process (page sessions share the server)
PARSER_QUEUE_WAIT_S = 60.0  # how long an upload waits for a free slot before it is told the server is busy


# Model bundles (gan_core/bundle.py). The largest shipped model is the DCGAN: 1.3 MB per generator.
MAX_BUNDLE_BYTES = 64 * MIB  # the .zip as received
MAX_BUNDLE_ENTRIES = 16
MAX_BUNDLE_WEIGHTS_BYTES = 32 * MIB  # one .weights.h5 entry, and one array in it
# Every array of every network together, as declared by the HDF5 headers and checked before any is read: a
# fill-value dataset takes no room in the file, so a 2 KB file can declare gigabytes. The DCGAN's three
# networks hold 4 MB.
MAX_BUNDLE_TOTAL_ARRAY_BYTES = 64 * MIB
MAX_BUNDLE_TOTAL_BYTES = 96 * MIB  # every entry of a bundle, inflated, together
MAX_BUNDLE_JSON_BYTES = 256 * 1024  # manifest.json, config.json, state.json
MAX_BUNDLE_HISTORY_BYTES = 16 * MIB  # history.csv
MAX_BUNDLE_PNG_BYTES = 4 * MIB  # the sample grid
MAX_BUNDLE_ARRAYS_PER_NETWORK = 64
MAX_LATENT_DIM = 1024  # network sizes a bundle's config may ask for, so a config cannot demand gigabytes
MAX_HIDDEN_UNITS = 8192


# The Playground's presenter mode (gan_core/toy_share.py): what a presenter's browser may publish to the server,
# a few times a second, for viewers. The page's largest networks (128 units x 4 layers, an 8-D latent) hold
# 51k weights each; the default ring's 1.2k; two runs side by side send two of each (G and D).
PLAYGROUND_STATE_MAX_BYTES = 2 * MIB  # one published state: its strings and numbers together, as received
PLAYGROUND_MAX_RUNS = 2  # one run, or the recipe comparison
PLAYGROUND_MAX_PARAMS = 65_536  # weights of one network
PLAYGROUND_MAX_HISTORY = 512  # curve points per run and series (the browser keeps at most 400)
PLAYGROUND_MAX_TEXT = 600  # the slow-motion sentence and a run's label, in characters
PLAYGROUND_MIN_PUBLISH_S = 0.15  # a share keeps at most one state per this long (the browser sends ~3 a second)
