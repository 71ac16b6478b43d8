"""The HTTP server under attack, in process on 127.0.0.1: slow and idle clients, smuggled
requests, a connection flood, basic auth and TLS settings, header injection.

Attacking clients come from 127.0.0.1; the scraper binds 127.0.0.2, as Prometheus would
scrape from an address of its own.
"""

from __future__ import annotations

import base64
import http.client
import selectors
import socket
import ssl
import struct
import threading
import time

import bcrypt
import pytest

from agent import server as http_server
from agent.checks import Check, State
from agent.server import AgentHTTPServer
from agent.snapshot import Result, Snapshot
from agent.webconfig import BasicAuth, WebConfig, load_web_config, ssl_context
from agent.yamlfile import ConfigError
from tests.peers import free_port

SCRAPER = "127.0.0.2"


def snapshot_of(checks: int = 3) -> Snapshot:
    snapshot = Snapshot()
    snapshot.configure(0.0, None, None)
    snapshot.set_collectors({"icmp": 60.0})
    snapshot.record(Result("icmp", time.time(), 0.01, text=b"egov_test_up 1\n", openmetrics=b"egov_test_up 1\n",
                           checks=[Check("icmp", f"host-{i}", State.CRITICAL if i % 3 else State.OK, f"loss {i}%")
                                   for i in range(checks)]))
    return snapshot


