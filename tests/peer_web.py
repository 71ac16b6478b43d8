"""Peers for the tcp, http and dns probe tests, each on its own loopback address.

- `web`: the standard library's http.server over TLS, with a chain made here (root CA,
  intermediate, leaf) whose certificates expire on different days, and a second leaf,
  already expired, chosen by SNI (`expired.example`); the example province's agency
  websites as virtual hosts, each its own leaf (chosen by SNI) and page (by Host); the same
  handler over plain HTTP;
  and the liars a real server will not play: a listener that accepts and never answers,
  one that sends an SSH banner whatever it is asked, one that cuts an HTTP answer short,
  and a UDP port that swallows DNS queries. All run in one process, started once per
  session and stopped by its PID.
- `dnsmasq`: Debian's dnsmasq answering for portal.example from the command line only.

Run as `python -m tests.peer_web DIR` it serves (certificates from DIR). The test modules load
it with `pytest_plugins`, so each session fixture starts once for all of them, and reach
everything through the fixtures (importing it as well would start them once per module).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from agent.checks import State
from agent.collector import metric_index
from agent.context import Context
from agent.inventory import load_inventory
from agent.snapshot import render
from tests.helpers import samples
from tests.peers import Peer, require

# Each listener on a few loopback addresses, one port for all of them: an inventory wants
# each target at an address of its own, and a test wants several targets per listener.
ADDRESSES = {
    "https": [f"127.44.1.{i}" for i in range(1, 9)],
    "http": [f"127.44.2.{i}" for i in range(1, 6)],
    "silent": ["127.44.3.1", "127.44.3.2"],
    "banner": ["127.44.4.1", "127.44.4.2", "127.44.4.3"],
    "truncated": ["127.44.5.1"],
}
REFUSED = "127.44.9.1"  # nothing listens here
DNS_ADDRESSES = [f"127.53.0.{i}" for i in range(1, 9)]
SOA_SERIAL = 2025112201
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
PAGE_TITLE = "Cổng Dịch vụ công tỉnh"
LEGACY_PAGE = "<html><p>Sở Thông tin và Truyền thông</p></html>\n".encode() * 20
# inventory/example's web-sites-01 hosts these agencies' websites: name -> (agency, days its leaf has left)
AGENCY_SITES = {"sotuphap.tinhmau.example": ("Sở Tư pháp", 40), "soyte.tinhmau.example": ("Sở Y tế", 10),
                "sogiaoduc.tinhmau.example": ("Sở Giáo dục và Đào tạo", 3)}

# An agency's home page as such portals are written: a CDN stylesheet and an analytics script
# (foreign, but not links), links to its own domain and to national gov.vn services, and words
# near the gambling terms that must not match: "nhà cải" (not "nhà cái"), "bán cá" (not "bắn
# cá"), "đánh bại" (not "đánh bài"), "alphabetical", "between", "timeslot". {visits} changes on
# every request, as a visit counter does.
AGENCY_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>Cổng thông tin điện tử Sở Nông nghiệp tỉnh</title>
<meta name="description" content="Cổng thông tin điện tử Sở Nông nghiệp và Phát triển nông thôn">
<link rel="stylesheet" href="https://cdn.jsdelivr.example/npm/bootstrap.min.css">
<script async src="https://www.googletagmanager.example/gtag/js?id=G-XXXX"></script>
<script>window.dataLayer = window.dataLayer || []; var label = "slot casino bet";</script>
<style>.bet-row { color: #333 }</style></head>
<body><nav><a href="/">Trang chủ</a> <a href="/thu-tuc-hanh-chinh">Thủ tục hành chính</a>
<a href="https://www.portal.example/tin-tuc">Tin tức</a> <a href="https://dichvucong.gov.vn/p/home/dvc-trang-chu.html">
Cổng Dịch vụ công quốc gia</a> <a href="mailto:vanthu@portal.example">Liên hệ</a></nav>
<main><h1>Cổng thông tin điện tử Sở Nông nghiệp và Phát triển nông thôn</h1>
<p>Hỗ trợ hộ nghèo sửa chữa nhà cải thiện điều kiện sống; hướng dẫn bán cá tra xuất khẩu;
đội tuyển của tỉnh đánh bại đội bạn tại hội thao. Danh mục thủ tục hành chính xếp theo thứ tự
chữ cái (alphabetical), between 7:30 and 17:00; book a timeslot for the one-stop office.</p>
<p>Lượt truy cập: {visits}</p></main></body></html>
"""
# The same page with gambling links in a hidden block, as the 2023 injections wrote them.
INJECTED_LINKS = """<div style="display:none"><a href="https://fb88-vn.example/">Nhà cái uy tín FB88</a>
<a href="https://nohu.example/">nổ hũ đổi thưởng</a></div>"""
GAMBLING_SITE = "https://8xbet-vn.example/"  # where /redirected sends visitors from Google
# An injection written without diacritics, to everyone.
INJECTED_BARE = '<p><a href="https://w88.example/">nha cai W88, tai xiu online</a></p>'


