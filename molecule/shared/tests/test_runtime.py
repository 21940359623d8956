"""The deployment really runs: PostgreSQL, MLflow and oauth2-proxy are pods of the local
cluster's real node, started from the manifests the roles rendered and the images built here.
Proven on the running pods: MLflow's health and an authenticated API call through its Service,
keep-alive, CORS and telemetry settings reaching the server, the migration init container, the
auth database, a run with a model and an artifact (the README's usage example, verbatim) stored
on the artifact volume and read back, NetworkPolicies, memory under every limit, and pods that
come back with their data (PostgreSQL cleanly stopped) after being deleted. Tests run in file
order; later ones use the run an earlier one logged."""

import http.client
import json
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from conftest import REPO, kubectl, mlflow_request, toolbox_pod

NS = "mlflow"
NODE = "mlflow-k8s-node"
SPEC = {
    path.stem: yaml.safe_load(path.read_text()) for path in (REPO / "inventories/local/group_vars/all").glob("*.yml")
}
SVC = SPEC["mlflow_users"]["mlflow_users_api_users"][0]
SVC_AUTH = (SVC["username"], SVC["password"])


def _pods(kube, namespace, selector):
    return kube("-n", namespace, "get", "pods", "-l", selector)["items"]


@pytest.mark.parametrize(
    ("namespace", "selector"),
    [
        (NS, "app.kubernetes.io/name=mlflow"),
        (NS, "app.kubernetes.io/name=mlflow-postgres"),
        (NS, "app.kubernetes.io/name=oauth2-proxy"),
        ("cert-manager", "app.kubernetes.io/instance=cert-manager"),
    ],
)
def test_workloads_run_on_the_real_node_from_local_images(kube, namespace, selector):
    pods = [p for p in _pods(kube, namespace, selector) if p["status"].get("phase") != "Succeeded"]
    assert pods, f"no pods for {selector} in {namespace}"
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE, pod["metadata"]["name"]
        statuses = pod["status"]["containerStatuses"]
        assert all(s["ready"] and "running" in s["state"] for s in statuses), pod["metadata"]["name"]
        # The node ran images built here, under local names only.
        assert all(s["image"].startswith("localhost/mlflow-k8s/") for s in statuses), statuses


def test_mlflow_answers_health_and_an_authenticated_call_through_its_service(mlflow):
    status, body = mlflow_request(mlflow["url"] + "/health")
    assert (status, body) == (200, b"OK")
    status, body = mlflow_request(mlflow["url"] + "/api/2.0/mlflow/users/current", auth=mlflow["admin"])
    assert status == 200 and json.loads(body)["user"]["is_admin"] is True
    assert mlflow_request(mlflow["url"] + "/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
    wrong = (mlflow["admin"][0], mlflow["admin"][1] + "x")
    assert mlflow_request(mlflow["url"] + "/api/2.0/mlflow/users/current", auth=wrong)[0] == 401


def test_an_idle_connection_outlives_uvicorns_default_keep_alive(mlflow):
    # uvicorn closes idle connections after 5 s unless told otherwise, while the proxies in front
    # reuse theirs for 60-90 s: a request on a connection being closed is a 502 at the edge.
    split = urllib.parse.urlsplit(mlflow["url"])
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    try:
        conn.request("GET", "/health")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"OK")
        sock = conn.sock
        time.sleep(8)
        conn.request("GET", "/health")
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"OK")
        assert conn.sock is sock, "the server closed the idle connection"
    finally:
        conn.close()


def test_browser_writes_are_allowed_from_both_hosts_and_no_other_origin(mlflow):
    search = mlflow["url"] + "/api/2.0/mlflow/experiments/search"
    hosts = [SPEC["postgres_mlflow"]["postgres_mlflow_ui_host"], SPEC["postgres_mlflow"]["postgres_mlflow_api_host"]]
    for host in hosts:
        status, body = mlflow_request(
            search, auth=mlflow["admin"], method="POST", body={"max_results": 1}, headers={"Origin": "https://" + host}
        )
        assert status == 200, (host, body[:300])
    status, body = mlflow_request(
        search, auth=mlflow["admin"], method="POST", body={"max_results": 1}, headers={"Origin": "https://evil.test"}
    )
    assert status == 403, body[:300]


def test_the_server_sends_no_usage_telemetry(kube):
    (pod,) = _pods(kube, NS, "app.kubernetes.io/name=mlflow")
    probe = "from mlflow.telemetry.utils import is_telemetry_disabled; print(is_telemetry_disabled())"
    out = kubectl("-n", NS, "exec", pod["metadata"]["name"], "-c", "mlflow", "--", "python3", "-c", probe).stdout
    assert out.strip() == "True"


