#!/usr/bin/env bash
# The scaled-out deployment on one machine, over loopback only:
#   PostgreSQL 15 (a throwaway cluster) for the platform, Redis for the job queue and the login
#   throttle's counts, two gunicorn app servers behind HAProxy (health check on /readyz), and two
#   job workers (`practicum worker`). Every process gets the same settings from one env file.
#
# Usage: scripts/deploy_scaled.sh start | stop | status
#
# Settings (environment, all optional):
#   PRACTICUM_SCALED_DIR   where the deployment keeps its state (instance/scaled)
#   SCALED_PORT            the balancer's port, the site's address (8080)
#   SCALED_APP_PORTS       the two app servers' ports ("8081 8082")
#   SCALED_PG_PORT         PostgreSQL's port (55432)
#   SCALED_REDIS_PORT      Redis's port (56379)
#   PRACTICUM_SANDBOX_STORE  postgres (default): a schema per sandbox in the deployment's PostgreSQL,
#                          nothing of an attempt on any server's disk; files: SQLite sandboxes in
#                          one folder every app server and worker shares ($PRACTICUM_SCALED_DIR/shared)
#   PRACTICUM_SANDBOX_SPARES  PostgreSQL sandboxes: clones of each template kept ready (2)
#   PRACTICUM_WORKERS, PRACTICUM_THREADS, PRACTICUM_JOB_WORKERS  as for scripts/start.sh
# Settings of the platform itself go in $PRACTICUM_SCALED_DIR/config.py (read by every process).
# `source $PRACTICUM_SCALED_DIR/env.sh` gives a shell the deployment's settings (for the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
source scripts/_venv.sh

STATE="${PRACTICUM_SCALED_DIR:-instance/scaled}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
LB_PORT="${SCALED_PORT:-8080}"
read -r APP1_PORT APP2_PORT <<<"${SCALED_APP_PORTS:-8081 8082}"
PG_PORT="${SCALED_PG_PORT:-55432}"
REDIS_PORT="${SCALED_REDIS_PORT:-56379}"
SANDBOX_STORE="${PRACTICUM_SANDBOX_STORE:-postgres}"
SPARES="${PRACTICUM_SANDBOX_SPARES:-2}"
PG_BIN=/usr/lib/postgresql/15/bin
URL="http://127.0.0.1:$LB_PORT"

log() { echo "deploy_scaled: $*"; }
die() { echo "deploy_scaled: $*" >&2; exit 1; }

# --- processes by pid file --------------------------------------------------------------------

# The pid in a pid file if that process is alive and is the program named (not a reused pid).
live_pid() {
    local file="$1" program="$2" pid
    [ -f "$file" ] || return 1
    pid="$(head -n 1 "$file" | tr -dc 0-9)"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$program" || return 1
    echo "$pid"
}

# Stop what a pid file names: SIGTERM, up to 40 s to finish, then SIGKILL.
stop_pid() {
    local name="$1" file="$2" program="$3" pid
    if pid="$(live_pid "$file" "$program")"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 400); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
        if [ -d "/proc/$pid" ]; then
            log "$name did not stop in 40 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name"
    fi
    rm -f "$file"
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_http() {
    local url="$1" seconds="$2"
    for _ in $(seq $((seconds * 2))); do
        if .venv/bin/python - "$url" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=5)
EOF
        sleep 0.5
    done
    return 1
}

# --- installing --------------------------------------------------------------------------------

install_missing() {
    local missing=()
    [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-15)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing ${missing[*]} from Debian's packages"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
            # Debian starts the packaged services; this deployment runs its own on other ports.
            for service in redis-server haproxy; do
                if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null; then
                    systemctl disable --now "$service" >/dev/null 2>&1 || true
                fi
            done
        else
            die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
        fi
    fi
    # A virtualenv that already has the drivers (the test extras have them) is used as it is.
    if ! .venv/bin/python -c "import psycopg, redis, training_platform" >/dev/null 2>&1; then
        ensure_venv "postgres,redis"
    fi
}

# --- the settings every process shares ---------------------------------------------------------

