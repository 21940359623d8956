"""Browser-style GitHub sign-on through the real oauth2-proxy pod into the MLflow pod.

The fake GitHub (tests/lib/fake_github.py) stands in for github.com: it listens inside the
cluster's network namespace on the address the local inventory gives oauth2-proxy for the code
exchange and the API calls, and the browser reaches its login page through the harness's
forwarder. The ingress stand-in (tests/lib/ingress_standin.py) plays ingress-nginx's TLS
termination in front of the oauth2-proxy and MLflow Services, because the real controller cannot
run here. Users and grants are the local inventory's, set by site.yml's mlflow_users role."""

import hashlib
import http.client
import json
import os
import time
import urllib.parse

import pytest
import yaml
from browser import Browser, basic
from conftest import REPO, STATE, cluster_value, kubectl, mlflow_request
from fake_github import Account, FakeGitHub
from ingress_standin import IngressStandin
from netns import Namespace

INVENTORY = REPO / "inventories/local/group_vars/all"
PROXY = yaml.safe_load((INVENTORY / "oauth2_proxy.yml").read_text())
MLFLOW = yaml.safe_load((INVENTORY / "postgres_mlflow.yml").read_text())
CLUSTER = yaml.safe_load((INVENTORY / "cluster.yml").read_text())
UI_HOST, API_HOST = MLFLOW["postgres_mlflow_ui_host"], MLFLOW["postgres_mlflow_api_host"]
UI, API = "https://" + UI_HOST, "https://" + API_HOST
ORG, (TEAM,) = PROXY["oauth2_proxy_github_org"], PROXY["oauth2_proxy_github_teams"]
ACCOUNTS = [
    Account("alice", "alice@example.org", orgs=(ORG,), teams=((ORG, TEAM),)),
    Account("bob", "bob@example.org", orgs=(ORG,), teams=((ORG, TEAM),)),
    Account("carol", "carol@example.org", orgs=(ORG,), teams=((ORG, "finance"),)),
    Account("mallory", "mallory@example.org"),
]


def _port(variable, default):
    return int(os.environ.get(variable, default))


@pytest.fixture(scope="module")
def sso(mlflow):
    """The fake GitHub in the cluster's namespace and the two ingress stand-ins on loopback."""
    github_port = _port("MLFLOW_K8S_GITHUB_PORT", 14280)
    address = CLUSTER["mlflow_k8s_local_github_address"]
    host, port = address.split(":")
    ns = Namespace(cluster_value("NETNS_PATH"))
    listener = ns.listen((host, int(port)))
    forward = STATE / "forwards.d" / "fake-github.conf"
    forward.write_text(f"{github_port} {address}\n")
    github = FakeGitHub(
        PROXY["oauth2_proxy_github_client_id"],
        PROXY["oauth2_proxy_github_client_secret"],
        ACCOUNTS,
        listen_socket=listener,
        url=f"http://127.0.0.1:{github_port}",
    )
    ui = IngressStandin(UI_HOST, "127.0.0.1", _port("MLFLOW_K8S_SSO_PORT", 14180))
    api = IngressStandin(API_HOST, "127.0.0.1", _port("MLFLOW_K8S_MLFLOW_PORT", 15000))
    with github, ui, api:
        deadline = time.monotonic() + 20
        while True:  # the forwarder reads its files every second
            try:
                mlflow_request(github.url + "/")
                break
            except OSError:
                assert time.monotonic() < deadline, "the forwarder did not pick up the fake GitHub"
                time.sleep(0.5)

        def resolve(url):
            for public, standin in ((UI, ui), (API, api)):
                if url.startswith(public):
                    return standin.url + url[len(public) :]
            return url

        yield {"github": github, "resolve": resolve, "admin": mlflow["admin"], "url": mlflow["url"]}
    forward.unlink()
    ns.close()


@pytest.fixture(scope="module")
def restricted(sso):
    """An experiment nobody is granted, made by the admin."""
    status, body = mlflow_request(
        sso["url"] + "/api/2.0/mlflow/experiments/create",
        auth=sso["admin"],
        method="POST",
        body={"name": "sso-restricted"},
    )
    assert status == 200 or b"RESOURCE_ALREADY_EXISTS" in body, body
    return "sso-restricted"


def login(sso, github_login):
    browser = Browser(sso["resolve"])
    browser.set_cookie(sso["github"].url, "gh_session", github_login)
    return browser, browser.get(UI + "/")


def _session_cookie(browser):
    name = PROXY.get("oauth2_proxy_cookie_name", "__Host-mlflow-sso")
    return {n for n in browser.cookie_names(UI) if n.startswith(name) and not n.endswith("_csrf")}


def _visible_experiments(browser, headers=None):
    resp = browser.get(UI + "/api/2.0/mlflow/experiments/search?max_results=1000", follow=False, headers=headers)
    assert resp.status == 200, resp.body[:300]
    return {e["name"] for e in resp.json().get("experiments", [])}


