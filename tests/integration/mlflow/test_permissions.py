"""mlflow_permission against real servers: grant, update, revoke, exclusive mode, check mode."""

USER = "frank@example.com"
PW = "frank-Passw0rd-123"


def _perm(mlflow, exp_id):
    return mlflow.official_permission(USER, "experiment", exp_id)


def test_permission_lifecycle(mlflow):
    run = mlflow.ansible.task
    run("mlflow_user", {"username": USER, "password": PW})
    base = {"username": USER, "experiment_name": "perm-exp-a", "permission": "EDIT"}

    res = run("mlflow_permission", base, expect_failure=True)
    assert "experiment 'perm-exp-a' does not exist (set create_experiments to create it)" in res["msg"]

    before = mlflow.db_snapshot()
    res = run("mlflow_permission", dict(base, create_experiments=True), check=True, diff=True)
    assert res["changed"] and res["created_experiments"] == ["perm-exp-a"]
    mlflow.assert_unchanged(before, "the run")

    res = run("mlflow_permission", dict(base, create_experiments=True), diff=True)
    assert res["changed"] and len(res["granted"]) == 1
    exp_a = res["granted"][0]["resource_id"]
    assert res["diff"]["after"] == dict(res["diff"]["before"], **{"experiment:%s" % exp_a: "EDIT"})
    assert _perm(mlflow, exp_a) == "EDIT"
    assert run("mlflow_permission", dict(base, create_experiments=True))["changed"] is False
    # By id, with a non-canonical id ("0" prefix), is the same grant.
    assert (
        run("mlflow_permission", {"username": USER, "resource_id": "0" + exp_a, "permission": "EDIT"})["changed"]
        is False
    )

    before = mlflow.db_snapshot()
    res = run("mlflow_permission", dict(base, permission="READ"), check=True, diff=True)
    assert res["changed"] and res["updated"] == [
        {"resource_type": "experiment", "resource_id": exp_a, "old": "EDIT", "permission": "READ"}
    ]
    mlflow.assert_unchanged(before, "the run")
    assert _perm(mlflow, exp_a) == "EDIT"
    assert run("mlflow_permission", dict(base, permission="READ"))["changed"] is True
    assert _perm(mlflow, exp_a) == "READ"

    model = {"username": USER, "resource_type": "registered_model", "resource_id": "perm-model", "permission": "MANAGE"}
    assert run("mlflow_permission", model)["changed"] is True
    assert run("mlflow_permission", model)["changed"] is False
    if not mlflow.rbac:
        assert mlflow.official_permission(USER, "registered_model", "perm-model") == "MANAGE"

    # Exclusive: only experiment B stays; A and the model grant are revoked.
    excl = {
        "username": USER,
        "exclusive": True,
        "create_experiments": True,
        "permissions": [{"experiment_name": "perm-exp-b", "permission": "MANAGE"}],
    }
    before = mlflow.db_snapshot()
    res = run("mlflow_permission", excl, check=True, diff=True)
    assert res["changed"] and {r["resource_id"] for r in res["revoked"]} == {exp_a, "perm-model"}
    mlflow.assert_unchanged(before, "the run")
    res = run("mlflow_permission", excl, diff=True)
    assert res["changed"] and len(res["revoked"]) == 2 and len(res["granted"]) == 1
    exp_b = res["granted"][0]["resource_id"]
    assert res["permissions"] == {"experiment:%s" % exp_b: "MANAGE"}
    assert run("mlflow_permission", excl)["changed"] is False
    assert _perm(mlflow, exp_b) == "MANAGE"
    official = mlflow.official_user(USER)
    if not mlflow.rbac:
        assert official["experiment_permissions"] == [[exp_b, "MANAGE"]]
        assert official["registered_model_permissions"] == []
    else:
        # 3.13+ reports the effective permission: without the grant the default (READ) applies.
        assert _perm(mlflow, exp_a) == "READ"
    info = run("mlflow_user_info", {"usernames": [USER]})["users"][0]
    assert info["permissions"] == {"experiment:%s" % exp_b: "MANAGE"}

    absent = {"username": USER, "experiment_name": "perm-exp-b", "state": "absent"}
    assert run("mlflow_permission", absent)["changed"] is True
    assert run("mlflow_permission", absent)["changed"] is False
    assert run("mlflow_user_info", {"usernames": [USER]})["users"][0]["permissions"] == {}


def test_permission_needs_existing_user(mlflow):
    res = mlflow.ansible.task(
        "mlflow_permission", {"username": "ghost@example.com", "resource_id": "1"}, expect_failure=True
    )
    assert res["msg"] == "user 'ghost@example.com' does not exist"


def test_version_gated_features(mlflow):
    run = mlflow.ansible.task
    run("mlflow_user", {"username": USER, "password": PW})
    prompt = {"username": USER, "resource_type": "prompt", "resource_id": "my-prompt", "permission": "READ"}
    deny = {"username": USER, "resource_id": "1", "permission": "DENY"}
    if mlflow.rbac:
        assert run("mlflow_permission", prompt)["changed"] is True
        assert run("mlflow_permission", dict(prompt, state="absent"))["changed"] is True
        assert run("mlflow_permission", dict(deny, resource_id="424242"))["changed"] is True
        assert run("mlflow_permission", dict(deny, resource_id="424242", state="absent"))["changed"] is True
    else:
        res = run("mlflow_permission", prompt, expect_failure=True)
        assert (
            res["msg"]
            == "permissions[0]: Resource type 'prompt' needs MLflow >= 3.13.0; the server runs %s." % mlflow.version
        )
        res = run("mlflow_permission", deny, expect_failure=True)
        assert (
            res["msg"] == "permissions[0]: Permission DENY needs MLflow >= 3.17.0; the server runs %s." % mlflow.version
        )
        res = run("mlflow_role", {"name": "readers"}, expect_failure=True)
        assert res["msg"] == "mlflow_role needs MLflow >= 3.13.0; the server runs %s." % mlflow.version
