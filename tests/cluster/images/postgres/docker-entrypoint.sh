#!/usr/bin/env bash
# Entrypoint of the locally built postgres image (tests/cluster/images). Written for these tests;
# it honours the part of the official postgres image's contract that roles/postgres_mlflow uses:
#
#   POSTGRES_PASSWORD   superuser password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER       superuser name (default postgres)
#   POSTGRES_DB         database created on first start (default: $POSTGRES_USER)
#   PGDATA              data directory, may be a subdirectory of the volume; initdb only when
#                       it holds no cluster yet
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256)
#   /docker-entrypoint-initdb.d/  on first initialisation only, in name order: *.sh run when
#                       executable and sourced when not, *.sql and *.sql.gz fed to psql; against a
#                       temporary server listening on the unix socket only
#
# Then the real server replaces this script (PID 1), listening on every address, password
# authentication (scram-sha-256) for remote hosts. Runs as uid 999 (postgres) with a read-only
# root file system; started as root it drops to postgres first.
#
# errexit without nounset: sourced init scripts may read variables that are not set, as they can
# with the official image (which runs with set -Eeo pipefail).
set -Eeo pipefail

say() { printf '%s [entrypoint] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() { say "ERROR: $*" >&2; exit 1; }

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
# Anything but the server (psql, bash, postgres --version) runs as it is.
if [ "$1" != postgres ] || [[ " $* " == *" --help "* || " $* " == *" --version "* || " $* " == *" -V "* ]]; then
  exec "$@"
fi

: "${PGDATA:?PGDATA is not set}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA POSTGRES_USER POSTGRES_DB

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

getent passwd "$(id -u)" >/dev/null \
  || fail "uid $(id -u) has no entry in /etc/passwd, which initdb and postgres need; run as 999 (postgres)"
mkdir -p "$PGDATA" || fail "cannot create PGDATA=$PGDATA as uid $(id -u); is the volume writable by it?"
# postgres refuses a data directory others can read; a fresh volume subdirectory may be 0755.
chmod 0700 "$PGDATA" 2>/dev/null || true
[ -w /var/run/postgresql ] || fail "/var/run/postgresql is not writable by uid $(id -u) (mount an emptyDir there)"

initialise() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    fail "the database is uninitialised and POSTGRES_PASSWORD is empty; set it (or POSTGRES_HOST_AUTH_METHOD=trust, which lets anyone in)"
  fi
  if [ -n "$(ls -A "$PGDATA")" ]; then
    fail "PGDATA=$PGDATA holds files but no cluster (no PG_VERSION); point PGDATA at an empty subdirectory of the volume"
  fi
  say "initialising $PGDATA for superuser $POSTGRES_USER"
  # The password reaches initdb through a pipe, never a file on a volume.
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, split on purpose
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  # initdb trusts local (socket and loopback) connections; everything else needs the password.
  printf '\n# Added by the image entrypoint: remote hosts authenticate.\nhost all all all %s\n' \
    "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  say "starting a temporary server on the unix socket only"
  pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses='' -p ${PGPORT:-5432}" start
  export PGUSER=$POSTGRES_USER PGDATABASE=postgres
  if [ "$POSTGRES_DB" != postgres ]; then
    say "creating database $POSTGRES_DB"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --set=db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  run_init_scripts
  unset PGUSER PGDATABASE
  say "stopping the temporary server"
  pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
  say "initialisation complete"
}

run_init_scripts() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh)
        if [ -x "$f" ]; then
          say "running $f"; "$f"
        else
          # Sourced in this shell, with its errexit: a failing command stops the initialisation.
          say "sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql) say "running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) say "running $f"; gzip -dc "$f" | psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$POSTGRES_DB" ;;
      *) say "ignoring $f" ;;
    esac
  done
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initialise
else
  say "$PGDATA holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster; skipping initialisation"
fi
exec "$@"
