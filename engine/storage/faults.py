"""Named crash points, for the fault-injection tests (tests/test_crash_recovery.py).

Inactive unless the environment variable ``VECTOR_WORKBENCH_FAULT`` is ``POINT:N``: then
the process kills itself with SIGKILL the N-th time it reaches POINT. Each point marks a
moment between two durable steps of a write (see docs/storage.md), so the tests can
land a kill exactly there instead of hoping a timer does.
"""

from __future__ import annotations

import os
import signal
import threading

_SPEC = os.environ.get("VECTOR_WORKBENCH_FAULT", "")
_POINT, _, _N = _SPEC.partition(":")
_remaining = int(_N or 1) if _POINT else 0
_lock = threading.Lock()

POINTS = (
    "wal.torn",  # an append wrote a prefix of its record, not the header: never acknowledged
    "wal.torn_header",  # an append wrote the new header and a prefix of the record: never acknowledged
    "wal.unsynced",  # an append wrote record and header, not fsynced yet
    "segment.tmp",  # a segment file is written to its temp name, not renamed yet
    "segment.renamed",  # a segment file has its final name, the catalog does not list it yet
    "catalog.precommit",  # inside a catalog transaction, before COMMIT
    "seal.files",  # a seal wrote its segment, delete and log files; its catalog commit has not happened
    "seal.committed",  # a seal committed; the old log and delete files are not removed yet
    "maint.graph",  # a merge is extending a graph (between two chunks of vectors)
    "maint.reorder",  # a graph file is half written in its new element order (engine/index/hnsw_reorder.py)
    "maint.written",  # a merge wrote its segment and graphs; its commit has not happened
    "maint.committed",  # a merge committed; the replaced segments' files are not removed yet
    "create.committed",  # a create committed the collection; its directory is not made yet
    "drop.marked",  # a drop committed the collection as dropping; its directory is still there
    "drop.trashed",  # a dropped collection's directory is in trash/; the catalog still lists it
    "replace.committed",  # a replace committed; the old target's directory is still there
)


def active(name: str) -> bool:
    """True when this arrival at `name` is the one to die at (the caller may then do a partial write)."""
    global _remaining
    if not _POINT or name != _POINT:
        return False
    with _lock:
        _remaining -= 1
        return _remaining == 0


def point(name: str) -> None:
    """Die here if the fault is set for this arrival."""
    if _POINT and active(name):
        die()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
