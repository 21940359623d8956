"""Unit tests of the reconcile planner: grant = want - have, revoke = have - want."""

import pytest

from ansible_collections.mlflow_k8s.platform.plugins.module_utils import mlflow_reconcile as mr


class FakeClient:
    def __init__(self, flavor="rbac", version=(3, 17, 2), good_passwords=()):
        self.flavor = flavor
        self.version = version
        self.requested_flavor = "auto"
        self.good = set(good_passwords)
        self.probes = []

    def password_matches(self, username, password):
        self.probes.append(username)
        return (username, password) in self.good

    def check_resource_type(self, rtype):
        from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import MlflowAuthClient

        MlflowAuthClient.check_resource_type(self, rtype)

    def resource_types(self, for_roles=False):
        from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import MlflowAuthClient

        return MlflowAuthClient.resource_types(self, for_roles)

    def check_permission_level(self, level):
        from ansible_collections.mlflow_k8s.platform.plugins.module_utils.mlflow_client import MlflowAuthClient

        MlflowAuthClient.check_permission_level(self, level)


HAVE = {
    "is_admin": False,
    "roles": {"old-role": 7},
    "grants": {("experiment", "1"): "READ", ("experiment", "2"): "EDIT", ("registered_model", "m"): "READ"},
    "grant_ids": {("experiment", "1"): 11, ("experiment", "2"): 12, ("registered_model", "m"): 13},
}


def test_plan_grant_update_revoke():
    rec = mr.Reconciler(FakeClient())
    want = {
        "username": "u",
        "_wanted": {("experiment", "1"): "READ", ("experiment", "2"): "MANAGE", ("experiment", "3"): "EDIT"},
        "roles": ["new-role"],
    }
    plan = rec.plan_user(want, HAVE)
    assert plan["grant"] == [(("experiment", "3"), "EDIT")]
    assert plan["update"] == [(("experiment", "2"), "EDIT", "MANAGE", 12)]
    assert plan["revoke"] == [(("registered_model", "m"), "READ", 13)]
    assert plan["assign"] == ["new-role"] and plan["unassign"] == ["old-role"]
    assert rec.plan_changes(plan)


def test_non_exclusive_keeps_unlisted_grants_and_roles():
    rec = mr.Reconciler(FakeClient())
    plan = rec.plan_user(
        {"username": "u", "_wanted": {}, "roles": []}, HAVE, exclusive_permissions=False, exclusive_roles=False
    )
    assert not rec.plan_changes(plan)


def test_unmanaged_permissions_when_not_listed():
    rec = mr.Reconciler(FakeClient())
    plan = rec.plan_user({"username": "u", "_wanted": None, "roles": None}, HAVE)
    assert not rec.plan_changes(plan)


def test_new_user_needs_password():
    rec = mr.Reconciler(FakeClient())
    with pytest.raises(mr.PlanError) as err:
        rec.plan_user({"username": "new", "_wanted": {}}, None)
    assert "does not exist and has no password" in str(err.value)
    plan = rec.plan_user({"username": "new", "password": "x" * 12, "is_admin": True, "_wanted": {}}, None)
    assert plan["create"] and plan["is_admin"] is True


def test_password_probe_only_with_always():
    client = FakeClient(good_passwords=[("u", "right-password")])
    rec = mr.Reconciler(client)
    assert rec.plan_user({"username": "u", "password": "wrong-password", "_wanted": None}, HAVE)["password"] is None
    assert client.probes == []
    plan = rec.plan_user({"username": "u", "password": "wrong-password", "_wanted": None}, HAVE, verify_passwords=True)
    assert plan["password"] is True
    plan = rec.plan_user({"username": "u", "password": "right-password", "_wanted": None}, HAVE, verify_passwords=True)
    assert plan["password"] is None and client.probes == ["u", "u"]


