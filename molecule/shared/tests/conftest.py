"""Fixtures for the testinfra suite run by molecule's verify step against the converged cluster.

kube(*args)   -> parsed JSON of `kubectl <args> -o json`
helm(*args)   -> stdout of `helm <args>`
site_run(*args) -> CompletedProcess of `ansible-playbook playbooks/site.yml -i <inventory> <args>`
cluster_state   -> the local cluster's state directory (kubeconfig, logs, site.yml's local runtime)
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STATE = Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
TOOLS = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s")) / "bin"
INVENTORY = os.environ.get("MLFLOW_K8S_INVENTORY", str(REPO / "inventories" / "local"))


def _tool_env():
    env = dict(os.environ)
    env.setdefault("KUBECONFIG", str(STATE / "kubeconfig"))
    env["PATH"] = f"{TOOLS}:{env['PATH']}"
    return env


@pytest.fixture(scope="session")
def cluster_state():
    return STATE


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
