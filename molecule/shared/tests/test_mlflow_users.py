"""After site.yml, the MLflow pod (reached through its Service, as mlflow_users reaches it) holds
exactly the users, admins and grants of inventories/local/group_vars/all/mlflow_users.yml, and the
SSO users' password is the bridge password oauth2-proxy sends: read from the cluster, never typed
by a person."""

import base64
import http.client
import json
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SPEC = yaml.safe_load((REPO / "inventories/local/group_vars/all/mlflow_users.yml").read_text())
NS = SPEC["mlflow_users_namespace"]


def _secret(kube, name):
    return {k: base64.b64decode(v).decode() for k, v in kube("-n", NS, "get", "secret", name)["data"].items()}


def _get(url, user, password):
    split = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        conn.request(
            "GET", split.path + ("?" + split.query if split.query else ""), headers={"Authorization": "Basic " + token}
        )
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if response.status == 200 else None)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def users(mlflow):
    status, body = _get(mlflow["url"] + "/api/2.0/mlflow/users/list", *mlflow["admin"])
    assert status == 200, body
    return {u["username"]: u for u in body["users"]}


def test_every_inventory_user_exists_with_its_admin_flag(users):
    wanted = [u["email"] for u in SPEC["mlflow_users_sso_users"]] + [
        u["username"] for u in SPEC["mlflow_users_api_users"]
    ]
    assert set(wanted) <= set(users)
    for name in wanted:
        assert users[name]["is_admin"] == (name in SPEC["mlflow_users_admins"]), name


def _direct_grants(mlflow, username):
    status, body = _get(
        mlflow["url"] + "/api/3.0/mlflow/users/permissions/list?username=" + urllib.parse.quote(username),
        *mlflow["admin"],
    )
    assert status == 200, body
    return {
        (row["resource_type"], row["resource_pattern"], row["permission"])
        for row in body.get("permissions", body.get("user_permissions", []))
        if row["role_name"].startswith("__user_")
    }


def _experiment_id(mlflow, name):
    status, body = _get(
        mlflow["url"] + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + urllib.parse.quote(name),
        *mlflow["admin"],
    )
    assert status == 200, f"experiment {name} was not created: {body}"
    return body["experiment"]["experiment_id"]


def test_direct_grants_equal_the_inventory(mlflow):
    for entry in SPEC["mlflow_users_sso_users"] + SPEC["mlflow_users_api_users"]:
        name = entry.get("email") or entry["username"]
        wanted = {
            ("experiment", _experiment_id(mlflow, p["experiment_name"]), p["permission"])
            for p in entry.get("permissions", [])
        }
        assert _direct_grants(mlflow, name) == wanted, name


def test_sso_user_signs_in_with_the_bridge_password_from_the_cluster(kube, mlflow):
    bridge = _secret(kube, "mlflow-sso-bridge")["password"]
    email = SPEC["mlflow_users_sso_users"][0]["email"]
    status, body = _get(mlflow["url"] + "/api/2.0/mlflow/users/current", email, bridge)
    assert status == 200 and body["user"]["username"] == email
    assert _get(mlflow["url"] + "/api/2.0/mlflow/users/current", email, bridge + "x")[0] == 401
