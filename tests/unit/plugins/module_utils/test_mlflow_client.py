"""Unit tests of the MLflow auth client: version parsing, validation and error mapping."""

import io
import json

import pytest
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

from ansible_collections.mlflow_k8s.platform.plugins.module_utils import mlflow_client as mc


@pytest.mark.parametrize(
    "text,expected",
    [
        ("3.17.2", (3, 17, 2)),
        ("3.13.0rc0", (3, 13, 0)),
        ("2.22.5.dev0", (2, 22, 5)),
        ("3.12", (3, 12, 0)),
        ("3.18.0\n", (3, 18, 0)),
    ],
)
def test_parse_version(text, expected):
    assert mc.parse_version(text) == expected


@pytest.mark.parametrize(
    "password,problem",
    [
        (None, "must be at least 12 characters long"),
        ("elevenchars", "must be at least 12 characters long"),
        ("password1234", "must not be MLflow's former default admin password"),
        ("twelve-chars", None),
    ],
)
def test_password_problem(password, problem):
    assert mc.password_problem(password) == problem


class FakeResponse:
    def __init__(self, status, body):
        self.status, self.body = status, body

    def getcode(self):
        return self.status

    def read(self):
        return self.body


def client_with(responses, version="3.17.2"):
    client = mc.MlflowAuthClient("http://mlflow.test:5000/", "admin", "admin-password-1")
    client._version = mc.parse_version(version)
    sent = []

    def fake_open(method, url, data=None, headers=None):
        sent.append((method, url, data, headers))
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        status, body = item
        if status >= 400:
            raise HTTPError(url, status, "err", {}, io.BytesIO(body.encode()))
        return FakeResponse(status, body.encode())

    client._request.open = fake_open
    return client, sent


def test_flavor_by_version():
    assert client_with([], "3.12.0")[0].flavor == "legacy"
    assert client_with([], "3.13.0")[0].flavor == "rbac"
    forced, _sent = client_with([], "3.17.2")
    forced.requested_flavor = "legacy"
    assert forced.flavor == "legacy"


def test_request_shape_and_basic_auth():
    client, sent = client_with([(200, json.dumps({"user": {"id": 2, "username": "bob", "is_admin": False}}))])
    client.workspace = "team-a"
    assert client.get_user("bob")["id"] == 2
    method, url, data, headers = sent[0]
    assert method == "GET" and url == "http://mlflow.test:5000/api/2.0/mlflow/users/get?username=bob"
    assert headers["Authorization"] == "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMQ=="
    assert headers["X-MLFLOW-WORKSPACE"] == "team-a" and data is None


def test_get_user_absent_is_none():
    body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "User with username=x not found"})
    client, _sent = client_with([(404, body)])
    assert client.get_user("x") is None


@pytest.mark.parametrize(
    "status,body,expected",
    [
        (401, "You are not authenticated.", "MLflow rejected the login of user 'admin' (HTTP 401)"),
        (403, "Permission denied", "User 'admin' is not allowed to call /api/2.0/mlflow/users/create (HTTP 403)"),
        (
            400,
            json.dumps(
                {"error_code": "INVALID_PARAMETER_VALUE", "message": "Password must be at least 12 characters."}
            ),
            "MLflow INVALID_PARAMETER_VALUE (HTTP 400) on /api/2.0/mlflow/users/create: "
            "Password must be at least 12 characters.",
        ),
        (
            403,
            "Invalid Host header - possible DNS rebinding attack detected",
            "MLflow refused the request with 'Invalid Host header': add the host of http://mlflow.test:5000",
        ),
    ],
)
def test_error_mapping(status, body, expected):
    client, _sent = client_with([(status, body)])
    with pytest.raises(mc.MlflowAuthError) as err:
        client.create_user("bob", "bob-password-12")
    assert err.value.message.startswith(expected)


def test_missing_endpoint_names_version():
    client, _sent = client_with([(404, "<!doctype html><title>404 Not Found</title>")], "3.12.0")
    with pytest.raises(mc.MlflowAuthError) as err:
        client.grant("bob", "experiment", "1", "READ")
    assert err.value.message == (
        "Endpoint /api/3.0/mlflow/users/permissions/grant does not exist on this server: "
        "needs MLflow >= 3.13.0; the server runs MLflow 3.12.0."
    )


