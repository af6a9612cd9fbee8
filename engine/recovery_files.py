"""A `CollectionPlan` from what a collection's files say about themselves, when the catalog is lost.

Every segment file carries its description in its Arrow schema metadata (see
`Collection.describe_for_files`); without the catalog there is no checksum to
check a file against, so a file is used when it reads in full and validates
(a flipped bit inside a value cannot be noticed). The rules (also in
docs/storage.md, "Recovering a damaged database"):

* a collection's name, database, schema, index specs and properties come from
  the metadata of its newest segment file (the highest id);
* the *current* log is the one with the highest first lsn, unless an older log
  holds records from that lsn on (then it was created by a seal that never
  committed, and the older one was written on); the last seal covered the
  records before it. A level-0 segment of a later lsn was written by a seal that
  did not complete: its rows are still in the log, and it is not used;
* each segment's deletes are its newest delete file: deletes only accumulate,
  so any delete file the engine wrote holds deletes that happened;
* a merged segment replaces the segments its ``compacted_from`` lists. A merge
  writes its output before the commit that makes it current and removes the
  sources after, so when a source is gone the output was committed. When all
  sources are still there, either may be current: `engine.recovery_state`
  then reads both ways and keeps a row only if it is live in both (each way
  holds every live row, and one of them holds exactly the live rows);
* log records after the newest lsn the chosen segments cover are replayed, from
  every log of the collection, in lsn order (a rotation may have been cut short).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from engine.errors import CorruptionError
from engine.indexing import safe_name
from engine.recovery_plan import META, CollectionPlan, SegmentPlan, Tally, specs_of, use_logs
from engine.recovery_scan import (
    DAMAGE,
    NOTE,
    CollectionFiles,
    LogContents,
    Problem,
    read_legacy_log_file,
    read_log_file,
)
from engine.schema import CollectionSchema
from engine.storage.catalog import DEFAULT_DB
from engine.storage.segment import file_crc32, read_deletes, read_segment_metadata
from engine.types import DataType

# --- from the files ------------------------------------------------------------------------------------------------


@dataclass
class _Found:
    meta: dict[str, str]
    rows: int
    columns: set[str]
    size: int
    crc: int
    inherited: bool = False  # its metadata describes another segment (see `_read_segment`)


def plan_from_files(cid: int, files: CollectionFiles, problems: list[Problem]) -> CollectionPlan | None:
    """A plan from what the collection's files say about themselves; None (with problems) when none does."""
    tally = Tally()
    found: dict[int, _Found] = {}
    for sid, path in files.segments.items():
        f = _read_segment(path, cid, sid, problems)
        tally.segments += 1
        tally.bytes += path.stat().st_size
        if f is not None:
            found[sid] = f
    logs = [read_log_file(p, start) for start, p in files.logs] + [read_legacy_log_file(p) for p in files.legacy_logs]
    if not found:
        records = sum(len(log.records) for log in logs)
        problems.append(Problem(str(files.directory), "collection-undescribed",
                                f"no readable segment file in {files.directory} says which collection it is (its "
                                f"name and schema were only in the catalog): its {records} log record(s) cannot "
                                "be recovered", records=records or None))
        return None
    described = [sid for sid, f in found.items() if not f.inherited] or list(found)
    newest = found[max(described)].meta
    plan = CollectionPlan(cid, newest[META + "collection"], newest.get(META + "database") or DEFAULT_DB,
                          newest[META + "schema"], json.loads(newest.get(META + "properties") or "{}"), "Bounded",
                          ["_default"], specs_of(json.loads(newest.get(META + "indexes") or "[]")), "files",
                          problems=problems, tally=tally)
    schema = plan.schema
    sealed = _current_seal(logs, plan, found, files.directory / "wal")
    segs: dict[int, SegmentPlan] = {}
    for sid, f in sorted(found.items()):
        sp = _file_segment(files, sid, f, schema, plan, sealed)
        if sp is not None:
            segs[sid] = sp
            if sp.partition not in plan.partitions:
                plan.partitions.append(sp.partition)
    for tmp in files.temporary:
        problems.append(Problem(str(tmp), "temporary-file", f"{tmp} is a write that never completed: not used", NOTE))
    plan.segments, alternative = _choose(segs, plan)
    plan.alternative = alternative if {s.id for s in alternative} != {s.id for s in plan.segments} else None
    # Records the chosen segments do not hold: after the newest lsn they cover (see the module doc).
    plan.replay_after = max((s.lsn for s in plan.segments), default=0)
    plan.alternative_after = max((s.lsn for s in alternative), default=0)
    use_logs(logs, plan, sealed, min(plan.replay_after, plan.alternative_after))
    for rec in plan.records:
        if rec.partition and rec.partition not in plan.partitions:
            plan.partitions.append(rec.partition)
    return plan


