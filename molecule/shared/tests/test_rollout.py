"""A configuration change rolls the MLflow Deployment, and the same site.yml run reaches the new
pod: the role waits until only pods of the new template serve before mlflow_users talks to
MLflow (kubernetes.core's own wait took the old, still available pod for the rollout)."""

import re

RECAP = re.compile(r"^localhost\s*:\s*ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=0\s+failed=0", re.M)


def _mlflow_pods(kube):
    pods = kube("-n", "mlflow", "get", "pods", "-l", "app.kubernetes.io/name=mlflow")["items"]
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["args"] for p in pods}


def _workers(args):
    return args[args.index("--workers") + 1]


def _converge(site_run, *args):
    proc = site_run(*args)
    recap = RECAP.search(proc.stdout)
    assert proc.returncode == 0 and recap, proc.stdout[-5000:] + proc.stderr[-2000:]
    return int(recap["changed"])


def test_a_changed_configuration_rolls_mlflow_and_the_same_run_reaches_the_new_pod(site_run, kube):
    (before,) = _mlflow_pods(kube).items()
    assert _workers(before[1]) == "2"
    try:
        # mlflow_users runs last in the same play run, against the replaced pod.
        assert _converge(site_run, "-e", "postgres_mlflow_workers=1") > 0
        ((name, args),) = _mlflow_pods(kube).items()
        assert name != before[0] and _workers(args) == "1"
    finally:
        assert _converge(site_run) > 0
    ((name, args),) = _mlflow_pods(kube).items()
    assert _workers(args) == "2"
