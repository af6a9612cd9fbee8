"""Refuse to start on a Qt binding that corrupts the reference counts of None, True and False.

PySide6 / shiboken6 6.12.0 on Python 3.10 and 3.11 drops one reference to `None` on every Qt call
that returns nothing (`QLabel.setText`, `QProgressBar.setValue`, ...) and one to `True` on every
`Signal.emit`. A busy window makes thousands of such calls a minute; when a count reaches zero the
interpreter aborts with `Fatal Python error: none_dealloc` (or `bool_dealloc`), typically 10 to 15
minutes into an import. Python 3.12 made these objects immortal, so the lost references do no harm
there.

`pyproject.toml` bounds PySide6-Essentials so that pip never installs such a version; this module
catches an environment that was put together around those bounds. `binding_problem()` names a
known-affected version, and otherwise measures: it makes a few void Qt calls and signal emissions
and checks that the counts did not fall. Both checks are cheap (well under a millisecond).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable

# shiboken6 versions seen to drop references to None / True on Python < 3.12 (see docs/packaging.md)
KNOWN_AFFECTED: frozenset[tuple[int, int, int]] = frozenset({(6, 12, 0)})
SUPPORTED = "PySide6-Essentials>=6.11.3,<6.12"
PROBE_CALLS = 64


def _counts() -> tuple[int, int, int]:
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


def give_back(obj: object, missing: int) -> None:
    """Give back `missing` references the binding took, so a probe that found the bug leaves no damage."""
    for _ in range(missing):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def refcount_drift(void_call: Callable[[], object], emit_call: Callable[[], object],
                   calls: int = PROBE_CALLS) -> dict[str, int]:
    """How far the counts of None, True and False fell across `calls` of each function (0 when they
    did not fall). References lost on the way are given back before returning."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # a collection in the middle would move the counts for reasons of its own
    try:
        before = _counts()
        for _ in range(calls):
            void_call()
        for _ in range(calls):
            emit_call()
        after = _counts()
    finally:
        if was_enabled:
            gc.enable()
    fell = {name: max(0, b - a) for name, b, a in zip(("None", "True", "False"), before, after)}
    for obj, name in ((None, "None"), (True, "True"), (False, "False")):
        give_back(obj, fell[name])
    return fell


def probe_qt_binding(calls: int = PROBE_CALLS) -> dict[str, int]:
    """refcount_drift() through real Qt: QObject.setObjectName (void) and a Signal's emit."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    probe.ping.connect(lambda: None)
    try:
        return refcount_drift(lambda: probe.setObjectName("probe"), probe.ping.emit, calls)
    finally:
        probe.deleteLater()


def binding_problem(version: tuple[int, ...] | None = None, python: tuple[int, ...] | None = None,
                    probe: Callable[[], dict[str, int]] = probe_qt_binding) -> str | None:
    """None when the installed shiboken6 keeps its reference counts; else why the app must not start.

    `version` and `python` default to the installed shiboken6 and the running interpreter.
    """
    if version is None:
        import shiboken6

        version = tuple(int(x) for x in shiboken6.__version_info__[:3])
    py = tuple(python if python is not None else sys.version_info[:3])
    if py[:2] >= (3, 12):
        return None  # None, True and False are immortal: a lost reference cannot free them
    v, pv = ".".join(map(str, version[:3])), ".".join(map(str, py[:3]))
    consequence = ("the app would abort after some minutes with 'Fatal Python error: none_dealloc'. "
                   f"Install a supported version: pip install '{SUPPORTED}'.")
    if tuple(version[:3]) in KNOWN_AFFECTED:
        return (f"PySide6/shiboken6 {v} on Python {pv} drops a reference to None on every Qt call that "
                f"returns nothing and one to True on every signal emission; {consequence}")
    fell = {k: n for k, n in probe().items() if n >= PROBE_CALLS // 2}
    if fell:
        lost = ", ".join(f"{k} lost {n}" for k, n in fell.items())
        return (f"PySide6/shiboken6 {v} on Python {pv} loses references ({lost} across {PROBE_CALLS} Qt "
                f"calls and {PROBE_CALLS} signal emissions); {consequence}")
    return None
