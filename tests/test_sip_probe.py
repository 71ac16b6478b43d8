"""The SIP OPTIONS probe: the pure message code on kamailio's captured answers, then the probe
against a real kamailio (healthy, 503, silent) over UDP, TCP and TLS, and against small real
listeners for what kamailio will not do (refuse, answer a stray transaction, hang up, lie)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.checks import State
from agent.context import Context
from agent.inventory import load_inventory
from agent.schema import build
from agent.snapshot import render
from agent.yamlfile import ConfigError
from collectors import _sip_message as sip
from collectors.sip import SipCheck, SipProbe, SipSettings
from tests.peers import free_port, require

pytest_plugins = ("tests.peer_sip",)  # the real peers this module's tests use

# Captured from kamailio 5.6.3 answering an OPTIONS with branch z9hG4bKabc123, Call-ID cid-1@127.0.0.1
TRYING = (b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 127.0.0.1:54910;branch=z9hG4bKabc123;rport=54910;"
          b"received=127.0.0.1\r\nTo: <sip:127.0.0.1:15060>\r\nFrom: <sip:egov-agent@127.0.0.1>;tag=f00\r\n"
          b"Call-ID: cid-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nServer: kamailio (5.6.3 (x86_64/linux))\r\n"
          b"Content-Length: 0\r\n\r\n")
OK = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:56262;branch=z9hG4bKabc123;rport=56262;received=127.0.0.1"
      b"\r\nTo: <sip:127.0.0.1:15060>;tag=a45363010201c12697c26728a1ea42a4.5b8fc61a\r\n"
      b"From: <sip:egov-agent@127.0.0.1>;tag=f00\r\nCall-ID: cid-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
      b"Server: kamailio (5.6.3 (x86_64/linux))\r\nContent-Length: 0\r\n\r\n")
UNAVAILABLE = (b"SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/UDP 127.0.0.1:55418;branch=z9hG4bKabc123;"
               b"rport=55418;received=127.0.0.1\r\nTo: <sip:127.0.0.1:15061>;tag=a45363010201c12697c26728a1ea42a4"
               b".78612474\r\nFrom: <sip:egov-agent@127.0.0.1>;tag=f00\r\nCall-ID: cid-1@127.0.0.1\r\n"
               b"CSeq: 1 OPTIONS\r\nServer: egov test peer (kamailio 5.6) \"meeting\troom\" with a deliberately "
               b"long product string to cut\r\nContent-Length: 0\r\n\r\n")
ASKED = sip.Request("z9hG4bKabc123", "cid-1@127.0.0.1", "f00")


# --- the pure message code -------------------------------------------------------------------

def test_parses_kamailios_answers():
    trying, ok, unavailable = map(sip.parse_response, (TRYING, OK, UNAVAILABLE))
    assert (trying.code, trying.provisional) == (100, True)
    assert (ok.code, ok.reason, ok.provisional) == (200, "OK", False)
    assert (unavailable.code, unavailable.reason) == (503, "Service Unavailable")
    assert ok.branch == "z9hG4bKabc123" and ok.header("call-id") == "cid-1@127.0.0.1"
    assert all(r.answers(ASKED) for r in (trying, ok, unavailable))
    assert ok.server() == "kamailio (5.6.3 (x86_64/linux))"
    # tab turned into a space, cut to one bounded label value
    assert unavailable.server() == 'egov test peer (kamailio 5.6) "meeting room" with a deliberately'
    assert len(unavailable.server()) == sip.SERVER_LABEL_LENGTH


@pytest.mark.parametrize("other", [
    sip.Request("z9hG4bKother", "cid-1@127.0.0.1", "f00"),  # another transaction
    sip.Request("z9hG4bKabc123", "cid-2@127.0.0.1", "f00"),  # another call
    sip.Request("z9hG4bKabc123", "cid-1@127.0.0.1", "f00", cseq=2),  # another request of the call
])
def test_a_response_answers_only_its_own_transaction(other):
    assert not sip.parse_response(OK).answers(other)


def test_compact_headers_folding_and_user_agent():
    text = (b"SIP/2.0 404 Not Found\r\nv: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx, SIP/2.0/UDP 192.0.2.2;"
            b"branch=z9hG4bKy\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nUser-Agent: Polycom/6.2\r\n  RealPresence\r\n"
            b"l: 0\r\n\r\n")
    response = sip.parse_response(text)
    assert response.branch == "z9hG4bKx"  # the topmost Via only
    assert response.header("call-id") == "abc"
    assert response.server() == "Polycom/6.2 RealPresence"
    assert sip.phrase(404) == "Not Found" and sip.phrase(499) == "Client Error"


@pytest.mark.parametrize("garbage", [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"SIP/2.0 99 Odd\r\n\r\n",
                                     b"SIP/2.0 200 OK\r\nno colon here\r\n\r\n", b"\x16\x03\x01\x02\x00"])
def test_what_is_not_a_sip_response_is_an_error(garbage):
    with pytest.raises(sip.SipParseError):
        sip.parse_response(garbage)


def test_stream_framing_by_content_length():
    stream = b"\r\n\r\n" + TRYING + OK  # kamailio may send both in one segment; CRLF keep-alives first
    messages, rest = sip.split_stream(stream[:-5])
    assert messages == [TRYING] and rest == OK[:-5]
    messages, rest = sip.split_stream(stream)
    assert messages == [TRYING, OK] and rest == b""
    body = b"SIP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nv=0\n"
    assert sip.split_stream(body + b"SIP/2.0") == ([body], b"SIP/2.0")
    with pytest.raises(sip.SipParseError, match="without Content-Length"):
        sip.split_stream(b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n")


def test_the_request_is_a_proper_options():
    request = sip.Request.new("127.0.0.1")
    text = sip.build_options(request, "tcp", ("::1", 5060), ("127.0.0.1", 40000), "egov-agent/test").decode()
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    assert lines[0] == "OPTIONS sip:[::1]:5060 SIP/2.0" and body == ""
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Via"] == f"SIP/2.0/TCP 127.0.0.1:40000;branch={request.branch};rport"
    assert request.branch.startswith("z9hG4bK") and len(request.branch) > 7 + 8
    assert headers["From"].endswith(f";tag={request.from_tag}")
    assert headers["Call-ID"] == request.call_id and headers["CSeq"] == "1 OPTIONS"
    assert headers["Max-Forwards"] == "70" and headers["Content-Length"] == "0"
    assert sip.Request.new("h").branch != sip.Request.new("h").branch


def test_settings_and_check_are_strict():
    with pytest.raises(ConfigError, match="codes"):
        build(SipCheck, {"codes": [100]})
    with pytest.raises(ConfigError, match="transport"):
        build(SipCheck, {"transport": "sctp"})
    with pytest.raises(ConfigError, match="t1"):
        build(SipSettings, {"t1": "5s"})
    assert build(SipCheck, {"codes": [200, 405]}).codes == [200, 405]


# --- against kamailio ------------------------------------------------------------------------

def inventory(tmp_path, hosts: dict[str, str]):
    lines = ["province:", "  vars: {egov_site_type: province}", "  hosts:"]
    lines += [f"    {name}: {{{spec}, egov_role: vc_endpoint}}" for name, spec in hosts.items()]
    (tmp_path / "hosts.yml").write_text("\n".join(lines) + "\n")
    return load_inventory(tmp_path)


def run(probe) -> tuple[dict, dict]:
    """(samples by (name, target, extra labels), checks by target) of one collect, linted by promtool."""
    text = render(asyncio.run(probe.collect()))[0]
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")
    text = text.decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = dict(s.labels)
            target = labels.pop("target")
            labels.pop("site")
            assert labels.pop("check") == "sip"
            samples[(s.name, target, tuple(sorted(labels.items())))] = s.value
    return samples, {c.target: c for c in probe.checks({})}


def sip_host(address: str, port: int, transport: str = "udp", extra: str = "") -> str:
    return f"ansible_host: {address}, egov_checks: {{sip: {{transport: {transport}, port: {port}{extra}}}}}"


def test_healthy_degraded_silent_and_refused_endpoints(kamailio, tmp_path):  # noqa: F811
    port = kamailio.ports
    hosts = {
        "udp-ok": sip_host("127.50.60.1", port["127.50.60.1"]),
        "tcp-ok": sip_host("127.50.60.11", port["127.50.60.11"], "tcp"),
        "tls-ok": sip_host("127.50.60.21", kamailio.tls_port, "tls"),
        "udp-503": sip_host("127.50.60.2", port["127.50.60.2"]),
        "tcp-503": sip_host("127.50.60.12", port["127.50.60.12"], "tcp"),
        "udp-503-accepted": sip_host("127.50.60.22", port["127.50.60.22"], extra=", codes: [200, 503]"),
        "udp-silent": sip_host("127.50.60.3", port["127.50.60.3"]),
        "tcp-silent": sip_host("127.50.60.13", port["127.50.60.13"], "tcp"),
        "udp-refused": sip_host("127.50.60.4", free_port("127.50.60.4")),
        "tcp-refused": sip_host("127.50.60.14", free_port("127.50.60.14"), "tcp"),
        "tls-on-plain-tcp": sip_host("127.50.60.31", port["127.50.60.31"], "tls"),
    }
    probe = SipProbe(SipSettings(probe_timeout=2, timeout=5, interval=10), Context(inventory(tmp_path, hosts)))
    started = time.monotonic()
    samples, checks = run(probe)
    assert time.monotonic() - started < 4.5  # probed at once, each within its timeout

    def value(name, target, **labels):
        return samples.get((f"egov_sip_{name}", target, tuple(sorted(labels.items()))))

    for target in ("udp-ok", "tcp-ok", "tls-ok"):
        assert value("up", target) == 1 and value("response_code", target) == 200, target
        assert 0 < value("round_trip_seconds", target) < 2
        assert value("server_info", target, server=sip.parse_response(UNAVAILABLE).server()) == 1
        assert checks[target].state == State.OK and checks[target].summary.startswith("200 OK in ")
    assert value("retransmissions", "udp-ok") == 0 and value("connect_seconds", "udp-ok") is None
    assert value("connect_seconds", "tcp-ok") > 0 and value("connect_seconds", "tls-ok") > 0
    for target in ("udp-503", "tcp-503"):
        # it answered: up, with the code; the check, not the probe, calls it critical
        assert value("up", target) == 1 and value("response_code", target) == 503
        assert (checks[target].state, checks[target].summary) == (State.CRITICAL, "503 Service Unavailable")
    assert checks["udp-503-accepted"].state == State.OK
    for target, reason, says in (("udp-silent", "timeout", "timeout"), ("tcp-silent", "timeout", "timeout"),
                                 ("udp-refused", "connect", "connection refused"),
                                 ("tcp-refused", "connect", "connection refused"),
                                 # kamailio waits for a SIP message that a ClientHello never completes
                                 ("tls-on-plain-tcp", "timeout", "timeout")):
        assert value("up", target) == 0 and value("response_code", target) is None, target
        assert value("failures_total", target, reason=reason) == 1, target
        assert checks[target].state == State.CRITICAL and says in checks[target].summary, target


def test_slow_answers_warn_by_the_checks_thresholds(kamailio, tmp_path):  # noqa: F811
    hosts = {"slow": sip_host("127.50.60.1", kamailio.ports["127.50.60.1"], extra=", time_warning: 0s"),
             "very-slow": sip_host("127.50.60.11", kamailio.ports["127.50.60.11"], "tcp",
                                   ", time_warning: 0s, time_critical: 0s")}
    probe = SipProbe(SipSettings(probe_timeout=2, timeout=5, interval=10), Context(inventory(tmp_path, hosts)))
    _, checks = run(probe)
    assert checks["slow"].state == State.WARNING and checks["very-slow"].state == State.CRITICAL


# --- against small real listeners ------------------------------------------------------------

class UdpPeer:
    """A UDP socket on its own loopback address that records requests and answers with `reply(n, request)`."""

    def __init__(self, address: str, reply=lambda n, request: []):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.address, self.port = self.sock.getsockname()
        self.reply, self.received, self.running = reply, [], True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.received.append(data)
            for answer in self.reply(len(self.received), data):
                self.sock.sendto(answer, peer)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def answer(request: bytes, status: str, branch: str | None = None) -> bytes:
    """A response to `request` copying its Via, From, To, Call-ID and CSeq, as a UAS does."""
    lines = request.decode().split("\r\n")
    copied = [line for line in lines if line.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    if branch is not None:
        copied = [line.split(";branch=")[0] + f";branch={branch};rport" if line.startswith("Via") else line
                  for line in copied]
    return ("\r\n".join([f"SIP/2.0 {status}", *copied, "Content-Length: 0", "", ""])).encode()


def probe_one(tmp_path, spec: str, probe_timeout: float = 2.5):
    probe = SipProbe(SipSettings(probe_timeout=probe_timeout, timeout=5, interval=10),
                     Context(inventory(tmp_path, {"vc": spec})))
    samples, checks = run(probe)
    return {name[len("egov_sip_"):]: v for (name, _, labels), v in samples.items() if not labels}, checks["vc"]


def test_udp_retransmits_the_same_request_on_timer_e(tmp_path):
    peer = UdpPeer("127.50.60.5")
    try:
        values, check = probe_one(tmp_path, sip_host(peer.address, peer.port), probe_timeout=2.5)
    finally:
        peer.close()
    # T1 = 500 ms doubling: sent at 0, 0.5 and 1.5 s; the next would be at 3.5 s, after the timeout
    assert len(peer.received) == 3
    assert len(set(peer.received)) == 1  # a retransmission is the same request: same branch, same CSeq
    assert values["up"] == 0 and "timeout" in check.summary


def test_udp_skips_stray_and_provisional_answers(tmp_path):
    def reply(n, request):
        if n == 1:  # another transaction's final answer, then our 180: neither ends the transaction
            return [answer(request, "200 OK", branch="z9hG4bKsomeoneelse"), answer(request, "180 Ringing")]
        return [answer(request, "486 Busy Here")]

    peer = UdpPeer("127.50.60.6", reply)
    try:
        values, check = probe_one(tmp_path, sip_host(peer.address, peer.port))
    finally:
        peer.close()
    assert values["response_code"] == 486 and values["retransmissions"] == 1
    assert (check.state, check.summary) == (State.WARNING, "486 Busy Here")  # answers, but not with 200


class TcpPeer:
    """A TCP listener that reads one request, then says `said` (maybe nothing) and hangs up."""

    def __init__(self, address: str, said: bytes):
        self.sock = socket.create_server((address, 0))
        self.address, self.port = self.sock.getsockname()
        self.said = said
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65535)
            conn.sendall(self.said)

    def close(self):
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("transport, said, reason", [
    ("tcp", b"", "protocol"),  # hangs up
    ("tcp", TRYING, "protocol"),  # a provisional answer to another transaction, then hangs up
    ("tcp", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "parse"),
    ("tls", OK, "tls"),  # plain text where a TLS handshake should be
    ("tls", b"", "tls"),  # hangs up on the ClientHello
])
def test_stream_hang_ups_and_lies(tmp_path, transport, said, reason):
    peer = TcpPeer("127.50.60.15", said)
    try:
        values, check = probe_one(tmp_path, sip_host(peer.address, peer.port, transport))
    finally:
        peer.close()
    assert values["up"] == 0 and check.state == State.CRITICAL
    assert check.summary.startswith(f"{reason}: ")
