#!/usr/bin/env bash
# Long fuzz run: each property of tests/test_fuzz.py with N inputs (default 25000, so 100,000 in
# all), one test at a time, printing Hypothesis' statistics (inputs tried, time) for each.
# Usage: bash scripts/fuzz.sh [N] [pytest -k expression]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

ensure_venv test
examples="${1:-25000}"
tests=(loader upload_page query_language crm_lists)
if [ -n "${2:-}" ]; then tests=("$2"); fi
for name in "${tests[@]}"; do
    echo "== $name: $examples inputs"
    FUZZ_EXAMPLES="$examples" .venv/bin/pytest -q tests/test_fuzz.py -k "$name" \
        -p no:cacheprovider --hypothesis-show-statistics
done
