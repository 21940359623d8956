"""Run the ingress_nginx and cert_manager roles through ansible-playbook against the local cluster.

* Bad input must fail in validation, naming the variable, before anything changed (the Helm
  release revisions stay the same and the play recap shows changed=0).
* After converge, a ``--check --diff`` run changes nothing, still waits for and exports the load
  balancer address and prints the DNS records; a pending change is reported but not applied.

Uses the ``helm`` fixture from conftest.py and the same cluster (KUBECONFIG, else
$MLFLOW_K8S_STATE/kubeconfig).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CACHE_BIN = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s")) / "bin"
# Same cluster as conftest.py's fixtures: $KUBECONFIG, else the harness's state directory.
STATE = Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
KUBECONFIG = os.environ.get("KUBECONFIG", str(STATE / "kubeconfig"))
RELEASES = {"ingress-nginx": "ingress-nginx", "cert-manager": "cert-manager"}

PLAYBOOK = """
- name: Run {roles} for a test
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: {kubeconfig}
    group/kubernetes.core.helm:
      kubeconfig: {kubeconfig}
  roles: {roles}
  post_tasks: {post_tasks}
"""


def _ansible_playbook():
    candidate = Path(sys.executable).with_name("ansible-playbook")
    return str(candidate) if candidate.exists() else shutil.which("ansible-playbook")


def run_playbook(tmp_path, roles, extra_vars=None, args=(), post_tasks=None):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        PLAYBOOK.format(
            roles=json.dumps([f"mlflow_k8s.platform.{r}" for r in roles]),
            kubeconfig=KUBECONFIG,
            post_tasks=json.dumps(post_tasks or []),
        )
    )
    command = [_ansible_playbook(), "-i", "inventories/local", str(playbook), *args]
    if extra_vars is not None:
        vars_file = tmp_path / "vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        command += ["-e", f"@{vars_file}"]
    env = {
        **os.environ,
        "PATH": f"{CACHE_BIN}:{os.environ['PATH']}",
        "KUBECONFIG": KUBECONFIG,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    return result.returncode, result.stdout + result.stderr


def kubectl(*args, stdin=""):
    return subprocess.run(
        [str(CACHE_BIN / "kubectl"), "--kubeconfig", KUBECONFIG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def recap(output):
    match = re.search(r"^localhost\s*:\s*(ok=.*)$", output, re.MULTILINE)
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.fixture
def revisions(helm):
    def read():
        found = {}
        for release, namespace in RELEASES.items():
            listed = json.loads(helm("list", "--namespace", namespace, "--output", "json"))
            found[release] = [(r["revision"], r["status"]) for r in listed if r["name"] == release]
        return found

    return read


RESERVED_EMAIL = "cert_manager_acme_email is at a reserved domain"
BAD_INPUT = [
    ("ingress_nginx", {"ingress_nginx_chart_version": ""}, "ingress_nginx_chart_version"),
    ("ingress_nginx", {"ingress_nginx_chart_version": "latest"}, "ingress_nginx_chart_version"),
    ("ingress_nginx", {"ingress_nginx_chart_version": "^4.15.0"}, "ingress_nginx_chart_version"),
    ("ingress_nginx", {"ingress_nginx_chart_version": ">=4.0.0 <5.0.0"}, "ingress_nginx_chart_version"),
    # The pin is checked against a local chart too: Helm itself ignores --version for directories.
    (
        "ingress_nginx",
        {"ingress_nginx_chart_version": "4.15.0"},
        "ingress_nginx_chart_version pins ingress-nginx 4.15.0",
    ),
    ("ingress_nginx", {"ingress_nginx_dns_hosts": ["mlflow.example.com", "not a host"]}, "ingress_nginx_dns_hosts"),
    ("ingress_nginx", {"ingress_nginx_dns_hosts": ["mlflow_ui.example.com"]}, "ingress_nginx_dns_hosts"),
    ("ingress_nginx", {"ingress_nginx_dns_hosts": "mlflow.example.com"}, "ingress_nginx_dns_hosts must be a list"),
    ("ingress_nginx", {"ingress_nginx_load_balancer_ip": "203.0.113.300"}, "ingress_nginx_load_balancer_ip"),
    ("ingress_nginx", {"ingress_nginx_class_name": "Nginx"}, "ingress_nginx_class_name"),
    ("ingress_nginx", {"ingress_nginx_replicas": 0}, "ingress_nginx_replicas"),
    ("ingress_nginx", {"ingress_nginx_admission_webhook_port": 443}, "ingress_nginx_admission_webhook_port"),
    ("cert_manager", {"cert_manager_acme_email": ""}, "cert_manager_acme_email"),
    ("cert_manager", {"cert_manager_acme_email": "ops@localhost"}, "cert_manager_acme_email"),
    ("cert_manager", {"cert_manager_acme_email": "ops example.com"}, "cert_manager_acme_email"),
    # Let's Encrypt refuses these contacts: the run must fail here, not at account registration.
    ("cert_manager", {"cert_manager_acme_email": "ops@example.com"}, RESERVED_EMAIL),
    ("cert_manager", {"cert_manager_acme_email": "ops@Mail.Example.Net"}, RESERVED_EMAIL),
    ("cert_manager", {"cert_manager_acme_email": "ops@ci.test"}, RESERVED_EMAIL),
    ("cert_manager", {"cert_manager_chart_version": "latest"}, "cert_manager_chart_version"),
    ("cert_manager", {"cert_manager_chart_version": "v1.21"}, "cert_manager_chart_version"),
    ("cert_manager", {"cert_manager_cluster_issuer": "letsencrypt"}, "cert_manager_cluster_issuer"),
    (
        "cert_manager",
        {"cert_manager_cluster_issuer": "letsencrypt-production", "cert_manager_letsencrypt_issuers_enabled": False},
        "cert_manager_letsencrypt_issuers_enabled is false",
    ),
    (
        "cert_manager",
        {"cert_manager_cluster_issuer": "selfsigned-ca", "cert_manager_selfsigned_ca_enabled": False},
        "cert_manager_selfsigned_ca_enabled is false",
    ),
]


@pytest.mark.parametrize(
    ("role", "bad_vars", "expected"),
    BAD_INPUT,
    ids=[f"{role}-{'-'.join(f'{k}={v}' for k, v in bad.items())}" for role, bad, _expected in BAD_INPUT],
)
def test_bad_input_fails_before_any_change(tmp_path, revisions, role, bad_vars, expected):
    before = revisions()
    rc, output = run_playbook(tmp_path, [role], bad_vars)
    assert rc != 0, output[-3000:]
    # The YAML callback wraps long messages; compare with whitespace collapsed.
    assert expected in " ".join(output.split()), output[-3000:]
    assert recap(output)["changed"] == 0
    assert recap(output)["failed"] == 1
    # Nothing past validation ran: neither the release task nor any Kubernetes object task.
    assert "Install or upgrade the" not in output
    assert "Manage the " not in output
    assert revisions() == before


def test_check_diff_run_after_converge_changes_nothing_and_exports_the_address(tmp_path, revisions):
    before = revisions()
    post_tasks = [
        {
            "name": "Check the exported load balancer address",
            "ansible.builtin.assert": {"that": ["ingress_nginx_external_address == '203.0.113.200'"]},
        }
    ]
    rc, output = run_playbook(
        tmp_path, ["ingress_nginx", "cert_manager"], args=("--check", "--diff"), post_tasks=post_tasks
    )
    assert rc == 0, output[-4000:]
    assert recap(output)["changed"] == 0, output[-4000:]
    assert "mlflow.mlflow-k8s.test.  A  203.0.113.200" in output
    assert "mlflow-api.mlflow-k8s.test.  A  203.0.113.200" in output
    assert revisions() == before


def test_check_mode_reports_a_pending_change_without_applying_it(tmp_path, revisions):
    before = revisions()
    rc, output = run_playbook(tmp_path, ["ingress_nginx"], {"ingress_nginx_replicas": 3}, args=("--check", "--diff"))
    assert rc == 0, output[-4000:]
    # The helm task and the task rendering its diff (kubernetes.core.helm returns none without helm-diff).
    assert recap(output)["changed"] == 2, output[-4000:]
    assert re.search(r'^-\s+"replicaCount": 1,?$', output, re.MULTILINE), output[-4000:]
    assert re.search(r'^\+\s+"replicaCount": 3,?$', output, re.MULTILINE), output[-4000:]
    assert revisions() == before


TIMEOUT_NAMESPACE = "ingress-timeout-test"
# Stops the harness's load-balancer stand-in from giving Services in TIMEOUT_NAMESPACE an address,
# as a cloud without load-balancer quota would: status updates there are refused by the API
# server itself (a ValidatingAdmissionPolicy; no webhook is involved).
NO_ADDRESS_POLICY = [
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "test-no-load-balancer-address"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["services/status"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": "no load balancer in this test namespace"}],
        },
    },
    {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "test-no-load-balancer-address"},
        "spec": {
            "policyName": "test-no-load-balancer-address",
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": TIMEOUT_NAMESPACE}}
            },
        },
    },
]


@pytest.fixture
def no_load_balancer(helm):
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": NO_ADDRESS_POLICY}))
    yield
    if any(r["name"] == "ingress-nginx" for r in json.loads(helm("list", "-n", TIMEOUT_NAMESPACE, "-o", "json"))):
        helm("uninstall", "ingress-nginx", "--namespace", TIMEOUT_NAMESPACE, "--wait")
    kubectl("delete", "namespace", TIMEOUT_NAMESPACE, "--ignore-not-found", "--wait=false")
    for item in reversed(NO_ADDRESS_POLICY):
        kubectl("delete", item["kind"].lower(), item["metadata"]["name"], "--ignore-not-found")


def test_no_load_balancer_address_fails_with_a_message_naming_the_timeout(tmp_path, no_load_balancer):
    rc, output = run_playbook(
        tmp_path,
        ["ingress_nginx"],
        {
            "ingress_nginx_namespace": TIMEOUT_NAMESPACE,
            "ingress_nginx_class_name": "nginx-timeout-test",
            "ingress_nginx_load_balancer_ip": "",
            "ingress_nginx_external_address_timeout": 6,
        },
    )
    assert rc != 0, output[-4000:]
    flat = " ".join(output.split())
    assert (
        f"The Service {TIMEOUT_NAMESPACE}/ingress-nginx-controller got no external address within 6 seconds"
        " (ingress_nginx_external_address_timeout)" in flat
    ), output[-4000:]
    assert recap(output)["rescued"] == 1
    assert recap(output)["failed"] == 1
    service = kubectl("get", "service", "ingress-nginx-controller", "-n", TIMEOUT_NAMESPACE, "-o", "json").stdout
    assert json.loads(service)["status"]["loadBalancer"] == {}
