"""The locally built images run under runc as the roles run them: pause stops on SIGTERM,
oauth2-proxy reports its pinned version, CoreDNS binds port 53 as non-root, PostgreSQL initialises
from POSTGRES_* as uid 999 on a read-only root and runs the role's init script, and MLflow
(uid 10001, no passwd entry, read-only root, HOME=/tmp) upgrades that database and serves the
basic-auth app. PostgreSQL and MLflow share a network namespace, as containers of a pod do."""

import json
import os
import secrets
from pathlib import Path

import jinja2
import pytest
import runc_bundle
from images_lib import OAUTH2_PROXY_VERSION, VERSIONS

ROLE = Path(__file__).resolve().parents[3] / "roles" / "postgres_mlflow"
# An address of the pod's own network namespace that is not loopback, so that PostgreSQL's
# "host all all all scram-sha-256" rule (not initdb's loopback trust) applies to it.
POD_IP = "10.99.0.1"


def container(rootfs, name, tmp_path, **kwargs):
    root, config = rootfs(name, "run")
    return runc_bundle.Container(root, config, tmp_path, **kwargs)


def _catches(pid, signum):
    """Whether the process has a handler for the signal (SigCgt in /proc/<pid>/status)."""
    caught = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signum - 1)))


def test_pause_runs_and_exits_on_sigterm(rootfs, tmp_path):
    with container(rootfs, "pause", tmp_path) as pause:
        pause.start()
        assert pause.running()
        status = Path(f"/proc/{pause.pid}/status").read_text()
        assert "\nUid:\t65535\t" in status
        # As its namespace's init, pause gets a SIGTERM from outside only once it has a handler
        # for it; sent earlier (a loaded machine widened that window) the signal is dropped.
        pause.wait_until(lambda: _catches(pause.pid, 15), 10, "a SIGTERM handler")
        pause.kill("TERM")
        assert pause.wait_stopped(10), pause.output()
        assert "Shutting down, got signal: Terminated" in pause.output()


def test_oauth2_proxy_reports_the_pinned_version_as_nonroot(rootfs, tmp_path):
    with container(rootfs, "oauth2-proxy", tmp_path, args=["/bin/oauth2-proxy", "--version"]) as proxy:
        code, output = proxy.run(timeout=60)
    assert code == 0, output
    assert f"oauth2-proxy {OAUTH2_PROXY_VERSION}" in output


