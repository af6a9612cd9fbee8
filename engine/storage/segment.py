"""Segments: immutable Arrow data with local row ids 0..N-1.

A `SealedSegment` is an Arrow IPC file written once (temp file, fsync, rename,
fsync dir) and opened with a memory map. Its size and CRC32 are kept in the
catalog; the size is checked when the segment is first touched and the CRC when
it is first loaded, so a truncated or corrupted file raises `CorruptionError`
with its path instead of returning wrong rows. The file's schema metadata
describes it (collection, partition, segment id, what it was compacted from), so
a lost catalog can be rebuilt from the files (`engine.recovery`).

In a merged segment, the float vectors of an HNSW-indexed field are stored once,
in the field's graph file (see `engine.indexing`), exactly as inserted: the Arrow
file does not hold that column, and `vectors(field)` reads them from the graph
through `vector_source`.

A `GrowingSegment` holds the not-yet-sealed rows of one partition in memory
(they are durable in the write-ahead log). Both expose the same read API, and
both present their data in the collection's current Arrow schema: a column that
an older file lacks (a field added later) reads as nulls.

Deletes of a sealed segment live in a sidecar file ``seg_<id>.del.<lsn>``: the
packed delete bits, written once under a new name each time they change.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import zlib
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from engine.errors import CorruptionError
from engine.storage import faults
from engine.storage.arrow_numpy import array_to_numpy, column_to_numpy
from engine.storage.fsutil import fsync_dir

TS_COLUMN = "$ts"
# Field metadata holding a field's default value (JSON of the stored value): a column that an older
# segment or log batch lacks reads as this default instead of null (see engine.schema_evolution).
DEFAULT_VALUE_META = b"engine.default_value"
BYTES_KEY = "$bytes"  # a bytes default (GEOMETRY's WKB) in DEFAULT_VALUE_META's JSON: {"$bytes": base64}

# vector_source(segment, field, rows or None for all) -> (rows, dim) float32, raw values
VectorSource = Callable[["SealedSegment", str, np.ndarray | None], np.ndarray]


def conform(table: pa.Table, schema: pa.Schema | None, omit: frozenset[str] = frozenset()) -> pa.Table:
    """`table` with `schema`'s columns in order: missing ones as nulls (or as the default value their field's
    metadata names), extra ones kept at the end."""
    if schema is None:
        return table
    names = table.column_names
    wanted = [f for f in schema if f.name not in omit]
    if names[: len(wanted)] == [f.name for f in wanted]:
        return table
    cols, fields = [], []
    for f in wanted:
        if f.name in names:
            cols.append(table.column(f.name))
            fields.append(table.schema.field(f.name))
        else:
            default = (f.metadata or {}).get(DEFAULT_VALUE_META)
            if default is None:
                cols.append(pa.nulls(table.num_rows, type=f.type))
            else:
                value = json.loads(default)
                if isinstance(value, dict) and set(value) == {BYTES_KEY}:
                    value = base64.b64decode(value[BYTES_KEY])
                cols.append(pa.array([value] * table.num_rows, type=f.type))
            fields.append(f)
    for name in names:
        if schema.get_field_index(name) < 0:
            cols.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


class SegmentData:
    """Read API shared by sealed and growing segments."""

    key: str
    partition: str
    graph_fields: frozenset[str] = frozenset()

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
            cached = self.__dict__["_pk_column"] = column_to_numpy(self.table.column(0))
        return cached

    def ts_column(self) -> np.ndarray | None:
        """Insert times (ms since the epoch) by row, or None for data written before they were kept."""
        t = self.table
        if TS_COLUMN not in t.column_names:
            return None
        col = t.column(TS_COLUMN)
        if col.null_count == len(col):
            return None
        return column_to_numpy(col)

    def lookup_pks(self, values: np.ndarray, deleted: np.ndarray | None = None) -> np.ndarray:
        """Row of each primary key in `values`, or -1 where absent (vectorised).

        A merged segment may hold a key twice, a deleted version and the live one (an upsert
        appended after the old row, which stays in place): with `deleted`, the live row wins."""
        if self.num_rows == 0 or len(values) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        sorted_pks, order = self._pk_sorted
        if sorted_pks.dtype.kind in "OUS":
            values = np.asarray(values, dtype=object)
            sorted_pks = sorted_pks.astype(object)
        left = np.searchsorted(sorted_pks, values, side="left")
        right = np.searchsorted(sorted_pks, values, side="right")
        out = np.where(right > left, order[np.clip(left, 0, len(order) - 1)], -1).astype(np.int64)
        if deleted is not None:
            for i in np.flatnonzero(right - left > 1):  # duplicates: take a row that is not deleted
                rows = order[left[i] : right[i]]
                live = rows[~deleted[rows]]
                out[i] = live[0] if len(live) else rows[0]
        return out

    def vectors(self, field: str) -> np.ndarray:
        """(num_rows, dim) vectors of a top-level vector field (zero-copy from the Arrow file when it holds them)."""
        cache = self.__dict__.setdefault("_vec_cache", {})
        if field not in cache:
            cache[field] = self._graph_vectors(field, None) if field in self.graph_fields else self._arrow_vectors(field)
        return cache[field]

    def vectors_at(self, field: str, rows: np.ndarray) -> np.ndarray:
        """Vectors of some rows (reads only those rows from a graph file)."""
        cached = self.__dict__.get("_vec_cache", {}).get(field)
        if cached is None and field in self.graph_fields:
            return self._graph_vectors(field, rows)
        return self.vectors(field)[rows]

    def _graph_vectors(self, field: str, rows: np.ndarray | None) -> np.ndarray:
        raise CorruptionError(f"segment {self.key}: field {field!r} has no vector source")

    def _arrow_vectors(self, field: str) -> np.ndarray:
        return fixed_vectors(self.table.column(field).combine_chunks())

    def vector_blocks(self, field: str, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                      tag: str = "") -> list[np.ndarray]:
        """The vectors of `field` as consecutive blocks of rows (`convert`ed, e.g. to float32; `tag` names the
        conversion for the cache): one block here; a growing segment has one per inserted batch, so that its
        successor after the next insert reuses them."""
        return [self._derived(("vectors", field, tag), lambda: (convert or _same)(self.vectors(field)))]

    def inverse_norm_blocks(self, field: str, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                            tag: str = "") -> list[np.ndarray]:
        """1 / |x| per row (0 for a zero vector), block by block as `vector_blocks`: cosine scores without
        normalising the stored vectors at every search."""
        return [self._derived(("inverse_norms", field, tag),
                              lambda: inverse_norms(self.vector_blocks(field, convert, tag)[0]))]

    def _derived(self, key: Any, make: Callable[[], np.ndarray]) -> np.ndarray:
        cache = self.__dict__.setdefault("_derived_cache", {})
        got = cache.get(key)
        if got is None:
            got = cache[key] = make()
        return got

    def struct_vectors(self, field: str, sub: str) -> tuple[np.ndarray, np.ndarray]:
        """(elements (E, dim), offsets (num_rows + 1,)) for an Array of Structs vector sub-field."""
        cache = self.__dict__.setdefault("_struct_cache", {})
        key = (field, sub)
        if key not in cache:
            col = self.table.column(field).combine_chunks()
            offsets = array_to_numpy(col.offsets).astype(np.int64)
            if col.null_count:
                raise CorruptionError(f"segment {self.key}: struct field {field!r} holds nulls")
            child = col.values.field(sub)
            dim = child.type.list_size
            flat = array_to_numpy(child.values)
            start = child.offset * dim
            elements = flat[start : start + len(child) * dim].reshape(len(child), dim)
            base = offsets[0]
            cache[key] = (elements[base : offsets[-1]], offsets - base)
        return cache[key]


def _same(v: np.ndarray) -> np.ndarray:
    return v


def fixed_vectors(col: pa.Array) -> np.ndarray:
    """A FixedSizeList (or FixedSizeBinary) vector column as a (rows, dim) array viewing its buffer."""
    if isinstance(col.type, pa.FixedSizeBinaryType):
        n = len(col)
        width = col.type.byte_width
        buf = col.buffers()[1]
        return np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=col.offset * width).reshape(n, width)
    dim = col.type.list_size
    values = array_to_numpy(col.values)
    return values[col.offset * dim : (col.offset + len(col)) * dim].reshape(len(col), dim)


def inverse_norms(vectors: np.ndarray) -> np.ndarray:
    """1 / |x| per row as float32, 0 for a zero row."""
    sq = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
    out = np.zeros(len(sq), dtype=np.float64)
    np.divide(1.0, np.sqrt(sq), out=out, where=sq > 0)
    return out.astype(np.float32)


class GrowingSegment(SegmentData):
    """The in-memory rows of one partition that are not sealed yet (immutable value).

    Each insert makes a new segment with one more batch (`with_batch`). What searches derive from the
    rows (primary keys, vectors, inverse norms) is kept per batch and handed on to the successor, so a
    search after an insert does the work of the new batch only, not of all growing rows."""

    def __init__(self, key: str, partition: str, arrow_schema: pa.Schema, batches: tuple[pa.RecordBatch, ...] = (),
                 inherited: dict[Any, list[np.ndarray]] | None = None):
        self.key = key
        self.partition = partition
        self.arrow_schema = arrow_schema
        self.batches = batches
        # per-batch blocks by what they hold; `inherited` is a predecessor's (its batches are a prefix of ours)
        self._blocks: dict[Any, list[np.ndarray]] = {}
        self._inherited = inherited or {}

    def with_batch(self, batch: pa.RecordBatch) -> GrowingSegment:
        return GrowingSegment(self.key, self.partition, self.arrow_schema, (*self.batches, batch),
                              self._blocks or self._inherited)

    def _per_batch(self, key: Any, make: Callable[[pa.RecordBatch], np.ndarray]) -> list[np.ndarray] | None:
        got = self._blocks.get(key)
        if got is None:
            prev = self._inherited.get(key, [])[: len(self.batches)]
            try:
                got = [*prev, *(make(b) for b in self.batches[len(prev):])]
            except _NotPerBatch:
                return None
            self._blocks[key] = got
        return got

    def _batch_column(self, batch: pa.RecordBatch, name: str) -> pa.Array:
        i = batch.schema.get_field_index(name)
        if i < 0:
            raise _NotPerBatch  # an older batch without this field (added later): the whole-table path copes
        return batch.column(i)

    def pk_column(self) -> np.ndarray:
        cached = self.__dict__.get("_pk_column")
        if cached is None:
            name = self.arrow_schema.field(0).name
            parts = self._per_batch(("pk",), lambda b: column_to_numpy(self._batch_column(b, name)))
            if parts is None or not parts:
                return super().pk_column()
            cached = self.__dict__["_pk_column"] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return cached

    def _batch_vectors(self, batch: pa.RecordBatch, field: str,
                       convert: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
        col = self._batch_column(batch, field)
        if col.null_count:
            raise _NotPerBatch
        return (convert or _same)(fixed_vectors(col))

    def vector_blocks(self, field: str, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                      tag: str = "") -> list[np.ndarray]:
        got = self._per_batch(("vectors", field, tag), lambda b: self._batch_vectors(b, field, convert))
        return super().vector_blocks(field, convert, tag) if got is None else got

    def inverse_norm_blocks(self, field: str, convert: Callable[[np.ndarray], np.ndarray] | None = None,
                            tag: str = "") -> list[np.ndarray]:
        got = self._per_batch(("inverse_norms", field, tag),
                              lambda b: inverse_norms(self._batch_vectors(b, field, convert)))
        return super().inverse_norm_blocks(field, convert, tag) if got is None else got

    def vectors(self, field: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_vec_cache", {})
        if field not in cache:
            blocks = self._per_batch(("vectors", field, ""), lambda b: self._batch_vectors(b, field, None))
            if blocks is None or not blocks:
                return super().vectors(field)
            cache[field] = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return cache[field]

    @cached_property
    def table(self) -> pa.Table:  # type: ignore[override]
        tables = [conform(pa.Table.from_batches([b]), self.arrow_schema) for b in self.batches]
        if not tables:
            return self.arrow_schema.empty_table()
        return pa.concat_tables(tables, promote_options="none").combine_chunks()

    @property
    def num_rows(self) -> int:
        return sum(b.num_rows for b in self.batches)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.batches)


class SealedSegment(SegmentData):
    """An immutable, memory-mapped Arrow IPC segment file."""

    def __init__(self, key: str, partition: str, path: Path, rows: int, size: int, crc32: int,
                 arrow_schema: pa.Schema | None = None, graph_fields: frozenset[str] = frozenset(),
                 vector_source: VectorSource | None = None, level: int = 0) -> None:
        self.key = key
        self.partition = partition
        self.path = path
        self.rows = rows
        self.size = size
        self.crc32 = crc32
        self.level = level
        self.arrow_schema = arrow_schema
        self.graph_fields = graph_fields
        self.vector_source = vector_source
        self.index_rows: dict[str, dict[str, Any]] = {}  # field -> catalog row of its built index
        self.loaded_indexes: dict[str, Any] = {}  # field -> loaded VectorIndex (kept with this segment)
        self.mmap = True  # memory-map the file (else read it into memory): the collection's `mmap.enabled`
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
                    self._table = conform(self._open(), self.arrow_schema, self.graph_fields)
        return self._table

    def _open(self) -> pa.Table:
        self.check_size()
        try:
            crc = file_crc32(self.path)
        except FileNotFoundError:  # removed since check_size (replaced by another process): the reader retries
            raise CorruptionError(f"segment file is missing: {self.path}", str(self.path)) from None
        if crc != self.crc32:
            raise CorruptionError(
                f"segment file {self.path} is corrupted: checksum {crc:08x}, expected {self.crc32:08x}", str(self.path)
            )
        try:
            source = pa.memory_map(str(self.path), "r") if self.mmap else pa.BufferReader(self.path.read_bytes())
            table = ipc.open_file(source).read_all()
        except (pa.ArrowInvalid, OSError) as e:
            raise CorruptionError(f"segment file {self.path} cannot be read: {e}", str(self.path)) from None
        if table.num_rows != self.rows:
            raise CorruptionError(f"segment file {self.path} has {table.num_rows} rows, expected {self.rows}", str(self.path))
        return table

    def _graph_vectors(self, field: str, rows: np.ndarray | None) -> np.ndarray:
        if self.vector_source is None:
            raise CorruptionError(f"segment file {self.path}: the vectors of {field!r} live in its graph, "
                                  "which is not attached", str(self.path))
        return self.vector_source(self, field, rows)

    @property
    def loaded(self) -> bool:
        return self._table is not None

    def release(self) -> None:
        with self._lock:
            self._table = None
            for name in ("_vec_cache", "_struct_cache", "_pk_sorted", "_pk_column", "_derived_cache"):
                self.__dict__.pop(name, None)
            self.loaded_indexes = {}


class _NotPerBatch(Exception):
    """A growing segment's batch cannot give this column on its own (see `GrowingSegment._per_batch`)."""


