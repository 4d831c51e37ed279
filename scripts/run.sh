#!/usr/bin/env bash
# Quick start: set up a virtualenv, check the corpus, then start the chat app and HTTP API
# (the corpus is ingested into the embedded store first if needed; the URL is printed).
# Extra arguments go to `advisor serve`, e.g. --port 8080 or --host 0.0.0.0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/advisor corpus check
exec .venv/bin/advisor serve "$@"
