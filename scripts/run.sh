#!/usr/bin/env bash
# Bootstrap .venv/ and start Vector Workbench on the default local database.
# On Linux it first checks the system libraries Qt's X11 plugin needs and prints the exact
# install command for this distribution when some are missing (scripts/qt_deps.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
if ! .venv/bin/python scripts/qt_deps.py; then
  exit 1
fi
exec .venv/bin/vector-workbench "$@"
