"""Memory of an ingestion job: the budget of decoded pixels in flight, and giving freed memory back.

`DecodeBudget` bounds the bytes of decoded pixels that all decoding workers of a job hold at
once. A worker reads an image's header first (which costs no pixel memory), asks the budget for
what decoding it will take, and gives that back once the thumbnail and the model input are made:

    with budget.hold(cost, what=path):
        ...decode, thumbnail, preprocess...

`release_freed_memory()` asks the C allocator to return freed memory to the operating system
(glibc's `malloc_trim`; a no-op elsewhere). `Job` calls it when a job ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30
# The default budget: a quarter of the memory available when the job starts, within these bounds.
DEFAULT_BUDGET_MIN = 256 * MIB
DEFAULT_BUDGET_MAX = 1 * GIB
MIN_BUDGET = 1 * MIB  # anything smaller is a typo (bytes where MiB were meant)
TRIM_ABOVE = 32 * MIB  # giving back a hold this large also gives freed memory back to the system
_FALLBACK_AVAILABLE = 2 * GIB  # when the platform does not say how much memory is free


class DecodeBudget:
    """Bytes of decoded pixels that the decoding workers of one job may hold at once.

    `hold(n)` waits until `n` more bytes fit under `limit`, first come first served (a large
    request is not overtaken by smaller ones behind it). A request larger than the whole budget
    waits until nothing else is held and is then granted alone: nothing else is granted until
    it is given back. `in_use`, `peak` (the most ever held at once), `grants`, `waits` (grants
    that had to wait) and `oversized` (grants larger than the budget) describe what happened.

    Giving back a hold of at least `trim_above` bytes also gives freed memory back to the system
    (`release_freed_memory`): glibc would otherwise keep a large decode's pixels in the worker
    thread's arena, where other workers cannot reuse them, and the process would grow past the
    budget by one large decode per worker thread.
    """

    def __init__(self, limit: int, trim_above: int = TRIM_ABOVE) -> None:
        if limit < MIN_BUDGET:
            raise ValueError(f"decode memory budget must be at least {MIN_BUDGET:,} bytes (1 MiB), not {limit:,}")
        self.limit = int(limit)
        self.trim_above = trim_above
        self.in_use = 0
        self.peak = 0
        self.grants = 0
        self.waits = 0
        self.oversized = 0
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def acquire(self, nbytes: int) -> None:
        """Wait until `nbytes` may be held, then hold them (give them back with `release`)."""
        if nbytes <= 0:
            raise ValueError(f"a decode needs a positive number of bytes, not {nbytes}")
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            waited = False
            while ticket != self._serving or not self._fits(nbytes):
                waited = True
                self._cond.wait()
            self._serving += 1
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)
            self.grants += 1
            self.waits += waited
            self.oversized += nbytes > self.limit
            self._cond.notify_all()  # the next ticket may fit too

    def release(self, nbytes: int) -> None:
        """Give back `nbytes` taken with `acquire`."""
        with self._cond:
            if nbytes > self.in_use:
                raise ValueError(f"releasing {nbytes:,} bytes but only {self.in_use:,} are held")
            self.in_use -= nbytes
            self._cond.notify_all()
        if nbytes >= self.trim_above:
            release_freed_memory()

    @contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        """`acquire(nbytes)` for the duration of a `with` block."""
        self.acquire(nbytes)
        try:
            yield
        finally:
            self.release(nbytes)

    def _fits(self, nbytes: int) -> bool:
        return self.in_use == 0 or self.in_use + nbytes <= self.limit


# --- the default budget --------------------------------------------------------------
def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_available() -> int | None:
    """What the process's cgroup (v2) still allows, when it has a memory limit."""
    try:
        rel = Path("/proc/self/cgroup").read_text().strip().splitlines()[0].split("::", 1)[1]
        base = Path("/sys/fs/cgroup") / rel.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((base / "memory.current").read_text().strip()))
    except (OSError, IndexError, ValueError):
        return None


def available_memory() -> int:
    """Bytes of memory available to this process now (a platform estimate; 2 GiB when unknown)."""
    candidates = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not candidates:
        try:
            import psutil  # the app's dependency; not required

            candidates.append(int(psutil.virtual_memory().available))
        except Exception:
            pass
    if not candidates and hasattr(os, "sysconf"):
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(candidates) if candidates else _FALLBACK_AVAILABLE


def default_decode_budget() -> int:
    """A quarter of the available memory, at least 256 MiB and at most 1 GiB."""
    return max(DEFAULT_BUDGET_MIN, min(DEFAULT_BUDGET_MAX, available_memory() // 4))


# --- giving freed memory back --------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    fn = getattr(libc, "malloc_trim", None)  # glibc only (not musl)
    if fn is None:
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn  # type: ignore[no-any-return]


def release_freed_memory() -> bool:
    """Return memory freed by the process to the operating system, where the allocator keeps it.

    glibc keeps freed memory in its arenas for reuse; after a job of many large decodes on
    worker threads that is hundreds of MB that nothing uses. `malloc_trim(0)` gives the free
    pages back. Returns True if glibc released something; False on other platforms (macOS and
    Windows give freed large blocks back by themselves).
    """
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
