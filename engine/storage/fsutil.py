"""Small durability helpers: fsync a directory, write a file atomically, remove files and directories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames and creations inside it are durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` via temp file → fsync → os.replace → fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_paths(paths: list[Path]) -> None:
    """Remove files and directories (and their temp siblings); an index directory left empty goes too."""
    for p in paths:
        for q in (p, p.with_name(p.name + ".tmp")):
            if q.is_dir():
                shutil.rmtree(q, ignore_errors=True)
            elif q.exists() or q.is_symlink():
                q.unlink()
        parent = p.parent
        if parent.name.endswith(".idx") and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
