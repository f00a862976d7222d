#!/usr/bin/env bash
# Creates or reuses .venv/ in the repo root and installs the pinned requirements. Idempotent:
# a stamp of the requirement files' hash skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >&2 || true
  .venv/bin/python -m pip install -q -r requirements.txt >&2
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt >&2
  echo "$want" > "$stamp"
fi
