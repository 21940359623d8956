#!/usr/bin/env bash
# Dumps the tracking and auth databases of a Bitnami-chart MLflow install.
#
# Run by the adoption Job (postgres image) and, unchanged, by tests/adopt (Debian's
# PostgreSQL client). Reads only; the source databases are never modified.
#
# Environment:
#   SOURCE_HOST SOURCE_PORT                       source server
#   SOURCE_USER SOURCE_PASSWORD                   login (the Bitnami chart uses one for both)
#   SOURCE_TRACKING_DB SOURCE_AUTH_DB             databases to dump
#   SOURCE_AUTH_USER SOURCE_AUTH_PASSWORD         optional other login for the auth database
#   DUMP_DIR                                      where tracking.dump/auth.dump go
#
# For each database it writes <kind>.dump (pg_dump custom format) and <kind>.counts
# (exact row count per table) so the restore can prove nothing was lost on the way.
set -euo pipefail

: "${SOURCE_HOST:?}" "${SOURCE_USER:?}" "${SOURCE_PASSWORD:?}"
: "${SOURCE_TRACKING_DB:?}" "${SOURCE_AUTH_DB:?}" "${DUMP_DIR:?}"

export PGHOST=$SOURCE_HOST PGPORT=${SOURCE_PORT:-5432}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
export PGAPPNAME=mlflow-k8s-adopt-dump

log() { printf '%s adopt-dump: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

table_counts() {
  local db=$1 table
  # Exact counts (not pg_stat estimates): the restore compares them row for row.
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c \
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename" |
    while IFS= read -r table; do
      printf '%s\t%s\n' "$table" \
        "$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT count(*) FROM public.\"${table//\"/\"\"}\"")"
    done
}

dump_one() {
  local kind=$1 db=$2 tables
  export PGUSER=$3 PGPASSWORD=$4
  tables=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c \
    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
  if [ "$tables" -eq 0 ]; then
    log "database $db has no tables: is it really the MLflow $kind database?"
    exit 3
  fi
  log "dumping $kind database $db ($tables tables)"
  # Owners and grants name roles of the old server; the target re-owns everything.
  pg_dump --format=custom --no-owner --no-privileges --dbname="$db" \
    --file="$DUMP_DIR/$kind.dump.partial"
  table_counts "$db" >"$DUMP_DIR/$kind.counts.partial"
  # Renames make a half-written dump impossible to mistake for a finished one.
  mv "$DUMP_DIR/$kind.counts.partial" "$DUMP_DIR/$kind.counts"
  mv "$DUMP_DIR/$kind.dump.partial" "$DUMP_DIR/$kind.dump"
  log "$kind: $(wc -l <"$DUMP_DIR/$kind.counts") tables, $(wc -c <"$DUMP_DIR/$kind.dump") bytes"
}

mkdir -p "$DUMP_DIR"
rm -f "$DUMP_DIR"/*.partial
dump_one tracking "$SOURCE_TRACKING_DB" "$SOURCE_USER" "$SOURCE_PASSWORD"
dump_one auth "$SOURCE_AUTH_DB" "${SOURCE_AUTH_USER:-$SOURCE_USER}" "${SOURCE_AUTH_PASSWORD:-$SOURCE_PASSWORD}"
log "done"
