"""Verify the postgres_mlflow role after converge on the local cluster (inventories/local values).

Fixtures from conftest.py: ``kube(*args)`` returns the parsed JSON of ``kubectl <args> -o json``.
"""

import base64
import configparser
import copy
import hashlib
import urllib.parse
from pathlib import Path

import pytest
import yaml
from conftest import LARGE_ARTIFACT_ANNOTATIONS, local_image, soft_spread

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/postgres_mlflow/defaults/main.yml").read_text())
LOCAL = {**DEFAULTS, **yaml.safe_load((REPO / "inventories/local/group_vars/all/postgres_mlflow.yml").read_text())}
NS = LOCAL["postgres_mlflow_namespace"]
FQDN = "mlflow.%s.svc.cluster.local" % NS
PG_FQDN = "mlflow-postgres.%s.svc.cluster.local" % NS


def _secret(kube, name):
    return {k: base64.b64decode(v).decode() for k, v in kube("-n", NS, "get", "secret", name)["data"].items()}


@pytest.fixture(scope="module")
def deployment(kube):
    return kube("-n", NS, "get", "deployment", "mlflow")


@pytest.fixture(scope="module")
def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def server(pod_spec):
    return pod_spec["containers"][0]


@pytest.fixture(scope="module")
def config(kube):
    return _secret(kube, "mlflow-config")


