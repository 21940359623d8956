"""The mlflow_users role against real servers: inventory-driven apply, idempotence, check/diff,
validation before any change, pruning, and no secrets at -vvv."""

import json

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
    assert mlflow.db_snapshot() == before, "check mode wrote to the auth database"
    task = next(
        t
        for t in doc["plays"][0]["tasks"]
        if t["task"]["name"].endswith("Reconcile roles, users, admins and permissions in one call")
    )
    result = task["hosts"]["localhost"]
    assert result["diff"]["after"]["per@example.org"]["is_admin"] is True
    assert result["diff"]["after"]["per@example.org"]["permissions"]["experiment:%s" % exp_id] == "READ"
    assert result["diff"]["before"]["per@example.org"]["permissions"]["experiment:%s" % exp_id] == "EDIT"
    text = json.dumps(doc)
    assert BRIDGE not in text and SVC_PW not in text and mlflow.server.admin_password not in text
    rc, _doc, stats = _play(mlflow, changed)
    assert rc == 0 and stats["changed"] == 1
    assert mlflow.official_direct_grants("per@example.org") == {
        "experiment:%s" % exp_id: "READ",
        "registered_model:role-model": "READ",
    }
    assert mlflow.official_user("per@example.org")["is_admin"] is True


def test_role_rejects_bad_input_before_any_change(mlflow):
    cases = [
        ({"mlflow_users_sso_users": [{"email": "not-an-email"}]}, "not an e-mail address: not-an-email"),
        (
            {"mlflow_users_api_users": [{"username": "svc-short", "password": "short-pw"}]},
            "password shorter than 12 characters or the former MLflow default for: svc-short",
        ),
        (
            {
                "mlflow_users_sso_users": [{"email": "dup@example.org"}],
                "mlflow_users_admins": [],
                "mlflow_users_api_users": [{"username": "dup@example.org", "password": SVC_PW}],
            },
            "duplicate users in mlflow_users_sso_users/mlflow_users_api_users: dup@example.org",
        ),
        (
            {
                "mlflow_users_sso_users": [
                    {"email": "lvl@example.org", "permissions": [{"resource_id": "1", "permission": "WRITE"}]}
                ],
                "mlflow_users_admins": [],
            },
            "unknown permission level(s) WRITE",
        ),
        (
            {"mlflow_users_admins": ["ghost@example.org"]},
            "mlflow_users_admins names users that are in neither list: ghost@example.org",
        ),
        ({"mlflow_users_tracking_uri": "mlflow:5000"}, "mlflow_users_tracking_uri must be the http(s):// URL"),
        (
            {"mlflow_users_api_users": [{"username": "svc-never-created"}]},
            "user 'svc-never-created' does not exist and has no password to create it with",
        ),
    ]
    if not mlflow.rbac:
        cases.append(
            (
                {
                    "mlflow_users_sso_users": [
                        {"email": "ola@example.org"},
                        {
                            "email": "pr@example.org",
                            "permissions": [{"resource_type": "prompt", "resource_id": "p1", "permission": "READ"}],
                        },
                    ]
                },
                "users[1] (pr@example.org).permissions[0]: Resource type 'prompt' needs MLflow >= 3.13.0",
            )
        )
    else:
        cases.append(
            (
                {
                    "mlflow_users_sso_users": [
                        {"email": "ola@example.org"},
                        {
                            "email": "sk@example.org",
                            "permissions": [{"resource_type": "skill", "resource_id": "s1", "permission": "READ"}],
                        },
                    ]
                },
                "users[1] (sk@example.org).permissions[0]: Resource type 'skill' needs MLflow >= 3.18.0",
            )
        )
    for extra, message in cases:
        before = mlflow.db_snapshot()
        rc, doc, stats = _play(mlflow, _vars(mlflow, **extra))
        assert rc != 0 and stats["failures"] == 1
        _task, msg = _failure(doc)
        assert message in msg, (extra, msg)
        assert mlflow.db_snapshot() == before, "a failed validation changed the server: %s" % extra


def test_role_prunes_unmanaged_users(mlflow):
    mlflow.ansible.task("mlflow_user", {"username": "stray@example.org", "password": SVC_PW})
    mlflow.ansible.task("mlflow_user", {"username": "svc-legacy", "password": SVC_PW})
    everyone = [u["username"] for u in mlflow.ansible.task("mlflow_user_info", {})["users"]]
    managed = {"ola@example.org", "per@example.org", "svc-role"}
    protected = [n for n in everyone if n not in managed and n != "stray@example.org" and not n.startswith("svc-")]
    data = _vars(mlflow, mlflow_users_prune=True, mlflow_users_protected_users=[*protected, "svc-*"])
    before = mlflow.db_snapshot()
    rc, _doc, stats = _play(mlflow, data, check=True)
    assert rc == 0 and stats["changed"] == 1 and mlflow.db_snapshot() == before
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
    assert rc != 0 and "shorter than 12 characters or the former MLflow default for: svc-weak" in out
    for secret in (weak, BRIDGE, mlflow.server.admin_password):
        assert secret not in out
