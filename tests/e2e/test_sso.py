"""End to end: GitHub SSO through oauth2-proxy into MLflow's basic-auth app, and per-user
Basic auth on the API host, with real programs configured by the roles' rendered files."""

import json
import subprocess
import textwrap
import urllib.parse

import pytest
from browser import Browser, basic
from stack import API_HOST, MLFLOW_VERSION, UI_HOST, manage_users, mlflow_env, sso_stack

UI = "https://" + UI_HOST
API = "https://" + API_HOST
SVC_USER = "svc-trainer"
SVC_PASSWORD = "svc-Trainer-password-0042"
EXPERIMENTS = {
    # experiment name -> SSO users granted READ
    "e2e-alice-notes": ["alice@example.com"],
    "e2e-team-board": ["alice@example.com", "bob@example.com"],
    "e2e-restricted": [],
}


@pytest.fixture(scope="module")
def stack():
    with sso_stack() as running:
        yield running


def _admin(stack, method, path, body=None):
    browser = Browser(stack.resolve)
    resp = browser.request(
        method, API + path, headers={"Authorization": basic(stack.admin_username, stack.admin_password)}, body=body
    )
    assert resp.status == 200, "%s %s -> %s %s" % (method, path, resp.status, resp.body[:300])
    return resp.json()


def _users(extra_alice_permissions=()):
    """The mlflow_users inventory of the test: SSO users get the bridge password from the role,
    the API user its own password; READ grants on experiments by name."""
    readers = {}
    for name, users in EXPERIMENTS.items():
        for user in users:
            readers.setdefault(user, []).append({"experiment_name": name, "permission": "READ"})
    sso = [
        {
            "email": email,
            "permissions": readers.get(email, [])
            + (list(extra_alice_permissions) if email == "alice@example.com" else []),
        }
        for email in ("alice@example.com", "bob@example.com", "carol@example.com")
    ]
    return {
        "mlflow_users_sso_users": sso,
        "mlflow_users_api_users": [{"username": SVC_USER, "password": SVC_PASSWORD, "permissions": []}],
        "mlflow_users_admins": [],
        "mlflow_users_create_experiments": True,
    }


@pytest.fixture(scope="module")
def seeded(stack):
    """Users, experiments and grants made by the collection's mlflow_users role."""
    # An experiment nobody is granted, made by the admin (the role creates only granted ones).
    _admin(stack, "POST", "/api/2.0/mlflow/experiments/create", {"name": "e2e-restricted"})
    manage_users(stack, _users())
    assert "changed=0" in manage_users(stack, _users())  # the role is idempotent against this server
    found = _admin(stack, "GET", "/api/2.0/mlflow/experiments/search?max_results=1000")["experiments"]
    ids = {e["name"]: e["experiment_id"] for e in found}
    assert set(EXPERIMENTS) <= set(ids)
    return ids


def login(stack, github_login):
    """Sign in at the fake GitHub as ``github_login`` and open the UI host; return the browser
    and the final response."""
    browser = Browser(stack.resolve)
    browser.set_cookie(stack.github.url, "gh_session", github_login)
    return browser, browser.get(UI + "/")


def _session_cookie(browser):
    return {n for n in browser.cookie_names(UI) if n.startswith("__Host-mlflow-sso") and not n.endswith("_csrf")}


def _visible_experiments(browser, headers=None):
    resp = browser.get(UI + "/api/2.0/mlflow/experiments/search?max_results=1000", follow=False, headers=headers)
    assert resp.status == 200, resp.body[:300]
    return {e["name"] for e in resp.json().get("experiments", [])}


def test_member_logs_in_with_a_real_code_exchange_and_sees_exactly_the_granted_experiments(stack, seeded):
    exchanges_before = len(stack.github.token_exchanges)
    browser, resp = login(stack, "alice")
    assert resp.status == 200, (resp.status, resp.body[:300], browser.history)
    assert b"MLflow" in resp.body
    assert _session_cookie(browser), browser.cookies
    # The authorize -> callback -> token hops really happened, with the right client secret.
    urls = [entry[1] for entry in browser.history]
    assert any(u.startswith(stack.github.url + "/login/oauth/authorize") for u in urls)
    assert any(u.startswith(UI + "/oauth2/callback?code=") for u in urls)
    assert stack.github.token_exchanges[exchanges_before:] == [{"login": "alice", "ok": True}]
    me = browser.get(UI + "/api/2.0/mlflow/users/current", follow=False)
    assert me.status == 200 and me.json()["user"]["username"] == "alice@example.com"
    assert _visible_experiments(browser) == {"e2e-alice-notes", "e2e-team-board"}
    bob = login(stack, "bob")[0]
    assert _visible_experiments(bob) == {"e2e-team-board"}


def test_a_used_authorization_code_cannot_be_replayed(stack, seeded):
    browser, resp = login(stack, "alice")
    assert resp.status == 200
    callback = next(e[1] for e in browser.history if e[1].startswith(UI + "/oauth2/callback?code="))
    attacker = Browser(stack.resolve)
    replay = attacker.get(callback, follow=False)
    assert replay.status in (403, 500)
    assert not _session_cookie(attacker)


