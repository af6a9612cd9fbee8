"""Where a library call works: a `Backend` the caller holds, or one to open for the call.

Ingestion, search and inspection take a `db` *target*:

- a `Backend` object: used as it is, and never closed (the caller owns it);
- a `BackendSpec` (a saved connection, say): opened for the call and closed after;
- a string or path, as `workbench.backends.open_backend` reads it: a directory is the embedded engine,
  `lite:FILE` (or an existing file) is Milvus Lite, `http(s)://host:port` is a Milvus server.

    with open_target("~/photos.db") as backend:
        backend.count("photos")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workbench.backends import Backend, BackendError, BackendSpec, open_backend, scrub, spec_from_string
from workbench.backends.milvus import workspace_for
from workbench.settings import CollectionError

DbTarget = Backend | BackendSpec | str | os.PathLike[str]


def is_backend(db: Any) -> bool:
    """Whether `db` is an open backend (rather than something to open)."""
    return not isinstance(db, (str, os.PathLike, BackendSpec)) and hasattr(db, "capabilities")


def target_spec(db: DbTarget) -> BackendSpec:
    """The spec a string, path or spec names (not for Backend objects)."""
    if isinstance(db, BackendSpec):
        return db
    return spec_from_string(os.fspath(db))  # type: ignore[arg-type]  # Milvus Lite folders included


def target_label(db: DbTarget) -> str:
    """A name for messages: the backend's label, or the path or URI given (without secrets)."""
    if is_backend(db):
        return str(db.label)  # type: ignore[union-attr]
    if isinstance(db, BackendSpec):
        return scrub(db.uri, db.secrets())
    return scrub(os.fspath(db))  # type: ignore[arg-type]


@contextlib.contextmanager
def open_target(db: DbTarget, create: bool = True) -> Iterator[Backend]:
    """The backend of `db`, closed at the end unless the caller passed it in.

    With `create=False` a missing engine directory or Milvus Lite file is an error (CollectionError)
    instead of a new, empty database.
    """
    if is_backend(db):
        yield db  # type: ignore[misc]
        return
    spec = target_spec(db)
    if not create and spec.kind in ("embedded", "milvus-lite"):
        path = Path(spec.uri).expanduser()
        if not path.exists():
            what = "database" if spec.kind == "embedded" else "Milvus Lite database"
            raise CollectionError(f"no {what} at {path} (check the path, or ingest something first)")
    try:
        backend = open_backend(spec, create=create)
    except OSError as e:  # a folder that cannot be created, say
        raise BackendError(f"cannot open {target_label(db)}: {e.strerror or e}") from None
    try:
        yield backend
    finally:
        backend.close()


def workspace_target(db: DbTarget) -> Any:
    """Something `workbench.templates` can find the workspace of (sidecars, thumbnails) without opening
    a backend: the backend itself, or, for anything else, its workspace as `workspace_for` derives it."""
    if is_backend(db):
        return db
    return SimpleNamespace(workspace=workspace_for(target_spec(db)))


def require_collection(backend: Backend, name: str) -> dict[str, Any]:
    """`describe_collection(name)` (neutral fields), or CollectionError listing the collections there are."""
    if not backend.has_collection(name):
        names = backend.list_collections()
        raise CollectionError(
            f"no collection {name!r} in {backend.label}; "
            + (f"the collections are: {', '.join(sorted(names))}" if names else "it has no collections")
        )
    return backend.describe_collection(name)


def ensure_loaded(backend: Backend, name: str) -> None:
    """Load `name` where reads need it loaded: Milvus refuses get, query and search on a released
    collection, and Milvus Lite starts every process with its collections released."""
    if not backend.capabilities.supports("search_released") and not backend.is_loaded(name):
        backend.load(name)


def live_count(backend: Backend, name: str) -> int | None:
    """Live rows of `name` (count(*)); None when a Milvus server cannot count a released collection
    (loading a collection just to count it would be a heavy side effect)."""
    try:
        return backend.count(name)
    except BackendError:
        if backend.capabilities.supports("search_released") or backend.is_loaded(name):
            raise
        return None


def backend_bytes(backend: Backend) -> int | None:
    """Bytes on disk of a local backend (engine directory or Milvus Lite file); None for a server."""
    kind = backend.capabilities.kind
    path = getattr(backend, "path", None)
    if kind == "embedded" and path is not None:
        return dir_size(Path(path))[0]
    spec = getattr(backend, "spec", None)
    if kind == "milvus-lite" and spec is not None:
        p = Path(spec.uri).expanduser()  # a file (Milvus Lite 2.x) or a directory (3.x)
        return p.stat().st_size if p.is_file() else dir_size(p)[0] if p.is_dir() else None
    return None


def dir_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under `path` (0, 0 when it is missing)."""
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
                count += 1
            except OSError:
                pass
    return total, count
