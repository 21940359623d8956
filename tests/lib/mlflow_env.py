"""Cached MLflow virtualenvs and throwaway ``mlflow server --app-name basic-auth`` processes.

Shared by the module tests, the end-to-end SSO test, the Bitnami adoption test and the
benchmark. Import it from pytest or from a script after putting this directory on the path::

    sys.path.insert(0, "<repo>/tests/lib")
    import mlflow_env

API
---
``ensure_venv(version, extra_requirements=()) -> pathlib.Path``
    Virtualenv ``${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/mlflow-venv-<version>`` with
    ``mlflow[auth]==<version>``, ``psycopg2-binary`` and the pins old releases need
    (``sqlalchemy<2.1`` below 3.13). Built once under a file lock, so concurrent callers wait
    for the first builder instead of racing. Python: ``$MLFLOW_K8S_MLFLOW_PYTHON``, else
    pyenv's 3.12. ``extra_requirements`` are added to the install and to the cache key.

``venv_python(version) -> pathlib.Path``
    The interpreter of that virtualenv (building it if needed); use it to run the official
    ``mlflow.server.auth.client.AuthServiceClient`` for cross-checks.

``run_in_venv(version, code, env=None, timeout=120) -> str``
    Runs Python source in that virtualenv and returns its stdout (raises on non-zero exit).

``http_get(url, headers=None, timeout=30) -> (status, body)``
    Plain-HTTP GET for test servers (no redirects, no proxies).

``free_port() -> int``
    A currently free TCP port on 127.0.0.1.

``mlflow_server(version, **options)``  (context manager) -> ``MlflowServer``
    Starts ``mlflow server --app-name basic-auth`` on 127.0.0.1 and a free port, in its own
    process group and its own temporary working directory, waits for ``/health`` and kills
    the whole group (gunicorn/uvicorn workers included) on exit. Options:

    ``backend_store_uri``  tracking store (default: SQLite in the working directory)
    ``auth_db_uri``        basic-auth ``database_uri`` (default: SQLite in the working dir)
    ``admin_username``     default ``admin``
    ``admin_password``     default: a random 24-character password
    ``default_permission`` default ``READ``
    ``ini_extra``          dict of extra ``[mlflow]`` keys for basic_auth.ini
    ``server_args``        extra ``mlflow server`` arguments (e.g. ``["--gunicorn-opts", ...]``)
    ``env``                extra environment for the server
    ``workers``            ``--workers`` value (default 2; ``None`` omits the flag)
    ``host_args``          default True: pass ``--host``/``--port`` (set False only when
                           ``server_args`` carries its own bind options)
    ``startup_timeout``    seconds to wait for /health (default 240)
    ``extra_requirements`` forwarded to ``ensure_venv``

``MlflowServer`` fields: ``version``, ``url``, ``port``, ``admin_username``,
``admin_password``, ``workdir``, ``log_path``, ``ini_path``, ``venv``, ``pid``,
``backend_store_uri``, ``auth_db_uri``; method ``log_tail(lines=60)``.

Command line (for shell scripts)::

    python tests/lib/mlflow_env.py venv 3.17.2     # prints the virtualenv path
"""

import contextlib
import dataclasses
import fcntl
import http.client
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

_ROLE_DEFAULTS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "postgres_mlflow" / "defaults" / "main.yml"


def _shipped_version():
    """The MLflow version of the role's default image: the tests run what the collection ships."""
    match = re.search(r"^postgres_mlflow_image: \S+:v?(\d+\.\d+\.\d+)\S*$", _ROLE_DEFAULTS.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError("%s: postgres_mlflow_image has no version in its tag" % _ROLE_DEFAULTS)
    return match.group(1)


# The role's default, so the pin and the tests cannot drift. (3.18.0 is on PyPI but not
# installable: it pins mlflow-skinny==3.18.0 and mlflow-tracing==3.18.0, never published there.)
CURRENT_VERSION = _shipped_version()
LEGACY_VERSION = "3.12.0"


def cache_dir():
    """Root of the machine-wide cache shared by all suites."""
    path = pathlib.Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version_tuple(version):
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def requirements_for(version, extra_requirements=()):
    """Pip requirements of the virtualenv for one MLflow version."""
    reqs = ["mlflow[auth]==%s" % version, "psycopg2-binary"]
    # Releases before 3.13 import names SQLAlchemy 2.1 removed (3.3.2 fails at import).
    if _version_tuple(version) < (3, 13):
        reqs.append("sqlalchemy<2.1")
    reqs.extend(extra_requirements)
    return reqs


def _base_python():
    candidates = [
        os.environ.get("MLFLOW_K8S_MLFLOW_PYTHON", ""),
        os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python3.12"),
        shutil.which("python3.12") or "",
        sys.executable,
    ]
    for cand in candidates:
        if cand and os.path.exists(cand):
            return cand
    raise RuntimeError("no Python interpreter found for the MLflow virtualenv")


def ensure_venv(version, extra_requirements=()):
    """Return the cached virtualenv for ``version``, building it once under a lock."""
    reqs = requirements_for(version, extra_requirements)
    name = "mlflow-venv-%s" % version
    if extra_requirements:
        import hashlib

        name += "-" + hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:10]
    venv = cache_dir() / name
    marker = venv / ".done"
    if marker.exists():
        return venv
    lock_path = cache_dir() / (".%s.lock" % name)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", *reqs],
            check=True,
        )
        marker.write_text(json.dumps(reqs) + "\n")
    return venv


