"""The vector indexes of a collection's sealed segments: specs, built files, loading, vector sources.

An index spec (the catalog's `indexes` table) names a field path (`vec` or
`chunks[emb]`), a type, a metric and build parameters. Built indexes live beside
their segment in ``segments/seg_N.idx/<field>/`` and are listed in the catalog's
`segment_indexes` table with a CRC32 over their files, checked before loading.

Two kinds of built index exist:

* *graph storage*: in a merged (level-1) segment, an HNSW field's graph file also
  stores the field's vectors (``holds_vectors``), which the segment's Arrow file
  then omits. It is built and extended by `engine.maintenance`, and stays as the
  vectors' storage even if the index spec is dropped (searches then scan it exactly).
* *per-segment indexes* of the other types (FLAT, IVF_FLAT, BIN_*), and HNSW
  indexes of version-1 databases, built over vectors the Arrow file holds
  (`build_iter`).

Loaded indexes are cached per (segment, field) and shared by every snapshot that
holds the segment.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import threading
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import CorruptionError
from engine.index.base import VectorIndex
from engine.storage.crc import file_crc32
from engine.storage.fsutil import fsync_dir
from engine.storage.segment import SealedSegment

if TYPE_CHECKING:
    from engine.collection import Collection

GRAPH_TYPES = ("HNSW", "AUTOINDEX")
# Collection.plan_epoch values: unique in the process, a new one whenever a collection's catalog state is reloaded.
PLAN_EPOCHS = itertools.count(1)


@dataclass(frozen=True)
class IndexSpec:
    """An index requested on a vector field path (`vec` or `chunks[emb]`)."""

    name: str
    field: str
    index_type: str
    metric: str
    params: dict[str, Any]

    @property
    def is_maxsim(self) -> bool:
        return "[" in self.field

    @property
    def build_params(self) -> dict[str, Any]:
        """What a built index must match to serve this spec."""
        return {"index_type": self.index_type, "metric": self.metric, **self.params}

    @cached_property
    def params_key(self) -> tuple[tuple[str, str], ...]:
        return params_key(self.build_params)


@dataclass
class BuildProgress:
    """One progress event of an index build or merge."""

    field: str
    segment: str
    done: int  # vectors indexed so far in this step
    total: int  # vectors of this step
    segments_done: int
    segments_total: int


def safe_name(field: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", field).strip("_")


def dir_crc32(path: Path) -> tuple[int, int]:
    """CRC32 and total size over every file of an index directory (sorted by name)."""
    crc, size = 0, 0
    for p in sorted(path.rglob("*")):
        if p.is_file():
            crc = zlib.crc32(p.name.encode(), crc)
            crc, n = file_crc32(p, crc)  # (a large file on two threads)
            size += n
    return crc & 0xFFFFFFFF, size


def save_index_dir(index: VectorIndex, out: Path) -> tuple[int, int]:
    """Save `index` into `out` (through a temp directory, fsynced); return (crc32, size)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    index.save(tmp)
    for p in tmp.rglob("*"):
        if p.is_file():
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    fsync_dir(out.parent)
    return dir_crc32(out)


