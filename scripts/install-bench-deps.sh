#!/bin/sh
# Installs what `make bench` needs beyond the project's venv, when missing:
#  - wrk (Debian package), the HTTP load generator;
#  - bench/.venv-tools, a bench-only venv with matplotlib (the PNG chart) and py-spy
#    (profiling), so neither lands in the project's own dependencies.
# Everything comes from the package registries; nothing is built from source.
set -eu
PACKAGES="wrk util-linux"
missing=""
for pkg in $PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
TOOLS=bench/.venv-tools
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -f "$TOOLS/.installed-stamp" ]; then
    [ -x "$TOOLS/bin/python" ] || "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet "matplotlib>=3.8,<4" "py-spy>=0.4,<0.5"
    touch "$TOOLS/.installed-stamp"
fi
