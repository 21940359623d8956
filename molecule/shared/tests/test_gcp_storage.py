"""Verify the gcp_storage role after converge on the local cluster (inventories/local values).

The local inventory has no GCP: the role must be disabled there, create nothing and leave no
credentials Secret. The role's Google side is tested against the stand-in in
tests/suites/40-gcp-storage.sh. Fixture from conftest.py: ``kube(*args)`` returns the parsed
JSON of ``kubectl <args> -o json`` against the test cluster.
"""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE_DEFAULTS = yaml.safe_load((REPO / "roles/gcp_storage/defaults/main.yml").read_text())
LOCAL = {**ROLE_DEFAULTS, **yaml.safe_load((REPO / "inventories/local/group_vars/all/gcp_storage.yml").read_text())}


def test_local_inventory_disables_gcp():
    assert ROLE_DEFAULTS["gcp_storage_enabled"] is True
    assert LOCAL["gcp_storage_enabled"] is False


def test_secure_defaults():
    assert ROLE_DEFAULTS["gcp_storage_credentials_mode"] == "workload_identity"
    assert ROLE_DEFAULTS["gcp_storage_bucket_role"] == "roles/storage.objectAdmin"


def test_no_credentials_secret_without_key_mode(kube):
    secrets = kube(
        "get",
        "secrets",
        "--all-namespaces",
        "--field-selector",
        "metadata.name=" + LOCAL["gcp_storage_credentials_secret_name"],
    )
    assert secrets["items"] == []


def test_no_workload_identity_annotation_without_gcp(kube):
    accounts = kube("get", "serviceaccounts", "--all-namespaces")["items"]
    annotated = [
        a["metadata"]["name"]
        for a in accounts
        if "iam.gke.io/gcp-service-account" in (a["metadata"].get("annotations") or {})
    ]
    assert annotated == []
