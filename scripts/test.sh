#!/usr/bin/env bash
# Set up a virtualenv with every extra (sentence-transformers, local model, eval, tests, PostgreSQL driver),
# the system browser for the browser test and Debian's PostgreSQL server (the workspace tests start a
# private server with it), then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" \
   || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei postgresql >/dev/null
  else
    echo "note: install Debian's chromium, fonts-wqy-microhei and postgresql for the browser and PostgreSQL tests" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[st,local,eval,test,postgres]'
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