def test_views_hide_passwords_and_show_result():
    rec = mr.Reconciler(FakeClient())
    want = {"username": "u", "password": "secret-password", "_wanted": {("experiment", "9"): "READ"}, "is_admin": True}
    plan = rec.plan_user(want, HAVE, verify_passwords=False)
    after = mr.planned_view(plan, HAVE)
    assert after == {"is_admin": True, "permissions": {"experiment:9": "READ"}, "roles": ["old-role"]}
    assert "secret-password" not in repr(after) + repr(mr.plan_summary(plan)) + repr(mr.state_view(HAVE))


def test_validate_users_names_the_entry():
    client = FakeClient(flavor="legacy", version=(3, 12, 0))
    users = [
        {"username": "a", "password": "x" * 12, "permissions": []},
        {
            "username": "b",
            "password": "x" * 12,
            "permissions": [{"resource_type": "prompt", "resource_id": "p", "permission": "READ"}],
        },
    ]
    with pytest.raises(mr.PlanError) as err:
        mr.validate_users(client, users)
    assert (
        str(err.value)
        == "users[1] (b).permissions[0]: Resource type 'prompt' needs MLflow >= 3.13.0; the server runs 3.12.0."
    )
    users = [
        {"username": "a", "permissions": [{"resource_type": "experiment", "resource_id": "*", "permission": "READ"}]}
    ]
    with pytest.raises(mr.PlanError) as err:
        mr.validate_users(client, users)
    assert "the pattern '*' needs MLflow >= 3.13" in str(err.value)
    users = [
        {
            "username": "a",
            "permissions": [
                {"resource_type": "experiment", "resource_id": "1", "experiment_name": "e", "permission": "READ"}
            ],
        }
    ]
    with pytest.raises(mr.PlanError) as err:
        mr.validate_users(client, users)
    assert "exactly one of resource_id or experiment_name" in str(err.value)


def test_canonical_experiment_ids():
    assert mr._canonical_id("experiment", "007") == "7"
    assert mr._canonical_id("registered_model", "007") == "007"


class ExperimentClient(FakeClient):
    """Experiments by name: {name: (id, lifecycle_stage)}; records every write."""

    def __init__(self, experiments, **kwargs):
        super().__init__(**kwargs)
        self.experiments = dict(experiments)
        self.writes = []

    def get_experiment_by_name(self, name):
        if name not in self.experiments:
            return None
        eid, stage = self.experiments[name]
        return {"experiment_id": eid, "name": name, "lifecycle_stage": stage}

    def search_experiments(self, view_type="ACTIVE_ONLY"):
        assert view_type == "ALL"
        return [{"experiment_id": i, "name": n, "lifecycle_stage": s} for n, (i, s) in self.experiments.items()]

    def create_experiment(self, name):
        self.writes.append(("create_experiment", name))
        self.experiments[name] = (str(100 + len(self.writes)), "active")
        return self.experiments[name][0]


def _user(label, *permissions):
    return {
        "username": "u",
        "_label": label,
        "permissions": [dict({"resource_type": "experiment"}, **p) for p in permissions],
    }


@pytest.mark.parametrize("many", [False, True])
def test_plan_experiments_reads_only_and_names_the_entry(many):
    client = ExperimentClient({"known": ("3", "active"), "gone": ("4", "deleted"), "other": ("5", "active")})
    rec = mr.Reconciler(client)
    extra = [{"experiment_name": "other", "permission": "READ"}] if many else []
    user = _user("mlflow_users_sso_users[1] (u)", {"experiment_name": "known", "permission": "READ"}, *extra)
    ids, new = rec.plan_experiments([user, _user("x", {"experiment_name": "fresh", "permission": "EDIT"})], True)
    assert ids["known"] == "3" and ids["fresh"] == mr.NEW_EXPERIMENT % "fresh" and new == ["fresh"]
    with pytest.raises(mr.PlanError) as err:
        rec.plan_experiments([_user("l", {"experiment_name": "known"}, {"experiment_name": "fresh"})], False)
    assert str(err.value) == "l.permissions[1]: experiment 'fresh' does not exist (set create_experiments to create it)"
    with pytest.raises(mr.PlanError) as err:
        rec.plan_experiments([_user("l", {"experiment_name": "gone"}, *extra)], True)
    assert str(err.value).startswith("l.permissions[0]: experiment 'gone' is deleted; restore it")
    assert client.writes == []


