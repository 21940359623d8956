"""Throwaway PostgreSQL servers for tests, started from Debian's binaries.

Import from pytest or a script after putting this directory on the path::

    sys.path.insert(0, "<repo>/tests/lib")
    import postgres

    with postgres.postgres_server() as pg:
        dsn = pg.create_database("mlflow", owner="mlflow", password="s3cret-password")
        # dsn == "postgresql+psycopg2://mlflow:s3cret-password@127.0.0.1:<port>/mlflow"

API
---
``postgres_server(bin_dir=None, startup_timeout=60)``  (context manager) -> ``PostgresServer``
    ``initdb`` + ``postgres`` run as the ``postgres`` OS user (via ``runuser`` when the
    caller is root) in a fresh temporary directory, listening on 127.0.0.1 and a free port,
    with its Unix socket in that directory. TCP logins use scram-sha-256 passwords; the
    superuser is reached through the socket. On exit the whole process group is stopped
    (fast shutdown, then SIGKILL) and the directory removed. Binaries:
    ``$MLFLOW_K8S_PG_BIN``, else ``/usr/lib/postgresql/15/bin``.

``PostgresServer`` (``host``, ``port``, ``datadir``, ``socket_dir``, ``pid``):
    ``create_user(name, password)``                       -> None (idempotent)
    ``create_database(name, owner=None, password=None)``  -> DSN for the owner (creates
        the owner role when ``password`` is given; idempotent)
    ``dsn(database, user, password, driver="postgresql+psycopg2")`` -> URL; special
        characters in user/password are percent-encoded
    ``psql(sql, database="postgres")``                    -> stdout of ``psql -At`` as superuser
    ``dump(database)``                                    -> ``pg_dump`` of schema and data (plain
        SQL, fixed restrict key: equal text means an unchanged database, sequences included)
    ``stop()``                                            -> stops the server early

``start_postgres()`` / ``PostgresServer.stop()`` are the same without a ``with`` block
(pytest fixtures: ``pg = start_postgres(); yield pg; pg.stop()``).
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

DEFAULT_BIN = "/usr/lib/postgresql/15/bin"
OS_USER = "postgres"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", OS_USER, "--", *cmd]
    return cmd


def _quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value):
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """A running throwaway PostgreSQL server."""

    host = "127.0.0.1"

    def __init__(self, bin_dir=None, startup_timeout=60):
        self.bin_dir = bin_dir or os.environ.get("MLFLOW_K8S_PG_BIN", DEFAULT_BIN)
        self.root = tempfile.mkdtemp(prefix="pgtest-")
        self.datadir = os.path.join(self.root, "data")
        self.socket_dir = self.root
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.root, "postgres.log")
        self._restrict_key = None
        try:
            self._init()
            self._start(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self):
        """PID of the postmaster (also its process group id)."""
        return self.proc.pid if self.proc else None

    def _bin(self, name):
        return os.path.join(self.bin_dir, name)

    def _init(self):
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        subprocess.run(
            _as_postgres(
                [
                    self._bin("initdb"),
                    "-D",
                    self.datadir,
                    "-U",
                    OS_USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )

    def _start(self, timeout):
        for _attempt in range(3):
            self.port = _free_port()
            cmd = _as_postgres(
                [
                    self._bin("postgres"),
                    "-D",
                    self.datadir,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "port=%d" % self.port,
                    "-c",
                    "unix_socket_directories=%s" % self.socket_dir,
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ]
            )
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_ready(timeout):
                return
            self._kill()
        raise RuntimeError("PostgreSQL did not start:\n" + self._log_tail())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            ready = subprocess.run(
                [self._bin("pg_isready"), "-q", "-h", self.socket_dir, "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.2)
        return False

    def _log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def psql(self, sql, database="postgres"):
        """Run SQL as the superuser through the Unix socket; return unaligned output."""
        proc = subprocess.run(
            _as_postgres(
                [
                    self._bin("psql"),
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    self.socket_dir,
                    "-p",
                    str(self.port),
                    "-U",
                    OS_USER,
                    "-d",
                    database,
                    "-c",
                    sql,
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError("psql failed: %s" % proc.stderr.strip())
        return proc.stdout

    def dump(self, database):
        """Plain-SQL pg_dump of one database (schema, rows, sequence values) as the superuser.

        Since 15.14 pg_dump writes a random ``\\restrict`` key into every dump; it is fixed here
        so that two dumps of an unchanged database are equal text."""
        if self._restrict_key is None:
            usage = subprocess.run([self._bin("pg_dump"), "--help"], capture_output=True, text=True, check=True)
            self._restrict_key = ["--restrict-key=unchanged"] if "--restrict-key" in usage.stdout else []
        proc = subprocess.run(
            _as_postgres(
                [
                    self._bin("pg_dump"),
                    "--no-password",
                    *self._restrict_key,
                    "-h",
                    self.socket_dir,
                    "-p",
                    str(self.port),
                    "-U",
                    OS_USER,
                    "-d",
                    database,
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError("pg_dump failed: %s" % proc.stderr.strip())
        return proc.stdout

    def create_user(self, name, password):
        """Create (or reset the password of) a login role."""
        exists = self.psql("SELECT 1 FROM pg_roles WHERE rolname = %s" % _quote_literal(name)).strip()
        verb = "ALTER" if exists else "CREATE"
        self.psql("%s ROLE %s LOGIN PASSWORD %s" % (verb, _quote_ident(name), _quote_literal(password)))

    def create_database(self, name, owner=None, password=None):
        """Create a database (and its owner when a password is given); return the owner's DSN."""
        owner = owner or OS_USER
        if password is not None:
            self.create_user(owner, password)
        exists = self.psql("SELECT 1 FROM pg_database WHERE datname = %s" % _quote_literal(name)).strip()
        if not exists:
            self.psql("CREATE DATABASE %s OWNER %s" % (_quote_ident(name), _quote_ident(owner)))
        return self.dsn(name, owner, password)

    def dsn(self, database, user, password=None, driver="postgresql+psycopg2"):
        """SQLAlchemy/libpq URL for a TCP connection to this server."""
        auth = urllib.parse.quote(user, safe="")
        if password is not None:
            auth += ":" + urllib.parse.quote(password, safe="")
        return "%s://%s@%s:%d/%s" % (driver, auth, self.host, self.port, database)

    def _kill(self):
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            # SIGINT is PostgreSQL's fast shutdown: clients are cut off, no waiting.
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def stop(self):
        """Stop the server and delete its directory (safe to call twice)."""
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bin_dir=None, startup_timeout=60):
    """Start a server; the caller must call ``stop()``."""
    return PostgresServer(bin_dir=bin_dir, startup_timeout=startup_timeout)


@contextlib.contextmanager
def postgres_server(bin_dir=None, startup_timeout=60):
    """Context manager around ``start_postgres``."""
    server = start_postgres(bin_dir, startup_timeout)
    try:
        yield server
    finally:
        server.stop()