class SegmentIndexes:
    """The index specs of one collection, and its segments' built indexes (loaded on first use).

    The catalog rows of a segment's built indexes, and the indexes once loaded, are kept on
    the segment object itself, so a search over an older snapshot keeps using the indexes of
    the segments it holds even after maintenance replaced them."""

    def __init__(self, coll: Collection) -> None:
        self.coll = coll
        self.catalog = coll.catalog
        self._load_lock = threading.Lock()
        self._specs: list[IndexSpec] | None = None

    @property
    def seg_dir(self) -> Path:
        return self.coll.seg_dir

    # --- specs and built rows ----------------------------------------------------
    def specs(self) -> list[IndexSpec]:
        """The vector indexes requested on this collection (read from the catalog once per version)."""
        specs = self._specs
        if specs is None:
            with self.catalog.read() as tx:
                rows = tx.all("select * from indexes where collection_id = ? order by created", [self.coll.id])
            specs = [IndexSpec(r["index_name"], r["field"], r["index_type"].upper(), r["metric_type"],
                               json.loads(r["params"] or "{}")) for r in rows if r["metric_type"]]
            self._specs = specs
        return specs

    def invalidate(self) -> None:
        """Forget cached specs; called whenever the collection's catalog state changes.

        Also gives the collection a new `plan_epoch`, so checked search plans made before are not used
        again (engine/client/search_plan.py)."""
        self._specs = None
        self.coll.plan_epoch = next(PLAN_EPOCHS)

    def spec_for(self, field: str) -> IndexSpec | None:
        return next((s for s in self.specs() if s.field == field), None)

    def built(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(segment key, field) -> catalog row of every built index of the current sealed segments."""
        return {(seg.key, f): row for seg in self.coll.sealed_segments() for f, row in seg.index_rows.items()}

    def serves(self, seg: SealedSegment | str, spec: IndexSpec) -> bool:
        """Whether the segment's built index of `spec.field` was built as `spec` asks."""
        if isinstance(seg, str):
            found = next((s for s in self.coll.sealed_segments() if s.key == seg), None)
            if found is None:
                return False
            seg = found
        row = seg.index_rows.get(spec.field)
        return row is not None and row["params_key"] == spec.params_key

    # --- loading -------------------------------------------------------------------
    def get(self, seg: SealedSegment, field: str, spec: IndexSpec | None = None) -> VectorIndex | None:
        """The built index of `field` on `seg` (matching `spec` when given), loaded and checked; None if none."""
        index = seg.loaded_indexes.get(field)
        row = seg.index_rows.get(field)
        if row is None or (spec is not None and row["params_key"] != spec.params_key):
            return None
        if index is not None:
            return index  # type: ignore[no-any-return]
        with self._load_lock:
            index = seg.loaded_indexes.get(field)
            if index is None:
                index = self._load(seg, field, row)
                if hasattr(index, "freeze"):
                    index.freeze()  # shared by every search: never changed in place (merges use a copy)
                seg.loaded_indexes[field] = index
        return index  # type: ignore[no-any-return]

    def _load(self, seg: SealedSegment, field: str, row: dict[str, Any]) -> VectorIndex:
        from engine.index import load_index

        path = self.seg_dir / row["file"]
        crc, size = dir_crc32(path) if path.exists() else (0, -1)
        if size != row["size"] or crc != row["crc32"]:
            if not path.exists():
                raise CorruptionError(f"index files in {path} are missing", str(path))
            raise CorruptionError(f"index files in {path} are corrupted (checksum mismatch)", str(path))
        if "[" in field:
            top, sub = field[:-1].split("[", 1)
            elements, offsets = seg.struct_vectors(top, sub)
            return load_index(path, elements, offsets=offsets)
        declared = self.coll.schema.field(field)
        if declared is not None and declared.is_sparse:  # posting lists hold everything they need
            index = load_index(path)
            if getattr(index, "count", -1) != seg.num_rows:
                raise CorruptionError(f"index {path} covers {getattr(index, 'count', '?')} rows, its segment "
                                      f"{seg.path} has {seg.num_rows} rows", str(path))
            return index
        if row["holds_vectors"]:
            index = load_index(path)
            if getattr(index, "count", seg.num_rows) != seg.num_rows:
                raise CorruptionError(f"index {path} holds {getattr(index, 'count', '?')} vectors, its segment "
                                      f"{seg.path} has {seg.num_rows} rows", str(path))
            return index
        return load_index(path, seg.vectors(field))

    def read_vectors(self, seg: SealedSegment, field: str, rows: np.ndarray | None) -> np.ndarray:
        """The vectors a merged segment's graph stores, exactly as they were inserted."""
        index = self.get(seg, field)
        if index is None:
            raise CorruptionError(f"segment file {seg.path}: the graph storing {field!r} is not in the catalog",
                                  str(seg.path))
        ids = np.arange(seg.num_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        return np.asarray(index.get_vectors(ids), dtype=np.float32)  # type: ignore[attr-defined]

    def memory_bytes(self) -> int:
        return sum(ix.memory_bytes() for seg in self.coll.sealed_segments() for ix in seg.loaded_indexes.values())

    def release(self) -> None:
        for seg in self.coll.sealed_segments():
            seg.loaded_indexes = {}


def is_graph_spec(spec: IndexSpec, coll: Collection) -> bool:
    """HNSW specs: their graphs are built once per merged segment and extended by `engine.maintenance`."""
    from engine.types import DataType

    if spec.index_type not in GRAPH_TYPES:
        return False
    if spec.is_maxsim:
        return True
    f = coll.schema.field(spec.field)
    return f is not None and f.dtype in (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR)


def stores_vectors(spec: IndexSpec, coll: Collection) -> bool:
    """Whether a merged segment may keep this field's vectors only in its graph (float32 top-level fields,
    when the graph stores them exactly: always for L2 and IP, for COSINE when they are unit length)."""
    from engine.types import DataType

    if not is_graph_spec(spec, coll) or spec.is_maxsim:
        return False
    f = coll.schema.field(spec.field)
    return f is not None and f.dtype == DataType.FLOAT_VECTOR


def params_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Build parameters in a comparable form (types and metrics upper-cased, values as text)."""
    return tuple(sorted((str(k), str(v).upper() if k in ("index_type", "metric") else str(v))
                        for k, v in params.items()))
