"""The local cluster does what tests/cluster/README promises for the control plane: a v1.36 API
server reached through the forwarder, a tainted KWOK node that only opted-in namespaces use,
PVCs that bind to the pre-made volumes and are wiped when released, LoadBalancer addresses,
Helm 4, and errors that name the failing component."""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

from conftest import HERE, VERSIONS, cluster_env, script
from local_cluster import KWOK_NAMESPACE_ANNOTATIONS


def test_start_prints_kubeconfig_and_is_idempotent(cluster):
    assert Path(cluster.kubeconfig).is_file()
    again = script("start.sh", cluster.env)
    assert again.stdout.strip().splitlines()[-1] == cluster.kubeconfig


def test_server_reports_pinned_kubernetes_version(cluster):
    version = cluster.json("version")
    assert version["serverVersion"]["gitVersion"] == "v" + VERSIONS["KUBERNETES_VERSION"]
    assert version["clientVersion"]["gitVersion"] == "v" + VERSIONS["KUBERNETES_VERSION"]


def test_api_server_is_reached_only_through_the_host_loopback_forwarder(cluster):
    server = cluster.json("config", "view", "--minify")["clusters"][0]["cluster"]["server"]
    assert server == "https://127.0.0.1:" + cluster.env["MLFLOW_K8S_APISERVER_PORT"]
    # The API server itself listens inside the cluster's namespace only.
    host_listeners = subprocess.run(["ss", "-Htln"], capture_output=True, text=True, check=True).stdout
    inner = subprocess.run(
        ["nsenter", f"--net=/run/netns/{cluster.netns}", "ss", "-Htln"], capture_output=True, text=True, check=True
    ).stdout
    port = cluster.env["MLFLOW_K8S_APISERVER_PORT"]
    assert f"127.0.0.1:{port} " in host_listeners
    assert "*:6443" in inner or "0.0.0.0:6443" in inner
    forwarded = [line for line in host_listeners.splitlines() if f":{port} " in line]
    assert all("127.0.0.1:" in line for line in forwarded), forwarded


def test_kwok_node_is_ready_and_tainted(cluster):
    node = cluster.json("get", "node", "kwok-node-0")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"} in node["spec"]["taints"]


def _namespace(cluster, name, annotations=None):
    meta = {"name": name, "annotations": annotations or {}}
    cluster.apply(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}))


def test_workloads_land_on_kwok_only_in_an_opted_in_namespace(cluster):
    _namespace(cluster, "kwok-opted-in", KWOK_NAMESPACE_ANNOTATIONS)
    _namespace(cluster, "kwok-not-opted-in")
    image = "example.invalid/never-pulled:1"
    for ns in ("kwok-opted-in", "kwok-not-opted-in"):
        cluster.kubectl("-n", ns, "run", "fake", f"--image={image}", "--restart=Never")
    fake = cluster.wait_for(
        "the opted-in pod to run on KWOK",
        lambda: (
            (p := cluster.json("-n", "kwok-opted-in", "get", "pod", "fake"))["status"].get("phase") == "Running" and p
        ),
    )
    assert fake["spec"]["nodeName"] == "kwok-node-0"
    real = cluster.json("-n", "kwok-not-opted-in", "get", "pod", "fake")
    # Not on KWOK: on the real node, where the image does not exist.
    assert real["spec"].get("nodeName") == "mlflow-k8s-node"
    assert real["status"].get("phase") != "Running"


def test_pvc_binds_to_a_premade_volume_and_is_wiped_when_released(cluster):
    claim = (
        '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"scratch","namespace":"default"},'
        '"spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"standard","resources":{"requests":{"storage":"1Gi"}}}}'
    )
    cluster.apply(claim)
    cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/scratch", "--timeout=60s")
    volume = cluster.json("get", "pvc", "scratch")["spec"]["volumeName"]
    path = Path(cluster.json("get", "pv", volume)["spec"]["local"]["path"])
    (path / "left-behind").write_text("data of the released claim")
    cluster.kubectl("delete", "pvc", "scratch", "--wait=true")

    # Released (real controller), wiped and made Available again by the harness's volume supply.
    def available():
        pv = cluster.json("get", "pv", volume)
        return pv["status"]["phase"] == "Available" and not pv["spec"].get("claimRef")

    cluster.wait_for(f"pv/{volume} to be Available again", available)
    assert not list(path.iterdir())
    assert f"pv/{volume} recycled" in (cluster.state / "logs" / "cloud-standin.log").read_text()


def test_loadbalancer_service_gets_an_address(cluster):
    cluster.apply(
        '{"apiVersion":"v1","kind":"Service","metadata":{"name":"edge","namespace":"default"},'
        '"spec":{"type":"LoadBalancer","selector":{"app":"none"},"ports":[{"port":80}]}}'
    )
    ingress = cluster.wait_for(
        "a load-balancer address",
        lambda: cluster.json("get", "service", "edge")["status"].get("loadBalancer", {}).get("ingress"),
    )
    assert ingress[0]["ip"].startswith("203.0.113.")


def test_helm_is_version_4(cluster):
    out = subprocess.run(["helm", "version", "--short"], env=cluster.tools, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("v" + VERSIONS["HELM_VERSION"])


def test_stop_is_idempotent(tmp_path):
    env = {**os.environ, "MLFLOW_K8S_STATE": str(tmp_path / "never-started")}
    assert script("stop.sh", env).returncode == 0
    assert script("stop.sh", env).returncode == 0


def test_forwarded_port_in_use_names_component_and_variable(tmp_path):
    env = cluster_env(tmp_path / "busy")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["MLFLOW_K8S_APISERVER_PORT"])))
        blocker.listen()
        result = script("start.sh", env, check=False)
    script("stop.sh", env)
    assert result.returncode != 0
    port = env["MLFLOW_K8S_APISERVER_PORT"]
    assert f"forwarder: port 127.0.0.1:{port} is already in use" in result.stderr
    assert "MLFLOW_K8S_APISERVER_PORT" in result.stderr


def test_state_under_a_node_tmpfs_is_refused(tmp_path):
    env = cluster_env("/var/lib/mlflow-k8s-test-state")
    result = script("start.sh", env, check=False)
    assert result.returncode != 0
    assert "must not be under /var/lib" in result.stderr
    assert not Path("/var/lib/mlflow-k8s-test-state").exists()


def test_missing_go_toolchain_is_named(tmp_path):
    env = {**os.environ, "PATH": "/usr/bin:/bin", "MLFLOW_K8S_CACHE": str(tmp_path / "empty-cache")}
    if shutil.which("go", path=env["PATH"]):
        env["PATH"] = str(tmp_path)  # a PATH with bash found by absolute path below and no go
    result = subprocess.run(["/bin/bash", str(HERE / "build.sh")], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "the Go toolchain is missing" in result.stderr


def test_failed_module_download_names_component_and_log(tmp_path):
    env = {**os.environ, "MLFLOW_K8S_CACHE": str(tmp_path / "cache"), "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    env["GOMODCACHE"] = str(tmp_path / "modcache")
    result = subprocess.run(["bash", str(HERE / "build.sh")], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "kubernetes: Go module download failed; see " + str(tmp_path / "cache") in result.stderr
