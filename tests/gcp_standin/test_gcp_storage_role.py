"""The gcp_storage role's real tasks (google.cloud modules + gcp_iam_member) against the stand-in."""

import base64
import json
import os
import time
import uuid

import pytest

SA_EMAIL = "mlflow-artifacts@%s.iam.gserviceaccount.com"
BUCKET = "mlflow-artifacts-test"


def facts(role_vars):
    with open(role_vars["gcp_storage_test_facts_file"]) as handle:
        return json.load(handle)


def assert_no_key_on_disk(directory):
    """The role's private key directory is gone and no file under TMPDIR holds a key."""
    leftovers = [
        p
        for p in directory.rglob("*")
        if p.name.endswith(".gcp-storage") or (p.is_file() and "PRIVATE KEY" in p.read_text(errors="replace"))
    ]
    assert leftovers == []


def role_members(policy, role):
    return sorted(m for b in policy.get("bindings", []) if b["role"] == role for m in b["members"])


def test_workload_identity_converge_then_idempotent_then_check(standin, run_playbook, role_vars):
    role_vars.update(
        gcp_storage_bucket_versioning=True,
        gcp_storage_bucket_lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age_days": 365}}],
        gcp_storage_bucket_labels={"app": "mlflow"},
    )
    first = run_playbook("converge.yml", role_vars)
    assert first.rc == 0, first
    # bucket, service account, bucket grant, workload identity grant, facts file
    assert first.recap["changed"] == 5, first

    state = standin.state()
    sa = SA_EMAIL % standin.project
    bucket = state["buckets"][BUCKET]
    assert bucket["location"] == "EUROPE-WEST1"
    assert bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["lifecycle"] == {"rule": [{"action": {"type": "Delete"}, "condition": {"age": 365}}]}
    assert bucket["labels"] == {"app": "mlflow"}

    bucket_policy = state["bucket_policies"][BUCKET]
    assert role_members(bucket_policy, "roles/storage.objectAdmin") == ["serviceAccount:" + sa]
    # The default legacy bindings stay; the service account gets nothing else.
    assert role_members(bucket_policy, "roles/storage.legacyBucketOwner") == [
        "projectEditor:" + standin.project,
        "projectOwner:" + standin.project,
    ]
    assert [b["role"] for b in bucket_policy["bindings"] if "serviceAccount:" + sa in b["members"]] == [
        "roles/storage.objectAdmin"
    ]

    assert state["service_accounts"][sa]["displayName"] == "MLflow artifact store"
    assert role_members(state["sa_policies"][sa], "roles/iam.workloadIdentityUser") == [
        "serviceAccount:%s.svc.id.goog[mlflow/mlflow]" % standin.project
    ]
    assert [k for k in state["keys"].values() if k["email"] == sa] == []
    # The new account had not propagated to Cloud Storage yet: the first grant was refused with
    # 400 "does not exist" and retried.
    bucket_writes = [
        r["status"] for r in standin.requests() if r["method"] == "PUT" and r["path"] == "/storage/v1/b/%s/iam" % BUCKET
    ]
    assert bucket_writes == [400, 200]
    # Only Google's storage, IAM and token hosts were called (no project-level IAM API).
    assert {r["host"] for r in standin.requests()} == {
        "storage.googleapis.com",
        "iam.googleapis.com",
        "oauth2.googleapis.com",
    }

    assert facts(role_vars) == {
        "gcp_storage_artifacts_destination": "gs://%s/mlflow" % BUCKET,
        "gcp_storage_service_account_annotations": {"iam.gke.io/gcp-service-account": sa},
        "gcp_storage_credentials_secret": "",
        "gcp_storage_credentials_secret_key": "",
    }

    standin.clear_requests()
    second = run_playbook("converge.yml", role_vars)
    assert second.rc == 0 and second.recap["changed"] == 0, second
    assert standin.writes() == []

    check = run_playbook("converge.yml", role_vars, "--check", "--diff")
    assert check.rc == 0 and check.recap["changed"] == 0, check
    assert standin.writes() == []
    assert standin.state()["buckets"][BUCKET]["metageneration"] == "1"


CLUSTER_PROJECT = "gke-host-project"


