"""HTTP endpoints: /metrics, /healthz (the process answers), /-/ready (every collector has
reported once: the snapshot is whole), / (status page), POST /-/reload.

The standard library's HTTP server, a daemon thread per connection up to a bound. We keep
it rather than move to asyncio or a selector loop of our own: a handler only copies bytes
out of the snapshot (the status page too, rendered once per snapshot change), so blocking
code in a thread is the simplest correct shape, the event loop stays the collectors' alone,
and the stdlib parses HTTP for us. What let clients starve it was never the thread model
but time and count without bound, so both are bounded here:

- time: a request line and its headers (and the TLS handshake, for the first request)
  must arrive whole within HEADER_TIMEOUT, an absolute deadline, not a per-recv timeout a
  client can renew by trickling a byte at a time; a keep-alive connection may then sit
  silent IDLE_TIMEOUT before its next request;
- count: MAX_CONNECTIONS open at once, MAX_PER_CLIENT of them from one address, so one
  client trickling or idling cannot take the slots Prometheus scrapes through;
- the accept queue: a deep listen backlog, and connections beyond the bounds are answered
  503 and closed as soon as they are accepted, so a flood is refused at once instead of
  waiting in an overflowing kernel queue for SYN retries.

A body is read (up to MAX_BODY) and dropped, so it can never be parsed as the next
request; framing two parsers could read differently (Transfer-Encoding, several or bad
Content-Length headers) is refused and the connection closed. TLS handshakes happen in the
connection's thread, never in the accepting one, so a slow client cannot stall others.
"""

from __future__ import annotations

import http.server
import io
import logging
import re
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable

from agent import status_page
from agent.snapshot import OPENMETRICS_TYPE, TEXT_TYPE, Snapshot
from agent.webconfig import BasicAuth, WebConfig, ssl_context

log = logging.getLogger("egov.http")

MAX_CONNECTIONS = 64  # open at once; more are refused at once rather than queued without bound
MAX_PER_CLIENT = 16  # open at once from one address
HEADER_TIMEOUT = 10.0  # seconds for a whole request line + headers (+ the TLS handshake) to arrive
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit silent between requests
WRITE_TIMEOUT = 30.0  # seconds for a client to take a whole response
MAX_BODY = 64 * 1024  # no endpoint wants a body; a bigger one is refused, not read
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
_DIGITS = re.compile(r"[0-9]{1,18}")


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


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each bounded by what is left until `deadline` (monotonic)
    or, with no deadline, by IDLE_TIMEOUT."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        timeout = IDLE_TIMEOUT if self.deadline is None else self.deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError("request not received in time")
        self._sock.settimeout(timeout)
        return self._sock.recv_into(buffer)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "egov-agent"
    # headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every keep-alive scrape
    disable_nagle_algorithm = True
    server: AgentHTTPServer

    def __init__(self, request, client_address, server, deadline: float):
        self._deadline: float | None = deadline  # the first request's, counted from accept
        super().__init__(request, client_address, server)

    def version_string(self) -> str:
        # not the stdlib's "Python/3.x": that tells an attacker which interpreter's bugs to try
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        log.debug(format % args, extra={"client": self.client_address[0]})

    def setup(self):
        super().setup()
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        if self._deadline is None:  # keep-alive: silent up to IDLE_TIMEOUT, then a deadline from the first byte
            self._reader.deadline = None
            self.rfile.peek(1)
            self._deadline = time.monotonic() + HEADER_TIMEOUT
        self._reader.deadline, self._deadline = self._deadline, None
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        refused = self._read_body()
        if refused:
            self.send_error(*refused)  # with Connection: close
            return False
        self.connection.settimeout(WRITE_TIMEOUT)
        return True

    def _read_body(self) -> tuple[int, str] | None:
        """Read and drop the body, so it cannot be taken for the next request; refuse (and
        close on) framing that two HTTP parsers could read differently."""
        if self.headers.get_all("Transfer-Encoding"):
            return 400, "Transfer-Encoding is not accepted: send a Content-Length"
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            return 400, "more than one Content-Length"
        if not lengths:
            return None
        if not _DIGITS.fullmatch(lengths[0].strip()):
            return 400, "bad Content-Length"
        remaining = int(lengths[0])
        if remaining > MAX_BODY:
            return 413, "request body too large"
        while remaining:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return 400, "body shorter than its Content-Length"
            remaining -= len(chunk)
        return None

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
            self._send(200, self.server.status_page.page(), "text/html; charset=utf-8")
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
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], snapshot: Snapshot, web: WebConfig,
                 reload: Callable[[], tuple[bool, str]]):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.snapshot, self.web, self.reload = snapshot, web, reload
        self.status_page = status_page.Cached(snapshot)
        self.auth = BasicAuth(web.basic_auth_users)
        self.tls = ssl_context(web.tls_server_config) if web.tls_server_config else None
        self._count_lock = threading.Lock()
        self._open: Counter[str] = Counter()  # client address -> connections open
        super().__init__(address, _Handler)

    # socketserver's loop wakes every poll_interval (0.5 s) to look for a stop: 30 wake-ups each 15 s
    # were a fifth of the idle agent's CPU. It sleeps until a connection comes; shutdown() wakes it
    # by shutting the listening socket (select says readable, accept fails, the loop sees the stop).
    def serve_forever(self, poll_interval: float = 3600.0) -> None:
        super().serve_forever(poll_interval)

    def shutdown(self) -> None:
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:  # never listened, or already shut
            pass
        super().shutdown()

    def process_request(self, request, client_address):
        client = client_address[0]
        with self._count_lock:
            admitted = self._open.total() < MAX_CONNECTIONS and self._open[client] < MAX_PER_CLIENT
            if admitted:
                self._open[client] += 1
        if not admitted:
            self._refuse(request)
            return
        super().process_request(request, client_address)

    def _refuse(self, request: socket.socket) -> None:
        if self.tls is None:  # a plain 503 means nothing inside TLS: there, the close says it
            request.setblocking(False)
            try:
                request.send(_BUSY)
            except OSError:
                pass
        self.shutdown_request(request)

    def process_request_thread(self, request, client_address):
        deadline = time.monotonic() + HEADER_TIMEOUT
        try:
            if self.tls is not None:
                # CPython bounds a whole handshake by the socket's timeout, not each read
                request.settimeout(HEADER_TIMEOUT)
                request = self.tls.wrap_socket(request, server_side=True)
            self.RequestHandlerClass(request, client_address, self, deadline)
        except (OSError, ssl.SSLError) as err:
            log.debug("connection failed", extra={"client": client_address[0], "error": str(err)})
        finally:
            self.shutdown_request(request)
            with self._count_lock:
                self._open[client_address[0]] -= 1
                if not self._open[client_address[0]]:
                    del self._open[client_address[0]]
