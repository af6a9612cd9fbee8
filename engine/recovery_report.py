"""The reports of `engine.recovery`: what a check found, what a recovery did, and its progress events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.recovery_plan import Tally
from engine.recovery_scan import DAMAGE, LOSS, NOTE, Problem


@dataclass
class CheckReport:
    """What `check_database` found: problems (each with its path) and totals."""

    path: str
    catalog: str  # "ok", or the kind of the catalog's problem
    problems: list[Problem] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)  # name, id, source, segments, records
    tally: Tally = field(default_factory=Tally)
    in_use: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity != NOTE for p in self.problems)

    def summary(self) -> str:
        t = self.tally
        lines = [f"checked {self.path}: catalog {self.catalog}; {len(self.collections)} collection(s), "
                 f"{t.segments} segment file(s), {t.delete_files} delete file(s), {t.index_dirs} index "
                 f"director{'y' if t.index_dirs == 1 else 'ies'}, {t.logs} log(s) with {t.records} record(s), "
                 f"{t.bytes / 1e6:.1f} MB read"]
        lines += [f"  in use: {h} (the files may change while they are checked)" for h in self.in_use]
        lines += _problem_lines(self.problems)
        bad = sum(p.severity != NOTE for p in self.problems)
        lines.append("ok: no problems found" if self.ok else
                     f"{bad} problem(s) found. `workbench db recover {self.path} --to NEW_PATH` copies what is "
                     "readable into a new database")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "catalog": self.catalog, "in_use": self.in_use,
                "collections": self.collections, "totals": dict(self.tally.__dict__),
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class CollectionResult:
    """One recovered collection."""

    name: str
    cid: int  # its id in the source
    source: str  # "catalog" or "files"
    rows: int  # live rows planned
    partitions: dict[str, int]
    indexes: list[str]
    written: int = 0
    verified: bool | None = None


@dataclass
class RecoveryReport:
    """What `recover_database` did, and exactly what it could not recover."""

    src: str
    dst: str
    collections: list[CollectionResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    cancelled: bool = False
    verified: bool = False
    placed: bool = False  # dst holds the recovered database
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything was recovered, verified and put in place, and nothing was lost or uncertain."""
        return self.placed and self.verified and not any(p.severity == LOSS for p in self.problems)

    def summary(self) -> str:
        if self.cancelled:
            return f"cancelled: {self.dst} was not created ({self.src} is unchanged)"
        rows = sum(c.rows for c in self.collections)
        head = (f"recovered {len(self.collections)} collection(s), {rows} row(s), from {self.src} into {self.dst} "
                f"in {self.elapsed_s:.1f} s" if self.placed else f"{self.dst} was not created")
        lines = [head]
        for c in self.collections:
            parts = ", ".join(f"{p}: {n}" for p, n in c.partitions.items())
            check = {True: "verified", False: "VERIFY FAILED", None: "not verified"}[c.verified]
            lines.append(f"  {c.name}: {c.rows} row(s) ({parts}); indexes {c.indexes or 'none'}; from the "
                         f"{c.source}; {check}")
        lines += _problem_lines(self.problems)
        lost = [p for p in self.problems if p.severity == LOSS]
        if lost:
            rows_lost = sum(p.rows or 0 for p in lost)
            recs = sum(p.records or 0 for p in lost if (p.records or 0) > 0)
            unknown = sum(1 for p in lost if p.records == -1 or (p.rows is None and p.records is None))
            lines.append(f"NOT recovered: at least {rows_lost} row(s) and {recs} log record(s)"
                         + (f"; {unknown} problem(s) of unknown extent" if unknown else "") + " (listed above)")
        elif self.placed:
            lines.append("ok: every row the files hold was recovered")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "ok": self.ok, "cancelled": self.cancelled,
                "verified": self.verified, "placed": self.placed, "elapsed_s": self.elapsed_s,
                "collections": [dict(c.__dict__) for c in self.collections],
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class RecoveryProgress:
    """One progress event of `recover_database`; the last one (phase "done" or "cancelled") has the report."""

    phase: str  # "checking", "reading", "writing", "indexing", "verifying", "done", "cancelled"
    collection: str = ""
    rows_done: int = 0
    rows_total: int = 0
    message: str = ""
    report: RecoveryReport | None = None

    @property
    def fraction(self) -> float:
        return self.rows_done / self.rows_total if self.rows_total else 0.0


def _problem_lines(problems: list[Problem]) -> list[str]:
    order = {LOSS: 0, DAMAGE: 1, NOTE: 2}
    return [f"  {'note' if p.severity == NOTE else 'PROBLEM'} {p.line()}"
            for p in sorted(problems, key=lambda p: order.get(p.severity, 0))]