@pytest.mark.parametrize("standin", [{"workload_identity_pools": [CLUSTER_PROJECT]}], indirect=True)
def test_the_workload_identity_member_names_the_clusters_pool(standin, run_playbook, role_vars):
    # The bucket's project has no GKE cluster; the cluster (and its pool) is in another project.
    role_vars["gcp_storage_cluster_project"] = CLUSTER_PROJECT
    result = run_playbook("converge.yml", role_vars)
    assert result.rc == 0, result
    sa = SA_EMAIL % standin.project
    assert role_members(standin.state()["sa_policies"][sa], "roles/iam.workloadIdentityUser") == [
        "serviceAccount:%s.svc.id.goog[mlflow/mlflow]" % CLUSTER_PROJECT
    ]
    # The service account and the bucket stay in the bucket's project.
    assert facts(role_vars)["gcp_storage_service_account_annotations"] == {"iam.gke.io/gcp-service-account": sa}
    again = run_playbook("converge.yml", role_vars)
    assert again.rc == 0 and again.recap["changed"] == 0, again


def test_check_mode_on_an_empty_project_predicts_and_writes_nothing(standin, run_playbook, role_vars):
    result = run_playbook("converge.yml", role_vars, "--check", "--diff")
    assert result.rc == 0, result
    # google.cloud's modules have no check mode (skipped); our grants are predicted as changes.
    assert result.recap["changed"] == 2, result
    assert "does not exist yet" in result.out
    assert standin.writes() == []
    assert standin.state()["buckets"] == {}


def test_changed_settings_update_the_bucket_once(standin, run_playbook, role_vars):
    assert run_playbook("converge.yml", role_vars).rc == 0
    role_vars.update(gcp_storage_bucket_versioning=True, gcp_storage_bucket_labels={"team": "ml"})
    changed = run_playbook("converge.yml", role_vars)
    assert changed.rc == 0 and changed.recap["changed"] == 1, changed
    bucket = standin.state()["buckets"][BUCKET]
    assert bucket["metageneration"] == "2"
    assert bucket["versioning"] == {"enabled": True} and bucket["labels"] == {"team": "ml"}
    # Still enforced after the full-resource update.
    assert bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    again = run_playbook("converge.yml", role_vars)
    assert again.rc == 0 and again.recap["changed"] == 0, again


def test_disabled_calls_nothing_and_exports_empty_facts(standin, run_playbook, role_vars):
    role_vars.update(gcp_storage_enabled=False, gcp_storage_project="", gcp_storage_bucket_name="")
    result = run_playbook("converge.yml", role_vars)
    assert result.rc == 0, result
    assert standin.requests() == []
    assert facts(role_vars) == {
        "gcp_storage_artifacts_destination": "",
        "gcp_storage_service_account_annotations": {},
        "gcp_storage_credentials_secret": "",
        "gcp_storage_credentials_secret_key": "",
    }


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"gcp_storage_bucket_name": "ab"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "MLflow-Artifacts"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "goog-artifacts"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "my-google-artifacts"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "192.168.10.1"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "-artifacts"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "a" * 64}, "gcp_storage_bucket_name"),
        ({"gcp_storage_bucket_name": "ml." + "b" * 64 + ".example.com"}, "gcp_storage_bucket_name"),
        ({"gcp_storage_credentials_mode": "json"}, "gcp_storage_credentials_mode"),
        ({"gcp_storage_project": ""}, "gcp_storage_project"),
        ({"gcp_storage_cluster_project": "GKE_Project"}, "gcp_storage_cluster_project"),
        ({"gcp_storage_bucket_role": "roles/storage.admin"}, "gcp_storage_bucket_role"),
        (
            {"gcp_storage_bucket_lifecycle_rules": [{"action": {"type": "Delete"}}]},
            "gcp_storage_bucket_lifecycle_rules",
        ),
        ({"gcp_storage_bucket_lifecycle_rules": "action=Delete"}, "gcp_storage_bucket_lifecycle_rules must be a list"),
    ],
)
def test_bad_input_fails_before_any_call(standin, run_playbook, role_vars, overrides, variable):
    role_vars.update(overrides)
    result = run_playbook("converge.yml", role_vars)
    assert result.rc != 0 and result.recap is not None and result.recap["failed"] == 1, result
    assert variable in result.out, result
    assert standin.requests() == []


