"""Turning exceptions from the engine and the workbench into plain words for people.

The app shows these messages in dialogs, inline labels and the jobs panel;
it never lets an engine error take the window down.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Any

log = logging.getLogger("vector_workbench.ui")


def plain_message(exc: BaseException) -> str:
    """One readable message: the engine's `message`, a workbench error's text, or a short summary."""
    from engine import MilvusException
    from workbench.settings import WorkbenchError

    name = type(exc).__name__
    if isinstance(exc, MilvusException):
        text = str(getattr(exc, "message", "") or "").strip() or name
        if name == "FilterError":
            return f"Filter: {text}" if not text.lower().startswith("column") else f"Filter error at {text}"
        if name == "ReadOnlyError":
            return text + " (only one program can write a database at a time)"
        if name == "CorruptionError":
            return f"A database file is damaged: {text}"
        return text[:1].upper() + text[1:]
    if isinstance(exc, WorkbenchError):
        text = str(exc).strip()
        first = text.split(" ", 1)[0]
        if "_" in first or "(" in first:  # a backend call's name ("describe_collection failed on …") stays as is
            return text
        return text[:1].upper() + text[1:]
    if isinstance(exc, NotImplementedError):
        return f"Not supported yet: {exc}"
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    if isinstance(exc, MemoryError):
        return "Out of memory"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Unexpected error ({name})" + (f": {text}" if text else "")


def details(exc: BaseException) -> str:
    """The traceback, for the 'details' part of an error dialog and the log."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def install_excepthook(on_error: Any) -> None:
    """Route uncaught exceptions (in slots, timers) to `on_error(message, details)` instead of dying."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception:\n%s", text)
        try:
            on_error(plain_message(exc), text)
        except Exception:
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook
