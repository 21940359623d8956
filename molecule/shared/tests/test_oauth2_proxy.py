"""Verify the oauth2_proxy role after converge on the local cluster (inventories/local values).

Fixtures from conftest.py: ``kube(*args)`` returns the parsed JSON of ``kubectl <args> -o json``.
"""

import base64
import hashlib
from pathlib import Path

import pytest
import yaml
from conftest import LARGE_ARTIFACT_ANNOTATIONS, local_image, soft_spread

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/oauth2_proxy/defaults/main.yml").read_text())
LOCAL = {**DEFAULTS, **yaml.safe_load((REPO / "inventories/local/group_vars/all/oauth2_proxy.yml").read_text())}
PM_LOCAL = yaml.safe_load((REPO / "inventories/local/group_vars/all/postgres_mlflow.yml").read_text())
NS = LOCAL["oauth2_proxy_namespace"]
UI_HOST = PM_LOCAL["postgres_mlflow_ui_host"]  # oauth2_proxy_ui_host refers to it


@pytest.fixture(scope="module")
def deployment(kube):
    return kube("-n", NS, "get", "deployment", "oauth2-proxy")


@pytest.fixture(scope="module")
def container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def alpha(kube):
    return kube("-n", NS, "get", "configmap", "oauth2-proxy")["data"]["alpha-config.yaml"]


def _version(image):
    return tuple(int(x) for x in image.rsplit(":v", 1)[1].split("."))


def test_deployment_runs_a_fixed_oauth2_proxy_release(deployment, container):
    assert DEFAULTS["oauth2_proxy_image"].startswith("quay.io/oauth2-proxy/oauth2-proxy:v")
    assert _version(DEFAULTS["oauth2_proxy_image"]) >= (7, 15, 3)
    assert container["image"] == local_image("oauth2-proxy")
    # 7.15.2 fixed two authentication bypasses; 7.15.3 is the floor the design sets.
    assert _version(container["image"]) >= (7, 15, 3)
    assert deployment["status"].get("readyReplicas") == LOCAL["oauth2_proxy_replicas"]


def test_cookie_and_proxy_flags(container):
    args = container["args"]
    for expected in (
        "--alpha-config=/etc/oauth2-proxy/alpha-config.yaml",
        "--redirect-url=https://%s/oauth2/callback" % UI_HOST,
        "--reverse-proxy=true",
        "--cookie-secure=true",
        "--cookie-httponly=true",
        "--cookie-name=__Host-mlflow-sso",
        "--cookie-samesite=lax",
        "--cookie-expire=" + LOCAL["oauth2_proxy_cookie_expire"],
        "--email-domain=*",
    ):
        assert expected in args
    # Provider, upstream and header flags live in the alpha config; mixing them is an error.
    assert not [a for a in args if a.startswith(("--github-", "--upstream", "--pass-basic-auth", "--provider"))]


def test_secrets_reach_the_container_only_through_secret_refs(container):
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == {
        "OAUTH2_PROXY_COOKIE_SECRET",
        "MLFLOW_BRIDGE_PASSWORD",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
    }
    assert all("value" not in e for e in env.values())
    assert env["OAUTH2_PROXY_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "oauth2-proxy-cookie",
        "key": "cookie-secret",
    }
    assert env["MLFLOW_BRIDGE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-sso-bridge",
        "key": "password",
    }
    assert env["GITHUB_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "oauth2-proxy-github",
        "key": "client-secret",
    }


def test_alpha_config_github_restrictions_and_injected_basic_auth(kube, alpha):
    cfg = yaml.safe_load(alpha)
    (upstream,) = cfg["upstreamConfig"]["upstreams"]
    assert upstream == {
        "id": "mlflow",
        "path": "/",
        "uri": "http://mlflow.%s.svc.cluster.local:5000" % NS,
        "passHostHeader": True,
        # MLflow may stage a whole artifact before it answers; oauth2-proxy's default is 30s.
        "timeout": "600s",
    }
    (header,) = cfg["injectRequestHeaders"]
    assert header == {
        "name": "Authorization",
        "preserveRequestValue": False,
        "values": [{"claimSource": {"claim": "email", "basicAuthPassword": {"fromEnv": "MLFLOW_BRIDGE_PASSWORD"}}}],
    }
    (provider,) = cfg["providers"]
    assert provider["provider"] == "github"
    assert provider["clientID"] == "${GITHUB_CLIENT_ID}" and provider["clientSecret"] == "${GITHUB_CLIENT_SECRET}"
    assert provider["githubConfig"] == {
        "org": LOCAL["oauth2_proxy_github_org"],
        "team": ",".join(LOCAL["oauth2_proxy_github_teams"]),
    }
    assert "read:org" in provider["scope"].split()
    assert cfg["server"]["bindAddress"] == "0.0.0.0:4180"
    # The ConfigMap carries no secret value.
    assert LOCAL["oauth2_proxy_github_client_secret"] not in alpha
    for name in ("oauth2-proxy-cookie", "mlflow-sso-bridge"):
        for value in kube("-n", NS, "get", "secret", name)["data"].values():
            assert base64.b64decode(value).decode() not in alpha


def test_github_credentials_secret_and_checksum(kube, deployment, alpha):
    data = {
        k: base64.b64decode(v).decode()
        for k, v in kube("-n", NS, "get", "secret", "oauth2-proxy-github")["data"].items()
    }
    assert data == {
        "client-id": LOCAL["oauth2_proxy_github_client_id"],
        "client-secret": LOCAL["oauth2_proxy_github_client_secret"],
    }
    expected = hashlib.sha256((alpha + data["client-id"] + data["client-secret"]).encode()).hexdigest()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == expected


def test_probes_and_security_context(deployment, container):
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/ping"
    spec = deployment["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"] == LOCAL["oauth2_proxy_resources"]


def test_replicas_spread_softly_over_zones_and_nodes(deployment):
    assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"] == soft_spread(
        {"app.kubernetes.io/name": "oauth2-proxy", "app.kubernetes.io/instance": "oauth2-proxy"}
    )


def test_pods_are_ready(kube):
    pods = kube("-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=oauth2-proxy")["items"]
    ready = [
        p
        for p in pods
        if p["metadata"].get("deletionTimestamp") is None
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]
    assert len(ready) == LOCAL["oauth2_proxy_replicas"]


def test_service_pdb_network_policy(kube):
    svc = kube("-n", NS, "get", "service", "oauth2-proxy")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 4180, "protocol": "TCP", "targetPort": "http"}]
    assert kube("-n", NS, "get", "pdb", "oauth2-proxy")["spec"]["maxUnavailable"] == 1
    (rule,) = kube("-n", NS, "get", "networkpolicy", "oauth2-proxy")["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": LOCAL["oauth2_proxy_ingress_controller_namespace"]}
            }
        }
    ]


def test_ui_host_ingress_has_tls_from_the_cluster_issuer(kube):
    ing = kube("-n", NS, "get", "ingress", "oauth2-proxy")
    issuer = yaml.safe_load((REPO / "inventories/local/group_vars/all/cert_manager.yml").read_text())[
        "cert_manager_cluster_issuer"
    ]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer
    nginx = {k: v for k, v in ing["metadata"]["annotations"].items() if k.startswith("nginx.")}
    # The API host's large-artifact settings, and room for GitHub's and the session's cookies.
    assert nginx == {**LARGE_ARTIFACT_ANNOTATIONS, "nginx.ingress.kubernetes.io/proxy-buffer-size": "16k"}
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": [UI_HOST], "secretName": "oauth2-proxy-tls"}]
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == UI_HOST
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "oauth2-proxy", "port": {"name": "http"}}