# ---- the certificates -------------------------------------------------------------------------

@dataclass
class Pki:
    ca_file: Path  # the root, what a probe verifies against
    not_after: dict[str, int]  # root, intermediate, leaf, expired -> Unix time


def make_pki(directory: Path) -> Pki:
    """root (10 years) -> intermediate (20 days) -> leaf portal.example (40 days), an expired leaf, and
    one leaf per agency site."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)

    def issue(name, key, issuer_name, issuer_key, not_before, not_after, path_length=None, dns_names=()):
        # path_length: how many CAs may sit below this one; None for a leaf
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(issuer_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=path_length is not None, path_length=path_length),
                                  critical=True))
        if dns_names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]),
                                            critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def pem(*certs) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def key_pem(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    keys = {name: ec.generate_private_key(ec.SECP256R1())
            for name in ("root", "intermediate", "leaf", "expired", *AGENCY_SITES)}
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Egov Test Root CA")])
    root = issue("Egov Test Root CA", keys["root"], root_name, keys["root"], now - 60 * day, now + 3650 * day, 1)
    intermediate = issue("Egov Test Intermediate CA", keys["intermediate"], root.subject, keys["root"],
                         now - 60 * day, now + 20 * day, 0)
    leaf = issue("portal.example", keys["leaf"], intermediate.subject, keys["intermediate"],
                 now - day, now + 40 * day, dns_names=["portal.example", "www.portal.example"])
    expired = issue("expired.example", keys["expired"], intermediate.subject, keys["intermediate"],
                    now - 30 * day, now - 2 * day, dns_names=["expired.example"])
    sites = {site: issue(site, keys[site], intermediate.subject, keys["intermediate"], now - day, now + days * day,
                         dns_names=[site]) for site, (_, days) in AGENCY_SITES.items()}
    (directory / "root.pem").write_bytes(pem(root))
    for name, cert in (("leaf", leaf), ("expired", expired), *sites.items()):
        (directory / f"{name}.pem").write_bytes(pem(cert, intermediate))  # what a server sends: leaf first
        (directory / f"{name}.key").write_bytes(key_pem(keys[name]))
    return Pki(directory / "root.pem", {name: int(cert.not_valid_after_utc.timestamp()) for name, cert in
                                        (("root", root), ("intermediate", intermediate), ("leaf", leaf),
                                         ("expired", expired), *sites.items())})


# ---- the server process -----------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked answers need 1.1
    visits = 0  # the agency page's visit counter

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        agency = AGENCY_SITES.get(self.headers.get("Host", "").rsplit(":", 1)[0])
        if self.path == "/" and agency:  # a virtual host: its own page
            self.answer(200, f"<!doctype html><title>Cổng thông tin điện tử {agency[0]}</title>\n".encode())
        elif self.path == "/":
            sni = getattr(self.connection, "sni", None)
            self.answer(200, f"<!doctype html><title>{PAGE_TITLE}</title>\nhost={self.headers['Host']}\n"
                             f"sni={sni}\n".encode())
        elif self.path == "/legacy":  # as an old CMS answers: no length, the end of the body is the close
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(LEGACY_PAGE)
            self.close_connection = True
        elif self.path == "/redirected" and "google." in self.headers.get("Referer", ""):
            self.answer(302, b"", Location=GAMBLING_SITE)  # visitors from a search result are sent away
        elif self.path in ("/agency", "/cloaked", "/injected", "/redirected"):
            Handler.visits += 1
            page = AGENCY_PAGE.replace("{visits}", str(Handler.visits))
            crawler = "Googlebot" in self.headers.get("User-Agent", "") or "google." in self.headers.get("Referer", "")
            if self.path == "/injected" or (self.path == "/cloaked" and crawler):
                page = page.replace("</main>", (INJECTED_BARE if self.path == "/injected" else INJECTED_LINKS)
                                    + "</main>")
            self.answer(200, page.encode())
        elif self.path == "/moved":
            self.answer(301, b"moved\n", Location="/")
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for chunk in (b"<html>", "Một cửa ".encode() * 100, b"</html>\n"):
                    self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        else:
            self.answer(404, b"not found\n")

    def answer(self, status: int, body: bytes, **headers):
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body)),
                            **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def _tls_context(directory: Path) -> ssl.SSLContext:
    contexts = {}
    for name in ("leaf", "expired", *AGENCY_SITES):
        contexts[name] = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        contexts[name].load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")

    def by_sni(sock, server_name, _context):
        sock.sni = server_name  # echoed in the page, so a test sees what the probe sent
        if server_name == "expired.example":
            sock.context = contexts["expired"]
        elif server_name in AGENCY_SITES:
            sock.context = contexts[server_name]

    contexts["leaf"].sni_callback = by_sni
    return contexts["leaf"]


def _on_every_address(kind: str, bind) -> int:
    """bind(address, port) on each of the kind's addresses, the first with port 0; the port."""
    first, *others = ADDRESSES[kind]
    port = bind(first, 0)
    for address in others:
        bind(address, port)
    return port


