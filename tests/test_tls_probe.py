"""The tls probe as an inspector uses it, against real `openssl s_server`s configured strong and
weak (tests/peer_tls.py): versions, weak suites, names, chain, expiry; the strong one quiet."""

from __future__ import annotations

import re

import pytest
import yaml

from prometheus_client.parser import text_string_to_metric_families

from agent.checks import State
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors.tls import INSECURE_SUITES, LEGACY_SUITES, TlsInspectCheck, TlsProbe, covers
from tests.helpers import cases
from tests.peer_tls import gnutls_once

pytest_plugins = ("tests.peer_web", "tests.peer_tls")  # run_probe and servers that are not TLS; the TLS ones

SITE = "portal.example"  # the name make_pki's leaf carries, with www.portal.example


def host(at: tuple[str, int], **check) -> dict:
    address, port = at
    return {"ansible_host": address, "egov_role": "web_server", "egov_checks": {"tls": {"port": port, **check}}}


@pytest.fixture(scope="module")
def run(tls_servers, web, run_probe, tmp_path_factory):
    servers, ca = tls_servers, str(tls_servers.pki.ca_file)
    trusted = {"server_name": SITE, "ca_file": ca}
    hosts = {
        "strong": host(servers.at("strong", 0), **trusted, cert_days_warning=10, cert_days_critical=5),
        "www": host(servers.at("strong", 1), server_name="www.portal.example", ca_file=ca),
        "other-site": host(servers.at("strong", 2), server_name="other.example", ca_file=ca),
        "private-root": host(servers.at("strong", 3), server_name=SITE),  # the system's CAs do not know it
        "private-root-unverified": host(servers.at("strong", 4), server_name=SITE, tls_verify=False),
        "weak": host(servers.at("weak", 0), **trusted),
        "weak-relaxed": host(servers.at("weak", 1), **trusted, old_protocol="warning", insecure_cipher="warning",
                             legacy_cipher="ok"),
        "weak-measured": host(servers.at("weak", 2), **trusted, old_protocol="ok", insecure_cipher="ok",
                              legacy_cipher="ok"),
        "leaf-only": host(servers.at("leaf_only"), **trusted),
        "refused": host((servers.refused, servers.at("strong")[1]), **trusted),
        "plain-http": host(web.at("http", 0), **trusted),  # tests/peer_web.py's HTTP server, no TLS
        "ssh": host(web.at("banner", 0), **trusted),  # and its SSH banner
    }
    return run_probe(TlsProbe, tmp_path_factory.mktemp("tls"), hosts, probe_timeout=10.0)


def accepted(run, target: str) -> dict[str, float]:
    return {v: run.get("egov_tls_protocol_accepted", target, version=v) for v in ("TLSv1", "TLSv1.1", "TLSv1.2",
                                                                                  "TLSv1.3")}


def weak_suites(run, target: str) -> dict[str, str]:
    """cipher -> class of the weak suites the target accepted."""
    return {dict(labels)["cipher"]: dict(labels)["class"] for (name, labels), value in run.metrics.items()
            if name == "egov_tls_weak_cipher_accepted" and dict(labels)["target"] == target and value == 1}


def chain(run, target: str) -> list[str]:
    return [dict(labels)["status"] for (name, labels), value in run.metrics.items()
            if name == "egov_tls_chain_info" and dict(labels)["target"] == target and value == 1]


def test_a_strong_server_gives_no_finding(run, tls_servers):
    assert run.get("egov_tls_up", "strong") == 1
    assert accepted(run, "strong") == {"TLSv1": 0, "TLSv1.1": 0, "TLSv1.2": 1, "TLSv1.3": 1}
    assert weak_suites(run, "strong") == {}
    assert run.get("egov_tls_name_covered", "strong") == 1
    assert chain(run, "strong") == ["complete"]
    assert run.get("egov_tls_cert_expiry_timestamp_seconds", "strong") == tls_servers.pki.not_after["leaf"]
    assert (run.get("egov_tls_cert_chain_expiry_timestamp_seconds", "strong")
            == tls_servers.pki.not_after["intermediate"])
    check = run.checks["strong"]  # 20 days left on the intermediate: above both levels, and nothing found
    assert check.state == State.OK, check.summary
    assert re.fullmatch(r"inspected in \d+ ms, a chain certificate expires in 20 days \(the server's own expires "
                        r"in 40 days\)", check.summary), check.summary


