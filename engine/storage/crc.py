"""CRC32 of large files on two cores: each half on its own thread, then combined.

Every index directory is checked against the CRC32 the catalog recorded before hnswlib reads it
(`engine.indexing.dir_crc32`): a damaged graph is reported with its path instead of being parsed. On a
100,000 × 512 graph (210 MB) that check was a quarter of a fresh process's time to its first result.
`zlib.crc32` releases the GIL on large buffers and so does a file's `read`, so the two halves of a
large file are summed at the same time, and `crc32_combine` (zlib's algorithm: multiplying by x^(8n)
modulo the CRC polynomial) joins them into exactly the CRC32 of the whole file.
"""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path

CHUNK = 1 << 22  # bytes read per call (4 MiB)
PARALLEL_MIN = 1 << 25  # files from 32 MiB are summed in two halves at once
_POLY = 0xEDB88320  # the reflected CRC-32 polynomial (zlib's)


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (reflected bit order, as zlib's multmodp)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table, p = [], 1 << 30  # x^1
    for _ in range(32):
        table.append(p)
        p = _multmodp(p, p)
    return table


_X2N = _x2n_table()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC32 of A + B from crc32(A), crc32(B) and len(B) (zlib's crc32_combine)."""
    p, k, n = 1 << 31, 3, len2  # x^(8 * len2): start at x^(2^3)
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return (_multmodp(p, crc1) ^ crc2) & 0xFFFFFFFF


def _range_crc32(path: Path, start: int, length: int | None, crc: int = 0) -> tuple[int, int]:
    """zlib.crc32 (continuing from `crc`) of `length` bytes of `path` from `start` (None: to the end;
    fewer when the file is shorter), and the number of bytes read."""
    done = 0
    buf = bytearray(CHUNK)  # one buffer per call, read into (no allocation per chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:  # (each thread its own file object)
        f.seek(start)
        while length is None or done < length:
            got = f.readinto(view if length is None or length - done >= CHUNK else view[: length - done])
            if not got:
                break
            crc = zlib.crc32(view[:got], crc)
            done += got
    return crc, done


def file_crc32(path: Path, crc: int = 0) -> tuple[int, int]:
    """zlib.crc32 of the file's bytes to its end, continuing from `crc`, and the number of bytes read.
    OSError as reading the file raises it."""
    size = os.path.getsize(path)
    if size < PARALLEL_MIN:
        return _range_crc32(path, 0, None, crc)
    half = size // 2
    tail: list[tuple[int, int] | OSError] = []

    def second_half() -> None:
        try:
            tail.append(_range_crc32(path, half, None))
        except OSError as e:
            tail.append(e)

    worker = threading.Thread(target=second_half, name="crc32", daemon=True)
    worker.start()
    try:
        c1, n1 = _range_crc32(path, 0, half, crc)
    finally:
        worker.join()
    got = tail[0]
    if isinstance(got, OSError):
        raise got
    if n1 < half:  # the file shrank under the read: what was read is not contiguous
        return c1, n1
    c2, n2 = got
    return crc32_combine(c1, c2, n2), n1 + n2
