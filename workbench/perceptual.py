"""Perceptual hashes of images, and every pair of images within a Hamming distance of each other.

An image's perceptual hash here is a *set* of 64-bit pHashes (`imagehash.phash`: the sign of the
low-frequency DCT coefficients of a 32 x 32 grey version): one of the whole image and one of each of
12 crop windows (centre crops keeping 95, 90, 85 and 80 % of each side, and the four corner crops
keeping 90 % and 80 %). They are stored at ingestion as one hex string in the `phash` field of the
Images template: 13 x 16 hex digits, the whole image's hash first.

The distance between two images is the smallest Hamming distance between one image's whole-image
hash and any window hash of the other (both ways). A re-encode, a resize or a small colour shift
changes the whole-image hash by a few bits; a crop matches the window of the original that it is
closest to, so a crop of up to about 10 % per side (centre or corner) stays within a few bits too,
where a single whole-image pHash moves by 10 to 30 bits (measured in docs/duplicates.md).

`near_pairs` finds every pair within `max_distance` bits by a blocked, exact comparison of packed
hashes (XOR and popcount in numpy): O(n^2 x windows) bit operations, a few seconds for 10,000
images, yielding progress and stopping when closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# (left, top, right, bottom) as fractions of the width and height; the whole image first
WINDOWS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 1.0, 1.0),
    *(((1 - s) / 2, (1 - s) / 2, 1 - (1 - s) / 2, 1 - (1 - s) / 2) for s in (0.95, 0.9, 0.85, 0.8)),
    *((ox, oy, ox + s, oy + s) for s in (0.9, 0.8) for ox in (0.0, 1 - s) for oy in (0.0, 1 - s)),
)
HASH_HEX = 16  # hex digits of one 64-bit hash
FIELD_LENGTH = HASH_HEX * len(WINDOWS)  # the stored string: 208 hex digits
DEFAULT_MAX_DISTANCE = 8  # bits: no unrelated pair of 125,000 test images came this close (docs/duplicates.md)


class HashError(ValueError):
    """A stored hash string that is not one this module wrote."""


def image_hashes(image: Any) -> str:
    """The stored form of an image's perceptual hashes (a PIL image; any mode, any size)."""
    import imagehash

    im = image if image.mode in ("RGB", "L") else image.convert("RGB")
    w, h = im.size
    out = []
    for x0, y0, x1, y1 in WINDOWS:
        crop = im if (x0, y0, x1, y1) == (0.0, 0.0, 1.0, 1.0) else \
            im.crop((round(x0 * w), round(y0 * h), max(round(x1 * w), round(x0 * w) + 1),
                     max(round(y1 * h), round(y0 * h) + 1)))
        out.append(str(imagehash.phash(crop)))
    return "".join(out)


def parse_hashes(text: str) -> np.ndarray:
    """The packed hashes (uint64, one per window) of a stored string; HashError names what is wrong."""
    if not isinstance(text, str) or len(text) != FIELD_LENGTH:
        raise HashError(f"a perceptual hash has {FIELD_LENGTH} hex digits, not {len(str(text))}")
    try:
        return np.array([int(text[i : i + HASH_HEX], 16) for i in range(0, FIELD_LENGTH, HASH_HEX)], dtype=np.uint64)
    except ValueError:
        raise HashError(f"a perceptual hash is hex digits only: {text[:24]!r}...") from None


def is_valid(text: Any) -> bool:
    """Whether `text` is a stored hash string this module can read."""
    try:
        parse_hashes(text)
    except HashError:
        return False
    return True


def distance(a: str, b: str) -> int:
    """The perceptual distance (bits) between two stored hash strings (see the module docstring)."""
    ha, hb = parse_hashes(a), parse_hashes(b)
    return int(min(np.bitwise_count(ha[0] ^ hb).min(), np.bitwise_count(hb[0] ^ ha).min()))


def near_pairs(hashes: Sequence[str], max_distance: int = DEFAULT_MAX_DISTANCE,
               block: int = 256) -> Iterator[dict[str, Any]]:
    """Every pair (i, j), i < j, of `hashes` (stored strings) within `max_distance` bits, and each
    one's nearest other hash.

    A generator: yields ``{"done": rows, "total": rows}`` and ends with ``{"done", "total",
    "pairs": [(i, j, bits)], "nearest": [(j, bits) or None per row]}``. Close it to stop.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, int) or not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be a whole number of bits from 0 to 64, not {max_distance!r}")
    n = len(hashes)
    packed = np.stack([parse_hashes(h) for h in hashes]) if n else np.zeros((0, len(WINDOWS)), np.uint64)
    full = packed[:, 0]
    windows = [np.ascontiguousarray(packed[:, w]) for w in range(packed.shape[1])]
    pairs: dict[tuple[int, int], int] = {}
    near_bits = np.full(n, 127, dtype=np.int16)
    near_idx = np.full(n, -1, dtype=np.int64)
    yield {"done": 0, "total": n}
    for lo in range(0, n, block):
        rows = np.arange(lo, min(n, lo + block))
        # the whole-image hash of each row against every window of every image: (rows, n), a window at a time
        q = full[rows, None]
        d8 = np.bitwise_count(q ^ windows[0][None, :])
        for w in windows[1:]:
            np.minimum(d8, np.bitwise_count(q ^ w[None, :]), out=d8)
        d = d8.astype(np.int16)
        d[np.arange(len(rows)), rows] = 127  # not itself
        # the distance is the smaller of both directions: rows -> all (by row), all -> rows (by column)
        best = d.argmin(axis=1)
        better = d[np.arange(len(rows)), best] < near_bits[rows]
        near_bits[rows[better]] = d[np.arange(len(rows)), best][better]
        near_idx[rows[better]] = best[better]
        col = d.argmin(axis=0)
        col_bits = d[col, np.arange(n)]
        better = col_bits < near_bits
        near_bits[better] = col_bits[better]
        near_idx[better] = rows[col[better]]
        for r, j in zip(*np.nonzero(d <= max_distance)):
            i, jj = int(rows[r]), int(j)
            key = (min(i, jj), max(i, jj))
            pairs[key] = min(pairs.get(key, 64), int(d[r, j]))
        yield {"done": int(rows[-1]) + 1, "total": n}
    nearest: list[tuple[int, int] | None] = [
        (int(j), int(b)) if j >= 0 else None for j, b in zip(near_idx.tolist(), near_bits.tolist())]
    yield {"done": n, "total": n, "pairs": sorted((i, j, b) for (i, j), b in pairs.items()), "nearest": nearest}