def _liar(answer):
    """bind() for a TCP listener that hands each connection to `answer` in a thread."""
    def bind(address: str, port: int) -> int:
        listener = socket.create_server((address, port))

        def serve():
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1]
    return bind


def _http_server(context: ssl.SSLContext | None):
    def bind(address: str, port: int) -> int:
        server = ThreadingHTTPServer((address, port), Handler)
        if context:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]
    return bind


def _swallow(address: str, port: int) -> int:
    """bind() for a UDP port where DNS queries go in and nothing comes out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))

    def serve():
        while True:
            sock.recvfrom(4096)

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


def _silent(conn: socket.socket) -> None:
    time.sleep(3600)  # accepts, never reads, never answers


def _banner(conn: socket.socket) -> None:
    conn.sendall(SSH_BANNER)
    while conn.recv(4096):  # whatever it is asked, it answers nothing more
        pass


def _truncated(conn: socket.socket) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<html>short")
    conn.close()


def serve(directory: Path) -> None:
    ports = {"https": _on_every_address("https", _http_server(_tls_context(directory))),
             "http": _on_every_address("http", _http_server(None)),
             "silent": _on_every_address("silent", _liar(_silent)),
             "banner": _on_every_address("banner", _liar(_banner)),
             "truncated": _on_every_address("truncated", _liar(_truncated)),
             "silent_udp": _on_every_address("silent", _swallow)}
    staging = directory / "ports.json.new"
    staging.write_text(json.dumps(ports))
    staging.rename(directory / "ports.json")  # the fixture waits for this file
    threading.Event().wait()


# ---- the fixtures -----------------------------------------------------------------------------

@dataclass
class Web:
    pki: Pki
    ports: dict[str, int]  # by kind: https, http, silent, banner, truncated, silent_udp
    refused = REFUSED
    page_title = PAGE_TITLE
    legacy_page = LEGACY_PAGE
    agency_page = AGENCY_PAGE
    agency_sites = AGENCY_SITES

    def at(self, kind: str, index: int = 0) -> tuple[str, int]:
        """(address, port) of the kind's listener number `index`."""
        return ADDRESSES[kind.removesuffix("_udp")][index], self.ports[kind]


