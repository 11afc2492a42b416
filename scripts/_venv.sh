# Shared by start.sh and test.sh: make .venv (if missing) and install the project into it.
# Usage: ensure_venv [EXTRA]   (EXTRA is an optional-dependency group of pyproject.toml, e.g. test)

ensure_venv() {
    local extra="${1:-}"
    local spec="." stamp=".venv/.practicum-installed"
    if [ -n "$extra" ]; then spec=".[$extra]"; stamp="$stamp-$extra"; fi
    if [ ! -x .venv/bin/python ]; then
        local python="${PYTHON:-}"
        if [ -z "$python" ]; then
            if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
        fi
        echo "Creating .venv with $python"
        "$python" -m venv .venv
    fi
    # Reinstall only when the project's metadata changed since the last install.
    local digest
    digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ] \
        || [ ! -x .venv/bin/practicum ]; then
        echo "Installing Practicum ($spec) into .venv"
        # A pip configuration may list local package folders that do not exist; the warning
        # pip prints for each one says nothing about this install.
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1 \
            | { grep -v "^WARNING: Location 'file://" || true; }
        echo "$digest" > "$stamp"
    fi
}
