"""Real PostgreSQL + real MLflow basic-auth servers (one current, one legacy) for the module tests."""

import base64
import contextlib
import difflib
import importlib
import json
import os
import pathlib
import subprocess
import sys
import urllib.parse

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "lib"))

mlflow_env = importlib.import_module("mlflow_env")
postgres = importlib.import_module("postgres")
AnsibleRunner = importlib.import_module("ansible_runner").AnsibleRunner

VERSIONS = [
    os.environ.get("MLFLOW_TEST_CURRENT_VERSION", mlflow_env.CURRENT_VERSION),
    os.environ.get("MLFLOW_TEST_LEGACY_VERSION", mlflow_env.LEGACY_VERSION),
]
ADMIN_PASSWORD = "Adm1n-pass-%s-never-logged"
# Runs in the MLflow virtualenv: executes one JSON-encoded code string per stdin line against
# the official AuthServiceClient and answers with one JSON line.
OFFICIAL_LOOP = """
import contextlib, io, json, sys, traceback
from mlflow.server.auth.client import AuthServiceClient
client = AuthServiceClient(sys.argv[1])
for line in sys.stdin:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(json.loads(line), {"client": client, "json": json})
        answer = {"ok": True, "out": buf.getvalue()}
    except Exception:
        answer = {"ok": False, "error": traceback.format_exc()}
    sys.stdout.write(json.dumps(answer) + "\\n")
    sys.stdout.flush()
"""


