#!/bin/sh
# Installs LiteLLM's proxy at a pinned version into its own venv (bench/.venv-litellm),
# for `make bench-peers`. Idempotent: does nothing when the venv already has it.
# See requirements-litellm.txt for the pins that had to be dropped or relaxed.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
VENV="$HERE/../.venv-litellm"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
STAMP="$VENV/.installed-1.110.2"
[ -f "$STAMP" ] && exit 0
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements-litellm.txt"
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/python" -c "import litellm.proxy.proxy_server" >/dev/null
touch "$STAMP"
