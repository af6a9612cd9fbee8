"""Newcomer set-up (issue 15): scripts/run.sh names the missing Qt system libraries and the exact install
command for the distribution (Qt itself blamed xcb-cursor0 when libxcb-icccm4 and libxcb-keysyms1 were
what was missing)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
LDD = """\
\tlinux-vdso.so.1 (0x00007ffc)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f)
\tlibxcb-icccm.so.4 => not found
"""


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qt_deps", ROOT / "scripts" / "qt_deps.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_missing_libraries_become_one_install_command_per_distribution() -> None:
    q = _module()
    missing = q.missing_libraries(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]  # not the cursor library, which is there
    assert q.install_command(missing, "debian") == "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1"
    assert q.install_command(missing, "fedora") == "sudo dnf install -y xcb-util-wm xcb-util-keysyms"
    assert q.install_command(missing, "arch") == "sudo pacman -S --needed xcb-util-wm xcb-util-keysyms"
    assert q.install_command(missing, "suse") == "sudo zypper install -y libxcb-icccm4 libxcb-keysyms1"


@pytest.mark.parametrize("release,fam", [('ID=ubuntu\nID_LIKE=debian\n', "debian"), ('ID="fedora"\n', "fedora"),
                                         ('ID=rocky\nID_LIKE="rhel centos fedora"\n', "fedora"),
                                         ("ID=manjaro\nID_LIKE=arch\n", "arch"),
                                         ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "suse"),
                                         ("", "debian")])
def test_distribution_family(release: str, fam: str) -> None:
    assert _module().family(release) == fam


def test_the_readme_lists_the_libraries() -> None:
    readme = (ROOT / "README.md").read_text()
    for pkg in _module().README_DEBIAN:
        assert pkg in readme, pkg


def test_run_sh_runs_the_check_before_the_app() -> None:
    text = (ROOT / "scripts" / "run.sh").read_text()
    assert text.index("scripts/qt_deps.py") < text.index("exec .venv/bin/vector-workbench")


def test_check_passes_quietly_offscreen() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "qt_deps.py")], capture_output=True, text=True,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stderr == ""
