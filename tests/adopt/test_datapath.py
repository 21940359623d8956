"""The adoption data path, end to end with real programs.

A PostgreSQL server stands in for the Bitnami subchart: a tracking and an auth database
written by a real MLflow 3.3.x basic-auth server (the version the chart ships). They are
dumped and restored by the very scripts the adoption Job runs
(playbooks/adopt_bitnami/files), into a second PostgreSQL server laid out like the one
postgres_mlflow manages (one owner per database) and already initialised by the current
MLflow, as the new deployment leaves it. The current MLflow migrates them, then serves
them: everything the old server served must be served the same.
"""

import os
import pathlib
import subprocess

import dataset
import mlflow_env
import mlflow_rest
import postgres
import pytest
import snapshot

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPTS = ROOT / "playbooks" / "adopt_bitnami" / "files"
LEGACY = os.environ.get("ADOPT_LEGACY_MLFLOW", "3.3.2")
CURRENT = os.environ.get("ADOPT_CURRENT_MLFLOW", mlflow_env.CURRENT_VERSION)
PG_BIN = os.environ.get("MLFLOW_K8S_PG_BIN", postgres.DEFAULT_BIN)
ADOPT_ID = "ml-team/mlflow"

# Database credentials as awkward as the user ones: they travel through env, libpq and URLs.
SOURCE_DB_USER, SOURCE_DB_PASSWORD = "bn_mlflow", "bn pw %41 'q' \"d\" ü:/@"
TARGET = {
    "TRACKING": ("mlflow", "mlflow", "trk %pw/ü'\"@:"),
    "AUTH": ("mlflow_auth", "mlflow_auth", "auth %pw ß;$(x)"),
}


def _run_script(name, env, path_prefix, check=True):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TARGET_", "SOURCE_", "ADOPT_"))}
    full_env.update(env)
    full_env["PATH"] = "%s:%s" % (path_prefix, os.environ["PATH"])
    proc = subprocess.run(
        ["bash", str(SCRIPTS / name)], env=full_env, capture_output=True, text=True, timeout=600, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (name, proc.returncode, proc.stdout, proc.stderr))
    return proc


class Adoption:
    """State shared by the tests of one adoption run."""

    def __init__(self, work):
        self.work = work
        self.dump_dir = work / "dump"
        self.artifacts = work / "artifacts"
        self.artifacts.mkdir()
        self.source = None
        self.target = None

    def target_env(self, **extra):
        env = {
            "TARGET_HOST": self.target.host,
            "TARGET_PORT": str(self.target.port),
            "DUMP_DIR": str(self.dump_dir),
            "ADOPT_ID": ADOPT_ID,
            "ADOPT_ADMIN_USERNAME": dataset.ADMIN[0],
        }
        for kind, (db, user, password) in TARGET.items():
            env.update(
                {"TARGET_%s_DB" % kind: db, "TARGET_%s_USER" % kind: user, "TARGET_%s_PASSWORD" % kind: password}
            )
        env.update(extra)
        return env

    def source_env(self):
        return {
            "SOURCE_HOST": self.source.host,
            "SOURCE_PORT": str(self.source.port),
            "SOURCE_USER": SOURCE_DB_USER,
            "SOURCE_PASSWORD": SOURCE_DB_PASSWORD,
            "SOURCE_TRACKING_DB": "bitnami_mlflow",
            "SOURCE_AUTH_DB": "bitnami_mlflow_auth",
            "DUMP_DIR": str(self.dump_dir),
        }

    def dump(self):
        return _run_script("adopt-dump.sh", self.source_env(), PG_BIN)

    def restore(self, check=True, **extra):
        return _run_script("adopt-restore.sh", self.target_env(**extra), PG_BIN, check=check)

    def migrate(self, check=True, **extra):
        venv_bin = mlflow_env.ensure_venv(CURRENT) / "bin"
        return _run_script("adopt-migrate.sh", self.target_env(**extra), venv_bin, check=check)

    def target_uri(self, kind):
        db, user, password = TARGET[kind]
        return self.target.dsn(db, user, password)


def _legacy_grants(source):
    """Every legacy grant row in the source auth database: (user, type, id, permission)."""
    rows = source.psql(
        "SELECT u.username, 'experiment', p.experiment_id, p.permission FROM experiment_permissions p "
        "JOIN users u ON u.id = p.user_id UNION ALL "
        "SELECT u.username, 'registered_model', p.name, p.permission FROM registered_model_permissions p "
        "JOIN users u ON u.id = p.user_id",
        database="bitnami_mlflow_auth",
    )
    return sorted(tuple(line.split("|")) for line in rows.splitlines() if line)