def test_new_experiments_are_created_in_the_apply_step():
    client = ExperimentClient({"known": ("3", "active")})
    rec = mr.Reconciler(client)
    user = _user(
        "u", {"experiment_name": "known", "permission": "READ"}, {"experiment_name": "fresh", "permission": "EDIT"}
    )
    ids, new = rec.plan_experiments([user], True)
    rec.resolve_permissions([user], ids)
    plan = rec.plan_user(dict(user, password="x" * 12), None)
    assert (("experiment", mr.NEW_EXPERIMENT % "fresh"), "EDIT") in plan["grant"] and client.writes == []
    created = rec.create_experiments(new)
    rec.bind_experiments([plan], created)
    assert client.writes == [("create_experiment", "fresh")]
    assert sorted(plan["grant"]) == sorted([(("experiment", "3"), "READ"), (("experiment", created["fresh"]), "EDIT")])


def test_same_resource_twice_is_refused_naming_both_entries():
    user = _user(
        "mlflow_users_sso_users[1] (u)",
        {"experiment_name": "known", "permission": "EDIT"},
        {"resource_id": "03", "permission": "READ"},
    )
    with pytest.raises(mr.PlanError) as err:
        mr.Reconciler.resolve_permissions([user], {"known": "3"})
    assert str(err.value) == (
        "mlflow_users_sso_users[1] (u).permissions[1]: experiment 'known' (id 3) is also in permissions[0], "
        "with permission EDIT (here READ)"
    )
    twice = _user(
        "l", {"experiment_name": "fresh", "permission": "EDIT"}, {"experiment_name": "fresh", "permission": "READ"}
    )
    with pytest.raises(mr.PlanError) as err:
        mr.Reconciler.resolve_permissions([twice], {"fresh": mr.NEW_EXPERIMENT % "fresh"})
    assert "experiment 'fresh' is also in permissions[0]" in str(err.value)
    same = _user(
        "l", {"experiment_name": "fresh", "permission": "EDIT"}, {"experiment_name": "fresh", "permission": "EDIT"}
    )
    mr.Reconciler.resolve_permissions([same], {"fresh": mr.NEW_EXPERIMENT % "fresh"})
    assert same["_wanted"] == {("experiment", mr.NEW_EXPERIMENT % "fresh"): "EDIT"}


def test_labels_name_the_callers_entry():
    client = FakeClient(flavor="rbac", version=(3, 17, 2))
    users = [
        {"username": "a", "label": "mlflow_users_sso_users[0]", "permissions": []},
        {"username": "a", "label": "mlflow_users_api_users[0]"},
    ]
    with pytest.raises(mr.PlanError) as err:
        mr.validate_users(client, users)
    assert str(err.value) == "mlflow_users_api_users[0] (a): the same user as mlflow_users_sso_users[0]"
    run = [{"username": "b", "permissions": [{"resource_type": "run", "resource_id": "r1", "permission": "READ"}]}]
    with pytest.raises(mr.PlanError) as err:
        mr.validate_users(client, run)
    assert str(err.value) == "users[0] (b).permissions[0]: resource type 'run' takes only resource_id '*'"
    with pytest.raises(mr.PlanError) as err:
        mr.Reconciler(client).plan_user(
            {"username": "c", "_label": "mlflow_users_api_users[3] (c)", "_wanted": {}}, None
        )
    assert str(err.value) == "mlflow_users_api_users[3] (c): does not exist and has no password to create it with"


def test_describe_resource():
    names = {"3": "fraud"}
    assert mr.describe_resource(("experiment", "3"), names) == "experiment 'fraud' (id 3)"
    assert mr.describe_resource(("experiment", "9"), names) == "experiment id 9"
    assert mr.describe_resource(("experiment", mr.NEW_EXPERIMENT % "new one"), names) == "experiment 'new one'"
    assert mr.describe_resource(("experiment", "*"), names) == "experiment '*'"
    assert mr.describe_resource(("registered_model", "m"), names) == "registered_model 'm'"
