#!/usr/bin/env bash
# Start Practicum locally: install, migrate, create the demo accounts, serve with gunicorn on
# 127.0.0.1:$PORT. Workers and threads follow the CPU count (PRACTICUM_WORKERS and
# PRACTICUM_THREADS override them). Development server instead: .venv/bin/practicum run --debug
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_venv
bash scripts/i18n.sh compile >/dev/null  # the translations the pages read
.venv/bin/practicum db upgrade
.venv/bin/practicum sync-definitions
.venv/bin/practicum seed-demo
# Plain HTTP on loopback: a Secure cookie would not come back. Set 1 behind a TLS proxy.
export PRACTICUM_COOKIE_SECURE="${PRACTICUM_COOKIE_SECURE:-0}"
exec .venv/bin/gunicorn --config python:training_platform.gunicorn_conf \
    "training_platform:create_app()"
