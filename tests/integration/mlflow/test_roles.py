"""mlflow_role (3.13+) and role membership through mlflow_access."""


def test_role_lifecycle(mlflow):
    run = mlflow.ansible.task
    if not mlflow.rbac:
        res = run("mlflow_role", {"name": "readers"}, expect_failure=True)
        assert "needs MLflow >= 3.13.0" in res["msg"]
        res = run("mlflow_access", {"users": [{"username": "x@example.com", "roles": ["r"]}]}, expect_failure=True)
        assert res["msg"] == (
            "users[0] (x@example.com).roles: role membership needs MLflow >= 3.13.0; the server runs %s."
            % mlflow.version
        )
        return
    run("mlflow_user", {"username": "gina@example.com", "password": "gina-Passw0rd-123"})
    run("mlflow_user", {"username": "hank@example.com", "password": "hank-Passw0rd-123"})
    args = {
        "name": "data-scientists",
        "description": "edit experiments",
        "permissions": [{"resource_type": "experiment", "permission": "EDIT"}],
        "members": ["gina@example.com"],
    }
    before = mlflow.db_snapshot()
    res = run("mlflow_role", args, check=True, diff=True)
    assert res["changed"] and res["diff"]["before"] == {}
    mlflow.assert_unchanged(before, "the run")
    res = run("mlflow_role", args, diff=True)
    assert res["changed"] and res["role"]["permissions"] == {"experiment:*": "EDIT"}
    assert res["role"]["members"] == ["gina@example.com"]
    assert run("mlflow_role", args)["changed"] is False
    role_id = res["role"]["id"]
    assert mlflow.official("print(json.dumps([p.permission for p in client.list_role_permissions(%d)]))" % role_id) == [
        "EDIT"
    ]
    assert mlflow.official("print(json.dumps([r.name for r in client.list_user_roles('gina@example.com')]))") == [
        "data-scientists"
    ]
    assert mlflow.official_permission("gina@example.com", "experiment", "1") == "EDIT"

    # Non-exclusive adds; exclusive replaces.
    more = dict(
        args, permissions=[{"resource_type": "registered_model", "permission": "READ"}], members=["hank@example.com"]
    )
    res = run("mlflow_role", more)
    assert res["role"]["permissions"] == {"experiment:*": "EDIT", "registered_model:*": "READ"}
    assert res["role"]["members"] == ["gina@example.com", "hank@example.com"]
    excl = dict(more, exclusive_permissions=True, exclusive_members=True)
    res = run("mlflow_role", excl, diff=True)
    assert res["changed"] and res["role"]["permissions"] == {"registered_model:*": "READ"}
    assert res["role"]["members"] == ["hank@example.com"]
    assert run("mlflow_role", excl)["changed"] is False

    # Membership through the bulk module.
    res = run(
        "mlflow_access",
        {
            "users": [
                {"username": "gina@example.com", "roles": ["data-scientists"]},
                {"username": "hank@example.com", "roles": []},
            ]
        },
    )
    assert res["counts"]["users_changed"] == 2
    info = {
        u["username"]: u
        for u in run("mlflow_user_info", {"usernames": ["gina@example.com", "hank@example.com"]})["users"]
    }
    assert info["gina@example.com"]["roles"] == ["data-scientists"] and info["hank@example.com"]["roles"] == []
    res = run("mlflow_access", {"users": [{"username": "gina@example.com", "roles": ["nope"]}]}, expect_failure=True)
    assert res["msg"] == (
        "users[0] (gina@example.com).roles[0]: role 'nope' does not exist in workspace 'default' and is not in roles"
    )

    # What MLflow would refuse only on writing is refused before the role is created:
    # workspace grants accept only USE or MANAGE; members must exist.
    before = mlflow.db_snapshot()
    res = run(
        "mlflow_role",
        {"name": "ws", "permissions": [{"resource_type": "workspace", "permission": "READ"}]},
        expect_failure=True,
    )
    assert res["msg"] == "role 'ws'.permissions[0]: workspace grants take only USE or MANAGE, not READ"
    res = run("mlflow_role", {"name": "ws", "members": ["nobody@example.com"]}, expect_failure=True)
    assert res["msg"] == "role 'ws': member(s) nobody@example.com do not exist"
    mlflow.assert_unchanged(before, "a refused mlflow_role")

    assert run("mlflow_role", {"name": "data-scientists", "state": "absent"})["changed"] is True
    assert run("mlflow_role", {"name": "data-scientists", "state": "absent"})["changed"] is False


def test_wrong_flavor_gives_version_message(mlflow):
    run = mlflow.ansible.task
    run("mlflow_user", {"username": "ivan@example.com", "password": "ivan-Passw0rd-123"})
    forced = "legacy" if mlflow.rbac else "rbac"
    res = run(
        "mlflow_permission",
        {"username": "ivan@example.com", "resource_id": "1", "api_flavor": forced},
        expect_failure=True,
    )
    if mlflow.rbac:
        assert res["msg"] == (
            "Endpoint /api/2.0/mlflow/experiments/permissions/create does not exist on this server: "
            "it was removed in MLflow 3.13.0 (use api_flavor auto or rbac); the server runs MLflow %s." % mlflow.version
        )
    else:
        assert res["msg"] == (
            "Endpoint /api/3.0/mlflow/users/permissions/grant does not exist on this server: "
            "needs MLflow >= 3.13.0; the server runs MLflow %s." % mlflow.version
        )
