#!/usr/bin/env bash
# Start Practicum locally: install, migrate, create the demo accounts, serve on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_venv
.venv/bin/practicum db upgrade
.venv/bin/practicum sync-definitions
.venv/bin/practicum seed-demo
exec .venv/bin/practicum run --host 127.0.0.1 --port "${PORT:-5000}"
