"""The adoption data path, end to end with real programs.

A PostgreSQL server stands in for the Bitnami subchart: a tracking and an auth database
written by a real MLflow 3.3.x basic-auth server (the version the chart ships). They are
dumped and restored by the very scripts the adoption Job runs
(playbooks/adopt_bitnami/files), into a second PostgreSQL server laid out like the one
postgres_mlflow manages (one owner per database) and already initialised by the current
MLflow, as the new deployment leaves it. The current MLflow migrates them, then serves
them: everything the old server served must be served the same.
"""

import json
import os
import pathlib
import subprocess

import dataset
import mlflow_env
import mlflow_rest
import postgres
import pytest
import snapshot
import yaml

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


# ---------------------------------------------------------------- take-over of the users
# After the adoption the mlflow_users role manages these users: its first run, with the same
# users in inventory, must change nothing - no password reset, no grant rewritten, no admin
# flag flipped.


def _ansible(adoption, playbook, extra_vars, *args):
    """ansible-playbook from the collection root with the json callback: (rc, doc, stdout)."""
    vars_file = adoption.work / ("vars-%d.json" % len(list(adoption.work.glob("vars-*.json"))))
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env.update({"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOCALHOST_WARNING": "0"})
    proc = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook), "-e", "@%s" % vars_file, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    try:
        doc = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(
            "ansible-playbook rc=%d:\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr)
        ) from exc
    return proc.returncode, doc, proc.stdout


def _connection(adoption):
    return {
        "mlflow_users_tracking_uri": adoption.new.url,
        "mlflow_users_admin_username": dataset.ADMIN[0],
        "mlflow_users_admin_password": dataset.ADMIN[1],
        "mlflow_users_bridge_password": dataset.BRIDGE_PASSWORD,
    }


def _run_role(adoption, users_vars, *args, **extra):
    playbook = adoption.work / "mlflow_users.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n"
        "  vars: {ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        "  roles: [mlflow_k8s.platform.mlflow_users]\n",
        encoding="utf-8",
    )
    rc, doc, out = _ansible(adoption, playbook, {**_connection(adoption), **users_vars, **extra}, *args)
    assert rc == 0, out[-4000:]
    return doc["stats"]["localhost"]["changed"], doc


def _by_hand(adoption):
    """The inventory an operator writes from what they know of the old install."""
    exp_ids = {
        key: next(e for e, v in adoption.before["experiments"].items() if v["name"] == name)
        for key, (name, _creator) in dataset.EXPERIMENTS.items()
    }
    grants = {}
    # The old server gave the creator of an experiment MANAGE on it.
    creators = [(key, creator, "MANAGE") for key, (_n, creator) in dataset.EXPERIMENTS.items() if creator != "admin"]
    for key, user, level in dataset.EXPERIMENT_GRANTS + creators:
        grants.setdefault(user, []).append(
            {
                "experiment_name": dataset.EXPERIMENTS[key][0],
                "permission": "DENY" if level == "NO_PERMISSIONS" else level,
            }
        )
    for name, user, level in dataset.MODEL_GRANTS:
        grants.setdefault(user, []).append(
            {
                "resource_type": "registered_model",
                "resource_id": name,
                "permission": "DENY" if level == "NO_PERMISSIONS" else level,
            }
        )
    api = [name for name, _pw, _admin in dataset.USERS if name not in dataset.SSO_USERS]
    return {
        "mlflow_users_admins": [dataset.ADMIN2],
        "mlflow_users_sso_users": [{"email": n, "permissions": grants.get(n, [])} for n in dataset.SSO_USERS],
        "mlflow_users_api_users": [
            {"username": n, "password": dataset.PASSWORDS[n], "permissions": grants.get(n, [])} for n in api
        ],
    }, exp_ids


def test_takeover_inventory_written_by_hand_changes_nothing(adoption):
    inventory, _ids = _by_hand(adoption)
    # "always" also logs every user in with the inventory password: the SSO users with the
    # old bridge password, the API users with their own.
    changed, _doc = _run_role(adoption, inventory, mlflow_users_update_password="always")
    assert changed == 0
    # The same comparison can fail: one grant different is one change (check mode, no write).
    inventory["mlflow_users_sso_users"][0]["permissions"][0]["permission"] = "EDIT"
    changed, doc = _run_role(adoption, inventory, "--check", "--diff")
    assert changed == 1
    reconcile = next(t for t in doc["plays"][0]["tasks"] if t["task"]["name"].endswith("in one call"))
    assert [d["before_header"] for d in reconcile["hosts"]["localhost"]["diff"]] == ["mlflow user %s" % dataset.ADA]


class _UnsafeLoader(yaml.SafeLoader):
    """Reads Ansible's !unsafe tag as the plain string it marks."""


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def test_takeover_export_writes_what_the_server_holds(adoption):
    path = adoption.work / "adopted-users.yml"
    export_vars = {
        "mlflow_k8s_users_tracking_uri": adoption.new.url,
        "mlflow_users_admin_username": dataset.ADMIN[0],
        "mlflow_users_admin_password": dataset.ADMIN[1],
        "mlflow_users_bridge_password": dataset.BRIDGE_PASSWORD,
        "export_mlflow_users_path": str(path),
    }
    rc, doc, out = _ansible(adoption, ROOT / "playbooks" / "export_mlflow_users.yml", export_vars)
    assert rc == 0, out[-4000:]
    for secret in dataset.PASSWORDS.values():
        assert secret not in out and json.dumps(secret)[1:-1] not in out
    text = path.read_text(encoding="utf-8")
    assert text.count("!unsafe") >= len(dataset.USERS), "user-chosen values must not be templated by Ansible"
    exported = yaml.load(text, Loader=_UnsafeLoader)  # noqa: S506 - a SafeLoader subclass

    inventory, exp_ids = _by_hand(adoption)
    names = {name: exp_ids[key] for key, (name, _creator) in dataset.EXPERIMENTS.items()}

    def grants(entries):
        out = set()
        for g in entries:
            if "experiment_name" in g:
                out.add(("experiment", names[g["experiment_name"]], g["permission"]))
            else:
                out.add((g.get("resource_type", "experiment"), g["resource_id"], g["permission"]))
        return out

    def users(data, key_sso="email"):
        got = {u[key_sso]: grants(u.get("permissions", [])) for u in data["mlflow_users_sso_users"]}
        got.update({u["username"]: grants(u.get("permissions", [])) for u in data["mlflow_users_api_users"]})
        return got

    assert sorted(exported["mlflow_users_admins"]) == [dataset.ADMIN2]
    assert sorted(u["email"] for u in exported["mlflow_users_sso_users"]) == sorted(dataset.SSO_USERS)
    assert all("password" not in u for u in exported["mlflow_users_api_users"])
    assert users(exported) == users(inventory)

    # The file itself, as the inventory would load it.
    changed, _doc = _run_role(adoption, {}, "-e", "@%s" % path, mlflow_users_update_password="always")
    assert changed == 0
    # Exporting again rewrites nothing.
    rc, doc, out = _ansible(adoption, ROOT / "playbooks" / "export_mlflow_users.yml", export_vars)
    assert rc == 0 and doc["stats"]["localhost"]["changed"] == 0, out[-3000:]


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
