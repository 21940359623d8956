"""Generated secrets of postgres_mlflow and oauth2_proxy: well formed, created once, kept by a
re-run, never printed (even at -vvv), and bad input fails before anything changes.

Fixtures from conftest.py: ``kube(*args)`` returns the parsed JSON of ``kubectl <args> -o json``.
"""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
NS = yaml.safe_load((REPO / "inventories/local/group_vars/all/postgres_mlflow.yml").read_text())[
    "postgres_mlflow_namespace"
]
# The cluster molecule started: MLFLOW_K8S_STATE moves it (as conftest.py's kube() knows), and a
# fixed default here would re-run the roles against another cluster than the one checked.
KUBECONFIG = os.environ.get(
    "KUBECONFIG", str(Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster")) / "kubeconfig")
)
GENERATED = {
    # Secret -> {key: length}
    "mlflow-postgres": {"postgres-password": 32, "tracking-password": 32, "auth-password": 32},
    "mlflow-admin": {"password": 32},
    "mlflow-flask": {"secret-key": 64},
    "mlflow-sso-bridge": {"password": 32},
    "oauth2-proxy-cookie": {"cookie-secret": 32},
}
# The two roles wired as playbooks/site.yml wires them, against the local inventory.
PLAYBOOK = """
- name: Re-run the MLflow and oauth2-proxy roles
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: mlflow_k8s.platform.postgres_mlflow
      vars:
        postgres_mlflow_cluster_issuer: "{{ cert_manager_cluster_issuer }}"
        postgres_mlflow_ingress_class_name: "{{ ingress_nginx_class_name }}"
    - role: mlflow_k8s.platform.oauth2_proxy
      vars:
        oauth2_proxy_cluster_issuer: "{{ cert_manager_cluster_issuer }}"
        oauth2_proxy_ingress_class_name: "{{ ingress_nginx_class_name }}"
        oauth2_proxy_upstream_url: "{{ postgres_mlflow_tracking_uri }}"
"""


def _secrets(kube):
    out = {}
    for name in GENERATED:
        obj = kube("-n", NS, "get", "secret", name)
        out[name] = {
            "uid": obj["metadata"]["uid"],
            "data": {k: base64.b64decode(v).decode() for k, v in obj["data"].items()},
        }
    return out


def _run(tmp_path, *extra):
    playbook = tmp_path / "roles.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, K8S_AUTH_KUBECONFIG=KUBECONFIG, KUBECONFIG=KUBECONFIG, ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            shutil.which("ansible-playbook") or "ansible-playbook",
            "-i",
            str(REPO / "inventories/local"),
            str(playbook),
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _recap(output):
    match = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-3000:]
    return {k: int(v) for k, v in zip(("ok", "changed", "unreachable", "failed"), match.groups(), strict=False)}


def test_generated_values_have_the_required_shape(kube):
    values = _secrets(kube)
    seen = []
    for name, keys in GENERATED.items():
        data = values[name]["data"]
        for key, length in keys.items():
            assert re.fullmatch(r"[A-Za-z0-9]{%d}" % length, data[key]), (name, key)
            seen.append(data[key])
    assert len(set(seen)) == len(seen)
    # oauth2-proxy takes the cookie secret as raw bytes: it must be exactly 16, 24 or 32 of them.
    assert len(values["oauth2-proxy-cookie"]["data"]["cookie-secret"].encode()) == 32
    assert values["mlflow-admin"]["data"]["username"] == "admin"


def test_rerun_keeps_every_secret_and_prints_none_at_vvv(kube, tmp_path):
    before = _secrets(kube)
    proc = _run(tmp_path, "-vvv")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert _recap(output)["changed"] == 0
    after = _secrets(kube)
    assert after == before  # same objects (uid) and same values: nothing regenerated
    leaked = []
    for name, entry in after.items():
        for key, value in entry["data"].items():
            if key != "username" and (value in output or base64.b64encode(value.encode()).decode() in output):
                leaked.append((name, key))
    config = kube("-n", NS, "get", "secret", "mlflow-config")["data"]
    for key, value in config.items():
        if value in output or base64.b64decode(value).decode() in output:
            leaked.append(("mlflow-config", key))
    assert not leaked


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ("postgres_mlflow_api_host=https://mlflow-api.example.org", "postgres_mlflow_api_host"),
        ("postgres_mlflow_artifacts_destination=s3://bucket", "postgres_mlflow_artifacts_destination"),
        ("oauth2_proxy_github_org=", "oauth2_proxy_github_org"),
        ("oauth2_proxy_github_client_secret=", "oauth2_proxy_github_client_secret"),
        # Strings where lists belong: argument_specs would split them, the role would not.
        ("oauth2_proxy_github_teams=ml-platform", "oauth2_proxy_github_teams must be a list"),
        ("oauth2_proxy_email_domains=example.org", "oauth2_proxy_email_domains must be a list"),
        ("postgres_mlflow_extra_allowed_hosts=mlflow.internal", "postgres_mlflow_extra_allowed_hosts must be a list"),
        # Security floors, read from the image tag before anything changes.
        ("postgres_mlflow_image=ghcr.io/mlflow/mlflow:v3.16.0-full", "postgres_mlflow_image must be MLflow 3.16.1"),
        ("postgres_mlflow_image=ghcr.io/mlflow/mlflow:latest", "no version in the tag"),
        ("oauth2_proxy_image=quay.io/oauth2-proxy/oauth2-proxy:v7.15.1", "oauth2_proxy_image must be oauth2-proxy"),
        ("postgres_mlflow_prestop_delay_seconds=30", "postgres_mlflow_prestop_delay_seconds"),
        ("postgres_mlflow_tmp_storage_request=20Gi", "the request no larger than the limit"),
        ("oauth2_proxy_upstream_timeout=600", "oauth2_proxy_upstream_timeout must be a positive Go duration"),
        # 2 x 2 workers x 3 engines x (3 + 2) + 10 = 70 connections against max_connections 60.
        ("postgres_mlflow_postgres_max_connections=60", "is below what MLflow can open"),
    ],
)
def test_bad_input_fails_early_naming_the_variable(kube, tmp_path, override, variable):
    before = kube("-n", NS, "get", "deployment", "mlflow")["metadata"]["resourceVersion"]
    extra = ["-e", override]
    if variable.startswith("oauth2_proxy_"):
        extra += ["-e", '{"oauth2_proxy_github_users": []}']
    proc = _run(tmp_path, *extra)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # The variable's name, or the message that names it.
    assert variable in " ".join(output.split())
    assert _recap(output)["changed"] == 0
    assert kube("-n", NS, "get", "deployment", "mlflow")["metadata"]["resourceVersion"] == before