@pytest.mark.parametrize(
    ("github_login", "reason"),
    [
        ("mallory", "Missing Organization"),  # not a member of the organisation
        ("carol", "Missing Team"),  # a member, but not of the allowed team
    ],
)
def test_people_outside_the_allowed_org_and_team_are_refused(stack, seeded, github_login, reason):
    browser, resp = login(stack, github_login)
    assert resp.status in (403, 500), (resp.status, browser.history)
    assert resp.url.startswith(UI + "/oauth2/callback")
    assert not _session_cookie(browser)
    # Still signed out: the UI sends them back to GitHub, MLflow never answers.
    again = browser.get(UI + "/", follow=False)
    assert again.status == 302 and again.location.startswith(stack.github.url + "/login/oauth/authorize")
    assert reason in stack.oauth2_proxy_log.read_text()


def test_an_authorization_header_from_the_browser_is_not_passed_through(stack, seeded):
    admin_header = {"Authorization": basic(stack.admin_username, stack.admin_password)}
    # Without a session the header opens nothing: oauth2-proxy redirects to GitHub.
    stranger = Browser(stack.resolve)
    resp = stranger.get(UI + "/api/2.0/mlflow/users/current", follow=False, headers=admin_header)
    assert resp.status in (302, 401, 403)
    assert b'"username"' not in resp.body
    # With alice's session, MLflow still sees alice, not the admin the header names.
    browser, resp = login(stack, "alice")
    assert resp.status == 200
    me = browser.get(UI + "/api/2.0/mlflow/users/current", follow=False, headers=admin_header)
    assert me.status == 200 and me.json()["user"] == {
        "id": me.json()["user"]["id"],
        "username": "alice@example.com",
        "is_admin": False,
    }
    assert _visible_experiments(browser, headers=admin_header) == {"e2e-alice-notes", "e2e-team-board"}


def test_the_sso_email_with_a_wrong_password_is_refused_on_the_api_host(stack, seeded):
    client = Browser(stack.resolve)
    wrong = client.request(
        "GET",
        API + "/api/2.0/mlflow/users/current",
        headers={"Authorization": basic("alice@example.com", "not-the-bridge-password")},
    )
    assert wrong.status == 401
    none = client.request("GET", API + "/api/2.0/mlflow/experiments/search?max_results=10")
    assert none.status == 401
    # Control: the same request with the right credentials works, so the 401 above is the password.
    right = client.request(
        "GET", API + "/api/2.0/mlflow/users/current", headers={"Authorization": basic(SVC_USER, SVC_PASSWORD)}
    )
    assert right.status == 200 and right.json()["user"]["username"] == SVC_USER


_TRAIN = textwrap.dedent("""
    import json, os
    import mlflow, mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(os.environ["E2E_TRACKING_URI"])
    mlflow.set_experiment("e2e-iris-training")
    X, y = load_iris(return_X_y=True)
    with mlflow.start_run() as run:
        model = LogisticRegression(max_iter=300).fit(X, y)
        mlflow.log_param("max_iter", 300)
        mlflow.log_metric("train_accuracy", model.score(X, y))
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:2])
        mlflow.log_text("sepal_length,sepal_width,petal_length,petal_width", "features.csv")
    loaded = mlflow.sklearn.load_model(info.model_uri)
    print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
                      "model_uri": info.model_uri, "prediction": int(loaded.predict(X[:1])[0])}))
""")


def test_api_user_logs_a_sklearn_run_that_an_sso_reader_sees(stack, seeded):
    python = mlflow_env.venv_python(MLFLOW_VERSION, extra_requirements=("scikit-learn",))
    env = {
        "E2E_TRACKING_URI": stack.api_url,
        "MLFLOW_TRACKING_USERNAME": SVC_USER,
        "MLFLOW_TRACKING_PASSWORD": SVC_PASSWORD,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [str(python), "-c", _TRAIN], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["prediction"] in (0, 1, 2)

    alice, resp = login(stack, "alice")
    assert resp.status == 200
    path = "/api/2.0/mlflow/runs/get?run_id=" + result["run_id"]
    # Before the grant the run is hidden from alice (default permission: none).
    assert alice.get(UI + path, follow=False).status == 403
    # The grant comes from the inventory, through the role, like every other grant.
    output = manage_users(stack, _users([{"experiment_name": "e2e-iris-training", "permission": "READ"}]))
    assert "changed=1" in output
    run = alice.get(UI + path, follow=False)
    assert run.status == 200, run.body[:300]
    metrics = {m["key"]: m["value"] for m in run.json()["run"]["data"]["metrics"]}
    assert metrics["train_accuracy"] > 0.9
    assert "e2e-iris-training" in _visible_experiments(alice)
    # READ is read-only: alice cannot write to the run through the UI host.
    write = alice.request(
        "POST",
        UI + "/api/2.0/mlflow/runs/log-metric",
        body={"run_id": result["run_id"], "key": "tampered", "value": 1.0, "timestamp": 0},
    )
    assert write.status == 403
    # bob has no grant on the training experiment and does not see the run.
    bob = login(stack, "bob")[0]
    assert bob.get(UI + path, follow=False).status == 403
    assert "e2e-iris-training" not in _visible_experiments(bob)
    # Artifacts are proxied by MLflow and permission-checked per run.
    query = urllib.parse.urlencode({"path": "features.csv", "run_uuid": result["run_id"]})
    artifact = alice.get(UI + "/get-artifact?" + query, follow=False)
    assert artifact.status == 200 and artifact.body.startswith(b"sepal_length")
    assert bob.get(UI + "/get-artifact?" + query, follow=False).status == 403
