"""The cert-manager binaries built by tests/cluster/build.sh work against a real API server.

The controller, cainjector and webhook run as host processes with the arguments the upstream chart
passes (plus --kubeconfig and loopback addresses, since they are not in a pod) against the API
server of the suite's cluster (conftest.py). Nothing is skipped: without the built binaries the
tests fail. Objects live in a namespace of their own and cluster-scoped ones carry its name, so the tests
can share a cluster; their webhook configurations match only that namespace.
"""

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
VERSIONS = dict(
    line.split("=", 1) for line in (HERE / "versions.env").read_text().splitlines() if "=" in line and line[0] != "#"
)
VERSION = "v" + VERSIONS["CERT_MANAGER_VERSION"]
CACHE = Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
BUILD = CACHE / f"cert-manager-{VERSION}"
BINARIES = ("controller", "webhook", "cainjector", "acmesolver", "startupapicheck")
CRDS = [f"{r}.cert-manager.io" for r in ("certificates", "certificaterequests", "issuers", "clusterissuers")]
CRDS += [f"{r}.acme.cert-manager.io" for r in ("orders", "challenges")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, *, host=None, tls=None, method="GET", body=None):
    """(status, body) of a request to 127.0.0.1:port, or (None, "") if nothing answers yet."""
    if tls:  # by name: "localhost" is one of the names the webhook's serving certificate carries
        conn = http.client.HTTPSConnection("localhost", port, context=tls, timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Host": host} if host else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except OSError:
        return None, ""
    finally:
        conn.close()


class Process:
    """A binary running in the background; its output goes to a log file that failures quote."""

    def __init__(self, name, args, log, netns=None):
        self.name, self.log = name, log
        command = [str(BUILD / "bin" / name), *args]
        if netns:
            command = ["nsenter", f"--net={netns}", "--", *command]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def alive(self):
        code = self.proc.poll()
        assert code is None, f"{self.name} exited with {code}; log {self.log}:\n{self.output()[-3000:]}"

    def stop(self):
        """SIGTERM, as the kubelet sends; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_until(what, check, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        process.alive()
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout}s waiting for {what}; {process.name} log {process.log}:\n"
                f"{process.output()[-3000:]}"
            )
        time.sleep(0.5)
    return result


@pytest.fixture(scope="module")
def kubeconfig(cluster):
    return cluster.kubeconfig


@pytest.fixture(scope="module")
def built():
    missing = [b for b in BINARIES if not os.access(BUILD / "bin" / b, os.X_OK)]
    if missing or not (BUILD / ".done").is_file():
        pytest.fail(f"cert-manager not built in {BUILD} (missing: {missing}): run bash tests/cluster/build.sh")
    return BUILD


@pytest.fixture(scope="module")
def kube(kubeconfig):
    def run(*args, stdin=None, check=True):
        cmd = [str(CACHE / "bin" / "kubectl"), "--kubeconfig", kubeconfig, *args]
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
        assert not check or result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
        return result

    run.apply = lambda manifest: run("apply", "-f", "-", stdin=manifest)
    run.json = lambda *args: json.loads(run("get", *args, "-o", "json").stdout)
    run.exists = lambda *args: run("get", *args, check=False).returncode == 0
    return run


def helm_template(namespace, *args):
    # Where tests/cluster/charts.sh puts the chart of the pinned version (inventories/local reads it there too).
    chart = CACHE / "charts" / f"cert-manager-{VERSION}" / "cert-manager"
    cmd = [str(CACHE / "bin" / "helm"), "template", "cert-manager", str(chart), "-n", namespace, *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"helm template {chart} failed:\n{result.stderr}"
    return result.stdout


def ready(kube, *resource):
    conditions = kube.json(*resource).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def secret_file(kube, ns, name, key, path):
    path.write_bytes(base64.b64decode(kube.json("secret", name, "-n", ns)["data"][key]))
    return path


@pytest.fixture(scope="module")
def ns(kube, built):
    # The chart's own CRDs if the API server lacks them; existing ones (another install's) stay as they are.
    if not all(kube.exists("crd", crd) for crd in CRDS):
        shows = [f"--show-only=templates/crd-{crd.split('.', 1)[1]}_{crd.split('.')[0]}.yaml" for crd in CRDS]
        crds = helm_template("cert-manager", "--set", "crds.enabled=true", *shows)
        kube("apply", "--server-side", "--field-manager=cert-manager-binaries-test", "-f", "-", stdin=crds)
    kube("wait", "--for=condition=Established", *[f"crd/{crd}" for crd in CRDS], "--timeout=60s")
    name = f"cm-bin-{uuid.uuid4().hex[:6]}"
    kube("create", "namespace", name)
    # The chart's validating webhook skips namespaces with this label, so a cert-manager installed on
    # the same cluster stays out of the way; the tests' own webhook configurations still match.
    kube("label", "namespace", name, "cert-manager.io/disable-validation=true")
    yield name
    kube("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def controller(kubeconfig, ns, tmp_path_factory):
    metrics, healthz = free_port(), free_port()
    # The chart's arguments (deployment.yaml with the role's values), POD_NAMESPACE being ns.
    chart = [
        f"--cluster-resource-namespace={ns}",
        f"--leader-election-namespace={ns}",
        "--max-concurrent-challenges=60",
        f"--acme-http01-solver-image=quay.io/jetstack/cert-manager-acmesolver:{VERSION}",
    ]
    local = [
        f"--kubeconfig={kubeconfig}",
        f"--metrics-listen-address=127.0.0.1:{metrics}",
        f"--internal-healthz-listen-address=127.0.0.1:{healthz}",
    ]
    proc = Process("controller", ["--v=2", *chart, *local], tmp_path_factory.mktemp("controller") / "controller.log")
    proc.metrics = metrics
    wait_until("the controller's /livez", lambda: http_get(healthz, "/livez")[0] == 200, proc)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def issuer(kube, ns, controller):
    """The role's self-signed CA chain (roles/cert_manager/vars/main.yml), cluster-scoped names made unique."""
    kube.apply(f"""
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-bootstrap-{ns}
  labels: {{app.kubernetes.io/managed-by: mlflow_k8s.platform.cert_manager}}
spec: {{selfSigned: {{}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: selfsigned-ca
  namespace: {ns}
  labels: {{app.kubernetes.io/managed-by: mlflow_k8s.platform.cert_manager}}
spec:
  isCA: true
  commonName: mlflow-k8s local CA
  secretName: selfsigned-ca-root
  duration: 87600h
  privateKey: {{algorithm: ECDSA, size: 256}}
  issuerRef: {{name: selfsigned-bootstrap-{ns}, kind: ClusterIssuer, group: cert-manager.io}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{name: selfsigned-ca-{ns}, labels: {{app.kubernetes.io/managed-by: mlflow_k8s.platform.cert_manager}}}}
spec: {{ca: {{secretName: selfsigned-ca-root}}}}
""")
    yield f"selfsigned-ca-{ns}"
    kube(
        "delete",
        "clusterissuer",
        f"selfsigned-bootstrap-{ns}",
        f"selfsigned-ca-{ns}",
        "--ignore-not-found",
        check=False,
    )


def test_unknown_flag_fails(built):
    for name in BINARIES:
        result = subprocess.run(
            [str(built / "bin" / name), "--no-such-flag"], capture_output=True, text=True, check=False
        )
        assert result.returncode != 0, f"{name} accepted an unknown flag"
        assert "unknown flag: --no-such-flag" in result.stderr, result.stderr
        assert f'component="{name}"' in result.stderr, result.stderr


def test_ca_issuer_becomes_ready_and_issues_for_two_dns_names(kube, ns, controller, issuer, tmp_path):
    wait_until(f"ClusterIssuer {issuer} Ready", lambda: ready(kube, "clusterissuer", issuer), controller)
    kube.apply(f"""
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: mlflow-tls, namespace: {ns}}}
spec:
  secretName: mlflow-tls
  dnsNames: [mlflow.example.test, api.mlflow.example.test]
  issuerRef: {{name: {issuer}, kind: ClusterIssuer}}
""")
    wait_until("Certificate mlflow-tls Ready", lambda: ready(kube, "certificate", "mlflow-tls", "-n", ns), controller)

    root = secret_file(kube, ns, "selfsigned-ca-root", "ca.crt", tmp_path / "root.crt")
    leaf = secret_file(kube, ns, "mlflow-tls", "tls.crt", tmp_path / "leaf.crt")
    assert secret_file(kube, ns, "mlflow-tls", "ca.crt", tmp_path / "ca.crt").read_bytes() == root.read_bytes()
    verify = subprocess.run(["openssl", "verify", "-CAfile", root, leaf], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    sans = subprocess.run(
        ["openssl", "x509", "-in", leaf, "-noout", "-ext", "subjectAltName"], capture_output=True, text=True, check=True
    ).stdout
    assert "DNS:mlflow.example.test, DNS:api.mlflow.example.test" in sans, sans
    # This controller, not another one on the cluster, saw it: its own metrics report the Certificate Ready.
    labels = ('condition="True"', f'issuer_name="{issuer}"', 'name="mlflow-tls"', f'namespace="{ns}"')
    metrics = http_get(controller.metrics, "/metrics")[1].splitlines()
    assert any(
        m.startswith("certmanager_certificate_ready_status{") and m.endswith(" 1") and all(x in m for x in labels)
        for m in metrics
    ), "the controller's /metrics do not report Certificate mlflow-tls Ready"


def test_ingress_shim_issues_for_annotated_ingress(kube, ns, controller, issuer):
    kube.apply(f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: mlflow-ui
  namespace: {ns}
  annotations: {{cert-manager.io/cluster-issuer: {issuer}}}
spec:
  ingressClassName: nginx
  tls: [{{hosts: [ui.mlflow.example.test], secretName: mlflow-ui-tls}}]
  rules:
  - host: ui.mlflow.example.test
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: mlflow, port: {{number: 5000}}}}}}}}]}}
""")
    wait_until(
        "Certificate mlflow-ui-tls for the Ingress",
        lambda: kube.exists("certificate", "mlflow-ui-tls", "-n", ns),
        controller,
    )
    crt = kube.json("certificate", "mlflow-ui-tls", "-n", ns)
    assert crt["spec"]["dnsNames"] == ["ui.mlflow.example.test"]
    assert crt["spec"]["issuerRef"]["name"] == issuer
    assert crt["metadata"]["ownerReferences"][0]["kind"] == "Ingress"
    wait_until(
        "Certificate mlflow-ui-tls Ready", lambda: ready(kube, "certificate", "mlflow-ui-tls", "-n", ns), controller
    )


@pytest.fixture(scope="module")
def cainjector(kubeconfig, ns, tmp_path_factory):
    metrics = free_port()
    args = [
        "--v=2",
        f"--leader-election-namespace={ns}",  # the chart's, then what a host process needs
        f"--kubeconfig={kubeconfig}",
        f"--metrics-listen-address=127.0.0.1:{metrics}",
    ]
    proc = Process("cainjector", args, tmp_path_factory.mktemp("cainjector") / "cainjector.log")
    # The manager serves metrics once it runs; the injectors then wait for the Lease.
    wait_until("the cainjector's /metrics", lambda: http_get(metrics, "/metrics")[0] == 200, proc)
    yield proc
    proc.stop()


def injected_bundle(kube, kind, name):
    return base64.b64decode(kube.json(kind, name)["webhooks"][0]["clientConfig"].get("caBundle", ""))


def test_cainjector_injects_ca_from_certificate(kube, ns, controller, cainjector, issuer, tmp_path):
    wait_until("Certificate mlflow-tls Ready", lambda: ready(kube, "certificate", "mlflow-tls", "-n", ns), controller)
    kube.apply(f"""
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {ns}-injected
  annotations: {{cert-manager.io/inject-ca-from: {ns}/mlflow-tls}}
