"""A minimal browser for the end-to-end test: a cookie jar per host, manual redirects, and a
``resolve`` hook that maps public URLs (https://UI_HOST/...) to the loopback ingress stand-ins.

Cookies are kept per host and sent back regardless of their Secure flag, because the TLS hop
that a real browser would see is what the ingress stand-in leaves out.
"""

import base64
import dataclasses
import http.client
import http.cookies
import json
import urllib.parse


@dataclasses.dataclass
class Response:
    status: int
    headers: dict
    set_cookies: list
    body: bytes
    url: str

    def json(self):
        return json.loads(self.body)

    @property
    def location(self):
        return self.headers.get("location")


class Browser:
    def __init__(self, resolve):
        self.resolve = resolve
        self.cookies = {}  # public host -> {name: value}
        self.history = []

    def set_cookie(self, url, name, value):
        self.cookies.setdefault(urllib.parse.urlsplit(url).netloc, {})[name] = value

    def cookie_names(self, url):
        return set(self.cookies.get(urllib.parse.urlsplit(url).netloc, {}))

    def request(self, method, url, headers=None, body=None):
        public = urllib.parse.urlsplit(url)
        target = urllib.parse.urlsplit(self.resolve(url))
        hdrs = dict(headers or {})
        jar = self.cookies.get(public.netloc, {})
        if jar:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            set_cookies = resp.msg.get_all("Set-Cookie") or []
            result = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, set_cookies, data, url)
        finally:
            conn.close()
        for raw in set_cookies:
            self._store(public.netloc, raw)
        self.history.append((method, url, result.status))
        return result

    def _store(self, netloc, raw):
        parsed = http.cookies.SimpleCookie()
        parsed.load(raw)
        jar = self.cookies.setdefault(netloc, {})
        for name, morsel in parsed.items():
            expired = morsel["max-age"] not in ("", None) and int(morsel["max-age"]) <= 0
            expired = expired or "1970" in (morsel["expires"] or "")
            if expired or morsel.value == "":
                jar.pop(name, None)
            else:
                jar[name] = morsel.value

    def get(self, url, follow=True, headers=None, max_hops=10):
        resp = self.request("GET", url, headers=headers)
        hops = 0
        while follow and resp.status in (301, 302, 303, 307, 308) and hops < max_hops:
            url = urllib.parse.urljoin(url, resp.location)
            resp = self.request("GET", url, headers=headers)
            hops += 1
        return resp


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
