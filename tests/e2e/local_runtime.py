"""Runs, on loopback, the PostgreSQL and MLflow that the local (KWOK) cluster describes.

KWOK marks pods Running without starting a process, so on the local inventory nothing answers
at the MLflow Service. This program reads the objects the postgres_mlflow role applied (the
StatefulSet with its init-script ConfigMap, the MLflow Deployment, and every Secret they
reference) and runs the same programs with the same arguments, environment and
basic_auth.ini. Only addresses differ: PostgreSQL and MLflow listen on free loopback ports, the
database host in the two URIs is rewritten to that port, the artifact volume is a directory,
and the loopback address is appended to --allowed-hosts. MLflow comes from the cached virtualenv
of tests/lib/mlflow_env.py, PostgreSQL from Debian's binaries (run as user ``postgres``).

    python tests/e2e/local_runtime.py start [--namespace mlflow] [--check]   # idempotent; prints JSON
    python tests/e2e/local_runtime.py stop  [--namespace mlflow]
    python tests/e2e/local_runtime.py status [--namespace mlflow]

``start`` keeps the database between runs (state under $MLFLOW_K8S_LOCAL_RUNTIME or
/var/tmp/mlflow-k8s-local-runtime/<namespace>) and restarts the processes only when what the
cluster describes changed, so ``changed`` is false on a re-run.
"""

import argparse
import base64
import contextlib
import hashlib
import http.client
import importlib
import json
import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

mlflow_env = importlib.import_module("mlflow_env")

# The image pins 3.18.0; the package index reachable here lacks its mlflow-skinny/-tracing.
MLFLOW_VERSION = os.environ.get("MLFLOW_K8S_E2E_MLFLOW_VERSION", "3.17.2")
PG_BIN = os.environ.get("MLFLOW_K8S_PG_BIN", "/usr/lib/postgresql/15/bin")


def _kubectl():
    cache = pathlib.Path(os.environ.get("MLFLOW_K8S_CACHE", "/var/cache/mlflow-k8s")) / "bin" / "kubectl"
    return str(cache) if cache.exists() else (shutil.which("kubectl") or "kubectl")


class Cluster:
    def __init__(self, namespace, kubeconfig):
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self._secrets = {}

    def get(self, kind, name):
        cmd = [_kubectl(), "--namespace", self.namespace, "get", kind, name, "-o", "json"]
        if self.kubeconfig:
            cmd[1:1] = ["--kubeconfig", self.kubeconfig]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit("local_runtime: cannot read %s/%s: %s" % (kind, name, proc.stderr.strip()))
        return json.loads(proc.stdout)

    def secret(self, name):
        if name not in self._secrets:
            data = self.get("secret", name).get("data", {})
            self._secrets[name] = {k: base64.b64decode(v).decode() for k, v in data.items()}
        return self._secrets[name]

    def env(self, container):
        out = {}
        for item in container.get("env", []):
            if "value" in item:
                out[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                out[item["name"]] = self.secret(ref["name"])[ref["key"]]
        return out


def _expand(args, env):
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], a) for a in args]


def _flag_value(args, flag):
    return args[args.index(flag) + 1]


