"""HTTP endpoints: /metrics, /healthz (the process answers), /-/ready (every collector has
reported once: the snapshot is whole), / (status page), POST /-/reload.

The standard library's HTTP server, a daemon thread per connection up to a bound: a
handler only copies bytes out of the snapshot, so it needs no event loop. TLS handshakes
happen in that thread, never in the accepting one, so a slow client cannot stall others.
"""

from __future__ import annotations

import http.server
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable

from agent import status_page
from agent.snapshot import OPENMETRICS_TYPE, TEXT_TYPE, Snapshot
from agent.webconfig import BasicAuth, WebConfig, ssl_context

log = logging.getLogger("egov.http")

MAX_CONNECTIONS = 64  # open at once; more are closed at once rather than queued without bound
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit silent


def wants_openmetrics(accept: str | None) -> bool:
    return bool(accept) and "application/openmetrics-text" in accept


def wants_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "egov-agent"
    timeout = IDLE_TIMEOUT
    # headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive scrape
    disable_nagle_algorithm = True
    server: AgentHTTPServer

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        log.debug(format % args, extra={"client": self.client_address[0]})

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.server.web.http_server_config.headers, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.server.auth.allows(self.headers.get("Authorization")):
            return True
        self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8",
                   {"WWW-Authenticate": 'Basic realm="egov-agent"'})
        return False

    def do_GET(self):  # noqa: N802 - the stdlib's name
        if not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            openmetrics = wants_openmetrics(self.headers.get("Accept"))
            compress = wants_gzip(self.headers.get("Accept-Encoding"))
            body = self.server.snapshot.exposition(openmetrics, compress)
            self._send(200, body, OPENMETRICS_TYPE if openmetrics else TEXT_TYPE,
                       {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if compress else None)
        elif path == "/healthz":
            self._send(200, b"OK\n", "text/plain; charset=utf-8")
        elif path == "/-/ready":
            waiting = self.server.snapshot.waiting()
            if waiting:
                self._send(503, f"Starting: waiting for the first run of {', '.join(waiting)}\n".encode(),
                           "text/plain; charset=utf-8")
            else:
                self._send(200, b"Ready\n", "text/plain; charset=utf-8")
        elif path == "/":
            self._send(200, status_page.render(self.server.snapshot), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self):  # noqa: N802
        if not self._authorized():
            return
        if self.path.split("?", 1)[0] != "/-/reload":
            self._send(404, b"Not found\n", "text/plain; charset=utf-8")
            return
        ok, message = self.server.reload()
        self._send(200 if ok else 500, (message + "\n").encode(), "text/plain; charset=utf-8")


class AgentHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not delay a stop
    block_on_close = False

    def __init__(self, address: tuple[str, int], snapshot: Snapshot, web: WebConfig,
                 reload: Callable[[], tuple[bool, str]]):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.snapshot, self.web, self.reload = snapshot, web, reload
        self.auth = BasicAuth(web.basic_auth_users)
        self.tls = ssl_context(web.tls_server_config) if web.tls_server_config else None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            request.settimeout(IDLE_TIMEOUT)
            if self.tls is not None:
                request = self.tls.wrap_socket(request, server_side=True)
            self.finish_request(request, client_address)
        except (OSError, ssl.SSLError) as err:
            log.debug("connection failed", extra={"client": client_address[0], "error": str(err)})
        finally:
            self.shutdown_request(request)
            self._slots.release()
