"""`engine.storage.crc`: the two-thread CRC32 of a file is exactly zlib's CRC32 of its bytes.

The checksums recorded in catalogs since the first version are `zlib.crc32` over an index directory's
file names and bytes (`engine.indexing.dir_crc32`); reading a large file in two halves at once must not
change one of them, or every existing index would read as damaged.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.indexing import dir_crc32
from engine.storage import crc


@settings(max_examples=300, deadline=None)
@given(a=st.binary(max_size=2000), b=st.binary(max_size=5000), start=st.integers(0, 2**32 - 1))
def test_combine_is_zlibs(a: bytes, b: bytes, start: int) -> None:
    assert crc.crc32_combine(zlib.crc32(a, start), zlib.crc32(b), len(b)) == zlib.crc32(a + b, start)


@pytest.mark.parametrize("parallel_min", [1 << 30, 1])  # one thread, then two halves for every file
@pytest.mark.parametrize("size", [0, 1, 7, crc.CHUNK - 1, crc.CHUNK, 3 * crc.CHUNK + 5])
def test_file_crc_is_zlibs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_min: int, size: int) -> None:
    monkeypatch.setattr(crc, "PARALLEL_MIN", parallel_min)
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert crc.file_crc32(path, 12345) == (zlib.crc32(data, 12345), size)


def test_index_directory_checksum_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dir_crc32` as it was written before the two-thread read: names and bytes, sorted by name."""
    monkeypatch.setattr(crc, "PARALLEL_MIN", 1024)
    files = {"hnsw.bin": os.urandom(3 * 1024 * 1024 + 17), "index.json": b'{"metric": "L2"}', "norms.npy": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    want = 0
    for name in sorted(files):
        want = zlib.crc32(files[name], zlib.crc32(name.encode(), want))
    assert dir_crc32(tmp_path) == (want & 0xFFFFFFFF, sum(map(len, files.values())))


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        crc.file_crc32(tmp_path / "missing.bin")
