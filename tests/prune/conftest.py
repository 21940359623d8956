"""Fixtures for playbooks/prune_pv.yml on the local cluster (tests/cluster/start.sh).

Volumes are made Released the real way: a PersistentVolume and a claim pre-bound to it
(spec.volumeName) are created, kube-controller-manager binds them, the claim is deleted and
the controller moves the volume to Released (or Failed, when its reclaim policy is Delete and
no plugin can delete it). Every object carries a StorageClass and names of this run only, so
the harness's own volumes (class `standard`) and concurrent runs are never selected.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

# The shared test libraries (tests/lib), e.g. terminal.run_on_terminal.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import local_cluster

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = "playbooks/prune_pv.yml"
RUN_LABEL = "prune-pv-test/run"


# The local cluster's session fixtures (tests/lib/local_cluster.py).
kubeconfig, core, run_id = local_cluster.kubeconfig, local_cluster.core, local_cluster.run_id


@pytest.fixture
def cluster_env(kubeconfig, run_id, core, request):
    """Two StorageClasses and two namespaces for one test; its objects are removed afterwards."""
    storage = client.StorageV1Api(core.api_client)
    test_id = f"{run_id}-{secrets.token_hex(2)}"
    classes = [f"prune-{test_id}-a", f"prune-{test_id}-b"]
    namespaces = [f"prune-{test_id}-x", f"prune-{test_id}-y"]
    labels = {RUN_LABEL: run_id}
    for name in classes:
        storage.create_storage_class(
            client.V1StorageClass(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                provisioner="kubernetes.io/no-provisioner",
                volume_binding_mode="Immediate",
                reclaim_policy="Retain",
            )
        )
    for name in namespaces:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield {"classes": classes, "namespaces": namespaces, "test_id": test_id}
    for ns in namespaces:
        _delete_ignoring_absent(core.delete_namespace, ns)
    for pv in core.list_persistent_volume(label_selector=f"{RUN_LABEL}={run_id}").items:
        if pv.spec.storage_class_name in classes:
            _delete_ignoring_absent(core.delete_persistent_volume, pv.metadata.name)
    for name in classes:
        _delete_ignoring_absent(storage.delete_storage_class, name)


def _delete_ignoring_absent(delete, *args):
    try:
        delete(*args)
    except ApiException as exc:
        if exc.status != 404:
            raise


@dataclass
class Volume:
    """What a test wants: a volume, its class, and what happens to its claim."""

    name: str
    storage_class: str
    claim_namespace: str | None = None  # None: never claimed (Available)
    release: bool = False  # delete the claim, so the volume becomes Released (or Failed)
    reclaim_policy: str = "Retain"
    source: dict = field(default_factory=dict)  # volume source; hostPath by default
    labels: dict = field(default_factory=dict)
    node_affinity: dict | None = None

    @property
    def expected_phase(self) -> str:
        if self.claim_namespace is None:
            return "Available"
        if not self.release:
            return "Bound"
        return "Released" if self.reclaim_policy == "Retain" else "Failed"


class Cluster:
    """Creates scenarios and reads volume state through the Kubernetes API."""

    def __init__(self, core: client.CoreV1Api, run_id: str, env: dict):
        self.core, self.run_id, self.env = core, run_id, env
        self.classes, self.namespaces = env["classes"], env["namespaces"]

    def pv_name(self, suffix: str) -> str:
        return f"prune-{self.env['test_id']}-{suffix}"

    def create(self, volumes: list[Volume], timeout: float = 90) -> None:
        for vol in volumes:
            body = {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": vol.name, "labels": {RUN_LABEL: self.run_id, **vol.labels}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": vol.reclaim_policy,
                    "storageClassName": vol.storage_class,
                    # A path outside /tmp: the in-tree hostPath deleter refuses it, which is what
                    # turns a released Delete-policy volume into Failed, and nothing is removed.
                    **(vol.source or {"hostPath": {"path": f"/nonexistent/prune-pv-test/{vol.name}"}}),
                    **({"nodeAffinity": vol.node_affinity} if vol.node_affinity else {}),
                },
            }
            self.core.create_persistent_volume(body)
            if vol.claim_namespace:
                self.core.create_namespaced_persistent_volume_claim(
                    vol.claim_namespace,
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": f"claim-{vol.name}"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": vol.storage_class,
                            "volumeName": vol.name,
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    },
                )
        claimed = [v for v in volumes if v.claim_namespace]
        self.wait_phases({v.name: "Bound" for v in claimed}, timeout)
        for vol in claimed:
            if vol.release:
                self.core.delete_namespaced_persistent_volume_claim(f"claim-{vol.name}", vol.claim_namespace)
        self.wait_phases({v.name: v.expected_phase for v in volumes}, timeout)

    def phases(self) -> dict[str, str]:
        items = self.core.list_persistent_volume(label_selector=f"{RUN_LABEL}={self.run_id}").items
        return {pv.metadata.name: pv.status.phase for pv in items}

    def wait_phases(self, wanted: dict[str, str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            now = self.phases()
            if all(now.get(name) == phase for name, phase in wanted.items()):
                return
            if time.monotonic() > deadline:
                diff = {n: (now.get(n), p) for n, p in wanted.items() if now.get(n) != p}
                pytest.fail(f"volumes did not reach their phases in {timeout}s (name: (now, wanted)): {diff}")
            time.sleep(0.5)

    def existing(self, names) -> set[str]:
        return set(self.phases()) & set(names)


@pytest.fixture
def cluster(core, run_id, cluster_env) -> Cluster:
    return Cluster(core, run_id, cluster_env)


@dataclass
class PlayResult:
    rc: int
    stdout: str
    stderr: str
    data: dict | None

    def task_results(self, name: str) -> list[dict]:
        """Results of a task (from the ansible.posix.json callback) for localhost."""
        found = []
        for play in (self.data or {}).get("plays", []):
            for task in play["tasks"]:
                if task["task"]["name"] == name:
                    found.append(task["hosts"]["localhost"])
        return found

    def listing(self) -> list[str]:
        results = self.task_results("List the selected volumes")
        assert len(results) == 1, self.stdout + self.stderr
        return results[0]["msg"]

    def listed_names(self) -> set[str]:
        table = [line for line in self.listing() if not line.startswith("GCE disk:")][1:-1]
        return {line.split()[0] for line in table}

    @property
    def changed(self) -> int:
        return (self.data or {})["stats"]["localhost"]["changed"]


def ansible_env(kubeconfig: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "GCP_"))}
    env.update(
        {
            "K8S_AUTH_KUBECONFIG": kubeconfig,
            "ANSIBLE_FORCE_COLOR": "0",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    return env


@pytest.fixture
def play(kubeconfig):
    """Runs prune_pv.yml without a terminal (stdin is /dev/null) and parses the JSON output."""

    def _play(extra_vars: dict, *args: str) -> PlayResult:
        env = ansible_env(kubeconfig) | {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        proc = subprocess.run(
            ["ansible-playbook", PLAYBOOK, "-e", json.dumps(extra_vars), *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            data = None
        return PlayResult(proc.returncode, proc.stdout, proc.stderr, data)

    return _play
