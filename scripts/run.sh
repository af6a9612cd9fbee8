#!/usr/bin/env bash
# Bootstrap .venv/ and start Vector Workbench on the default local database.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
exec .venv/bin/vector-workbench "$@"
