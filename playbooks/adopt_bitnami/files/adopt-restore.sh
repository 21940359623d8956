#!/usr/bin/env bash
# Restores the dumps written by adopt-dump.sh into the databases postgres_mlflow manages.
#
# Run by the adoption Job (postgres image) and, unchanged, by tests/adopt.
#
# Environment:
#   TARGET_HOST TARGET_PORT                               target server
#   TARGET_TRACKING_DB TARGET_TRACKING_USER TARGET_TRACKING_PASSWORD
#   TARGET_AUTH_DB TARGET_AUTH_USER TARGET_AUTH_PASSWORD  databases to fill and their owners
#                                                         (each login must own its database)
#   DUMP_DIR                                              tracking.dump/.counts, auth.dump/.counts
#   ADOPT_ID                                              names this adoption (namespace/release)
#   ADOPT_REPLACE_TARGET                                  "true": overwrite a target that holds data
#
# A target database is only written when losing its content is impossible or was asked for:
#   * it has no tables, or only what a fresh MLflow server creates on first start
#     (no runs, no registered models, no experiment but Default; at most one user and no
#     permissions) -> restore;
#   * its comment says an earlier attempt of this adoption stopped before adopt-migrate.sh
#     finished -> start over from the dump;
#   * its comment says this adoption already migrated it -> leave it (re-runs continue);
#   * anything else -> stop, unless ADOPT_REPLACE_TARGET=true.
# Progress is recorded in the database comment, which MLflow never reads.
set -euo pipefail

: "${TARGET_HOST:?}" "${TARGET_TRACKING_DB:?}" "${TARGET_TRACKING_USER:?}" "${TARGET_TRACKING_PASSWORD:?}"
: "${TARGET_AUTH_DB:?}" "${TARGET_AUTH_USER:?}" "${TARGET_AUTH_PASSWORD:?}" "${DUMP_DIR:?}" "${ADOPT_ID:?}"
replace=${ADOPT_REPLACE_TARGET:-false}

export PGHOST=$TARGET_HOST PGPORT=${TARGET_PORT:-5432}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
export PGAPPNAME=mlflow-k8s-adopt-restore

marker="mlflow_k8s.platform adoption of $ADOPT_ID"

log() { printf '%s adopt-restore: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
q() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
literal() { printf "'%s'" "${1//\'/\'\'}"; }
ident() { printf '"%s"' "${1//\"/\"\"}"; }

table_counts() {
  local db=$1 table
  q "$db" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename" |
    while IFS= read -r table; do
      printf '%s\t%s\n' "$table" "$(q "$db" -c "SELECT count(*) FROM public.$(ident "$table")")"
    done
}

count_if_exists() {
  # Prints the row count of a public table, or 0 when the table does not exist.
  local db=$1 table=$2 where=${3:-true}
  if [ -n "$(q "$db" -c "SELECT to_regclass($(literal "public.$table"))")" ]; then
    q "$db" -c "SELECT count(*) FROM public.$(ident "$table") WHERE $where"
  else
    echo 0
  fi
}

holds_data() {
  # True when the database has content a person could miss after a restore.
  local kind=$1 db=$2 n
  if [ "$kind" = tracking ]; then
    n=$(( $(count_if_exists "$db" runs) + $(count_if_exists "$db" registered_models) \
      + $(count_if_exists "$db" experiments "experiment_id <> 0") ))
  else
    n=$(( $(count_if_exists "$db" users) > 1 ? 1 : 0 ))
    for table in experiment_permissions registered_model_permissions role_permissions user_role_assignments; do
      n=$(( n + $(count_if_exists "$db" "$table") ))
    done
  fi
  [ "$n" -gt 0 ]
}

set_comment() {
  q "$1" -c "COMMENT ON DATABASE $(ident "$1") IS $(literal "$2")"
}

restore_one() {
  local kind=$1 db=$2 tables comment
  export PGUSER=$3 PGPASSWORD=$4
  if [ ! -s "$DUMP_DIR/$kind.dump" ] || [ ! -f "$DUMP_DIR/$kind.counts" ]; then
    log "no finished $kind dump in $DUMP_DIR"
    exit 3
  fi
  tables=$(q "$db" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
  comment=$(q "$db" -c "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = current_database()")
  if [ "$comment" = "$marker: migrated" ] && [ "$replace" != true ]; then
    log "$kind database $db was already adopted and migrated by this adoption; keeping it"
    return 0
  fi
  if [ "$tables" -gt 0 ] && [ "$comment" != "$marker: restoring" ] && [ "$comment" != "$marker: restored" ] \
    && [ "$replace" != true ] && holds_data "$kind" "$db"; then
    log "$kind database $db already holds MLflow data that is not from this adoption;" \
      "refusing to overwrite it (set ADOPT_REPLACE_TARGET=true to replace it)"
    exit 4
  fi
  set_comment "$db" "$marker: restoring"
  if [ "$tables" -gt 0 ]; then
    log "emptying $kind database $db ($tables tables)"
    q "$db" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public"
  fi
  log "restoring $kind database $db"
  pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$db" "$DUMP_DIR/$kind.dump"
  if ! diff <(table_counts "$db") "$DUMP_DIR/$kind.counts" >&2; then
    log "$kind: row counts after restore differ from the source (diff above: < target, > source)"
    exit 5
  fi
  set_comment "$db" "$marker: restored"
  log "$kind: $(wc -l <"$DUMP_DIR/$kind.counts") tables restored, row counts equal to the source"
}

restore_one tracking "$TARGET_TRACKING_DB" "$TARGET_TRACKING_USER" "$TARGET_TRACKING_PASSWORD"
restore_one auth "$TARGET_AUTH_DB" "$TARGET_AUTH_USER" "$TARGET_AUTH_PASSWORD"
log "done"
