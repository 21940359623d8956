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
