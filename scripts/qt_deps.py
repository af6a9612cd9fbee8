"""Check that the system libraries Qt's X11 (xcb) platform plugin needs are installed (Linux).

Qt 6 says "xcb-cursor0 or libxcb-cursor0 is needed" whenever its xcb plugin fails to load, whichever
library is missing, so this asks the dynamic linker (`ldd`) instead and prints the exact install
command for this distribution. Exit status 0: nothing missing (or not Linux); 1: the command was printed.

    .venv/bin/python scripts/qt_deps.py          # scripts/run.sh runs it before starting the app
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from pathlib import Path

# soname -> package in (Debian/Ubuntu, Fedora/RHEL, Arch, openSUSE)
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor", "libxcb-cursor0"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm", "libxcb-icccm4"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms", "libxcb-keysyms1"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image", "libxcb-image0"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil",
                                "libxcb-render-util0"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util", "libxcb-util1"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11", "libxkbcommon-x11-0"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon", "libxkbcommon0"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11", "libX11-xcb1"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11", "libX11-6"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd", "libEGL1"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd", "libGL1"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd", "libOpenGL0"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig", "libfontconfig1"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2", "libfreetype6"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus", "libdbus-1-3"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libglib-2_0-0"),
}
for _ext in ("randr", "shape", "xfixes", "sync", "xkb", "shm", "render", "xinerama", "glx", "xinput", "present",
             "dri3"):
    _deb = f"libxcb-{_ext}0" if _ext not in ("sync", "xkb") else f"libxcb-{_ext}1"
    PACKAGES.setdefault(f"libxcb-{_ext}.so.{_deb[-1]}", (_deb, "libxcb", "libxcb", _deb))
PACKAGES.setdefault("libxcb.so.1", ("libxcb1", "libxcb", "libxcb", "libxcb1"))

FAMILIES = ("debian", "fedora", "arch", "suse")
INSTALL = {"debian": "sudo apt-get install -y", "fedora": "sudo dnf install -y", "arch": "sudo pacman -S --needed",
           "suse": "sudo zypper install -y"}
# the libraries the README lists for Debian/Ubuntu (what a desktop without Qt apps usually lacks)
README_DEBIAN = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
                 "libxkbcommon-x11-0", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3")


def family(os_release: str) -> str:
    """"debian", "fedora", "arch" or "suse" from the text of /etc/os-release (debian when unknown)."""
    ids: list[str] = []
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip().strip('"').lower().split()
    for i in ids:
        if i in ("debian", "ubuntu", "linuxmint", "pop"):
            return "debian"
        if i in ("fedora", "rhel", "centos", "rocky", "almalinux"):
            return "fedora"
        if i in ("arch", "manjaro", "endeavouros"):
            return "arch"
        if i.startswith(("suse", "opensuse", "sles")):
            return "suse"
    return "debian"


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames `ldd` reports as "not found"."""
    return sorted({m.group(1) for m in re.finditer(r"^\s*(\S+) => not found", ldd_output, re.M)})


def install_command(missing: list[str], fam: str) -> str:
    """The one command that installs the packages holding `missing` on this distribution family."""
    col = FAMILIES.index(fam)
    pkgs: list[str] = []
    for soname in missing:
        pkg = PACKAGES[soname][col] if soname in PACKAGES else soname
        if pkg not in pkgs:
            pkgs.append(pkg)
    return f"{INSTALL[fam]} {' '.join(pkgs)}"


def qt_libraries() -> list[str]:
    """The xcb platform plugin and the Qt libraries it loads, from the installed PySide6."""
    import PySide6

    base = Path(PySide6.__file__).parent / "Qt"
    found = glob.glob(str(base / "plugins" / "platforms" / "libqxcb.so"))
    found += glob.glob(str(base / "lib" / "libQt6XcbQpa.so*"))[:1] + glob.glob(str(base / "lib" / "libQt6Gui.so*"))[:1]
    return found


def main() -> int:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "wayland"):
        return 0
    libs = qt_libraries()
    if not libs:
        return 0
    out = subprocess.run(["ldd", *libs], capture_output=True, text=True, check=False).stdout
    missing = missing_libraries(out)
    if not missing:
        return 0
    release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    print("Vector Workbench needs system libraries that Qt's X11 plugin loads and this machine lacks:\n  "
          + ", ".join(missing) + "\nInstall them with:\n\n  " + install_command(missing, family(release)) + "\n\n"
          "(Qt itself may say only that xcb-cursor0 is needed, whichever library is missing.)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
