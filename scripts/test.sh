#!/usr/bin/env bash
# Run the linters and the whole test suite; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_venv test

# Browser tests use Debian's Chromium; the PostgreSQL tests start a throwaway PostgreSQL 15.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
# The scaled-out deployment's test (tests/test_scaled.py) adds Redis and HAProxy.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# PDFs (records of achievement, evidence) embed DejaVu Sans and, for Chinese, Droid Sans Fallback.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing ${missing[*]} from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        # The tests start their own Redis and HAProxy on free ports, not the packaged services.
        if command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now redis-server haproxy >/dev/null 2>&1 || true
        fi
    else
        echo "Not installing ${missing[*]} (needs root and apt-get): those tests will be skipped"
    fi
fi

bash scripts/i18n.sh compile >/dev/null  # the translations the pages read
.venv/bin/ruff check .
.venv/bin/lint-imports
# The suite runs on every core (at most 4) in as many pytest-xdist workers, a whole test file per
# worker; PRACTICUM_TEST_WORKERS=0 runs it in this one process.
workers="${PRACTICUM_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
[ "$workers" -gt 4 ] && workers=4
if [ "$workers" -gt 1 ]; then
    .venv/bin/pytest -q -n "$workers" --dist loadfile "$@"
else
    .venv/bin/pytest -q "$@"
fi
