"""The `VectorIndex` protocol and helpers shared by the index implementations.

An index covers the vectors of one segment. Its ids are *local*: row offsets
0..N-1 within the segment. Distances follow Milvus's convention, the same as
`engine.vectors.metrics.score_matrix`.

On disk an index is a directory holding ``index.json`` (type, metric, params,
search defaults) and its data files; `engine.index.load_index` reads it back.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.errors import CorruptionError, ParamError, brief

__all__ = [
    "INT32_MAX",
    "META_FILE",
    "FORMAT_VERSION",
    "Progress",
    "RWLock",
    "VectorIndex",
    "check_int",
    "empty_result",
    "read_meta",
    "write_meta",
    "atomic_write_bytes",
]

INT32_MAX = 2**31 - 1
META_FILE = "index.json"
FORMAT_VERSION = 1

Progress = Callable[[int, int], None]
"""``progress(done, total)``; an exception raised by it aborts the build."""


@runtime_checkable
class VectorIndex(Protocol):
    """What every per-segment vector index offers."""

    index_type: str
    metric: str
    params: dict[str, Any]

    def build(self, vectors: np.ndarray, progress: Progress | None = None, threads: int = 0) -> None:
        """Index ``vectors`` (row i gets local id i), replacing any previous content."""
        ...

    def search(
        self,
        queries: np.ndarray,
        k: int,
        valid_mask: np.ndarray | None = None,
        search_params: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Local ids (q, k) int64 padded with -1, and distances (q, k) float32."""
        ...

    def save(self, path: Path) -> None:
        """Write the index into directory ``path`` (created if needed)."""
        ...

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray | None = None) -> VectorIndex:
        """Read an index written by `save`; ``vectors`` re-attaches the segment's raw vectors."""
        ...

    def memory_bytes(self) -> int:
        """Approximate resident size of the index in bytes."""
        ...

    def stats(self) -> dict[str, Any]:
        """Facts about the index for display (counts, sizes, structure)."""
        ...


class RWLock:
    """A readers-writer lock: many concurrent searches, or one writer.

    Writers are preferred: once one waits, new readers wait too, so a stream of
    searches cannot starve a build. Not re-entrant.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def check_int(params: dict[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    """Read integer parameter ``name`` (ints or digit strings, as Milvus accepts) within [lo, hi]."""
    value = params.get(name, default)
    if type(value) is int and lo <= value <= hi:  # the common case, checked first
        return value
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):  # ASCII digits only
        value = int(value.strip())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParamError(f"index parameter {name} must be an integer in [{lo}, {hi}], got {brief(value)}")
    if not lo <= int(value) <= hi:
        raise ParamError(f"index parameter {name} = {brief(value)} is out of range [{lo}, {hi}]")
    return int(value)


def empty_result(nq: int, k: int, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """Ids all -1 and distances all ``pad``."""
    return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), pad, dtype=np.float32)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write ``index.json`` last, so a directory with it holds a complete index."""
    body = {"format_version": FORMAT_VERSION, **meta}
    atomic_write_bytes(path / META_FILE, json.dumps(body, indent=1, sort_keys=True).encode())


def read_meta(path: Path) -> dict[str, Any]:
    """Read ``index.json`` of an index directory."""
    file = Path(path) / META_FILE
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError:
        raise CorruptionError(f"no index found: {file} is missing", str(file)) from None
    except (OSError, ValueError) as exc:
        raise CorruptionError(f"cannot read index metadata {file}: {exc}", str(file)) from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CorruptionError(f"{file} has an unknown index format", str(file))
    return meta