class Served:
    def __init__(self, web: WebConfig, snapshot: Snapshot):
        self.reloads = 0
        self.server = AgentHTTPServer(("127.0.0.1", 0), snapshot, web, self._reload)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _reload(self) -> tuple[bool, str]:
        self.reloads += 1
        return True, "reloaded"

    def get(self, path: str = "/metrics", headers: dict | None = None, method: str = "GET",
            context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
        connection = (http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=context,
                                                  source_address=(SCRAPER, 0)) if context else
                      http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(SCRAPER, 0)))
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    started = []

    def start(web: WebConfig | None = None, snapshot: Snapshot | None = None) -> Served:
        served = Served(web or WebConfig(), snapshot or snapshot_of())
        started.append(served)
        return served
    yield start
    for served in started:
        served.stop()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True once the server has closed the connection (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send `data`, read until the server closes or goes quiet for a second."""
    sock.sendall(data)
    sock.settimeout(1.0)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received


# --- slow and idle clients -----------------------------------------------------------------

def test_scrapes_answer_while_70_connections_trickle_headers_and_each_is_cut_at_its_deadline(serve, monkeypatch):
    monkeypatch.setattr(http_server, "HEADER_TIMEOUT", 2.0)
    served = serve()
    trickling = [connect(served.port) for _ in range(70)]
    stop = threading.Event()

    def trickle():  # a header byte every 0.2 s: a per-recv timeout would never fire
        for sock in trickling:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        while not stop.wait(0.2):
            for sock in trickling:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass
    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        for _ in range(10):
            status, _, body = served.get()
            assert status == 200 and b"egov_test_up 1" in body
        # every trickling connection is closed (refused over the per-client bound, or cut at
        # its header deadline) while it is still sending
        assert all(closed_by_server(sock, timeout=15) for sock in trickling)
    finally:
        stop.set()
        feeder.join()
        for sock in trickling:
            sock.close()


def test_scrapes_answer_while_70_idle_connections_are_open_and_idle_ones_are_closed(serve, monkeypatch):
    monkeypatch.setattr(http_server, "HEADER_TIMEOUT", 2.0)
    served = serve()
    idle = [connect(served.port) for _ in range(70)]
    try:
        for _ in range(10):
            assert served.get()[0] == 200
        assert all(closed_by_server(sock, timeout=15) for sock in idle)
    finally:
        for sock in idle:
            sock.close()


def test_a_keep_alive_connection_serves_several_requests(serve):
    served = serve()
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10, source_address=(SCRAPER, 0))
    for _ in range(3):
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"OK\n"
    connection.close()


# --- smuggling -------------------------------------------------------------------------------

SMUGGLED = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"


def test_a_post_reload_inside_a_get_body_is_not_a_request(serve):
    served = serve()
    with connect(served.port, SCRAPER) as sock:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED
        answer = exchange(sock, request + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 2  # the body was read and dropped, the next request served
    assert served.reloads == 0


@pytest.mark.parametrize("framing", [
    b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % (len(SMUGGLED) + 7),
    b"Content-Length: 0\r\nContent-Length: %d\r\n" % len(SMUGGLED),
    b"Content-Length: +%d\r\n" % len(SMUGGLED),
    b"Content-Length: %d, %d\r\n" % (len(SMUGGLED), len(SMUGGLED)),
    b"Transfer-Encoding: chunked\r\n",
], ids=["cl-and-te", "two-cl", "signed-cl", "list-cl", "chunked-get"])
def test_ambiguous_framing_is_refused_and_the_connection_closed(serve, framing):
    served = serve()
    chunked = b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"
    with connect(served.port, SCRAPER) as sock:
        answer = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + chunked + SMUGGLED)
        assert closed_by_server(sock, timeout=5)
    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1
    assert served.reloads == 0


def test_a_body_over_the_limit_is_refused_unread(serve):
    served = serve()
    with connect(served.port, SCRAPER) as sock:
        answer = exchange(sock, b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and served.reloads == 0


# --- a flood -----------------------------------------------------------------------------------

def _total_retransmits(sock: socket.socket) -> int:
    """tcpi_total_retrans of Linux's struct tcp_info (offset 100): a SYN the server's full
    accept queue dropped is sent again and counted here."""
    return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 100)[0]


def test_2000_concurrent_connections_each_get_an_answer_or_a_close_without_waiting_in_a_queue(serve):
    served = serve()
    selector = selectors.DefaultSelector()
    pending, retransmitted = set(), 0
    for _ in range(2000):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", served.port))
        selector.register(sock, selectors.EVENT_WRITE)
        pending.add(sock)
    deadline = time.monotonic() + 120  # generous: only a hang fails
    try:
        while pending and time.monotonic() < deadline:
            for key, events in selector.select(timeout=1):
                sock = key.fileobj
                if events & selectors.EVENT_WRITE:
                    retransmitted += _total_retransmits(sock) > 0
                    try:
                        sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    except OSError:
                        pass
                    selector.modify(sock, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:  # reset: refused
                    data = b""
                if not data or data.startswith(b"HTTP/1.1 "):  # a close, or an answer (200 or 503)
                    selector.unregister(sock)
                    sock.close()
                    pending.discard(sock)
        assert not pending, f"{len(pending)} connections got neither an answer nor a close"
        assert retransmitted == 0, f"{retransmitted} connections waited for a SYN to be sent again"
        assert served.get()[0] == 200
    finally:
        for sock in pending:
            sock.close()
        selector.close()


# --- the status page -----------------------------------------------------------------------------

def test_the_status_page_is_rendered_once_per_snapshot_change(serve):
    snapshot = snapshot_of(checks=2000)
    served = serve(snapshot=snapshot)
    status, _, first = served.get("/")
    assert status == 200 and b"host-1999" in first
    time.sleep(1.1)  # the page says when it was rendered, to the second
    assert served.get("/")[2] == first
    snapshot.record(Result("icmp", time.time(), 0.01, checks=[Check("icmp", "host-new", State.OK, "up")]))
    changed = served.get("/")[2]
    assert b"host-new" in changed and b"host-1999" not in changed


# --- basic auth ------------------------------------------------------------------------------------

def _web_config(tmp_path, text: str) -> WebConfig:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return load_web_config(path)


@pytest.mark.parametrize("hashed", ["''", "hunter2", "'$2y$10$short'", "'$2y$99$" + "a" * 53 + "'",
                                    "'$1$" + "a" * 56 + "'"])
def test_a_user_whose_hash_is_not_bcrypt_is_refused_at_start_with_its_place(tmp_path, hashed):
    with pytest.raises(ConfigError) as err:
        _web_config(tmp_path, f"basic_auth_users:\n  prometheus: $2y$04$" + "a" * 53 + f"\n  alice: {hashed}\n")
    assert str(err.value).startswith(f"{tmp_path / 'web.yml'}:3: basic_auth_users.alice: expected a bcrypt hash")
    assert hashed.strip("'") not in str(err.value) or hashed == "''"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_unknown_users_and_the_password_decoy_get_nowhere(serve, tmp_path):
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(5)).decode()
    other = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()
    web = _web_config(tmp_path, f"basic_auth_users:\n  prometheus: '{hashed}'\n  ops: '{other}'\n")
    served = serve(web)
    for user in ("prometheus", "nobody", ""):
        assert served.get(headers={"Authorization": basic(user, "decoy")})[0] == 401
        assert served.get("/-/reload", {"Authorization": basic(user, "decoy")}, method="POST")[0] == 401
    assert served.reloads == 0
    assert served.get(headers={"Authorization": basic("prometheus", "right")})[0] == 200
    assert served.get("/-/reload", {"Authorization": basic("prometheus", "right")}, method="POST")[0] == 200
    assert served.reloads == 1
    # unknown users are checked against a hash as costly as the costliest user's
    assert BasicAuth(web.basic_auth_users)._decoy.startswith(b"$2b$05$")


def test_the_success_cache_tells_user_from_password():
    auth = BasicAuth({"a": bcrypt.hashpw(b"b\0c", bcrypt.gensalt(4)).decode()})
    assert auth.allows(basic("a", "b\0c"))
    assert not auth.allows(basic("a\0b", "c"))  # same bytes joined with \0, another user


def test_a_password_longer_than_bcrypt_takes_is_refused_with_an_answer(serve, tmp_path):
    hashed = bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode()
    web = _web_config(tmp_path, f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    assert serve(web).get(headers={"Authorization": basic("prometheus", "x" * 100)})[0] == 401


# --- TLS ------------------------------------------------------------------------------------------------

def tls12_client(certificate, ciphers: str, curve: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate / "agent.crt"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers + ":@SECLEVEL=0")
    if curve:
        context.set_ecdh_curve(curve)
    return context


def handshake(port: int, context: ssl.SSLContext) -> str | None:
    """The cipher the server chose, or None when it refused the handshake."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.cipher()[0]
    except ssl.SSLError:
        return None


def test_tls12_offers_only_forward_secret_aead_suites_by_default(serve, certificate):
    web = _web_config(certificate, "tls_server_config:\n  cert_file: agent.crt\n  key_file: agent.key\n")
    served = serve(web)
    for refused in ("AES128-GCM-SHA256", "AES256-SHA", "AES128-SHA", "ECDHE-RSA-AES128-SHA",
                    "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA256"):
        assert handshake(served.port, tls12_client(certificate, refused)) is None, refused
    for accepted in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"):
        assert handshake(served.port, tls12_client(certificate, accepted)) == accepted
    assert served.get("/healthz", context=ssl.create_default_context(cafile=str(certificate / "agent.crt")))[0] == 200


def test_a_tls_handshake_trickled_a_byte_at_a_time_is_cut_at_the_deadline(serve, certificate, monkeypatch):
    monkeypatch.setattr(http_server, "HEADER_TIMEOUT", 2.0)
    served = serve(_web_config(certificate, "tls_server_config:\n  cert_file: agent.crt\n  key_file: agent.key\n"))
    client, outgoing = ssl.create_default_context(), ssl.MemoryBIO()
    with pytest.raises(ssl.SSLWantReadError):
        client.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="127.0.0.1").do_handshake()
    hello = outgoing.read()  # a real ClientHello, sent one byte every 0.2 s
    with connect(served.port) as sock:
        sent, deadline = 0, time.monotonic() + 10
        try:
            while sent < len(hello) and time.monotonic() < deadline:
                sock.sendall(hello[sent:sent + 1])
                sent += 1
                time.sleep(0.2)
        except OSError:  # reset by the server: cut
            pass
        assert closed_by_server(sock, timeout=10) and sent < len(hello)
    assert served.get("/healthz", context=ssl.create_default_context(cafile=str(certificate / "agent.crt")))[0] == 200


