#!/usr/bin/env bash
# Brings restored Bitnami databases to the schema of the MLflow that will serve them.
#
# Run by the adoption Job in the MLflow server image (the same image and version as the new
# deployment) and, unchanged, by tests/adopt with a virtualenv of that MLflow version.
#
# Environment:
#   TARGET_HOST TARGET_PORT
#   TARGET_TRACKING_DB TARGET_TRACKING_USER TARGET_TRACKING_PASSWORD
#   TARGET_AUTH_DB TARGET_AUTH_USER TARGET_AUTH_PASSWORD
#   ADOPT_ID                   names this adoption (namespace/release), as for adopt-restore.sh
#   ADOPT_ADMIN_USERNAME       the admin user that must exist in the adopted auth database
#   ADOPT_ADMIN_NEW_PASSWORD   optional: rotate that admin's password to this value
#
# Steps, each safe to repeat:
#   1. tracking database: the code of `mlflow db upgrade` (called in-process so the
#      database password never appears in a process list);
#   2. auth database: the migration the basic-auth server runs at start-up
#      (SqlAlchemyStore.init_db), here so that a failure stops the Job instead of
#      crash-looping the new server. MLflow 3.13+ turns legacy grants into per-user roles
#      and drops explicit NO_PERMISSIONS grants (e5f6a7b8c9d0_migrate_permissions_to_roles),
#      which under default_permission READ would widen access; they are re-created as
#      DENY grants (MLflow 3.17+), so "no access" stays "no access";
#   3. the admin user is checked (present, admin) and, if asked, given a new password;
#   4. both database comments say "migrated", which tells adopt-restore.sh on a re-run
#      to keep them instead of starting over.
set -euo pipefail

: "${TARGET_HOST:?}" "${TARGET_TRACKING_DB:?}" "${TARGET_TRACKING_USER:?}" "${TARGET_TRACKING_PASSWORD:?}"
: "${TARGET_AUTH_DB:?}" "${TARGET_AUTH_USER:?}" "${TARGET_AUTH_PASSWORD:?}" "${ADOPT_ID:?}"
: "${ADOPT_ADMIN_USERNAME:?}"

exec python - <<'PYTHON'
import os
import sys
import time
import urllib.parse


def log(msg):
    sys.stderr.write("%s adopt-migrate: %s\n" % (time.strftime("%H:%M:%S", time.gmtime()), msg))
    sys.stderr.flush()


def url(kind):
    env = os.environ
    return "postgresql+psycopg2://%s:%s@%s:%s/%s" % (
        urllib.parse.quote(env["TARGET_%s_USER" % kind], safe=""),
        urllib.parse.quote(env["TARGET_%s_PASSWORD" % kind], safe=""),
        env["TARGET_HOST"],
        env.get("TARGET_PORT") or "5432",
        urllib.parse.quote(env["TARGET_%s_DB" % kind], safe=""),
    )


import mlflow  # noqa: E402
import sqlalchemy  # noqa: E402
from mlflow.db import commands as db_commands  # noqa: E402
from mlflow.server.auth import permissions  # noqa: E402
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore  # noqa: E402

MARKER = "mlflow_k8s.platform adoption of %s" % os.environ["ADOPT_ID"]
# Legacy grant tables (MLflow < 3.13) -> resource type and id column in the role model.
LEGACY_TABLES = {"experiment_permissions": ("experiment", "experiment_id"),
                 "registered_model_permissions": ("registered_model", "name")}


def legacy_denies(engine):
    """Explicit NO_PERMISSIONS grants still in legacy tables: [(user, type, id)]."""
    names = set(sqlalchemy.inspect(engine).get_table_names())
    found = []
    with engine.connect() as conn:
        for table, (rtype, column) in LEGACY_TABLES.items():
            if table not in names or "users" not in names:
                continue
            rows = conn.execute(sqlalchemy.text(
                "SELECT u.username, p.%s FROM %s p JOIN users u ON u.id = p.user_id "
                "WHERE p.permission = 'NO_PERMISSIONS' ORDER BY 1, 2" % (column, table)))
            found.extend((user, rtype, str(rid)) for user, rid in rows)
    return found


def mark(engine, database, state):
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(
            'COMMENT ON DATABASE "%s" IS :c' % database.replace('"', '""')).bindparams(c="%s: %s" % (MARKER, state)))


log("MLflow %s: upgrading tracking database %s" % (mlflow.__version__, os.environ["TARGET_TRACKING_DB"]))
db_commands.main(args=["upgrade", url("TRACKING")], prog_name="mlflow db", standalone_mode=False)

auth_engine = sqlalchemy.create_engine(url("AUTH"))
denies = legacy_denies(auth_engine)
if denies and not hasattr(permissions, "DENY"):
    log("%d explicit NO_PERMISSIONS grants would become the default permission: "
        "MLflow %s has no DENY (3.17+); use a newer MLflow image" % (len(denies), mlflow.__version__))
    sys.exit(7)

log("upgrading auth database %s" % os.environ["TARGET_AUTH_DB"])
store = SqlAlchemyStore()
store.init_db(url("AUTH"))
for user, rtype, rid in denies:
    store.grant_user_permission(user, rtype, rid, "DENY")
log("%d explicit NO_PERMISSIONS grants kept as DENY" % len(denies))

admin = os.environ["ADOPT_ADMIN_USERNAME"]
if not store.has_user(admin):
    log("admin user %r is not in the adopted auth database; check the admin user name" % admin)
    sys.exit(6)
if not store.get_user(admin).is_admin:
    log("user %r exists but is not an admin in the adopted auth database" % admin)
    sys.exit(6)
new_password = os.environ.get("ADOPT_ADMIN_NEW_PASSWORD", "")
if new_password:
    store.update_user(admin, password=new_password)
    log("admin %r: password rotated" % admin)
else:
    log("admin %r: password carried over" % admin)

mark(auth_engine, os.environ["TARGET_AUTH_DB"], "migrated")
mark(sqlalchemy.create_engine(url("TRACKING")), os.environ["TARGET_TRACKING_DB"], "migrated")
log("done")
PYTHON
