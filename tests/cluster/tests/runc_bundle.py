"""Runs a locally built image without a Kubernetes node: unpacks its docker-archive tar and starts
it with runc, configured like the roles' pods (image user or an override, read-only root, all
capabilities dropped, no new privileges, emptyDir-like tmpfs and host-directory volumes).

`runc spec` gives each container its own network namespace holding only loopback; a container
may join another's (as containers of one pod do). No oom_score_adj is set: root on these
machines lacks CAP_SYS_RESOURCE (research-real-node.md, snag 1).
"""

import contextlib
import json
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path


def read_archive(tar_path):
    """(manifest entry, config dict, layer member name) of a single-image docker archive."""
    with tarfile.open(tar_path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert len(manifest) == 1, manifest
        entry = manifest[0]
        config = json.load(tar.extractfile(entry["Config"]))
    return entry, config, entry["Layers"][0]


def unpack(tar_path, dest):
    """Unpacks the image's layer into dest/rootfs (owners, modes, xattrs kept); returns the config."""
    dest = Path(dest)
    config, layer = read_archive(tar_path)[1:]
    rootfs = dest / "rootfs"
    rootfs.mkdir(parents=True)
    layer_tar = dest / "layer.tar"
    with tarfile.open(tar_path) as tar, open(layer_tar, "wb") as out:
        shutil.copyfileobj(tar.extractfile(layer), out)
    # GNU tar, not tarfile: tarfile does not restore file capabilities (CoreDNS's).
    subprocess.run(
        ["tar", "-xpf", str(layer_tar), "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", str(rootfs)],
        check=True,
    )
    layer_tar.unlink()
    return config


class Container:
    """One runc container; use as a context manager (deleted on exit)."""

    def __init__(
        self,
        rootfs,
        image_config,
        workdir,
        *,
        args=None,
        env=(),
        user=None,
        volumes=(),
        tmpfs=("/tmp",),
        join_netns_of=None,
        caps=(),
        no_new_privileges=True,
    ):
        self.id = f"mlflow-k8s-img-{uuid.uuid4().hex[:10]}"
        self.state_root = Path(workdir) / "runc-state"
        self.bundle = Path(workdir) / self.id
        self.bundle.mkdir(parents=True)
        self.log_path = self.bundle / "output.log"
        cfg = image_config.get("config", {})
        subprocess.run(["runc", "spec", "--bundle", str(self.bundle)], check=True)
        spec = json.loads((self.bundle / "config.json").read_text())
        process = spec["process"]
        process["terminal"] = False
        process["args"] = list(args) if args is not None else (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
        merged = dict(e.split("=", 1) for e in cfg.get("Env", []))
        merged.update(dict(e.split("=", 1) for e in env))
        process["env"] = [f"{k}={v}" for k, v in merged.items()]
        process["cwd"] = cfg.get("WorkingDir") or "/"
        uid, gid = [*(user or cfg.get("User") or "0:0").split(":"), ""][:2]
        process["user"] = {"uid": int(uid), "gid": int(gid or uid)}
        names = [f"CAP_{c}" for c in caps]
        process["capabilities"] = {k: list(names) for k in ("bounding", "permitted", "effective", "inheritable")}
        process["capabilities"]["ambient"] = []
        process["noNewPrivileges"] = no_new_privileges
        spec["root"] = {"path": str(Path(rootfs).resolve()), "readonly": True}
        spec["hostname"] = self.id[-12:]
        for target in tmpfs:
            spec["mounts"].append(
                {
                    "destination": target,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777", "size=256m"],
                }
            )
        for source, target, mode in volumes:
            spec["mounts"].append(
                {"destination": target, "type": "bind", "source": str(source), "options": ["rbind", mode]}
            )
        if join_netns_of is not None:
            for ns in spec["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = f"/proc/{join_netns_of.pid}/ns/net"
        (self.bundle / "config.json").write_text(json.dumps(spec, indent=1))
        self.pid = None

    def _runc(self, *args, check=False, **kwargs):
        return subprocess.run(["runc", "--root", str(self.state_root), *args], check=check, **kwargs)

    def run(self, timeout=300):
        """Runs to completion in the foreground; returns (exit code, output)."""
        with open(self.log_path, "wb") as log:
            proc = self._runc(
                "run",
                "--bundle",
                str(self.bundle),
                self.id,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        return proc.returncode, self.output()

    def start(self):
        """Starts detached; output goes to output.log."""
        with open(self.log_path, "wb") as log:
            self._runc(
                "run",
                "--detach",
                "--bundle",
                str(self.bundle),
                self.id,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=60,
                check=True,
            )
        self.pid = self.state()["pid"]
        return self

    def state(self):
        out = self._runc("state", self.id, capture_output=True, text=True)
        return json.loads(out.stdout) if out.returncode == 0 else {"status": "gone"}

    def running(self):
        return self.state().get("status") == "running"

    def exec(self, *cmd, user=None, env=(), timeout=60):
        args = ["exec", *(["--user", user] if user else []), *[a for e in env for a in ("--env", e)], self.id, *cmd]
        return self._runc(*args, capture_output=True, text=True, timeout=timeout)

    def nsenter(self, *cmd, timeout=60):
        """Runs a host command inside the container's network namespace only."""
        return subprocess.run(
            ["nsenter", f"--net=/proc/{self.pid}/ns/net", *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill(self, signal="TERM"):
        self._runc("kill", self.id, signal, capture_output=True, check=False)

    def wait_stopped(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return True
            time.sleep(0.2)
        return False

    def output(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until(self, probe, timeout, what):
        """Polls probe() until it returns a true value; fails with the container's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = probe()
            if result:
                return result
            if self.pid is not None and not self.running():
                raise AssertionError(f"{self.id} exited before {what}:\n{self.output()[-4000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{self.id}: no {what} within {timeout} s:\n{self.output()[-4000:]}")

    def delete(self, timeout=60):
        """Removes the container and its cgroups. runc's own removal of a cgroup fails while the
        killed process is still exiting, which on a loaded machine outlasts it (a side-by-side run
        left an empty mlflow-k8s-img-* cgroup on the host)."""
        self._runc("delete", "--force", self.id, capture_output=True, check=False)
        deadline = time.monotonic() + timeout
        while True:
            left = [d for d in Path("/sys/fs/cgroup").glob(f"*/{self.id}") if not d.parent.is_symlink()]
            for cgroup in left:
                with contextlib.suppress(OSError):
                    cgroup.rmdir()
            left = [d for d in left if d.exists()]
            if not left:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.id}: cgroups left after {timeout} s: {left}")
            time.sleep(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()
