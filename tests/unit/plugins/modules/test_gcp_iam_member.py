"""Unit tests for the pure parts of gcp_iam_member: policy edits, validation, retry loop."""

import copy

import pytest

from ansible_collections.mlflow_k8s.platform.plugins.module_utils import gcp_iam
from ansible_collections.mlflow_k8s.platform.plugins.modules import gcp_iam_member

SA = "serviceAccount:mlflow@p-123456.iam.gserviceaccount.com"
ROLE = "roles/storage.objectAdmin"


def policy(*bindings, etag="CAE="):
    return {"version": 1, "etag": etag, "bindings": [dict(b) for b in bindings]}


class TestApplyMember:
    def test_adds_binding_when_role_missing(self):
        before = policy({"role": "roles/storage.legacyBucketReader", "members": ["projectViewer:p-123456"]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "present")
        assert changed
        assert gcp_iam.role_members(after, ROLE) == [SA]
        assert after["bindings"][0] == before["bindings"][0]
        assert after["etag"] == "CAE="
        assert "bindings" in before and len(before["bindings"]) == 1  # input not mutated

    def test_appends_to_existing_binding(self):
        before = policy({"role": ROLE, "members": ["user:a@example.com"]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "present")
        assert changed
        assert len(after["bindings"]) == 1
        assert gcp_iam.role_members(after, ROLE) == sorted(["user:a@example.com", SA])

    def test_present_is_idempotent(self):
        before = policy({"role": ROLE, "members": [SA]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "present")
        assert not changed
        assert after is before

    def test_empty_policy(self):
        after, changed = gcp_iam.apply_member({"etag": "ACAB"}, ROLE, SA, "present")
        assert changed
        assert after == {"etag": "ACAB", "bindings": [{"role": ROLE, "members": [SA]}]}

    def test_absent_removes_member_and_empty_binding(self):
        before = policy({"role": ROLE, "members": [SA]}, {"role": "roles/viewer", "members": [SA]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "absent")
        assert changed
        assert after["bindings"] == [{"role": "roles/viewer", "members": [SA]}]

    def test_absent_keeps_other_members(self):
        before = policy({"role": ROLE, "members": [SA, "user:a@example.com"]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "absent")
        assert changed
        assert gcp_iam.role_members(after, ROLE) == ["user:a@example.com"]

    def test_absent_last_binding_drops_bindings_key(self):
        after, changed = gcp_iam.apply_member(policy({"role": ROLE, "members": [SA]}), ROLE, SA, "absent")
        assert changed
        assert "bindings" not in after

    def test_absent_is_idempotent(self):
        before = policy({"role": ROLE, "members": ["user:a@example.com"]})
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "absent")
        assert not changed
        assert after is before

    def test_conditional_binding_is_not_the_grant(self):
        conditional = {"role": ROLE, "members": [SA], "condition": {"title": "t", "expression": "true"}}
        before = policy(conditional)
        before["version"] = 3
        after, changed = gcp_iam.apply_member(before, ROLE, SA, "present")
        assert changed
        assert conditional in after["bindings"]
        assert {"role": ROLE, "members": [SA]} in after["bindings"]
        assert after["version"] == 3
        removed, changed = gcp_iam.apply_member(after, ROLE, SA, "absent")
        assert changed
        assert removed["bindings"] == [conditional]

    def test_role_members_ignores_conditions_and_merges_duplicates(self):
        p = policy(
            {"role": ROLE, "members": ["user:b@example.com"]},
            {"role": ROLE, "members": ["user:a@example.com"]},
            {"role": ROLE, "members": [SA], "condition": {"expression": "true"}},
        )
        assert gcp_iam.role_members(p, ROLE) == ["user:a@example.com", "user:b@example.com"]


class TestValidation:
    @pytest.mark.parametrize(
        "member",
        [
            SA,
            "user:a@example.com",
            "group:g@example.com",
            "domain:example.com",
            "allUsers",
            "serviceAccount:p-123456.svc.id.goog[mlflow/mlflow]",
            "projectViewer:p-123456",
            "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/a/sa/b",
        ],
    )
    def test_members_accepted(self, member):
        assert gcp_iam.member_problem(member) is None

    @pytest.mark.parametrize(
        "member", ["", "mlflow@p.iam.gserviceaccount.com", "serviceaccount:x@y", "user:", "bogus:x"]
    )
    def test_members_rejected(self, member):
        assert "member" in gcp_iam.member_problem(member)

    @pytest.mark.parametrize("role", [ROLE, "roles/iam.workloadIdentityUser", "projects/p-1/roles/custom.role"])
    def test_roles_accepted(self, role):
        assert gcp_iam.role_problem(role) is None

    @pytest.mark.parametrize("role", ["", "storage.objectAdmin", "roles/", "roles/a b"])
    def test_roles_rejected(self, role):
        assert gcp_iam.role_problem(role)


class TestErrors:
    def test_storage_error_shape(self):
        err = gcp_iam.error_from_response(
            412, '{"error": {"code": 412, "message": "Precondition Failed", "errors": [{"reason": "conditionNotMet"}]}}'
        )
        assert (err.status, err.message, err.reason) == (412, "Precondition Failed", "conditionNotMet")

    def test_platform_error_shape(self):
        err = gcp_iam.error_from_response(409, '{"error": {"code": 409, "message": "concurrent", "status": "ABORTED"}}')
        assert (err.status, err.message, err.reason) == (409, "concurrent", "ABORTED")

    def test_non_json_error(self):
        err = gcp_iam.error_from_response(502, "<html>bad gateway</html>")
        assert err.status == 502
        assert "bad gateway" in err.message

    def test_propagation_error_names_the_member(self):
        err = gcp_iam.GcpApiError(400, "Service account mlflow@p-123456.iam.gserviceaccount.com does not exist.")
        assert gcp_iam.is_propagation_error(err, SA)
        assert not gcp_iam.is_propagation_error(err, "serviceAccount:other@p-123456.iam.gserviceaccount.com")
        assert not gcp_iam.is_propagation_error(gcp_iam.GcpApiError(400, "Invalid argument."), SA)
        assert not gcp_iam.is_propagation_error(gcp_iam.GcpApiError(404, err.message), SA)

    def test_backoff_grows_and_is_capped(self):
        delays = [gcp_iam.retry_delay(n) for n in range(8)]
        assert delays[:3] == [0.5, 1.0, 2.0]
        assert max(delays) == 8.0


class TestCredentialsRules:
    def _params(self, **kw):
        base = {
            "auth_kind": "application",
            "service_account_email": None,
            "service_account_file": None,
            "service_account_contents": None,
            "access_token": None,
            "scopes": None,
        }
        base.update(kw)
        return base

    def test_file_needs_serviceaccount_kind(self):
        with pytest.raises(ValueError, match="service_account_file"):
            gcp_iam.build_credentials(self._params(service_account_file="/x.json"))

    def test_token_needs_accesstoken_kind(self):
        with pytest.raises(ValueError, match="access_token"):
            gcp_iam.build_credentials(self._params(auth_kind="serviceaccount", access_token="t"))

    def test_accesstoken_credentials_carry_scopes(self):
        creds = gcp_iam.build_credentials(self._params(auth_kind="accesstoken", access_token="tok"))
        assert creds.token == "tok"
        assert creds.scopes == gcp_iam.DEFAULT_SCOPES


class FakeModule:
    def __init__(self, check_mode=False, state="present", retries=5, propagation_timeout=60):
        self.check_mode = check_mode
        self.params = {
            "role": ROLE,
            "member": SA,
            "state": state,
            "retries": retries,
            "propagation_timeout": propagation_timeout,
        }
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)


class FakeResource:
    """Policy store with etags; ``racers`` concurrent writers change it between read and write."""

    kind = "bucket"
    name = "bucket-1"
    conflict_statuses = (412,)

    def __init__(self, stored=None, racers=0, missing=False, unpropagated=0):
        self.stored = stored if stored is not None else policy(etag="e0")
        self.racers = racers
        self.unpropagated = unpropagated
        self.missing = missing
        self.writes = []
        self.counter = 0

    def get(self):
        if self.missing:
            raise gcp_iam.GcpApiError(404, "The specified bucket does not exist.", "notFound")
        return copy.deepcopy(self.stored)

    def set(self, new):
        self.writes.append(new)
        if self.unpropagated:
            self.unpropagated -= 1
            raise gcp_iam.GcpApiError(400, "Service account %s does not exist." % SA.partition(":")[2], "invalid")
        if self.racers:
            self.racers -= 1
            self.counter += 1
            racer = "user:racer%d@example.com" % self.counter
            self.stored["bindings"].append({"role": "roles/viewer", "members": [racer]})
            self.stored["etag"] = "race%d" % self.counter
        if new.get("etag") != self.stored["etag"]:
            raise gcp_iam.GcpApiError(412, "Precondition Failed", "conditionNotMet")
        self.counter += 1
        self.stored = dict(copy.deepcopy(new), etag="w%d" % self.counter)
        return copy.deepcopy(self.stored)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(gcp_iam_member.time, "sleep", lambda seconds: None)


class TestRun:
    def test_writes_once_then_nothing(self):
        resource = FakeResource()
        result = gcp_iam_member.run(FakeModule(), resource)
        assert result["changed"] and result["attempts"] == 1
        assert result["members"] == [SA] and result["before"] == []
        assert len(resource.writes) == 1 and resource.writes[0]["etag"] == "e0"
        again = gcp_iam_member.run(FakeModule(), resource)
        assert not again["changed"]
        assert len(resource.writes) == 1

    def test_conflict_is_retried_and_keeps_the_racers_change(self):
        resource = FakeResource(racers=2)
        result = gcp_iam_member.run(FakeModule(), resource)
        assert result["changed"] and result["attempts"] == 3
        assert gcp_iam.role_members(resource.stored, ROLE) == [SA]
        assert gcp_iam.role_members(resource.stored, "roles/viewer") == [
            "user:racer1@example.com",
            "user:racer2@example.com",
        ]

    def test_gives_up_after_retries(self):
        resource = FakeResource(racers=10)
        with pytest.raises(gcp_iam.GcpApiError) as err:
            gcp_iam_member.run(FakeModule(retries=2), resource)
        assert err.value.status == 412
        assert len(resource.writes) == 3

    def test_new_service_account_is_retried_until_it_propagates(self):
        resource = FakeResource(unpropagated=2)
        result = gcp_iam_member.run(FakeModule(), resource)
        assert result["changed"] and result["attempts"] == 3
        assert gcp_iam.role_members(resource.stored, ROLE) == [SA]

    def test_unknown_service_account_fails_after_the_timeout(self):
        resource = FakeResource(unpropagated=100)
        with pytest.raises(gcp_iam.GcpApiError, match="does not exist"):
            gcp_iam_member.run(FakeModule(propagation_timeout=0), resource)
        assert len(resource.writes) == 1

    def test_check_mode_never_writes(self):
        resource = FakeResource()
        result = gcp_iam_member.run(FakeModule(check_mode=True), resource)
        assert result["changed"] and result["members"] == [SA]
        assert resource.writes == []

    def test_missing_resource_fails_outside_check_mode(self):
        with pytest.raises(gcp_iam.GcpApiError):
            gcp_iam_member.run(FakeModule(), FakeResource(missing=True))

    def test_missing_resource_in_check_mode_predicts_a_grant(self):
        module = FakeModule(check_mode=True)
        result = gcp_iam_member.run(module, FakeResource(missing=True))
        assert result["changed"]
        assert module.warnings and "does not exist yet" in module.warnings[0]

    def test_absent_on_missing_resource_is_no_change(self):
        result = gcp_iam_member.run(FakeModule(state="absent"), FakeResource(missing=True))
        assert not result["changed"]
