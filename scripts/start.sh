#!/usr/bin/env bash
# Start Practicum locally: install, migrate, create the demo accounts, then serve with gunicorn on
# 127.0.0.1:$PORT beside one job worker (`practicum worker`: grading, data variants, purges).
# Workers and threads follow the CPU count (PRACTICUM_WORKERS and PRACTICUM_THREADS override
# them; PRACTICUM_JOB_WORKERS the worker's threads). Ctrl-C or SIGTERM stops both.
# Development server instead: .venv/bin/practicum run --debug (and .venv/bin/practicum worker).
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

worker_pid=""
server_pid=""
stop() {
    trap - INT TERM EXIT
    # SIGTERM: gunicorn finishes its requests, the worker its running jobs (one still running
    # after JOB_SHUTDOWN_SECONDS is put back in the queue for the next start).
    [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null || true
    [[ -n "$worker_pid" ]] && kill -TERM "$worker_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

.venv/bin/practicum worker &
worker_pid=$!
.venv/bin/gunicorn --config python:training_platform.gunicorn_conf \
    "training_platform:create_app()" &
server_pid=$!
# Whichever stops first (or a signal to this script) stops the other.
wait -n "$server_pid" "$worker_pid" || true
stop
