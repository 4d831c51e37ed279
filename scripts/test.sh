#!/usr/bin/env bash
# Set up a virtualenv with the test and sentence-transformers extras, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[st,local,eval,test]'
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
