#!/usr/bin/env bash
# Quick start: set up a virtualenv, index the corpus into the embedded store, answer a sample question.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/advisor corpus check
.venv/bin/advisor ingest
.venv/bin/advisor ask "${1:-We offer an AI image generator to the public in China. Do the images need a label?}"
