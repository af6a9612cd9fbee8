"""The query image well of the search panel: drop, paste or pick an image; it shows the image.

Previews are decoded by the shared thumbnail cache, off the UI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QWidget

from ui.collections.collections_browser import local_paths
from ui.shared.thumbnails import shared_cache


class ImageWell(QLabel):
    """Drop, paste or pick a query image; shows it."""

    imageChosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageWell")
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedSize(132, 96)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setWordWrap(True)
        self.image_path: str | None = None
        self.image_bytes: bytes | None = None
        self.clear()
        shared_cache().loaded.connect(self._preview_loaded)

    def clear(self) -> None:
        self.image_path = None
        self.image_bytes = None
        self.setPixmap(QPixmap())
        self.setText("Drop or paste\nan image here")

    def has_image(self) -> bool:
        return self.image_path is not None or self.image_bytes is not None

    def set_path(self, path: str) -> None:
        self.image_path, self.image_bytes = path, None
        self.setPixmap(QPixmap())
        self.setText(Path(path).name)
        self.setToolTip(path)
        self._preview_loaded(path)
        self.imageChosen.emit()

    def _preview_loaded(self, path: str) -> None:
        if path != self.image_path:
            return
        pm = shared_cache().get(path)  # decoded off the UI thread; this slot runs again when it is ready
        if pm is not None:
            self.setPixmap(pm.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))

    def set_image(self, image: QImage) -> None:
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buf, "PNG")
        self.image_bytes = bytes(QByteArray(buf.data()).data())
        self.image_path = None
        self.setPixmap(QPixmap.fromImage(image).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
        self.setToolTip("pasted image")
        self.imageChosen.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        md = event.mimeData()
        if local_paths(event) or (md is not None and md.hasImage()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event)
        md = event.mimeData()
        if paths:
            self.set_path(paths[0])
        elif md is not None and md.hasImage():
            self.set_image(QImage(md.imageData()))
        else:
            event.ignore()
            return
        event.acceptProposedAction()
