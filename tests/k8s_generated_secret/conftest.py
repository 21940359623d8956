"""Fixtures for mlflow_k8s.platform.k8s_generated_secret on the local cluster (tests/cluster).

Each test gets a namespace of its own, deleted afterwards; tasks run through ansible-playbook
(tests/lib/ansible_runner.py) with K8S_AUTH_KUBECONFIG, as the roles reach the cluster.
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import local_cluster
from ansible_runner import AnsibleRunner

REPO = Path(__file__).resolve().parents[2]
RUN_LABEL = "k8s-generated-secret-test/run"


# The local cluster's session fixtures (tests/lib/local_cluster.py).
kubeconfig, core, run_id = local_cluster.kubeconfig, local_cluster.core, local_cluster.run_id


@pytest.fixture
def namespace(core, run_id):
    name = f"gensecret-{run_id}-{secrets.token_hex(2)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={RUN_LABEL: run_id})))
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="session")
def runner(kubeconfig) -> AnsibleRunner:
    runner = AnsibleRunner(REPO, connection={})
    # Only the local cluster's kubeconfig: no connection settings leaking in from the caller.
    for key in list(runner.env):
        if key.startswith("K8S_AUTH_") or key == "KUBECONFIG":
            del runner.env[key]
    runner.env["K8S_AUTH_KUBECONFIG"] = kubeconfig
    return runner


class Secrets:
    """Reads and changes Secrets directly through the API, beside the module under test."""

    def __init__(self, core: client.CoreV1Api, namespace: str):
        self.core, self.namespace = core, namespace

    def read(self, name: str) -> client.V1Secret | None:
        try:
            return self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def data(self, name: str) -> dict[str, str]:
        secret = self.read(name)
        assert secret is not None, f"Secret {name} does not exist"
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def patch(self, name: str, body: dict) -> None:
        self.core.patch_namespaced_secret(name, self.namespace, body)


@pytest.fixture
def cluster_secrets(core, namespace) -> Secrets:
    return Secrets(core, namespace)
