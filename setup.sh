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
# --browser: Debian's headless Chromium for the studio's browser tests (Playwright drives it).
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q chromium >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q chromium >&2; }
fi
