"""A check-mode (--check --diff) run of site.yml after converge must report changed=0, and a
-vvv run must print none of the secret values stored in the cluster."""

import base64
import re

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.M,
)


def _recap(proc):
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = {m["host"]: m for m in RECAP.finditer(proc.stdout)}
    assert rows, proc.stdout[-2000:]
    return rows


def test_check_diff_run_reports_no_change(site_run):
    proc = site_run("--check", "--diff")
    for host, row in _recap(proc).items():
        assert row["changed"] == "0", f"{host}: check mode predicts changes:\n{proc.stdout[-6000:]}"
        assert row["failed"] == "0"


def _secret_values(kube):
    """Every secret value stored in the cluster: Helm release records and public certificates
    excluded. Each generated password also has a Secret key of its own, so whole values suffice."""
    values = set()
    for item in kube("get", "secrets", "--all-namespaces")["items"]:
        if item.get("type") == "helm.sh/release.v1" or item["metadata"]["namespace"] == "kube-system":
            continue
        for key, raw in (item.get("data") or {}).items():
            if key.endswith(".crt"):
                continue
            values.add(base64.b64decode(raw).decode("utf-8", "replace").strip())
    return {v for v in values if len(v) >= 12}


def test_verbose_run_prints_no_secret(site_run, kube):
    secrets = _secret_values(kube)
    assert secrets, "expected the roles to have stored generated secrets in the cluster"
    proc = site_run("-vvv", "--diff")
    _recap(proc)
    output = proc.stdout + proc.stderr
    leaked = [s for s in secrets if s in output]
    # Report how many and a prefix only: the assertion message itself must not leak them.
    assert not leaked, f"{len(leaked)} secret value(s) printed by a -vvv run, e.g. one starting {leaked[0][:3]!r}"
