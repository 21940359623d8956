"""Fixtures for the testinfra suite run by molecule's verify step against the converged cluster.

kube(*args)   -> parsed JSON of `kubectl <args> -o json`
helm(*args)   -> stdout of `helm <args>`
site_run(*args) -> CompletedProcess of `ansible-playbook playbooks/site.yml -i <inventory> <args>`
cluster_state   -> the local cluster's state directory (kubeconfig, logs, forwards)
cluster_lib(name) -> a value tests/cluster/lib.sh derives for that cluster (NETNS, CGROUP_ROOT, ...)
mlflow          -> {"url": the MLflow Service through the harness's forwarder, "admin": (user, password)}
mlflow_client_python -> the Python of a cached MLflow client virtualenv with scikit-learn

Helpers: kubectl(*args) -> CompletedProcess; local_image(name) -> the ref of an image built
here; mlflow_request(url, auth=None, method, body, headers) -> (status, body);
soft_spread(labels) -> the topology spread constraints the roles render for those pods;
LARGE_ARTIFACT_ANNOTATIONS -> the nginx annotations both Ingresses carry by default;
toolbox_pod(namespace, name, command, labels) -> (phase, log) of a pod of the
harness's toolbox image run to completion.
"""

import base64
import http.client
import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path

import mlflow_env
import pytest

REPO = Path(__file__).resolve().parents[3]
STATE = Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
TOOLS = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s")) / "bin"
INVENTORY = os.environ.get("MLFLOW_K8S_INVENTORY", str(REPO / "inventories" / "local"))


# The annotations both Ingresses carry by default for large artifacts: up to 4 GB a file,
# streamed to the upstream, with 10 minutes for an artifact store that stages files (GCS).
LARGE_ARTIFACT_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/proxy-body-size": "4g",
    "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "600",
}


def _tool_env():
    env = dict(os.environ)
    env.setdefault("KUBECONFIG", str(STATE / "kubeconfig"))
    env["PATH"] = f"{TOOLS}:{env['PATH']}"
    return env


def kubectl(*args, check=True, timeout=120):
    result = subprocess.run(
        ["kubectl", *args], env=_tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr[-2000:]}"
    return result


def cluster_value(name):
    """A value tests/cluster/lib.sh derives for this cluster's state directory."""
    script = f'. "{REPO}/tests/cluster/lib.sh"; printf %s "${name}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def mlflow_request(url, auth=None, method="GET", body=None, timeout=60, headers=None):
    split = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=timeout)
    headers = dict(headers or {}, **({"Content-Type": "application/json"} if body is not None else {}))
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    try:
        path = split.path + ("?" + split.query if split.query else "")
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def soft_spread(labels):
    """The topologySpreadConstraints the roles render for pods with these labels."""
    return [
        {
            "topologyKey": key,
            "maxSkew": 1,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def local_image(name):
    """The reference of an image the harness built and imported (tests/cluster/images)."""
    return next(
        line.split()[0]
        for line in (STATE / "images.txt").read_text().splitlines()
        if line.startswith(f"localhost/mlflow-k8s/{name}:")
    )


def toolbox_pod(namespace, name, command, labels=None, timeout=90):
    """Runs `sh -c command` in a pod of the harness's toolbox image; returns (phase, log)."""
    image = local_image("toolbox")
    args = ["-n", namespace, "run", name, f"--image={image}", "--image-pull-policy=Never", "--restart=Never"]
    if labels:
        args.append("--labels=" + ",".join(f"{k}={v}" for k, v in labels.items()))
    kubectl(*args, "--command", "--", "sh", "-c", command)
    deadline = time.monotonic() + timeout
    while True:
        phase = json.loads(kubectl("-n", namespace, "get", "pod", name, "-o", "json").stdout)["status"].get("phase")
        if phase in ("Succeeded", "Failed"):
            break
        assert time.monotonic() < deadline, f"pod {namespace}/{name} did not finish"
        time.sleep(1)
    log = kubectl("-n", namespace, "logs", name).stdout
    kubectl("-n", namespace, "delete", "pod", name, "--wait=false")
    return phase, log


@pytest.fixture(scope="session")
def cluster_state():
    return STATE


@pytest.fixture(scope="session")
def cluster_lib():
    return cluster_value


@pytest.fixture(scope="session")
def mlflow():
    secret = json.loads(kubectl("-n", "mlflow", "get", "secret", "mlflow-admin", "-o", "json").stdout)["data"]
    admin = tuple(base64.b64decode(secret[key]).decode() for key in ("username", "password"))
    return {"url": "http://127.0.0.1:%s" % os.environ.get("MLFLOW_K8S_MLFLOW_PORT", "15000"), "admin": admin}


@pytest.fixture(scope="session")
def mlflow_client_python():
    return mlflow_env.venv_python(mlflow_env.CURRENT_VERSION, extra_requirements=("scikit-learn",))


@pytest.fixture(scope="session")
def kube():
    def run(*args):
        out = subprocess.run(
            ["kubectl", *args, "-o", "json"], env=_tool_env(), check=True, capture_output=True, text=True
        ).stdout
        return json.loads(out)

    return run


@pytest.fixture(scope="session")
def helm():
    def run(*args):
        return subprocess.run(["helm", *args], env=_tool_env(), check=True, capture_output=True, text=True).stdout

    return run


@pytest.fixture(scope="session")
def site_run():
    def run(*args, env=None):
        return subprocess.run(
            ["ansible-playbook", "playbooks/site.yml", "-i", INVENTORY, *args],
            cwd=REPO,
            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )

    return run
