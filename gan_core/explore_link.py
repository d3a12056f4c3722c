"""A digit on the Explore page as a link, and its downloads: plain text in, checked values out (no Streamlit).

Decisions:
- A link holds the recipe for the digit, not the digit: the model's name, the seed of z, and only the values
  of z that were moved away from that seed's z (`z=3_1.25~17_-0.4`: dimension, value; `_` and `~` need no
  escaping in a URL). Moved values keep 3 decimals, and the page keeps z itself at that precision
  (`canonical_z`), so the link reopens the very digit on screen, byte for byte, not a near neighbour.
- When many values moved (a principal-direction slider moves every one of them), the list of pairs would be
  ~1,000 characters; the same values then travel packed (`z=.` then base64url of one int16 per dimension,
  value x 1000, UNMOVED for a value left at the seed's): about 2.7 characters a dimension, the same digit.
  Pairs up to READABLE_CHARS stay as they are; longer ones are packed when that is shorter; both are read.
- A link is text from anyone. Every value is checked against a fixed range or list; a wrong one is dropped
  and named (never echoed: a message repeats the parameter's name, not what it held), so a hostile link
  costs at most a caption. Oversized values are refused before they are parsed.
- A projected drawing travels as `drawn`: its whole z in the same two forms (pairs against a zero z, packed
  when longer), values clipped to ±MAX_Z_VALUE and kept at Z_DECIMALS (`canonical_point`), so the page keeps
  the very point the link brings back. A link with `drawn` and no `seed` starts z (the sliders' base) from
  the drawing; with a seed too, the drawing is only an operand (interpolation, arithmetic). The drawn digit's
  pixels never travel: a link holds the point, not the picture.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

MAX_SEED = 2**31 - 1
MAX_Z_CHARS = 8000  # 512 moved dims at ~15 characters each
MAX_SHORT_CHARS = 40  # every other parameter
MAX_Z_VALUE = 10.0  # |z[d]|: sliders reach 3, directions a little further; N(0, 1) never gets near 10
Z_DECIMALS = 3
PAIR_SEP, ENTRY_SEP = "_", "~"
PACKED_PREFIX = "."  # `z=.<base64url>`: the packed form (see the module docstring)
UNMOVED = -32768  # a packed dimension left at the seed's value
READABLE_CHARS = 200  # pairs up to this long stay readable (`3_1.25~7_-0.4`); longer ones are packed
MODES = {"server": "Server", "instant": "Instant (in-browser)"}  # link word -> the page's radio option
PARAMS = ("model", "seed", "z", "view", "mode", "label", "drawn")


@dataclass
class ShareRequest:
    """What a link asks for, each field None when the link does not say (or said something unusable)."""

    model: str | None = None
    seed: int | None = None
    z_moves: dict[int, float] | None = None  # dimension -> value; dimensions checked later, against the model
    view: str | None = None  # a view's link word
    mode: str | None = None  # the page's radio option
    label: int | None = None
    drawn: dict[int, float] | None = None  # the drawing's z as dimension -> value (dimensions checked later)
    ignored: list[str] = field(default_factory=list)  # "`seed` (why)" for each value dropped

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in ("model", "seed", "z_moves", "view", "mode", "label",
                                                      "drawn"))


def _text(params, name: str, limit: int, ignored: list[str]) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):  # AppTest may hand a repeated parameter as a list
        value = value[-1] if value else ""
    value = str(value)
    if len(value) > limit:
        ignored.append(f"`{name}` (longer than {limit} characters)")
        return None
    return value.strip()


def _int_in(text: str, low: int, high: int) -> int | None:
    if not re.fullmatch(r"-?[0-9]{1,12}", text):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _packed_moves(text: str) -> dict[int, float] | None:
    body = text[len(PACKED_PREFIX):]
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        return None
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) % 2:
        return None
    codes = np.frombuffer(raw, dtype="<i2")
    limit = round(MAX_Z_VALUE * 10**Z_DECIMALS)
    if np.any((codes != UNMOVED) & (np.abs(codes.astype(np.int32)) > limit)):
        return None
    return {int(dim): int(codes[dim]) / 10**Z_DECIMALS for dim in np.flatnonzero(codes != UNMOVED)}


def parse_z_moves(text: str) -> dict[int, float] | None:
    """`3_1.25~17_-0.4` -> {3: 1.25, 17: -0.4}; None when any entry is not a dimension and a finite value.

    The packed form (`.` then base64url) reads to the same dictionary.
    """
    if text == "":
        return {}
    if text.startswith(PACKED_PREFIX):
        return _packed_moves(text)
    moves: dict[int, float] = {}
    for entry in text.split(ENTRY_SEP):
        dim_text, sep, value_text = entry.partition(PAIR_SEP)
        dim = _int_in(dim_text, 0, 100_000)
        if not sep or dim is None or len(value_text) > 20 or not value_text.isascii():
            return None
        try:
            value = float(value_text)
        except ValueError:
            return None
        if not math.isfinite(value) or abs(value) > MAX_Z_VALUE:
            return None
        moves[dim] = value
    return moves


def _one_of(params, name: str, choices, ignored: list[str], hint: str):
    """The parameter's value when it is one of `choices` (a mapping gives the value its word stands for)."""
    text = _text(params, name, MAX_SHORT_CHARS, ignored)
    if text is None:
        return None
    if text in choices:
        return choices[text] if isinstance(choices, dict) else text
    ignored.append(f"`{name}` ({hint})")
    return None