def _read_segment(path: Path, cid: int, sid: int, problems: list[Problem]) -> _Found | None:
    try:
        meta = read_segment_metadata(path)
        if META + "schema" not in meta:
            problems.append(Problem(str(path), "segment-undescribed", f"segment file {path} does not describe itself "
                                    "(written by version 1): without the catalog its collection is unknown"))
            return None
        if meta.get(META + "collection_id") != str(cid):
            problems.append(Problem(str(path), "segment-misplaced", f"segment file {path} says it belongs to "
                                    f"collection {meta.get(META + 'collection_id')}: not used"))
            return None
        inherited = meta.get(META + "segment_id") != str(sid)
        if inherited:  # merged before merges described their output: the first source's description was kept
            problems.append(Problem(str(path), "segment-misdescribed", f"segment file {path} carries the description "
                                    f"of segment {meta.get(META + 'segment_id')} (a merged segment written by an "
                                    "earlier version): used as a merged segment whose sources are unknown", DAMAGE))
            meta = {**meta, META + "level": "1", META + "compacted_from": "[]"}
        source = pa.memory_map(str(path), "r")
        try:
            table = ipc.open_file(source).read_all()
            table.validate(full=True)
            rows, columns = table.num_rows, set(table.column_names)
            del table
        finally:
            source.close()
    except (CorruptionError, pa.ArrowException, OSError, ValueError, KeyError) as e:
        problems.append(Problem(str(path), "segment-damaged", f"segment file {path} cannot be read: {e}"))
        return None
    return _Found(meta, rows, columns, path.stat().st_size, file_crc32(path), inherited)


def _current_seal(logs: list[LogContents], plan: CollectionPlan, found: dict[int, _Found], wal_dir: Path) -> int:
    """The lsn the last completed seal covered: the current log's first lsn, minus one (see the module doc)."""
    fmt2 = sorted((log for log in logs if log.path.suffix == ".wal"), key=lambda log: log.start, reverse=True)
    for log in fmt2:
        if any(r.lsn >= log.start for other in fmt2 if other.start < log.start for r in other.records):
            plan.problems.append(Problem(str(log.path), "log-unused", f"write-ahead log {log.path} was created by a "
                                         "seal that never completed (an older log was written on): not current",
                                         NOTE))
            continue
        return log.start - 1
    if found and not logs:
        plan.problems.append(Problem(str(wal_dir), "log-missing", f"the collection has segment files but {wal_dir} "
                                     "holds no write-ahead log: the writes acknowledged since its last seal are lost",
                                     records=-1))
    return max((int(f.meta.get(META + "lsn", 0)) for f in found.values()), default=0)


def _file_segment(files: CollectionFiles, sid: int, f: _Found, schema: CollectionSchema, plan: CollectionPlan,
                  sealed: int) -> SegmentPlan | None:
    path, meta = files.segments[sid], f.meta
    level, lsn = int(meta.get(META + "level", 0)), int(meta.get(META + "lsn", 0))
    if level == 0 and lsn > sealed:
        plan.problems.append(Problem(str(path), "segment-unused", f"segment file {path} was written by a seal that "
                                     f"did not complete (it covers record {lsn}, the last completed seal {sealed}): "
                                     "its rows are taken from the log", NOTE))
        return None
    deletes: np.ndarray | None = None
    if files.deletes.get(sid):
        dlsn, dpath = files.deletes[sid][-1]
        plan.tally.delete_files += 1
        try:
            deletes = read_deletes(dpath, f.rows, None)
        except CorruptionError as e:
            plan.problems.append(Problem(str(dpath), "deletes-damaged", f"{e.message}: which rows of {path.name} "
                                         "were deleted is unknown, so none of its rows are recovered", rows=f.rows))
            return None
    dirs: dict[str, Path] = {}
    for fs in schema.fields:
        if fs.dtype == DataType.FLOAT_VECTOR and fs.name not in f.columns:
            d = files.index_dirs.get(sid, path.with_suffix(".idx")) / safe_name(fs.name)
            problem = _check_graph(d, f.rows)
            plan.tally.index_dirs += 1
            if problem:
                plan.problems.append(Problem(str(d), "vectors-lost", f"{problem}; it stores the {fs.name!r} vectors "
                                             f"of {path.name}, so none of its rows are recovered", rows=f.rows))
                return None
            dirs[fs.name] = d
    return SegmentPlan(sid, path, meta.get(META + "partition") or "_default", level, f.rows, lsn, f.size, f.crc,
                       deletes if deletes is not None and deletes.any() else None, dirs,
                       [int(x) for x in json.loads(meta.get(META + "compacted_from") or "[]")])


def _check_graph(d: Path, rows: int) -> str | None:
    from engine.index import load_index

    if not d.is_dir():
        return f"index directory {d} is missing"
    try:
        index: Any = load_index(d)
        count = getattr(index, "count", rows)
        if count != rows or not getattr(index, "stores_raw", False):
            return f"the graph in {d} holds {count} vectors, not the segment's {rows} exactly"
        index.get_vectors(np.arange(min(rows, 1)))
    except Exception as e:  # a damaged graph fails in many ways; it is reported, never used
        return f"the graph in {d} cannot be read: {e}"
    return None


def _choose(segs: dict[int, SegmentPlan], plan: CollectionPlan) -> tuple[list[SegmentPlan], list[SegmentPlan]]:
    """(segments preferring every merged output, segments preferring the sources of merges of unknown outcome)."""
    claimed: set[int] = set()

    def claim(sid: int) -> None:
        for src in segs[sid].compacted_from:
            if src in segs and src not in claimed:
                claimed.add(src)
                claim(src)

    for sid in segs:
        claim(sid)
    outputs = [segs[s] for s in sorted(segs) if s not in claimed]
    for s in sorted(claimed):
        plan.problems.append(Problem(str(segs[s].path), "segment-merged", f"segment file {segs[s].path} was merged "
                                     "into a newer segment: its rows are read from that one", NOTE))

    def expand(sp: SegmentPlan) -> list[SegmentPlan]:
        if sp.compacted_from and all(s in segs for s in sp.compacted_from):
            return [x for s in sp.compacted_from for x in expand(segs[s])]
        return [sp]

    sources = [x for sp in outputs for x in expand(sp)]
    return outputs, sorted(sources, key=lambda s: s.id)
