"""ui.qt_guard: the app refuses to start on a PySide6 that corrupts reference counts (issue 10)."""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from ui.qt_guard import (
    KNOWN_AFFECTED,
    PROBE_CALLS,
    SUPPORTED,
    binding_problem,
    probe_qt_binding,
    refcount_drift,
)

mortal = pytest.mark.skipif(sys.version_info >= (3, 12),
                            reason="Python 3.12+: None, True and False are immortal; their counts never move")


def test_a_known_affected_version_is_named_on_python_3_11() -> None:
    msg = binding_problem(version=(6, 12, 0), python=(3, 11, 7), probe=lambda: pytest.fail("no probe needed"))
    assert msg is not None
    assert "6.12.0" in msg and "Python 3.11.7" in msg and "none_dealloc" in msg and SUPPORTED in msg
    assert (6, 12, 0) in KNOWN_AFFECTED


def test_python_3_12_is_safe_with_any_version() -> None:
    assert binding_problem(version=(6, 12, 0), python=(3, 12, 1), probe=lambda: pytest.fail("no probe")) is None


def test_an_unknown_version_is_judged_by_the_probe() -> None:
    clean = {"None": 0, "True": 0, "False": 0}
    assert binding_problem(version=(6, 11, 3), python=(3, 10, 13), probe=lambda: clean) is None
    msg = binding_problem(version=(6, 13, 0), python=(3, 11, 7),
                          probe=lambda: {"None": PROBE_CALLS, "True": PROBE_CALLS, "False": 0})
    assert msg is not None and "6.13.0" in msg and f"None lost {PROBE_CALLS}" in msg and "True lost" in msg


@mortal
def test_the_probe_measures_lost_references_and_gives_them_back() -> None:
    """A stand-in for the broken binding: calls that really drop one reference each."""
    def drop(obj: object) -> None:
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj))

    gc.collect()
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    fell = refcount_drift(lambda: drop(None), lambda: drop(True), calls=50)
    gc.collect()
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert fell == {"None": 50, "True": 50, "False": 0}
    assert abs(after[0] - before[0]) <= 2 and abs(after[1] - before[1]) <= 2  # given back
    assert refcount_drift(lambda: None, lambda: True, calls=50) == {"None": 0, "True": 0, "False": 0}


@mortal
def test_the_installed_binding_keeps_its_reference_counts(qapp: Any) -> None:
    """Fails on PySide6 6.12.0 with Python 3.10/3.11 (None and True each lose one per call)."""
    assert probe_qt_binding() == {"None": 0, "True": 0, "False": 0}
    assert binding_problem() is None


def test_main_refuses_to_start_on_an_affected_binding(qtbot: Any, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import ui.app as app_module

    monkeypatch.setattr(app_module, "binding_problem",
                        functools.partial(binding_problem, version=(6, 12, 0), python=(3, 11, 7)))
    monkeypatch.setattr(app_module, "MainWindow", lambda *a, **k: pytest.fail("the window must not be built"))
    monkeypatch.setattr(QApplication, "exec", lambda self: pytest.fail("the event loop must not start"))
    assert app_module.main([]) == app_module.EXIT_BAD_QT_BINDING
    err = capsys.readouterr().err
    assert "vector-workbench: cannot start" in err and "6.12.0" in err and SUPPORTED in err
