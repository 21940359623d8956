"""Session fixtures for tests against the local cluster (tests/cluster/start.sh).

A conftest.py binds them to module names (``kubeconfig = local_cluster.kubeconfig``) so
pytest finds them: the kubeconfig is $KUBECONFIG or the one start.sh writes under
$MLFLOW_K8S_STATE, and run_id names the objects of one pytest session so that concurrent
runs never touch each other's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from kubernetes import client, config

STATE_DIR = Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
# A namespace with these annotations has its pods scheduled onto the tainted KWOK node (the API
# server's PodNodeSelector and PodTolerationRestriction admission plugins): for tests of the
# Kubernetes side of a playbook whose workloads cannot run here (Bitnami's images, say).
KWOK_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": '[{"key": "kwok.x-k8s.io/node", "operator": "Exists"}]',
}


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    path = os.environ.get("KUBECONFIG") or str(STATE_DIR / "kubeconfig")
    if not Path(path).is_file():
        pytest.fail(f"no kubeconfig at {path}: start the local cluster with `bash tests/cluster/start.sh`")
    return path


@pytest.fixture(scope="session")
def core(kubeconfig) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


@pytest.fixture(scope="session")
def run_id() -> str:
    return secrets.token_hex(3)
