"""Starts the whole sign-on chain on loopback with the configuration the roles render:

    browser -> ingress stand-in (UI host) -> oauth2-proxy -> MLflow -> PostgreSQL
    client  -> ingress stand-in (API host) -------------> MLflow
                                oauth2-proxy <-> fake GitHub

The files come from ``ansible-playbook tests/e2e/render.yml`` (the roles' templates, defaults
and vars); the processes get the args and env of the rendered Deployments, with secretKeyRefs
resolved from the rendered Secrets. What differs from the cluster is listed in ``_LOCAL``:
listen addresses, the database host, and the artifact volume path.
"""

import base64
import contextlib
import dataclasses
import http.client
import importlib
import json
import os
import pathlib
import re
import secrets
import string
import subprocess
import sys
import tempfile
import time

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(HERE))

mlflow_env = importlib.import_module("mlflow_env")
postgres = importlib.import_module("postgres")
Account = importlib.import_module("fake_github").Account
FakeGitHub = importlib.import_module("fake_github").FakeGitHub
IngressStandin = importlib.import_module("ingress_standin").IngressStandin

# The image pin is 3.18.0, but the package index reachable here lacks mlflow-skinny and
# mlflow-tracing 3.18.0 (mlflow 3.18.0 requires both), so the newest installable release runs.
MLFLOW_VERSION = os.environ.get("MLFLOW_K8S_E2E_MLFLOW_VERSION", "3.17.2")
UI_HOST = "mlflow.e2e.test"
API_HOST = "mlflow-api.e2e.test"
ORG = "acme"
TEAM = "ml-platform"
CLIENT_ID = "Iv1.e2e0000000000001"

ACCOUNTS = [
    Account(
        "alice",
        "alice@example.com",
        orgs=(ORG,),
        teams=((ORG, TEAM),),
        extra_emails=(("alice@old.example.org", False, True),),
    ),
    Account("bob", "bob@example.com", orgs=(ORG,), teams=((ORG, TEAM),)),
    Account("carol", "carol@example.com", orgs=(ORG,), teams=((ORG, "finance"),)),
    Account("mallory", "mallory@example.net", orgs=("evil-corp",), teams=(("evil-corp", TEAM),)),
]


def _generated(length=32):
    """What mlflow_k8s.platform.k8s_generated_secret generates for the roles: letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _i in range(length))


@dataclasses.dataclass
class Stack:
    ui_url: str
    api_url: str
    mlflow_url: str
    github: FakeGitHub
    admin_username: str
    admin_password: str
    bridge_password: str
    rendered: pathlib.Path
    mlflow: object
    oauth2_proxy_log: pathlib.Path

    def resolve(self, url):
        """Where a browser's request for ``url`` lands on loopback (the 'DNS + ingress')."""
        for host, base in ((UI_HOST, self.ui_url), (API_HOST, self.api_url)):
            for scheme in ("https://", "http://"):
                if url.startswith(scheme + host):
                    return base + url[len(scheme + host) :]
        return url


