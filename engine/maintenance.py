"""Background maintenance of sealed segments: merge, extend graphs, purge deletes, build indexes.

A seal turns growing rows into a *level-0* segment (all columns, searched exactly).
Maintenance merges the level-0 segments of a partition into its open *level-1*
segment, up to `max_segment_bytes` (1 GiB by default, Milvus's segment size):

* the level-1 segment's rows are kept in place (deleted ones too, still marked), and
  the new rows are appended; so its HNSW graph is *extended*: a copy of it is loaded
  and only the new vectors are added (`add_items`), never rebuilt. The total graph
  work over an import equals one build over all rows;
* a float32 field's vectors are stored once, in its graph file: the merged Arrow
  file omits the column (and keeps a ``$norm:<field>`` column for COSINE);
* a segment whose graphs no longer match the index specs, or whose deleted rows
  (counting rows expired by the collection's TTL, `engine.ttl`) reach
  `purge_deleted_ratio`, is rebuilt from its live rows; merges leave expired rows out;
* per-segment indexes of other types (FLAT, IVF_FLAT, BIN_*) are built for every
  segment that lacks one.

Each job writes its files while holding only the collection's maintenance lock
(``MAINT.lock``: one maintainer per collection across processes), announcing them
in the catalog's intent log first. It then takes the write lock for the commit,
re-reads the current state, carries over deletes made meanwhile, and replaces the
sources with the result in one catalog transaction. A crash or a cancel at any
point leaves the old segments in place; the intent log explains every file left.

`maintain` is a generator of progress events: `flush()` and `create_index` run it
in the foreground, `Maintainer` runs it on a background thread after seals.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.errors import MilvusException
from engine.fulltext.inverted_index import SparseInvertedIndex
from engine.indexing import BuildProgress, IndexSpec, is_graph_spec, safe_name, save_index_dir, stores_vectors
from engine.storage import faults
from engine.storage.catalog import now
from engine.storage.fsutil import remove_paths
from engine.storage.layout import clean_maint_intents
from engine.storage.segment import SealedSegment, read_segment_metadata, write_deletes, write_segment_file
from engine.types import DataType

if TYPE_CHECKING:
    from engine.collection import Collection

CHUNK = 8192  # vectors added to a graph between two progress events (and cancel checks)


@dataclass
class CompactionResult:
    """What one `compact()` did."""

    job_id: int
    merged: list[list[str]] = field(default_factory=list)  # old segment keys per new segment
    new_segments: list[str] = field(default_factory=list)
    rows_purged: int = 0
    state: str = "Completed"


class Cancelled(MilvusException):
    """Maintenance was cancelled; nothing was committed."""


class _StalePlan(Exception):
    """The data changed between planning and committing (a drop, truncate or another rewrite): plan again."""


@dataclass
class Job:
    """One rewrite: `base` (kept whole, graph extended) plus the live rows of `sources`; or a per-segment build."""

    kind: str  # "merge", "rebuild" or "index"
    partition: str
    base: SealedSegment | None
    sources: list[SealedSegment]
    spec: IndexSpec | None = None  # for "index"
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)  # deletes (and TTL expiry) when planned
    ttl_seconds: int = 0  # the TTL the masks were computed under (engine.ttl)

    @property
    def rows(self) -> int:
        return (self.base.num_rows if self.base else 0) + sum(s.num_rows for s in self.sources)


def _bytes_of(coll: Collection, seg: SealedSegment) -> int:
    return seg.size + sum(int(r["size"] or 0) for r in seg.index_rows.values())


def plan(coll: Collection, purge_all: bool = False, max_segment_bytes: int | None = None) -> list[Job]:
    """The rewrites the collection needs now (then, once they are done, the per-segment builds)."""
    snap = coll.snapshot
    specs = coll.indexes.specs()
    graph_specs = [s for s in specs if is_graph_spec(s, coll)]
    settings = coll.settings
    masks = {s.data.key: s.deleted for s in snap.segments if s.sealed}
    jobs: list[Job] = []
    by_part: dict[str, list[SealedSegment]] = {}
    for st in snap.segments:
        if st.sealed and isinstance(st.data, SealedSegment):
            by_part.setdefault(st.partition, []).append(st.data)
    for part, segs in by_part.items():
        level1 = [seg for seg in segs if seg.level == 1]
        level0 = [seg for seg in segs if seg.level != 1]
        open_base: SealedSegment | None = None
        for seg in level1:
            d = masks.get(seg.key)
            deleted = 0 if d is None else int(d.sum())
            stored = {sp.field for sp in graph_specs if stores_vectors(sp, coll)}
            stale = any(not coll.indexes.serves(seg, sp) for sp in graph_specs) or not seg.graph_fields <= stored
            purge = deleted > 0 and (purge_all or deleted >= settings.purge_deleted_ratio * seg.num_rows)
            if stale or purge:
                jobs.append(Job("rebuild", part, None, [seg], masks={seg.key: d}))
            elif open_base is None or _bytes_of(coll, seg) < _bytes_of(coll, open_base):
                open_base = seg
        if not level0 or (not graph_specs and len(level0) < 8 and not purge_all):
            continue
        budget = max_segment_bytes or settings.max_segment_bytes
        base = open_base if open_base is not None and _bytes_of(coll, open_base) < budget else None
        used = _bytes_of(coll, base) if base else 0
        group: list[SealedSegment] = []
        for seg in sorted(level0, key=lambda x: int(x.key)):
            size = _bytes_of(coll, seg)
            if group and used + size > budget:
                jobs.append(_merge_job(part, base, group, masks))
                base, group, used = None, [], 0
            group.append(seg)
            used += size
        if group:
            jobs.append(_merge_job(part, base, group, masks))
    for job in jobs:
        job.ttl_seconds = settings.ttl_seconds
    if not jobs:
        segments = [s.data for s in snap.segments if s.sealed and isinstance(s.data, SealedSegment)]
        for spec in specs:
            if is_graph_spec(spec, coll):
                continue
            for seg in segments:
                if not coll.indexes.serves(seg, spec):
                    jobs.append(Job("index", seg.partition, seg, [], spec=spec))
    return jobs


def _merge_job(part: str, base: SealedSegment | None, group: list[SealedSegment],
               masks: dict[str, np.ndarray | None]) -> Job:
    job = Job("merge", part, base, list(group), masks={g.key: masks.get(g.key) for g in group})
    if base is not None:
        job.masks[base.key] = masks.get(base.key)
    return job


def maintain(coll: Collection, cancel: threading.Event | None = None, purge_all: bool = False,
             wait: bool = True, max_segment_bytes: int | None = None) -> Iterator[BuildProgress]:
    """Run every job the collection needs, holding its maintenance lock; yields progress.

    With `wait=False` it returns at once when another thread or process maintains the collection."""
    lock = coll.maint_lock
    if wait:
        lock.acquire(None, f"maintain {coll.name!r}")
    elif not lock.try_acquire():
        return
    try:
        _clean_stale_intents(coll)
        for _round in range(1000):
            with coll._state_lock:  # plan from what is committed now
                coll.mark_stale()
                coll._sync_locked()
            jobs = plan(coll, purge_all, max_segment_bytes)
            if not jobs:
                return
            try:
                for i, job in enumerate(jobs):
                    if job.kind == "index":
                        yield from _build_index(coll, job, i, len(jobs), cancel)
                    else:
                        yield from _rewrite(coll, job, i, len(jobs), cancel)
            except _StalePlan:
                continue
            purge_all = False
    finally:
        lock.release()


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("maintenance was cancelled")


def _clean_stale_intents(coll: Collection) -> None:
    """Files a dead maintainer announced but never committed (we hold the maintenance lock)."""
    clean_maint_intents(coll.ctx.path, coll.catalog, coll.id)


@dataclass
class _Output:
    seg_id: int
    arrow: Path
    idx_dir: Path
    index_rows: list[dict[str, Any]] = field(default_factory=list)
    graph_fields: list[str] = field(default_factory=list)
    rows: int = 0
    arrow_size: int = 0
    arrow_crc: int = 0


def _announce(coll: Collection, kind: str) -> _Output:
    with coll.catalog.transaction() as tx:
        sid = tx.next_id("last_segment_id")
        out = _Output(sid, coll.seg_dir / f"seg_{sid:08d}.arrow", coll.seg_dir / f"seg_{sid:08d}.idx")
        for p in (out.arrow, out.idx_dir):
            tx.add_intent(coll.ctx.rel(p), coll.id, coll.ctx.owner, "MAINT")
    return out


def _live(job: Job, seg: SealedSegment) -> np.ndarray:
    d = job.masks.get(seg.key)
    return np.arange(seg.num_rows) if d is None else np.flatnonzero(~d)


def _rewrite(coll: Collection, job: Job, step: int, steps: int, cancel: threading.Event | None) -> Iterator[BuildProgress]:
    out = _announce(coll, job.kind)
    try:
        yield from _write_outputs(coll, job, out, step, steps, cancel)
        _check(cancel)
        faults.point("maint.written")
        _commit(coll, job, out)
    except BaseException:
        remove_paths([out.arrow, out.idx_dir])
        with coll.catalog.transaction() as tx:
            tx.drop_intents([coll.ctx.rel(out.arrow), coll.ctx.rel(out.idx_dir)])
        raise


def _write_outputs(coll: Collection, job: Job, out: _Output, step: int, steps: int,
                   cancel: threading.Event | None) -> Iterator[BuildProgress]:
    graph_specs = [s for s in coll.indexes.specs() if is_graph_spec(s, coll)]
    lives = [_live(job, s) for s in job.sources]
    out.idx_dir.mkdir(parents=True, exist_ok=True)
    for spec in graph_specs:
        _check(cancel)
        yield from _extend_graph(coll, job, spec, lives, out, step, steps, cancel)
    # scalar (and non-graph vector) columns: base rows whole, then the sources' live rows
    omit = set(out.graph_fields)
    parts = []
    if job.base is not None:
        parts.append(_rows_table(coll, job.base, np.arange(job.base.num_rows), omit))
    parts += [_rows_table(coll, s, live, omit) for s, live in zip(job.sources, lives)]
    keep = [f.name for f in coll.arrow_schema if f.name not in omit]
    table = pa.concat_tables([p.select(keep) for p in parts]).combine_chunks()
    meta = coll.describe_for_files(partition=job.partition, segment_id=out.seg_id, level=1,
                                   lsn=max(int(read_segment_metadata(s.path).get("vector_workbench.lsn", 0))
                                           for s in _all_sources(job)),
                                   compacted_from=json.dumps([int(s.key) for s in _all_sources(job)]))
    out.arrow_size, out.arrow_crc = write_segment_file(out.arrow, table, meta)
    out.rows = table.num_rows


def _rows_table(coll: Collection, seg: SealedSegment, rows: np.ndarray, omit: set[str]) -> pa.Table:
    """Rows of a segment's table; vectors its graphs store come back as columns unless the output omits them."""
    table = seg.table.take(pa.array(rows, type=pa.int64()))
    for name in [f.name for f in coll.arrow_schema if f.name in seg.graph_fields and f.name not in omit]:
        vecs = np.ascontiguousarray(seg.vectors_at(name, rows), dtype=np.float32)
        f = coll.schema.field(name)
        assert f is not None
        col = pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1), type=pa.float32()), int(f.params["dim"]))
        table = table.append_column(name, col)
    return table


