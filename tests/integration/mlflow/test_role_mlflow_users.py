"""The mlflow_users role against real servers: inventory-driven apply, idempotence, check/diff,
validation before any change, pruning, and no secrets at -vvv."""

import json
import socket

import pytest

BRIDGE = "Bridge-Passw0rd-from-oauth2-proxy"
SVC_PW = "svc-Passw0rd-from-vault"
ROLE = [{"name": "apply mlflow_users", "ansible.builtin.include_role": {"name": "mlflow_k8s.platform.mlflow_users"}}]


def _vars(mlflow, **extra):
    data = {
        "mlflow_users_tracking_uri": mlflow.url,
        "mlflow_users_admin_username": mlflow.server.admin_username,
        "mlflow_users_admin_password": mlflow.server.admin_password,
        "mlflow_users_bridge_password": BRIDGE,
        "mlflow_users_admins": ["ola@example.org"],
        "mlflow_users_sso_users": [
            {"email": "ola@example.org"},
            {
                "email": "per@example.org",
                "permissions": [
                    {"experiment_name": "role-exp", "permission": "EDIT"},
                    {"resource_type": "registered_model", "resource_id": "role-model", "permission": "READ"},
                ],
            },
        ],
        "mlflow_users_api_users": [
            {
                "username": "svc-role",
                "password": SVC_PW,
                "permissions": [{"experiment_name": "role-exp", "permission": "MANAGE"}],
            },
        ],
    }
    if mlflow.rbac:
        data["mlflow_users_roles"] = [
            {
                "name": "role-readers",
                "description": "read models",
                "permissions": [{"resource_type": "registered_model", "permission": "READ"}],
            }
        ]
        data["mlflow_users_sso_users"][0]["roles"] = ["role-readers"]
    data.update(extra)
    return data


def _play(mlflow, extra_vars, check=False, diff=False):
    rc, doc = mlflow.ansible.playbook_json(ROLE, extra_vars=extra_vars, check=check, diff=diff)
    return rc, doc, doc["stats"]["localhost"]


def _failure(doc):
    for task in doc["plays"][0]["tasks"]:
        res = task["hosts"].get("localhost", {})
        if res.get("failed"):
            return task["task"]["name"], res.get("msg", "")
    raise AssertionError("no failed task")


def test_role_apply_idempotent_and_check_mode(mlflow):
    data = _vars(mlflow)
    rc, _doc, stats = _play(mlflow, data)
    assert rc == 0 and stats["changed"] == 1 and stats["failures"] == 0
    rc, _doc, stats = _play(mlflow, data)
    assert rc == 0 and stats["changed"] == 0, "second run must change nothing"

    info = {u["username"]: u for u in mlflow.ansible.task("mlflow_user_info", {})["users"]}
    assert info["ola@example.org"]["is_admin"] is True and info["per@example.org"]["is_admin"] is False
    assert mlflow.login_ok("per@example.org", BRIDGE) and mlflow.login_ok("svc-role", SVC_PW)
    assert len(info["per@example.org"]["permissions"]) == 2
    assert mlflow.official_direct_grants("per@example.org") == info["per@example.org"]["permissions"]
    exp_id = next(k for k in info["svc-role"]["permissions"] if k.startswith("experiment:")).split(":")[1]
    assert mlflow.official_permission("svc-role", "experiment", exp_id) == "MANAGE"
    assert mlflow.official_permission("per@example.org", "experiment", exp_id) == "EDIT"
    if mlflow.rbac:
        assert info["ola@example.org"]["roles"] == ["role-readers"]

    changed = _vars(mlflow)
    changed["mlflow_users_sso_users"][1]["permissions"][0]["permission"] = "READ"
    changed["mlflow_users_admins"] = ["ola@example.org", "per@example.org"]
    before = mlflow.db_snapshot()
    rc, doc, stats = _play(mlflow, changed, check=True, diff=True)
    assert rc == 0 and stats["changed"] == 1
    mlflow.assert_unchanged(before, "check mode")
    task = next(
        t
        for t in doc["plays"][0]["tasks"]
        if t["task"]["name"].endswith("Reconcile roles, users, admins and permissions in one call")
    )
    result = task["hosts"]["localhost"]
    # One diff per changed user, headed by the user's name; experiments by name and id.
    diffs = {d["before_header"]: d for d in result["diff"]}
    assert set(diffs) == {"mlflow user per@example.org"}
    per = diffs["mlflow user per@example.org"]
    assert per["after_header"] == "mlflow user per@example.org" and per["after"]["is_admin"] is True
    assert per["before"]["permissions"]["experiment 'role-exp' (id %s)" % exp_id] == "EDIT"
    assert per["after"]["permissions"] == {
        "experiment 'role-exp' (id %s)" % exp_id: "READ",
        "registered_model 'role-model'": "READ",
    }
    text = json.dumps(doc)
    assert BRIDGE not in text and SVC_PW not in text and mlflow.server.admin_password not in text
    rc, _doc, stats = _play(mlflow, changed)
    assert rc == 0 and stats["changed"] == 1
    assert mlflow.official_direct_grants("per@example.org") == {
        "experiment:%s" % exp_id: "READ",
        "registered_model:role-model": "READ",
    }
    assert mlflow.official_user("per@example.org")["is_admin"] is True