def venv_python(version, extra_requirements=()):
    """Interpreter of the MLflow virtualenv for ``version``."""
    return ensure_venv(version, extra_requirements) / "bin" / "python"


def run_in_venv(version, code, env=None, timeout=120):
    """Run Python ``code`` with the MLflow virtualenv of ``version``; return stdout."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [str(venv_python(version)), "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "python in mlflow %s venv failed (%d):\n%s" % (version, proc.returncode, proc.stderr[-4000:])
        )
    return proc.stdout


def http_get(url, headers=None, timeout=30):
    """GET an http:// URL; return (status, body bytes). Only plain HTTP to test servers."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class MlflowServer:
    """A running basic-auth MLflow server."""

    version: str
    url: str
    port: int
    admin_username: str
    admin_password: str
    workdir: pathlib.Path
    log_path: pathlib.Path
    ini_path: pathlib.Path
    venv: pathlib.Path
    pid: int
    backend_store_uri: str
    auth_db_uri: str

    def log_tail(self, lines=60):
        """Last lines of the server log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _ini_value(value):
    # basic_auth.ini goes through configparser interpolation: a bare % is a syntax error.
    return str(value).replace("%", "%%")


def write_auth_ini(path, auth_db_uri, admin_username, admin_password, default_permission="READ", ini_extra=None):
    """Write a basic_auth.ini with the keys every supported MLflow version requires."""
    keys = {
        "default_permission": default_permission,
        "database_uri": auth_db_uri,
        "admin_username": admin_username,
        "admin_password": admin_password,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
    }
    keys.update(ini_extra or {})
    lines = ["[mlflow]"] + ["%s = %s" % (key, _ini_value(val)) for key, val in keys.items()]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def _wait_healthy(proc, url, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("mlflow server exited with %s:\n%s" % (proc.returncode, _tail(log_path)))
        try:
            if http_get(url + "/health", timeout=3)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("mlflow server did not become healthy in %ss:\n%s" % (timeout, _tail(log_path)))


def _tail(path, lines=60):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def kill_group(proc, grace=15):
    """Stop a process started with start_new_session=True together with its whole group."""
    if proc.poll() is None or _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(proc.pid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
        if _group_alive(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still counts; reap it so the check converges.
    return True


WORKER_HEALTHCHECK_SECONDS = 60


@contextlib.contextmanager
def mlflow_server(
    version=CURRENT_VERSION,
    backend_store_uri=None,
    auth_db_uri=None,
    admin_username="admin",
    admin_password=None,
    default_permission="READ",
    ini_extra=None,
    server_args=(),
    env=None,
    workers=2,
    host_args=True,
    startup_timeout=240,
    extra_requirements=(),
):
    """Start a basic-auth MLflow server; yield an ``MlflowServer``; stop its process group."""
    venv = ensure_venv(version, extra_requirements)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="mlflow-%s-" % version))
    admin_password = admin_password or secrets.token_urlsafe(18)[:24]
    backend_store_uri = backend_store_uri or "sqlite:///%s" % (workdir / "mlflow.db")
    auth_db_uri = auth_db_uri or "sqlite:///%s" % (workdir / "basic_auth.db")
    ini_path = workdir / "basic_auth.ini"
    write_auth_ini(ini_path, auth_db_uri, admin_username, admin_password, default_permission, ini_extra)
    (workdir / "artifacts").mkdir()
    log_path = workdir / "server.log"
    port = free_port()
    cmd = [
        str(venv / "bin" / "mlflow"),
        "server",
        "--app-name",
        "basic-auth",
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        str(workdir / "artifacts"),
    ]
    if host_args:
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    cmd += list(server_args)
    full_env = dict(os.environ)
    full_env.update(
        {
            "MLFLOW_AUTH_CONFIG_PATH": str(ini_path),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
            "PATH": "%s:%s" % (venv / "bin", os.environ.get("PATH", "")),
            # uvicorn's supervisor kills a worker that does not answer its ping within 5 s (its
            # default), dropping the request it serves. On a loaded test machine (the suites run
            # side by side on 2 cores) a busy worker missed it: requests "dropped the connection".
            "UVICORN_TIMEOUT_WORKER_HEALTHCHECK": str(WORKER_HEALTHCHECK_SECONDS),
        }
    )
    # Credentials of the test runner must not leak into the server process.
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        full_env.pop(key, None)
    full_env.update(env or {})
    url = "http://127.0.0.1:%d" % port
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            cmd,
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        _wait_healthy(proc, url, startup_timeout, log_path)
        yield MlflowServer(
            version=version,
            url=url,
            port=port,
            admin_username=admin_username,
            admin_password=admin_password,
            workdir=workdir,
            log_path=log_path,
            ini_path=ini_path,
            venv=venv,
            pid=proc.pid,
            backend_store_uri=backend_store_uri,
            auth_db_uri=auth_db_uri,
        )
    finally:
        kill_group(proc)
        if os.environ.get("MLFLOW_K8S_KEEP_WORKDIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv):
    """``venv VERSION`` prints the virtualenv path (building it if needed)."""
    if len(argv) == 3 and argv[1] == "venv":
        print(ensure_venv(argv[2]))
        return 0
    sys.stderr.write("usage: mlflow_env.py venv VERSION\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