def _all_sources(job: Job) -> list[SealedSegment]:
    return ([job.base] if job.base else []) + job.sources


def _source_vectors(coll: Collection, seg: SealedSegment, field: str, rows: np.ndarray) -> np.ndarray:
    f = coll.schema.field(field)
    assert f is not None
    v = seg.vectors_at(field, rows)
    if f.dtype == DataType.FLOAT16_VECTOR:
        return np.asarray(v, dtype=np.float32)
    if f.dtype == DataType.BFLOAT16_VECTOR:
        return (np.asarray(v).astype(np.uint32) << 16).view(np.float32)
    return np.asarray(v, dtype=np.float32)


def _all_unit(coll: Collection, field: str, segs: list[SealedSegment], rows: list[np.ndarray]) -> bool:
    from engine.index.hnsw import all_unit

    return all(all_unit(_source_vectors(coll, s, field, r[lo : lo + CHUNK]))
               for s, r in zip(segs, rows) for lo in range(0, len(r), CHUNK))


def _extend_graph(coll: Collection, job: Job, spec: IndexSpec, lives: list[np.ndarray], out: _Output, step: int,
                  steps: int, cancel: threading.Event | None) -> Iterator[BuildProgress]:
    """The output segment's graph of `spec`: the base's graph extended with the sources' vectors, or a new one."""
    from engine.index import create_index, load_index

    base = job.base
    index: Any = None
    if base is not None:
        row = base.index_rows.get(spec.field)
        if row is not None and coll.indexes.serves(base, spec):
            index = load_index(coll.seg_dir / row["file"])  # a private copy: searches keep using theirs
            if getattr(index, "raw_cosine", False) and not _all_unit(coll, spec.field, job.sources, lives):
                index = None  # its graph stores unit-length vectors as given; these are not: build anew
    sources = ([base] if base is not None and index is None else []) + job.sources
    rows = ([np.arange(base.num_rows)] if base is not None and index is None else []) + lives
    if spec.is_maxsim:
        index = yield from _extend_maxsim(coll, spec, index, sources, rows, out, step, steps, cancel)
    else:
        total = sum(len(r) for r in rows)
        if index is None:
            index = create_index(spec.index_type, spec.metric, spec.params, maxsim=False)
            if spec.metric == "COSINE":
                index.raw_cosine = _all_unit(coll, spec.field, sources, rows)
        yield BuildProgress(spec.field, str(out.seg_id), 0, total, step, steps)
        done = 0
        for s, r in zip(sources, rows):
            for lo in range(0, len(r), CHUNK):
                _check(cancel)
                vecs = _source_vectors(coll, s, spec.field, r[lo : lo + CHUNK])
                if index.count == 0:
                    index.build(vecs)  # the first chunk of a new graph
                    index._vectors = None  # no exact fallbacks needed while building: do not copy as it grows
                    index.reserve(total)
                else:
                    faults.point("maint.graph")
                    index.reserve(index.count + total - done)
                    index.add(vecs)
                done += len(vecs)
                yield BuildProgress(spec.field, str(out.seg_id), done, total, step, steps)
        if index.count == 0:  # nothing at all to index: an empty graph
            f = coll.schema.field(spec.field)
            assert f is not None
            index.build(np.zeros((0, int(f.params["dim"])), dtype=np.float32))
    holds = bool(stores_vectors(spec, coll) and index.stores_raw)
    if holds:
        out.graph_fields.append(spec.field)
    path = out.idx_dir / safe_name(spec.field)
    crc, size = save_index_dir(index, path)
    out.index_rows.append({"segment_id": out.seg_id, "field": spec.field, "file": str(path.relative_to(coll.seg_dir)),
                           "size": size, "crc32": crc, "params": json.dumps(spec.build_params),
                           "holds_vectors": int(holds)})


