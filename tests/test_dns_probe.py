"""The dns probe against a real dnsmasq (tests/peer_web.py) and a UDP port that never answers."""

from __future__ import annotations

import re

import pytest

from agent.checks import State
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors.dns import DnsCheck, DnsProbe
from tests.helpers import cases

pytest_plugins = ("tests.peer_web",)  # the real peers this module's tests use



def host(address: str, port: int, **check) -> dict:
    return {"ansible_host": address, "egov_role": "dns_server", "egov_checks": {"dns": {"port": port, **check}}}


@pytest.fixture(scope="module")
def run(dnsmasq, web, run_probe, tmp_path_factory):
    server = [(address, dnsmasq.port) for address in dnsmasq.addresses]
    hosts = {
        "portal": host(*server[0], query_name="portal.example", answers=[r"127\.0\.0\.5"]),
        "mx-over-tcp": host(*server[1], query_name="example", query_type="MX", transport="tcp",
                            answers=[r"10 mail\.example\."]),
        "soa": host(*server[2], query_name="example", query_type="SOA", time_warning=0),
        "no-such-name-expected": host(*server[3], query_name="missing.example", rcode="NXDOMAIN"),
        "no-such-name": host(*server[4], query_name="missing.example"),
        "wrong-answer": host(*server[5], query_name="portal.example", answers=[r"127\.0\.0\.5", r"10\.0\.0\.1"]),
        "refused-name": host(*server[6], query_name="portal.test"),  # not its zone, no upstream: REFUSED
        "silent": host(*web.at("silent_udp", 0), query_name="portal.example"),
        "tcp-refused": host(web.refused, dnsmasq.port, query_name="portal.example", transport="tcp"),
        "named-server": host("ns.portal.example", dnsmasq.port, query_name="portal.example"),
        "bad-name": host(*server[7], query_name="portal..example"),
    }
    return run_probe(DnsProbe, tmp_path_factory.mktemp("dns"), hosts, probe_timeout=2.0)


def test_answers_that_match(run):
    assert run.get("egov_dns_up", "portal") == 1
    assert run.get("egov_dns_records", "portal", section="answer") == 1
    assert run.checks["portal"].state == State.OK and run.checks["portal"].summary.startswith("answered in ")
    assert run.get("egov_dns_up", "mx-over-tcp") == 1
    assert run.get("egov_dns_records", "no-such-name-expected", section="answer") == 0
    assert run.get("egov_dns_up", "no-such-name-expected") == 1


def test_the_zone_serial(run, dnsmasq):
    assert run.get("egov_dns_soa_serial", "soa") == dnsmasq.soa_serial
    assert run.get("egov_dns_records", "soa", section="authority") == 1  # the zone's NS
    assert run.get("egov_dns_soa_serial", "portal") is None
    assert run.checks["soa"].state == State.WARNING  # any time is at or above a 0 s warning


@cases("target, reason, summary", r"""
    no-such-name        protocol  NXDOMAIN for missing.example A, expected NOERROR
    wrong-answer        protocol  no answer record matches '10\.0\.0\.1', got 127.0.0.5
    refused-name        protocol  REFUSED for portal.test A, expected NOERROR
    silent              timeout   no answer within 2s
    tcp-refused         connect   connection refused
    named-server        config    ansible_host ns.portal.example is not an IP address
    bad-name            config    query_name portal..example: A DNS label is empty.
""")
def test_failures(run, target, reason, summary):
    run.assert_failed(target, reason, summary)


def test_the_exposition_passes_promtool(run):
    assert run.lint() == []


def test_a_silent_server_holds_up_no_one(run):
    # probes run at once (tests/test_probe.py proves it without a clock): the silent server costs
    # its own whole timeout, and the portal, probed beside it, is up within its own
    assert run.get("egov_dns_duration_seconds", "silent") >= 2
    assert run.get("egov_dns_up", "portal") == 1


@pytest.mark.parametrize("check, error", [
    ({"query_name": "portal.example", "query_type": "ANY"}, "query_type: expected one of 'A', 'AAAA'"),
    ({"query_name": "portal.example", "answers": "127.0.0.5"}, "answers: expected a list, got str"),
    ({"query_name": "portal.example", "answers": ["127\\.0\\.0\\.(5"]}, "answers[0]: not a regular expression"),
    ({"query_name": "portal.example", "rcode": "NOTAUTH"}, "rcode: expected one of 'NOERROR', 'NXDOMAIN'"),
    ({"query_name": "portal.example", "port": 65536}, "port: expected a port from 1 to 65535, got 65536"),
])
def test_a_bad_dns_check_is_refused_with_its_key(check, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        build(DnsCheck, check)
