"""The http probe against a real HTTPS server (a CA, an intermediate and a leaf expiring on
different days), plain HTTP, and liars on loopback; the parsers on captured answer heads."""

from __future__ import annotations

import re

import pytest

from agent.checks import State
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors.http import HttpCheck, HttpProbe, body_framing, parse_chunk_size, parse_headers, parse_status_line
from tests.helpers import cases

pytest_plugins = ("tests.peer_web",)  # the real peers this module's tests use



def host(kind_address: tuple[str, int], url: str, **check) -> dict:
    address, port = kind_address
    return {"ansible_host": address, "egov_role": "web_server",
            "egov_checks": {"http": {"url": url.format(port=port), **check}}}


@pytest.fixture(scope="module")
def run(web, run_probe, tmp_path_factory):
    ca = str(web.pki.ca_file)
    hosts = {
        # Host and SNI are the URL's name, while the connection goes to the address
        "portal": host(web.at("https", 0), "https://portal.example:{port}/", ca_file=ca,
                       body=rf"{web.page_title}</title>\nhost=portal\.example:\d+\nsni=portal\.example\n",
                       cert_days_warning=21, cert_days_critical=7, time_warning=5, time_critical=9),
        "expired": host(web.at("https", 1), "https://expired.example:{port}/", ca_file=ca),
        "expired-unverified": host(web.at("https", 2), "https://expired.example:{port}/", tls_verify=False,
                                   cert_days_warning=21, cert_days_critical=7),
        "wrong-name": host(web.at("https", 3), "https://other.example:{port}/", ca_file=ca),
        "untrusted": host(web.at("https", 4), "https://portal.example:{port}/"),  # the system's CAs only
        "missing": host(web.at("https", 5), "https://portal.example:{port}/missing", ca_file=ca),
        "moved": host(web.at("https", 6), "https://portal.example:{port}/moved", ca_file=ca, status=301),
        "no-ca-file": host(web.at("https", 7), "https://portal.example:{port}/", ca_file="/nonexistent/ca.pem"),
        "chunked": host(web.at("http", 0), "http://portal.example:{port}/chunked", body="(Một cửa ){100}</html>"),
        "head": host(web.at("http", 1), "http://portal.example:{port}/", method="HEAD", time_warning=0),
        "wrong-body": host(web.at("http", 2), "http://portal.example:{port}/", body="Sở Y tế"),
        "tls-to-plain": host(web.at("http", 3), "https://portal.example:{port}/", ca_file=ca),
        "legacy": host(web.at("http", 4), "http://portal.example:{port}/legacy", body="Truyền thông</p></html>\n$"),
        "silent": host(web.at("silent", 0), "http://portal.example:{port}/"),
        "ssh": host(web.at("banner", 0), "http://portal.example:{port}/"),
        "ssh-over-tls": host(web.at("banner", 1), "https://portal.example:{port}/"),
        "truncated": host(web.at("truncated", 0), "http://portal.example:{port}/"),
        "refused": host((web.refused, web.ports["http"]), "http://portal.example:{port}/"),
    }
    return run_probe(HttpProbe, tmp_path_factory.mktemp("http"), hosts, probe_timeout=2.0)


def test_an_https_page_with_its_phases_and_its_chain(run, web):
    assert run.get("egov_http_up", "portal") == 1
    assert run.get("egov_http_status_code", "portal") == 200
    assert run.get("egov_http_body_bytes", "portal") > 100
    assert run.get("egov_http_tls_version_info", "portal", version="TLSv1.3") == 1
    assert run.get("egov_http_cert_expiry_timestamp_seconds", "portal") == web.pki.not_after["leaf"]
    # the intermediate expires before the leaf: the chain's expiry is the intermediate's
    assert run.get("egov_http_cert_chain_expiry_timestamp_seconds", "portal") == web.pki.not_after["intermediate"]
    phases = {p: run.get("egov_http_phase_duration_seconds", "portal", phase=p)
              for p in ("connect", "tls", "processing", "transfer")}
    assert all(seconds > 0 for seconds in phases.values()), phases
    assert sum(phases.values()) <= run.get("egov_http_duration_seconds", "portal")
    check = run.checks["portal"]  # 20 days left on the intermediate: under the 21-day warning
    assert check.state == State.WARNING
    assert check.summary.endswith(", a chain certificate expires in 20 days (the server's own expires in 40 days)")
    assert check.thresholds == {"warning": 21, "critical": 7} and 19.9 < check.value <= 20


