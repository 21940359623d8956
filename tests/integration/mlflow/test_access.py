"""mlflow_access: bulk reconcile of a large specification, check mode, diff, pruning."""

import json

N_USERS = 30
BULK_PW = "bulk-Passw0rd-shared"


def _spec(prefix, n, level="READ"):
    users = []
    for i in range(n):
        users.append(
            {
                "username": "%s%03d@example.com" % (prefix, i),
                "password": BULK_PW,
                "permissions": [
                    {"experiment_name": "bulk-exp-%d" % (i % 3), "permission": level},
                    {"experiment_name": "bulk-exp-%d" % ((i + 1) % 3), "permission": "EDIT"},
                    {
                        "resource_type": "registered_model",
                        "resource_id": "bulk-model-%d" % (i % 5),
                        "permission": "MANAGE",
                    },
                ],
            }
        )
    return users


def test_bulk_apply_idempotent_check_mode_and_diff(mlflow):
    run = mlflow.ansible.task
    users = _spec("bulk", N_USERS)
    args = {"users": users, "create_experiments": True}

    before = mlflow.db_snapshot()
    res = run("mlflow_access", args, check=True, diff=True)
    assert res["changed"] and res["counts"]["granted"] == 3 * N_USERS and len(res["created_users"]) == N_USERS
    mlflow.assert_unchanged(before, "check mode")
    assert BULK_PW not in json.dumps(res)

    res = run("mlflow_access", args)
    assert res["changed"] and res["counts"] == {
        "users": N_USERS,
        "users_changed": N_USERS,
        "granted": 3 * N_USERS,
        "updated": 0,
        "revoked": 0,
    }
    assert sorted(res["created_experiments"]) == ["bulk-exp-0", "bulk-exp-1", "bulk-exp-2"]

    res = run("mlflow_access", args)
    assert res["changed"] is False and res["users_changed"] == []
    if mlflow.rbac:
        # One users/list answers for everybody: /version, users/list, experiments/search.
        assert res["http_requests"] <= 4, res["http_requests"]

    info = {u["username"]: u for u in run("mlflow_user_info", {})["users"]}
    sample = users[7]["username"]
    official = mlflow.official_user(sample)
    assert official["username"] == sample and official["is_admin"] is False
    assert len(info[sample]["permissions"]) == 3
    exp_ids = {}
    for key in info[sample]["permissions"]:
        if key.startswith("experiment:"):
            exp_ids[key.split(":", 1)[1]] = info[sample]["permissions"][key]
    for exp_id, level in exp_ids.items():
        assert mlflow.official_permission(sample, "experiment", exp_id) == level
    if not mlflow.rbac:
        assert sorted(official["experiment_permissions"]) == sorted([k, v] for k, v in exp_ids.items())
        assert official["registered_model_permissions"] == [["bulk-model-2", "MANAGE"]]
    assert mlflow.login_ok(sample, BULK_PW)

    # Change a few users: level update, dropped grant (revoke), admin flag.
    changed = _spec("bulk", N_USERS)
    changed[0]["permissions"][0]["permission"] = "MANAGE"
    changed[1]["permissions"] = changed[1]["permissions"][:2]
    changed[2]["is_admin"] = True
    args2 = {"users": changed}
    before = mlflow.db_snapshot()
    res = run("mlflow_access", args2, check=True, diff=True)
    assert res["counts"] == {"users": N_USERS, "users_changed": 3, "granted": 0, "updated": 1, "revoked": 1}
    mlflow.assert_unchanged(before, "the run")
    diff = {d["before_header"]: d for d in res["diff"]}
    assert set(diff) == {"mlflow user %s" % u["username"] for u in changed[:3]}
    assert diff["mlflow user %s" % changed[2]["username"]]["after"]["is_admin"] is True
    assert diff["mlflow user %s" % changed[2]["username"]]["before"]["is_admin"] is False
    assert BULK_PW not in json.dumps(res)
    res = run("mlflow_access", args2, diff=True)
    assert res["counts"]["users_changed"] == 3
    assert run("mlflow_access", args2)["changed"] is False
    assert mlflow.official_user(changed[2]["username"])["is_admin"] is True
    assert run("mlflow_user", {"username": changed[2]["username"], "is_admin": False})["changed"] is True


def test_update_password_always_and_pruning(mlflow):
    run = mlflow.ansible.task
    users = [{"username": "prune%02d@example.com" % i, "password": BULK_PW} for i in range(4)]
    run("mlflow_access", {"users": users})
    run("mlflow_user", {"username": "svc-keep", "password": BULK_PW})
    new_pw = "rotated-Passw0rd-bridge"
    rotated = [dict(u, password=new_pw) for u in users]
    assert run("mlflow_access", {"users": rotated})["changed"] is False
    res = run("mlflow_access", {"users": rotated, "update_password": "always"}, diff=True)
    assert res["counts"]["users_changed"] == 4 and all(u["password_changed"] for u in res["users_changed"])
    assert new_pw not in json.dumps(res) and BULK_PW not in json.dumps(res)
    assert mlflow.login_ok(users[0]["username"], new_pw)
    assert run("mlflow_access", {"users": rotated, "update_password": "always"})["changed"] is False

    keep = rotated[:2]
    everyone = [u["username"] for u in run("mlflow_user_info", {})["users"]]
    protected = [n for n in everyone if not n.startswith("prune")]
    prune_args = {"users": keep, "prune_users": True, "protected_users": [*protected[:-1], "svc-*"]}
    before = mlflow.db_snapshot()
    res = run("mlflow_access", prune_args, check=True)
    assert sorted(res["deleted_users"]) == [users[2]["username"], users[3]["username"]]
    mlflow.assert_unchanged(before, "the run")
    res = run("mlflow_access", prune_args)
    assert sorted(res["deleted_users"]) == [users[2]["username"], users[3]["username"]]
    assert mlflow.official_user(users[2]["username"]) is None
    assert mlflow.official_user("svc-keep") is not None
    assert mlflow.official_user(mlflow.server.admin_username)["is_admin"] is True
    assert run("mlflow_access", prune_args)["changed"] is False


