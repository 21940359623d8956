"""The real node: pods from images built here run for real, with their volumes, Services,
cluster DNS, NetworkPolicy enforcement, logs/exec/port-forward, and survive a restart of the
kubelet and containerd; the host's kernel settings and paths stay untouched, nothing can
leave the cluster's namespace, and a second cluster runs beside the first."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import HOST_PATHS, KERNEL_SETTINGS, VERSIONS, Cluster, cluster_env, free_port, script

NS = "node-tests"

WEB = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: web-data, namespace: node-tests}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: node-tests}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, runAsNonRoot: true}
      containers:
      - name: web
        image: IMAGE
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "id > /data/index.html && echo web started && exec httpd -f -p 8080 -h /data"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: node-tests}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
"""


@pytest.fixture(scope="module")
def web(cluster):
    cluster.kubectl("create", "namespace", NS)
    cluster.apply(WEB.replace("IMAGE", cluster.image("toolbox")))
    cluster.kubectl("-n", NS, "rollout", "status", "deployment/web", "--timeout=90s")
    return cluster


def _web_pod(cluster):
    return cluster.json("-n", NS, "get", "pods", "-l", "app=web")["items"][0]


def test_node_is_real_ready_and_untainted(cluster):
    node = cluster.json("get", "node", "mlflow-k8s-node")
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v" + VERSIONS["KUBERNETES_VERSION"]
    assert info["containerRuntimeVersion"] == "containerd://" + VERSIONS["CONTAINERD_VERSION"]
    assert {"type": "InternalIP", "address": "10.250.0.10"} in node["status"]["addresses"]
    assert not node["spec"].get("taints")


def test_pod_runs_writes_its_volume_and_a_service_reaches_it(web):
    pod = _web_pod(web)
    assert pod["spec"]["nodeName"] == "mlflow-k8s-node"
    assert pod["status"]["podIP"].startswith("10.245.0.")
    phase, out = web.pod_output(NS, "svc-client", "timeout 10 wget -qO- http://web.node-tests.svc.cluster.local/")
    assert phase == "Succeeded", out
    # Written by the container as uid 1000; the kubelet gave the volume the pod's fsGroup.
    assert "uid=1000" in out and "groups=1000,2000" in out
    claim = web.json("-n", NS, "get", "pvc", "web-data")
    path = Path(web.json("get", "pv", claim["spec"]["volumeName"])["spec"]["local"]["path"])
    written = path / "index.html"
    assert written.stat().st_uid == 1000 and written.stat().st_gid == 2000
    assert "uid=1000" in written.read_text()


def test_cluster_dns_answers_for_the_cluster_and_nothing_else(cluster):
    command = "nslookup kubernetes.default.svc.cluster.local; echo ===; nslookup example.org; echo rc=$?"
    _phase, out = cluster.pod_output("default", "dns-client", command)
    inside, outside = out.split("===")
    assert "Address: 10.96.0.1" in inside
    assert "rc=1" in outside and "Address: " not in outside.split("Server:")[-1].split("\n", 3)[-1]


def test_kubernetes_service_is_reachable_from_pods(cluster):
    endpoints = cluster.json("-n", "default", "get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes")
    assert endpoints["items"][0]["endpoints"][0]["addresses"] == ["10.250.0.10"]
    _phase, out = cluster.pod_output(
        "default", "api-client", "nc -w 5 kubernetes.default.svc.cluster.local 443 </dev/null; echo rc=$?"
    )
    assert "rc=0" in out, out


def test_network_policy_refuses_a_denied_pod_and_admits_an_allowed_one(web):
    web.apply(
        """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: node-tests}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {role: allowed}}}]
    ports: [{port: 8080}]
"""
    )
    fetch = "timeout 10 wget -qO- http://web.node-tests.svc.cluster.local/; echo rc=$?"
    try:
        deadline = time.monotonic() + 30
        while True:  # kube-router applies a new policy within seconds
            _phase, denied = web.pod_output(NS, f"denied-{int(time.monotonic())}", fetch, labels={"role": "denied"})
            if "rc=0" not in denied or time.monotonic() > deadline:
                break
        _phase, allowed = web.pod_output(NS, "allowed", fetch, labels={"role": "allowed"})
        assert "rc=1" in denied and "uid=1000" not in denied, denied
        assert "rc=0" in allowed and "uid=1000" in allowed, allowed
        # The kubelet's probes come from the node and still pass.
        time.sleep(5)
        assert all(c["ready"] for c in _web_pod(web)["status"]["containerStatuses"])
    finally:
        web.kubectl("-n", NS, "delete", "networkpolicy", "web")


