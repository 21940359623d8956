"""Verify the cert_manager role after converge on the local cluster (inventories/local values):
the upstream chart of the pinned version, its controller, webhook and cainjector running on the
real node, the issuers Ready where they can be, and certificates really issued.

Fixtures from conftest.py: ``kube(*args)`` returns the parsed JSON of ``kubectl <args> -o json``
against the test cluster, ``helm(*args)`` returns helm's stdout.
"""

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE_DEFAULTS = yaml.safe_load((REPO / "roles/cert_manager/defaults/main.yml").read_text())
LOCAL = {**ROLE_DEFAULTS, **yaml.safe_load((REPO / "inventories/local/group_vars/all/cert_manager.yml").read_text())}
NAMESPACE = LOCAL["cert_manager_namespace"]
RELEASE = "cert-manager"
LABELS = {"app.kubernetes.io/managed-by": "mlflow_k8s.platform.cert_manager"}
ACME_SERVERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-production": "https://acme-v02.api.letsencrypt.org/directory",
}


def _kubectl_may_fail(*args, stdin=""):
    """Run kubectl where a non-zero exit is the expected outcome (the kube fixture expects success)."""
    cache = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
    state = Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
    kubeconfig = os.environ.get("KUBECONFIG", str(state / "kubeconfig"))
    return subprocess.run(
        [str(cache / "bin/kubectl"), "--kubeconfig", kubeconfig, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def release(helm):
    releases = json.loads(helm("list", "--namespace", NAMESPACE, "--output", "json"))
    matching = [r for r in releases if r["name"] == RELEASE]
    assert len(matching) == 1, f"release {RELEASE} not found in {NAMESPACE}: {releases}"
    return matching[0]


def test_local_inventory_uses_the_pinned_upstream_chart_and_local_images(helm):
    assert ROLE_DEFAULTS["cert_manager_chart_ref"] == "oci://quay.io/jetstack/charts/cert-manager"
    assert ROLE_DEFAULTS["cert_manager_chart_version"] == "v1.21.2"
    assert LOCAL["cert_manager_chart_version"] == ROLE_DEFAULTS["cert_manager_chart_version"]
    # The real chart, from cert-manager's Go module zip (tests/cluster/charts.sh), not a fixture.
    cache = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
    chart_dir = cache / "charts/cert-manager-v1.21.2/cert-manager"
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    assert (chart["name"], chart["version"], chart["appVersion"]) == ("cert-manager", "v1.21.2", "v1.21.2")
    assert (chart_dir / "templates/webhook-validating-webhook.yaml").is_file()
    values = json.loads(helm("get", "values", RELEASE, "--namespace", NAMESPACE, "--output", "json"))
    assert values["image"]["repository"] == "localhost/mlflow-k8s/cert-manager-controller"
    assert values["webhook"]["image"]["repository"] == "localhost/mlflow-k8s/cert-manager-webhook"


def test_release_deployed_at_pinned_version(release):
    assert release["status"] == "deployed"
    assert release["chart"] == f"cert-manager-{LOCAL['cert_manager_chart_version']}"
    assert release["app_version"] == "v1.21.2"


def test_release_installs_and_keeps_crds(helm):
    values = json.loads(helm("get", "values", RELEASE, "--namespace", NAMESPACE, "--output", "json"))
    assert values["crds"] == {"enabled": True, "keep": True}
    assert "installCRDs" not in values


@pytest.mark.parametrize("plural", ["clusterissuers", "issuers", "certificates"])
def test_crds_established_and_kept_on_uninstall(kube, plural):
    crd = kube("get", "customresourcedefinition", f"{plural}.cert-manager.io")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"


@pytest.mark.parametrize("name", ["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"])
def test_deployments_rolled_out_on_the_real_node(kube, name):
    deployment = kube("get", "deployment", name, "--namespace", NAMESPACE)
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 1
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    for pod in kube("get", "pods", "--namespace", NAMESPACE, "-l", selector)["items"]:
        assert pod["spec"]["nodeName"] == "mlflow-k8s-node"
        assert all(c["ready"] for c in pod["status"]["containerStatuses"])


def _ready(resource):
    return {c["type"]: c["status"] for c in resource["status"].get("conditions", [])}.get("Ready")


def test_the_selfsigned_ca_issuer_is_ready(kube):
    assert _ready(kube("get", "clusterissuer", "selfsigned-bootstrap")) == "True"
    assert _ready(kube("get", "clusterissuer", "selfsigned-ca")) == "True"


def _openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("secret", "host"),
    [("mlflow-api-tls", "mlflow-api.mlflow-k8s.test"), ("oauth2-proxy-tls", "mlflow.mlflow-k8s.test")],
)
def test_certificates_for_both_hosts_are_issued_by_the_local_ca(kube, tmp_path, secret, host):
    ca = base64.b64decode(kube("get", "secret", "selfsigned-ca-root", "--namespace", NAMESPACE)["data"]["ca.crt"])
    data = kube("get", "secret", secret, "--namespace", "mlflow")["data"]
    (tmp_path / "ca.pem").write_bytes(ca)
    (tmp_path / "leaf.pem").write_bytes(base64.b64decode(data["tls.crt"]))
    verify = _openssl(
        "verify", "-CAfile", str(tmp_path / "ca.pem"), "-verify_hostname", host, str(tmp_path / "leaf.pem")
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The key in the Secret belongs to the certificate.
    key_pub = _openssl("pkey", "-pubout", stdin=base64.b64decode(data["tls.key"]).decode()).stdout
    cert_pub = _openssl("x509", "-noout", "-pubkey", "-in", str(tmp_path / "leaf.pem")).stdout
    assert key_pub and key_pub == cert_pub


def test_the_webhook_really_rejects_an_invalid_certificate():
    # Denied by cert-manager's running webhook (the CRD schema allows a 1024-bit RSA key).
    weak = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "verify-weak-key", "namespace": "default"},
        "spec": {
            "secretName": "verify-weak-key",
            "dnsNames": ["weak.mlflow-k8s.test"],
            "privateKey": {"algorithm": "RSA", "size": 1024},
            "issuerRef": {"name": "selfsigned-ca", "kind": "ClusterIssuer"},
        },
    }
    result = _kubectl_may_fail("create", "--dry-run=server", "-f", "-", stdin=json.dumps(weak))
    assert result.returncode != 0
    assert 'admission webhook "webhook.cert-manager.io" denied the request' in result.stderr, result.stderr