def _env(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _flag(args, name):
    return args[args.index(name) + 1]


def test_postgres_statefulset_runs_the_local_equivalent_of_the_official_image_as_non_root(kube):
    sts = kube("-n", NS, "get", "statefulset", "mlflow-postgres")
    assert sts["status"].get("readyReplicas") == 1
    spec = sts["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert DEFAULTS["postgres_mlflow_postgres_image"] == "docker.io/library/postgres:17"
    assert container["image"] == local_image("postgres")
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 999 and spec["securityContext"]["fsGroup"] == 999
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"] == LOCAL["postgres_mlflow_postgres_resources"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][0] == "pg_isready"
    env = _env(container)
    assert env["POSTGRES_PASSWORD"] == {"secretKeyRef": {"name": "mlflow-postgres", "key": "postgres-password"}}
    assert env["MLFLOW_TRACKING_PASSWORD"]["secretKeyRef"]["key"] == "tracking-password"
    assert env["MLFLOW_AUTH_PASSWORD"]["secretKeyRef"]["key"] == "auth-password"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == LOCAL["postgres_mlflow_postgres_storage_size"]
    pvc = kube("-n", NS, "get", "pvc", "data-mlflow-postgres-0")
    assert pvc["status"]["phase"] == "Bound"


def test_postgres_init_script_creates_both_databases_without_literal_passwords(kube):
    script = kube("-n", NS, "get", "configmap", "mlflow-postgres-init")["data"]["10-mlflow.sh"]
    for db, user in (
        (LOCAL["postgres_mlflow_tracking_database"], LOCAL["postgres_mlflow_tracking_user"]),
        (LOCAL["postgres_mlflow_auth_database"], LOCAL["postgres_mlflow_auth_user"]),
    ):
        assert 'CREATE DATABASE "%s" OWNER "%s";' % (db, user) in script
    passwords = _secret(kube, "mlflow-postgres")
    assert all(value not in script for value in passwords.values())
    svc = kube("-n", NS, "get", "service", "mlflow-postgres")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["ports"][0]["port"] == 5432


def test_mlflow_deployment_runs_basic_auth_with_the_pinned_image(deployment, pod_spec, server):
    assert deployment["status"].get("readyReplicas") == LOCAL["postgres_mlflow_replicas"]
    assert DEFAULTS["postgres_mlflow_image"] == "ghcr.io/mlflow/mlflow:v3.17.2-full"
    assert server["image"] == local_image("mlflow")
    args = server["args"]
    assert server["command"] == ["mlflow"] and args[:3] == ["server", "--app-name", "basic-auth"]
    assert "--serve-artifacts" in args
    assert _flag(args, "--artifacts-destination") == "/mlflow/artifacts"
    assert _flag(args, "--workers") == str(LOCAL["postgres_mlflow_workers"])
    hosts = _flag(args, "--allowed-hosts").split(",")
    for host in (
        LOCAL["postgres_mlflow_ui_host"],
        LOCAL["postgres_mlflow_api_host"],
        FQDN,
        FQDN + ":5000",
        "mlflow:5000",
    ):
        assert host in hosts
    assert _flag(args, "--cors-allowed-origins").split(",") == [
        "https://" + LOCAL["postgres_mlflow_ui_host"],
        "https://" + LOCAL["postgres_mlflow_api_host"],
    ]
    # One replica with a ReadWriteOnce artifact volume: Recreate, never two pods on the volume.
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


@pytest.fixture(scope="module")
def migration(kube):
    (job,) = kube("-n", NS, "get", "jobs", "-l", "app.kubernetes.io/name=mlflow-db-upgrade")["items"]
    return job


def test_migrations_run_once_in_a_job_not_in_every_replica(pod_spec, migration):
    # Init containers of several replicas would run `mlflow db upgrade` side by side, unlocked.
    assert "initContainers" not in pod_spec
    (container,) = migration["spec"]["template"]["spec"]["containers"]
    assert container["image"] == local_image("mlflow")
    assert container["command"] == ["mlflow"] and container["args"] == ["db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]
    assert _env(container)["MLFLOW_BACKEND_STORE_URI"] == {
        "secretKeyRef": {"name": "mlflow-config", "key": "backend-store-uri"}
    }
    assert migration["status"]["succeeded"] == 1
    assert migration["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_admin_and_flask_secrets_come_from_the_generated_secrets(server, pod_spec):
    env = _env(server)
    assert env["MLFLOW_AUTH_ADMIN_USERNAME"] == {"secretKeyRef": {"name": "mlflow-admin", "key": "username"}}
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "mlflow-admin", "key": "password"}}
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == {"secretKeyRef": {"name": "mlflow-flask", "key": "secret-key"}}
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == "/etc/mlflow/auth/basic_auth.ini"
    mounts = {m["name"]: m for m in server["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    assert mounts["auth-config"]["mountPath"] == "/etc/mlflow/auth" and mounts["auth-config"]["readOnly"] is True
    assert volumes["auth-config"]["secret"]["secretName"] == "mlflow-config"
    assert volumes["artifacts"]["persistentVolumeClaim"]["claimName"] == "mlflow-artifacts"
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env


def test_basic_auth_ini_parses_and_points_at_the_auth_database(kube, config):
    parser = configparser.ConfigParser()  # with interpolation, as MLflow reads it
    parser.read_string(config["basic_auth.ini"])
    section = parser["mlflow"]
    assert section["default_permission"] == "NO_PERMISSIONS"
    assert section["admin_username"] == "admin"
    assert "admin_password" not in section
    assert section.getint("auth_cache_ttl_seconds") == LOCAL["postgres_mlflow_auth_cache_ttl_seconds"]
    auth = urllib.parse.urlsplit(section["database_uri"])
    db = _secret(kube, "mlflow-postgres")
    assert (auth.scheme, auth.hostname, auth.port, auth.path) == ("postgresql+psycopg2", PG_FQDN, 5432, "/mlflow_auth")
    assert urllib.parse.unquote(auth.password) == db["auth-password"]
    tracking = urllib.parse.urlsplit(config["backend-store-uri"])
    assert (tracking.username, tracking.path) == ("mlflow", "/mlflow")
    assert urllib.parse.unquote(tracking.password) == db["tracking-password"]


def test_config_change_rolls_the_deployment(deployment, config):
    # The checksum covers the mounted ini and the tracking URI, so a new value means new pods.
    expected = hashlib.sha256((config["basic_auth.ini"] + config["backend-store-uri"]).encode()).hexdigest()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == expected


def test_probes_resources_and_security_context(pod_spec, server):
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"] == {"path": "/health", "port": "http", "scheme": "HTTP"}
    # The inventory's resources, plus the disk the scheduler reserves for /tmp.
    expected = copy.deepcopy(LOCAL["postgres_mlflow_resources"])
    expected["requests"]["ephemeral-storage"] = "1Gi"
    assert server["resources"] == expected
    tmp = next(v for v in pod_spec["volumes"] if v["name"] == "tmp")
    assert tmp == {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}}
    assert {"name": "tmp", "mountPath": "/tmp"} in server["volumeMounts"]
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_spec["serviceAccountName"] == "mlflow"
    assert pod_spec["automountServiceAccountToken"] is False


def test_keep_alive_stop_delay_telemetry_and_spread(pod_spec, server, migration):
    env = _env(server)
    # Above ingress-nginx's 60 s and oauth2-proxy's 90 s reuse of idle upstream connections.
    assert env["UVICORN_TIMEOUT_KEEP_ALIVE"] == "120"
    (migrate,) = migration["spec"]["template"]["spec"]["containers"]
    assert env["MLFLOW_DISABLE_TELEMETRY"] == _env(migrate)["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert server["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    for container in (server, migrate):
        assert _env(container)["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == "3"
        assert _env(container)["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"] == "2"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    assert pod_spec["topologySpreadConstraints"] == soft_spread(
        {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}
    )


def test_postgres_starts_slowly_if_it_must_and_stops_cleanly(kube):
    spec = kube("-n", NS, "get", "statefulset", "mlflow-postgres")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    # Liveness waits for the startup probe, so crash recovery is never killed half-way.
    assert container["startupProbe"]["exec"]["command"][0] == "pg_isready"
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] >= 600
    assert "initialDelaySeconds" not in container["livenessProbe"]
    assert spec["terminationGracePeriodSeconds"] == 120
    assert container["args"] == ["postgres", "-c", "max_connections=120"]
    assert spec["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]


def test_pods_are_ready(kube):
    for name, count in (("mlflow", LOCAL["postgres_mlflow_replicas"]), ("mlflow-postgres", 1)):
        pods = kube("-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=" + name)["items"]
        ready = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp") is None
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        assert len(ready) == count, [p["metadata"]["name"] for p in pods]


def test_service_pdb_and_artifact_volume(kube):
    svc = kube("-n", NS, "get", "service", "mlflow")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 5000, "protocol": "TCP", "targetPort": "http"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}
    pdb = kube("-n", NS, "get", "pdb", "mlflow")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"]
    pvc = kube("-n", NS, "get", "pvc", "mlflow-artifacts")
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    sa = kube("-n", NS, "get", "serviceaccount", "mlflow")
    # No Workload Identity locally: only apply's own bookkeeping annotation.
    annotations = sa["metadata"].get("annotations", {})
    assert not [k for k in annotations if k != "kubectl.kubernetes.io/last-applied-configuration"]


def test_network_policies_isolate_postgres_and_mlflow(kube):
    pg = kube("-n", NS, "get", "networkpolicy", "mlflow-postgres")["spec"]
    assert pg["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "mlflow-postgres"}
    (rule,) = pg["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow-db-upgrade"}}},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    ml = kube("-n", NS, "get", "networkpolicy", "mlflow")["spec"]
    (rule,) = ml["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": LOCAL["postgres_mlflow_ingress_controller_namespace"]}
            }
        },
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "oauth2-proxy"}}},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5000}]


def test_api_host_ingress_has_tls_from_the_cluster_issuer(kube):
    ing = kube("-n", NS, "get", "ingress", "mlflow-api")
    issuer = yaml.safe_load((REPO / "inventories/local/group_vars/all/cert_manager.yml").read_text())[
        "cert_manager_cluster_issuer"
    ]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == issuer
    nginx = {k: v for k, v in ing["metadata"]["annotations"].items() if k.startswith("nginx.")}
    assert nginx == LARGE_ARTIFACT_ANNOTATIONS
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": [LOCAL["postgres_mlflow_api_host"]], "secretName": "mlflow-api-tls"}]
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == LOCAL["postgres_mlflow_api_host"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mlflow", "port": {"name": "http"}}