def test_connection_refused_message():
    client, _sent = client_with([URLError(ConnectionRefusedError(111, "Connection refused"))])
    with pytest.raises(mc.MlflowAuthError) as err:
        client.list_users()
    assert err.value.message.startswith("Cannot connect to MLflow at http://mlflow.test:5000")


def test_password_probe_uses_the_users_credentials():
    client, sent = client_with([(401, "nope"), (200, json.dumps({"user": {}}))])
    assert client.password_matches("bob", "wrong-password-1") is False
    assert client.password_matches("bob", "right-password-1") is True
    assert sent[0][3]["Authorization"] != sent[1][3]["Authorization"]


@pytest.mark.parametrize(
    "version,rtype,message",
    [
        ("3.12.0", "prompt", "Resource type 'prompt' needs MLflow >= 3.13.0; the server runs 3.12.0."),
        ("3.15.0", "skill", "Resource type 'skill' needs MLflow >= 3.18.0; the server runs 3.15.0."),
        ("3.17.2", "bogus", "Unknown resource type 'bogus'"),
    ],
)
def test_resource_type_gates(version, rtype, message):
    client, _sent = client_with([], version)
    with pytest.raises(mc.MlflowAuthError) as err:
        client.check_resource_type(rtype)
    assert err.value.message.startswith(message)


def test_permission_level_gates():
    client, _sent = client_with([], "3.16.1")
    client.check_permission_level("USE")
    with pytest.raises(mc.MlflowAuthError) as err:
        client.check_permission_level("DENY")
    assert err.value.message == "Permission DENY needs MLflow >= 3.17.0; the server runs 3.16.1."


ROLE_NAMES = {
    "tracking_uri": "mlflow_users_tracking_uri",
    "auth_username": "mlflow_users_admin_username",
    "auth_password": "mlflow_users_admin_password",
    "ca_path": "mlflow_users_ca_path",
    "validate_certs": "mlflow_users_validate_certs",
    "timeout": "mlflow_users_timeout",
}
SECRET = "Secret mlflow/mlflow-admin (mlflow_users_admin_secret)"


@pytest.mark.parametrize(
    "names,failure,expected",
    [
        ({}, (401, "You are not authenticated."), "wrong auth_username/auth_password, or an admin"),
        (
            ROLE_NAMES,
            (401, "You are not authenticated."),
            "wrong mlflow_users_admin_username/mlflow_users_admin_password, or an admin",
        ),
        (
            dict(ROLE_NAMES, auth_username=SECRET, auth_password=SECRET),
            (401, "You are not authenticated."),
            "wrong credentials in Secret mlflow/mlflow-admin (mlflow_users_admin_secret), or an admin",
        ),
        (ROLE_NAMES, (403, "Permission denied"), "check mlflow_users_admin_username."),
        ({}, URLError(ConnectionRefusedError(111, "Connection refused")), "Check tracking_uri and that"),
        (ROLE_NAMES, URLError(ConnectionRefusedError(111, "Connection refused")), "Check mlflow_users_tracking_uri"),
        (ROLE_NAMES, URLError(TimeoutError("timed out")), "raise mlflow_users_timeout or check the server"),
        (ROLE_NAMES, URLError("CERTIFICATE_VERIFY_FAILED"), "Set mlflow_users_ca_path to the CA bundle"),
    ],
)
def test_messages_name_what_the_caller_calls_the_options(names, failure, expected):
    client, _sent = client_with([failure])
    client.names = mc.OptionNames(names)
    with pytest.raises(mc.MlflowAuthError) as err:
        client.list_users()
    assert expected in err.value.message


def test_connect_logs_in_with_the_first_request():
    client, sent = client_with([(401, "You are not authenticated.")])
    client._version = None
    with pytest.raises(mc.MlflowAuthError) as err:
        client.connect()
    assert err.value.status == 401 and sent[0][0:2] == ("GET", "http://mlflow.test:5000/version")
    client, sent = client_with([(200, "3.12.0")])
    client._version = None
    assert client.connect() == (3, 12, 0) and client.flavor == "legacy" and len(sent) == 1
