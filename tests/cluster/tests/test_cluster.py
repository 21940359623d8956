"""The local control plane does what tests/cluster/README promises: a v1.36 API server, a Ready
KWOK node, workloads that roll out, PVCs that bind, LoadBalancer addresses, Helm 4, and errors
that name the failing component. Runs on its own state directory and ports."""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
VERSIONS = dict(
    line.split("=", 1) for line in (HERE / "versions.env").read_text().splitlines() if "=" in line and line[0] != "#"
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_env(state):
    ports = {
        "MLFLOW_K8S_APISERVER_PORT": _free_port(),
        "MLFLOW_K8S_ETCD_PORT": _free_port(),
        "MLFLOW_K8S_ETCD_PEER_PORT": _free_port(),
        "MLFLOW_K8S_KCM_PORT": _free_port(),
        "MLFLOW_K8S_SCHEDULER_PORT": _free_port(),
        "MLFLOW_K8S_KWOK_PORT": _free_port(),
    }
    return {**os.environ, "MLFLOW_K8S_STATE": str(state), **{k: str(v) for k, v in ports.items()}}


def _script(name, env, check=True):
    result = subprocess.run(["bash", str(HERE / name)], env=env, capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, f"{name} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("cluster")
    env = _cluster_env(state)
    started = _script("start.sh", env)
    kubeconfig = started.stdout.strip().splitlines()[-1]
    tools = {**env, "KUBECONFIG": kubeconfig, "PATH": f"{CACHE / 'bin'}:{env['PATH']}"}
    yield {"env": env, "tools": tools, "kubeconfig": kubeconfig, "state": state}
    _script("stop.sh", env)


def kubectl(cluster, *args, stdin=None):
    return subprocess.run(
        ["kubectl", *args], env=cluster["tools"], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def kube_json(cluster, *args):
    return json.loads(kubectl(cluster, *args, "-o", "json"))


def test_start_prints_kubeconfig_and_is_idempotent(cluster):
    assert Path(cluster["kubeconfig"]).is_file()
    again = _script("start.sh", cluster["env"])
    assert again.stdout.strip().splitlines()[-1] == cluster["kubeconfig"]


def test_server_reports_pinned_kubernetes_version(cluster):
    version = json.loads(kubectl(cluster, "version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == "v" + VERSIONS["KUBERNETES_VERSION"]
    assert version["clientVersion"]["gitVersion"] == "v" + VERSIONS["KUBERNETES_VERSION"]


def test_kwok_node_is_ready_and_untainted(cluster):
    node = kube_json(cluster, "get", "node", "kwok-node-0")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert not node["spec"].get("taints")


WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: example.invalid/web:1}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: example.invalid/db:1}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 5Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: default}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
"""


def test_workloads_roll_out_pvcs_bind_and_lb_gets_address(cluster):
    kubectl(cluster, "apply", "-f", "-", stdin=WORKLOADS)
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=90s")
    kubectl(cluster, "rollout", "status", "statefulset/db", "--timeout=90s")
    pvc = kube_json(cluster, "get", "pvc", "data-db-0")
    assert pvc["status"]["phase"] == "Bound"
    pods = kube_json(cluster, "get", "pods", "-l", "app=web")["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ingress = kube_json(cluster, "get", "service", "edge")["status"].get("loadBalancer", {}).get("ingress")
        if ingress:
            break
        time.sleep(1)
    assert ingress and ingress[0]["ip"].startswith("203.0.113.")


def test_deleted_claim_releases_volume_through_controller_manager(cluster):
    claim = (
        '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"scratch","namespace":"default"},'
        '"spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"standard","resources":{"requests":{"storage":"1Gi"}}}}'
    )
    kubectl(cluster, "apply", "-f", "-", stdin=claim)
    kubectl(cluster, "wait", "--for=jsonpath={.status.phase}=Bound", "pvc/scratch", "--timeout=60s")
    volume = kube_json(cluster, "get", "pvc", "scratch")["spec"]["volumeName"]
    kubectl(cluster, "delete", "pvc", "scratch", "--wait=true")
    # Released (real controller) and then made Available again by the harness's volume supply.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pv = kube_json(cluster, "get", "pv", volume)
        if pv["status"]["phase"] == "Available" and not pv["spec"].get("claimRef"):
            break
        time.sleep(1)
    assert pv["status"]["phase"] == "Available"
    log = (cluster["state"] / "logs" / "cloud-standin.log").read_text()
    assert f"pv/{volume} recycled" in log


def test_helm_is_version_4(cluster):
    out = subprocess.run(
        ["helm", "version", "--short"], env=cluster["tools"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("v" + VERSIONS["HELM_VERSION"])


def test_stop_is_idempotent(tmp_path):
    env = {**os.environ, "MLFLOW_K8S_STATE": str(tmp_path / "never-started")}
    assert _script("stop.sh", env).returncode == 0
    assert _script("stop.sh", env).returncode == 0


def test_port_in_use_names_component_and_log(tmp_path):
    env = _cluster_env(tmp_path / "busy")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["MLFLOW_K8S_ETCD_PORT"])))
        blocker.listen()
        result = _script("start.sh", env, check=False)
    _script("stop.sh", env)
    assert result.returncode != 0
    assert "etcd: port 127.0.0.1:" + env["MLFLOW_K8S_ETCD_PORT"] + " is already in use" in result.stderr
    assert "logs/etcd.log" in result.stderr


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