def file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc & 0xFFFFFFFF


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_segment_file(path: Path, table: pa.Table, metadata: dict[str, str] | None = None) -> tuple[int, int]:
    """Write `table` as an Arrow IPC file atomically (with `metadata` in its schema); return (size, crc32)."""
    if metadata:  # replaces what `table` carries over from the files it was read from (keys are bytes there)
        kept = {k.decode() if isinstance(k, bytes) else k: v for k, v in (table.schema.metadata or {}).items()}
        table = table.replace_schema_metadata({**kept, **metadata})
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 16)
    fsync_file(tmp)
    crc = file_crc32(tmp)
    size = tmp.stat().st_size
    faults.point("segment.tmp")
    os.replace(tmp, path)
    fsync_dir(path.parent)
    faults.point("segment.renamed")
    return size, crc


def read_segment_metadata(path: Path) -> dict[str, str]:
    """The self-description of a segment file (empty for files written before it was kept)."""
    try:
        with pa.memory_map(str(path), "r") as source:
            meta = ipc.open_file(source).schema.metadata or {}
    except (pa.ArrowInvalid, OSError) as e:
        raise CorruptionError(f"segment file {path} cannot be read: {e}", str(path)) from None
    return {k.decode(): v.decode() for k, v in meta.items()}


# --- delete sidecars ----------------------------------------------------------

_DEL_MAGIC = b"DEL1"


def write_deletes(path: Path, deleted: np.ndarray) -> int:
    """Write a delete sidecar (magic, row count, packed bits) atomically; return its CRC32."""
    body = _DEL_MAGIC + len(deleted).to_bytes(8, "little") + np.packbits(deleted).tobytes()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return zlib.crc32(body) & 0xFFFFFFFF


def read_deletes(path: Path, rows: int, crc: int | None) -> np.ndarray:
    """The delete bits of a segment of `rows` rows; CorruptionError naming the file when it does not check out."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise CorruptionError(f"delete file is missing: {path}", str(path)) from None
    if crc is not None and zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise CorruptionError(f"delete file {path} is corrupted (checksum mismatch)", str(path))
    if body[:4] != _DEL_MAGIC or int.from_bytes(body[4:12], "little") != rows:
        raise CorruptionError(f"delete file {path} does not belong to a segment of {rows} rows", str(path))
    return np.unpackbits(np.frombuffer(body, dtype=np.uint8, offset=12), count=rows).astype(bool)


def segment_metadata(**values: Any) -> dict[str, str]:
    return {f"vector_workbench.{k}": str(v) for k, v in values.items()}
