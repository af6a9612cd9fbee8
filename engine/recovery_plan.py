"""What can be recovered of one collection: its description, segments, deletes and log records.

A `CollectionPlan` is built from the catalog when the catalog is readable and
accounts for the collection's files (`plan_from_catalog`, here), else from the
files themselves (`engine.recovery_files.plan_from_files`). Building a plan
verifies what it uses: every segment file's size and CRC32, every delete
file's and index directory's CRC32 (against the catalog), every log's header
and record checksums, and that the log starts where the last seal ended.
Whatever fails is a `Problem` naming the file and the rows or records it costs;
the rest is used.

A segment whose delete file is damaged is not used (which of its rows were
deleted is unknown, and a deleted row must never come back), nor one whose
graph, which stores its vectors, is damaged. An index that stores no data is
only reported: the recovered database builds its indexes again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import CorruptionError
from engine.indexing import dir_crc32
from engine.recovery_scan import (
    DAMAGE,
    NOTE,
    CatalogView,
    LogContents,
    Problem,
    read_legacy_log_file,
    read_log_file,
)
from engine.schema import CollectionSchema
from engine.storage.catalog import DEFAULT_DB
from engine.storage.segment import file_crc32, read_deletes
from engine.storage.wal import WalRecord

META = "vector_workbench."


@dataclass
class SegmentPlan:
    """One segment file to read rows from, with its deletes and where its graph-stored vectors are."""

    id: int
    path: Path
    partition: str
    level: int
    rows: int
    lsn: int  # the last log record its rows cover (from its metadata; 0 when planned from the catalog)
    size: int
    crc32: int
    deletes: np.ndarray | None
    graph_dirs: dict[str, Path] = field(default_factory=dict)  # field -> index directory storing its vectors
    compacted_from: list[int] = field(default_factory=list)

    @property
    def live_rows(self) -> int:
        return self.rows - (0 if self.deletes is None else int(self.deletes.sum()))


@dataclass
class Tally:
    """What was verified."""

    segments: int = 0
    delete_files: int = 0
    index_dirs: int = 0
    logs: int = 0
    records: int = 0
    bytes: int = 0


@dataclass
class CollectionPlan:
    """Everything needed to recreate one collection, and what could not be had."""

    cid: int
    name: str
    db_name: str
    schema_json: str
    properties: dict[str, Any]
    consistency: str
    partitions: list[str]
    index_specs: list[dict[str, Any]]
    source: str  # "catalog" or "files"
    segments: list[SegmentPlan] = field(default_factory=list)
    alternative: list[SegmentPlan] | None = None  # merges of unknown outcome read the other way (files only)
    records: list[WalRecord] = field(default_factory=list)  # log records, by lsn
    replay_after: int = 0  # records after this lsn are replayed onto `segments`
    alternative_after: int = 0  # ... and after this one onto `alternative`
    problems: list[Problem] = field(default_factory=list)
    loaded: bool = True
    tally: Tally = field(default_factory=Tally)

    @property
    def schema(self) -> CollectionSchema:
        return CollectionSchema.from_dict(json.loads(self.schema_json))


def specs_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"index_name": r["index_name"], "field": r["field"], "index_type": r["index_type"],
             "metric_type": r["metric_type"] or "", "params": r["params"] if isinstance(r["params"], dict)
             else json.loads(r["params"] or "{}")} for r in rows]


# --- from the catalog -------------------------------------------------------------------------------------------


def plan_from_catalog(root: Path, view: CatalogView, row: dict[str, Any]) -> CollectionPlan:
    cid = int(row["id"])
    plan = CollectionPlan(cid, row["name"], row["db_name"] or DEFAULT_DB, row["schema"],
                          json.loads(row["properties"] or "{}"), row["consistency_level"] or "Bounded",
                          view.partitions.get(cid) or ["_default"], specs_of(view.indexes.get(cid, [])), "catalog",
                          replay_after=int(row["sealed_lsn"] or 0), loaded=bool(row["loaded"]))
    cdir = root / "collections" / str(cid)
    seg_rows = view.segments.get(cid, [])
    if not cdir.is_dir():
        lost = sum(int(r["rows"]) - int(r["deleted_count"] or 0) for r in seg_rows)
        plan.problems.append(Problem(str(cdir), "collection-missing", f"the directory of collection {plan.name!r} "
                                     f"is missing: none of its data can be recovered", rows=lost, records=-1))
        return plan
    for r in seg_rows:
        sp = _catalog_segment(cdir / "segments", r, view.segment_indexes.get(int(r["id"]), {}), plan)
        if sp is not None:
            plan.segments.append(sp)
    _catalog_logs(cdir / "wal", row, plan)
    return plan


def _catalog_segment(seg_dir: Path, r: dict[str, Any], built: dict[str, dict[str, Any]],
                     plan: CollectionPlan) -> SegmentPlan | None:
    path, rows = seg_dir / r["file"], int(r["rows"])
    live = rows - int(r["deleted_count"] or 0)
    problems = plan.problems
    if not path.exists():
        problems.append(Problem(str(path), "segment-missing", f"segment file {path} is missing", rows=live))
        return None
    size = path.stat().st_size
    plan.tally.segments += 1
    plan.tally.bytes += size
    if size != int(r["size"]):
        problems.append(Problem(str(path), "segment-damaged", f"segment file {path} is {size} bytes, the catalog "
                                f"says {r['size']} (truncated or overwritten)", rows=live))
        return None
    crc = file_crc32(path)
    if crc != int(r["crc32"]):
        problems.append(Problem(str(path), "segment-damaged", f"segment file {path} is corrupted: checksum "
                                f"{crc:08x}, the catalog says {int(r['crc32']):08x}", rows=live))
        return None
    deletes: np.ndarray | None = None
    if r["del_file"]:
        dpath = seg_dir / r["del_file"]
        plan.tally.delete_files += 1
        try:
            deletes = read_deletes(dpath, rows, r["del_crc"])
        except CorruptionError as e:
            problems.append(Problem(str(dpath), "deletes-damaged", f"{e.message}: which rows of {path.name} were "
                                    "deleted is unknown, so none of its rows are recovered", rows=live))
            return None
    elif r["deleted"]:  # version 1 kept the bits in the catalog
        deletes = np.unpackbits(np.frombuffer(r["deleted"], dtype=np.uint8), count=rows).astype(bool)
    graph_fields = set(json.loads(r["graph_fields"] or "[]"))
    dirs: dict[str, Path] = {}
    for fname, ir in built.items():
        d = seg_dir / ir["file"]
        plan.tally.index_dirs += 1
        dcrc, total = dir_crc32(d) if d.is_dir() else (0, -1)
        plan.tally.bytes += max(total, 0)
        intact = (dcrc, total) == (int(ir["crc32"]), int(ir["size"]))
        state = "missing" if total < 0 else "corrupted (checksum mismatch)"
        if fname in graph_fields or ir["holds_vectors"]:
            if not intact:
                problems.append(Problem(str(d), "vectors-lost", f"index files in {d} are {state}; they store the "
                                        f"{fname!r} vectors of {path.name}, so none of its rows are recovered",
                                        rows=live))
                return None
            dirs[fname] = d
        elif not intact:
            problems.append(Problem(str(d), "index-damaged", f"index files in {d} are {state}; no data is lost: "
                                    "indexes are built again", severity=DAMAGE))
    missing = graph_fields - set(dirs)
    if missing:
        problems.append(Problem(str(path), "vectors-lost", f"segment file {path} keeps its {sorted(missing)} vectors "
                                "in a graph the catalog does not list: none of its rows are recovered", rows=live))
        return None
    return SegmentPlan(int(r["id"]), path, r["partition"], int(r["level"] or 0), rows, 0, size, crc,
                       deletes if deletes is not None and deletes.any() else None, dirs,
                       [int(x) for x in json.loads(r["compacted_from"] or "[]")])


def _catalog_logs(wal_dir: Path, row: dict[str, Any], plan: CollectionPlan) -> None:
    sealed = plan.replay_after
    logs: list[LogContents] = []
    if row["wal_file"]:
        path = wal_dir / row["wal_file"]
        if not path.exists():
            plan.problems.append(Problem(str(path), "log-missing", f"write-ahead log {path} is missing: the "
                                         "writes acknowledged since the last seal are lost", records=-1))
            return
        log = read_log_file(path, sealed + 1)
        logs.append(log)
        if log.header_start is not None and log.header_start != sealed + 1:
            plan.problems.append(Problem(str(path), "log-mismatch", f"write-ahead log {path} starts at record "
                                         f"{log.header_start}, but the catalog's last seal covers up to {sealed}: "
                                         "one of them is damaged", records=-1))
    else:  # a version-1 database: format-1 logs, migrated when it is next opened
        logs = [read_legacy_log_file(p) for p in sorted(wal_dir.glob("wal_*.log"))]
    use_logs(logs, plan, sealed, sealed)


def use_logs(logs: list[LogContents], plan: CollectionPlan, sealed: int, keep_after: int) -> None:
    """Keep the records after `keep_after` (by lsn, once each); report damage, and records missing after the
    last seal (`sealed`): from there on the log must hold every acknowledged record."""
    by_lsn: dict[int, WalRecord] = {}
    for log in logs:
        plan.tally.logs += 1
        plan.tally.records += len(log.records)
        plan.tally.bytes += log.path.stat().st_size if log.path.exists() else 0
        if log.damage is not None:
            kept = f"; the {len(log.records)} intact record(s) before the damage are recovered" if log.records else ""
            plan.problems.append(Problem(str(log.path), "log-damaged", log.damage + kept,
                                         records=log.affected if log.affected is not None else -1))
        if log.torn_final:
            plan.problems.append(Problem(str(log.path), "log-torn-append", f"write-ahead log {log.path} ends with "
                                         "an append that was never acknowledged (a crash): it is left out",
                                         severity=NOTE))
        for rec in log.records:
            by_lsn.setdefault(rec.lsn, rec)
    plan.records = [by_lsn[k] for k in sorted(by_lsn) if k > keep_after]
    after_seal = sorted(k for k in by_lsn if k > sealed)
    expected = list(range(sealed + 1, sealed + 1 + len(after_seal)))
    if after_seal and after_seal != expected:
        gaps = sorted(set(range(sealed + 1, after_seal[-1] + 1)) - set(after_seal))
        where = logs[-1].path.parent if logs else ""
        plan.problems.append(Problem(str(where), "log-gap", f"the logs in {where} lack records {_spans(gaps)} "
                                     f"(after the last seal at {sealed})", records=len(gaps)))


def _spans(values: list[int]) -> str:
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out[:10]) + (" ..." if len(out) > 10 else "")