def _proxy_log():
    return kubectl("-n", "mlflow", "logs", "deployment/oauth2-proxy").stdout


def test_a_member_signs_in_with_a_real_code_exchange_and_sees_exactly_the_granted_experiments(sso, restricted):
    exchanges_before = len(sso["github"].token_exchanges)
    browser, resp = login(sso, "bob")
    assert resp.status == 200, (resp.status, resp.body[:300], browser.history)
    assert b"MLflow" in resp.body
    assert _session_cookie(browser), browser.cookies
    urls = [entry[1] for entry in browser.history]
    assert any(u.startswith(sso["github"].url + "/login/oauth/authorize") for u in urls)
    assert any(u.startswith(UI + "/oauth2/callback?code=") for u in urls)
    # The pod redeemed the code at the fake GitHub inside the cluster, with the right secret.
    assert sso["github"].token_exchanges[exchanges_before:] == [{"login": "bob", "ok": True}]
    me = browser.get(UI + "/api/2.0/mlflow/users/current", follow=False)
    assert me.status == 200 and me.json()["user"]["username"] == "bob@example.org"
    assert me.json()["user"]["is_admin"] is False
    assert _visible_experiments(browser) == {"fraud-detection"}
    assert restricted not in _visible_experiments(browser)


def test_an_admin_from_the_inventory_signs_in_as_an_admin(sso, restricted):
    browser, resp = login(sso, "alice")
    assert resp.status == 200
    me = browser.get(UI + "/api/2.0/mlflow/users/current", follow=False).json()["user"]
    assert me["username"] == "alice@example.org" and me["is_admin"] is True
    assert {"fraud-detection", restricted} <= _visible_experiments(browser)


def test_a_used_authorization_code_cannot_be_replayed(sso):
    browser, resp = login(sso, "bob")
    assert resp.status == 200
    callback = next(e[1] for e in browser.history if e[1].startswith(UI + "/oauth2/callback?code="))
    attacker = Browser(sso["resolve"])
    replay = attacker.get(callback, follow=False)
    assert replay.status in (403, 500)
    assert not _session_cookie(attacker)


@pytest.mark.parametrize(
    ("github_login", "reason"),
    [("mallory", "Missing Organization"), ("carol", "Missing Team")],
)
def test_people_outside_the_allowed_org_and_team_are_refused(sso, github_login, reason):
    browser, resp = login(sso, github_login)
    assert resp.status in (403, 500), (resp.status, browser.history)
    assert resp.url.startswith(UI + "/oauth2/callback")
    assert not _session_cookie(browser)
    again = browser.get(UI + "/", follow=False)
    assert again.status == 302 and again.location.startswith(sso["github"].url + "/login/oauth/authorize")
    assert reason in _proxy_log()


def test_an_authorization_header_from_the_browser_is_not_passed_through(sso):
    admin_header = {"Authorization": basic(*sso["admin"])}
    stranger = Browser(sso["resolve"])
    resp = stranger.get(UI + "/api/2.0/mlflow/users/current", follow=False, headers=admin_header)
    assert resp.status in (302, 401, 403)
    assert b'"username"' not in resp.body
    browser, resp = login(sso, "bob")
    assert resp.status == 200
    me = browser.get(UI + "/api/2.0/mlflow/users/current", follow=False, headers=admin_header)
    assert me.status == 200 and me.json()["user"]["username"] == "bob@example.org"
    assert me.json()["user"]["is_admin"] is False
    assert _visible_experiments(browser, headers=admin_header) == {"fraud-detection"}


def test_the_sso_email_with_a_wrong_password_is_refused_on_the_api_host(sso):
    client = Browser(sso["resolve"])
    wrong = client.request(
        "GET",
        API + "/api/2.0/mlflow/users/current",
        headers={"Authorization": basic("bob@example.org", "not-the-bridge")},
    )
    assert wrong.status == 401
    assert client.request("GET", API + "/api/2.0/mlflow/experiments/search?max_results=10").status == 401
    # Control: the API host answers the right credentials, so the 401 above is the password.
    right = client.request(
        "GET", API + "/api/2.0/mlflow/users/current", headers={"Authorization": basic(*sso["admin"])}
    )
    assert right.status == 200 and json.loads(right.body)["user"]["is_admin"] is True


def test_an_ungranted_experiment_stays_closed_to_a_signed_in_member(sso, restricted):
    browser, resp = login(sso, "bob")
    assert resp.status == 200
    query = urllib.parse.urlencode({"experiment_name": restricted})
    assert browser.get(UI + "/api/2.0/mlflow/experiments/get-by-name?" + query, follow=False).status == 403


