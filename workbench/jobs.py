"""Jobs: a generator of progress events, a cancel flag, and a report at the end.

The same `Job` drives the CLI's progress bar and the app (which iterates it on
a worker thread and calls `cancel()` / `quit()` from the GUI thread).

    job = ingest_job(...)
    for event in job:          # Progress events
        show(event)
    job.report                 # IngestReport, also after a cancel
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.images import Skipped
from workbench.memory import release_freed_memory

# Exit codes of `workbench` commands (see docs/cli.md).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3


@dataclass(frozen=True)
class Progress:
    """One progress event of a job."""

    phase: str  # "scanning", "loading model", "checking", "ingesting", "done", "cancelled"
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    rate: float = 0.0  # files per second over the files that needed work
    eta_s: float | None = None
    current: str | None = None
    errors: int = 0  # files skipped so far
    ingested: int = 0  # new or changed files embedded and committed
    unchanged: int = 0
    elapsed_s: float = 0.0
    message: str | None = None

    @property
    def fraction(self) -> float:
        return self.files_done / self.files_total if self.files_total else 0.0


@dataclass
class Truncated:
    """A file that was ingested only in part because of a limit (the report lists it; it is not
    an error, and it does not change the exit status).

    `what` is what was cut: "pages" (of a PDF or a multi-page TIFF), "page text", or a field
    name; `kept` and `total` count pages, or UTF-8 bytes for text; `reason` is one line for people.
    """

    path: str
    what: str
    kept: int
    total: int
    reason: str


@dataclass
class IngestReport:
    """What an ingest run did; `exit_code` is 3 when some files were skipped, else 0.

    `truncated` lists files ingested only in part (a PDF over the page limit, text over a field's
    length). `decode_memory` is the budget of decoded pixels in flight (bytes) and
    `decode_memory_peak` the most that the workers held at once.
    """

    db: str
    collection: str
    kind: str
    created: bool = False
    files_total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    truncated: list[Truncated] = field(default_factory=list)
    other_kind: int = 0
    ignored: int = 0
    cancelled: bool = False
    batches_committed: int = 0
    rows_in_collection: int | None = None
    elapsed_s: float = 0.0
    model: str | None = None
    notes: list[str] = field(default_factory=list)  # what was done differently, per file (split documents, ...)
    decode_memory: int = 0
    decode_memory_peak: int = 0

    @property
    def ingested(self) -> int:
        return self.new + self.updated

    @property
    def exit_code(self) -> int:
        return EXIT_SKIPPED if self.skipped else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ingested"] = self.ingested
        d["exit_code"] = self.exit_code
        return d

    def summary(self) -> str:
        """A few lines for people: counts, skipped files with reasons."""
        head = "cancelled" if self.cancelled else "done"
        lines = [
            f"{head}: {self.files_total} file(s) in {self.elapsed_s:.1f}s -> collection {self.collection!r} "
            f"({self.kind}{', created' if self.created else ''})",
            f"  new {self.new}, updated {self.updated}, unchanged {self.unchanged}, skipped {len(self.skipped)}"
            + (f"; rows in collection: {self.rows_in_collection}" if self.rows_in_collection is not None else ""),
        ]
        if self.model:
            lines.append(f"  model: {self.model}")
        if self.other_kind:
            lines.append(f"  {self.other_kind} file(s) of the other kind were not ingested (see skipped)")
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"    {n}" for n in self.notes)
        if self.decode_memory_peak:
            lines.append(f"  decoded pixels in memory: peak {_mib(self.decode_memory_peak)} "
                         f"of a {_mib(self.decode_memory)} budget")
        if self.skipped:
            lines.append("  skipped:")
            lines.extend(f"    {s.path}: {s.reason}" for s in self.skipped)
        if self.truncated:
            lines.append("  ingested in part:")
            lines.extend(f"    {t.path}: {t.reason}" for t in self.truncated)
        if self.cancelled:
            lines.append("  only whole batches were committed; run the same command again to resume")
        return "\n".join(lines)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


class Cancelled(Exception):
    """Raised inside a job body when cancellation is noticed at a point with nothing to clean."""


class Job:
    """A cancellable run: iterate it for `Progress` events; `report` is set when it ends.

    `body(job)` is a generator function; it should check `job.cancelled`
    between units of work and set `job.report`. Iterating a job twice is an
    error; `resume()` makes a fresh job that runs the same body again (the
    ingestion body skips what is already committed, so that is a resume).
    When the body ends (done, cancelled or failed), freed memory is given back to the
    system (`workbench.memory.release_freed_memory`).
    """

    def __init__(self, body: Callable[[Job], Iterator[Progress]], title: str = "job") -> None:
        self._body = body
        self.title = title
        self._cancel = threading.Event()
        self._started = False
        self.report: Any = None
        self.last: Progress | None = None
        self.error: BaseException | None = None
        self.finished = False

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop; it finishes the batch being committed, then ends (thread-safe)."""
        self._cancel.set()

    def quit(self) -> None:
        """Same as cancel() (named after the Qt worker idiom)."""
        self.cancel()

    def __iter__(self) -> Iterator[Progress]:
        if self._started:
            raise RuntimeError("a job runs once; use job.resume() for a new run")
        self._started = True
        try:
            for event in self._body(self):
                self.last = event
                yield event
        except BaseException as e:
            self.error = e
            # the traceback stays printable, but its frames no longer keep the body's locals
            # (batches of images, worker pools) alive for as long as the job object lives
            traceback.clear_frames(e.__traceback__)
            raise
        finally:
            self.finished = True
            release_freed_memory()

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> Any:
        """Run to the end (calling `on_progress` per event) and return the report."""
        for event in self:
            if on_progress is not None:
                on_progress(event)
        return self.report

    def resume(self) -> Job:
        """A new job with the same body (already committed work is skipped by ingestion)."""
        return Job(self._body, self.title)


class Meter:
    """Counts files and bytes and derives rate and ETA for `Progress` events."""

    def __init__(self, files_total: int = 0, bytes_total: int = 0) -> None:
        self.start = time.monotonic()
        self.work_start: float | None = None
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.work_done = 0
        self.work_total = 0
        self.errors = 0
        self.ingested = 0
        self.unchanged = 0

    def begin_work(self, work_total: int) -> None:
        self.work_total = work_total
        self.work_start = time.monotonic()

    def event(self, phase: str, current: str | None = None, message: str | None = None) -> Progress:
        now = time.monotonic()
        rate, eta = 0.0, None
        if self.work_start is not None and self.work_done:
            dt = max(now - self.work_start, 1e-6)
            rate = self.work_done / dt
            eta = max(self.work_total - self.work_done, 0) / rate
        return Progress(
            phase=phase, files_done=self.files_done, files_total=self.files_total,
            bytes_done=self.bytes_done, bytes_total=self.bytes_total, rate=rate, eta_s=eta,
            current=current, errors=self.errors, ingested=self.ingested, unchanged=self.unchanged,
            elapsed_s=now - self.start, message=message,
        )
