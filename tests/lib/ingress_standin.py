"""A loopback stand-in for one ingress-nginx host rule: it listens on 127.0.0.1, forwards every
request to one backend with the public host name in ``Host`` and the ``X-Forwarded-*``
headers nginx sets after TLS termination (proto ``https``), and returns the answer unchanged.

Only the TLS hop is missing; the backends see what they would see behind the Ingress. Bodies
with a length are streamed both ways, as nginx does with request buffering off, so a large
artifact passes without being held in memory.
"""

import http.client
import http.server
import threading

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


def _copy(source, sink, length, chunk=1 << 20):
    """Copies exactly ``length`` bytes from a file-like source to a socket or file-like sink."""
    write = sink.sendall if hasattr(sink, "sendall") else sink.write
    while length > 0:
        data = source.read(min(chunk, length))
        if not data:
            raise ConnectionError("the body ended %d bytes short" % length)
        write(data)
        length -= len(data)


class IngressStandin:
    def __init__(self, public_host, backend_host, backend_port):
        self.public_host = public_host
        self.backend = (backend_host, backend_port)
        handler = type("Handler", (_Handler,), {"standin": self})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    standin = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        return

    def _forward(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
        headers.update(
            {
                "Host": self.standin.public_host,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": self.standin.public_host,
                "X-Forwarded-Port": "443",
                "X-Forwarded-For": self.client_address[0],
                "X-Real-IP": self.client_address[0],
            }
        )
        conn = http.client.HTTPConnection(*self.standin.backend, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders()
            _copy(self.rfile, conn.sock, length)
            resp = conn.getresponse()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            known = resp.getheader("Content-Length")
            data = b"" if known is not None else resp.read()
            self.send_header("Content-Length", known if known is not None else str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if known is None:
                self.wfile.write(data)
            else:
                _copy(resp, self.wfile, int(known))
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward
