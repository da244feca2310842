#!/usr/bin/env bash
# A throwaway local PostgreSQL server for tests and development.
#
#   scripts/postgres.sh start   install the server if missing, initialise and start it, print its URL
#   scripts/postgres.sh stop    stop it (the data directory stays)
#   scripts/postgres.sh status  say whether it runs
#   scripts/postgres.sh url     print the SQLAlchemy URL
#
# Settings (environment): POSTGRES_DATA (default data/postgres in the repository), POSTGRES_PORT
# (54329), POSTGRES_DB (warehouse). The server listens on 127.0.0.1 only, with trust authentication
# and without fsync: it is for tests, never for data anyone cares about.
#
# PostgreSQL refuses to run as root, so when this script runs as root the cluster belongs to the
# `postgres` system user (created if needed) and every server command runs as that user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${POSTGRES_DATA:-}"
PORT="${POSTGRES_PORT:-54329}"
DB="${POSTGRES_DB:-warehouse}"
SUPERUSER="postgres"
HOST="127.0.0.1"

[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "postgres.sh: POSTGRES_DB must be a plain lower-case name" >&2; exit 2; }
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "postgres.sh: POSTGRES_PORT must be a number" >&2; exit 2; }

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

url() { echo "postgresql+psycopg://${SUPERUSER}@${HOST}:${PORT}/${DB}"; }

find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir)"
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    fi
    return 1
}

install_server() {
    log "no PostgreSQL server binaries found; installing the Debian 'postgresql' package"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null \
            || die "PostgreSQL is not installed and installing it needs root: run 'apt-get install postgresql' as root"
        sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
}

# The data directory: POSTGRES_DATA, else data/postgres in the repository. As root, when the
# repository sits where the `postgres` user cannot reach (a checkout under /root, say), the default
# moves to /var/tmp, keyed by the repository's path.
resolve_data() {
    [[ -n "$DATA" ]] && return 0
    DATA="$ROOT/data/postgres"
    if [[ "$(id -u)" == 0 ]]; then
        local probe=postgres
        id postgres >/dev/null 2>&1 || probe=nobody
        if ! runuser -u "$probe" -- test -x "$ROOT"; then
            DATA="/var/tmp/stripe-report-pipelines-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)/postgres"
        fi
    fi
}

# Run a server command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

prepare_root_owner() {
    [[ "$(id -u)" == 0 ]] || return 0
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$DATA"
    chmod o+x "$(dirname "$DATA")"
    chown postgres: "$DATA"
    chmod 700 "$DATA"
    # The server process must be able to reach its data directory through every parent.
    if ! runuser -u postgres -- test -x "$DATA"; then
        die "user 'postgres' cannot reach $DATA (a parent directory is not searchable); set POSTGRES_DATA to a path it can reach"
    fi
}

running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

wait_ready() {
    local i
    for i in $(seq 1 120); do
        if "$BINDIR/pg_isready" -q -h "$HOST" -p "$PORT" -U "$SUPERUSER" -d postgres; then
            return 0
        fi
        sleep 0.5
    done
    die "the server on $HOST:$PORT did not become ready; see $DATA/server.log"
}

psql_admin() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$SUPERUSER" -d postgres "$@"
}

start() {
    if ! BINDIR="$(find_bindir)"; then
        install_server
        BINDIR="$(find_bindir)" || die "PostgreSQL server binaries still not found under /usr/lib/postgresql/*/bin"
    fi
    resolve_data
    mkdir -p "$(dirname "$DATA")"
    # Several test workers may call `start` at once: one of them does the work, the others wait.
    exec 9>"$(dirname "$DATA")/.postgres.lock"
    flock 9

    prepare_root_owner
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        mkdir -p "$DATA"
        log "initialising a cluster in $DATA"
        as_owner "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C >/dev/null
        cat >>"$DATA/postgresql.conf" <<EOF

# Local test server (scripts/postgres.sh)
listen_addresses = '$HOST'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    fi
    if running; then
        log "already running ($DATA)"
    else
        log "starting on $HOST:$PORT"
        # 9>&-: the server must not inherit (and so keep holding) the start lock.
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$DATA/server.log" -o "-p $PORT" -w -t 60 start >/dev/null 9>&- \
            || die "the server did not start; see $DATA/server.log"
    fi
    wait_ready
    if [[ "$(psql_admin -tAc "select 1 from pg_database where datname = '$DB'")" != 1 ]]; then
        psql_admin -c "create database \"$DB\"" >/dev/null
    fi
    url
}

stop() {
    BINDIR="$(find_bindir)" || { log "PostgreSQL is not installed; nothing to stop"; return 0; }
    resolve_data
    if running; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        log "stopped"
    else
        log "not running"
    fi
}

status() {
    resolve_data
    if BINDIR="$(find_bindir)" && running; then
        echo "running: $(url)"
    else
        echo "stopped"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) url ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
