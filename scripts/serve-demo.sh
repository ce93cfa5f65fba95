#!/usr/bin/env bash
# README command 1: set up, create the SQLite database, add demo data, and serve on http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The key that signs session cookies: made once, readable by this user only, found by the app (and by
# every `flask --app web ...` command run from here) as instance/secret_key. The app refuses to start without one.
if [ ! -s instance/secret_key ]; then
    mkdir -p instance
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > instance/secret_key)
    echo "made a new secret key in instance/secret_key"
fi
chmod 600 instance/secret_key
export FLASK_APP=web
.venv/bin/flask db upgrade
.venv/bin/flask workflow demo
echo
echo "Serving on http://127.0.0.1:${PORT:-8000}  — API token for the service lead: $(.venv/bin/flask users token lead)"
echo "Try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:${PORT:-8000}/api/v1/cases"
# The timer worker fires deadlines, reminders and silent consents; it stops with the server.
.venv/bin/flask workflow worker --interval 30 &
worker=$!
trap 'kill $worker 2>/dev/null' EXIT
.venv/bin/gunicorn --workers 2 --bind "127.0.0.1:${PORT:-8000}" 'web:create_app()'
