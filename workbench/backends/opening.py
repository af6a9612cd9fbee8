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

    `http(s)://…`, `tcp://…`, `grpc://…`, `unix:…` → a Milvus server; `lite:PATH` or an existing *file*
    → Milvus Lite; anything else is an engine database directory (created when missing).
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
    if Path(t).expanduser().is_file():
        return BackendSpec(kind="milvus-lite", uri=t)
    return BackendSpec(kind="embedded", uri=t)


def open_backend(spec: BackendSpec | str | os.PathLike[str], create: bool = True) -> Backend:
    """The backend a spec names (see `spec_from_string` for strings)."""
    if not isinstance(spec, BackendSpec):
        spec = spec_from_string(os.fspath(spec))
    if spec.kind == "embedded":
        return EmbeddedBackend(spec.uri, create=create)
    if spec.kind in ("milvus", "milvus-lite"):
        return MilvusBackend(spec)
    raise BackendError(f"unknown backend kind {spec.kind!r}; use 'embedded', 'milvus' or 'milvus-lite'")