@pytest.mark.parametrize("name", sorted(ACME_SERVERS))
def test_letsencrypt_cluster_issuer_spec(kube, name):
    issuer = kube("get", "clusterissuer", name)
    assert issuer["metadata"]["labels"] == LABELS
    assert issuer["spec"] == {
        "acme": {
            "email": LOCAL["cert_manager_acme_email"],
            "server": ACME_SERVERS[name],
            "privateKeySecretRef": {"name": f"{name}-account-key"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": LOCAL["cert_manager_ingress_class_name"]}}}],
        }
    }


def test_selfsigned_bootstrap_issuer(kube):
    issuer = kube("get", "clusterissuer", "selfsigned-bootstrap")
    assert issuer["spec"] == {"selfSigned": {}}


def test_selfsigned_root_ca_certificate(kube):
    certificate = kube("get", "certificate", "selfsigned-ca", "--namespace", NAMESPACE)
    assert certificate["spec"] == {
        "isCA": True,
        "commonName": LOCAL["cert_manager_selfsigned_ca_common_name"],
        "secretName": "selfsigned-ca-root",
        "duration": LOCAL["cert_manager_selfsigned_ca_duration"],
        "privateKey": {"algorithm": "ECDSA", "size": 256},
        "issuerRef": {"name": "selfsigned-bootstrap", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }


def test_selfsigned_ca_cluster_issuer(kube):
    issuer = kube("get", "clusterissuer", "selfsigned-ca")
    assert issuer["metadata"]["labels"] == LABELS
    assert issuer["spec"] == {"ca": {"secretName": "selfsigned-ca-root"}}


def test_selected_issuer_exists(kube):
    assert LOCAL["cert_manager_cluster_issuer"] == "selfsigned-ca"
    names = {item["metadata"]["name"] for item in kube("get", "clusterissuers")["items"]}
    assert names == {"letsencrypt-staging", "letsencrypt-production", "selfsigned-bootstrap", "selfsigned-ca"}


def test_api_server_rejects_a_clusterissuer_without_acme_server():
    # The upstream CRDs' required fields make the API server itself check the role's objects;
    # prove that by sending one it must refuse.
    bad = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "verify-missing-server"},
        "spec": {"acme": {"email": "a@example.org", "privateKeySecretRef": {"name": "x"}}},
    }
    result = _kubectl_may_fail("create", "--dry-run=server", "-f", "-", stdin=json.dumps(bad))
    assert result.returncode != 0
    assert "spec.acme.server: Required value" in result.stderr