def _set_flag(args, flag, value):
    out = list(args)
    if flag in out:
        out[out.index(flag) + 1] = value
    else:
        out += [flag, value]
    return out


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid):
    if not pid:
        return False
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(pid, grace=20):
    if not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _as_postgres(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _healthy(port, path="/health"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class Runtime:
    def __init__(self, namespace, kubeconfig, state_dir=None):
        self.cluster = Cluster(namespace, kubeconfig)
        root = os.environ.get("MLFLOW_K8S_LOCAL_RUNTIME", "/var/tmp/mlflow-k8s-local-runtime")
        self.dir = pathlib.Path(state_dir or pathlib.Path(root) / namespace)
        self.state_file = self.dir / "state.json"

    def _state(self):
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def describe(self):
        """What the cluster says should run, with secrets resolved (never printed)."""
        ns = self.cluster.namespace
        sts = self.cluster.get("statefulset", "mlflow-postgres")
        pg = sts["spec"]["template"]["spec"]["containers"][0]
        init_cm = next(v["configMap"]["name"] for v in sts["spec"]["template"]["spec"]["volumes"] if "configMap" in v)
        scripts = self.cluster.get("configmap", init_cm)["data"]
        dep = self.cluster.get("deployment", "mlflow")["spec"]["template"]["spec"]
        init_c, server_c = dep["initContainers"][0], dep["containers"][0]
        auth_volume = next(v for v in dep["volumes"] if v["name"] == "auth-config")
        ini_key = auth_volume["secret"]["items"][0]["key"]
        ini = self.cluster.secret(auth_volume["secret"]["secretName"])[ini_key]
        # The database lives as long as the StatefulSet's volume claim: a new claim (a new
        # cluster, or a deleted namespace) means an empty data directory, as in the cluster.
        claim = "%s-%s-0" % (sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], sts["metadata"]["name"])
        desc = {
            "pg_volume": self.cluster.get("persistentvolumeclaim", claim)["metadata"]["uid"],
            "pg_host": "%s.%s.svc.cluster.local" % (sts["spec"]["serviceName"], ns),
            "pg_env": self.cluster.env(pg),
            "init_scripts": scripts,
            "migrate": {"command": init_c["command"], "args": init_c["args"], "env": self.cluster.env(init_c)},
            "server": {"command": server_c["command"], "args": server_c["args"], "env": self.cluster.env(server_c)},
            "ini": ini,
            "mlflow_version": MLFLOW_VERSION,
        }
        desc["fingerprint"] = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()
        return desc

    def status(self):
        state = self._state()
        running = bool(state) and _alive(state.get("pg_pid")) and _alive(state.get("mlflow_pid"))
        running = running and _healthy(state["mlflow_port"])
        return state, running

    def start(self, check=False):
        state, running = self.status()
        if check:
            # Report only. Objects a real run has yet to create count as a pending change.
            try:
                desc = self.describe()
            except SystemExit:
                return {"changed": True, "tracking_uri": state.get("tracking_uri", "") if running else ""}
            same = running and state.get("fingerprint") == desc["fingerprint"]
            return {"changed": not same, "tracking_uri": state.get("tracking_uri", "") if running else ""}
        desc = self.describe()
        if running and state.get("fingerprint") == desc["fingerprint"]:
            return {"changed": False, "tracking_uri": state["tracking_uri"]}
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL runs as postgres and must reach its data directory inside.
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.dir, 0o700)
        pg_port, pg_pid = self._start_postgres(desc)
        state = {"pg_pid": pg_pid, "pg_port": pg_port, "fingerprint": desc["fingerprint"]}
        self.state_file.write_text(json.dumps(state))
        mlflow_port, mlflow_pid = self._start_mlflow(desc, pg_port)
        state.update(mlflow_pid=mlflow_pid, mlflow_port=mlflow_port, tracking_uri="http://127.0.0.1:%d" % mlflow_port)
        self.state_file.write_text(json.dumps(state))
        return {"changed": True, "tracking_uri": state["tracking_uri"]}

    def stop(self):
        state = self._state()
        _kill_group(state.get("mlflow_pid"))
        _kill_group(state.get("pg_pid"))
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        return {"changed": bool(state)}

    # PostgreSQL: Debian's binaries, data kept in the state directory across runs.
    def _start_postgres(self, desc):
        pgroot = self.dir / "postgres"
        data, sock = pgroot / "data", pgroot / "run"
        entry = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        volume_marker = pgroot / "volume-uid"
        fresh = (
            not (data / "PG_VERSION").exists()
            or not volume_marker.exists()
            or (volume_marker.read_text() != desc["pg_volume"])
        )
        if fresh:
            shutil.rmtree(pgroot, ignore_errors=True)
            data.mkdir(parents=True)
            sock.mkdir()
            if entry:
                for path in (pgroot, data, sock):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            os.chmod(data, 0o700)
            subprocess.run(
                _as_postgres(
                    [
                        PG_BIN + "/initdb",
                        "-D",
                        str(data),
                        "-U",
                        "postgres",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                    ]
                ),
                check=True,
                capture_output=True,
            )
        port = _free_port()
        with open(self.dir / "postgres.log", "ab") as log:
            proc = subprocess.Popen(
                _as_postgres(
                    [
                        PG_BIN + "/postgres",
                        "-D",
                        str(data),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "port=%d" % port,
                        "-c",
                        "unix_socket_directories=%s" % sock,
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while subprocess.run([PG_BIN + "/pg_isready", "-q", "-h", str(sock), "-p", str(port)], check=False).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("local_runtime: PostgreSQL did not start; see %s/postgres.log" % self.dir)
            time.sleep(0.2)
        if fresh:
            # As the image's entrypoint does on an empty data directory: run the init scripts.
            env = dict(os.environ, PGHOST=str(sock), PGPORT=str(port), **desc["pg_env"])
            for name in sorted(desc["init_scripts"]):
                run = subprocess.run(
                    _as_postgres(["bash", "-s"]),
                    input=desc["init_scripts"][name],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    cwd="/",
                )
                if run.returncode != 0:
                    raise SystemExit("local_runtime: init script %s failed: %s" % (name, run.stderr.strip()))
            volume_marker.write_text(desc["pg_volume"])
        return port, proc.pid

    def _local_uri(self, uri, desc, pg_port):
        return uri.replace("@%s:5432/" % desc["pg_host"], "@127.0.0.1:%d/" % pg_port)

    def _start_mlflow(self, desc, pg_port):
        venv_bin = mlflow_env.ensure_venv(MLFLOW_VERSION) / "bin"
        ini = self.dir / "basic_auth.ini"
        ini.write_text(self._local_uri(desc["ini"], desc, pg_port))
        os.chmod(ini, 0o600)
        local = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "HOME": str(self.dir)}

        def env_of(container):
            env = {
                k: (self._local_uri(v, desc, pg_port) if k == "MLFLOW_BACKEND_STORE_URI" else v)
                for k, v in container["env"].items()
            }
            env.update({k: v for k, v in local.items() if k in env})
            return env

        migrate_env = env_of(desc["migrate"])
        cmd = [str(venv_bin / desc["migrate"]["command"][0]), *_expand(desc["migrate"]["args"], migrate_env)]
        run = subprocess.run(
            cmd, env=dict(os.environ, **migrate_env), capture_output=True, text=True, check=False, cwd=self.dir
        )
        if run.returncode != 0:
            raise SystemExit("local_runtime: %s failed: %s" % (" ".join(cmd[:3]), run.stderr[-2000:]))
        server_env = env_of(desc["server"])
        args = _expand(desc["server"]["args"], server_env)
        port = _free_port()
        artifacts = self.dir / "artifacts"
        artifacts.mkdir(exist_ok=True)
        args = _set_flag(
            _set_flag(_set_flag(args, "--host", "127.0.0.1"), "--port", str(port)),
            "--artifacts-destination",
            str(artifacts),
        )
        args = _set_flag(args, "--allowed-hosts", _flag_value(args, "--allowed-hosts") + ",127.0.0.1:%d" % port)
        env = dict(os.environ, PATH="%s:%s" % (venv_bin, os.environ.get("PATH", "")), **server_env)
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
            env.pop(key, None)
        with open(self.dir / "mlflow.log", "ab") as log:
            proc = subprocess.Popen(
                [str(venv_bin / desc["server"]["command"][0]), *args],
                env=env,
                cwd=self.dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300
        while not _healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                _kill_group(proc.pid)
                tail = (self.dir / "mlflow.log").read_text(errors="replace")[-3000:]
                raise SystemExit("local_runtime: MLflow did not become healthy:\n" + tail)
            time.sleep(0.5)
        return port, proc.pid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--namespace", default="mlflow")
    parser.add_argument("--kubeconfig", default=os.environ.get("K8S_AUTH_KUBECONFIG") or os.environ.get("KUBECONFIG"))
    parser.add_argument("--state-dir")
    parser.add_argument("--check", action="store_true", help="with start: report what would change, change nothing")
    opts = parser.parse_args(argv)
    runtime = Runtime(opts.namespace, opts.kubeconfig, opts.state_dir)
    if opts.action == "start":
        result = runtime.start(check=opts.check)
    elif opts.action == "stop":
        result = runtime.stop()
    else:
        state, running = runtime.status()
        result = {"changed": False, "running": running, "tracking_uri": state.get("tracking_uri", "")}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