def test_bad_spec_fails_before_any_change(mlflow):
    before = mlflow.db_snapshot()
    bad = {
        "users": [
            {"username": "ok@example.com", "password": BULK_PW},
            {
                "username": "bad@example.com",
                "password": BULK_PW,
                "permissions": [{"resource_id": "1", "permission": "WRITE"}],
            },
        ]
    }
    res = mlflow.ansible.task("mlflow_access", bad, expect_failure=True)
    assert res["msg"] == (
        "users[1] (bad@example.com).permissions[0]: Unknown permission 'WRITE'; "
        "use one of DENY, EDIT, MANAGE, READ, USE"
    )
    dup = {
        "users": [
            {"username": "dup@example.com", "password": BULK_PW},
            {"username": "dup@example.com", "password": BULK_PW},
        ]
    }
    res = mlflow.ansible.task("mlflow_access", dup, expect_failure=True)
    assert res["msg"] == "users[1] (dup@example.com): the same user as users[0]"
    short = {"users": [{"username": "short@example.com", "password": "tiny-pw"}]}
    res = mlflow.ansible.task("mlflow_access", short, expect_failure=True)
    assert res["msg"] == "users[0] (short@example.com): password must be at least 12 characters long"
    mlflow.assert_unchanged(before, "the run")


def test_refused_spec_changes_neither_database(mlflow):
    """Everything that can refuse is decided before the first write: experiments the plan would
    create are not created when a later check refuses (both databases are compared)."""
    cases = [
        (
            {
                "create_experiments": True,
                "users": [
                    {
                        "username": "twice@example.com",
                        "password": BULK_PW,
                        "permissions": [
                            {"experiment_name": "refused-twice-exp", "permission": "EDIT"},
                            {"experiment_name": "refused-twice-exp", "permission": "READ"},
                        ],
                    }
                ],
            },
            "users[0] (twice@example.com).permissions[1]: experiment 'refused-twice-exp' is also in "
            "permissions[0], with permission EDIT (here READ)",
        ),
        (
            {
                "create_experiments": True,
                "users": [
                    {"username": "ok@example.com", "password": BULK_PW},
                    {
                        "username": "nopw@example.com",
                        "permissions": [{"experiment_name": "refused-nopw-exp", "permission": "EDIT"}],
                    },
                ],
            },
            "users[1] (nopw@example.com): does not exist and has no password to create it with",
        ),
        (
            {
                "create_experiments": True,
                "admins": [],
                "users": [
                    {
                        "username": "ok@example.com",
                        "password": BULK_PW,
                        "permissions": [{"experiment_name": "refused-adm"}],
                    },
                    {"username": mlflow.server.admin_username, "label": "the admin entry"},
                ],
            },
            "the admin entry (%s): is the user this run logs in as (auth_username); list it in admins or leave it "
            "out, a run cannot take away its own admin rights" % mlflow.server.admin_username,
        ),
    ]
    for args, message in cases:
        before = mlflow.db_snapshot()
        for check in (True, False):
            res = mlflow.ansible.task("mlflow_access", args, check=check, expect_failure=True)
            mlflow.assert_unchanged(before, "a refused mlflow_access run")
            assert res["msg"] == message
    assert mlflow.official_user("ok@example.com") is None


def test_diff_names_users_and_experiments(mlflow):
    args = {
        "create_experiments": True,
        "users": [
            {
                "username": "differ@example.com",
                "password": BULK_PW,
                "permissions": [
                    {"experiment_name": "diff-exp", "permission": "EDIT"},
                    {"resource_type": "registered_model", "resource_id": "diff-model", "permission": "READ"},
                ],
            }
        ],
    }
    res = mlflow.ansible.task("mlflow_access", args, check=True, diff=True)
    assert res["diff"][0] == {
        "before_header": "mlflow experiments",
        "after_header": "mlflow experiments",
        "before": "",
        "after": "diff-exp\n",
    }
    assert res["diff"][1]["before_header"] == "mlflow user differ@example.com" and res["diff"][1]["before"] is None
    assert res["diff"][1]["after"]["permissions"] == {
        "experiment 'diff-exp'": "EDIT",
        "registered_model 'diff-model'": "READ",
    }
    res = mlflow.ansible.task("mlflow_access", args, diff=True)
    exp_id = next(g["resource_id"] for g in res["users_changed"][0]["granted"] if g["resource_type"] == "experiment")
    assert res["diff"][1]["after"]["permissions"]["experiment 'diff-exp' (id %s)" % exp_id] == "EDIT"
    # The text Ansible prints: every hunk sits under a header that names the user.
    args["users"][0]["permissions"][0]["permission"] = "READ"
    rc, out = mlflow.ansible.playbook_text(
        [{"name": "change", "mlflow_k8s.platform.mlflow_access": args}], ["--check", "--diff"]
    )
    assert rc == 0, out[-3000:]
    hunk = out[out.index("--- before: mlflow user differ@example.com\n+++ after: mlflow user differ@example.com\n@@") :]
    changed = [line for line in hunk.splitlines() if line[:1] in "+-" and "experiment" in line]
    assert [line[0] for line in changed] == ["-", "+"], hunk
    assert "experiment 'diff-exp' (id %s)" % exp_id in changed[0] and "EDIT" in changed[0], hunk
    assert "experiment 'diff-exp' (id %s)" % exp_id in changed[1] and "READ" in changed[1], hunk