def test_the_migration_job_ran_once_before_the_server_started(kube):
    (job,) = kube("-n", NS, "get", "jobs", "-l", "app.kubernetes.io/name=mlflow-db-upgrade")["items"]
    (run,) = _pods(kube, NS, "job-name=" + job["metadata"]["name"])
    (status,) = run["status"]["containerStatuses"]
    assert status["state"]["terminated"]["exitCode"] == 0 and status["state"]["terminated"]["reason"] == "Completed"
    log = kubectl("-n", NS, "logs", run["metadata"]["name"]).stdout
    assert "Updating database tables" in log, log[-2000:]
    # The server started on a migrated schema: after the Job finished (RFC 3339 UTC stamps sort).
    (pod,) = _pods(kube, NS, "app.kubernetes.io/name=mlflow")
    assert job["status"]["completionTime"] <= pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]


def _psql(kube, sql, database="postgres"):
    (pod,) = _pods(kube, NS, "app.kubernetes.io/name=mlflow-postgres")
    return kubectl(
        "-n", NS, "exec", pod["metadata"]["name"], "--", "psql", "-U", "postgres", "-d", database, "-Atc", sql
    ).stdout


def test_both_databases_exist_each_owned_by_its_own_login(kube):
    owners = dict(
        line.split("|") for line in _psql(kube, "SELECT datname, pg_get_userbyid(datdba) FROM pg_database").splitlines()
    )
    assert owners.get("mlflow") == "mlflow" and owners.get("mlflow_auth") == "mlflow_auth", owners
    # MLflow created the auth schema at start and the admin it bootstraps.
    assert "users" in _psql(kube, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "mlflow_auth")
    admins = set(_psql(kube, "SELECT username FROM users WHERE is_admin", "mlflow_auth").split())
    assert admins == {"admin", *SPEC["mlflow_users"]["mlflow_users_admins"]}
    # The init container's `mlflow db upgrade` brought the tracking schema to a revision.
    assert "experiments" in _psql(kube, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "mlflow")
    assert _psql(kube, "SELECT version_num FROM alembic_version", "mlflow").strip()


def _readme_example():
    """The README's usage example, exactly as users copy it."""
    text = (REPO / "README.md").read_text()
    start = text.index("```python\n", text.index("<!-- usage-example:")) + len("```python\n")
    return text[start : text.index("```", start)]


_TRAIN = _readme_example()