def _extend_maxsim(coll: Collection, spec: IndexSpec, index: Any, sources: list[SealedSegment],
                   rows: list[np.ndarray], out: _Output, step: int, steps: int,
                   cancel: threading.Event | None) -> Generator[BuildProgress, None, Any]:
    """Add the element vectors of the sources' rows to a MAX_SIM graph (a new one when `index` is None)."""
    from engine.index import create_index

    top, sub = spec.field[:-1].split("[", 1)
    chunks = []
    for s, live in zip(sources, rows):
        elements, offsets = s.struct_vectors(top, sub)
        starts, ends = offsets[live], offsets[live + 1]
        sizes = ends - starts
        sub_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        idx = np.repeat(starts - sub_off[:-1], sizes) + np.arange(int(sub_off[-1]))
        chunks.append((np.asarray(elements[idx], dtype=np.float32), sub_off))
    total = sum(len(e) for e, _ in chunks)
    if index is None:
        index = create_index(spec.index_type, spec.metric, spec.params, maxsim=True)
        index.build(np.zeros((0, _sub_dim(coll, top, sub)), dtype=np.float32), offsets=np.zeros(1, dtype=np.int64))
    index.reserve(index._hnsw.count + total)
    done = 0
    yield BuildProgress(spec.field, str(out.seg_id), 0, total, step, steps)
    for elements, sub_off in chunks:
        _check(cancel)
        index.add(elements, sub_off)
        done += len(elements)
        yield BuildProgress(spec.field, str(out.seg_id), done, total, step, steps)
    return index


