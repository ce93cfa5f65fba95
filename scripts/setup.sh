#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for the service: Graphviz, a virtualenv, the Python packages.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v dot >/dev/null || { echo "installing Graphviz"; apt_install graphviz; }

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "Python 3.11 or newer is needed (found $("$PYTHON" --version))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || {
        rm -rf .venv
        apt_install "python3-venv" || apt_install "python$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
        "$PYTHON" -m venv .venv
    }
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The web UI's Chinese catalogs: web/translations/zh/LC_MESSAGES/<domain>.po (the core's and each slice's) compiled to .mo.
for po in web/translations/zh/LC_MESSAGES/*.po; do .venv/bin/pybabel -q compile -D "$(basename "$po" .po)" -d web/translations; done