def test_valid_dotted_bucket_name_is_accepted(standin, run_playbook, role_vars):
    role_vars["gcp_storage_bucket_name"] = "artifacts." + "a" * 63 + ".example.com"
    result = run_playbook("converge.yml", role_vars)
    assert result.rc == 0, result
    assert role_vars["gcp_storage_bucket_name"] in standin.state()["buckets"]


def _member(run_playbook, tmp_path, standin, **test_vars):
    out = tmp_path / ("result-%s.json" % uuid.uuid4().hex)
    result = run_playbook(
        "iam_member.yml", dict(test_vars, test_key_file=standin.deployer_key, test_result_file=str(out)), "--diff"
    )
    return result, (json.loads(out.read_text()) if out.exists() else None)


def test_gcp_iam_member_etag_conflicts_absent_and_errors(standin, run_playbook, role_vars, tmp_path):
    assert run_playbook("converge.yml", role_vars).rc == 0
    sa = SA_EMAIL % standin.project
    viewer = {"test_bucket": BUCKET, "test_role": "roles/storage.objectViewer", "test_member": "user:ada@example.com"}

    standin.inject({"op": "bucket.setIamPolicy"}, {"op": "bucket.setIamPolicy"})
    result, module = _member(run_playbook, tmp_path, standin, **viewer)
    assert result.rc == 0, result
    assert module["changed"] and module["attempts"] == 3
    assert module["members"] == ["user:ada@example.com"]
    assert '+    "user:ada@example.com"' in result.out or "user:ada@example.com" in result.out
    policy = standin.state()["bucket_policies"][BUCKET]
    assert role_members(policy, "roles/storage.objectViewer") == ["user:ada@example.com"]
    assert role_members(policy, "roles/storage.objectAdmin") == ["serviceAccount:" + sa]

    standin.inject({"op": "bucket.setIamPolicy"})
    result, module = _member(run_playbook, tmp_path, standin, test_state="absent", test_retries=0, **viewer)
    assert result.rc != 0 and "Precondition Failed" in result.out, result
    assert role_members(standin.state()["bucket_policies"][BUCKET], "roles/storage.objectViewer") == [
        "user:ada@example.com"
    ]

    result, module = _member(run_playbook, tmp_path, standin, test_state="absent", **viewer)
    assert result.rc == 0 and module["changed"] and module["members"] == [], result
    assert role_members(standin.state()["bucket_policies"][BUCKET], "roles/storage.objectViewer") == []
    result, module = _member(run_playbook, tmp_path, standin, test_state="absent", **viewer)
    assert result.rc == 0 and not module["changed"], result

    standin.inject({"op": "serviceAccount.setIamPolicy"})
    result, module = _member(
        run_playbook,
        tmp_path,
        standin,
        test_service_account=sa,
        test_role="roles/iam.serviceAccountTokenCreator",
        test_member="group:ops@example.com",
    )
    assert result.rc == 0 and module["attempts"] == 2, result
    assert role_members(standin.state()["sa_policies"][sa], "roles/iam.serviceAccountTokenCreator") == [
        "group:ops@example.com"
    ]
    # The earlier Workload Identity grant survived the read-modify-write.
    assert len(role_members(standin.state()["sa_policies"][sa], "roles/iam.workloadIdentityUser")) == 1

    result, module = _member(
        run_playbook,
        tmp_path,
        standin,
        test_bucket="no-such-bucket-here",
        test_role="roles/storage.objectViewer",
        test_member="user:ada@example.com",
    )
    assert result.rc != 0 and "The specified bucket does not exist." in result.out, result

    # An account that never appears: the module waits propagation_timeout, then reports IAM's error.
    ghost = "serviceAccount:ghost-account@%s.iam.gserviceaccount.com" % standin.project
    standin.clear_requests()
    result, module = _member(
        run_playbook,
        tmp_path,
        standin,
        test_bucket=BUCKET,
        test_propagation_timeout=3,
        test_role="roles/storage.objectViewer",
        test_member=ghost,
    )
    assert result.rc != 0 and "ghost-account@%s.iam.gserviceaccount.com does not exist" % standin.project in result.out
    ghost_writes = [r for r in standin.requests() if r["method"] == "PUT" and r.get("status") == 400]
    # One write at once, one when the timeout is reached.
    assert len(ghost_writes) == 2

    # A pool that does not exist is rejected by IAM, and the error reaches the user.
    result, module = _member(
        run_playbook,
        tmp_path,
        standin,
        test_service_account=sa,
        test_role="roles/iam.workloadIdentityUser",
        test_member="serviceAccount:other-project.svc.id.goog[ns/ksa]",
    )
    assert result.rc != 0 and "Identity Pool does not exist" in result.out, result