def _sub_dim(coll: Collection, top: str, sub: str) -> int:
    f = coll.schema.field(top)
    assert f is not None and f.struct_schema is not None
    s = f.struct_schema.field(sub)
    assert s is not None
    return int(s.params["dim"])


def _commit(coll: Collection, job: Job, out: _Output) -> None:
    """Replace the sources with the output, carrying deletes made since planning (write lock held)."""
    with coll.writing(f"merge segments of {coll.name!r}"):
        st = coll.state_for_maintenance()
        if coll.settings.ttl_seconds != job.ttl_seconds:  # rows expired under the old TTL may be visible now
            raise _StalePlan("collection.ttl.seconds changed")
        current = {seg.key: d for seg, d in st.sealed}
        for s in _all_sources(job):
            if s.key not in current:  # dropped, truncated or rewritten meanwhile: discard our work
                raise _StalePlan(s.key)
        pieces = []
        if job.base is not None:
            d = current[job.base.key]
            pieces.append(np.zeros(job.base.num_rows, dtype=bool) if d is None else d)
        for s in job.sources:
            d = current[s.key]
            live = _live(job, s)
            pieces.append(np.zeros(len(live), dtype=bool) if d is None else d[live])
        deleted = np.concatenate(pieces) if pieces else np.zeros(0, dtype=bool)
        del_name = None
        del_crc = None
        if deleted.any():
            del_path = coll.seg_dir / f"seg_{out.seg_id:08d}.del.{st.lsn}"
            with coll.catalog.transaction() as tx:
                tx.add_intent(coll.ctx.rel(del_path), coll.id, coll.ctx.owner, "MAINT")
            del_crc = write_deletes(del_path, deleted)
            del_name = del_path.name
        garbage = coll._files_of(_all_sources(job))
        with coll.catalog.transaction() as tx:
            tx.insert("segments", {
                "id": out.seg_id, "collection_id": coll.id, "partition": job.partition, "file": out.arrow.name,
                "rows": out.rows, "size": out.arrow_size, "crc32": out.arrow_crc,
                "state": "sealed", "created": now(), "deleted_count": int(deleted.sum()), "level": 1,
                "del_file": del_name, "del_crc": del_crc,
                "compacted_from": json.dumps([int(s.key) for s in _all_sources(job)]),
                "graph_fields": json.dumps(out.graph_fields)})
            for r in out.index_rows:
                tx.insert("segment_indexes", r)
            for s in _all_sources(job):
                tx.execute("delete from segment_indexes where segment_id = ?", [int(s.key)])
                tx.execute("delete from segments where id = ?", [int(s.key)])
            intents = [coll.ctx.rel(out.arrow), coll.ctx.rel(out.idx_dir)]
            if del_name:
                intents.append(coll.ctx.rel(coll.seg_dir / del_name))
            tx.drop_intents(intents)
            for p in garbage:
                tx.add_intent(coll.ctx.rel(p), coll.id, coll.ctx.owner, "WRITE")
            tx.bump_version(coll.id)
        faults.point("maint.committed")
        coll.mark_stale()
        coll._sync_locked()
        coll._remove_files(garbage)


