#!/usr/bin/env bash
# Bootstrap .venv/ and run every check: ruff, mypy, import-linter, then the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
# Milvus Lite runs on Linux and macOS: there the differential tests must run, not skip.
case "$(uname -s)" in Linux|Darwin) export WORKBENCH_REQUIRE_MILVUS_LITE=1 ;; esac
# The engine's C extension (engine/_ranking.c) is optional for users, but a compiler is there on Linux and
# macOS: there a failed build must fail the suite (tests/test_ranking_native.py), not slow searches quietly.
case "$(uname -s)" in Linux|Darwin) export WORKBENCH_REQUIRE_COMPILED=1 ;; esac
# The `milvus` package's embedded Milvus server (a dev dependency there) runs on Linux x86-64: there the
# server tests must run too. Elsewhere set WORKBENCH_MILVUS_URI to a server of your own to run them.
if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then export WORKBENCH_REQUIRE_MILVUS_SERVER=1; fi
echo "== ruff";          .venv/bin/ruff check .
echo "== mypy";          .venv/bin/mypy
echo "== import-linter"; .venv/bin/lint-imports
echo "== pytest";        .venv/bin/python -m pytest -q "$@"