def _whole_number(params, name: str, low: int, high: int, ignored: list[str], hint: str) -> int | None:
    text = _text(params, name, MAX_SHORT_CHARS, ignored)
    if text is None:
        return None
    number = _int_in(text, low, high)
    if number is None:
        ignored.append(f"`{name}` ({hint})")
    return number


def _z_moves(params, name: str, ignored: list[str], hint: str) -> dict[int, float] | None:
    text = _text(params, name, MAX_Z_CHARS, ignored)
    if text is None:
        return None
    moves = parse_z_moves(text)
    if moves is None:
        ignored.append(f"`{name}` ({hint})")
    return moves


def parse_params(params, models: list[str], views: list[str]) -> ShareRequest:
    """Read a link's parameters (a mapping of name -> text, e.g. st.query_params); unknown names are left alone."""
    request = ShareRequest()
    ignored = request.ignored
    request.model = _one_of(params, "model", models, ignored, "not one of the models here: " + ", ".join(models))
    request.seed = _whole_number(params, "seed", 0, MAX_SEED, ignored, f"a whole number from 0 to {MAX_SEED:,}")
    example = f"3{PAIR_SEP}1.25{ENTRY_SEP}7{PAIR_SEP}-0.4"
    request.z_moves = _z_moves(params, "z", ignored, f"entries like `{example}`, values within ±{MAX_Z_VALUE:g}")
    request.view = _one_of(params, "view", views, ignored, "one of " + ", ".join(views))
    request.mode = _one_of(params, "mode", MODES, ignored, "server or instant")
    request.label = _whole_number(params, "label", 0, 9, ignored, "a digit from 0 to 9")
    request.drawn = _z_moves(params, "drawn", ignored, f"a z written by this page, values within ±{MAX_Z_VALUE:g}")
    return request


def _z_text(value: float) -> str:
    text = f"{float(value):.{Z_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def encode_z(z: np.ndarray, base: np.ndarray) -> str:
    """The values of z that differ from base (the seed's z), as link text; "" when none do."""
    z, base = np.asarray(z, np.float32), np.asarray(base, np.float32)
    moved = np.flatnonzero(z != base)
    pairs = ENTRY_SEP.join(f"{int(dim)}{PAIR_SEP}{_z_text(z[dim])}" for dim in moved)
    if len(pairs) <= READABLE_CHARS:
        return pairs
    codes = np.full(len(z), UNMOVED, dtype="<i2")
    limit = MAX_Z_VALUE * 10**Z_DECIMALS
    for dim in moved:
        codes[dim] = int(np.clip(round(float(_z_text(z[dim])) * 10**Z_DECIMALS), -limit, limit))
    packed = PACKED_PREFIX + base64.urlsafe_b64encode(codes.tobytes()).decode().rstrip("=")
    return packed if len(packed) < len(pairs) else pairs


def apply_z_moves(base: np.ndarray, moves: dict[int, float]) -> tuple[np.ndarray, list[int]]:
    """base with the moved values set; the dimensions the model does not have are returned, not applied."""
    z = np.array(base, np.float32)
    outside = sorted(dim for dim in moves if dim >= len(z))
    for dim, value in moves.items():
        if dim < len(z):
            z[dim] = np.float32(float(_z_text(value)))
    return z, outside


def canonical_z(z: np.ndarray, base: np.ndarray) -> np.ndarray:
    """z as its link will bring it back: unmoved values exact, moved ones at Z_DECIMALS decimals."""
    moves = parse_z_moves(encode_z(z, base))
    return apply_z_moves(base, moves or {})[0]


def encode_point(z: np.ndarray) -> str:
    """A whole z (a projected drawing) as link text: its values against a zero z, clipped to ±MAX_Z_VALUE."""
    z = np.clip(np.asarray(z, np.float32), -MAX_Z_VALUE, MAX_Z_VALUE)
    return encode_z(z, np.zeros_like(z))


def point_from_moves(moves: dict[int, float], latent_dim: int) -> np.ndarray | None:
    """The z a `drawn` parameter holds, or None when it names a dimension the model does not have."""
    z, outside = apply_z_moves(np.zeros(latent_dim, np.float32), moves)
    return None if outside else z


def canonical_point(z: np.ndarray) -> np.ndarray:
    """z as a `drawn` link brings it back (clipped, Z_DECIMALS decimals)."""
    z = np.asarray(z, np.float32)
    return point_from_moves(parse_z_moves(encode_point(z)) or {}, len(z))


# ---- downloads --------------------------------------------------------------------------------------------
def z_json_bytes(z: np.ndarray, model: str, seed: int | None, label: int | None = None) -> bytes:
    """z with where it came from, as JSON (numbers as written by Python: float32 values exactly).

    seed None: z started from a projected drawing (`"start": "drawing"`), not from a seed's z."""
    start = {"seed": int(seed)} if seed is not None else {"start": "drawing"}
    record = {"model": model, **start, "latent_dim": int(np.size(z)),
              "z": [float(value) for value in np.asarray(z, np.float32).reshape(-1)]}
    if label is not None:
        record["label"] = int(label)
    return json.dumps(record, indent=1).encode()


def z_npy_bytes(z: np.ndarray) -> bytes:
    """z as a NumPy .npy file (float32, no pickle): np.load(file) gives it back."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(z, np.float32).reshape(-1), allow_pickle=False)
    return buffer.getvalue()