# ---------------------------------------------------------------------------------------------
# key mode: the Secret lands in the local cluster's real API server.


@pytest.fixture
def kube():
    kubeconfig = os.environ.get("K8S_AUTH_KUBECONFIG")
    assert kubeconfig, "key-mode tests need the local cluster: run them through tests/suites/40-gcp-storage.sh"
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    namespaces = []
    yield api, namespaces
    # Leave no gcs-creds Secret behind, not even in a terminating namespace: later suites verify
    # that the local deployment has none.
    for name in namespaces:
        for delete, args in ((api.delete_namespaced_secret, ("gcs-creds", name)), (api.delete_namespace, (name,))):
            try:
                delete(*args)
            except ApiException as exc:
                # A test that failed before the role created them leaves nothing to delete.
                if exc.status != 404:
                    raise
    deadline = time.time() + 120
    while any(ns.metadata.name in namespaces for ns in api.list_namespace().items):
        assert time.time() < deadline, "test namespaces %s were not deleted" % namespaces
        time.sleep(1)


def _read_key(api, namespace):
    secret = api.read_namespaced_secret("gcs-creds", namespace)
    assert set(secret.data) == {"gcs.json"}
    return json.loads(base64.b64decode(secret.data["gcs.json"]))


def test_key_mode_stores_one_key_once(standin, run_playbook, role_vars, kube):
    api, namespaces = kube
    namespace = "gcs-test-" + uuid.uuid4().hex[:8]
    namespaces.append(namespace)
    role_vars.update(gcp_storage_credentials_mode="key", gcp_storage_k8s_namespace=namespace)
    sa = SA_EMAIL % standin.project

    check = run_playbook("converge.yml", role_vars, "--check")
    assert check.rc == 0, check
    assert standin.writes() == []

    # --diff and -v: a Secret or key leaking into diffs or results would show up here.
    first = run_playbook("converge.yml", role_vars, "--diff", "-v")
    assert first.rc == 0, first
    assert first.recap["changed"] >= 6, first
    key = _read_key(api, namespace)
    assert key["client_email"] == sa and key["type"] == "service_account"
    user_keys = [k for k in standin.state()["keys"].values() if k["email"] == sa]
    assert [k["name"].rsplit("/", 1)[1] for k in user_keys] == [key["private_key_id"]]
    # Key mode grants no Workload Identity.
    assert "bindings" not in standin.state()["sa_policies"][sa]
    # The key file never stays on the controller.
    assert_no_key_on_disk(run_playbook.controller_tmp)
    assert facts(role_vars)["gcp_storage_credentials_secret"] == "gcs-creds"
    assert facts(role_vars)["gcp_storage_credentials_secret_key"] == "gcs.json"
    assert facts(role_vars)["gcp_storage_service_account_annotations"] == {}

    # The stored key really works: the token endpoint verifies a JWT signed with it.
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    # With the grant on the bucket it can write and read objects there, as MLflow does, but
    # not read the bucket's metadata or IAM policy (objectAdmin, not storage.admin).
    session = standin.session()
    creds = service_account.Credentials.from_service_account_info(
        key, scopes=["https://www.googleapis.com/auth/devstorage.read_write"]
    )
    creds.refresh(Request(session))
    auth = {"Authorization": "Bearer " + creds.token}
    upload = session.post(
        "https://storage.googleapis.com/upload/storage/v1/b/%s/o" % BUCKET,
        params={"uploadType": "media", "name": "mlflow/0/run/artifacts/model.pkl"},
        data=b"model bytes",
        headers=auth,
        timeout=30,
    )
    assert upload.status_code == 200, upload.text
    download = session.get(
        "https://storage.googleapis.com/storage/v1/b/%s/o/%s" % (BUCKET, "mlflow%2F0%2Frun%2Fartifacts%2Fmodel.pkl"),
        params={"alt": "media"},
        headers=auth,
        timeout=30,
    )
    assert download.status_code == 200 and download.content == b"model bytes"
    for path in ("b/%s" % BUCKET, "b/%s/iam" % BUCKET):
        denied = session.get("https://storage.googleapis.com/storage/v1/" + path, headers=auth, timeout=30)
        assert denied.status_code == 403, (path, denied.text)
    other = session.get(
        "https://storage.googleapis.com/storage/v1/b/%s/o/%s" % ("other-bucket", "x"), headers=auth, timeout=30
    )
    assert other.status_code == 403

    standin.clear_requests()
    second = run_playbook("converge.yml", role_vars)
    assert second.rc == 0 and second.recap["changed"] == 0, second
    assert standin.writes() == []
    assert _read_key(api, namespace)["private_key_id"] == key["private_key_id"]

    check = run_playbook("converge.yml", role_vars, "--check", "--diff")
    assert check.rc == 0 and check.recap["changed"] == 0, check
    outputs = check.out + second.out + first.out
    pem_line = key["private_key"].splitlines()[5]
    encoded = base64.b64encode(json.dumps(key).encode()).decode()
    raw_secret = api.read_namespaced_secret("gcs-creds", namespace).data["gcs.json"]
    for secret_text in ("BEGIN PRIVATE KEY", pem_line, raw_secret[100:160], encoded[100:160]):
        assert secret_text not in outputs
    assert len([k for k in standin.state()["keys"].values() if k["email"] == sa]) == 1

    # Deleting the Secret is how a user asks for a new key.
    api.delete_namespaced_secret("gcs-creds", namespace)
    renewed = run_playbook("converge.yml", role_vars)
    assert renewed.rc == 0 and renewed.recap["changed"] >= 1, renewed
    assert _read_key(api, namespace)["private_key_id"] != key["private_key_id"]
    assert_no_key_on_disk(run_playbook.controller_tmp)


