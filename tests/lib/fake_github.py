"""A stand-in for github.com's OAuth endpoints and the REST calls oauth2-proxy's GitHub
provider makes (providers/github.go, v7.15.x), for the sign-on tests. It listens on 127.0.0.1,
or on a socket the caller made (inside the local cluster's network namespace, where the
oauth2-proxy pods reach it); ``url`` is where a browser reaches it.

Who is "signed in to GitHub" in the browser is the ``gh_session`` cookie on this host; the
authorize endpoint then issues a single-use code bound to the client id and redirect URI,
and the token endpoint exchanges it only with the right client secret. API calls need the
issued token (``Authorization: token <t>``), and organisations and teams are visible only
with the ``read:org`` scope, as on GitHub.
"""

import dataclasses
import http.server
import json
import secrets
import threading
import urllib.parse


@dataclasses.dataclass
class Account:
    login: str
    email: str
    orgs: tuple = ()
    teams: tuple = ()  # (org, team slug) pairs
    extra_emails: tuple = ()  # (email, primary, verified)


@dataclasses.dataclass
class _Grant:
    login: str
    client_id: str
    redirect_uri: str
    scope: str


class FakeGitHub:
    """Threaded HTTP server; ``url`` is its base, ``calls`` records (method, path) pairs."""

    def __init__(self, client_id, client_secret, accounts, listen_socket=None, url=None):
        self.client_id = client_id
        self.client_secret = client_secret
        self.accounts = {a.login: a for a in accounts}
        self.codes = {}
        self.tokens = {}
        self.calls = []
        self.token_exchanges = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        if listen_socket is None:
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        else:
            self.httpd = http.server.ThreadingHTTPServer(listen_socket.getsockname(), handler, bind_and_activate=False)
            self.httpd.socket.close()
            self.httpd.socket = listen_socket
        self.url = url or "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def issue_code(self, login, client_id, redirect_uri, scope):
        code = secrets.token_hex(10)
        with self._lock:
            self.codes[code] = _Grant(login, client_id, redirect_uri, scope)
        return code

    def redeem(self, form):
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)
        ok = (
            grant is not None
            and form.get("client_id") == self.client_id == grant.client_id
            and form.get("client_secret") == self.client_secret
            and form.get("redirect_uri") == grant.redirect_uri
        )
        self.token_exchanges.append({"login": grant.login if grant else None, "ok": ok})
        if not ok:
            return None
        token = "gho_" + secrets.token_hex(16)
        with self._lock:
            self.tokens[token] = grant
        return token


class _Handler(http.server.BaseHTTPRequestHandler):
    fake = None  # set per server

    def log_message(self, *args):  # keep pytest output clean
        return

    def _send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _grant(self):
        auth = self.headers.get("Authorization", "")
        scheme, _sep, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        return self.fake.tokens.get(token)

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        self.fake.calls.append(("GET", parsed.path))
        if parsed.path == "/login/oauth/authorize":
            return self._authorize(query)
        grant = self._grant()
        if grant is None:
            return self._send(401, {"message": "Bad credentials"})
        account = self.fake.accounts[grant.login]
        page = int(query.get("page", "1"))
        if parsed.path == "/":
            return self._send(200, {"current_user_url": self.fake.url + "/user"})
        if parsed.path == "/user":
            return self._send(200, {"login": account.login, "id": abs(hash(account.login)) % 10**6, "email": None})
        if parsed.path == "/user/emails":
            emails = [{"email": account.email, "primary": True, "verified": True}]
            emails += [{"email": e, "primary": p, "verified": v} for e, p, v in account.extra_emails]
            return self._send(200, emails)
        if parsed.path in ("/user/orgs", "/user/teams"):
            if "read:org" not in grant.scope.split() or page > 1:
                return self._send(200, [])
            if parsed.path == "/user/orgs":
                return self._send(200, [{"login": org} for org in account.orgs])
            return self._send(
                200, [{"name": team, "slug": team, "organization": {"login": org}} for org, team in account.teams]
            )
        return self._send(404, {"message": "Not Found"})

    def _authorize(self, query):
        cookies = dict(part.strip().split("=", 1) for part in self.headers.get("Cookie", "").split(";") if "=" in part)
        login = cookies.get("gh_session")
        if login not in self.fake.accounts:
            return self._send(401, {"message": "not signed in to the fake GitHub"})
        if query.get("client_id") != self.fake.client_id or not query.get("redirect_uri"):
            return self._send(400, {"message": "unknown client or missing redirect_uri"})
        if query.get("response_type", "code") != "code":
            return self._send(400, {"message": "unsupported response_type"})
        code = self.fake.issue_code(login, query["client_id"], query["redirect_uri"], query.get("scope", ""))
        target = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        return self._send(302, headers={"Location": target})

    def do_POST(self):
        parsed = urllib.parse.urlsplit(self.path)
        self.fake.calls.append(("POST", parsed.path))
        if parsed.path != "/login/oauth/access_token":
            return self._send(404, {"message": "Not Found"})
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        token = self.fake.redeem(form)
        if token is None:
            # GitHub answers 200 with an error object for a bad code.
            return self._send(200, {"error": "bad_verification_code"})
        return self._send(200, {"access_token": token, "token_type": "bearer", "scope": "user:email,read:org"})