def render(out_dir, extra_vars):
    """Run tests/e2e/render.yml with the roles' templates; return parsed documents by file."""
    out_dir = pathlib.Path(out_dir)
    vars_file = out_dir / "e2e-vars.json"
    vars_file.write_text(json.dumps(dict(extra_vars, e2e_out=str(out_dir))))
    os.chmod(vars_file, 0o600)
    proc = subprocess.run(
        ["ansible-playbook", str(HERE / "render.yml"), "-e", "@%s" % vars_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError("render.yml failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
    return out_dir


def manage_users(stack, users_vars):
    """Run the mlflow_users role (tests/e2e/users.yml) against the API host; return its output."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="mlflow-e2e-users-"))
    try:
        vars_file = workdir / "users-vars.json"
        vars_file.write_text(
            json.dumps(
                dict(
                    users_vars,
                    mlflow_users_tracking_uri=stack.api_url,
                    mlflow_users_admin_username=stack.admin_username,
                    mlflow_users_admin_password=stack.admin_password,
                    mlflow_users_bridge_password=stack.bridge_password,
                )
            )
        )
        os.chmod(vars_file, 0o600)
        proc = subprocess.run(
            ["ansible-playbook", str(HERE / "users.yml"), "-e", "@%s" % vars_file],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    if proc.returncode != 0:
        raise RuntimeError("users.yml failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
    return proc.stdout


def _docs(path):
    return [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]


def _by_kind(path, kind):
    return [d for d in _docs(path) if d["kind"] == kind]


def _resolve_env(env_list, secrets_by_name, overrides):
    """Container env as a dict, secretKeyRefs resolved, ``$(VAR)`` references expanded."""
    env = {}
    for item in env_list:
        if "value" in item:
            value = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets_by_name[ref["name"]][ref["key"]]
        env[item["name"]] = overrides.get(item["name"], value)
    return env


def _expand(args, env):
    # Kubernetes expands $(VAR) in command/args from the container's env.
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], a) for a in args]


def _replace_flag(args, flag, value):
    out = list(args)
    idx = out.index(flag)
    out[idx + 1] = value
    return out


def _drop_flag(args, flag):
    out = list(args)
    idx = out.index(flag)
    del out[idx : idx + 2]
    return out


def _secret_data(path):
    return {
        d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}
        for d in _by_kind(path, "Secret")
    }


def _wait_http(port, path, proc, timeout, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s:\n%s" % (proc.returncode, log.read_text()[-4000:]))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.3)
    raise RuntimeError("127.0.0.1:%d%s not ready in %ss:\n%s" % (port, path, timeout, log.read_text()[-4000:]))


def _oauth2_proxy_binary():
    out = subprocess.run(["bash", str(HERE / "build-oauth2-proxy.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip()


@contextlib.contextmanager
def sso_stack():
    oauth2_proxy = _oauth2_proxy_binary()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="mlflow-e2e-"))
    os.chmod(workdir, 0o700)
    values = {
        "mlflow-postgres": {
            "postgres-password": _generated(),
            "tracking-password": _generated(),
            "auth-password": _generated(),
        },
        "mlflow-admin": {"username": "admin", "password": _generated()},
        "mlflow-flask": {"secret-key": _generated(64)},
    }
    o2p_values = {
        "mlflow-sso-bridge": {"password": _generated()},
        "oauth2-proxy-cookie": {"cookie-secret": _generated()},
    }
    client_secret = _generated(40)
    with contextlib.ExitStack() as stack:
        if os.environ.get("MLFLOW_K8S_KEEP_WORKDIR") != "1":
            stack.callback(subprocess.run, ["rm", "-rf", str(workdir)], check=False)
        github = stack.enter_context(FakeGitHub(CLIENT_ID, client_secret, ACCOUNTS))
        pg = stack.enter_context(postgres.postgres_server())
        role_vars = {
            "postgres_mlflow_ui_host": UI_HOST,
            "postgres_mlflow_api_host": API_HOST,
            "postgres_mlflow_cluster_issuer": "selfsigned-ca",
            "postgres_mlflow_replicas": 1,
            "oauth2_proxy_ui_host": UI_HOST,
            "oauth2_proxy_cluster_issuer": "selfsigned-ca",
            "oauth2_proxy_github_client_id": CLIENT_ID,
            "oauth2_proxy_github_client_secret": client_secret,
            "oauth2_proxy_github_org": ORG,
            "oauth2_proxy_github_teams": [TEAM],
            "oauth2_proxy_github_login_url": github.url + "/login/oauth/authorize",
            "oauth2_proxy_github_redeem_url": github.url + "/login/oauth/access_token",
            "oauth2_proxy_github_validate_url": github.url + "/",
            "_postgres_mlflow_secret_values": values,
            "_oauth2_proxy_secret_values": o2p_values,
            # _LOCAL: the database is on loopback instead of the StatefulSet's Service.
            "_postgres_mlflow_pg_host": "127.0.0.1",
            "_postgres_mlflow_pg_port": pg.port,
        }
        rendered = workdir / "rendered"
        rendered.mkdir()
        render(rendered, dict(role_vars, oauth2_proxy_upstream_url="http://127.0.0.1:1"))

        # PostgreSQL: the init script from the StatefulSet's ConfigMap, with the Secret as env.
        pg_env = _resolve_env(
            _by_kind(rendered / "postgres.yml", "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]["env"],
            values,
            {},
        )
        # Fed on stdin: the rendered directory is private to root, the script runs as postgres.
        init = subprocess.run(
            (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + ["bash", "-s"],
            input=(rendered / "postgres-init.sh").read_text(),
            env=dict(
                os.environ,
                PGHOST=pg.socket_dir,
                PGPORT=str(pg.port),
                **{
                    k: v
                    for k, v in pg_env.items()
                    if k in ("POSTGRES_USER", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_AUTH_PASSWORD")
                },
            ),
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
        if init.returncode != 0:
            raise RuntimeError("postgres init script failed: %s" % init.stderr)

        # MLflow: the Deployment's init container, then its server container.
        secrets_by_name = dict(values, **_secret_data(rendered / "mlflow-config.yml"))
        pod = _by_kind(rendered / "mlflow.yml", "Deployment")[0]["spec"]["template"]["spec"]
        local = {"MLFLOW_AUTH_CONFIG_PATH": str(rendered / "basic_auth.ini"), "HOME": str(workdir)}
        venv_bin = mlflow_env.ensure_venv(MLFLOW_VERSION) / "bin"
        init_c = pod["initContainers"][0]
        init_env = _resolve_env(init_c["env"], secrets_by_name, local)
        upgrade = subprocess.run(
            [str(venv_bin / init_c["command"][0]), *_expand(init_c["args"], init_env)],
            env=dict(os.environ, **init_env),
            capture_output=True,
            text=True,
            check=False,
            cwd=workdir,
        )
        if upgrade.returncode != 0:
            raise RuntimeError("mlflow db upgrade failed:\n%s" % upgrade.stderr[-4000:])
        server_c = pod["containers"][0]
        server_env = _resolve_env(server_c["env"], secrets_by_name, local)
        args = _expand(server_c["args"], server_env)
        assert args[0] == "server"
        # _LOCAL: mlflow_env binds 127.0.0.1 on a free port; the artifact volume is a directory.
        args = _drop_flag(_drop_flag(args[1:], "--host"), "--port")
        artifacts = workdir / "artifacts"
        artifacts.mkdir()
        args = _replace_flag(args, "--artifacts-destination", str(artifacts))
        server = stack.enter_context(
            mlflow_env.mlflow_server(
                MLFLOW_VERSION,
                backend_store_uri=server_env["MLFLOW_BACKEND_STORE_URI"],
                server_args=args,
                env=server_env,
                workers=None,
            )
        )
        api = stack.enter_context(IngressStandin(API_HOST, "127.0.0.1", server.port))

        # oauth2-proxy: rendered again now that MLflow's address is known.
        o2p_port = mlflow_env.free_port()
        o2p_dir = workdir / "oauth2-proxy"
        o2p_dir.mkdir()
        render(
            o2p_dir,
            dict(role_vars, oauth2_proxy_upstream_url=server.url, _oauth2_proxy_bind_address="127.0.0.1:%d" % o2p_port),
        )
        config_map = _by_kind(o2p_dir / "oauth2-proxy.yml", "ConfigMap")[0]
        deployment = _by_kind(o2p_dir / "oauth2-proxy.yml", "Deployment")[0]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        mount = container["volumeMounts"][0]["mountPath"]
        for key, text in config_map["data"].items():
            (o2p_dir / key).write_text(text)
        o2p_secrets = dict(
            o2p_values, **{"oauth2-proxy-github": {"client-id": CLIENT_ID, "client-secret": client_secret}}
        )
        o2p_env = _resolve_env(container["env"], o2p_secrets, {})
        o2p_args = [a.replace(mount, str(o2p_dir)) for a in container["args"]]
        o2p_log = o2p_dir / "oauth2-proxy.log"
        with open(o2p_log, "wb") as log:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [oauth2_proxy, *o2p_args],
                env=dict(os.environ, **o2p_env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=o2p_dir,
            )
        stack.callback(mlflow_env.kill_group, proc)
        _wait_http(o2p_port, "/ping", proc, 60, o2p_log)
        ui = stack.enter_context(IngressStandin(UI_HOST, "127.0.0.1", o2p_port))
        yield Stack(
            ui_url=ui.url,
            api_url=api.url,
            mlflow_url=server.url,
            github=github,
            admin_username=values["mlflow-admin"]["username"],
            admin_password=values["mlflow-admin"]["password"],
            bridge_password=o2p_values["mlflow-sso-bridge"]["password"],
            rendered=rendered,
            mlflow=server,
            oauth2_proxy_log=o2p_log,
        )
