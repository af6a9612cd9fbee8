"""Checking a database directory, and recovering what it holds into a new database.

    report = check_database("my.db")                  # read-only; works when opening fails
    print(report.summary()); report.ok

    report = run_recovery("my.db", "recovered.db")    # or iterate recover_database(...) for progress

`check_database` verifies everything without opening the database or writing
to it: the catalog (SQLite's `integrity_check`, on a private copy), that every
data file is accounted for, every segment file's size and CRC32, every delete
file's and index directory's CRC32, every log's header and record checksums,
and that each log starts where the catalog's last seal ended. Without a usable
catalog it reads what the files say about themselves (see
`engine.recovery_files`). Each problem names its file, what it affects (rows,
log records) and whether data is lost by it.

`recover_database` builds a NEW database at `dst` from what is readable in
`src`, never writing to `src`: per collection, from the catalog when it is
readable and accounts for the collection's files, else from the files. It
writes through the public `MilvusClient` API (the recorded schema, partitions,
index specs and properties; every live row upserted with its primary key, also
for auto_id collections), checks the new database's row counts per partition
against the plan, and only then moves it into place: a cancel, an error or a
failed check leaves no `dst` behind. Its report says exactly what could not be
recovered. docs/storage.md ("Recovering a damaged database") has the rules.

The pieces: `engine.recovery_scan` reads the directory (the catalog on a
private copy, the files, the logs, who holds its locks); `engine.recovery_plan`
and `engine.recovery_files` turn that into a plan per collection (from the
catalog, or from the files); `engine.recovery_state` replays a plan into its
live rows; `engine.recovery_report` holds the reports.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.errors import CorruptionError, MilvusException, ParamError
from engine.recovery_files import plan_from_files
from engine.recovery_plan import CollectionPlan, plan_from_catalog
from engine.recovery_report import CheckReport, CollectionResult, RecoveryProgress, RecoveryReport
from engine.recovery_scan import (
    DAMAGE,
    LOSS,
    NOTE,
    SEGMENT_RE,
    CatalogView,
    Problem,
    list_collection_files,
    lock_holders,
    read_catalog,
)
from engine.recovery_state import Recovered, recovered_rows
from engine.storage.catalog import DEFAULT_DB, SCHEMA_VERSION

BATCH_ROWS = 1000

__all__ = ["CheckReport", "CollectionResult", "Problem", "RecoveryProgress", "RecoveryReport", "check_database",
           "recover_database", "run_recovery"]


# --- planning every collection -------------------------------------------------------------------------------------


def _plan_all(root: Path, view: CatalogView | None) -> tuple[list[CollectionPlan], list[Problem]]:
    """A plan per collection directory (from the catalog where it accounts for the files), and other problems."""
    problems: list[Problem] = []
    dirs: dict[int, Path] = {}
    colls = root / "collections"
    for p in sorted(colls.iterdir()) if colls.is_dir() else []:
        if p.is_dir() and p.name.isdigit():
            dirs[int(p.name)] = p
        elif view is None:
            problems.append(Problem(str(p), "unexplained-file", f"{p} is not a collection directory: not used", DAMAGE))
    plans: list[CollectionPlan] = []
    if view is not None:
        if view.version < SCHEMA_VERSION:
            problems.append(Problem(str(view.path), "catalog-version", f"the catalog has schema version "
                                    f"{view.version}: the database is upgraded when it is next opened", NOTE))
        if view.intents:
            problems.append(Problem(str(view.path), "interrupted-writes", f"{len(view.intents)} file(s) of writes "
                                    "that a crash interrupted are announced in the catalog: removed when the database "
                                    "is next opened, not used", NOTE))
        for rel in view.unexplained:
            problems.append(Problem(str(root / rel), "unexplained-file", f"the catalog does not account for "
                                    f"{root / rel}", DAMAGE))
        for row in view.collections:
            cid = int(row["id"])
            if row["state"] != "active":  # dropping: the next open finishes the drop
                problems.append(Problem(str(root / "collections" / str(cid)), "dropped", f"collection {row['name']!r} "
                                        "was dropped; its files are removed when the database is next opened", NOTE))
                dirs.pop(cid, None)
                continue
            strays = [u for u in view.unexplained if u.startswith(f"collections/{cid}/")
                      and (SEGMENT_RE.match(u.rsplit("/", 1)[-1]) or u.endswith(".wal"))]
            if strays and cid in dirs:
                problems.append(Problem(str(dirs[cid]), "rebuilt-from-files", f"the catalog does not account for "
                                        f"{len(strays)} data file(s) of collection {row['name']!r} (an older or "
                                        "replaced catalog?): it is read from its files", NOTE))
                continue
            plans.append(plan_from_catalog(root, view, row))
            dirs.pop(cid, None)
    for cid, d in sorted(dirs.items()):
        files = list_collection_files(d)
        found: list[Problem] = []
        if view is None:
            found += [Problem(str(u), "unexplained-file", f"{u} is not an engine file: not used", DAMAGE)
                      for u in files.unknown]
        plan = plan_from_files(cid, files, found)
        if plan is None:
            problems += found
            continue
        plan.problems.append(Problem(str(d), "read-from-files", f"collection {plan.name!r} is read from its files: "
                                     "what only the catalog knew is not recovered (a rename since its last seal, "
                                     "partitions without rows, its consistency level and load state)", NOTE))
        plans.append(plan)
    _resolve_names(plans)
    return plans, problems


def _resolve_names(plans: list[CollectionPlan]) -> None:
    """Collections go to their databases; two claiming one name there: the newest (highest id) keeps it."""
    for plan in plans:
        if plan.db_name != DEFAULT_DB:
            plan.problems.append(Problem(f"collections/{plan.cid}", "database", f"collection {plan.name!r} is "
                                         f"recovered into database {plan.db_name!r}, created without the properties "
                                         "it had (database properties and aliases live only in the catalog)", NOTE))
    taken: set[tuple[str, str]] = set()
    for plan in sorted(plans, key=lambda p: p.cid, reverse=True):
        if (plan.db_name, plan.name) in taken:
            new = f"{plan.name}_recovered_{plan.cid}"
            plan.problems.append(Problem(f"collections/{plan.cid}", "name-conflict", f"collection directory "
                                         f"{plan.cid} is also named {plan.name!r} (a newer collection has the name; "
                                         f"this one may have been dropped or renamed): recovered as {new!r}", LOSS))
            plan.name = new
        taken.add((plan.db_name, plan.name))


def _summarise(plan: CollectionPlan) -> dict[str, Any]:
    return {"name": plan.name, "id": plan.cid, "source": plan.source, "segments": len(plan.segments),
            "records": len(plan.records)}


def check_database(path: str | Path) -> CheckReport:
    """Verify every file of the database at `path` without opening it or changing anything (see the module doc)."""
    root = Path(path).expanduser()
    _check_source(root)
    try:
        return _check(root)
    except OSError as e:
        raise _os_error(e, f"checking {root}") from e


def _os_error(e: OSError, doing: str) -> MilvusException:
    where = f" ({e.filename})" if e.filename else ""
    return MilvusException(f"{doing} failed{where}: {e.strerror or e}")


def _check(root: Path) -> CheckReport:
    view, problem = read_catalog(root)
    report = CheckReport(str(root), "ok" if problem is None else problem.kind, in_use=lock_holders(root))
    if problem is not None:
        report.problems.append(problem)
    plans, problems = _plan_all(root, view)
    report.problems += problems
    for plan in plans:
        report.problems += plan.problems
        report.collections.append(_summarise(plan))
        for k, v in plan.tally.__dict__.items():
            setattr(report.tally, k, getattr(report.tally, k) + v)
    return report


def _check_source(root: Path) -> None:
    if not root.is_dir():
        raise ParamError(f"{root} is not a directory: give an engine database directory")
    if not (root / "catalog.sqlite").exists() and not (root / "collections").is_dir():
        raise ParamError(f"{root} is not an engine database: it has neither catalog.sqlite nor collections/")


# --- recovering ----------------------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


def recover_database(src: str | Path, dst: str | Path,
                     cancel: threading.Event | None = None) -> Iterator[RecoveryProgress]:
    """Recover what `src` holds into a new database at `dst` (which must not exist, or be an empty directory).

    Yields progress; the last event (phase "done" or "cancelled") carries the `RecoveryReport`. Setting
    `cancel`, or closing the generator, stops after the current batch and removes everything written."""
    root, target = Path(src).expanduser().resolve(), Path(dst).expanduser().absolute()
    _check_source(root)
    _check_target(root, target)
    holders = lock_holders(root)
    if holders:
        raise MilvusException(f"{root} is in use ({'; '.join(holders)}): close the programs using it, then recover")
    try:
        yield from _recover(root, target, cancel)
    except OSError as e:
        raise _os_error(e, f"recovering {root} into {target}") from e


def _recover(root: Path, target: Path, cancel: threading.Event | None) -> Iterator[RecoveryProgress]:
    started = time.monotonic()
    report = RecoveryReport(str(root), str(target))
    yield RecoveryProgress("checking", message=str(root))
    view, problem = read_catalog(root)
    if problem is not None:
        report.problems.append(problem)
    plans, problems = _plan_all(root, view)
    report.problems += problems
    recovered: list[Recovered] = []
    for plan in plans:
        yield RecoveryProgress("reading", plan.name, message=f"collection {plan.name!r} from the {plan.source}")
        try:
            recovered.append(recovered_rows(plan))
        except CorruptionError as e:  # a file that passed its checks fails when read in full
            plan.problems.append(Problem(e.path or f"collections/{plan.cid}", "collection-unreadable",
                                         f"collection {plan.name!r} is not recovered: {e.message}", LOSS))
        report.problems += plan.problems
    work = target.parent / f".{target.name}.recovering-{uuid.uuid4().hex[:8]}"
    try:
        yield from _build(work, recovered, report, cancel)
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        if (root / "workbench").is_dir():  # the app's records of the collections (models, thumbnails)
            shutil.copytree(root / "workbench", work / "workbench")
        if report.verified:
            if target.exists():
                target.rmdir()  # empty (checked above)
            work.rename(target)
            report.placed = True
    except _Cancelled:
        report.cancelled = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.elapsed_s = time.monotonic() - started
    yield RecoveryProgress("cancelled" if report.cancelled else "done", report=report)


def _check_target(root: Path, target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ParamError(f"{target} already exists and is not an empty directory: recover into a new path")
    resolved = target.resolve()
    if resolved == root or root in resolved.parents or resolved in root.parents:
        raise ParamError(f"recover into a path outside {root} (got {target}): the source is never written to")


def _build(work: Path, recovered: list[Recovered], report: RecoveryReport,
           cancel: threading.Event | None) -> Iterator[RecoveryProgress]:
    from engine.client import MilvusClient

    total = sum(r.rows for r in recovered)
    done = 0
    client = MilvusClient(str(work))
    db = client.db
    try:
        for rec in recovered:
            plan = rec.plan
            result = CollectionResult(plan.name, plan.cid, plan.source, rec.rows, rec.by_partition(),
                                      [s["index_name"] for s in plan.index_specs])
            report.collections.append(result)
            _use_database(client, plan.db_name)
            _create(client, plan)
            for n in _write(client, rec, cancel):
                done += n
                result.written += n
                yield RecoveryProgress("writing", plan.name, done, total)
            yield RecoveryProgress("indexing", plan.name, done, total, message="sealing and building indexes")
            client.flush(plan.name)
        yield RecoveryProgress("verifying", rows_done=done, rows_total=total)
        for rec, result in zip(recovered, report.collections):
            _use_database(client, rec.plan.db_name)
            result.verified = _verify(client, rec, result, report)
            if not rec.plan.loaded:
                client.release_collection(rec.plan.name)  # released, as it was
        report.verified = all(r.verified for r in report.collections)
    finally:
        client.close()
        db.close()


def _use_database(client: Any, name: str) -> None:
    if name not in client.list_databases():
        client.create_database(name)
    client.use_database(name)


def _create(client: Any, plan: CollectionPlan) -> None:
    from engine.index_params import IndexParams
    from engine.partition_keys import key_field, key_partitions

    ip = IndexParams()
    for s in plan.index_specs:
        ip.add_index(s["field"], index_type=s["index_type"], index_name=s["index_name"],
                     metric_type=s["metric_type"] or None, params=dict(s["params"]))
    routed = key_field(plan.schema) is not None  # partition key mode: the partitions come with the collection
    client.create_collection(plan.name, schema=plan.schema, index_params=ip if len(ip) else None,
                             properties=dict(plan.properties), consistency_level=plan.consistency,
                             **({"num_partitions": len(key_partitions(plan.partitions))} if routed else {}))
    for p in plan.partitions:
        if p != "_default" and not routed:
            client.create_partition(plan.name, p)
    client.load_collection(plan.name)  # loaded to be written and verified; released after if it was (_build)


def _write(client: Any, rec: Recovered, cancel: threading.Event | None) -> Iterator[int]:
    """Upsert the live rows, keeping their primary keys; yields rows written per batch."""
    from engine.executor import materialize, plan_output
    from engine.partition_keys import key_field

    schema = rec.plan.schema
    output = plan_output(schema, ["*"], default_all=True)
    routed = key_field(schema) is not None  # rows go where their key hashes to, as before
    for state, rows in rec.states():
        for lo in range(0, len(rows), BATCH_ROWS):
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            entities = materialize(schema, state, rows[lo : lo + BATCH_ROWS], output)
            client.upsert(rec.plan.name, entities, partition_name=None if routed else state.partition)
            yield len(entities)


def _verify(client: Any, rec: Recovered, result: CollectionResult, report: RecoveryReport) -> bool:
    name = rec.plan.name
    ok = True
    from engine.partition_keys import key_field

    routed = key_field(rec.plan.schema) is not None
    for part, want in result.partitions.items():
        if routed:  # partitions cannot be named in partition key mode: count the partition's live rows directly
            got = sum(s.live_rows for s in client._coll(name).snapshot.select([part]))
        else:
            got = client.query(name, filter="", output_fields=["count(*)"], partition_names=[part])[0]["count(*)"]
        if got != want:
            ok = False
            report.problems.append(Problem(name, "verify-failed", f"the new collection {name!r} has {got} row(s) in "
                                           f"partition {part!r}, the plan {want}", LOSS))
    if sorted(client.list_indexes(name)) != sorted(result.indexes):
        ok = False
        report.problems.append(Problem(name, "verify-failed", f"the new collection {name!r} has indexes "
                                       f"{client.list_indexes(name)}, the plan {result.indexes}", LOSS))
    return ok


def run_recovery(src: str | Path, dst: str | Path, cancel: threading.Event | None = None,
                 on_progress: Callable[[RecoveryProgress], None] | None = None) -> RecoveryReport:
    """`recover_database` to the end; returns its report."""
    last: RecoveryProgress | None = None
    for last in recover_database(src, dst, cancel):
        if on_progress is not None:
            on_progress(last)
    assert last is not None and last.report is not None
    return last.report