class Mlflow:
    """One running server plus helpers to drive and inspect it."""

    def __init__(self, server, pg, auth_db, tracking_db):
        self.server = server
        self.version = server.version
        self.url = server.url
        self.pg = pg
        self.auth_db = auth_db
        self.tracking_db = tracking_db
        self.rbac = tuple(int(p) for p in self.version.split(".")[:2]) >= (3, 13)
        self.connection = {
            "tracking_uri": self.url,
            "auth_username": server.admin_username,
            "auth_password": server.admin_password,
        }
        self.ansible = AnsibleRunner(REPO, self.connection)
        self._official = None

    def runner(self, **connection):
        conn = dict(self.connection)
        conn.update(connection)
        return AnsibleRunner(REPO, conn)

    def db_snapshot(self):
        """pg_dump of the auth and the tracking database (schema, every row, sequence values),
        taken with PostgreSQL's own tools, independent of our client and of MLflow. Two equal
        snapshots mean the server's databases are byte-for-byte unchanged."""
        return {"auth": self.pg.dump(self.auth_db), "tracking": self.pg.dump(self.tracking_db)}

    def assert_unchanged(self, before, what):
        """Fail with a diff of the dumps when a database changed since ``before``."""
        after = self.db_snapshot()
        for name in ("auth", "tracking"):
            if after[name] != before[name]:
                diff = difflib.unified_diff(
                    before[name].splitlines(), after[name].splitlines(), "before", "after", lineterm="", n=1
                )
                raise AssertionError(
                    "%s changed the %s database of MLflow %s:\n%s" % (what, name, self.version, "\n".join(diff))
                )

    def official(self, code):
        """Run ``code`` with ``client = AuthServiceClient(url)`` (admin credentials) in the server's
        virtualenv and return the JSON it prints last. One long-lived interpreter per server, so
        MLflow is imported once."""
        if self._official is None:
            env = dict(os.environ)
            env.update(
                {
                    "MLFLOW_TRACKING_USERNAME": self.server.admin_username,
                    "MLFLOW_TRACKING_PASSWORD": self.server.admin_password,
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                }
            )
            self._official = subprocess.Popen(
                [str(mlflow_env.venv_python(self.version)), "-u", "-c", OFFICIAL_LOOP, self.url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        self._official.stdin.write(json.dumps(code) + "\n")
        self._official.stdin.flush()
        answer = json.loads(self._official.stdout.readline())
        if not answer["ok"]:
            raise AssertionError("AuthServiceClient code failed:\n%s\n%s" % (code, answer["error"]))
        return json.loads(answer["out"].strip().splitlines()[-1])

    def close(self):
        if self._official is not None:
            self._official.stdin.close()
            self._official.wait(timeout=30)

    def official_user(self, username):
        """AuthServiceClient.get_user as a dict (None when absent)."""
        return self.official(
            "from mlflow.exceptions import RestException\n"
            "try:\n    u = client.get_user(%r)\n"
            "    print(json.dumps({'id': u.id, 'username': u.username, 'is_admin': u.is_admin,\n"
            "        'experiment_permissions': sorted([[p.experiment_id, p.permission] for p in "
            "getattr(u, 'experiment_permissions', []) or []]),\n"
            "        'registered_model_permissions': sorted([[p.name, p.permission] for p in "
            "getattr(u, 'registered_model_permissions', []) or []])}))\n"
            "except RestException as exc:\n"
            "    print(json.dumps(None if exc.error_code == 'RESOURCE_DOES_NOT_EXIST' else str(exc)))\n" % username
        )

    def official_permission(self, username, resource_type, resource_id):
        """The permission MLflow reports for a user on a resource (direct on legacy, effective on 3.13+)."""
        if self.rbac:
            return self.official(
                "r = client.get_user_permission(%r, %r, %r)\nprint(json.dumps(r.permission))"
                % (username, resource_type, resource_id)
            )
        method = "get_experiment_permission" if resource_type == "experiment" else "get_registered_model_permission"
        return self.official(
            "from mlflow.exceptions import RestException\n"
            "try:\n    print(json.dumps(client.%s(%r, %r).permission))\n"
            "except RestException as exc:\n    print(json.dumps(None))\n" % (method, resource_id, username)
        )

    def official_direct_grants(self, username):
        """Direct grants as the official client reports them: {"type:id": level}."""
        if self.rbac:
            return self.official(
                "out = {}\n"
                "for role in client.list_user_roles(%r):\n"
                "    if role.name.startswith('__user_') and role.workspace == 'default':\n"
                "        for p in client.list_role_permissions(role.id):\n"
                "            out['%%s:%%s' %% (p.resource_type, p.resource_pattern)] = p.permission\n"
                "print(json.dumps(out))" % username
            )
        user = self.official_user(username)
        grants = dict(("experiment:%s" % i, p) for i, p in user["experiment_permissions"])
        grants.update(("registered_model:%s" % n, p) for n, p in user["registered_model_permissions"])
        return grants

    def login_ok(self, username, password):
        """True when username/password can log in (GET users/get as that user)."""
        token = base64.b64encode(("%s:%s" % (username, password)).encode()).decode()
        status, body = mlflow_env.http_get(
            self.url + "/api/2.0/mlflow/users/get?" + urllib.parse.urlencode({"username": username}),
            headers={"Authorization": "Basic " + token},
        )
        if status in (200, 401):
            return status == 200
        raise AssertionError("unexpected HTTP %s from users/get: %r" % (status, body[:300]))


@pytest.fixture(scope="session")
def pg():
    with postgres.postgres_server() as server:
        yield server


@pytest.fixture(scope="session", params=VERSIONS)
def mlflow(request, pg):
    version = request.param
    key = "v" + version.replace(".", "_")
    tracking = pg.create_database("mlflow_" + key, "mlflow_" + key, "tracking-%s-pw" % key)
    auth = pg.create_database("mlflow_auth_" + key, "mlflow_auth_" + key, "auth-%s-pw" % key)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            mlflow_env.mlflow_server(
                version,
                backend_store_uri=tracking,
                auth_db_uri=auth,
                admin_password=ADMIN_PASSWORD % key,
                # Only 127.0.0.1 is allowed, so a request for "localhost" shows the Invalid Host header error.
                server_args=["--allowed-hosts", "127.0.0.1:*,127.0.0.1"],
            )
        )
        handle = Mlflow(server, pg, "mlflow_auth_" + key, "mlflow_" + key)
        try:
            yield handle
        finally:
            handle.close()
