"""Verify the ingress_nginx role after converge on the local cluster (inventories/local values).

Fixtures from conftest.py: ``kube(*args)`` returns the parsed JSON of ``kubectl <args> -o json``
against the test cluster, ``helm(*args)`` returns helm's stdout.
"""

import ipaddress
import json
from pathlib import Path

import pytest
import yaml
from conftest import soft_spread

REPO = Path(__file__).resolve().parents[3]
ROLE_DEFAULTS = yaml.safe_load((REPO / "roles/ingress_nginx/defaults/main.yml").read_text())
LOCAL = {**ROLE_DEFAULTS, **yaml.safe_load((REPO / "inventories/local/group_vars/all/ingress_nginx.yml").read_text())}
NAMESPACE = LOCAL["ingress_nginx_namespace"]
RELEASE = "ingress-nginx"
CONTROLLER = "ingress-nginx-controller"


@pytest.fixture(scope="module")
def release(helm):
    releases = json.loads(helm("list", "--namespace", NAMESPACE, "--output", "json"))
    matching = [r for r in releases if r["name"] == RELEASE]
    assert len(matching) == 1, f"release {RELEASE} not found in {NAMESPACE}: {releases}"
    return matching[0]


@pytest.fixture(scope="module")
def values(helm):
    return json.loads(helm("get", "values", RELEASE, "--namespace", NAMESPACE, "--output", "json"))


def test_local_inventory_uses_the_pinned_upstream_version():
    # The fixture chart stands in for upstream; its version must be the role's pin, or the test
    # would exercise a different pin than users get.
    assert ROLE_DEFAULTS["ingress_nginx_chart_version"] == "4.15.1"
    assert LOCAL["ingress_nginx_chart_version"] == ROLE_DEFAULTS["ingress_nginx_chart_version"]
    chart = yaml.safe_load((REPO / "tests/fixtures/charts/ingress-nginx/Chart.yaml").read_text())
    assert (chart["name"], chart["version"], chart["appVersion"]) == ("ingress-nginx", "4.15.1", "1.15.1")


def test_release_deployed_at_pinned_version(release):
    assert release["status"] == "deployed"
    assert release["chart"] == f"ingress-nginx-{LOCAL['ingress_nginx_chart_version']}"
    assert release["app_version"] == "1.15.1"


def test_release_values_keep_snippets_off_and_webhook_on(values):
    controller = values["controller"]
    assert controller["allowSnippetAnnotations"] is False
    assert controller["admissionWebhooks"] == {"enabled": True, "port": 8443}
    labels = {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "controller",
    }
    assert controller["topologySpreadConstraints"] == soft_spread(labels)
    assert controller["service"]["type"] == "LoadBalancer"
    assert controller["service"]["enabled"] is True
    assert controller["service"]["external"] == {"enabled": True}
    assert controller["service"]["loadBalancerIP"] == LOCAL["ingress_nginx_load_balancer_ip"]
    assert controller["replicaCount"] == LOCAL["ingress_nginx_replicas"]
    assert controller["resources"] == LOCAL["ingress_nginx_resources"]
    assert controller["ingressClass"] == LOCAL["ingress_nginx_class_name"]
    assert controller["ingressClassResource"] == {
        "name": LOCAL["ingress_nginx_class_name"],
        "enabled": True,
        "default": False,
        "controllerValue": "k8s.io/ingress-nginx",
    }


def test_controller_deployment_rolled_out(kube):
    deployment = kube("get", "deployment", CONTROLLER, "--namespace", NAMESPACE)
    assert deployment["spec"]["replicas"] == LOCAL["ingress_nginx_replicas"]
    assert deployment["status"].get("readyReplicas") == LOCAL["ingress_nginx_replicas"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.k8s.io/ingress-nginx/controller:v1.15.1"
    assert container["resources"] == LOCAL["ingress_nginx_resources"]
    assert f"--ingress-class={LOCAL['ingress_nginx_class_name']}" in container["args"]
    assert "--validating-webhook=:8443" in container["args"]


def test_snippet_annotations_disabled_in_controller_config(kube):
    config = kube("get", "configmap", CONTROLLER, "--namespace", NAMESPACE)
    assert config["data"]["allow-snippet-annotations"] == "false"


def test_admission_webhook_service_exists(kube):
    service = kube("get", "service", f"{CONTROLLER}-admission", "--namespace", NAMESPACE)
    assert [p["port"] for p in service["spec"]["ports"]] == [443]


def test_ingress_class_is_served_by_the_controller(kube):
    ingress_class = kube("get", "ingressclass", LOCAL["ingress_nginx_class_name"])
    assert ingress_class["spec"]["controller"] == "k8s.io/ingress-nginx"
    annotations = ingress_class["metadata"].get("annotations") or {}
    assert annotations.get("ingressclass.kubernetes.io/is-default-class") != "true"


def test_load_balancer_service_has_the_static_address(kube):
    service = kube("get", "service", CONTROLLER, "--namespace", NAMESPACE)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerIP"] == LOCAL["ingress_nginx_load_balancer_ip"]
    (lb,) = service["status"]["loadBalancer"]["ingress"]
    assert lb["ip"] == LOCAL["ingress_nginx_load_balancer_ip"]
    assert ipaddress.ip_address(lb["ip"]) in ipaddress.ip_network("203.0.113.0/24")
