"""playbooks/adopt_bitnami.yml against the local Kubernetes cluster (tests/cluster/start.sh).

The test namespaces are opted into the local cluster's KWOK node (Bitnami's images cannot run
here): the adoption Job completes without its scripts running (those are proven in
test_datapath.py). What is proven here is the Kubernetes side: what the playbook
finds, the objects it creates, the order it works in, what it scales and what it leaves
alone, confirmation, check mode, idempotence and the restart after a failed Job.
"""

import base64
import json
import os
import pathlib
import re
import secrets
import string
import subprocess
import time

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from local_cluster import KWOK_NAMESPACE_ANNOTATIONS
from terminal import run_on_terminal

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
SCRIPTS = ROOT / "playbooks" / "adopt_bitnami" / "files"
STATE_DIR = pathlib.Path(os.environ.get("MLFLOW_K8S_STATE", "/var/tmp/mlflow-k8s-cluster"))
KUBECTL = pathlib.Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s")) / "bin" / "kubectl"
RELEASE = "mlflow"
ANNOTATION = "mlflow-k8s.io/adopt-original-replicas"
BRIDGE_ANNOTATION = "mlflow-k8s.io/adopt-bridge-from"


def _kubeconfig():
    path = os.environ.get("KUBECONFIG") or str(STATE_DIR / "kubeconfig")
    if not pathlib.Path(path).is_file():
        pytest.fail("no kubeconfig at %s: start the local cluster with `bash tests/cluster/start.sh`" % path)
    return path


@pytest.fixture(scope="module")
def api():
    api_client = config.new_client_from_config(config_file=_kubeconfig())
    return {
        "core": client.CoreV1Api(api_client),
        "apps": client.AppsV1Api(api_client),
        "batch": client.BatchV1Api(api_client),
        "net": client.NetworkingV1Api(api_client),
    }


def _apply(namespace, fixture, values):
    text = string.Template((FIXTURES / fixture).read_text()).substitute(values)
    subprocess.run(
        [str(KUBECTL), "--kubeconfig", _kubeconfig(), "-n", namespace, "apply", "-f", "-"],
        input=text,
        text=True,
        check=True,
        capture_output=True,
    )