# A large artifact, up and down, on both paths: the UI host through the real oauth2-proxy pod, and
# the API host straight to MLflow. 1 GiB: above the Ingresses' former 512m body limit and large
# enough that anything holding a whole body in memory shows in MLflow's 2Gi limit.
GIB = 1 << 30
MIB = 1 << 20


def _large_body():
    """1 GiB, one MiB at a time: a random MiB with a counter in front, so every MiB differs."""
    block = os.urandom(MIB)
    for i in range(GIB // MIB):
        yield i.to_bytes(8, "big") + block[8:]


def _mlflow_pod():
    pods = json.loads(kubectl("-n", "mlflow", "get", "pod", "-l", "app.kubernetes.io/name=mlflow", "-o", "json").stdout)
    (pod,) = [p for p in pods["items"] if "deletionTimestamp" not in p["metadata"]]
    (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "mlflow"]
    return pod["metadata"]["uid"], status["containerID"], status["restartCount"]


def _stream(method, url, headers, body=None, length=0):
    """The status, sha256 of what was sent and received, bytes received and their first 300; bodies
    are never held whole."""
    split = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=600)
    try:
        conn.putrequest(method, split.path + ("?" + split.query if split.query else ""))
        for key, value in {**headers, "Content-Length": str(length)}.items():
            conn.putheader(key, value)
        conn.endheaders()
        digest = hashlib.sha256()
        for chunk in body or ():
            digest.update(chunk)
            conn.send(chunk)
        sent = digest.hexdigest()
        resp = conn.getresponse()
        digest, size, head = hashlib.sha256(), 0, b""
        while chunk := resp.read(MIB):
            digest.update(chunk)
            size += len(chunk)
            head = head or chunk[:300]
        return {"status": resp.status, "sent": sent, "received": digest.hexdigest(), "size": size, "head": head}
    finally:
        conn.close()


def _round_trip(base, headers, experiment, name):
    run = _stream_json(base + "/api/2.0/mlflow/runs/create", headers, {"experiment_id": experiment})
    run_id = run["run"]["info"]["run_id"]
    path = "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/%s" % (experiment, run_id, name)
    started = time.monotonic()
    put = _stream("PUT", base + path, headers, _large_body(), GIB)
    assert put["status"] == 200, put["head"]
    uploaded = time.monotonic()
    got = _stream("GET", base + path, headers)
    assert got["status"] == 200, got["head"]
    assert (got["size"], got["received"]) == (GIB, put["sent"])
    listed = _stream_json(base + "/api/2.0/mlflow/artifacts/list?run_id=" + run_id, headers)
    (entry,) = [f for f in listed["files"] if f["path"] == name]
    assert int(entry["file_size"]) == GIB and not entry.get("is_dir")
    print("%s: 1 GiB up in %.0f s, down in %.0f s" % (name, uploaded - started, time.monotonic() - uploaded))


def _stream_json(url, headers, body=None):
    data = json.dumps(body).encode() if body is not None else None
    split = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
    try:
        conn.request(
            "POST" if data else "GET",
            split.path + ("?" + split.query if split.query else ""),
            body=data,
            headers={**headers, **({"Content-Type": "application/json"} if data else {})},
        )
        resp = conn.getresponse()
        raw = resp.read()
        assert resp.status == 200, raw[:300]
        return json.loads(raw)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def fraud_detection(sso):
    status, body = mlflow_request(
        sso["url"] + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=fraud-detection", auth=sso["admin"]
    )
    assert status == 200, body
    return json.loads(body)["experiment"]["experiment_id"]


def test_a_signed_in_member_uploads_and_downloads_a_1_gib_artifact_through_oauth2_proxy(sso, fraud_detection):
    browser, resp = login(sso, "bob")
    assert resp.status == 200
    cookies = "; ".join("%s=%s" % kv for kv in browser.cookies[urllib.parse.urlsplit(UI).netloc].items())
    before = _mlflow_pod()
    _round_trip(sso["resolve"](UI), {"Cookie": cookies}, fraud_detection, "large-through-sso.bin")
    # Streamed, not held: the server was not OOM-killed or restarted on the way.
    assert _mlflow_pod() == before


def test_an_api_user_uploads_and_downloads_a_1_gib_artifact_on_the_api_host(sso, fraud_detection):
    api = sso["resolve"](API)
    path = "/api/2.0/mlflow-artifacts/artifacts/%s/nobody/artifacts/x.bin" % fraud_detection
    assert _stream("PUT", api + path, {}, [b"x"], 1)["status"] == 401
    password = yaml.safe_load((INVENTORY / "mlflow_users.yml").read_text())["mlflow_users_api_users"][0]["password"]
    before = _mlflow_pod()
    _round_trip(api, {"Authorization": basic("svc-training", password)}, fraud_detection, "large-on-api.bin")
    assert _mlflow_pod() == before
