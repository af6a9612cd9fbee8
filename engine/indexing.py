"""Per-segment vector indexes of a collection: build, persist, load and track them.

Indexes are built per sealed segment (growing rows are searched exactly until
they are sealed) and saved beside the segment in `segments/seg_N.idx/<field>/`.
The catalog's `segment_indexes` table lists the built ones with a CRC32 over
their files, checked before an index is loaded. Builds run as generators that
yield progress; `build_pending` runs them to completion.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError
from engine.index import create_index, load_index
from engine.index.base import VectorIndex
from engine.storage.catalog import Catalog
from engine.storage.fsutil import fsync_dir
from engine.storage.segment import SealedSegment


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


@dataclass
class BuildProgress:
    """One progress event of an index build."""

    field: str
    segment: str
    done: int  # vectors indexed so far in this segment
    total: int  # vectors of this segment
    segments_done: int
    segments_total: int


def _safe(field: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", field).strip("_")


def dir_crc32(path: Path) -> tuple[int, int]:
    """CRC32 and total size over every file of an index directory (sorted by name)."""
    crc, size = 0, 0
    for p in sorted(path.rglob("*")):
        if p.is_file():
            crc = zlib.crc32(p.name.encode(), crc)
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    crc = zlib.crc32(chunk, crc)
                    size += len(chunk)
    return crc & 0xFFFFFFFF, size


class SegmentIndexes:
    """The built indexes of one collection's sealed segments, loaded on first use."""

    def __init__(self, catalog: Catalog, collection_id: int, seg_dir: Path) -> None:
        self.catalog = catalog
        self.collection_id = collection_id
        self.seg_dir = seg_dir
        self.build_lock = threading.Lock()  # one build at a time per collection
        self._cache_lock = threading.Lock()
        self._loaded: dict[tuple[str, str], VectorIndex] = {}
        self._specs: list[IndexSpec] | None = None  # cached; see invalidate()

    # --- specs -------------------------------------------------------------
    def specs(self) -> list[IndexSpec]:
        """The vector indexes requested on this collection (read from the catalog once)."""
        specs = self._specs
        if specs is None:
            specs = [
                IndexSpec(r["index_name"], r["field"], r["index_type"].upper(), r["metric_type"], r["params"])
                for r in self.catalog.indexes(self.collection_id)
                if r["metric_type"]  # vector indexes carry a metric; scalar ones do not
            ]
            self._specs = specs
        return specs

    def invalidate(self) -> None:
        """Forget the cached specs; call after the catalog's `indexes` rows change."""
        self._specs = None

    def spec_for(self, field: str) -> IndexSpec | None:
        return next((s for s in self.specs() if s.field == field), None)

    def built(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(segment key, field) -> catalog row of every built segment index."""
        with self.catalog.lock:
            rows = self.catalog.db.execute(
                "select si.segment_id, si.field, si.file, si.size, si.crc32, si.params from segment_indexes si "
                "join segments s on s.id = si.segment_id where s.collection_id = ? and s.state = 'sealed'",
                [self.collection_id],
            ).fetchall()
        return {
            (str(r[0]), r[1]): {"file": r[2], "size": r[3], "crc32": r[4], "params": json.loads(r[5] or "{}")}
            for r in rows
        }

    # --- building ----------------------------------------------------------
    def pending(self, segments: list[SealedSegment]) -> list[tuple[SealedSegment, IndexSpec]]:
        built = self.built()
        return [(seg, spec) for spec in self.specs() for seg in segments if (seg.key, spec.field) not in built]

    def build_iter(self, segments: list[SealedSegment], field: str | None = None) -> Iterator[BuildProgress]:
        """Build every missing index of `segments` (optionally one field), yielding progress."""
        with self.build_lock:
            todo = [(s, p) for s, p in self.pending(segments) if field is None or p.field == field]
            for i, (seg, spec) in enumerate(todo):
                if seg.path.exists():  # a segment dropped since the list was taken is skipped
                    yield from self._build_one(seg, spec, i, len(todo))

    def _build_one(self, seg: SealedSegment, spec: IndexSpec, i: int, n: int) -> Iterator[BuildProgress]:
        index = create_index(spec.index_type, spec.metric, spec.params, maxsim=spec.is_maxsim)
        events: list[tuple[int, int]] = []
        if spec.is_maxsim:
            top, sub = spec.field[:-1].split("[", 1)
            elements, offsets = seg.struct_vectors(top, sub)
            total = len(elements)
            yield BuildProgress(spec.field, seg.key, 0, total, i, n)
            index.build(elements, progress=lambda d, t: events.append((d, t)), offsets=offsets)  # type: ignore[call-arg]
        else:
            vectors = seg.vectors(spec.field)
            total = len(vectors)
            yield BuildProgress(spec.field, seg.key, 0, total, i, n)
            index.build(np.asarray(vectors), progress=lambda d, t: events.append((d, t)))
        out = self.seg_dir / f"{Path(seg.path).stem}.idx" / _safe(spec.field)
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
        crc, size = dir_crc32(out)
        with self.catalog.transaction() as db:
            db.table("segment_indexes").upsert(
                {
                    "segment_id": int(seg.key),
                    "field": spec.field,
                    "file": str(out.relative_to(self.seg_dir)),
                    "size": size,
                    "crc32": crc,
                    "params": json.dumps({"index_type": spec.index_type, "metric": spec.metric, **spec.params}),
                },
                pk=("segment_id", "field"),
            )
        with self._cache_lock:
            self._loaded[(seg.key, spec.field)] = index
        yield BuildProgress(spec.field, seg.key, total, total, i + 1, n)

    # --- loading -----------------------------------------------------------
    def get(self, seg: SealedSegment, field: str, spec: IndexSpec) -> VectorIndex | None:
        """The built index of `field` on `seg`, loaded (and checked) on first use; None if not built."""
        key = (seg.key, field)
        with self._cache_lock:
            if key in self._loaded:
                return self._loaded[key]
        row = self.built().get(key)
        if row is None:
            return None
        path = self.seg_dir / row["file"]
        crc, size = dir_crc32(path) if path.exists() else (0, -1)
        if size != row["size"] or crc != row["crc32"]:
            raise CorruptionError(f"index files in {path} are corrupted or missing (checksum mismatch)", str(path))
        if spec.is_maxsim:
            top, sub = field[:-1].split("[", 1)
            elements, offsets = seg.struct_vectors(top, sub)
            index = load_index(path, elements, offsets=offsets)
        else:
            index = load_index(path, seg.vectors(field))
        with self._cache_lock:
            self._loaded[key] = index
        return index

    def drop(self, field: str) -> None:
        """Forget and delete every segment index of `field`."""
        with self.build_lock:
            built = [(k, r) for k, r in self.built().items() if k[1] == field]
            with self.catalog.transaction() as db:
                for (seg_key, f), _ in built:
                    db.execute("delete from segment_indexes where segment_id = ? and field = ?", [int(seg_key), f])
            with self._cache_lock:
                for k, _ in built:
                    self._loaded.pop(k, None)
            for _, r in built:
                shutil.rmtree(self.seg_dir / r["file"], ignore_errors=True)

    def forget_segment(self, seg_key: str) -> None:
        with self._cache_lock:
            for k in [k for k in self._loaded if k[0] == seg_key]:
                del self._loaded[k]

    def memory_bytes(self) -> int:
        with self._cache_lock:
            return sum(ix.memory_bytes() for ix in self._loaded.values())

    def release(self) -> None:
        with self._cache_lock:
            self._loaded.clear()