def _sso(*entries):
    """mlflow_users_sso_users of the base inventory followed by ``entries``."""
    return [{"email": "ola@example.org"}, *entries]


def _perm_user(*permissions, email="lvl@example.org"):
    return {"mlflow_users_sso_users": _sso({"email": email, "permissions": list(permissions)})}


# Every input the role refuses: (case id, build(mlflow, ctx) -> (variables to override, the
# message it must fail with)). Each message names the variable and the entry (index and name).
# A case whose input only some MLflow versions refuse gives each version an input it refuses.
REFUSED = [
    # The role's own checks, before any request to MLflow or Kubernetes.
    (
        "url",
        lambda m, c: (
            {"mlflow_users_tracking_uri": "mlflow:5000"},
            "mlflow_users_tracking_uri must be the http(s):// URL",
        ),
    ),
    (
        "no-admin-credentials",
        lambda m, c: (
            {"mlflow_users_admin_password": ""},
            "Set mlflow_users_admin_username and mlflow_users_admin_password, or mlflow_users_admin_secret",
        ),
    ),
    (
        "no-bridge-password",
        lambda m, c: (
            {"mlflow_users_bridge_password": ""},
            "mlflow_users_sso_users needs mlflow_users_bridge_password or mlflow_users_bridge_secret",
        ),
    ),
    (
        "admins-string",
        lambda m, c: (
            {"mlflow_users_admins": "ola@example.org"},
            "mlflow_users_admins: must be a list of user names, got the string 'ola@example.org'",
        ),
    ),
    (
        "protected-users-string",
        lambda m, c: (
            {"mlflow_users_protected_users": "svc-*"},
            "mlflow_users_protected_users: must be a list of user names or patterns, got the string 'svc-*'",
        ),
    ),
    (
        "sso-users-key-value-string",
        lambda m, c: (
            {"mlflow_users_sso_users": "email=ola@example.org"},
            "mlflow_users_sso_users: must be a list of mappings, got a string",
        ),
    ),
    (
        "sso-users-mapping",
        lambda m, c: (
            {"mlflow_users_sso_users": {"email": "ola@example.org"}},
            "argument 'mlflow_users_sso_users' is of type dict and we were unable to convert to list",
        ),
    ),
    (
        "user-roles-string",
        lambda m, c: (
            {"mlflow_users_sso_users": _sso({"email": "rl@example.org", "roles": "role-readers"})},
            "mlflow_users_sso_users[1] (rl@example.org).roles: must be a list of role names, "
            "got the string 'role-readers'",
        ),
    ),
    (
        "no-email",
        lambda m, c: (
            {"mlflow_users_sso_users": _sso({"permissions": []})},
            "mlflow_users_sso_users[1]: email is missing",
        ),
    ),
    (
        "not-an-email",
        lambda m, c: (
            {"mlflow_users_sso_users": _sso({"email": "not-an-email"})},
            "mlflow_users_sso_users[1] (not-an-email): email is not an e-mail address",
        ),
    ),
    (
        "sso-unknown-key",
        lambda m, c: (
            {"mlflow_users_sso_users": _sso({"email": "pw@example.org", "password": "sso-Passw0rd-own"})},
            "mlflow_users_sso_users[1] (pw@example.org): unknown key 'password'; "
            "SSO users take email, permissions, roles",
        ),
    ),
    (
        "api-no-username",
        lambda m, c: (
            {"mlflow_users_api_users": [{"password": SVC_PW}]},
            "mlflow_users_api_users[0]: username is missing",
        ),
    ),
    (
        "short-password",
        lambda m, c: (
            {"mlflow_users_api_users": [{"username": "svc-short", "password": "short-pw"}]},
            "mlflow_users_api_users[0] (svc-short): password must be at least 12 characters long",
        ),
    ),
    (
        "former-default-password",
        lambda m, c: (
            {"mlflow_users_api_users": [{"username": "svc-default", "password": "password1234"}]},
            "mlflow_users_api_users[0] (svc-default): password must not be MLflow's former default admin password",
        ),
    ),
    (
        "api-is-admin-key",
        lambda m, c: (
            {"mlflow_users_api_users": [{"username": "svc-adm", "password": SVC_PW, "is_admin": True}]},
            "mlflow_users_api_users[0] (svc-adm): unknown key 'is_admin'; API users take username, password, "
            "permissions, roles (admins are listed in mlflow_users_admins)",
        ),
    ),
    (
        "duplicate-user",
        lambda m, c: (
            {
                "mlflow_users_sso_users": _sso({"email": "dup@example.org"}),
                "mlflow_users_api_users": [{"username": "dup@example.org", "password": SVC_PW}],
            },
            "mlflow_users_api_users[0] (dup@example.org): the same user as mlflow_users_sso_users[1]",
        ),
    ),
    (
        "unknown-admin",
        lambda m, c: (
            {"mlflow_users_admins": ["ola@example.org", "ghost@example.org"]},
            "mlflow_users_admins[1] (ghost@example.org): "
            "is in neither mlflow_users_sso_users nor mlflow_users_api_users",
        ),
    ),
    (
        "level-WRITE",
        lambda m, c: (
            _perm_user({"resource_id": "1", "permission": "WRITE"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: unknown permission level 'WRITE'; "
            "use one of READ, USE, EDIT, MANAGE, DENY",
        ),
    ),
    (
        "level-lower-case",
        lambda m, c: (
            _perm_user({"experiment_name": "role-exp", "permission": "edit"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: unknown permission level 'edit'; "
            "use one of READ, USE, EDIT, MANAGE, DENY (upper case: EDIT)",
        ),
    ),
    (
        "role-level-WRITE",
        lambda m, c: (
            {
                "mlflow_users_roles": [
                    {"name": "writers", "permissions": [{"resource_type": "experiment", "permission": "WRITE"}]}
                ]
            },
            "mlflow_users_roles[0] (writers).permissions[0]: unknown permission level 'WRITE'; "
            "use one of READ, USE, EDIT, MANAGE, DENY",
        ),
    ),
    (
        "role-twice",
        lambda m, c: (
            {"mlflow_users_roles": [{"name": "twice"}, {"name": "twice", "description": "again"}]},
            "mlflow_users_roles[1] (twice): the same role as mlflow_users_roles[0]",
        ),
    ),
    (
        "permissions-mapping",
        lambda m, c: (
            {
                "mlflow_users_sso_users": _sso(
                    {"email": "map@example.org", "permissions": {"experiment_name": "role-exp", "permission": "EDIT"}}
                )
            },
            "mlflow_users_sso_users[1] (map@example.org).permissions: must be a list of permissions, got a mapping",
        ),
    ),
    (
        "permission-string",
        lambda m, c: (
            _perm_user("role-exp"),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: must be a mapping, got the string 'role-exp'",
        ),
    ),
    (
        "permission-unknown-key",
        lambda m, c: (
            _perm_user({"experiment_name": "role-exp", "level": "EDIT"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: unknown key 'level'; permissions take "
            "resource_type, resource_id, experiment_name, permission",
        ),
    ),
    (
        "id-and-name",
        lambda m, c: (
            _perm_user({"resource_id": "1", "experiment_name": "role-exp", "permission": "READ"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: "
            "give exactly one of resource_id or experiment_name",
        ),
    ),
    (
        "experiment-name-on-model",
        lambda m, c: (
            _perm_user({"resource_type": "registered_model", "experiment_name": "role-exp", "permission": "READ"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: "
            "experiment_name only applies to resource_type experiment",
        ),
    ),
    (
        "same-experiment-twice",
        lambda m, c: (
            _perm_user(
                {"experiment_name": "fresh-twice", "permission": "EDIT"},
                {"experiment_name": "fresh-twice", "permission": "READ"},
            ),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[1]: experiment 'fresh-twice' is also in "
            "permissions[0], with permission EDIT (here READ)",
        ),
    ),
    # Connection and login: checked first, named by the variable the value came from.
    (
        "unreachable",
        lambda m, c: (
            {"mlflow_users_tracking_uri": c["closed_url"]},
            "Cannot connect to MLflow at %s: [Errno 111] Connection refused. Check mlflow_users_tracking_uri "
            "and that the server is running." % c["closed_url"],
        ),
    ),
    (
        "wrong-admin-password",
        lambda m, c: (
            {"mlflow_users_admin_password": "not-the-admin-Passw0rd"},
            "MLflow rejected the login of user 'admin' (HTTP 401): wrong "
            "mlflow_users_admin_username/mlflow_users_admin_password",
        ),
    ),
    # The module's checks against the server, before its first write.
    (
        "new-user-without-password",
        lambda m, c: (
            {
                "mlflow_users_api_users": [
                    {"username": "svc-never-created", "permissions": [{"experiment_name": "never-created-exp"}]}
                ]
            },
            "mlflow_users_api_users[0] (svc-never-created): does not exist and has no password to create it with",
        ),
    ),
    (
        "same-experiment-by-name-and-id",
        lambda m, c: (
            _perm_user(
                {"experiment_name": "role-exp", "permission": "EDIT"},
                {"resource_id": c["exp_id"], "permission": "READ"},
                {"experiment_name": "fresh-by-name-and-id"},
            ),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[1]: experiment 'role-exp' (id %s) is also in "
            "permissions[0], with permission EDIT (here READ)" % c["exp_id"],
        ),
    ),
    (
        "missing-experiment",
        lambda m, c: (
            dict(_perm_user({"experiment_name": "never-there"}), mlflow_users_create_experiments=False),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: experiment 'never-there' does not exist "
            "(set mlflow_users_create_experiments to create it)",
        ),
    ),
    (
        "deleted-experiment",
        lambda m, c: (
            _perm_user({"experiment_name": "fresh-next-to-deleted"}, {"experiment_name": c["deleted_experiment"]}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[1]: experiment '%s' is deleted"
            % c["deleted_experiment"],
        ),
    ),
    (
        "login-user-demoted",
        lambda m, c: (
            {"mlflow_users_api_users": [{"username": m.server.admin_username}]},
            "mlflow_users_api_users[0] (%s): is the user this run logs in as (mlflow_users_admin_username); "
            "list it in mlflow_users_admins" % m.server.admin_username,
        ),
    ),
    (
        "unknown-resource-type",
        lambda m, c: (
            _perm_user({"resource_type": "experiments", "resource_id": "1"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: Unknown resource type 'experiments'",
        ),
    ),
    (
        "resource-type-too-new",
        lambda m, c: (
            _perm_user({"resource_type": "skill" if m.rbac else "prompt", "resource_id": "s1"}),
            "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: Resource type '%s' needs MLflow >= %s"
            % (("skill", "3.18.0") if m.rbac else ("prompt", "3.13.0")),
        ),
    ),
    (
        "grant-the-server-cannot-hold",
        lambda m, c: (
            (
                _perm_user({"resource_type": "run", "resource_id": "r1"}, {"experiment_name": "fresh-run-grant"}),
                "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: resource type 'run' takes only "
                "resource_id '*'",
            )
            if m.rbac
            else (
                _perm_user({"resource_id": "*"}, {"experiment_name": "fresh-star-grant"}),
                "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: the pattern '*' needs MLflow >= 3.13",
            )
        ),
    ),
    (
        "level-too-new-or-workspace-READ",
        lambda m, c: (
            (
                {
                    "mlflow_users_roles": [
                        {"name": "ws-readers", "permissions": [{"resource_type": "workspace", "permission": "READ"}]}
                    ]
                },
                "mlflow_users_roles[0] (ws-readers).permissions[0]: workspace grants take only USE or MANAGE, not READ",
            )
            if m.rbac
            else (
                _perm_user({"experiment_name": "fresh-deny", "permission": "DENY"}),
                "mlflow_users_sso_users[1] (lvl@example.org).permissions[0]: Permission DENY needs MLflow >= 3.17.0",
            )
        ),
    ),
    (
        "role-too-new-or-unknown-key",
        lambda m, c: (
            (
                {"mlflow_users_roles": [{"name": "keyed", "members": ["ola@example.org"]}]},
                "mlflow_users_roles[0] (keyed): unknown key 'members'; roles take name, description, permissions, "
                "exclusive_permissions",
            )
            if m.rbac
            else (
                {"mlflow_users_roles": [{"name": "too-new"}]},
                "mlflow_users_roles[0] (too-new): roles need MLflow >= 3.13.0; the server runs 3.12.0.",
            )
        ),
    ),
    (
        "roles-unknown-or-too-new",
        lambda m, c: (
            (
                {"mlflow_users_sso_users": _sso({"email": "rl@example.org", "roles": ["ghost-role"]})},
                "mlflow_users_sso_users[1] (rl@example.org).roles[0]: role 'ghost-role' does not exist in "
                "workspace 'default' and is not in mlflow_users_roles",
            )
            if m.rbac
            else (
                {"mlflow_users_sso_users": _sso({"email": "rl@example.org", "roles": ["role-readers"]})},
                "mlflow_users_sso_users[1] (rl@example.org).roles: role membership needs MLflow >= 3.13.0",
            )
        ),
    ),
]


@pytest.fixture(scope="module")
def refusal_ctx(mlflow):
    """The base inventory applied, an experiment id, a deleted experiment, a closed port."""
    rc, _doc, _stats = _play(mlflow, _vars(mlflow))
    assert rc == 0
    info = {u["username"]: u for u in mlflow.ansible.task("mlflow_user_info", {})["users"]}
    exp_id = next(k for k in info["svc-role"]["permissions"] if k.startswith("experiment:")).split(":")[1]
    deleted = mlflow.official(
        "from mlflow import MlflowClient\n"
        "c = MlflowClient(client.tracking_uri)\n"
        "eid = c.create_experiment('role-deleted-exp')\n"
        "c.delete_experiment(eid)\n"
        "print(json.dumps(c.get_experiment(eid).name))"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    return {"exp_id": exp_id, "deleted_experiment": deleted, "closed_url": closed_url}


@pytest.fixture(scope="module")
def refused_runs(mlflow, refusal_ctx):
    """Every REFUSED case as a run of its own, all in one ansible-playbook (a host per case), and
    the databases compared byte for byte before and after them."""
    cases = {case_id: build(mlflow, refusal_ctx) for case_id, build in REFUSED}
    before = mlflow.db_snapshot()
    rc, doc = mlflow.ansible.playbook_json_hosts(
        ROLE, {cid: _vars(mlflow, **extra) for cid, (extra, _msg) in cases.items()}
    )
    mlflow.assert_unchanged(before, "the refused runs (%s)" % ", ".join(cases))
    assert rc != 0
    return cases, doc


def _host_failure(doc, host):
    for task in doc["plays"][0]["tasks"]:
        res = task["hosts"].get(host, {})
        if res.get("failed"):
            return res
    raise AssertionError("%s: no failed task" % host)


@pytest.mark.parametrize("case_id", [c[0] for c in REFUSED])
def test_role_refuses_bad_input_and_changes_nothing(mlflow, refused_runs, case_id):
    cases, doc = refused_runs
    extra, message = cases[case_id]
    assert doc["stats"][case_id]["failures"] == 1, doc["stats"][case_id]
    msg = _host_failure(doc, case_id).get("msg", "")
    text = msg if isinstance(msg, str) else "\n".join(msg)
    assert message in text, (extra, msg)
    # Neither password nor bridge password in any result of this run.
    dumped = json.dumps([task["hosts"].get(case_id) for task in doc["plays"][0]["tasks"]])
    for secret in (BRIDGE, SVC_PW, mlflow.server.admin_password, "sso-Passw0rd-own"):
        assert secret not in dumped


def test_role_prunes_unmanaged_users(mlflow):
    mlflow.ansible.task("mlflow_user", {"username": "stray@example.org", "password": SVC_PW})
    mlflow.ansible.task("mlflow_user", {"username": "svc-legacy", "password": SVC_PW})
    everyone = [u["username"] for u in mlflow.ansible.task("mlflow_user_info", {})["users"]]
    managed = {"ola@example.org", "per@example.org", "svc-role"}
    protected = [n for n in everyone if n not in managed and n != "stray@example.org" and not n.startswith("svc-")]
    data = _vars(mlflow, mlflow_users_prune=True, mlflow_users_protected_users=[*protected, "svc-*"])
    before = mlflow.db_snapshot()
    rc, _doc, stats = _play(mlflow, data, check=True)
    assert rc == 0 and stats["changed"] == 1
    mlflow.assert_unchanged(before, "the run")
    rc, _doc, stats = _play(mlflow, data)
    assert rc == 0 and stats["changed"] == 1
    assert mlflow.official_user("stray@example.org") is None
    assert mlflow.official_user("svc-legacy") is not None
    rc, _doc, stats = _play(mlflow, data)
    assert rc == 0 and stats["changed"] == 0


def test_api_user_listed_without_password_keeps_its_own(mlflow):
    # After an adoption only MLflow knows an API user's password. Listing the user without one,
    # even with update_password=always and a bridge password at hand, must leave it alone.
    rc, _doc, _stats = _play(mlflow, _vars(mlflow))
    assert rc == 0
    data = _vars(mlflow, mlflow_users_update_password="always")
    del data["mlflow_users_api_users"][0]["password"]
    rc, _doc, stats = _play(mlflow, data)
    assert rc == 0 and stats["changed"] == 0
    assert mlflow.login_ok("svc-role", SVC_PW) and not mlflow.login_ok("svc-role", BRIDGE)


def test_role_vvv_prints_no_secret(mlflow):
    data = _vars(mlflow, mlflow_users_update_password="always")
    rc, out = mlflow.ansible.playbook_text(ROLE, ["-vvv", "--diff"], extra_vars=data)
    assert rc == 0, out[-3000:]
    for secret in (BRIDGE, SVC_PW, mlflow.server.admin_password):
        assert secret not in out
    # A failing validation names the user, never the rejected password.
    weak = "weak-pw-9"
    bad = _vars(mlflow, mlflow_users_api_users=[{"username": "svc-weak", "password": weak}])
    rc, out = mlflow.ansible.playbook_text(ROLE, ["-vvv"], extra_vars=bad)
    assert rc != 0 and "mlflow_users_api_users[0] (svc-weak): password must be at least 12 characters long" in out
    for secret in (weak, BRIDGE, mlflow.server.admin_password):
        assert secret not in out


def test_login_errors_name_the_admin_secret(mlflow):
    # The role reads the admin login from its Secret when mlflow_users_admin_password is empty;
    # a rejected login then names that Secret. Reading a Secret needs a cluster, so the role's
    # names are taken as the role computes them and handed to the module with a wrong password.
    tasks = [
        {
            "name": "the role's variables",
            "ansible.builtin.include_role": {
                "name": "mlflow_k8s.platform.mlflow_users",
                "tasks_from": "validate.yml",
                "public": True,
            },
        },
        {
            "name": "log in with a wrong password",
            "mlflow_k8s.platform.mlflow_access": {
                "auth_password": "not-the-admin-Passw0rd",
                "option_names": "{{ _mlflow_users_option_names }}",
                "users": [],
            },
        },
    ]
    extra = {
        "mlflow_users_tracking_uri": mlflow.url,
        "mlflow_users_namespace": "ml-prod",
        "mlflow_users_admin_secret": "mlflow-admin",
    }
    rc, doc = mlflow.ansible.playbook_json(tasks, extra_vars=extra)
    assert rc != 0
    _task, msg = _failure(doc)
    assert msg.startswith(
        "MLflow rejected the login of user 'admin' (HTTP 401): wrong credentials in Secret ml-prod/mlflow-admin "
        "(mlflow_users_admin_secret), or"
    ), msg


def test_role_diff_names_the_user_in_every_hunk(mlflow):
    rc, _doc, _stats = _play(mlflow, _vars(mlflow))
    assert rc == 0
    changed = _vars(mlflow)
    changed["mlflow_users_sso_users"][1]["permissions"][0]["permission"] = "MANAGE"
    rc, out = mlflow.ansible.playbook_text(ROLE, ["--check", "--diff"], extra_vars=changed)
    assert rc == 0, out[-3000:]
    hunk = out[out.index("--- before: mlflow user per@example.org\n+++ after: mlflow user per@example.org\n@@") :]
    changed = [line for line in hunk.splitlines() if line[:1] in "+-" and "experiment" in line]
    assert [line[0] for line in changed] == ["-", "+"], hunk
    assert "experiment 'role-exp' (id " in changed[0] and "EDIT" in changed[0], hunk
    assert "experiment 'role-exp' (id " in changed[1] and "MANAGE" in changed[1], hunk
    for secret in (BRIDGE, SVC_PW, mlflow.server.admin_password):
        assert secret not in out
