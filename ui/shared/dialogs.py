"""Small modal questions in one place (tests replace these functions with answers).

File dialogs start where the user last chose something, else in the home folder (never in
the folder the app was started from).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget


def confirm(parent: QWidget | None, title: str, text: str, ok: str = "OK") -> bool:
    """Ask yes/no; True when the user confirms."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    button = box.addButton(ok, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is button


def ask_text(parent: QWidget | None, title: str, label: str, value: str = "") -> str | None:
    """A line of text, or None when cancelled."""
    text, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, value)
    return text if ok else None


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.open()


_last_dir = ""


def start_dir(start: str = "") -> str:
    """Where a file dialog opens: `start` (a file name alone goes into the last folder), the last folder
    chosen, or the home folder."""
    base = _last_dir if _last_dir and Path(_last_dir).is_dir() else str(Path.home())
    if not start:
        return base
    return start if Path(start).is_absolute() else str(Path(base) / start)


def _remember(path: str, folder: bool = False) -> None:
    global _last_dir
    if path:
        _last_dir = path if folder else str(Path(path).parent)


def save_file(parent: QWidget | None, title: str, start: str, filters: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, start_dir(start), filters)
    _remember(path)
    return path or None


def open_files(parent: QWidget | None, title: str, start: str, filters: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, start_dir(start), filters)
    if paths:
        _remember(paths[0])
    return list(paths)


def open_file(parent: QWidget | None, title: str, start: str, filters: str) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, start_dir(start), filters)
    _remember(path)
    return path or None


def open_folder(parent: QWidget | None, title: str, start: str = "") -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title, start_dir(start))
    _remember(path, folder=True)
    return path or None
