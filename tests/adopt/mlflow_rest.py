"""Minimal MLflow REST client for the adoption tests (standard library only).

Basic auth is encoded as UTF-8 here: the ``requests``-based MLflow client encodes it as
Latin-1 and cannot log in users whose names or passwords leave that range, which are
exactly the users this test migrates.
"""

import base64
import http.client
import json
import urllib.parse


class HttpError(Exception):
    """A non-2xx answer, with the status and body kept for assertions."""

    def __init__(self, status, body, url):
        super().__init__("HTTP %s from %s: %s" % (status, url, body[:500]))
        self.status = status
        self.body = body


class Rest:
    """One server, one identity."""

    def __init__(self, url, username, password, timeout=60):
        self.url = url.rstrip("/")
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "http":
            raise ValueError("test servers listen on plain http on loopback: %s" % url)
        self.netloc, self.base_path = parsed.netloc, parsed.path
        self.username = username
        self.password = password
        self.timeout = timeout

    def as_user(self, username, password):
        return Rest(self.url, username, password, self.timeout)

    def _auth_header(self):
        token = base64.b64encode(("%s:%s" % (self.username, self.password)).encode("utf-8"))
        return "Basic " + token.decode("ascii")

    def request(self, method, path, params=None, body=None, raw=None, content_type=None):
        target = self.base_path + path
        if params:
            target += "?" + urllib.parse.urlencode(params)
        data = None
        headers = {"Authorization": self._auth_header()}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw
            headers["Content-Type"] = content_type or "application/octet-stream"
        conn = http.client.HTTPConnection(self.netloc, timeout=self.timeout)
        try:
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            raise HttpError(resp.status, payload.decode("utf-8", "replace"), self.url + target)
        return payload

    def json(self, method, path, params=None, body=None):
        payload = self.request(method, path, params=params, body=body)
        return json.loads(payload) if payload else {}

    def get(self, route, /, **params):
        # Positional-only: "path" is also a query parameter of the artifact routes.
        return self.json("GET", route, params=params or None)

    def post(self, path, body):
        return self.json("POST", path, body=body)

    def patch(self, path, body):
        return self.json("PATCH", path, body=body)

    def can_log_in(self):
        """True when the server accepts this identity's password (read-own-user probe)."""
        try:
            self.get("/api/2.0/mlflow/users/get", username=self.username)
        except HttpError as err:
            if err.status == 401:
                return False
            raise
        return True