def test_plain_http_chunked_and_head(run):
    assert run.get("egov_http_up", "chunked") == 1
    chunked = len(b"<html>") + len("Một cửa ".encode()) * 100 + len(b"</html>\n")
    assert run.get("egov_http_body_bytes", "chunked") == chunked
    assert run.get("egov_http_phase_duration_seconds", "chunked", phase="tls") == 0
    assert run.get("egov_http_cert_expiry_timestamp_seconds", "chunked") is None
    assert run.get("egov_http_tls_version_info", "chunked", version="TLSv1.3") is None
    assert run.checks["chunked"].state == State.OK and run.checks["chunked"].summary.startswith("status 200 in ")
    assert run.get("egov_http_status_code", "head") == 200 and run.get("egov_http_body_bytes", "head") == 0
    head = run.checks["head"]  # any time is at or above a 0 s warning
    assert head.state == State.WARNING and head.thresholds == {"warning": 0} and head.value > 0


def test_a_body_that_ends_with_the_connection(run, web):
    assert run.get("egov_http_up", "legacy") == 1
    assert run.get("egov_http_body_bytes", "legacy") == len(web.legacy_page)


def test_bodies_are_read_up_to_the_limit(web, run_probe, tmp_path):
    ca = str(web.pki.ca_file)
    limited = run_probe(HttpProbe, tmp_path, {
        "portal": host(web.at("https", 0), "https://portal.example:{port}/", ca_file=ca),
        "chunked": host(web.at("http", 0), "http://portal.example:{port}/chunked"),
        "legacy": host(web.at("http", 4), "http://portal.example:{port}/legacy"),
    }, max_body_bytes=100)
    for target in ("portal", "chunked", "legacy"):
        assert limited.get("egov_http_up", target) == 1, limited.checks[target]
        assert limited.get("egov_http_body_bytes", target) == 100, target


def test_a_redirect_is_not_followed(run):
    assert run.get("egov_http_up", "moved") == 1
    assert run.get("egov_http_status_code", "moved") == 301


def test_an_expired_certificate(run, web):
    assert run.get("egov_http_up", "expired") == 0
    assert run.checks["expired"].summary == "tls: TLS handshake failed: certificate has expired"
    # with verification off the page is fetched, and the certificate's dates make the check critical
    assert run.get("egov_http_up", "expired-unverified") == 1
    assert run.get("egov_http_cert_expiry_timestamp_seconds", "expired-unverified") == web.pki.not_after["expired"]
    check = run.checks["expired-unverified"]
    assert check.state == State.CRITICAL and check.summary.endswith(", certificate expired 2 days ago")


@cases("target, reason, summary", """
    wrong-name          tls       Hostname mismatch, certificate is not valid for 'other.example'
    untrusted           tls       unable to get local issuer certificate
    tls-to-plain        tls       TLS handshake failed:
    ssh-over-tls        tls       TLS handshake failed:
    no-ca-file          config    ca_file /nonexistent/ca.pem: no such file or directory
    missing             protocol  status 404, expected 200
    wrong-body          protocol  the body does not match 'Sở Y tế'
    ssh                 protocol  not an HTTP answer: b'SSH-2.0-OpenSSH_9.2p1 Debian
    truncated           protocol  the connection closed before the answer was complete
    refused             connect   connection refused
    silent              timeout   no answer within 2s
""")
def test_failures_have_a_reason_and_a_clear_summary(run, target, reason, summary):
    run.assert_failed(target, reason, summary)


def test_the_exposition_passes_promtool(run):
    assert run.lint() == []


def test_a_silent_server_holds_up_no_one(run):
    # probes run at once (tests/test_probe.py proves it without a clock): the silent server costs
    # its own whole timeout, and the portal, probed beside it, is up within its own
    assert run.get("egov_http_duration_seconds", "silent") >= 2
    assert run.get("egov_http_up", "portal") == 1


# ---- the parsers, on answer heads as real servers send them -----------------------------------

NGINX = [b"Server: nginx\r\n", b"Date: Sat, 22 Nov 2025 03:50:14 GMT\r\n",
         b"Content-Type: text/html; charset=utf-8\r\n", b"Transfer-Encoding: chunked\r\n",
         b"Connection: close\r\n", b"Vary: Accept-Encoding\r\n",
         b"Set-Cookie: JSESSIONID=8F2C1A; Path=/; HttpOnly\r\n", b"Set-Cookie: lang=vi; Path=/\r\n",
         b"Strict-Transport-Security: max-age=31536000\r\n"]
