"""Every connection and API error maps to a message a person can act on."""

import socket
import threading

import pytest


def test_wrong_password_is_login_rejected(mlflow):
    res = mlflow.runner(auth_password="not-the-Passw0rd").task(
        "mlflow_user_info", {"usernames": ["admin"]}, expect_failure=True
    )
    assert res["msg"].startswith("MLflow rejected the login of user 'admin' (HTTP 401)")


def test_non_admin_is_forbidden(mlflow):
    mlflow.ansible.task("mlflow_user", {"username": "jill@example.com", "password": "jill-Passw0rd-123"})
    res = mlflow.runner(auth_username="jill@example.com", auth_password="jill-Passw0rd-123").task(
        "mlflow_user", {"username": "kim@example.com", "password": "kim-Passw0rd-1234"}, expect_failure=True
    )
    assert res["msg"].startswith("User 'jill@example.com' is not allowed to call /api/2.0/mlflow/users/get (HTTP 403)")


def test_invalid_host_header(mlflow):
    url = mlflow.url.replace("127.0.0.1", "localhost")
    res = mlflow.runner(tracking_uri=url).task("mlflow_user_info", {"usernames": ["admin"]}, expect_failure=True)
    assert res["msg"] == (
        "MLflow refused the request with 'Invalid Host header': add the host of %s to the server's "
        "--allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS)." % url
    )


def test_tls_to_plain_http_server(mlflow):
    url = mlflow.url.replace("http://", "https://")
    res = mlflow.runner(tracking_uri=url).task("mlflow_user_info", {"usernames": ["admin"]}, expect_failure=True)
    assert res["msg"].startswith("TLS failure talking to %s" % url)


def test_connection_refused(mlflow):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "http://127.0.0.1:%d" % port
    res = mlflow.runner(tracking_uri=url).task("mlflow_user_info", {"usernames": ["admin"]}, expect_failure=True)
    assert res["msg"] == (
        "Cannot connect to MLflow at %s: [Errno 111] Connection refused. Check tracking_uri and "
        "that the server is running." % url
    )


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_timeout(mlflow, silent_server):
    res = mlflow.runner(tracking_uri=silent_server, timeout=2).task(
        "mlflow_user_info", {"usernames": ["admin"]}, expect_failure=True
    )
    assert res["msg"].startswith("MLflow at %s did not answer within 2.0 s" % silent_server)


def test_login_is_checked_before_the_specification(mlflow):
    # Before: "users[0] (a@example.com).permissions[0]: MLflow rejected the login ..."
    spec = {"users": [{"username": "a@example.com", "permissions": [{"resource_id": "1", "permission": "READ"}]}]}
    res = mlflow.runner(auth_password="not-the-Passw0rd").task("mlflow_access", spec, expect_failure=True)
    assert res["msg"] == (
        "MLflow rejected the login of user 'admin' (HTTP 401): wrong auth_username/auth_password, or an admin "
        "still on the disabled default password."
    )


def test_option_names_say_where_the_values_came_from(mlflow):
    secret = "Secret mlflow/mlflow-admin (mlflow_users_admin_secret)"
    names = {"tracking_uri": "mlflow_users_tracking_uri", "auth_username": secret, "auth_password": secret}
    res = mlflow.runner(auth_password="not-the-Passw0rd").task(
        "mlflow_user_info", {"usernames": ["admin"], "option_names": names}, expect_failure=True
    )
    assert res["msg"].startswith(
        "MLflow rejected the login of user 'admin' (HTTP 401): wrong credentials in Secret mlflow/mlflow-admin "
        "(mlflow_users_admin_secret), or"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    res = mlflow.runner(tracking_uri=url).task(
        "mlflow_access", {"users": [], "option_names": names}, expect_failure=True
    )
    assert res["msg"] == (
        "Cannot connect to MLflow at %s: [Errno 111] Connection refused. Check mlflow_users_tracking_uri and "
        "that the server is running." % url
    )
