"""Fixtures: a fresh Google stand-in per test, and a runner for the role's playbooks."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RECAP = re.compile(
    r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
    r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)",
    re.M,
)


class StandIn:
    def __init__(self, state_dir, workload_identity_pools=()):
        self.state_dir = state_dir
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "server.py"),
                "--state-dir",
                str(state_dir),
                "--workload-identity-pools",
                ",".join(workload_identity_pools),
            ],
            start_new_session=True,
        )
        # The suite script stops stand-ins left behind by a pytest that was killed.
        self.pid_file = None
        if os.environ.get("GCP_STANDIN_RUN_DIR"):
            self.pid_file = Path(os.environ["GCP_STANDIN_RUN_DIR"]) / ("%d.pid" % self.proc.pid)
            self.pid_file.write_text(str(self.proc.pid))
        deadline = time.time() + 30
        while not (state_dir / "ready").exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("gcp stand-in did not start (exit %s)" % self.proc.poll())
            time.sleep(0.1)
        self.env = json.loads((state_dir / "env.json").read_text())
        self.project = self.env["GCP_STANDIN_PROJECT"]
        self.deployer_key = self.env["GCP_STANDIN_DEPLOYER_KEY"]
        self.control = self.env["GCP_STANDIN_CONTROL"]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.pid_file:
            self.pid_file.unlink()

    def state(self):
        return requests.get(self.control + "/state", timeout=10).json()

    def requests(self):
        return requests.get(self.control + "/requests", timeout=10).json()

    def clear_requests(self):
        requests.post(self.control + "/requests/clear", timeout=10).raise_for_status()

    def inject(self, *faults):
        requests.post(self.control + "/faults", json=list(faults), timeout=10).raise_for_status()

    def writes(self):
        """API calls that change something (token exchanges and reads excluded)."""
        return [
            r
            for r in self.requests()
            if r["host"] != "oauth2.googleapis.com" and r["method"] != "GET" and not r["path"].endswith(":getIamPolicy")
        ]

    def session(self):
        """A requests session that reaches the stand-in exactly as the modules do."""
        session = requests.Session()
        session.trust_env = False
        session.proxies = {"https": self.env["HTTPS_PROXY"]}
        session.verify = self.env["REQUESTS_CA_BUNDLE"]
        return session


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        match = RECAP.search(proc.stdout)
        self.recap = (
            dict(
                zip(
                    ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"),
                    map(int, match.groups()),
                    strict=True,
                )
            )
            if match
            else None
        )

    def __repr__(self):
        start = self.out.find("[ERROR]")
        shown = self.out[start : start + 4000] if start >= 0 else self.out[-4000:]
        return "rc=%s recap=%s\n%s" % (self.rc, self.recap, shown)


@pytest.fixture
def standin(tmp_path, request):
    """A fresh stand-in; parametrize indirectly with {"workload_identity_pools": [...]} to change it."""
    server = StandIn(tmp_path / "standin", **getattr(request, "param", {}))
    yield server
    server.stop()


@pytest.fixture
def run_playbook(tmp_path, standin):
    """run_playbook(playbook, extra_vars, *args) -> Result, with the stand-in's proxy/CA env."""
    # Short paths: ansible-playbook puts a unix socket under its temp directories, and pytest's
    # tmp_path can exceed the 108-byte socket path limit.
    short = Path(tempfile.mkdtemp(prefix="gcs-", dir="/tmp"))
    controller_tmp = short / "t"
    controller_tmp.mkdir()

    def run(playbook, extra_vars, *args):
        vars_file = tmp_path / "extra-vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        env = dict(os.environ, **standin.env)
        # Key files may only ever appear here; the tests check it stays empty.
        env.update(
            TMPDIR=str(controller_tmp),
            ANSIBLE_LOCAL_TEMP=str(short / "a"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_DEPRECATION_WARNINGS="false",
        )
        proc = subprocess.run(
            ["ansible-playbook", str(HERE / "playbooks" / playbook), "-e", "@%s" % vars_file, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        return Result(proc)

    run.controller_tmp = controller_tmp
    yield run
    shutil.rmtree(short)


@pytest.fixture
def role_vars(tmp_path, standin):
    return {
        "gcp_storage_project": standin.project,
        "gcp_storage_bucket_name": "mlflow-artifacts-test",
        "gcp_storage_bucket_location": "europe-west1",
        "gcp_storage_auth_kind": "serviceaccount",
        "gcp_storage_auth_service_account_file": standin.deployer_key,
        "gcp_storage_test_facts_file": str(tmp_path / "facts.json"),
    }
