"""mlflow_user against real servers: create, idempotence, updates, delete, check mode, diff."""

PW1 = "first-Passw0rd-user"
PW2 = "second-Passw0rd-user"


def test_user_lifecycle(mlflow):
    run = mlflow.ansible.task
    name = "erin@example.com"

    before = mlflow.db_snapshot()
    res = run("mlflow_user", {"username": name, "password": PW1}, check=True, diff=True)
    assert res["changed"] and res["password_changed"]
    assert res["diff"]["before"]["exists"] is False and res["diff"]["after"]["exists"] is True
    mlflow.assert_unchanged(before, "check mode")
    assert mlflow.official_user(name) is None

    res = run("mlflow_user", {"username": name, "password": PW1}, diff=True)
    assert res["changed"] and res["password_changed"] and res["user"]["is_admin"] is False
    assert PW1 not in str(res)
    official = mlflow.official_user(name)
    assert official["username"] == name and official["is_admin"] is False and official["id"] == res["user"]["id"]
    assert mlflow.login_ok(name, PW1)

    res = run("mlflow_user", {"username": name, "password": PW1})
    assert res["changed"] is False and res["password_changed"] is False

    # Admin flag: check mode first (reports, no write), then for real, then idempotent.
    before = mlflow.db_snapshot()
    res = run("mlflow_user", {"username": name, "is_admin": True}, check=True, diff=True)
    assert res["changed"] and res["diff"]["before"]["is_admin"] is False and res["diff"]["after"]["is_admin"] is True
    mlflow.assert_unchanged(before, "the run")
    res = run("mlflow_user", {"username": name, "is_admin": True})
    assert res["changed"] and res["user"]["is_admin"] is True
    assert mlflow.official_user(name)["is_admin"] is True
    assert run("mlflow_user", {"username": name, "is_admin": True})["changed"] is False
    assert run("mlflow_user", {"username": name, "is_admin": False})["changed"] is True
    assert mlflow.official_user(name)["is_admin"] is False

    # on_create never touches an existing password; always verifies and corrects it.
    res = run("mlflow_user", {"username": name, "password": PW2, "update_password": "on_create"})
    assert res["changed"] is False and mlflow.login_ok(name, PW1)
    before = mlflow.db_snapshot()
    res = run("mlflow_user", {"username": name, "password": PW2}, check=True, diff=True)
    assert res["changed"] and res["password_changed"] and res["diff"]["after"]["password_changed"] is True
    assert PW2 not in str(res) and PW1 not in str(res)
    mlflow.assert_unchanged(before, "the run")
    assert mlflow.login_ok(name, PW1)
    res = run("mlflow_user", {"username": name, "password": PW2})
    assert res["changed"] and res["password_changed"]
    assert mlflow.login_ok(name, PW2) and not mlflow.login_ok(name, PW1)
    assert run("mlflow_user", {"username": name, "password": PW2})["changed"] is False

    before = mlflow.db_snapshot()
    res = run("mlflow_user", {"username": name, "state": "absent"}, check=True, diff=True)
    assert res["changed"] and res["diff"]["after"]["exists"] is False
    mlflow.assert_unchanged(before, "the run")
    assert run("mlflow_user", {"username": name, "state": "absent"})["changed"] is True
    assert mlflow.official_user(name) is None
    assert run("mlflow_user", {"username": name, "state": "absent"})["changed"] is False


def test_refuses_to_delete_login_user_and_last_admin(mlflow):
    res = mlflow.ansible.task(
        "mlflow_user", {"username": mlflow.server.admin_username, "state": "absent"}, expect_failure=True
    )
    assert "module logs in as this user" in res["msg"]
    res = mlflow.ansible.task(
        "mlflow_user", {"username": mlflow.server.admin_username, "is_admin": False}, expect_failure=True
    )
    assert "module logs in as" in res["msg"]


def test_short_password_rejected_before_any_call(mlflow):
    before = mlflow.db_snapshot()
    res = mlflow.ansible.task(
        "mlflow_user", {"username": "short@example.com", "password": "elevenchars"}, expect_failure=True
    )
    assert res["msg"] == "password of user 'short@example.com' must be at least 12 characters long"
    assert "mlflow_version" not in res, "the module talked to the server before validating"
    mlflow.assert_unchanged(before, "the run")


def test_environment_fallback_for_connection(mlflow):
    runner = mlflow.runner()
    runner.connection = {}
    runner.env.update(
        {
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLFLOW_TRACKING_USERNAME": mlflow.server.admin_username,
            "MLFLOW_TRACKING_PASSWORD": mlflow.server.admin_password,
        }
    )
    res = runner.task("mlflow_user_info", {"usernames": [mlflow.server.admin_username]})
    assert res["users"][0]["is_admin"] is True and res["mlflow_version"] == mlflow.version


def test_user_info_reports_sso_users_and_grants_as_desired_state(mlflow):
    bridge = "info-bridge-Passw0rd-7"
    spec = [
        {
            "username": "info-sso@example.com",
            "password": bridge,
            "permissions": [{"experiment_name": "info-exp", "permission": "EDIT"}],
        },
        {
            "username": "info-svc",
            "password": "info-svc-Passw0rd-8",
            "permissions": [{"resource_type": "registered_model", "resource_id": "info-model", "permission": "READ"}],
        },
    ]
    mlflow.ansible.task("mlflow_access", {"users": spec, "create_experiments": True})
    names = ["info-sso@example.com", "info-svc"]
    res = mlflow.ansible.task("mlflow_user_info", {"usernames": names, "sso_password": bridge})
    users = {u["username"]: u for u in res["users"]}
    assert users["info-sso@example.com"]["sso"] is True and users["info-svc"]["sso"] is False
    exp_id = mlflow.official(
        "import mlflow\nprint(json.dumps(mlflow.MlflowClient(%r).get_experiment_by_name('info-exp').experiment_id))"
        % mlflow.url
    )
    assert users["info-sso@example.com"]["grants"] == [
        {"resource_type": "experiment", "resource_id": exp_id, "permission": "EDIT"}
    ]
    assert users["info-svc"]["grants"] == [
        {"resource_type": "registered_model", "resource_id": "info-model", "permission": "READ"}
    ]
    # The report is desired state: fed back to mlflow_access it changes nothing.
    again = [{"username": u["username"], "is_admin": u["is_admin"], "permissions": u["grants"]} for u in res["users"]]
    assert mlflow.ansible.task("mlflow_access", {"users": again})["changed"] is False
    assert "sso" not in mlflow.ansible.task("mlflow_user_info", {"usernames": names})["users"][0]
