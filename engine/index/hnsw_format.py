"""Read the structure of an hnswlib index from its saved bytes.

hnswlib (0.8.0, ``hnswalg.h`` ``saveIndex``) writes, little-endian:

* a 96-byte header: ``offsetLevel0, max_elements, cur_element_count,
  size_data_per_element, label_offset, offsetData`` (size_t each), ``maxlevel``
  (int32), ``enterpoint_node`` (uint32), ``maxM, maxM0, M`` (size_t), ``mult``
  (double), ``ef_construction`` (size_t);
* ``cur_element_count`` blocks of ``size_data_per_element`` bytes (layer 0): at
  ``offsetLevel0`` a link-list header whose low 16 bits count the neighbours (byte 2
  holds the deleted mark), then ``maxM0`` uint32 neighbour ids, then the vector at
  ``offsetData`` and the uint64 label at ``label_offset``;
* for each element a uint32 ``linkListSize`` (``level * (maxM * 4 + 4)``) followed by
  that many bytes of upper-layer link lists (same layout with ``maxM`` slots).

hnswlib has no API for levels or degrees; this parser is how `HNSWIndex.stats` gets them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import CorruptionError

__all__ = ["HEADER_DTYPE", "HnswStructure", "parse_hnsw_index"]

HEADER_DTYPE = np.dtype(
    [
        ("offset_level0", "<u8"),
        ("max_elements", "<u8"),
        ("cur_element_count", "<u8"),
        ("size_data_per_element", "<u8"),
        ("label_offset", "<u8"),
        ("offset_data", "<u8"),
        ("max_level", "<i4"),
        ("enterpoint_node", "<u4"),
        ("max_m", "<u8"),
        ("max_m0", "<u8"),
        ("m", "<u8"),
        ("mult", "<f8"),
        ("ef_construction", "<u8"),
    ]
)
assert HEADER_DTYPE.itemsize == 96


@dataclass
class HnswStructure:
    """Graph facts read from a saved hnswlib index."""

    header: dict[str, float | int]
    element_levels: np.ndarray  # (n,) int32, the top layer of each element (by internal id)
    degree0: np.ndarray  # (n,) int32, neighbour count on layer 0
    deleted: np.ndarray  # (n,) bool
    labels: np.ndarray  # (n,) uint64, external label of each internal id
    upper_bytes: int  # total bytes of upper-layer link lists

    @property
    def count(self) -> int:
        return len(self.element_levels)

    def level_counts(self) -> list[int]:
        """``[c_0, c_1, ...]``: number of elements whose top layer is >= l."""
        if self.count == 0:
            return []
        hist = np.bincount(self.element_levels)
        return [int(x) for x in np.cumsum(hist[::-1])[::-1]]

    def degree_histogram(self) -> list[int]:
        """``h[d]`` = number of elements with d neighbours on layer 0."""
        return [int(x) for x in np.bincount(self.degree0, minlength=1)]


def parse_hnsw_index(buf: bytes | bytearray | memoryview | np.ndarray) -> HnswStructure:
    """Parse hnswlib's saved index bytes (see the module docstring for the layout)."""
    raw = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8)
    if raw.size < HEADER_DTYPE.itemsize:
        raise CorruptionError("hnsw index file is shorter than its header")
    hdr = raw[: HEADER_DTYPE.itemsize].view(HEADER_DTYPE)[0]
    header = {name: hdr[name].item() for name in HEADER_DTYPE.names or ()}
    n = int(header["cur_element_count"])
    size = int(header["size_data_per_element"])
    max_m = int(header["max_m"])
    pos = HEADER_DTYPE.itemsize
    level0_end = pos + n * size
    if n > int(header["max_elements"]) or level0_end > raw.size or size <= 0 and n > 0:
        raise CorruptionError("hnsw index file is truncated or its header is inconsistent")
    blocks = raw[pos:level0_end].reshape(n, size)
    off0 = int(header["offset_level0"])
    degree0 = blocks[:, off0 : off0 + 2].copy().view("<u2")[:, 0].astype(np.int32)
    deleted = (blocks[:, off0 + 2] & 1).astype(bool)
    lab = int(header["label_offset"])
    labels = blocks[:, lab : lab + 8].copy().view("<u8")[:, 0]

    # Upper layers: a uint32 size per element, then that many bytes. Sizes are multiples of 4,
    # so read the rest as uint32 words and jump only over elements with a non-zero size.
    tail = raw[level0_end:]
    words = tail[: tail.size // 4 * 4].view("<u4")
    link_size = max_m * 4 + 4
    levels = np.zeros(n, dtype=np.int32)
    nonzero = np.flatnonzero(words)
    w = 0  # word position of the current element's size
    i = 0  # current element
    upper_bytes = 0
    while i < n:
        j = int(np.searchsorted(nonzero, w))
        if j == len(nonzero):
            break  # all remaining elements have level 0
        w_next = int(nonzero[j])
        i += w_next - w  # elements with size 0 in between
        if i >= n:
            break
        nbytes = int(words[w_next])
        if nbytes % link_size or w_next + 1 + nbytes // 4 > len(words):
            raise CorruptionError(f"hnsw index: bad link list size {nbytes} for element {i}")
        levels[i] = nbytes // link_size
        upper_bytes += nbytes
        i += 1
        w = w_next + 1 + nbytes // 4
    if i < n and len(words) < w + (n - i):
        raise CorruptionError("hnsw index file is truncated in its upper layers")
    return HnswStructure(header, levels, degree0, deleted, labels, upper_bytes)