def test_a_weak_server_is_found_out(run):
    assert accepted(run, "weak") == {"TLSv1": 1, "TLSv1.1": 1, "TLSv1.2": 1, "TLSv1.3": 1}
    # exactly the weak suites s_server was given (WEAK_SUITES of peer_tls), each in its class
    assert weak_suites(run, "weak") == {"TLS_ECDHE_ECDSA_WITH_NULL_SHA": "insecure",
                                        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA": "insecure",
                                        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "legacy"}
    assert run.get("egov_tls_name_covered", "weak") == 1 and chain(run, "weak") == ["complete"]
    check = run.checks["weak"]
    assert check.state == State.CRITICAL
    for finding in ("TLSv1 and TLSv1.1 accepted",
                    "insecure suites accepted: TLS_ECDHE_ECDSA_WITH_NULL_SHA, TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
                    "legacy suites accepted: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"):
        assert f"; {finding}" in check.summary, check.summary


def test_each_finding_takes_the_state_its_check_gives_it(run):
    assert run.checks["weak-relaxed"].state == State.WARNING
    measured = run.checks["weak-measured"]  # measured and exported, not judged
    assert measured.state == State.OK and "insecure suites accepted" in measured.summary
    assert weak_suites(run, "weak-measured") == weak_suites(run, "weak")


def test_a_certificate_sent_without_its_intermediate_is_an_incomplete_chain(run, tls_servers):
    assert chain(run, "leaf-only") == ["incomplete"]
    # what the server sent is the leaf alone: its expiry is the chain's
    assert run.get("egov_tls_cert_chain_expiry_timestamp_seconds", "leaf-only") == tls_servers.pki.not_after["leaf"]
    check = run.checks["leaf-only"]
    assert check.state == State.WARNING
    assert ("; chain incomplete: the server sent its own certificate alone, and its issuer "
            "commonName=Egov Test Intermediate CA is no trust anchor") in check.summary, check.summary


def test_a_root_that_is_not_trusted_is_untrusted_not_incomplete(run):
    assert chain(run, "private-root") == ["untrusted"]
    check = run.checks["private-root"]
    assert check.state == State.CRITICAL
    assert "; chain untrusted: the chain leads to commonName=Egov Test Root CA, which is not a trusted root" in \
        check.summary, check.summary
    # tls_verify: false accepts any certificate: the chain is shown, not judged
    assert chain(run, "private-root-unverified") == ["untrusted"]
    assert run.checks["private-root-unverified"].state == State.OK


def test_the_certificate_names_must_cover_the_site(run):
    assert run.get("egov_tls_name_covered", "www") == 1 and run.checks["www"].state == State.OK
    assert run.get("egov_tls_name_covered", "other-site") == 0
    check = run.checks["other-site"]
    assert check.state == State.CRITICAL
    assert ("; the certificate's names (DNS:portal.example, DNS:www.portal.example) do not cover other.example"
            in check.summary), check.summary


# plain-http: http.server takes the hello for an HTTP/0.9 request it cannot read, and answers its error
# page without a status line
@cases("target, reason, summary", """
    refused             connect   connection refused
    plain-http          protocol  not TLS: the answer to a ClientHello began b'<!DOC'
    ssh                 protocol  not TLS: the answer to a ClientHello began b'SSH-2'
""")
def test_failures(run, target, reason, summary):
    run.assert_failed(target, reason, summary)


# GnuTLS priority strings, ECDHE-ECDSA only. old-web: TLS 1.0 and 1.2, AES-128-GCM (1.2 only), RC4
# and 3DES (what TLS 1.0 has here); rc4-only: TLS 1.0 with RC4 alone, no suite OpenSSL can finish
ECDHE_ECDSA = "NORMAL:-KX-ALL:+ECDHE-ECDSA:-MAC-ALL:+AEAD:+SHA1:-CIPHER-ALL"
GNUTLS = {"old-web": (4433, f"{ECDHE_ECDSA}:+AES-128-GCM:+ARCFOUR-128:+3DES-CBC:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.0"),
          "rc4-only": (4434, f"{ECDHE_ECDSA}:+ARCFOUR-128:-VERS-ALL:+VERS-TLS1.0")}


@pytest.fixture(scope="module")
def gnutls(tls_servers, tmp_path_factory):
    """The series and check lines `egov-agent once tls` prints for the GnuTLS servers, as {(name,
    labels without site and target): value} per target, and the whole output."""
    inventory = tmp_path_factory.mktemp("gnutls") / "hosts.yml"
    trusted = {"server_name": SITE, "ca_file": str(tls_servers.pki.ca_file)}
    inventory.write_text(yaml.safe_dump({"province": {"vars": {"egov_site_type": "province"}, "hosts": {
        name: host((f"127.0.0.{i}", port), **trusted) for i, (name, (port, _)) in enumerate(GNUTLS.items(), 1)}}}))
    printed = gnutls_once(tls_servers.directory, dict(GNUTLS.values()), inventory)
    series: dict[str, dict] = {name: {} for name in GNUTLS}
    for family in text_string_to_metric_families(printed):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k not in ("site", "target", "check")}
            series[sample.labels["target"]][(sample.name, tuple(sorted(labels.items())))] = sample.value
    return series, printed