def test_key_mode_refuses_a_key_of_another_account(standin, run_playbook, role_vars, kube):
    namespaces = kube[1]
    namespace = "gcs-test-" + uuid.uuid4().hex[:8]
    namespaces.append(namespace)
    role_vars.update(gcp_storage_credentials_mode="key", gcp_storage_k8s_namespace=namespace)
    assert run_playbook("converge.yml", role_vars).rc == 0
    role_vars["gcp_storage_service_account_id"] = "mlflow-other"
    result = run_playbook("converge.yml", role_vars)
    assert result.rc != 0 and "Delete the Secret to have a new key created" in result.out, result
    assert len([k for k in standin.state()["keys"].values() if k["email"].startswith("mlflow-other@")]) == 0


def test_key_mode_revokes_a_key_that_cannot_be_stored(standin, run_playbook, role_vars, kube):
    from kubernetes import client

    api, namespaces = kube
    namespace = "gcs-test-" + uuid.uuid4().hex[:8]
    namespaces.append(namespace)
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    # The API server's quota admission refuses the Secret once the quota controller has
    # published the limit.
    api.create_namespaced_resource_quota(
        namespace,
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="no-secrets"), spec=client.V1ResourceQuotaSpec(hard={"secrets": "0"})
        ),
    )
    deadline = time.time() + 60
    while not (api.read_namespaced_resource_quota("no-secrets", namespace).status.hard or {}):
        assert time.time() < deadline, "quota controller never published the ResourceQuota status"
        time.sleep(0.5)

    role_vars.update(gcp_storage_credentials_mode="key", gcp_storage_k8s_namespace=namespace)
    result = run_playbook("converge.yml", role_vars)
    assert result.rc != 0 and "the new key was revoked" in result.out, result
    sa = SA_EMAIL % standin.project
    assert [k for k in standin.state()["keys"].values() if k["email"] == sa] == []
    deletes = [r for r in standin.requests() if r["method"] == "DELETE" and "/keys/" in r["path"]]
    assert len(deletes) == 1
    assert_no_key_on_disk(run_playbook.controller_tmp)
    assert "BEGIN PRIVATE KEY" not in result.out


def test_bucket_name_taken_by_another_project_fails_with_googles_message(standin, run_playbook, role_vars):
    role_vars["gcp_storage_bucket_name"] = "mlflow-artifacts-taken"
    result = run_playbook("converge.yml", role_vars)
    assert result.rc != 0, result
    assert "does not have storage.buckets.get access" in result.out, result
    # Nothing after the bucket task ran.
    assert SA_EMAIL % standin.project not in standin.state()["service_accounts"]
    assert standin.writes() == []
