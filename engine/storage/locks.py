"""Cross-process locks of a database directory.

`WRITE.lock` serialises writers across processes: a process holds it only for the
duration of one write (an insert, a seal, the commit of a merge, a drop...), so
any number of processes can read and take turns writing. `collections/<id>/MAINT.lock`
is held by the one process that runs background maintenance (merges, index builds)
for a collection, so two processes never build the same thing.

Both are POSIX record locks (`fcntl.lockf`):

* the kernel releases them when the holding process dies, however it dies;
* a forked child does not inherit them, so a child can never write under its
  parent's lock (it opens the database again and takes turns like any process);
* ``F_GETLK`` tells another process the holder's pid, shown in "who holds the write
  lock" messages together with the holder's own description (pid, program, since),
  which it writes into the lock file after acquiring it.

POSIX locks are per process and are dropped when the process closes *any*
descriptor of the file, so each lock file is opened once per process (the
`Database` and each `Collection` own theirs). Threads of one process serialise
on a re-entrant thread lock before taking the file lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import MilvusException

DEFAULT_WRITE_TIMEOUT = 30.0


class WriteLockTimeout(MilvusException):
    """Another process kept the write lock longer than the timeout."""

    default_code = 2002


def describe_self() -> dict[str, Any]:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return {"pid": os.getpid(), "program": prog or "python", "since": time.time()}


def holder_text(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process"
    since = info.get("since")
    age = f", for {time.time() - float(since):.1f} s" if isinstance(since, (int, float)) else ""
    return f"pid {info.get('pid')} ({info.get('program', '?')}{age})"


_SHARED: dict[str, FileLock] = {}
_SHARED_GUARD = threading.Lock()


def _forget_shared_in_child() -> None:
    global _SHARED_GUARD
    _SHARED_GUARD = threading.Lock()
    _SHARED.clear()  # the parent's locks are not the child's: POSIX locks are not inherited


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_shared_in_child)


class FileLock:
    """An exclusive POSIX lock on one file, re-entrant across the threads of this process.

    Use `FileLock.shared(path)`: one object per file per process, because POSIX locks never
    conflict within a process and closing any descriptor of the file drops them."""

    @classmethod
    def shared(cls, path: Path) -> FileLock:
        key = str(Path(path).resolve())
        with _SHARED_GUARD:
            lock = _SHARED.get(key)
            if lock is None or lock._closed:
                lock = _SHARED[key] = cls(Path(key))
            lock._users += 1
            return lock

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._closed = False
        self._users = 0

    # --- acquiring ---------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when another thread or process holds it."""
        if not self._thread_lock.acquire(blocking=False):
            return False
        if self._depth == 0 and not self._lock_file(block=False):
            self._thread_lock.release()
            return False
        self._depth += 1
        return True

    def acquire(self, timeout: float | None, what: str) -> None:
        """Wait up to `timeout` seconds (None: forever); raise WriteLockTimeout naming the holder."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if not self._thread_lock.acquire(timeout=-1 if deadline is None else max(0.0, timeout or 0.0)):
            raise WriteLockTimeout(f"{what}: another thread of this process kept {self.path.name} for "
                                   f"more than {timeout} s")
        try:
            if self._depth == 0:
                delay = 0.002
                while not self._lock_file(block=False):
                    if deadline is not None and time.monotonic() >= deadline:
                        raise WriteLockTimeout(
                            f"{what}: the database is being written by {holder_text(self.holder())}; "
                            f"waited {timeout} s for {self.path} (raise the timeout, or wait for it to finish)")
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and not self._closed:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    @contextmanager
    def held(self, timeout: float | None, what: str) -> Iterator[None]:
        self.acquire(timeout, what)
        try:
            yield
        finally:
            self.release()

    @property
    def owned(self) -> bool:
        """Whether this process holds the lock (from any thread)."""
        return self._depth > 0

    def _lock_file(self, block: bool) -> bool:
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise
        info = json.dumps(describe_self()).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, info, 0)
        return True

    # --- who holds it --------------------------------------------------------
    def holder_pid(self) -> int | None:
        """The pid of another process holding the lock now (None: free, or held by this process)."""
        return _getlk_pid(self._fd)

    def holder(self) -> dict[str, Any] | None:
        """What the holding process wrote about itself, or None when nobody else holds the lock."""
        if self.owned:
            return describe_self()
        pid = self.holder_pid()
        if pid is None:
            return None
        try:
            info = json.loads(os.pread(self._fd, 4096, 0) or b"{}")
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict) or info.get("pid") != pid:
            info = {"pid": pid, "program": "?"}
        return info

    def close(self) -> None:
        """Give up this user's share; the last one closes the descriptor (which drops the lock if held)."""
        with _SHARED_GUARD:
            self._users -= 1
            if self._users > 0 or self._closed:
                return
            self._closed = True
            if _SHARED.get(str(self.path)) is self:
                del _SHARED[str(self.path)]
        os.close(self._fd)


def holder_pid_of(path: Path) -> int | None:
    """The pid of another process holding the lock file at `path` now (None: free, held by this process,
    or no such file). Tested through this process's own descriptor when it has the file open: closing a
    second descriptor would drop the lock this process holds on it. While the test runs, no `FileLock`
    of this process can open the file (the registry's guard is held)."""
    key = str(Path(path).resolve())
    with _SHARED_GUARD:
        own = _SHARED.get(key)
        if own is not None and not own._closed:
            return own.holder_pid()
        try:
            fd = os.open(key, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return _getlk_pid(fd)
        finally:
            os.close(fd)


# struct flock layouts: (format, order of l_type, l_whence, l_start, l_len, l_pid)
if sys.platform.startswith("linux"):
    _FLOCK = "hhqqii"  # l_type, l_whence, (pad), l_start, l_len, l_pid, (pad)

    def _pack(kind: int) -> bytes:
        return struct.pack(_FLOCK, kind, 0, 0, 0, 0, 0)

    def _unpack(raw: bytes) -> tuple[int, int]:
        l_type, _, _, _, pid, _ = struct.unpack(_FLOCK, raw)
        return l_type, pid
elif sys.platform == "darwin":
    _FLOCK = "qqihh"  # l_start, l_len, l_pid, l_type, l_whence

    def _pack(kind: int) -> bytes:
        return struct.pack(_FLOCK, 0, 0, 0, kind, 0)

    def _unpack(raw: bytes) -> tuple[int, int]:
        _, _, pid, l_type, _ = struct.unpack(_FLOCK, raw)
        return l_type, pid
else:  # pragma: no cover - other platforms: the holder's own description only
    _FLOCK = ""


def _getlk_pid(fd: int) -> int | None:
    if not _FLOCK:
        return None
    try:
        raw = fcntl.fcntl(fd, fcntl.F_GETLK, _pack(fcntl.F_WRLCK))
    except OSError:
        return None
    l_type, pid = _unpack(raw)
    return None if l_type == fcntl.F_UNLCK else int(pid)