def _wait_for(path: Path, peer: Peer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if peer.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"peer not ready: {peer.output()}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    directory = tmp_path_factory.mktemp("web")
    pki = make_pki(directory)
    peer = Peer([sys.executable, "-m", "tests.peer_web", str(directory)], directory / "web.log",
                cwd=str(Path(__file__).resolve().parent.parent))
    try:
        _wait_for(directory / "ports.json", peer)
        yield Web(pki, json.loads((directory / "ports.json").read_text()))
    finally:
        peer.stop()


@dataclass
class Dns:
    addresses: list[str]  # one server on each, for targets of their own
    port: int
    soa_serial = SOA_SERIAL


def _free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def dnsmasq(tmp_path_factory):
    """dnsmasq answering from its command line only: the zone example (SOA, NS, MX, TXT,
    portal.example A 127.0.0.5), NXDOMAIN for any other name in it, REFUSED elsewhere."""
    import dns.exception
    import dns.message
    import dns.query

    directory = tmp_path_factory.mktemp("dnsmasq")
    port = _free_udp_port(DNS_ADDRESSES[0])
    peer = Peer([require("dnsmasq"), "--no-daemon", f"--port={port}", "--bind-interfaces",
                 *(f"--listen-address={address}" for address in DNS_ADDRESSES),
                 "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--log-queries", "--log-facility=-",
                 "--local=/example/", f"--auth-server=ns.example,{DNS_ADDRESSES[0]}", "--auth-zone=example",
                 f"--auth-soa={SOA_SERIAL},hostmaster.example", "--host-record=portal.example,127.0.0.5",
                 "--mx-host=example,mail.example,10", "--txt-record=portal.example,v=spf1 -all"],
                directory / "dnsmasq.log")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                dns.query.udp(dns.message.make_query("portal.example", "A"), DNS_ADDRESSES[0], timeout=0.2,
                              port=port)
                break
            except (dns.exception.Timeout, OSError):
                if peer.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dnsmasq not ready: {peer.output()}") from None
        yield Dns(DNS_ADDRESSES, port)
    finally:
        peer.stop()


# ---- running a probe against them -----------------------------------------------------------

@dataclass
class Run:
    kind: str  # the probe's: the check label of a host's one check of the kind
    metrics: dict  # (name, sorted labels) -> value, as a scrape shows them
    checks: dict  # target -> Check (the target's one check), and (target, check name) -> Check
    text: bytes  # the exposition

    def lint(self) -> list[str]:
        """What promtool check metrics finds wrong in the exposition."""
        result = subprocess.run([require("promtool"), "check", "metrics"], input=self.text, capture_output=True)
        return (result.stdout + result.stderr).decode().splitlines()

    def get(self, name: str, target: str, **labels: str) -> float | None:
        labels = {"target": target, "site": "dc", "check": self.kind, **labels}
        return self.metrics.get((name, tuple(sorted(labels.items()))))

    def assert_failed(self, target: str, reason: str, summary: str) -> None:
        """The probe failed on the target once, for `reason`, with `summary` in the check's own summary
        after the reason; the check is CRITICAL, or UNKNOWN when the agent's own configuration is the
        reason (it says nothing of the target)."""
        assert self.get(f"egov_{self.kind}_up", target) == 0
        assert self.get(f"egov_{self.kind}_failures_total", target, reason=reason) == 1
        check = self.checks[target]
        assert check.summary.startswith(f"{reason}: ") and summary in check.summary, check.summary
        assert check.state == (State.UNKNOWN if reason == "config" else State.CRITICAL)


def _run_probe(cls, directory: Path, hosts: dict[str, dict], probe_timeout: float = 2.0, **settings) -> Run:
    """Write an inventory with `hosts` (name -> host variables) at one site, run the probe once
    with the collector's `settings`."""
    inventory = {"province": {"vars": {"egov_site_type": "province"}, "children": {
        "dc": {"vars": {"egov_site_type": "datacenter"}, "hosts": hosts}}}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    probe = cls(cls.Settings(probe_timeout=probe_timeout, timeout=20, interval=30, **settings),
                Context(inventory=load_inventory(directory)))
    families = asyncio.run(probe.collect())
    checks = list(probe.checks(metric_index(families)))
    return Run(cls.name, samples(families), {**{(c.target, c.name): c for c in checks},
                                             **{c.target: c for c in checks if c.name == c.kind}}, render(families)[0])


@pytest.fixture(scope="session")
def run_probe():
    """run_probe(ProbeClass, directory, hosts, probe_timeout=2.0, **settings) -> Run."""
    return _run_probe


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