def test_coredns_binds_port_53_as_nonroot(images, rootfs, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    # Only plugins every CoreDNS build has (the node build picks its own plugin set).
    (conf / "Corefile").write_text(".:53 {\n  health 127.0.0.1:8080\n}\n")
    # As the kube-dns manifests run it: NET_BIND_SERVICE the only capability, which the file
    # capability of /coredns raises for the non-root user.
    with container(
        rootfs,
        "coredns",
        tmp_path,
        args=["/coredns", "-conf", "/etc/coredns/Corefile"],
        volumes=[(conf, "/etc/coredns", "ro")],
        caps=["NET_BIND_SERVICE"],
        no_new_privileges=False,
    ) as dns:
        dns.start()
        probe = (
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/health', timeout=2).read().decode())"
        )
        dns.wait_until(lambda: dns.nsenter("python3", "-c", probe).stdout.strip() == "OK", 30, "/health")
        assert "permission denied" not in dns.output()
        assert f"CoreDNS-{VERSIONS['COREDNS_VERSION']}" in dns.output()
        listening = dns.nsenter("ss", "-Hlnu", "sport", "=", "53").stdout
        assert ":53" in listening, listening


def _render(template, **values):
    return jinja2.Template((ROLE / "templates" / template).read_text()).render(**values)


@pytest.fixture
def pod(rootfs, tmp_path):
    """A PostgreSQL container initialised as roles/postgres_mlflow configures it."""
    passwords = {k: secrets.token_hex(16) for k in ("postgres", "tracking", "auth")}
    volume = tmp_path / "volume"
    volume.mkdir()
    # A fresh volume's root is not empty (lost+found) and not the database user's.
    (volume / "lost+found").mkdir(mode=0o700)
    os.chown(volume, 999, 999)
    initdb = tmp_path / "initdb.d"
    initdb.mkdir()
    names = {
        "postgres_mlflow_tracking_user": "mlflow",
        "postgres_mlflow_tracking_database": "mlflow",
        "postgres_mlflow_auth_user": "mlflow_auth",
        "postgres_mlflow_auth_database": "mlflow_auth",
    }
    script = initdb / "10-mlflow.sh"
    script.write_text(_render("postgres-init.sh.j2", _postgres_mlflow_db_secret="mlflow-postgres", **names))
    script.chmod(0o444)  # as the role's ConfigMap mounts it: sourced, not run
    env = [
        "POSTGRES_USER=postgres",
        f"POSTGRES_PASSWORD={passwords['postgres']}",
        f"MLFLOW_TRACKING_PASSWORD={passwords['tracking']}",
        f"MLFLOW_AUTH_PASSWORD={passwords['auth']}",
        "PGDATA=/var/lib/postgresql/data/pgdata",
    ]
    volumes = [(volume, "/var/lib/postgresql/data", "rw"), (initdb, "/docker-entrypoint-initdb.d", "ro")]
    db = container(rootfs, "postgres", tmp_path, env=env, volumes=volumes, tmpfs=("/tmp", "/var/run/postgresql"))
    with db:
        db.start()
        ready = ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=postgres"]
        db.wait_until(lambda: db.exec(*ready).returncode == 0, 120, "pg_isready on 127.0.0.1")
        added = db.nsenter("ip", "addr", "add", f"{POD_IP}/32", "dev", "lo")
        assert added.returncode == 0, added.stderr
        yield {"db": db, "passwords": passwords, "names": names, "volume": volume, "env": env, "volumes": volumes}


def _psql(db, user, password, database, sql):
    return db.exec(
        "psql",
        f"--host={POD_IP}",
        f"--username={user}",
        f"--dbname={database}",
        "--no-psqlrc",
        "-tAc",
        sql,
        env=[f"PGPASSWORD={password}"],
    )


def test_postgres_initialises_runs_the_init_script_and_requires_passwords(pod):
    db, pw = pod["db"], pod["passwords"]
    assert "\nUid:\t999\t999\t999\t999\n" in Path(f"/proc/{db.pid}/status").read_text()
    log = db.output()
    assert "initialising /var/lib/postgresql/data/pgdata for superuser postgres" in log
    assert "sourcing /docker-entrypoint-initdb.d/10-mlflow.sh" in log
    assert (pod["volume"] / "pgdata" / "PG_VERSION").read_text().strip() == VERSIONS["POSTGRES_MAJOR"]
    # The role's roles own their databases and log in with their own passwords.
    tracking = _psql(db, "mlflow", pw["tracking"], "mlflow", "select current_user, current_database()")
    assert tracking.returncode == 0 and tracking.stdout.strip() == "mlflow|mlflow", tracking.stderr
    auth = _psql(db, "mlflow_auth", pw["auth"], "mlflow_auth", "select current_user")
    assert auth.returncode == 0 and auth.stdout.strip() == "mlflow_auth", auth.stderr
    superuser = _psql(
        db, "postgres", pw["postgres"], "postgres", "select rolsuper from pg_roles where rolname='postgres'"
    )
    assert superuser.stdout.strip() == "t", superuser.stderr
    wrong = _psql(db, "mlflow", "not-the-password", "mlflow", "select 1")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    denied = _psql(db, "mlflow", pw["tracking"], "mlflow_auth", "select 1")
    assert denied.returncode != 0, "REVOKE ALL ... FROM PUBLIC did not apply"
    method = db.exec("psql", "--username=postgres", "-tAc", "show password_encryption").stdout.strip()
    assert method == "scram-sha-256"
    hba = (pod["volume"] / "pgdata" / "pg_hba.conf").read_text()
    assert "\nhost all all all scram-sha-256\n" in hba
    listen = db.exec("psql", "--username=postgres", "-tAc", "show listen_addresses").stdout.strip()
    assert listen == "*"
    readonly = db.exec("touch", "/usr/local/bin/x")
    assert readonly.returncode != 0 and "Read-only file system" in readonly.stderr


def test_postgres_keeps_its_data_and_skips_initialisation_on_restart(pod, rootfs, tmp_path):
    db = pod["db"]
    db.kill("INT")  # the image's StopSignal: fast shutdown
    assert db.wait_stopped(60), db.output()
    db.delete()
    again = container(
        rootfs, "postgres", tmp_path, env=pod["env"], volumes=pod["volumes"], tmpfs=("/tmp", "/var/run/postgresql")
    )
    with again:
        again.start()
        ready = ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=postgres"]
        again.wait_until(lambda: again.exec(*ready).returncode == 0, 60, "pg_isready after restart")
        assert "skipping initialisation" in again.output()
        assert "sourcing" not in again.output()
        count = again.exec(
            "psql", "--username=postgres", "-tAc", "select count(*) from pg_database where datname like 'mlflow%'"
        )
        assert count.stdout.strip() == "2"


def test_postgres_refuses_to_initialise_without_a_password(rootfs, tmp_path):
    volume = tmp_path / "empty"
    volume.mkdir()
    os.chown(volume, 999, 999)
    with container(
        rootfs,
        "postgres",
        tmp_path,
        env=["PGDATA=/var/lib/postgresql/data/pgdata"],
        volumes=[(volume, "/var/lib/postgresql/data", "rw")],
        tmpfs=("/tmp", "/var/run/postgresql"),
    ) as db:
        code, output = db.run(timeout=60)
    assert code != 0
    assert "POSTGRES_PASSWORD is empty" in output


def test_mlflow_upgrades_the_database_and_serves_basic_auth(pod, rootfs, tmp_path):
    db, pw, names = pod["db"], pod["passwords"], pod["names"]
    tracking_uri = f"postgresql+psycopg2://mlflow:{pw['tracking']}@{POD_IP}:5432/mlflow"
    auth_uri = f"postgresql+psycopg2://mlflow_auth:{pw['auth']}@{POD_IP}:5432/mlflow_auth"
    common = ["HOME=/tmp", f"MLFLOW_BACKEND_STORE_URI={tracking_uri}"]
    # The role's init container: command ["mlflow"], args ["db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"].
    with container(
        rootfs, "mlflow", tmp_path, args=["mlflow", "db", "upgrade", tracking_uri], env=common, join_netns_of=db
    ) as upgrade:
        code, output = upgrade.run(timeout=600)
    assert code == 0, output[-4000:]
    tables = db.exec("psql", "--username=postgres", "--dbname=mlflow", "-tAc", "select count(*) from alembic_version")
    assert tables.stdout.strip() == "1", tables.stderr

    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    ini = _render(
        "basic_auth.ini.j2",
        postgres_mlflow_auth_default_permission="READ",
        _postgres_mlflow_auth_database_uri=auth_uri,
        postgres_mlflow_admin_username="admin",
        postgres_mlflow_auth_cache_ttl_seconds=30,
        _postgres_mlflow_admin_secret="mlflow-admin",
        **names,
    )
    (auth_dir / "basic_auth.ini").write_text(ini)
    (auth_dir / "basic_auth.ini").chmod(0o444)
    admin_password = secrets.token_hex(12)
    env = [
        *common,
        "MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/auth/basic_auth.ini",
        "MLFLOW_AUTH_ADMIN_USERNAME=admin",
        f"MLFLOW_AUTH_ADMIN_PASSWORD={admin_password}",
        f"MLFLOW_FLASK_SERVER_SECRET_KEY={secrets.token_hex(32)}",
    ]
    args = [
        "mlflow",
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        "0.0.0.0",  # noqa: S104 - the container's own network namespace, as the role binds it
        "--port",
        "5000",
        "--workers",
        "1",
        "--serve-artifacts",
        "--artifacts-destination",
        "/tmp/artifacts",
        "--allowed-hosts",
        "127.0.0.1:5000",
    ]
    with container(
        rootfs, "mlflow", tmp_path, args=args, env=env, volumes=[(auth_dir, "/etc/mlflow/auth", "ro")], join_netns_of=db
    ) as server:
        server.start()
        assert "\nUid:\t10001\t" in Path(f"/proc/{server.pid}/status").read_text()
        health = (
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:5000/health', timeout=5).read().decode())"
        )
        server.wait_until(lambda: server.exec("python3", "-c", health).stdout.strip() == "OK", 300, "/health")
        call = (
            "import base64, json, sys, urllib.request as u, urllib.error as e\n"
            "req = u.Request('http://127.0.0.1:5000/api/2.0/mlflow/users/get?username=admin')\n"
            "if len(sys.argv) > 1:\n"
            "    req.add_header('Authorization', 'Basic ' + base64.b64encode(sys.argv[1].encode()).decode())\n"
            "try:\n    r = u.urlopen(req, timeout=10); print(r.status, r.read().decode())\n"
            "except e.HTTPError as err:\n    print(err.code)\n"
        )
        anonymous = server.exec("python3", "-c", call)
        assert anonymous.stdout.strip() == "401", anonymous.stdout + anonymous.stderr
        admin = server.exec("python3", "-c", call, f"admin:{admin_password}")
        status, body = [*admin.stdout.strip().split(" ", 1), ""][:2]
        assert status == "200", admin.stdout + admin.stderr
        assert json.loads(body)["user"]["is_admin"] is True
    users = db.exec("psql", "--username=postgres", "--dbname=mlflow_auth", "-tAc", "select username from users")
    assert users.stdout.split() == ["admin"], "the auth database is not the one in basic_auth.ini"


def test_mlflow_image_has_the_stores_the_role_uses(rootfs, tmp_path):
    code = (
        "import google.cloud.storage, mlflow, mlflow.server.auth, psycopg2, shutil; "
        "print(mlflow.__version__, shutil.which('mlflow'))"
    )
    with container(rootfs, "mlflow", tmp_path, args=["python3", "-c", code], env=["HOME=/tmp"]) as probe:
        status, output = probe.run(timeout=120)
    assert status == 0, output
    assert output.strip().splitlines()[-1] == f"{VERSIONS['MLFLOW_VERSION']} /opt/mlflow/bin/mlflow"
