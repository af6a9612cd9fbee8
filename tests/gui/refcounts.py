"""Test helpers that watch the reference counts of None, True and False, and the process's memory.

A Qt binding that forgets to take a reference before returning `None` (or `True`) lowers that
object's count by one per call; when it reaches zero the interpreter aborts with `Fatal Python
error: none_dealloc`. `RefcountWatch` samples the counts between chunks of work (at quiet points,
after a garbage collection) and fails as soon as one fell by more than the noise allows. Before it
fails it gives the lost references back, so the run survives to report the failure instead of
aborting. On Python 3.12+ these objects are immortal and their counts never move: `can_fall` is
False there.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ui.qt_guard import give_back

WATCHED: tuple[tuple[str, object], ...] = (("None", None), ("True", True), ("False", False))


def counts() -> dict[str, int]:
    gc.collect()
    return {name: sys.getrefcount(obj) for name, obj in WATCHED}


@dataclass
class RefcountWatch:
    """Per-chunk checks that the counts of None, True and False do not fall.

    `tolerance` is how far a count may fall across one chunk for reasons that are not a bug
    (objects that held a reference being freed); a binding that drops one reference per call
    falls by at least the number of calls, so each chunk must make more calls than that.
    """

    # A sound binding moved the counts down by up to ~55 across a chunk (objects freed late, e.g. by an
    # earlier test); PySide6 6.12.0 on Python 3.11 lost 2,370 to 49,000 references to None per chunk.
    tolerance: int = 150
    # How many checks in a row a count must fall past the tolerance to fail. A binding that drops
    # references falls at every check; a long run also meets one-off falls (a structure holding many
    # bools freed), which a second check in a row does not repeat.
    consecutive: int = 1
    last: dict[str, int] = field(default_factory=counts)
    history: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    warmed: set[str] = field(default_factory=set)
    streak: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def can_fall() -> bool:
        """False on Python 3.12+, where None, True and False are immortal."""
        return sys.version_info < (3, 12)

    def reset(self) -> None:
        self.last = counts()

    def check(self, label: str) -> dict[str, int]:
        """The change of each count since the last check; AssertionError when one fell past the tolerance.

        The first check of each `label` (the text before a comma) is a warm-up that only takes a new
        baseline: the first round of a path frees what the set-up left (caches filled, tasks deleted),
        which lowers the counts for reasons of its own.
        """
        now = counts()
        delta = {k: now[k] - self.last[k] for k in now}
        self.history.append((label, delta))
        self.last = now
        kind = label.split(",", 1)[0]
        if kind not in self.warmed:
            self.warmed.add(kind)
            return delta
        for k, d in delta.items():
            self.streak[k] = self.streak.get(k, 0) + 1 if d < -self.tolerance else 0
        fell = {k: -d for k, d in delta.items() if self.streak[k] >= self.consecutive}
        if fell:
            for name, obj in WATCHED:
                give_back(obj, fell.get(name, 0))  # so the process lives to report this
            raise AssertionError(
                f"{label}: reference counts fell ({', '.join(f'{k} by {n}' for k, n in fell.items())}); "
                "the Qt binding drops references on void calls or signal emissions and the app would "
                "abort with 'Fatal Python error: none_dealloc'. See docs/packaging.md.")
        return delta


@contextmanager
def headroom(n: int = 1_000_000) -> Iterator[None]:
    """Hold `n` extra references to None, True and False while the block runs.

    A binding that loses one per call makes a test's own set-up (building the window, waiting
    for signals) lose thousands before the first check; the margin keeps the counts above zero
    so that the check, not the interpreter, reports it. Changes of the counts are unaffected.
    When the block ends, references lost and not given back by a failed check are given back
    before the margin is released, so the run ends normally and prints its report.
    """
    margin = [[obj] * n for _, obj in WATCHED]
    start = counts()
    try:
        yield
    finally:
        end = counts()
        for name, obj in WATCHED:
            give_back(obj, max(0, start[name] - end[name]))
        del margin


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


def settle(qtbot: Any, until: Callable[[], bool] | None = None, timeout_ms: int = 60000) -> None:
    """Wait until no task runs (and `until()` holds), then let queued signals be delivered."""
    from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool

    from ui.shared.thumbnails import shared_cache
    from ui.shared.workers import live_tasks

    qtbot.waitUntil(lambda: not live_tasks() and (until is None or until()), timeout=timeout_ms)
    QThreadPool.globalInstance().waitForDone(timeout_ms)
    shared_cache().wait(timeout_ms)
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # finished tasks go now
