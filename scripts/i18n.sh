#!/usr/bin/env bash
# Translations: `extract` rebuilds the template (messages.pot) from the sources, `update` merges
# it into each language's messages.po (new messages arrive empty, changed ones fuzzy), `compile`
# builds the .mo files the app reads. The markers are those training_platform.i18n lists.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=training_platform/translations
case "${1:-}" in
    extract)
        .venv/bin/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
            -k lazy_gettext -k lazy -k translate -k translate_plural:1,2 -k L_ \
            -k column_field:2 -k Field:2 -k lookup_field:5 \
            --project Practicum -o "$DIR/messages.pot" .
        ;;
    update)
        .venv/bin/pybabel update -i "$DIR/messages.pot" -d "$DIR" --ignore-obsolete --no-fuzzy-matching
        ;;
    compile)
        .venv/bin/pybabel compile -d "$DIR" --statistics
        ;;
    *)
        echo "usage: scripts/i18n.sh extract|update|compile" >&2
        exit 2
        ;;
esac
