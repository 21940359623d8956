"""Protocol-level stand-in for the Google APIs the gcp_storage role calls.

One process runs:
- an HTTPS proxy on 127.0.0.1 that clients reach through HTTPS_PROXY; it accepts CONNECT only
  for Google's API hosts, terminates TLS with a certificate from a test CA made at start-up
  (clients trust it through REQUESTS_CA_BUNDLE) and serves the requests itself;
- a plain-HTTP control endpoint on 127.0.0.1 for the tests (request log, state, fault injection).

Usage: python tests/gcp_standin/server.py --state-dir DIR [--project-id ID --project-number N]
It writes DIR/env.sh (the variables clients need) and DIR/deployer.json (a key of the account the
tests deploy with) and then serves until SIGTERM.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from errors import ApiError, platform_error
from iam_api import IamApi
from oauth import OAuthError, authenticate, token_endpoint
from state import State
from storage_api import StorageApi
from tls import create_ca_and_leaf

OAUTH_HOST = "oauth2.googleapis.com"


class ApiHandler(BaseHTTPRequestHandler):
    """Serves decrypted requests for the intercepted hosts (keep-alive, like Google's front ends)."""

    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def log_message(self, format, *args):
        pass

    def _send(self, code, body, content_type="application/json; charset=UTF-8"):
        with self.server.state.lock:
            if self.server.state.requests:
                self.server.state.requests[-1]["status"] = code
        if isinstance(body, bytes):
            data, content_type = body, "application/octet-stream"
        else:
            data = b"" if body is None else json.dumps(body, indent=2).encode()
        self.send_response(code)
        if body is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self):
        state = self.server.state
        host = (self.headers.get("Host") or "").split(":")[0]
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with state.lock:
            state.requests.append({"method": self.command, "host": host, "path": url.path, "query": query})
            try:
                if host == OAUTH_HOST:
                    if url.path != "/token" or self.command != "POST":
                        raise platform_error(404, "Not Found")
                    try:
                        return self._send(200, token_endpoint(state, raw))
                    except OAuthError as exc:
                        return self._send(400, exc.body)
                api = self.server.apis.get(host)
                if api is None:
                    raise platform_error(404, "Unknown host %s" % host)
                caller = authenticate(state, self.headers.get("Authorization", ""), api)
                upload = "/upload/storage/v1/"
                if host == StorageApi.host and url.path.startswith(upload) and self.command == "POST":
                    result = api.upload(caller, [unquote(p) for p in url.path[len(upload) :].split("/")], query, raw)
                    if result is None:
                        raise platform_error(501, "gcp stand-in does not implement this upload")
                    return self._send(*result)
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError as exc:
                    raise platform_error(400, "Invalid JSON payload received.") from exc
                prefix = "/storage/v1/" if host == StorageApi.host else "/v1/"
                result = None
                if url.path.startswith(prefix):
                    parts = [unquote(p) for p in url.path[len(prefix) :].split("/")]
                    result = api.route(self.command, parts, query, body, caller)
                if result is None:
                    raise platform_error(501, "gcp stand-in does not implement %s %s" % (self.command, url.path))
                return self._send(*result)
            except ApiError as exc:
                return self._send(exc.code, exc.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class ProxyHandler(BaseHTTPRequestHandler):
    """CONNECT-only proxy: intercepts Google's API hosts, refuses everything else."""

    def log_message(self, format, *args):
        pass

    def do_CONNECT(self):
        host, port = self.path.rsplit(":", 1) if ":" in self.path else (self.path, "")
        if (host not in self.server.apis and host != OAUTH_HOST) or port != "443":
            self.send_error(403, "gcp stand-in intercepts only Google API hosts")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        except OSError:
            self.close_connection = True
            return
        try:
            ApiHandler(tls, self.client_address, self.server)
        finally:
            self.close_connection = True

    def _refuse(self):
        self.send_error(403, "gcp stand-in only tunnels HTTPS")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _refuse


class ControlHandler(BaseHTTPRequestHandler):
    """Test-only view of the stand-in, on its own port: never reachable through the proxy."""

    def log_message(self, format, *args):
        pass

    def _reply(self, code, body):
        data = json.dumps(body, indent=2, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        with state.lock:
            if self.path == "/requests":
                return self._reply(200, state.requests)
            if self.path == "/state":
                return self._reply(
                    200,
                    {
                        "buckets": state.buckets,
                        "bucket_policies": {k: v.to_json() for k, v in state.bucket_policies.items()},
                        "service_accounts": state.service_accounts,
                        "sa_policies": {k: v.to_json() for k, v in state.sa_policies.items()},
                        "keys": {k: dict(v["meta"], email=v["email"]) for k, v in state.keys.items()},
                    },
                )
        return self._reply(404, {"error": "unknown control path"})

    def do_POST(self):
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with state.lock:
            if self.path == "/faults":
                state.faults.extend(body)
                return self._reply(200, state.faults)
            if self.path == "/requests/clear":
                state.requests.clear()
                return self._reply(200, [])
        return self._reply(404, {"error": "unknown control path"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--project-id", default="mlflow-standin-123")
    parser.add_argument("--project-number", default="123456789012")
    parser.add_argument("--deployer-account", default="ansible-deployer")
    parser.add_argument(
        "--workload-identity-pools", default="", help="comma-separated projects with a Workload Identity pool"
    )
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    args.state_dir.chmod(0o700)

    state = State(args.project_id, args.project_number, [p for p in args.workload_identity_pools.split(",") if p])
    apis = {StorageApi.host: StorageApi(state), IamApi.host: IamApi(state)}
    tls_context, ca_path = create_ca_and_leaf(args.state_dir, [StorageApi.host, IamApi.host, OAUTH_HOST])

    deployer = apis[IamApi.host].add_account(args.deployer_account, "Ansible deployer (tests)")
    state.project_owners.add(deployer["email"])
    state.pending_propagation[deployer["email"]] = 0
    key_file = apis[IamApi.host].issue_key(deployer)[0]
    deployer_key = args.state_dir / "deployer.json"
    deployer_key.touch(mode=0o600)
    deployer_key.write_text(json.dumps(key_file))

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), ProxyHandler)
    control = ThreadingHTTPServer(("127.0.0.1", 0), ControlHandler)
    for server in (proxy, control):
        server.daemon_threads = True
        server.state = state
    proxy.apis = apis
    proxy.tls_context = tls_context

    proxy_url = "http://127.0.0.1:%d" % proxy.server_address[1]
    env = {
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "REQUESTS_CA_BUNDLE": str(ca_path),
        "GCP_STANDIN_CONTROL": "http://127.0.0.1:%d" % control.server_address[1],
        "GCP_STANDIN_DEPLOYER_KEY": str(deployer_key),
        "GCP_STANDIN_PROJECT": args.project_id,
        "GCP_STANDIN_PROJECT_NUMBER": args.project_number,
    }
    env_file = args.state_dir / "env.sh"
    env_file.write_text("".join("export %s=%s\n" % (k, v) for k, v in env.items()))
    (args.state_dir / "env.json").write_text(json.dumps(env))

    threading.Thread(target=control.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=proxy.shutdown).start())
    (args.state_dir / "ready").write_text("ok\n")
    proxy.serve_forever()


if __name__ == "__main__":
    main()
