#!/usr/bin/env bash
# Create or refresh .venv/ at the repository root. Quick when nothing changed:
# it reinstalls only when pyproject.toml, setup.py or the engine's C source changes (a stamp holds
# their hash); the install also compiles engine/_ranking.c (optional: see setup.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.workbench-installed
want="$(cat pyproject.toml setup.py engine/_ranking.c scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing dependencies into .venv (first run takes a few minutes: torch is large)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[app,milvus,dev]"
echo "$want" > "$stamp"
