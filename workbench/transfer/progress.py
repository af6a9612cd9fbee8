"""Transfer errors, cancel tokens, progress events and reports."""


from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from workbench.settings import WorkbenchError

DYNAMIC = "$meta"
PARTITION = "$partition"  # export column naming each row's partition (only when there are several)
FORMAT_VERSION = "1"
META_SCHEMA = b"milvus.schema"
META_INDEXES = b"milvus.indexes"
META_COLLECTION = b"milvus.collection"
META_FORMAT = b"workbench.format"




class TransferError(WorkbenchError):
    """A copy, export or import cannot go on; the message says why."""


class CancelToken:
    """Set from any thread to stop a job after the current batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


# --- reports and progress ---------------------------------------------------------------------
@dataclass
class SchemaPlan:
    """How a source schema maps onto the target: the schema to create, its indexes, and what changed."""

    source: dict[str, Any]
    target: dict[str, Any]
    indexes: list[dict[str, Any]]
    dropped: list[str] = field(default_factory=list)  # fields (or dynamic keys) not copied
    notes: list[str] = field(default_factory=list)
    blanked: list[str] = field(default_factory=list)  # nullable VARCHAR fields made plain: null is written as ""

    def adapt(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Source rows as the target holds them: dropped fields left out, nulls of `blanked` fields as ""."""
        if not self.dropped and not self.blanked:
            return rows
        out = []
        for r in rows:
            r = {k: v for k, v in r.items() if k not in self.dropped}
            for k in self.blanked:
                if r.get(k) is None:
                    r[k] = ""
            out.append(r)
        return out


@dataclass
class Verification:
    """Row counts and checksums of source and target after a copy or an import."""

    source_rows: int
    target_rows: int
    checked: int = 0
    mismatched: list[Any] = field(default_factory=list)  # primary keys (first 20)
    missing: list[Any] = field(default_factory=list)  # primary keys absent from the target (first 20)
    source_checksum: str | None = None  # over every row, with verify="full"
    target_checksum: str | None = None

    @property
    def ok(self) -> bool:
        return (self.source_rows == self.target_rows and not self.mismatched and not self.missing
                and self.source_checksum == self.target_checksum)

    def summary(self) -> str:
        if self.ok:
            return (f"verified: {self.target_rows} rows on both sides"
                    + (f", {self.checked} rows' checksums equal" if self.checked else "")
                    + (" (full checksum equal)" if self.source_checksum else ""))
        parts = []
        if self.source_rows != self.target_rows:
            parts.append(f"row counts differ: source {self.source_rows}, target {self.target_rows}")
        if self.missing:
            parts.append(f"{len(self.missing)} sampled rows missing from the target, e.g. {self.missing[0]!r}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} sampled rows differ, e.g. {self.mismatched[0]!r}")
        if self.source_checksum != self.target_checksum:
            parts.append("full checksums differ")
        return "verification FAILED: " + "; ".join(parts)


@dataclass
class TransferReport:
    """What a job did."""

    kind: str  # "copy", "export" or "import"
    collection: str
    rows: int = 0
    batches: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    files: list[str] = field(default_factory=list)
    plan: SchemaPlan | None = None
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.cancelled and (self.verification is None or self.verification.ok)

    def summary(self) -> str:
        what = {"copy": "copied", "export": "exported", "import": "imported"}.get(self.kind, self.kind)
        s = f"{what} {self.rows} rows of {self.collection!r} in {self.elapsed_s:.1f} s"
        if self.cancelled:
            s += " (cancelled)"
        if self.files:
            s += f" to {len(self.files)} file(s)" if self.kind == "export" else ""
        if self.verification is not None:
            s += "; " + self.verification.summary()
        return s


@dataclass
class TransferProgress:
    """One progress event. `rows_total` is None when unknown; the last event carries `report`."""

    phase: str  # planning, creating, copying, writing, reading, flushing, verifying, appending, done, cancelled
    rows_done: int
    rows_total: int | None
    elapsed_s: float
    message: str = ""
    report: TransferReport | None = None

    @property
    def fraction(self) -> float:
        if self.phase == "done":
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(1.0, self.rows_done / self.rows_total)

    @property
    def rate(self) -> float:
        return self.rows_done / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run(job: Iterator[TransferProgress], on_progress: Callable[[TransferProgress], None] | None = None
        ) -> TransferReport:
    """Run a job to its end and return its report (`on_progress` sees every event)."""
    last = None
    for ev in job:
        if on_progress is not None:
            on_progress(ev)
        last = ev
    if last is None or last.report is None:
        raise TransferError("the job ended without a report")
    return last.report


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