def test_logs_exec_and_port_forward_reach_the_container(web):
    assert "web started" in web.kubectl("-n", NS, "logs", "deployment/web").stdout
    assert "uid=1000" in web.kubectl("-n", NS, "exec", "deployment/web", "--", "cat", "/data/index.html").stdout
    forward = subprocess.Popen(
        ["kubectl", "-n", NS, "port-forward", "service/web", ":80"],
        env=web.tools,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:<port> -> 8080"
        port = line.split("127.0.0.1:")[1].split()[0]
        out = subprocess.run(["curl", "-fsS", f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True)
        assert "uid=1000" in out.stdout
    finally:
        forward.terminate()
        forward.wait()


def test_forwarder_reaches_a_service_by_name(web):
    port = free_port()
    (web.state / "forwards.d" / "web.conf").write_text(f"{port} web.node-tests.svc.cluster.local:80\n")

    def fetched():
        url = f"http://127.0.0.1:{port}/"
        result = subprocess.run(["curl", "-fsS", "-m", "5", url], capture_output=True, text=True, check=False)
        return result.returncode == 0 and result.stdout

    try:
        assert "uid=1000" in web.wait_for("the forwarded Service", fetched, timeout=20)
    finally:
        (web.state / "forwards.d" / "web.conf").unlink()


def test_nothing_leaves_the_cluster_namespace(cluster):
    routes = subprocess.run(
        ["nsenter", f"--net=/run/netns/{cluster.netns}", "ip", "route"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in routes
    # TEST-NET-1: with no route out, the connection fails at once, before any packet is sent.
    _phase, out = cluster.pod_output("default", "egress-client", "nc -w 3 192.0.2.1 80 </dev/null; echo rc=$?")
    assert "unreachable" in out.lower() and "rc=1" in out, out


def test_node_restart_keeps_pods_running(web):
    before = _web_pod(web)["status"]["containerStatuses"][0]
    for component in ("kubelet", "containerd"):
        pid = int((web.state / "run" / f"{component}.pid").read_text())
        os.kill(pid, 15)
    time.sleep(2)
    script("start.sh", web.env)
    web.kubectl("wait", "--for=condition=Ready", "node/mlflow-k8s-node", "--timeout=60s")
    after = _web_pod(web)["status"]["containerStatuses"][0]
    assert after["restartCount"] == before["restartCount"] == 0
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    phase, out = web.pod_output(NS, "after-restart", "timeout 10 wget -qO- http://web.node-tests.svc.cluster.local/")
    assert phase == "Succeeded" and "uid=1000" in out


def test_host_kernel_settings_and_paths_are_untouched(cluster, host_effects):
    assert {path: Path("/proc/sys", path).read_text() for path in KERNEL_SETTINGS} == host_effects["kernel"]
    assert {path: os.path.lexists(path) for path in HOST_PATHS} == host_effects["paths"]


def test_second_cluster_runs_beside_and_stop_removes_everything(web, tmp_path, host_effects):
    cluster = web
    second = Cluster(
        env=cluster_env(tmp_path / "second", MLFLOW_K8S_IMAGES="pause toolbox coredns"), state=tmp_path / "second"
    )
    try:
        second.start()
        assert second.netns != cluster.netns and second.cgroup_root != cluster.cgroup_root
        for each in (cluster, second):
            each.kubectl("wait", "--for=condition=Ready", "node/mlflow-k8s-node", "--timeout=60s")
        # Same pod addresses in both, yet each cluster's DNS answers with its own Services.
        lookup = "nslookup web.node-tests.svc.cluster.local; echo rc=$?"
        _phase, out = second.pod_output("default", "second-client", lookup)
        assert "rc=1" in out
    finally:
        script("stop.sh", second.env)
    assert not Path(f"/run/netns/{second.netns}").exists()
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{second.cgroup_root.lstrip('/')}"))
    assert not second.state.exists()
    assert {path: os.path.lexists(path) for path in HOST_PATHS} == host_effects["paths"]
    cluster.kubectl("wait", "--for=condition=Ready", "node/mlflow-k8s-node", "--timeout=30s")
