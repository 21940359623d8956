"""A cluster of the suite's own, started beside any other (own state directory, network
namespace, cgroup root and host ports), and the helpers the harness tests share.

cluster      -> Cluster: env, tools (env with KUBECONFIG and the binaries on PATH), kubeconfig,
                state, netns, cgroup_root; kubectl(*args), json(*args), apply(text)
images       -> the images built once per session (images/build.sh): name -> {"ref", "tar"}
rootfs       -> name -> (unpacked root filesystem, image config), for running an image under runc
host_effects -> what the host looked like before the cluster started (kernel settings, paths
                that the node components would write outside the state directory)
"""

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import runc_bundle
from images_lib import build, buildable

HERE = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
VERSIONS = dict(
    line.split("=", 1) for line in (HERE / "versions.env").read_text().splitlines() if "=" in line and line[0] != "#"
)
KERNEL_SETTINGS = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/netfilter/nf_conntrack_max",
    "net/ipv4/ip_forward",
]
# Written by kubelet, containerd, CNI, iptables or ctr when they are not kept in the node's own
# mount namespace (research-real-node.md, snag 7).
HOST_PATHS = [
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/var/lib/containerd",
    "/etc/cni",
    "/opt/cni",
    "/run/xtables.lock",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_env(state, **extra):
    ports = {name: str(free_port()) for name in ("APISERVER", "MLFLOW", "SSO")}
    env = {**os.environ, "MLFLOW_K8S_STATE": str(state), "MLFLOW_K8S_IMAGES": "pause toolbox coredns"}
    env.update({f"MLFLOW_K8S_{name}_PORT": port for name, port in ports.items()})
    env.pop("KUBECONFIG", None)
    env.update(extra)
    return env


def script(name, env, check=True):
    result = subprocess.run(["bash", str(HERE / name)], env=env, capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, f"{name} failed:\n{result.stderr[-4000:]}"
    return result


def lib_value(env, name):
    """A value lib.sh derives for this state directory (netns name, cgroup root, ...)."""
    return subprocess.run(
        ["bash", "-c", f'. "{HERE}/lib.sh"; printf %s "${name}"'], env=env, capture_output=True, text=True, check=True
    ).stdout


@dataclass
class Cluster:
    env: dict
    state: Path
    kubeconfig: str = ""
    tools: dict = field(default_factory=dict)

    @property
    def netns(self):
        return lib_value(self.env, "NETNS")

    @property
    def cgroup_root(self):
        return lib_value(self.env, "CGROUP_ROOT")

    def start(self):
        self.kubeconfig = script("start.sh", self.env).stdout.strip().splitlines()[-1]
        self.tools = {**self.env, "KUBECONFIG": self.kubeconfig, "PATH": f"{CACHE / 'bin'}:{self.env['PATH']}"}
        return self

    def image(self, name):
        """The local reference of an image built by images/build.sh (as start.sh imported it)."""
        for line in (self.state / "images.txt").read_text().splitlines():
            ref = line.split()[0]
            if ref.rsplit(":", 1)[0] == f"localhost/mlflow-k8s/{name}":
                return ref
        raise AssertionError(f"no image {name} in {self.state / 'images.txt'}")

    def kubectl(self, *args, stdin=None, check=True, timeout=120):
        result = subprocess.run(
            ["kubectl", *args],
            env=self.tools,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, text):
        return self.kubectl("apply", "-f", "-", stdin=text)

    def wait_for(self, what, check, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(1)

    def pod_output(self, namespace, name, command, labels=None, timeout=60):
        """Runs `sh -c command` in a toolbox pod to completion and returns (phase, log)."""
        overrides = {"metadata": {"labels": labels or {}}} if labels else None
        args = ["-n", namespace, "run", name, f"--image={self.image('toolbox')}"]
        args += ["--image-pull-policy=Never", "--restart=Never", "--command"]
        if overrides:
            args.insert(0, f"--overrides={json.dumps(overrides)}")
        self.kubectl(*args, "--", "sh", "-c", command)

        def finished():
            phase = self.json("-n", namespace, "get", "pod", name)["status"].get("phase")
            return phase if phase in ("Succeeded", "Failed") else None

        phase = self.wait_for(f"pod {namespace}/{name}", finished, timeout)
        return phase, self.kubectl("-n", namespace, "logs", name).stdout


@pytest.fixture(scope="session")
def host_effects():
    return {
        "kernel": {path: Path("/proc/sys", path).read_text() for path in KERNEL_SETTINGS},
        "paths": {path: os.path.lexists(path) for path in HOST_PATHS},
    }


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, host_effects):
    started = Cluster(env=cluster_env(tmp_path_factory.mktemp("cluster")), state=None)
    started.state = Path(started.env["MLFLOW_K8S_STATE"])
    started.start()
    yield started
    script("stop.sh", started.env)


@pytest.fixture(scope="session")
def images():
    """The images built once per session (images/build.sh): name -> {"ref", "tar"}."""
    names = buildable()
    done = build(*names)
    assert done.returncode == 0, f"build.sh failed:\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(names), done.stdout
    built = {}
    for name, line in zip(names, lines, strict=True):
        ref, tar = line.split(" ")
        built[name] = {"ref": ref, "tar": Path(tar)}
    return built


@pytest.fixture(scope="session")
def rootfs(images, tmp_path_factory):
    """(name, use="inspect") -> (unpacked root filesystem, image config), unpacked once per
    session and use: runc creates missing mount points (/proc, /dev) in a root filesystem it
    runs, so running ("run") and inspecting ("inspect") get copies of their own."""
    unpacked = {}

    def get(name, use="inspect"):
        if (name, use) not in unpacked:
            dest = tmp_path_factory.mktemp(f"{name}-{use}")
            config = runc_bundle.unpack(images[name]["tar"], dest)
            unpacked[name, use] = (dest / "rootfs", config)
        return unpacked[name, use]

    return get
