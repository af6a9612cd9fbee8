"""What `workbench duplicates` and `workbench uniqueness` call: scan, mark or delete, and write the result.

    outcome = find_duplicates("~/photos.db", "photos", mode="perceptual", mark=True)
    print(summary(outcome.scan))

`db` is a database target (`workbench.targets`): a Backend the caller holds, or a directory, `lite:FILE`
or server URI opened for the call. Marking writes `duplicate_of` on every row but the one kept in each
cluster (`workbench.duplicate_marks`); deleting removes those same rows in one delete call (the caller
confirms first: the CLI wants --yes).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from workbench.diversity import Selection, Uniqueness, most_diverse, uniqueness_scan
from workbench.duplicate_marks import MarkReport, delete_rows, marked_rows, write_marks
from workbench.duplicates import DuplicateScan, ScanProgress, run, scan
from workbench.settings import InputError
from workbench.targets import DbTarget, open_target

CSV_COLUMNS = ("cluster", "id", "role", "path", "closest", "mode", "metric", "threshold")


@dataclass
class DuplicatesOutcome:
    """A scan and what was done with it: marks written, rows deleted (None: not asked)."""

    scan: DuplicateScan
    threshold: float
    marked: MarkReport | None = None
    deleted: int | None = None
    cleared: int | None = None


def find_duplicates(db: DbTarget, collection: str, mode: str = "near", *, threshold: float | None = None,
                    field: str | None = None, filter: str = "", k: int = 5, mark: bool = False,
                    unmark: bool = False, delete: bool = False,
                    on_progress: Callable[[ScanProgress], None] | None = None) -> DuplicatesOutcome:
    """Scan `collection` for duplicates (`mode`: exact, perceptual or near; see `workbench.duplicates`),
    then, when asked, clear the old marks (`unmark`), mark every row but the kept one of each cluster
    (`mark`), or delete those rows (`delete`: the caller has confirmed)."""
    if mark and delete:
        raise InputError("mark or delete the duplicates, not both")
    with open_target(db, create=False) as backend:
        result = run(scan(backend, collection, mode, threshold=threshold, field=field, filter=filter, k=k),
                     on_progress)
        out = DuplicatesOutcome(result, result.threshold)
        if unmark:
            old = marked_rows(backend, collection)
            run(write_marks(backend, collection, dict.fromkeys(old)), on_progress)
            out.cleared = len(old)
        marks = result.marks()
        if mark:
            out.marked = run(write_marks(backend, collection, marks), on_progress)
        if delete:
            out.deleted = delete_rows(backend, collection, sorted(marks, key=str))
        return out


def uniqueness(db: DbTarget, collection: str, *, field: str | None = None, filter: str = "",
               on_progress: Callable[[ScanProgress], None] | None = None) -> Uniqueness:
    """Every row's uniqueness (distance to its nearest neighbour; `workbench.diversity`)."""
    with open_target(db, create=False) as backend:
        return run(uniqueness_scan(backend, collection, field=field, filter=filter), on_progress)


def diverse(db: DbTarget, collection: str, n: int, *, field: str | None = None, filter: str = "",
            sample: int | None = None, on_progress: Callable[[ScanProgress], None] | None = None) -> Selection:
    """The `n` most diverse rows by greedy farthest-point selection (`workbench.diversity`)."""
    with open_target(db, create=False) as backend:
        options: dict[str, Any] = {} if sample is None else {"sample": sample}
        return run(most_diverse(backend, collection, n, field=field, filter=filter, **options), on_progress)


# --- output ---------------------------------------------------------------------------------------
def write_csv(scan: DuplicateScan, out: TextIO, threshold: float | None = None) -> int:
    """One line per row in a cluster (`CSV_COLUMNS`; role "keep" or "duplicate"); returns the lines."""
    t = scan.threshold if threshold is None else threshold
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    n = 0
    for i, c in enumerate(scan.clusters(threshold), 1):
        for m in c.members:
            w.writerow([i, m, "keep" if m == c.keep else "duplicate", scan.info.get(m, {}).get("path") or "",
                        c.closest, scan.mode, scan.metric, t])
            n += 1
    return n


def score_text(scan: DuplicateScan, score: float) -> str:
    """A pair's score for people: "identical", "6 bits", "0.9912"."""
    if scan.mode == "exact":
        return "identical"
    if scan.mode == "perceptual":
        return f"{int(score)} bits"
    return f"{score:.4f}"


def summary(outcome: DuplicatesOutcome, limit: int = 50) -> str:
    """Lines for people: what was scanned, the clusters (the first `limit`), and what was done."""
    s = outcome.scan
    clusters = s.clusters()
    what = {"exact": "same sha256", "perceptual": f"perceptual hashes within {int(s.threshold)} bits",
            "near": f"{s.field} {s.metric} {'>=' if s.larger_is_closer else '<='} {s.threshold}"}[s.mode]
    lines = [f"{s.rows_scanned:,} rows of {s.collection!r} scanned in {s.elapsed_s:.1f}s ({what}): "
             f"{len(clusters):,} cluster(s), {sum(len(c.members) - 1 for c in clusters):,} duplicate(s) beside the "
             "rows kept"]
    lines += [f"  note: {n}" for n in s.notes]
    for i, c in enumerate(clusters[:limit], 1):
        lines.append(f"cluster {i}: {len(c.members)} rows, closest {score_text(s, c.closest)}")
        for m in c.members:
            where = s.info.get(m, {}).get("path") or ""
            lines.append(f"  {'keep' if m == c.keep else 'dup '}  {m}  {where}".rstrip())
    if len(clusters) > limit:
        lines.append(f"... {len(clusters) - limit:,} more cluster(s) (--json or --csv lists them all)")
    if s.skipped:
        lines.append(f"{len(s.skipped)} file(s) could not be hashed:")
        lines += [f"  {k.path}: {k.reason}" for k in s.skipped]
    if outcome.cleared is not None:
        lines.append(f"cleared the marks of {outcome.cleared:,} row(s)")
    if outcome.marked is not None:
        m = outcome.marked
        lines.append(f"marked {m.marked:,} row(s): duplicate_of = the kept row's id ({m.where}); filter with "
                     "'duplicate_of is null' for the rows kept")
        if m.gone:
            lines.append(f"  {len(m.gone)} row(s) were gone before they could be marked")
    if outcome.deleted is not None:
        lines.append(f"deleted {outcome.deleted:,} duplicate row(s); the row kept of each cluster stays")
    return "\n".join(lines)