webhooks:
- name: check.mlflow.example.test
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}
  rules: [{{apiGroups: [example.test], apiVersions: [v1], operations: [CREATE], resources: [widgets]}}]
  clientConfig: {{url: "https://127.0.0.1:9/validate"}}
""")
    try:
        ca = secret_file(kube, ns, "mlflow-tls", "ca.crt", tmp_path / "ca.crt").read_bytes()
        wait_until(
            "the injected caBundle",
            lambda: injected_bundle(kube, "validatingwebhookconfiguration", f"{ns}-injected") == ca,
            cainjector,
        )
    finally:
        kube("delete", "validatingwebhookconfiguration", f"{ns}-injected", "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def webhook(cluster, ns, tmp_path_factory):
    port, healthz, service = free_port(), free_port(), f"{ns}-webhook"
    # The chart's arguments with POD_NAMESPACE=ns; localhost added because the API server reaches
    # this process by URL instead of through the Service.
    chart = [
        f"--dynamic-serving-ca-secret-namespace={ns}",
        f"--dynamic-serving-ca-secret-name={service}-ca",
        *[f"--dynamic-serving-dns-names={n}" for n in (service, f"{service}.{ns}", f"{service}.{ns}.svc", "localhost")],
    ]
    # It runs in the cluster's network namespace, where the API server calls it at localhost, with
    # the kubeconfig of the cluster's own components; the forwarder lets the tests reach its ports
    # from the host under the same numbers.
    local = [
        f"--secure-port={port}",
        f"--healthz-port={healthz}",
        f"--metrics-listen-address=127.0.0.1:{free_port()}",
        f"--kubeconfig={cluster.state / 'pki' / 'admin.kubeconfig'}",
    ]
    forwards = [cluster.state / "forwards.d" / f"cert-manager-webhook-{p}.conf" for p in (port, healthz)]
    for path, p in zip(forwards, (port, healthz), strict=True):
        path.write_text(f"{p} 127.0.0.1:{p}\n")
    log = tmp_path_factory.mktemp("webhook") / "webhook.log"
    proc = Process("webhook", ["--v=2", *chart, *local], log, netns=f"/run/netns/{cluster.netns}")
    proc.port, proc.healthz, proc.service = port, healthz, service
    wait_until("the webhook's /healthz", lambda: http_get(healthz, "/healthz")[0] == 200, proc)
    yield proc
    proc.stop()
    for path in forwards:
        path.unlink()


def webhook_tls(kube, ns, webhook, tmp_path):
    """A TLS client context that trusts only the CA the webhook keeps in its Secret."""
    secret = f"{webhook.service}-ca"
    wait_until(f"Secret {secret}", lambda: kube.exists("secret", secret, "-n", ns), webhook)
    return ssl.create_default_context(cafile=str(secret_file(kube, ns, secret, "ca.crt", tmp_path / "webhook-ca.crt")))


def test_webhook_serves_dynamic_certificate_and_healthz(kube, ns, webhook, tmp_path):
    assert http_get(webhook.healthz, "/livez")[0] == 200
    ctx = webhook_tls(kube, ns, webhook, tmp_path)
    # The Service name the chart's webhook configurations use must verify against the Secret's CA.
    with (
        socket.create_connection(("127.0.0.1", webhook.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=f"{webhook.service}.{ns}.svc") as conn,
    ):
        sans = [v for k, v in conn.getpeercert()["subjectAltName"] if k == "DNS"]
    assert sans == [webhook.service, f"{webhook.service}.{ns}", f"{webhook.service}.{ns}.svc", "localhost"]


def test_webhook_denies_invalid_certificate(kube, ns, webhook, tmp_path):
    ctx = webhook_tls(kube, ns, webhook, tmp_path)

    def review(spec):
        gv = {"group": "cert-manager.io", "version": "v1"}
        obj = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "probe", "namespace": ns},
            "spec": {"secretName": "probe", "dnsNames": ["x.example.test"], "issuerRef": {"name": "any"}, **spec},
        }
        request = {
            "uid": str(uuid.uuid4()),
            "kind": {**gv, "kind": "Certificate"},
            "resource": {**gv, "resource": "certificates"},
            "name": "probe",
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": {"username": "pytest"},
            "object": obj,
        }
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
        status, answer = http_get(webhook.port, "/validate", tls=ctx, method="POST", body=body)
        assert status == 200, answer
        return json.loads(answer)["response"]

    denied = review({"privateKey": {"algorithm": "RSA", "size": 1024}})
    assert denied["allowed"] is False
    assert "spec.privateKey.size: Invalid value: 1024" in denied["status"]["message"], denied
    assert review({})["allowed"] is True


def test_startupapicheck_fails_without_webhook_and_passes_with_it(
    built, kube, kubeconfig, ns, webhook, cainjector, tmp_path
):
    def check(*args):
        cmd = [
            str(built / "bin" / "startupapicheck"),
            "check",
            "api",
            "-v",
            f"--kubeconfig={kubeconfig}",
            "-n",
            ns,
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    early = check("--wait=3s", "--interval=1s")
    assert early.returncode == 124, early.stderr  # upstream's exit status for giving up after --wait
    assert (
        "did not mutate the dry-run CertificateRequest" in early.stderr
        or "did not validate the dry-run CertificateRequest" in early.stderr
    ), early.stderr

    # The chart's own webhook configurations, pointed at this process and limited to ns; the null
    # drops the chart's default disable-validation expression, which would exclude ns.
    only_ns = json.dumps({"matchLabels": {"kubernetes.io/metadata.name": ns}, "matchExpressions": None})
    configs = helm_template(
        ns,
        "--set",
        f"fullnameOverride={ns}",
        "--set",
        f"webhook.url.host=localhost:{webhook.port}",
        "--set-json",
        f"webhook.validatingWebhookConfiguration.namespaceSelector={only_ns}",
        "--set-json",
        f"webhook.mutatingWebhookConfiguration.namespaceSelector={only_ns}",
        "--show-only=templates/webhook-validating-webhook.yaml",
        "--show-only=templates/webhook-mutating-webhook.yaml",
    )
    kube.apply(configs)
    try:
        ca = secret_file(kube, ns, f"{webhook.service}-ca", "ca.crt", tmp_path / "webhook-ca.crt").read_bytes()
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            wait_until(
                f"the caBundle of {kind} {webhook.service}",
                lambda kind=kind: injected_bundle(kube, kind, webhook.service) == ca,
                cainjector,
            )
        ok = check("--wait=1m")
        assert ok.returncode == 0, ok.stderr
        assert "The cert-manager API is ready" in ok.stdout
        assert f'version="{VERSION}"' in ok.stderr
    finally:
        kube(
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            webhook.service,
            "--ignore-not-found",
            check=False,
        )


def test_acmesolver_serves_the_token(tmp_path):
    port = free_port()
    args = [f"--listen-port={port}", "--domain=mlflow.example.test", "--token=t0k3n", "--key=t0k3n.thumbprint"]
    proc = Process("acmesolver", args, tmp_path / "acmesolver.log")
    try:
        path, host = "/.well-known/acme-challenge/t0k3n", "mlflow.example.test"
        assert wait_until("the solver", lambda: http_get(port, path, host=host)[0], proc) == 200
        assert http_get(port, path, host=host) == (200, "t0k3n.thumbprint")
        assert http_get(port, "/.well-known/acme-challenge/other", host=host)[0] == 404
        assert http_get(port, path, host="other.example.test")[0] == 404
        assert f'version="{VERSION}"' in proc.output()
    finally:
        assert proc.stop() == 0, proc.output()


# Last: it stops the module's servers.
@pytest.mark.parametrize("name", ["controller", "cainjector", "webhook"])
def test_server_reports_pinned_version_and_stops_cleanly(request, kube, ns, name):
    proc = request.getfixturevalue(name)
    proc.alive()
    assert f'"starting" logger="cert-manager.{name}" component="{name}" version="{VERSION}"' in proc.output()
    assert proc.stop() == 0, proc.output()[-3000:]
    lease = {"controller": "cert-manager-controller", "cainjector": "cert-manager-cainjector-leader-election"}.get(name)
    if lease:
        holder = kube.json("lease", lease, "-n", ns)["spec"].get("holderIdentity")
        assert not holder, f"{name} kept Lease {ns}/{lease} ({holder}) after SIGTERM"