@pytest.fixture(scope="module")
def logged_run(mlflow, mlflow_client_python):
    env = {
        "MLFLOW_TRACKING_URI": mlflow["url"],
        "MLFLOW_TRACKING_USERNAME": SVC["username"],
        "MLFLOW_TRACKING_PASSWORD": SVC["password"],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
    }
    proc = subprocess.run(
        [str(mlflow_client_python), "-c", _TRAIN], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_postgres_allows_the_connections_the_pools_can_open(kube):
    assert _psql(kube, "SHOW max_connections").strip() == "120"
    # MLflow's own pools are what the role sized: nothing MLflow holds exceeds the formula's share.
    held = int(_psql(kube, "SELECT count(*) FROM pg_stat_activity WHERE usename IN ('mlflow', 'mlflow_auth')"))
    workers = SPEC["postgres_mlflow"].get("postgres_mlflow_workers", 2)
    assert 0 < held <= SPEC["postgres_mlflow"]["postgres_mlflow_replicas"] * workers * 3 * (3 + 2)


def test_the_api_user_logs_a_run_with_a_model_and_an_artifact_and_reads_them_back(mlflow, logged_run, kube):
    assert logged_run["prediction"] in (0, 1, 2)
    assert logged_run["features"].startswith("sepal_length")
    status, body = mlflow_request(
        mlflow["url"] + "/api/2.0/mlflow/runs/get?run_id=" + logged_run["run_id"],
        auth=(SVC["username"], SVC["password"]),
    )
    assert status == 200
    assert {m["key"]: m["value"] for m in json.loads(body)["run"]["data"]["metrics"]}["train_accuracy"] > 0.9
    # The artifacts are on the artifact volume, in MLflow's pod.
    (pod,) = _pods(kube, NS, "app.kubernetes.io/name=mlflow")
    listing = kubectl(
        "-n",
        NS,
        "exec",
        pod["metadata"]["name"],
        "-c",
        "mlflow",
        "--",
        "find",
        "/mlflow/artifacts",
        "-name",
        "features.csv",
    ).stdout
    assert logged_run["run_id"] in listing, listing
    claim = kube("-n", NS, "get", "pvc", "mlflow-artifacts")
    volume = kube("get", "pv", claim["spec"]["volumeName"])
    on_disk = list(Path(volume["spec"]["local"]["path"]).rglob("features.csv"))
    assert any(logged_run["run_id"] in str(p) for p in on_disk), on_disk


def _fetch(target, labels=None, namespace="default"):
    name = "np-%s-%d" % (target.split(".")[0], time.monotonic_ns() % 100000)
    _phase, out = toolbox_pod(namespace, name, f"timeout 8 nc -w 5 {target} </dev/null; echo rc=$?", labels=labels)
    return out


def test_network_policies_refuse_other_pods_and_admit_the_allowed_paths():
    ingress_namespace = SPEC["ingress_nginx"].get("ingress_nginx_namespace", "ingress-nginx")
    mlflow_svc, postgres_svc, proxy_svc = (
        f"mlflow.{NS}.svc.cluster.local 5000",
        f"mlflow-postgres-0.mlflow-postgres.{NS}.svc.cluster.local 5432",
        f"oauth2-proxy.{NS}.svc.cluster.local 4180",
    )
    # A pod of another namespace reaches none of them.
    for target in (mlflow_svc, postgres_svc, proxy_svc):
        out = _fetch(target)
        assert "rc=0" not in out, f"{target} admitted a pod of another namespace: {out}"
    # The ingress controller's namespace reaches MLflow (API host) and oauth2-proxy (UI host).
    for target in (mlflow_svc, proxy_svc):
        assert "rc=0" in _fetch(target, namespace=ingress_namespace), target
    # oauth2-proxy's pods reach MLflow; only MLflow's pods reach PostgreSQL.
    assert "rc=0" in _fetch(mlflow_svc, {"app.kubernetes.io/name": "oauth2-proxy"}, NS)
    assert "rc=0" not in _fetch(postgres_svc, {"app.kubernetes.io/name": "oauth2-proxy"}, NS)
    assert "rc=0" in _fetch(postgres_svc, {"app.kubernetes.io/name": "mlflow"}, NS)


def _memory(kube, cgroup_root, pod):
    """container -> (peak bytes, limit bytes) from the node's cgroups (v1)."""
    uid = pod["metadata"]["uid"]
    qos = pod["status"]["qosClass"].lower()
    base = Path("/sys/fs/cgroup/memory") / cgroup_root.lstrip("/") / "kubepods"
    pod_dir = (base if qos == "guaranteed" else base / qos) / f"pod{uid}"
    usage = {}
    for status in pod["status"]["containerStatuses"]:
        container_dir = pod_dir / status["containerID"].split("://")[1]
        peak = int((container_dir / "memory.max_usage_in_bytes").read_text())
        limit = int((container_dir / "memory.limit_in_bytes").read_text())
        usage[status["name"]] = (peak, limit)
    return usage


def test_every_container_stays_under_its_memory_limit(kube, cluster_lib, logged_run):
    assert logged_run  # after a run with a model and artifacts
    cgroup_root = cluster_lib("CGROUP_ROOT")
    seen = {}
    for selector in (
        "app.kubernetes.io/name=mlflow",
        "app.kubernetes.io/name=mlflow-postgres",
        "app.kubernetes.io/name=oauth2-proxy",
    ):
        for pod in _pods(kube, NS, selector):
            for name, (peak, limit) in _memory(kube, cgroup_root, pod).items():
                seen[f"{pod['metadata']['name']}/{name}"] = (peak // 2**20, limit // 2**20)
                # A limit the pod spec set, not the node's whole memory, and a peak below it.
                assert limit < 64 * 2**30, (name, limit)
                assert peak < limit, f"{name}: peak {peak // 2**20} MiB of {limit // 2**20} MiB"
            for status in pod["status"]["containerStatuses"]:
                assert status["restartCount"] == 0, status
                assert "OOMKilled" not in json.dumps(status.get("lastState", {})), status
    print("memory peak/limit MiB:", seen)


def test_pods_come_back_after_deletion_with_their_data(kube, mlflow, logged_run):
    for selector in (
        "app.kubernetes.io/name=mlflow-postgres",
        "app.kubernetes.io/name=mlflow",
        "app.kubernetes.io/name=oauth2-proxy",
    ):
        kubectl("-n", NS, "delete", "pod", "-l", selector, "--wait=true", timeout=180)
    kubectl("-n", NS, "rollout", "status", "statefulset/mlflow-postgres", "--timeout=300s", timeout=320)
    # Stopped by its image's stop signal (a fast shutdown, then a checkpoint) within the grace
    # period: the new server starts from a clean shutdown, with no write-ahead log to replay.
    log = kubectl("-n", NS, "logs", "mlflow-postgres-0", "-c", "postgres").stdout
    assert "database system was shut down at" in log, log[-2000:]
    assert "automatic recovery in progress" not in log, log[-2000:]
    kubectl("-n", NS, "rollout", "status", "deployment/mlflow", "--timeout=300s", timeout=320)
    kubectl("-n", NS, "rollout", "status", "deployment/oauth2-proxy", "--timeout=300s", timeout=320)
    deadline = time.monotonic() + 120
    while mlflow_request(mlflow["url"] + "/health")[0] != 200:
        assert time.monotonic() < deadline, "MLflow did not answer after its pods were replaced"
        time.sleep(2)
    auth = SVC_AUTH
    status, body = mlflow_request(mlflow["url"] + "/api/2.0/mlflow/runs/get?run_id=" + logged_run["run_id"], auth=auth)
    assert status == 200, body
    query = "path=features.csv&run_uuid=" + logged_run["run_id"]
    status, body = mlflow_request(mlflow["url"] + "/get-artifact?" + query, auth=auth)
    assert status == 200 and body.startswith(b"sepal_length")
    # The generated admin password still works: the Secret was not regenerated.
    assert mlflow_request(mlflow["url"] + "/api/2.0/mlflow/users/current", auth=mlflow["admin"])[0] == 200
