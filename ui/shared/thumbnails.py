"""Thumbnails decoded off the UI thread, cached as pixmaps.

`ThumbnailCache.get(path)` returns a QPixmap when it is decoded already, or
None after queueing the decode on a small thread pool; `loaded(path)` fires
when it is ready, and views repaint. Images are read with QImageReader at a
reduced size, so big originals cost little.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSize, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

THUMB_SIDE = 256


class _Emitter(QObject):
    done = Signal(str, QImage)


class _Load(QRunnable):
    def __init__(self, path: str, side: int, emitter: _Emitter) -> None:
        super().__init__()
        self.path = path
        self.side = side
        self.emitter = emitter

    def run(self) -> None:
        image = QImage()
        try:
            reader = QImageReader(self.path)
            reader.setAutoTransform(True)
            size = reader.size()
            if size.isValid() and max(size.width(), size.height()) > self.side:
                size.scale(QSize(self.side, self.side), _keep_aspect())
                reader.setScaledSize(size)
            image = reader.read()
        except Exception:
            image = QImage()
        try:
            self.emitter.done.emit(self.path, image)
        except RuntimeError:  # the cache went away with its window
            pass


def _keep_aspect() -> Any:
    from PySide6.QtCore import Qt

    return Qt.AspectRatioMode.KeepAspectRatio


class ThumbnailCache(QObject):
    """Decoded thumbnails by path (an LRU of pixmaps)."""

    loaded = Signal(str)

    def __init__(self, capacity: int = 3000, side: int = THUMB_SIDE, threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pixmaps: OrderedDict[str, QPixmap | None] = OrderedDict()
        self._pending: set[str] = set()
        self._capacity = capacity
        self._side = side
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._emitter = _Emitter()
        self._emitter.done.connect(self._on_done)

    def get(self, path: str | os.PathLike[str] | None) -> QPixmap | None:
        """The pixmap if decoded (None while loading, or when the file cannot be read)."""
        if not path:
            return None
        key = str(path)
        if key in self._pixmaps:
            self._pixmaps.move_to_end(key)
            return self._pixmaps[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Load(key, self._side, self._emitter))
        return None

    def is_pending(self, path: str) -> bool:
        return str(path) in self._pending

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def _on_done(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image) if not image.isNull() else None
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.loaded.emit(path)

    def clear(self) -> None:
        self._pixmaps.clear()

    def wait(self, msecs: int = 5000) -> bool:
        return bool(self._pool.waitForDone(msecs))


_shared: ThumbnailCache | None = None


def shared_cache() -> ThumbnailCache:
    """One cache for the whole app."""
    global _shared
    if _shared is None:
        _shared = ThumbnailCache()
    return _shared


def thumbnail_path(where: Any, collection: str, row: dict[str, Any]) -> str | None:
    """Where a row's thumbnail is: its `thumbnail` field, its first page's, its sha256's, or the image itself.

    `where` is the Backend (or an embedded database directory): stored thumbnail paths are relative to
    its workspace (`templates.workspace_of`), which for a Milvus server is a local folder of this machine.
    """
    from workbench.templates import thumbnails_dir, workspace_of

    if not where:
        return None
    base = workspace_of(where)
    if row.get("thumbnail"):
        return str(base / str(row["thumbnail"]))
    pages = row.get("pages")
    if isinstance(pages, list) and pages and isinstance(pages[0], dict) and pages[0].get("thumbnail"):
        return str(base / str(pages[0]["thumbnail"]))
    if row.get("sha256"):
        try:
            p = thumbnails_dir(where, collection) / f"{row['sha256']}.jpg"
        except Exception:  # a collection name the workspace cannot hold
            p = None
        if p is not None and p.is_file():
            return str(p)
    path = row.get("path")
    if isinstance(path, str) and Path(path).suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}:
        return path
    return None
