"""playbooks/awx_configure.yml applied to the AWX API stand-in (tests/awx/awx_standin.py).

Shows what the playbook creates (and that the objects reference each other correctly), that a
second run changes nothing, and that check mode changes nothing.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from awx_standin import SECRET, AwxStandin
from conftest import AWX_DIR, REPO, ansible_env, load_yaml

SECRETS = {
    "awx_configure_k8s_bearer_token": "k8s-token-never-printed",
    "awx_configure_gcp_private_key": "-----BEGIN PRIVATE KEY-----\nnever-printed\n-----END PRIVATE KEY-----\n",
    "awx_configure_vault_password": "vault-password-never-printed",
}
VARS = {
    "awx_configure_scm_url": "https://github.com/example/mlflow-k8s-platform.git",
    "awx_configure_ee_image": "registry.example.com/mlflow-k8s-ee:1.0.0",
    "awx_configure_inventory_source_path": "",
    "awx_configure_k8s_host": "https://203.0.113.10",
    "awx_configure_k8s_ca_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "awx_configure_gcp_service_account_email": "deployer@my-project-42.iam.gserviceaccount.com",
    "awx_configure_gcp_project": "my-project-42",
    **SECRETS,
}


@pytest.fixture
def awx():
    with AwxStandin() as standin:
        yield standin


def _apply(awx, collections_path, extra, *args):
    env = ansible_env(collections_path) | {
        "CONTROLLER_HOST": awx.url,
        "CONTROLLER_OAUTH_TOKEN": awx.state.token,
        "CONTROLLER_VERIFY_SSL": "false",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
    }
    result = subprocess.run(
        ["ansible-playbook", "playbooks/awx_configure.yml", "-e", json.dumps(extra), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # Every secret value above contains this marker; none may reach the output.
    assert "never-printed" not in output
    return json.loads(result.stdout)["stats"]["localhost"]


def test_creates_everything_wired_together(awx, awx_collections_path):
    stats = _apply(awx, awx_collections_path, VARS)
    assert stats["changed"] > 0 and stats["failures"] == 0
    org = awx.one("organizations", "MLflow")
    ee = awx.one("execution_environments", "mlflow_k8s.platform")
    assert (ee["image"], ee["pull"], ee["organization"]) == (VARS["awx_configure_ee_image"], "missing", org["id"])
    project = awx.one("projects", "mlflow_k8s.platform")
    assert project["scm_url"] == VARS["awx_configure_scm_url"] and project["scm_type"] == "git"
    assert (project["default_environment"], project["organization"]) == (ee["id"], org["id"])
    assert project["summary_fields"]["current_update"]["status"] == "successful"
    inventory = awx.one("inventories", "MLflow")
    host = awx.one("hosts", "localhost")
    assert host["inventory"] == inventory["id"]
    assert "ansible_connection: local" in host["variables"] or '"ansible_connection": "local"' in host["variables"]
    assert "{{ ansible_playbook_python }}" in host["variables"]

    types = {t["id"]: t["name"] for t in awx.state.objects["credential_types"].values()}
    credentials = {c["name"]: c for c in awx.state.objects["credentials"].values()}
    definitions = {c["key"]: c for c in load_yaml(AWX_DIR / "credentials.yml")["awx_credentials"]}
    assert set(credentials) == {d["name"] for d in definitions.values()}
    kube = credentials[definitions["kubernetes"]["name"]]
    assert types[kube["credential_type"]] == "OpenShift or Kubernetes API Bearer Token"
    assert kube["inputs"]["host"] == VARS["awx_configure_k8s_host"]
    assert kube["inputs"]["verify_ssl"] is True
    assert awx.state.secrets[kube["id"]]["bearer_token"] == SECRETS["awx_configure_k8s_bearer_token"]
    gcp = credentials[definitions["gcp"]["name"]]
    assert types[gcp["credential_type"]] == "Google Compute Engine"
    assert gcp["inputs"]["project"] == "my-project-42"
    vault = credentials[definitions["vault"]["name"]]
    assert awx.state.secrets[vault["id"]]["vault_password"] == SECRETS["awx_configure_vault_password"]

    for definition in load_yaml(AWX_DIR / "job_templates.yml")["awx_job_templates"]:
        jt = awx.one("job_templates", definition["name"])
        assert jt["playbook"] == definition["playbook"]
        assert (jt["project"], jt["inventory"], jt["execution_environment"]) == (
            project["id"],
            inventory["id"],
            ee["id"],
        )
        assert jt["survey_enabled"] is True
        assert awx.state.surveys[jt["id"]] == load_yaml(AWX_DIR / definition["survey"])
        linked = {awx.state.objects["credentials"][i]["name"] for i in awx.state.associations[jt["id"]]}
        assert linked == {definitions[k]["name"] for k in definition["credentials"]}
        assert jt["allow_simultaneous"] is False and jt["ask_job_type_on_launch"] is True


def test_second_run_and_check_mode_change_nothing(awx, awx_collections_path):
    _apply(awx, awx_collections_path, VARS)
    writes = len([r for r in awx.state.requests if r[0] != "GET"])
    assert _apply(awx, awx_collections_path, VARS)["changed"] == 0
    assert _apply(awx, awx_collections_path, VARS, "--check")["changed"] == 0
    assert len([r for r in awx.state.requests if r[0] != "GET"]) == writes


def test_rotating_secrets_is_explicit(awx, awx_collections_path):
    _apply(awx, awx_collections_path, VARS)
    rotated = VARS | {"awx_configure_k8s_bearer_token": "k8s-token-rotated"}
    kube = awx.one("credentials", "MLflow Kubernetes API")
    _apply(awx, awx_collections_path, rotated)
    assert awx.state.secrets[kube["id"]]["bearer_token"] == SECRETS["awx_configure_k8s_bearer_token"]
    _apply(awx, awx_collections_path, rotated | {"awx_configure_update_secrets": True})
    assert awx.state.secrets[kube["id"]]["bearer_token"] == "k8s-token-rotated"
    # The API never hands the stored secret back.
    listed = [r for r in awx.state.objects["credentials"].values() if r["id"] == kube["id"]]
    assert awx.state.public("credentials", listed[0])["inputs"]["bearer_token"] == SECRET


def test_without_gcp_and_vault(awx, awx_collections_path):
    no_cloud = {k: v for k, v in VARS.items() if not re.match(r"awx_configure_(gcp|vault)_", k)}
    _apply(awx, awx_collections_path, no_cloud | {"awx_configure_gcp_enabled": "false"})
    assert {c["name"] for c in awx.state.objects["credentials"].values()} == {"MLflow Kubernetes API"}
    for jt in awx.state.objects["job_templates"].values():
        assert [awx.state.objects["credentials"][i]["name"] for i in awx.state.associations[jt["id"]]] == [
            "MLflow Kubernetes API"
        ]
