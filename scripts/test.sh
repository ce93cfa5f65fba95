#!/usr/bin/env bash
# README command 2: set up and run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The browser tests (tests/browser/) drive Debian's headless Chromium; it needs CJK fonts to draw
# Chinese, and an emoji font for the diagrams' ⏱. Installed only when missing.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} for the browser tests"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

.venv/bin/python -m pytest "$@"