class Env:
    """An old Bitnami release and a new deployment, each in a namespace of its own."""

    def __init__(self, api):
        self.api = api
        test_id = secrets.token_hex(3)
        self.old_ns, self.new_ns = "adopt-%s-old" % test_id, "adopt-%s-new" % test_id
        self.admin_password = "old admin pw %s 'q' %%" % secrets.token_hex(4)
        self.db_password = secrets.token_urlsafe(12)
        for ns in (self.old_ns, self.new_ns):
            meta = client.V1ObjectMeta(
                name=ns, labels={"mlflow-k8s-test": "adopt"}, annotations=KWOK_NAMESPACE_ANNOTATIONS
            )
            api["core"].create_namespace(client.V1Namespace(metadata=meta))
        _apply(
            self.old_ns,
            "bitnami-release.yaml.tpl",
            {
                "release": RELEASE,
                "db_password": self.db_password,
                "db_superuser_password": "su",
                "admin_user": "user",
                "admin_password": self.admin_password.replace('"', '\\"'),
                "bucket": "team-mlflow/artifacts",
            },
        )
        _apply(
            self.new_ns,
            "new-deployment.yaml.tpl",
            {
                "pg_superuser_password": "pg",
                "tracking_password": "trk",
                "auth_password": "auth",
                "generated_admin_password": "generated-by-postgres-mlflow",
            },
        )
        self.wait_ready()

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            old = self.api["apps"].read_namespaced_deployment(RELEASE + "-tracking", self.old_ns)
            new = self.api["apps"].read_namespaced_deployment("mlflow", self.new_ns)
            pg = self.api["apps"].read_namespaced_stateful_set(RELEASE + "-postgresql", self.old_ns)
            if (
                (old.status.ready_replicas or 0) == 2
                and (new.status.ready_replicas or 0) == 2
                and (pg.status.ready_replicas or 0) == 1
            ):
                return
            time.sleep(1)
        pytest.fail("fixture workloads did not become ready")

    def add_oauth2_proxies(self, extra_args, name="oauth2-proxy", new=True):
        """The tutorial's oauth2-proxy in front of the old release and, with new, the new deployment's."""
        self.o2p = {
            "client_id": "Iv1.%s" % secrets.token_hex(8),
            "client_secret": "client-secret-%s" % secrets.token_hex(10),
            "cookie_secret": "cookie-secret-%s" % secrets.token_hex(8),
            "basic_auth_password": "old bridge %s" % secrets.token_hex(8),
            "generated_bridge_password": "generated-bridge-%s" % secrets.token_hex(8),
        }
        args = [
            "--http-address=0.0.0.0:4180",
            "--https-address=0.0.0.0:4443",
            "--metrics-address=0.0.0.0:44180",
            *extra_args,
            "--config=/etc/oauth2_proxy/oauth2_proxy.cfg",
        ]
        _apply(self.old_ns, "old-oauth2-proxy.yaml.tpl", dict(self.o2p, name=name, extra_args=json.dumps(args)))
        if new:
            _apply(self.new_ns, "new-oauth2-proxy.yaml.tpl", self.o2p)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            old = self.api["apps"].read_namespaced_deployment(name, self.old_ns)
            if (old.status.ready_replicas or 0) == 2:
                return
            time.sleep(1)
        pytest.fail("old oauth2-proxy did not become ready")

    def o2p_state(self, name="oauth2-proxy"):
        """Old oauth2-proxy (replicas, annotation), new one's restart annotation, bridge Secret."""
        apps = self.api["apps"]
        old = apps.read_namespaced_deployment(name, self.old_ns)
        new = apps.read_namespaced_deployment("oauth2-proxy", self.new_ns)
        bridge = self.api["core"].read_namespaced_secret("mlflow-sso-bridge", self.new_ns)
        return {
            "old": (old.spec.replicas, (old.metadata.annotations or {}).get(ANNOTATION)),
            "restarted_at": (new.spec.template.metadata.annotations or {}).get("kubectl.kubernetes.io/restartedAt"),
            "restarted_for": (new.spec.template.metadata.annotations or {}).get(BRIDGE_ANNOTATION),
            "bridge": base64.b64decode(bridge.data["password"]).decode(),
            "bridge_labels": bridge.metadata.labels,
        }

    def delete(self):
        for ns in (self.old_ns, self.new_ns):
            try:
                self.api["core"].delete_namespace(ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def run(self, *extra, check=True, **variables):
        args = {
            "adopt_bitnami_namespace": self.old_ns,
            "adopt_bitnami_release": RELEASE,
            "adopt_bitnami_target_namespace": self.new_ns,
            "adopt_bitnami_wait_timeout": 300,
        }
        args.update(variables)
        # JSON results: the YAML callback wraps long plan lines, JSON keeps each on one line.
        env = dict(os.environ, KUBECONFIG=_kubeconfig(), ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        proc = subprocess.run(
            ["ansible-playbook", "playbooks/adopt_bitnami.yml", "-e", json.dumps(args), *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                "adopt_bitnami.yml failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout[-8000:], proc.stderr[-3000:])
            )
        return proc

    def run_on_terminal(self, answer, timeout=600):
        """Runs the playbook with a pseudo-terminal as its controlling terminal; answers the prompt."""
        args = {
            "adopt_bitnami_namespace": self.old_ns,
            "adopt_bitnami_release": RELEASE,
            "adopt_bitnami_target_namespace": self.new_ns,
            "adopt_bitnami_wait_timeout": 300,
        }
        env = dict(os.environ, KUBECONFIG=_kubeconfig(), ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        return run_on_terminal(
            ["ansible-playbook", "playbooks/adopt_bitnami.yml", "-e", json.dumps(args)],
            cwd=ROOT,
            env=env,
            prompt=b"Type yes to go on",
            answer=answer,
            timeout=timeout,
        )

    def replicas(self):
        apps = self.api["apps"]
        old = apps.read_namespaced_deployment(RELEASE + "-tracking", self.old_ns)
        pg = apps.read_namespaced_stateful_set(RELEASE + "-postgresql", self.old_ns)
        new = apps.read_namespaced_deployment("mlflow", self.new_ns)
        return {
            "old": (old.spec.replicas, (old.metadata.annotations or {}).get(ANNOTATION)),
            "pg": (pg.spec.replicas, (pg.metadata.annotations or {}).get(ANNOTATION)),
            "new": (new.spec.replicas, (new.metadata.annotations or {}).get(ANNOTATION)),
        }

    def secret(self, name):
        data = self.api["core"].read_namespaced_secret(name, self.new_ns).data or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def job(self):
        try:
            return self.api["batch"].read_namespaced_job("adopt-" + RELEASE, self.new_ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def adoption_objects(self):
        core = self.api["core"]
        return {
            "job": self.job() is not None,
            "secrets": sorted(s.metadata.name for s in core.list_namespaced_secret(self.new_ns).items),
            "configmaps": sorted(
                c.metadata.name
                for c in core.list_namespaced_config_map(self.new_ns).items
                if c.metadata.name.startswith("adopt-")
            ),
            "policies": sorted(
                p.metadata.name for p in self.api["net"].list_namespaced_network_policy(self.new_ns).items
            ),
        }


@pytest.fixture
def env(api):
    made = Env(api)
    yield made
    made.delete()


def _recap(output):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-3000:]
    return {"ok": int(match[1]), "changed": int(match[2]), "failed": int(match[4])}


def _task_order(output):
    return [line.split("[", 1)[1].rsplit("]", 1)[0] for line in output.splitlines() if line.startswith("TASK [")]


def _task_status(output):
    """Task name -> first status word after its header (ok, changed, skipping, fatal)."""
    status, current = {}, None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif current and current not in status:
            word = line.split(":", 1)[0]
            if word in ("ok", "changed", "skipping", "fatal"):
                status[current] = word
    return status


UNTOUCHED = {"old": (2, None), "pg": (1, None), "new": (2, None)}


def test_check_mode_shows_the_plan_and_changes_nothing(env):
    before = env.adoption_objects()
    proc = env.run("--check", "--diff", adopt_bitnami_confirm=True)
    assert "dump bitnami_mlflow and bitnami_mlflow_auth from %s-postgresql:5432 as bn_mlflow" % RELEASE in proc.stdout
    assert 'postgres_mlflow_artifacts_destination: \\"gs://team-mlflow/artifacts\\"' in proc.stdout
    assert "Then take over the users: playbooks/export_mlflow_users.yml" in proc.stdout
    assert "Check mode: plan shown, nothing changed." in proc.stdout
    assert (
        "oauth2-proxy: no Deployment labelled app.kubernetes.io/name=oauth2-proxy in %s, nothing to take over"
        % env.old_ns
    ) in proc.stdout
    assert _recap(proc.stdout)["changed"] == 0
    assert env.adoption_objects() == before
    assert env.replicas() == UNTOUCHED
    assert env.admin_password not in proc.stdout + proc.stderr


def test_without_confirmation_nothing_changes(env):
    before = env.adoption_objects()
    proc = env.run()
    assert "Nothing changed: no confirmation" in proc.stdout
    assert _recap(proc.stdout)["changed"] == 0
    assert env.adoption_objects() == before
    assert env.replicas() == UNTOUCHED


def test_terminal_prompt_asks_and_only_yes_adopts(env):
    before = env.adoption_objects()
    rc, out = env.run_on_terminal("no")
    assert rc == 0, out
    assert "Adopt %s/%s as planned above?" % (env.old_ns, RELEASE) in out
    assert "Nothing changed: no confirmation" in out
    assert env.adoption_objects() == before
    assert env.replicas() == UNTOUCHED

    rc, out = env.run_on_terminal("yes")
    assert rc == 0, out
    assert env.job().status.succeeded == 1
    assert env.replicas() == {"old": (0, "2"), "pg": (0, "1"), "new": (2, None)}


def test_adoption_creates_the_job_and_scales_in_order(env):
    proc = env.run(adopt_bitnami_confirm=True)
    order = _task_order(proc.stdout)
    steps = [
        "Record the replica count of Deployment %s-tracking" % RELEASE,
        "Scale to zero Deployment %s-tracking" % RELEASE,
        "Scale to zero Deployment mlflow",
        "Store the adoption Secret",
        "Store the adoption scripts",
        "Let the adoption Job reach the new PostgreSQL",
        "Start the adoption Job",
        "Wait for the adoption Job",
        "Check that the adoption Job succeeded",
        "Give the new deployment the admin credentials",
        "Scale to zero StatefulSet %s-postgresql" % RELEASE,
        "Scale the new MLflow Deployment back up",
        "Remove the adoption Job's network access",
    ]
    positions = [order.index(step) for step in steps]
    assert positions == sorted(positions), order
    status = _task_status(proc.stdout)
    not_changed = {step: status.get(step) for step in steps if status.get(step) != "changed"}
    # Waiting and checking change nothing by themselves; every other step must have acted.
    assert not_changed == {"Wait for the adoption Job": "ok", "Check that the adoption Job succeeded": "ok"}, (
        not_changed
    )

    # Old release: scaled to zero with the original counts recorded, nothing deleted.
    assert env.replicas() == {"old": (0, "2"), "pg": (0, "1"), "new": (2, None)}
    core = env.api["core"]
    assert core.read_namespaced_persistent_volume_claim("data-%s-postgresql-0" % RELEASE, env.old_ns)
    assert {s.metadata.name for s in core.list_namespaced_secret(env.old_ns).items} >= {
        RELEASE + "-postgresql",
        RELEASE + "-tracking",
    }

    job = env.job()
    assert job.status.succeeded == 1
    pod = job.spec.template.spec
    assert [c.name for c in pod.init_containers] == ["dump", "restore"]
    assert [c.name for c in pod.containers] == ["migrate"]
    dump_env = {e.name: e.value or e.value_from.secret_key_ref.to_dict() for e in pod.init_containers[0].env}
    assert dump_env["SOURCE_HOST"] == "%s-postgresql.%s.svc" % (RELEASE, env.old_ns)
    assert dump_env["SOURCE_TRACKING_DB"] == "bitnami_mlflow"
    assert dump_env["SOURCE_AUTH_DB"] == "bitnami_mlflow_auth"
    assert dump_env["SOURCE_USER"] == "bn_mlflow"
    assert dump_env["SOURCE_PASSWORD"]["name"] == "adopt-" + RELEASE
    restore_env = {e.name: e.value for e in pod.init_containers[1].env}
    assert restore_env["ADOPT_REPLACE_TARGET"] == "false"
    assert restore_env["ADOPT_ID"] == "%s/%s" % (env.old_ns, RELEASE)
    migrate_env = {e.name: e.value for e in pod.containers[0].env}
    assert migrate_env["ADOPT_ADMIN_USERNAME"] == "user"
    assert "ADOPT_ADMIN_NEW_PASSWORD" not in migrate_env
    assert pod.containers[0].image == "ghcr.io/mlflow/mlflow:v3.17.2-full"

    scripts = env.api["core"].read_namespaced_config_map("adopt-%s-scripts" % RELEASE, env.new_ns).data
    for name in ("adopt-dump.sh", "adopt-restore.sh", "adopt-migrate.sh"):
        assert scripts[name].strip() == (SCRIPTS / name).read_text().strip()
    assert env.secret("adopt-" + RELEASE) == {"source-password": env.db_password}
    # Carried over: the new deployment's admin Secret holds the old admin and its password.
    assert env.secret("mlflow-admin") == {"username": "user", "password": env.admin_password}
    assert env.adoption_objects()["policies"] == []
    assert env.admin_password not in proc.stdout + proc.stderr
    assert env.db_password not in proc.stdout + proc.stderr

    # Re-run: everything in place, nothing changes, no prompt needed.
    again = env.run()
    assert _recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert "this adoption already completed" in again.stdout
    assert env.job().metadata.uid == job.metadata.uid
    assert env.replicas() == {"old": (0, "2"), "pg": (0, "1"), "new": (2, None)}


def test_failed_job_starts_over_and_rotation_keeps_one_password(env):
    # A Job left Failed by an earlier attempt (KWOK cannot fail one, so its status is written).
    job_name = "adopt-" + RELEASE
    # Created suspended, so the job controller starts no pod that KWOK would complete.
    env.api["batch"].create_namespaced_job(
        env.new_ns,
        client.V1Job(
            metadata=client.V1ObjectMeta(name=job_name),
            spec=client.V1JobSpec(
                backoff_limit=0,
                suspend=True,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(
                        restart_policy="Never", containers=[client.V1Container(name="x", image="busybox")]
                    )
                ),
            ),
        ),
    )
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env.api["batch"].patch_namespaced_job_status(
        job_name,
        env.new_ns,
        {
            "status": {
                "conditions": [
                    {
                        "type": "FailureTarget",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "lastTransitionTime": now,
                    },
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": now},
                ],
                "startTime": now,
            }
        },
    )
    failed = env.api["batch"].read_namespaced_job(job_name, env.new_ns)
    assert "Failed" in [c.type for c in failed.status.conditions if c.status == "True"]

    proc = env.run(adopt_bitnami_confirm=True, adopt_bitnami_admin_credentials="rotate")
    assert "previous adoption Job failed" in proc.stdout
    job = env.job()
    assert job.metadata.uid != failed.metadata.uid
    assert job.status.succeeded == 1
    migrate_env = {e.name: e for e in job.spec.template.spec.containers[0].env}
    assert migrate_env["ADOPT_ADMIN_NEW_PASSWORD"].value_from.secret_key_ref.key == "admin-new-password"
    rotated = env.secret("adopt-" + RELEASE)["admin-new-password"]
    assert len(rotated) == 32
    assert env.secret("mlflow-admin") == {"username": "user", "password": rotated}
    assert rotated not in proc.stdout + proc.stderr

    again = env.run(adopt_bitnami_admin_credentials="rotate")
    assert _recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert env.secret("mlflow-admin")["password"] == rotated


def test_bad_input_fails_before_anything_changes(env):
    before = env.adoption_objects()
    typo = env.run(check=False, adopt_bitnami_confim=True)
    assert typo.returncode != 0
    assert "Unknown variable(s) adopt_bitnami_confim" in typo.stdout
    missing = env.run(check=False, adopt_bitnami_release="nosuchrelease", adopt_bitnami_confirm=True)
    assert missing.returncode != 0
    assert "No Deployment nosuchrelease-tracking in namespace %s" % env.old_ns in missing.stdout
    assert "adopt_bitnami_release" in missing.stdout
    choice = env.run(check=False, adopt_bitnami_admin_credentials="keep", adopt_bitnami_confirm=True)
    assert choice.returncode != 0
    assert "adopt_bitnami_admin_credentials" in choice.stdout
    assert env.adoption_objects() == before
    assert env.replicas() == UNTOUCHED


# The tutorial's oauth2-proxy: GitHub, Basic credentials from the e-mail address and a shared
# password (from a Secret through OAUTH2_PROXY_BASIC_AUTH_PASSWORD); email_domains from the
# chart's config file, the upstream flag overriding the file's.
TUTORIAL_PROXY_ARGS = [
    "--provider=github",
    "--github-org=acme",
    "--github-team=ml,data",
    "--github-user=alice",
    "--github-user=bob",
    "--upstream=http://%s-tracking:80" % RELEASE,
    "--pass-basic-auth=true",
    "--prefer-email-to-user=true",
    "--redirect-url=https://mlflow.example.com/oauth2/callback",
    "--cookie-name=_mlflow_sso",
    "--cookie-expire=12h",
]
O2P_STEPS = [
    "Remove the adoption Job's network access",
    "Carry the bridge password over into Secret mlflow-sso-bridge",
    "Restart the new oauth2-proxy with the carried-over password",
    "Record the replica count of Deployment oauth2-proxy",
    "Scale to zero Deployment oauth2-proxy",
]


def _secret_values(env):
    return [env.o2p[k] for k in ("client_secret", "cookie_secret", "basic_auth_password", "generated_bridge_password")]


def test_oauth2_proxy_is_taken_over(env):
    env.add_oauth2_proxies(TUTORIAL_PROXY_ARGS)
    before = env.o2p_state()
    assert before["old"] == (2, None) and before["restarted_at"] is None

    check = env.run("--check", "-v", adopt_bitnami_confirm=True)
    assert _recap(check.stdout)["changed"] == 0
    assert env.o2p_state() == before
    assert env.replicas() == UNTOUCHED
    plan = check.stdout
    assert (
        "oauth2-proxy: take over Deployment %s/oauth2-proxy (provider github, users identified by email" % env.old_ns
        in plan
    )
    assert (
        "7. carry its Basic (bridge) password from Secret mlflow-oauth2-bridge key basic-auth-password "
        "(env OAUTH2_PROXY_BASIC_AUTH_PASSWORD) over into Secret %s/mlflow-sso-bridge key password, then restart "
        "Deployment %s/oauth2-proxy if that Secret changed or its pods were not yet restarted for this adoption"
        % (env.new_ns, env.new_ns)
    ) in plan
    assert "8. scale Deployment %s/oauth2-proxy from 2 to 0 replicas" % env.old_ns in plan
    for line in (
        'oauth2_proxy_github_client_id: \\"%s\\"' % env.o2p["client_id"],
        'oauth2_proxy_github_org: \\"acme\\"',
        'oauth2_proxy_github_teams: [\\"ml\\", \\"data\\"]',
        'oauth2_proxy_github_users: [\\"alice\\", \\"bob\\"]',
        'oauth2_proxy_email_domains: [\\"*\\"]',
        'oauth2_proxy_ui_host: \\"mlflow.example.com\\"',
        "oauth2_proxy_github_client_secret: in the vault; the old one is in Secret %s/oauth2-proxy key client-secret: "
        "kubectl -n %s get secret oauth2-proxy -o jsonpath='{.data.client-secret}' | base64 -d "
        "| ansible-vault encrypt_string --stdin-name oauth2_proxy_github_client_secret" % (env.old_ns, env.old_ns),
    ):
        assert line in plan, line

    proc = env.run("-v", adopt_bitnami_confirm=True)
    order = _task_order(proc.stdout)
    positions = [order.index(step) for step in O2P_STEPS]
    assert positions == sorted(positions), order
    status = _task_status(proc.stdout)
    assert {step: status.get(step) for step in O2P_STEPS[1:]} == dict.fromkeys(O2P_STEPS[1:], "changed")
    after = env.o2p_state()
    assert after["old"] == (0, "2")
    assert after["bridge"] == env.o2p["basic_auth_password"]
    assert after["bridge_labels"] == {
        "app.kubernetes.io/part-of": "mlflow",
        "app.kubernetes.io/managed-by": "mlflow_k8s.platform",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", after["restarted_at"] or ""), after
    assert after["restarted_for"] == "%s/%s" % (env.old_ns, RELEASE)
    assert env.replicas() == {"old": (0, "2"), "pg": (0, "1"), "new": (2, None)}

    again = env.run("-v")
    assert _recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert _task_status(again.stdout)["Restart the new oauth2-proxy with the carried-over password"] == "skipping"
    assert env.o2p_state() == after

    # A run that stopped after writing the Secret but before the restart: the Secret is already
    # right, the marker is missing, and the next confirmed run restarts the pods.
    env.api["apps"].patch_namespaced_deployment(
        "oauth2-proxy",
        env.new_ns,
        [{"op": "remove", "path": "/spec/template/metadata/annotations/" + BRIDGE_ANNOTATION.replace("/", "~1")}],
    )
    resumed = env.run("-v", adopt_bitnami_confirm=True)
    assert _task_status(resumed.stdout)["Restart the new oauth2-proxy with the carried-over password"] == "changed"
    assert env.o2p_state()["restarted_for"] == after["restarted_for"]
    assert _recap(env.run("-v").stdout)["changed"] == 0

    output = "".join(p.stdout + p.stderr for p in (check, proc, again))
    for value in _secret_values(env):
        assert value not in output


def test_oauth2_proxy_with_login_identity_stops_before_anything_changes(env):
    # The password as a literal argument: it must not show up even in the failure.
    args = [a for a in TUTORIAL_PROXY_ARGS if not a.startswith("--prefer-email-to-user")]
    env.add_oauth2_proxies([*args, "--basic-auth-password=literal-%s" % env.db_password])
    before = (env.adoption_objects(), env.replicas(), env.o2p_state())
    proc = env.run("-v", check=False, adopt_bitnami_confirm=True)
    assert proc.returncode != 0
    assert "The oauth2-proxy %s/oauth2-proxy cannot be taken over: identity is login" % env.old_ns in proc.stdout
    assert "--prefer-email-to-user=true" in proc.stdout
    assert "adopt_bitnami_oauth2_proxy=none" in proc.stdout
    assert "Show the adoption plan" not in _task_order(proc.stdout)
    assert (env.adoption_objects(), env.replicas(), env.o2p_state()) == before
    assert "literal-%s" % env.db_password not in proc.stdout + proc.stderr


def test_oauth2_proxy_choice(env):
    env.add_oauth2_proxies(TUTORIAL_PROXY_ARGS)
    env.add_oauth2_proxies(TUTORIAL_PROXY_ARGS, name="oauth2-proxy-other", new=False)
    before = (env.adoption_objects(), env.replicas(), env.o2p_state())
    several = env.run(check=False, adopt_bitnami_confirm=True)
    assert several.returncode != 0
    assert (
        "Several oauth2-proxy Deployments in namespace %s (oauth2-proxy, oauth2-proxy-other): "
        "set adopt_bitnami_oauth2_proxy" % env.old_ns
    ) in several.stdout
    missing = env.run(check=False, adopt_bitnami_oauth2_proxy="nosuchproxy", adopt_bitnami_confirm=True)
    assert missing.returncode != 0
    assert "No Deployment nosuchproxy in namespace %s: check adopt_bitnami_oauth2_proxy" % env.old_ns in missing.stdout
    named = env.run("--check", adopt_bitnami_oauth2_proxy="oauth2-proxy-other")
    assert "oauth2-proxy: take over Deployment %s/oauth2-proxy-other" % env.old_ns in named.stdout
    skipped = env.run("--check", adopt_bitnami_oauth2_proxy="none")
    assert "oauth2-proxy: nothing taken over (adopt_bitnami_oauth2_proxy: none)" in skipped.stdout
    assert (env.adoption_objects(), env.replicas(), env.o2p_state()) == before

    # Adopted without the oauth2-proxy, then taken over later: the completed adoption does not
    # stand in for a confirmation of the take-over.
    env.run(adopt_bitnami_oauth2_proxy="none", adopt_bitnami_confirm=True)
    assert env.o2p_state() == before[2]
    unconfirmed = env.run(adopt_bitnami_oauth2_proxy="oauth2-proxy")
    assert "Nothing changed: no confirmation" in unconfirmed.stdout
    assert _recap(unconfirmed.stdout)["changed"] == 0
    assert env.o2p_state() == before[2]
    env.run(adopt_bitnami_oauth2_proxy="oauth2-proxy", adopt_bitnami_confirm=True)
    taken = env.o2p_state()
    assert (taken["old"], taken["bridge"]) == ((0, "2"), env.o2p["basic_auth_password"])
    assert env.api["apps"].read_namespaced_deployment("oauth2-proxy-other", env.old_ns).spec.replicas == 2
