#!/usr/bin/env bash
# A throw-away PostgreSQL server for `make e2e`, from the distribution's packages (no Docker).
#
#   e2e/postgres.sh install              install PostgreSQL with apt-get unless it is already there
#   e2e/postgres.sh start DIR PORT       initdb a cluster in DIR (created, handed to the postgres user),
#                                        start it on 127.0.0.1:PORT, create the database "airflow";
#                                        prints the SQLAlchemy URL on stdout
#   e2e/postgres.sh stop DIR             pg_ctl stop -m fast (bounded; then SIGKILL of the postmaster)
#
# initdb and postgres refuse to run as root: as root, both run as the "postgres" system user (created by
# the Debian package) through runuser. Nothing listens on anything but loopback, and the Unix socket
# lives in DIR, not in /var/run/postgresql.
set -euo pipefail

DB_USER=airflow
DB_NAME=airflow
DB_PASSWORD=e2e-throwaway-db-password

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

bindir() {
  # Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<major>/bin.
  local dir
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $dir/pg_ctl && -x $dir/initdb && -x $dir/postgres ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd_install() {
  if bindir >/dev/null; then
    log "PostgreSQL found in $(bindir)"
    return 0
  fi
  log "PostgreSQL not found: installing it with apt-get (Debian package 'postgresql')"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { log "not root and no sudo: install the 'postgresql' package"; exit 1; }
    sudo=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q </dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends postgresql </dev/null
  bindir >/dev/null || { log "PostgreSQL still not found after apt-get install"; exit 1; }
  log "PostgreSQL installed in $(bindir)"
}

cmd_start() {
  local dir=${1:?DIR} port=${2:?PORT} bin
  bin=$(bindir) || { log "PostgreSQL is not installed (run: $0 install)"; exit 1; }
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  local pwfile=$dir/.pwfile
  as_postgres bash -c 'umask 077 && printf "%s\n" "$1" > "$2"' _ "$DB_PASSWORD" "$pwfile"
  as_postgres "$bin/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$pwfile"
  # Small and fast: it is thrown away after the run, so durability buys nothing.
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  PGPASSWORD=$DB_PASSWORD "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME"
  printf 'postgresql+psycopg2://%s:%s@127.0.0.1:%s/%s\n' "$DB_USER" "$DB_PASSWORD" "$port" "$DB_NAME"
}

cmd_stop() {
  local dir=${1:?DIR} bin pid
  [[ -f $dir/data/postmaster.pid ]] || return 0
  bin=$(bindir)
  if ! as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      log "pg_ctl stop timed out: SIGKILL to postmaster $pid"
      kill -KILL "$pid" || true
    fi
  fi
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  bindir) bindir ;;
  *) echo "usage: $0 install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
