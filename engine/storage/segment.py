"""Segments: immutable Arrow data with local row ids 0..N-1.

A `SealedSegment` is an Arrow IPC file written once (temp file, fsync,
rename, fsync dir) and opened with a memory map. Its size and CRC32 are kept in
the catalog; the size is checked when the segment is first touched and the CRC
when it is first loaded, so a truncated or corrupted file raises
`CorruptionError` with its path instead of returning wrong rows.

A `GrowingSegment` holds the not-yet-sealed rows of one partition in memory
(they are durable in the write-ahead log). Both expose the same read API.
"""

from __future__ import annotations

import os
import threading
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from engine.errors import CorruptionError
from engine.storage.fsutil import fsync_dir


class SegmentData:
    """Read API shared by sealed and growing segments."""

    key: str
    partition: str

    @property
    def table(self) -> pa.Table:
        raise NotImplementedError

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @cached_property
    def _pk_sorted(self) -> tuple[np.ndarray, np.ndarray]:
        pks = self.pk_column()
        order = np.argsort(pks, kind="stable")
        return pks[order], order

    def pk_column(self) -> np.ndarray:
        """Primary keys by local row id (computed once per segment)."""
        cached = self.__dict__.get("_pk_column")
        if cached is None:
            cached = self.__dict__["_pk_column"] = self.table.column(0).to_numpy(zero_copy_only=False)
        return cached

    def lookup_pks(self, values: np.ndarray) -> np.ndarray:
        """Row of each primary key in `values`, or -1 where absent (vectorised)."""
        if self.num_rows == 0 or len(values) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        sorted_pks, order = self._pk_sorted
        if sorted_pks.dtype.kind in "OUS":
            values = np.asarray(values, dtype=object)
            sorted_pks = sorted_pks.astype(object)
        pos = np.searchsorted(sorted_pks, values)
        pos = np.clip(pos, 0, len(sorted_pks) - 1)
        hit = sorted_pks[pos] == values
        return np.where(hit, order[pos], -1).astype(np.int64)

    def vectors(self, field: str) -> np.ndarray:
        """(num_rows, dim) view of a fixed-size-list vector column (zero-copy when sealed)."""
        return self._vector_cache(field)

    def _vector_cache(self, field: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_vec_cache", {})
        if field not in cache:
            col = self.table.column(field).combine_chunks()
            if isinstance(col.type, pa.FixedSizeBinaryType):
                n = len(col)
                width = col.type.byte_width
                buf = col.buffers()[1]
                arr = np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=col.offset * width).reshape(n, width)
            else:
                dim = col.type.list_size
                values = col.values.to_numpy(zero_copy_only=False)
                arr = values[col.offset * dim : (col.offset + len(col)) * dim].reshape(len(col), dim)
            cache[field] = arr
        return cache[field]

    def struct_vectors(self, field: str, sub: str) -> tuple[np.ndarray, np.ndarray]:
        """(elements (E, dim), offsets (num_rows + 1,)) for an Array of Structs vector sub-field."""
        cache = self.__dict__.setdefault("_struct_cache", {})
        key = (field, sub)
        if key not in cache:
            col = self.table.column(field).combine_chunks()
            offsets = col.offsets.to_numpy().astype(np.int64)
            child = col.values.field(sub)
            dim = child.type.list_size
            flat = child.values.to_numpy(zero_copy_only=False)
            start = child.offset * dim
            elements = flat[start : start + len(child) * dim].reshape(len(child), dim)
            base = offsets[0]
            cache[key] = (elements[base : offsets[-1]], offsets - base)
        return cache[key]


class GrowingSegment(SegmentData):
    """The in-memory rows of one partition that are not sealed yet (immutable value)."""

    def __init__(self, key: str, partition: str, arrow_schema: pa.Schema, batches: tuple[pa.RecordBatch, ...] = ()):
        self.key = key
        self.partition = partition
        self.arrow_schema = arrow_schema
        self.batches = batches

    def with_batch(self, batch: pa.RecordBatch) -> GrowingSegment:
        return GrowingSegment(self.key, self.partition, self.arrow_schema, (*self.batches, batch))

    @cached_property
    def table(self) -> pa.Table:  # type: ignore[override]
        return pa.Table.from_batches(list(self.batches), schema=self.arrow_schema).combine_chunks()

    @property
    def num_rows(self) -> int:
        return sum(b.num_rows for b in self.batches)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.batches)


class SealedSegment(SegmentData):
    """An immutable, memory-mapped Arrow IPC segment file."""

    def __init__(self, key: str, partition: str, path: Path, rows: int, size: int, crc32: int) -> None:
        self.key = key
        self.partition = partition
        self.path = path
        self.rows = rows
        self.size = size
        self.crc32 = crc32
        self._lock = threading.Lock()
        self._table: pa.Table | None = None

    @property
    def num_rows(self) -> int:
        return self.rows

    def check_size(self) -> None:
        try:
            actual = self.path.stat().st_size
        except FileNotFoundError:
            raise CorruptionError(f"segment file is missing: {self.path}", str(self.path)) from None
        if actual != self.size:
            raise CorruptionError(
                f"segment file {self.path} is {actual} bytes, expected {self.size} (truncated or overwritten)",
                str(self.path),
            )

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    self._table = self._open()
        return self._table

    def _open(self) -> pa.Table:
        self.check_size()
        crc = file_crc32(self.path)
        if crc != self.crc32:
            raise CorruptionError(
                f"segment file {self.path} is corrupted: checksum {crc:08x}, expected {self.crc32:08x}", str(self.path)
            )
        try:
            source = pa.memory_map(str(self.path), "r")
            table = ipc.open_file(source).read_all()
        except (pa.ArrowInvalid, OSError) as e:
            raise CorruptionError(f"segment file {self.path} cannot be read: {e}", str(self.path)) from None
        if table.num_rows != self.rows:
            raise CorruptionError(f"segment file {self.path} has {table.num_rows} rows, expected {self.rows}", str(self.path))
        return table

    @property
    def loaded(self) -> bool:
        return self._table is not None

    def release(self) -> None:
        with self._lock:
            self._table = None
            self.__dict__.pop("_vec_cache", None)
            self.__dict__.pop("_struct_cache", None)
            self.__dict__.pop("_pk_sorted", None)
            self.__dict__.pop("_pk_column", None)


def file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF


def write_segment_file(path: Path, table: pa.Table) -> tuple[int, int]:
    """Write `table` as an Arrow IPC file atomically; return (size, crc32)."""
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 16)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    crc = file_crc32(tmp)
    size = tmp.stat().st_size
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return size, crc