def _build_index(coll: Collection, job: Job, step: int, steps: int,
                 cancel: threading.Event | None) -> Iterator[BuildProgress]:
    """A per-segment index (FLAT, IVF_FLAT, BIN_*...) for one segment."""
    from engine.index import create_index

    seg, spec = job.base, job.spec
    assert seg is not None and spec is not None
    field = coll.schema.field(spec.field)
    if field is not None and field.is_sparse:
        index: Any = SparseInvertedIndex(spec.metric, spec.params, spec.index_type)
    else:
        index = create_index(spec.index_type, spec.metric, spec.params, maxsim=spec.is_maxsim)
    if isinstance(index, SparseInvertedIndex):
        total = seg.num_rows
        yield BuildProgress(spec.field, seg.key, 0, total, step, steps)
        index.build(seg.table.column(spec.field))
    elif spec.is_maxsim:
        top, sub = spec.field[:-1].split("[", 1)
        elements, offsets = seg.struct_vectors(top, sub)
        yield BuildProgress(spec.field, seg.key, 0, len(elements), step, steps)
        index.build(elements, offsets=offsets)
        total = len(elements)
    else:
        vectors = seg.vectors(spec.field)
        total = len(vectors)
        yield BuildProgress(spec.field, seg.key, 0, total, step, steps)
        index.build(np.asarray(vectors))
    _check(cancel)
    path = coll.seg_dir / f"{seg.path.stem}.idx" / safe_name(spec.field)
    with coll.catalog.transaction() as tx:
        tx.add_intent(coll.ctx.rel(path), coll.id, coll.ctx.owner, "MAINT")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        crc, size = save_index_dir(index, path)
        with coll.writing(f"index {coll.name!r}"):
            with coll.catalog.transaction() as tx:
                exists = tx.row("select id from segments where id = ? and state = 'sealed'", [int(seg.key)])
                if exists is None:
                    raise _StalePlan(seg.key)
                tx.execute("delete from segment_indexes where segment_id = ? and field = ?", [int(seg.key), spec.field])
                tx.insert("segment_indexes", {"segment_id": int(seg.key), "field": spec.field,
                                              "file": str(path.relative_to(coll.seg_dir)), "size": size, "crc32": crc,
                                              "params": json.dumps(spec.build_params), "holds_vectors": 0})
                tx.drop_intents([coll.ctx.rel(path)])
                tx.bump_version(coll.id)
            coll.mark_stale()
    except BaseException:
        remove_paths([path])
        with coll.catalog.transaction() as tx:
            tx.drop_intents([coll.ctx.rel(path)])
        raise
    yield BuildProgress(spec.field, seg.key, total, total, step + 1, steps)


class Maintainer:
    """One background thread per open database: runs `maintain` for collections that sealed rows."""

    def __init__(self) -> None:
        self._queue: list[weakref.ref[Collection]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []
        self.busy: str | None = None

    def kick(self, coll: Collection) -> None:
        """Queue `coll` for background maintenance (unless its collection.autocompaction.enabled is false)."""
        if not coll.settings.autocompaction:
            return
        with self._cond:
            if self._stop.is_set():
                return
            if not any(r() is coll for r in self._queue):
                self._queue.append(weakref.ref(coll))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="engine-maintenance", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    if not self._cond.wait(timeout=5.0):
                        self._thread = None
                        return
                if self._stop.is_set():
                    return
                ref = self._queue.pop(0)
            coll = ref()
            if coll is None or coll.gone:
                continue
            self.busy = coll.name
            try:
                for _ in maintain(coll, self._stop, wait=False):
                    pass
            except Cancelled:
                pass
            except Exception as e:
                self.errors.append(f"{coll.name}: {e}")
            finally:
                self.busy = None

    def stop(self, timeout: float = 60.0) -> None:
        """Cancel the running job (nothing half-done is committed) and end the thread."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