def versions_in(series: dict) -> dict[str, float]:
    return {dict(labels)["version"]: value for (name, labels), value in series.items()
            if name == "egov_tls_protocol_accepted"}


def suites_in(series: dict) -> dict[str, str]:
    return {dict(labels)["cipher"]: dict(labels)["class"] for (name, labels) in series
            if name == "egov_tls_weak_cipher_accepted"}


def test_rc4_and_3des_found_where_openssl_cannot_offer_them(gnutls):
    """A server with RC4 and 3DES, which Debian's OpenSSL cannot offer (GnuTLS still serves them):
    the probe's own hellos find both, and TLS 1.0, whose only suites they are."""
    series, printed = gnutls
    assert versions_in(series["old-web"]) == {"TLSv1": 1, "TLSv1.1": 0, "TLSv1.2": 1, "TLSv1.3": 0}
    assert suites_in(series["old-web"]) == {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "insecure",
                                            "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA": "insecure"}
    assert series["old-web"][("egov_tls_chain_info", (("status", "complete"),))] == 1
    assert ("# check tls old-web: CRITICAL - " in printed and "; TLSv1 accepted; insecure suites accepted: "
            "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA" in printed), printed


def test_a_server_no_handshake_can_finish_with_still_shows_what_it_accepts(gnutls):
    series, printed = gnutls
    assert series["rc4-only"][("egov_tls_up", ())] == 0
    assert series["rc4-only"][("egov_tls_failures_total", (("reason", "tls"),))] == 1
    assert versions_in(series["rc4-only"]) == {"TLSv1": 1, "TLSv1.1": 0, "TLSv1.2": 0, "TLSv1.3": 0}
    assert suites_in(series["rc4-only"]) == {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "insecure"}
    assert "# check tls rc4-only: CRITICAL - tls: no handshake completed: TLS handshake failed: " in printed, printed


def test_the_exposition_passes_promtool(run):
    assert run.lint() == []


@pytest.mark.parametrize("names, server_name, covered", [
    ([("DNS", "portal.example")], "PORTAL.example.", True),
    ([("DNS", "*.portal.example")], "www.portal.example", True),
    ([("DNS", "*.portal.example")], "portal.example", False),  # a wildcard stands for one label, never none
    ([("DNS", "*.portal.example")], "a.b.portal.example", False),  # nor two
    ([("DNS", "*.example")], "portal.example", False),  # not right under a top-level domain
    ([("DNS", "w*.portal.example")], "www.portal.example", False),  # only a whole leftmost label
    ([("DNS", "www.*.example")], "www.portal.example", False),
    ([("DNS", "xn--s-lym.example")], "XN--S-LYM.example", True),  # an IDN in its xn-- form (sở.example)
    ([("IP Address", "127.45.1.1")], "127.45.1.1", True),
    ([("DNS", "127.45.1.1")], "127.45.1.1", False),  # an address only by an iPAddress entry
    ([("IP Address", "2001:DB8:0:0:0:0:0:1")], "2001:db8::1", True),
    ([], "portal.example", False),  # the CN is never read
])
def test_names_are_matched_as_rfc_6125_says(names, server_name, covered):
    assert covers(names, server_name) is covered


def test_the_weak_suites_are_classed_by_their_names():
    # the classes follow from what the IANA names say: a list and its reason cannot drift apart
    insecure = re.compile(r"_NULL_|_anon_|_EXPORT_|_RC4_|_RC2_|_DES_|DES40|_3DES_|_IDEA_|_MD5$")
    assert all(insecure.search(name) for name in INSECURE_SUITES.values())
    assert not any(insecure.search(name) for name in LEGACY_SUITES.values())
    assert all("_CBC_" in name or name.startswith("TLS_RSA_WITH_") for name in LEGACY_SUITES.values())


@pytest.mark.parametrize("check, error", [
    ({"port": 0}, "port: expected a port from 1 to 65535, got 0"),
    ({"old_protocol": "high"}, "old_protocol: expected one of 'critical', 'warning', 'ok', got 'high'"),
    ({"chain_incomplete": True}, "chain_incomplete: expected one of 'critical', 'warning', 'ok'"),
    ({"server_name": "sở.example"}, "server_name: expected a host name (an IDN in its xn-- form) or an address"),
    ({"server_name": "portal.example/"}, "server_name: expected a host name"),
])
def test_a_bad_tls_check_is_refused_with_its_key(check, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        build(TlsInspectCheck, check)