write_env() {
    local key_file="$STATE/secret_key"
    if [ ! -s "$key_file" ]; then
        (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' >"$key_file")
    fi
    [ -f "$STATE/config.py" ] || cat >"$STATE/config.py" <<'EOF'
# Settings of the platform for every process of the scaled-out deployment (a Python file, as
# instance/config.py). Restart the deployment after a change: scripts/deploy_scaled.sh stop; start.
EOF
    mkdir -p "$STATE/admin" "$STATE/shared"
    (
        umask 077
        cat >"$STATE/env.sh" <<EOF
# The scaled-out deployment's settings (written by scripts/deploy_scaled.sh start).
export PRACTICUM_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/practicum"
export PRACTICUM_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export PRACTICUM_RATELIMIT_STORAGE_URI="redis://127.0.0.1:$REDIS_PORT/1"
export PRACTICUM_SECRET_KEY="$(cat "$key_file")"
# Plain HTTP on loopback: a Secure cookie would not come back. Set 1 behind TLS.
export PRACTICUM_COOKIE_SECURE=0
# One balancer in front sets X-Forwarded-For (login throttling per client address).
export PRACTICUM_PROXY_COUNT=1
export PRACTICUM_INSTANCE_PATH="$STATE/admin"
export PRACTICUM_SANDBOX_STORE="$SANDBOX_STORE"
EOF
        if [ "$SANDBOX_STORE" = files ]; then
            cat >>"$STATE/env.sh" <<EOF
# SQLite sandboxes: one folder every app server and worker shares.
export PRACTICUM_SANDBOX_BACKEND=sqlite_files
export PRACTICUM_SANDBOX_DIR="$STATE/shared/sandboxes"
export PRACTICUM_TEMPLATE_CACHE_DIR="$STATE/shared/sandbox_templates"
EOF
        else
            cat >>"$STATE/env.sh" <<EOF
# Sandboxes as PostgreSQL schemas in the deployment's database: nothing on a server's disk.
export PRACTICUM_SANDBOX_BACKEND=postgres
export PRACTICUM_SANDBOX_SPARES=$SPARES
EOF
        fi
    )
}

# An instance folder of one process: nothing in it but the shared settings file.
instance_for() {
    local folder="$STATE/$1"
    mkdir -p "$folder"
    ln -sf "$STATE/config.py" "$folder/config.py"
    echo "$folder"
}

# --- the parts -----------------------------------------------------------------------------------

start_postgres() {
    local data="$STATE/pg/data"
    if [ ! -d "$data" ]; then
        [ "$(id -u)" = 0 ] || die "starting PostgreSQL needs root (to run it as the postgres user)"
        mkdir -p "$STATE/pg"
        chown postgres:postgres "$STATE/pg"
        runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -A trust -U postgres >/dev/null
    fi
    if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        port_free "$PG_PORT" || die "port $PG_PORT (PostgreSQL) is taken; set SCALED_PG_PORT"
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$STATE/pg/server.log" -w -t 60 \
            -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1" start >/dev/null
        log "PostgreSQL on 127.0.0.1:$PG_PORT"
    fi
    if ! runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'practicum'" | grep -q 1; then
        runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres practicum
    fi
}

start_redis() {
    live_pid "$STATE/redis.pid" redis-server >/dev/null && return 0
    port_free "$REDIS_PORT" || die "port $REDIS_PORT (Redis) is taken; set SCALED_REDIS_PORT"
    mkdir -p "$STATE/redis"
    # Append-only file: queued jobs survive a restart of Redis.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" \
        --appendonly yes --save "" --daemonize yes --pidfile "$STATE/redis.pid" \
        --logfile "$STATE/redis/redis.log"
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    log "Redis on 127.0.0.1:$REDIS_PORT"
}

start_app() {
    local name="$1" port="$2" folder
    live_pid "$STATE/$name.pid" gunicorn >/dev/null && return 0
    port_free "$port" || die "port $port ($name) is taken; set SCALED_APP_PORTS"
    folder="$(instance_for "$name")"
    PRACTICUM_INSTANCE_PATH="$folder" PRACTICUM_BIND="127.0.0.1:$port" \
        .venv/bin/gunicorn --config python:training_platform.gunicorn_conf \
        --pid "$STATE/$name.pid" --daemon --access-logfile "$STATE/$name.log" \
        --error-logfile "$STATE/$name.log" "training_platform:create_app()"
    log "app server $name on 127.0.0.1:$port"
}

start_worker() {
    local name="$1" folder
    live_pid "$STATE/$name.pid" practicum >/dev/null && return 0
    folder="$(instance_for "$name")"
    PRACTICUM_INSTANCE_PATH="$folder" nohup .venv/bin/practicum worker \
        </dev/null >>"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid"
    log "job worker $name (pid $!)"
}

start_balancer() {
    live_pid "$STATE/haproxy.pid" haproxy >/dev/null && return 0
    port_free "$LB_PORT" || die "port $LB_PORT (the balancer) is taken; set SCALED_PORT"
    sed -e "s|@STATE@|$STATE|g" -e "s|@LB_PORT@|$LB_PORT|g" \
        -e "s|@APP1_PORT@|$APP1_PORT|g" -e "s|@APP2_PORT@|$APP2_PORT|g" \
        deploy/haproxy.cfg.in >"$STATE/haproxy.cfg"
    "$(command -v haproxy || echo /usr/sbin/haproxy)" -q -c -f "$STATE/haproxy.cfg" >/dev/null
    "$(command -v haproxy || echo /usr/sbin/haproxy)" -q -D -f "$STATE/haproxy.cfg" \
        -p "$STATE/haproxy.pid"
    log "HAProxy on $URL"
}

# --- the commands --------------------------------------------------------------------------------

cmd_start() {
    install_missing
    bash scripts/i18n.sh compile >/dev/null  # the translations the pages read
    write_env
    # shellcheck disable=SC1091
    source "$STATE/env.sh"
    start_postgres
    start_redis
    # Migrations, definitions and the demo accounts, once, before any server starts.
    .venv/bin/practicum db upgrade
    .venv/bin/practicum sync-definitions >/dev/null
    .venv/bin/practicum seed-demo | grep -v "^Open http"
    start_app app1 "$APP1_PORT"
    start_app app2 "$APP2_PORT"
    start_worker worker1
    start_worker worker2
    wait_http "http://127.0.0.1:$APP1_PORT/readyz" 120 || die "app1 is not ready; see $STATE/app1.log"
    wait_http "http://127.0.0.1:$APP2_PORT/readyz" 120 || die "app2 is not ready; see $STATE/app2.log"
    start_balancer
    wait_http "$URL/readyz" 60 || die "the balancer does not answer on $URL"
    cat <<EOF

Practicum (scaled out) is at $URL
  demo accounts (password practicum-demo): trainee@demo.practicum.hk,
  assessor@demo.practicum.hk, admin@demo.practicum.hk
  state and logs: $STATE    settings for the CLI: source $STATE/env.sh
  stop it: scripts/deploy_scaled.sh stop
EOF
}

cmd_stop() {
    # Front to back: no new requests, then the servers finish theirs, the workers their jobs.
    stop_pid "HAProxy" "$STATE/haproxy.pid" haproxy
    stop_pid "app server app1" "$STATE/app1.pid" gunicorn
    stop_pid "app server app2" "$STATE/app2.pid" gunicorn
    stop_pid "job worker worker1" "$STATE/worker1.pid" practicum
    stop_pid "job worker worker2" "$STATE/worker2.pid" practicum
    stop_pid "Redis" "$STATE/redis.pid" redis-server
    if [ -f "$STATE/pg/data/postmaster.pid" ]; then
        # A fast shutdown can outlast the wait on a busy machine with many sandbox schemas:
        # then stop at once (PostgreSQL recovers from its log at the next start).
        if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast -w -t 60 stop \
            >/dev/null 2>&1; then
            log "stopped PostgreSQL"
        elif runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m immediate -w -t 30 \
            stop >/dev/null 2>&1; then
            log "stopped PostgreSQL (immediate: the fast shutdown did not finish in 60 s)"
        else
            log "PostgreSQL did not stop; see $STATE/pg/server.log"
        fi
    fi
}

cmd_status() {
    local down=0 entry name file program
    for entry in "HAProxy:haproxy.pid:haproxy" "app1:app1.pid:gunicorn" "app2:app2.pid:gunicorn" \
        "worker1:worker1.pid:practicum" "worker2:worker2.pid:practicum" \
        "Redis:redis.pid:redis-server" "PostgreSQL:pg/data/postmaster.pid:postgres"; do
        IFS=: read -r name file program <<<"$entry"
        if pid="$(live_pid "$STATE/$file" "$program")"; then
            echo "$name: running (pid $pid)"
        else
            echo "$name: stopped"
            down=1
        fi
    done
    if [ "$down" = 0 ] && wait_http "$URL/readyz" 1; then
        echo "ready at $URL"
    fi
    return "$down"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start | stop | status" >&2; exit 2 ;;
esac
