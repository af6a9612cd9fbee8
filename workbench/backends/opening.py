"""Opening a backend from a spec or a command-line string."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.backends.base import Backend
from workbench.backends.capabilities import BackendError
from workbench.backends.embedded import EmbeddedBackend
from workbench.backends.milvus import SERVER_SCHEMES, BackendSpec, MilvusBackend


# --- opening ---------------------------------------------------------------------------------------
def spec_from_string(text: str) -> BackendSpec:
    """A spec from a command-line string.

    `http(s)://…`, `tcp://…`, `grpc://…`, `unix:…` → a Milvus server; `lite:PATH`, or an existing
    Milvus Lite database (a file, or the directory Milvus Lite 3.x makes) → Milvus Lite; anything else
    is an engine database directory (created when missing).
    """
    t = text.strip()
    if t.startswith(SERVER_SCHEMES):
        return BackendSpec(kind="milvus", uri=t)
    for prefix in ("lite:", "milvus-lite:"):
        if t.startswith(prefix):
            return BackendSpec(kind="milvus-lite", uri=t[len(prefix):])
    for prefix in ("embedded:", "engine:"):
        if t.startswith(prefix):
            return BackendSpec(kind="embedded", uri=t[len(prefix):])
    p = Path(t).expanduser()
    if p.is_file() or looks_like_milvus_lite(p):
        return BackendSpec(kind="milvus-lite", uri=t)
    return BackendSpec(kind="embedded", uri=t)


def looks_like_milvus_lite(path: Path) -> bool:
    """Whether `path` is a Milvus Lite 3.x database: a *directory* (named like a file, `x.db`) holding
    `databases/` and `.database-staging/`, which the engine never makes (its directories hold
    `catalog.sqlite`)."""
    return path.is_dir() and (path / "databases").is_dir() and (
        (path / ".database-staging").is_dir() or not (path / "catalog.sqlite").exists())


def open_backend(spec: BackendSpec | str | os.PathLike[str], create: bool = True) -> Backend:
    """The backend a spec names (see `spec_from_string` for strings)."""
    if not isinstance(spec, BackendSpec):
        spec = spec_from_string(os.fspath(spec))
    if spec.kind == "embedded":
        return EmbeddedBackend(spec.uri, create=create)
    if spec.kind in ("milvus", "milvus-lite"):
        return MilvusBackend(spec)
    raise BackendError(f"unknown backend kind {spec.kind!r}; use 'embedded', 'milvus' or 'milvus-lite'")