NODE_EXPORTER_STYLE = """\
tls_server_config:
  cert_file: agent.crt
  key_file: agent.key
  min_version: TLS12
  cipher_suites:
    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    - TLS_AES_128_GCM_SHA256
  prefer_server_cipher_suites: true
  curve_preferences: [CurveP384, CurveP256]
http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
"""


def test_a_node_exporter_web_config_with_suites_and_curves_loads_and_holds(serve, certificate):
    web = _web_config(certificate, NODE_EXPORTER_STYLE)
    served = serve(web)
    both = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
    assert handshake(served.port, tls12_client(certificate, both)) == "ECDHE-RSA-AES256-GCM-SHA384"  # server's order
    assert handshake(served.port, tls12_client(certificate, "ECDHE-RSA-CHACHA20-POLY1305")) is None  # not listed
    assert handshake(served.port, tls12_client(certificate, both, curve="secp384r1")) is not None
    assert handshake(served.port, tls12_client(certificate, both, curve="prime256v1")) is None
    status, headers, _ = served.get("/healthz", context=ssl.create_default_context(
        cafile=str(certificate / "agent.crt")))
    assert status == 200 and headers["X-Frame-Options"] == "deny"


def test_node_exporter_loads_the_same_web_config(certificate):
    from tests.peers import Peer

    binary = "/usr/bin/prometheus-node-exporter"
    path = certificate / "web.yml"
    path.write_text(NODE_EXPORTER_STYLE)
    port = free_port()
    peer = Peer([binary, f"--web.config.file={path}", f"--web.listen-address=127.0.0.1:{port}",
                 "--collector.disable-defaults"], certificate / "node_exporter.log")
    try:
        context = tls12_client(certificate, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
        peer.wait_http(f"http://127.0.0.1:{port}/")  # a TLS port answers plain HTTP with 400
        # Go (since 1.17) orders suites itself, whatever prefer_server_cipher_suites says
        assert handshake(port, context) in ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256")
        assert handshake(port, tls12_client(certificate, "ECDHE-RSA-CHACHA20-POLY1305")) is None
        assert handshake(port, tls12_client(certificate, "ECDHE-RSA-AES128-GCM-SHA256", curve="prime256v1")) \
            is not None
    finally:
        peer.stop()


def test_prefer_client_cipher_suites_lets_the_client_choose(certificate):
    web = _web_config(certificate, NODE_EXPORTER_STYLE.replace("prefer_server_cipher_suites: true",
                                                                "prefer_server_cipher_suites: false"))
    context = ssl_context(web.tls_server_config)
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE


def test_unknown_suite_and_curve_names_are_located_errors(certificate):
    for good, bad, key in (("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_SHA", "cipher_suites"),
                           ("CurveP256", "CurveP224", "curve_preferences")):
        text = NODE_EXPORTER_STYLE.replace(good, bad)
        with pytest.raises(ConfigError, match=f"web.yml:\\d+: tls_server_config.{key}"):
            _web_config(certificate, text)


# --- headers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ['X-Test: "a\\r\\nSet-Cookie: session=x"', 'X-Test: "a\\nb"',
                                    '"X-Test\\r\\nSet-Cookie": x', '"Bad Name": x'])
def test_a_configured_header_that_would_split_the_response_is_refused(tmp_path, header):
    with pytest.raises(ConfigError, match=r"web.yml:3: http_server_config.headers.*holds no CR, LF"):
        _web_config(tmp_path, f"http_server_config:\n  headers:\n    {header}\n")


def test_the_server_header_names_no_python_version(serve):
    status, headers, _ = serve().get("/healthz")
    assert status == 200 and headers["Server"] == "egov-agent"