IIS = [b"Cache-Control: private\r\n", b"Content-Type: text/html; charset=utf-8\r\n",
       b"Location: /Pages/default.aspx\r\n", b"Server: Microsoft-IIS/10.0\r\n", b"X-AspNet-Version: 4.0.30319\r\n",
       b"X-Powered-By: ASP.NET\r\n", b"Content-Length: 156\r\n"]


@pytest.mark.parametrize("line, status", [
    (b"HTTP/1.1 200 OK\r\n", 200), (b"HTTP/1.1 302 Found\r\n", 302), (b"HTTP/1.0 503 Service Unavailable\n", 503),
    (b"HTTP/1.1 404 \r\n", 404), (b"HTTP/1.1 204\r\n", 204)])
def test_status_lines(line, status):
    assert parse_status_line(line) == status


@pytest.mark.parametrize("line", [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", b"220 mail.tinh.gov.vn ESMTP Postfix\r\n",
                                  b"HTTP/2 200\r\n", b"HTTP/1.1 99 Odd\r\n", b"<html>\r\n",
                                  b"\x16\x03\x01\x00\xa5\x01\r\n"])  # the last: a TLS ClientHello
def test_what_is_not_a_status_line(line):
    with pytest.raises(ValueError, match="not an HTTP answer"):
        parse_status_line(line)


def test_headers_and_how_the_body_ends():
    nginx, iis = parse_headers(NGINX), parse_headers(IIS)
    assert nginx["set-cookie"] == "JSESSIONID=8F2C1A; Path=/; HttpOnly, lang=vi; Path=/"
    assert iis["location"] == "/Pages/default.aspx"
    assert body_framing(200, nginx, "GET") == ("chunked", 0)
    assert body_framing(302, iis, "GET") == ("length", 156)
    assert body_framing(200, iis, "HEAD") == ("none", 0)
    assert body_framing(304, nginx, "GET") == ("none", 0)
    assert body_framing(200, {}, "GET") == ("close", 0)
    assert body_framing(200, {"content-length": "12, 12"}, "GET") == ("length", 12)
    for bad in ("12, 13", "-1", "0x10"):
        with pytest.raises(ValueError, match="Content-Length"):
            body_framing(200, {"content-length": bad}, "GET")
    with pytest.raises(ValueError, match="not an HTTP header line"):
        parse_headers([b" folded continuation\r\n"])


def test_chunk_sizes():
    assert parse_chunk_size(b"1a\r\n") == 26
    assert parse_chunk_size(b"FF;name=value\r\n") == 255
    assert parse_chunk_size(b"0\r\n") == 0
    for bad in (b"\r\n", b"zz\r\n", b"-1\r\n"):
        with pytest.raises(ValueError, match="chunk size"):
            parse_chunk_size(bad)



@pytest.mark.parametrize("check, error", [
    ({"url": "ftp://portal.example/"}, "url: expected an http:// or https:// URL with a host name, got 'ftp://portal"),
    ({"url": "https:///path"}, "url: expected an http:// or https:// URL with a host name"),
    ({"url": "https://portal.example:70000/"}, "url: Port out of range 0-65535"),
    ({"url": "https://probe:secret@portal.example/"}, "url: no user or password in the URL: it would show in logs"),
    ({"url": "https://dịchvụcông.vn/"}, "url: write the host name in its xn-- form"),
    ({"url": "https://portal.example/", "status": 1000}, "status: expected an HTTP status from 100 to 599"),
    ({"url": "https://portal.example/", "body": "Cổng ("}, "body: not a regular expression: missing )"),
    ({"url": "https://portal.example/", "method": "POST"}, "method: expected one of 'GET', 'HEAD', got 'POST'"),
])
def test_a_bad_http_check_is_refused_with_its_key(check, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        build(HttpCheck, check)


def test_a_failed_probe_still_exports_what_it_measured(run):
    # blackbox keeps probe_http_status_code on a failed probe: an operator sees 404 or 503, not just "down"
    assert run.get("egov_http_up", "missing") == 0
    assert run.get("egov_http_status_code", "missing") == 404
    assert run.get("egov_http_cert_expiry_timestamp_seconds", "missing") is not None
    assert run.get("egov_http_status_code", "refused") is None  # nothing measured, nothing exported
