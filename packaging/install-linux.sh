#!/usr/bin/env bash
# Install the .desktop entry and icons for the current user (Linux), pointing at a built bundle
# (dist/vector-workbench/vector-workbench) or, when there is none, at the repo's .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN="$HOME/.local/bin"
mkdir -p "$DATA/applications" "$BIN"
"$ROOT/.venv/bin/python" "$ROOT/packaging/make_icons.py" >/dev/null
for size in 16 32 48 64 128 256 512; do
  mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
  cp "$ROOT/packaging/build-icons/vector-workbench-$size.png" "$DATA/icons/hicolor/${size}x${size}/apps/vector-workbench.png"
done
mkdir -p "$DATA/icons/hicolor/scalable/apps"
cp "$ROOT/packaging/vector-workbench.svg" "$DATA/icons/hicolor/scalable/apps/vector-workbench.svg"
if [ -x "$ROOT/dist/vector-workbench/vector-workbench" ]; then
  ln -sf "$ROOT/dist/vector-workbench/vector-workbench" "$BIN/vector-workbench"
else
  printf '#!/usr/bin/env bash\ncd "%s" && exec .venv/bin/python -m ui.app "$@"\n' "$ROOT" > "$BIN/vector-workbench"
  chmod +x "$BIN/vector-workbench"
fi
cp "$ROOT/packaging/vector-workbench.desktop" "$DATA/applications/vector-workbench.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
echo "installed: $DATA/applications/vector-workbench.desktop -> $BIN/vector-workbench"