def _users(source):
    rows = source.psql("SELECT username, is_admin FROM users", database="bitnami_mlflow_auth")
    return {name: flag == "t" for name, flag in (line.rsplit("|", 1) for line in rows.splitlines() if line)}


def _initialise_like_new_deployment(adoption):
    """What the new deployment's first start leaves: empty MLflow schema and its own admin."""
    code = (
        "import sys\n"
        "from mlflow.db import commands\n"
        "from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore\n"
        "commands.main(args=['upgrade', sys.argv[1]], standalone_mode=False)\n"
        "store = SqlAlchemyStore(); store.init_db(sys.argv[2])\n"
        "store.create_user('admin', 'generated-admin-password-32chars', is_admin=True)\n"
    )
    subprocess.run(
        [
            str(mlflow_env.venv_python(CURRENT)),
            "-c",
            code,
            adoption.target_uri("TRACKING"),
            adoption.target_uri("AUTH"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def adoption(tmp_path_factory):
    state = Adoption(tmp_path_factory.mktemp("adopt"))
    with postgres.postgres_server() as source, postgres.postgres_server() as target:
        state.source, state.target = source, target
        source.create_database("bitnami_mlflow", owner=SOURCE_DB_USER, password=SOURCE_DB_PASSWORD)
        source.create_database("bitnami_mlflow_auth", owner=SOURCE_DB_USER)
        for db, user, password in TARGET.values():
            target.create_database(db, owner=user, password=password)

        with mlflow_env.mlflow_server(
            LEGACY,
            backend_store_uri=source.dsn("bitnami_mlflow", SOURCE_DB_USER, SOURCE_DB_PASSWORD),
            auth_db_uri=source.dsn("bitnami_mlflow_auth", SOURCE_DB_USER, SOURCE_DB_PASSWORD),
            admin_username=dataset.ADMIN[0],
            admin_password=dataset.ADMIN[1],
            default_permission=dataset.DEFAULT_PERMISSION,
            # One worker: with more, first-start auth migrations race and a worker dies
            # ("Worker failed to boot", mlflow#9155) about one start in two here.
            workers=1,
            # 3.3.x basic-auth is broken under uvicorn (mlflow#17324): the chart runs gunicorn.
            server_args=["--gunicorn-opts", "--timeout 120", "--artifacts-destination", str(state.artifacts)],
        ) as old:
            seed_env = dict(
                os.environ, MLFLOW_TRACKING_USERNAME=dataset.ADMIN[0], MLFLOW_TRACKING_PASSWORD=dataset.ADMIN[1]
            )
            seeded = subprocess.run(
                [str(mlflow_env.venv_python(LEGACY)), str(HERE / "seed_legacy.py"), old.url, str(state.work)],
                env=seed_env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert seeded.returncode == 0, seeded.stderr[-4000:] + old.log_tail()
            state.before = snapshot.tracking_snapshot(mlflow_rest.Rest(old.url, *dataset.ADMIN))
        # The old server is stopped before the dump, as the playbook scales it to zero first.
        state.grants = _legacy_grants(source)
        state.users = _users(source)

        _initialise_like_new_deployment(state)
        state.dump()
        state.restore()
        state.migrate()
        with mlflow_env.mlflow_server(
            CURRENT,
            backend_store_uri=state.target_uri("TRACKING"),
            auth_db_uri=state.target_uri("AUTH"),
            admin_username=dataset.ADMIN[0],
            admin_password=dataset.ADMIN[1],
            default_permission=dataset.DEFAULT_PERMISSION,
            server_args=["--artifacts-destination", str(state.artifacts)],
        ) as new:
            state.new = new
            state.admin = mlflow_rest.Rest(new.url, *dataset.ADMIN)
            yield state


def test_legacy_server_held_the_test_data(adoption):
    before = adoption.before
    assert len(before["experiments"]) == 1 + len(dataset.EXPERIMENTS)
    assert len(before["runs"]) == 4
    baseline = next(r for r in before["runs"].values() if r["info"]["run_name"] == "baseline ✓")
    assert len(baseline["metrics"]["loss"]) == 50
    assert set(baseline["artifacts"]) == {"notes/readme notes.txt", "model/weights.bin"}
    assert set(before["models"]) == set(dataset.MODELS)
    assert len(adoption.grants) >= len(dataset.EXPERIMENT_GRANTS) + len(dataset.MODEL_GRANTS)
    assert set(adoption.users) == {dataset.ADMIN[0]} | set(dataset.USERNAMES)


def test_tracking_data_served_unchanged(adoption):
    after = snapshot.tracking_snapshot(adoption.admin)
    assert after["experiments"] == adoption.before["experiments"]
    assert after["models"] == adoption.before["models"]
    assert set(after["runs"]) == set(adoption.before["runs"])
    for run_id, run in adoption.before["runs"].items():
        assert after["runs"][run_id] == run, run_id


@pytest.mark.parametrize("user", sorted(dataset.PASSWORDS))
def test_user_logs_in_with_old_password(adoption, user):
    password = dataset.PASSWORDS[user]
    assert adoption.admin.as_user(user, password).can_log_in()
    assert not adoption.admin.as_user(user, password + "x").can_log_in()


def test_admin_flags_kept(adoption):
    listed = adoption.admin.get("/api/2.0/mlflow/users/list")["users"]
    assert {u["username"]: bool(u["is_admin"]) for u in listed} == adoption.users
    assert adoption.users[dataset.ADMIN2] and adoption.users[dataset.ADMIN[0]]


def _effective(adoption, user, rtype, rid):
    return adoption.admin.get(
        "/api/3.0/mlflow/users/permissions/get", username=user, resource_type=rtype, resource_id=rid
    )


def _want(permission):
    # "allowed" is MLflow's can_use: READ alone does not have it (enforcement of READ is
    # covered by test_permissions_are_enforced).
    return {"permission": permission, "allowed": permission in ("USE", "EDIT", "MANAGE")}


def test_every_legacy_grant_is_the_effective_permission(adoption):
    mismatches = []
    for user, rtype, rid, permission in adoption.grants:
        got = _effective(adoption, user, rtype, rid)
        if adoption.users[user]:
            want = _want("MANAGE")  # admins are not restrictable
        elif permission == "NO_PERMISSIONS":
            want = _want("DENY")
        else:
            want = _want(permission)
        if got != want:
            mismatches.append((user, rtype, rid, permission, got))
    assert not mismatches


def test_ungranted_resources_fall_back_to_the_default(adoption):
    # Without this the grant check above could pass on a server that answers MANAGE for all.
    exp_id = next(e for e, v in adoption.before["experiments"].items() if v["name"] == dataset.EXPERIMENTS["main"][0])
    assert _effective(adoption, dataset.SPACE, "experiment", exp_id) == _want(dataset.DEFAULT_PERMISSION)


def test_direct_grants_are_listed_per_user(adoption):
    for user in (dataset.ZOE, dataset.PERCENT, dataset.LONG):
        rows = adoption.admin.get("/api/3.0/mlflow/users/permissions/list", username=user)["permissions"]
        listed = sorted(
            (r["resource_type"], r["resource_pattern"], r["permission"])
            for r in rows
            if r["role_name"].startswith("__user_")
        )
        legacy = sorted((t, i, "DENY" if p == "NO_PERMISSIONS" else p) for u, t, i, p in adoption.grants if u == user)
        assert listed == legacy, user


def test_permissions_are_enforced(adoption):
    exp_id = next(e for e, v in adoption.before["experiments"].items() if v["name"] == dataset.EXPERIMENTS["main"][0])
    passwords = dataset.PASSWORDS
    zoe = adoption.admin.as_user(dataset.ZOE, passwords[dataset.ZOE])
    assert zoe.get("/api/2.0/mlflow/experiments/get", experiment_id=exp_id)["experiment"]["experiment_id"] == exp_id
    with pytest.raises(mlflow_rest.HttpError) as denied:
        adoption.admin.as_user(dataset.LONG, passwords[dataset.LONG]).get(
            "/api/2.0/mlflow/experiments/get", experiment_id=exp_id
        )
    assert denied.value.status == 403
    with pytest.raises(mlflow_rest.HttpError) as read_only:
        zoe.post("/api/2.0/mlflow/experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "k", "value": "v"})
    assert read_only.value.status == 403


def test_rerun_keeps_the_adopted_databases(adoption):
    restored = adoption.restore()
    assert "already adopted and migrated" in restored.stderr
    adoption.migrate()
    assert snapshot.tracking_snapshot(adoption.admin) == adoption.before


def test_restore_refuses_a_target_holding_other_data(adoption):
    # Without this adoption's comment the target is just a database full of someone's runs.
    adoption.target.psql("COMMENT ON DATABASE mlflow IS NULL")
    refused = adoption.restore(check=False)
    adoption.migrate()  # puts the "migrated" comment back
    assert refused.returncode == 4, refused.stderr
    assert "refusing to overwrite" in refused.stderr
    assert snapshot.tracking_snapshot(adoption.admin) == adoption.before


def test_rotated_admin_password_replaces_the_old_one(adoption):
    admin, old_password = dataset.ADMIN
    adoption.migrate(ADOPT_ADMIN_NEW_PASSWORD="rotated admin pw %ü 2026")
    assert adoption.admin.as_user(admin, "rotated admin pw %ü 2026").can_log_in()
    assert not adoption.admin.as_user(admin, old_password).can_log_in()
