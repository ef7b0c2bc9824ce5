"""An external authentication service for ``auth-url`` tests, run as its own process:
``python -m tests.support.authservice [--tls CERT KEY]`` prints ``listening PORT`` and serves on
127.0.0.1 until killed, over TLS with that certificate and key when given. Like ingress-nginx's e2e auth backend (httpbin's /basic-auth, oauth2-proxy) it decides by
the request's headers:

* ``Authorization: Bearer good`` -> 200 with ``X-User: alice``, ``X-Email: alice@example.com`` and
  ``X-Seen``: the JSON of the method, path and header lines it got (base64), so a test reads
  through the upstream what the subrequest carried;
* ``Bearer forbidden`` -> 403; ``Bearer broken`` -> 500; ``Bearer slow`` -> no answer for 60 s;
* anything else -> 401 with ``WWW-Authenticate: Bearer realm="auth"``.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        token = self.headers.get("Authorization", "")
        if token == "Bearer slow":
            time.sleep(60)
        status, lines = 401, [("WWW-Authenticate", 'Bearer realm="auth"')]
        if token == "Bearer good":
            seen = {"method": self.command, "path": self.path, "headers": list(self.headers.items())}
            status = 200
            lines = [
                ("X-User", "alice"),
                ("X-Email", "alice@example.com"),
                ("X-Seen", base64.b64encode(json.dumps(seen).encode()).decode()),
            ]
        elif token == "Bearer forbidden":
            status, lines = 403, []
        elif token == "Bearer broken":
            status, lines = 500, []
        self.send_response(status)
        for name, value in lines:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads stdout
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if sys.argv[1:2] == ["--tls"]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
