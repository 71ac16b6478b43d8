"""The tcp probe against the real HTTPS and HTTP servers and the liars of tests/peer_web.py."""

from __future__ import annotations

import re

import pytest

from agent.checks import State
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors.tcp import TcpCheck, TcpProbe
from tests.helpers import cases

pytest_plugins = ("tests.peer_web",)  # the real peers this module's tests use



HEAD = "HEAD / HTTP/1.0\r\nHost: portal.example\r\n\r\n"


def host(kind_address: tuple[str, int], **check) -> dict:
    address, port = kind_address
    return {"ansible_host": address, "egov_role": "dc_host", "egov_checks": {"tcp": {"port": port, **check}}}


@pytest.fixture(scope="module")
def run(web, run_probe, tmp_path_factory):
    ca = str(web.pki.ca_file)
    hosts = {
        "https": host(web.at("https", 0), tls=True, server_name="portal.example", ca_file=ca, send=HEAD,
                      expect=r"^HTTP/1\.[01] 200 ", cert_days_warning=10, cert_days_critical=5),
        "expired": host(web.at("https", 1), tls=True, server_name="expired.example", ca_file=ca),
        "expired-unverified": host(web.at("https", 2), tls=True, server_name="expired.example", tls_verify=False,
                                   cert_days_warning=21, cert_days_critical=7),
        "plain": host(web.at("http", 0)),
        "ssh": host(web.at("banner", 0), expect=r"^SSH-2\.0-"),
        "ssh-over-tls": host(web.at("banner", 1), tls=True),
        "not-smtp": host(web.at("truncated", 0), send="GET / HTTP/1.0\r\n\r\n", expect="^220 "),
        "not-smtp-open": host(web.at("banner", 2), expect="^220 "),  # a banner that stays open, never matching
        "silent": host(web.at("silent", 0)),  # accepting is all a connect check asks
        "silent-expect": host(web.at("silent", 1), expect="^220 "),
        "refused": host((web.refused, web.ports["http"])),
    }
    return run_probe(TcpProbe, tmp_path_factory.mktemp("tcp"), hosts, probe_timeout=2.0)


def test_tls_with_a_question_and_an_answer(run, web):
    assert run.get("egov_tcp_up", "https") == 1
    phases = {p: run.get("egov_tcp_phase_duration_seconds", "https", phase=p) for p in ("connect", "tls", "answer")}
    assert all(0 < seconds < 2 for seconds in phases.values()), phases
    assert run.get("egov_tcp_tls_version_info", "https", version="TLSv1.3") == 1
    assert run.get("egov_tcp_cert_expiry_timestamp_seconds", "https") == web.pki.not_after["leaf"]
    assert run.get("egov_tcp_cert_chain_expiry_timestamp_seconds", "https") == web.pki.not_after["intermediate"]
    check = run.checks["https"]  # 20 days left: above both levels
    assert check.state == State.OK and check.summary.startswith("answered in ")


def test_a_plain_connect_and_a_banner(run):
    for target in ("plain", "ssh", "silent"):
        assert run.get("egov_tcp_up", target) == 1, target
    assert run.get("egov_tcp_phase_duration_seconds", "plain", phase="tls") == 0
    assert run.get("egov_tcp_phase_duration_seconds", "plain", phase="answer") == 0
    assert run.get("egov_tcp_phase_duration_seconds", "ssh", phase="answer") > 0
    assert run.get("egov_tcp_cert_expiry_timestamp_seconds", "plain") is None
    assert run.checks["plain"].summary.startswith("connected in ")


def test_an_expired_certificate(run, web):
    assert run.checks["expired"].summary == "tls: TLS handshake failed: certificate has expired"
    assert run.get("egov_tcp_up", "expired-unverified") == 1
    assert run.get("egov_tcp_cert_expiry_timestamp_seconds", "expired-unverified") == web.pki.not_after["expired"]
    assert run.checks["expired-unverified"].state == State.CRITICAL


@cases("target, reason, summary", """
    ssh-over-tls        tls       TLS handshake failed:
    not-smtp            protocol  closed without a match for '^220 ': 'HTTP/1.1 200 OK
    not-smtp-open       timeout   no answer within 2s
    silent-expect       timeout   no answer within 2s
    refused             connect   connection refused
""")
def test_failures(run, target, reason, summary):
    run.assert_failed(target, reason, summary)


def test_the_exposition_passes_promtool(run):
    assert run.lint() == []


def test_silent_targets_hold_up_no_one(run):
    # probes run at once (tests/test_probe.py proves it without a clock): each silent server costs
    # its own whole timeout, and the targets probed beside them are up within theirs
    for target in ("not-smtp-open", "silent-expect"):
        assert run.get("egov_tcp_duration_seconds", target) >= 2
    assert run.get("egov_tcp_up", "https") == 1


@pytest.mark.parametrize("check, error", [
    ({"port": 0}, "port: expected a port from 1 to 65535, got 0"),
    ({"port": 22, "expect": "^SSH-2.0-("}, "expect: not a regular expression"),
    ({"port": 636, "tls": "yes"}, "tls: expected true or false, got 'yes'"),
])
def test_a_bad_tcp_check_is_refused_with_its_key(check, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        build(TcpCheck, check)
