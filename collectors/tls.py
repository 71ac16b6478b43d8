"""TLS probe: a site's TLS as an inspector checks it, on the host's address and the check's port.

- Protocol versions: TLS 1.0, 1.1 and 1.2 each by a ClientHello of that version at most,
  accepted when the ServerHello agrees to it (as testssl.sh and nmap's ssl-enum-ciphers
  decide); TLS 1.3 by the full handshake the certificate is read from. TLS 1.0 or 1.1
  accepted is a finding (NIST SP 800-52 Rev. 2 §3.1: servers shall not support them;
  RFC 8996 deprecates both). Why not a handshake per version with Python's ssl: it works
  against a server whose old versions have a suite OpenSSL 3.0 still has (at security level
  0, see _offering_all), but a server whose TLS 1.0 suites are RC4 and 3DES only (GnuTLS
  configured so, tests/test_tls_probe.py) would show TLS 1.0 refused.
- Weak cipher suites: a ClientHello offering only weak suites; the suite the server picks is
  taken off the list and the hello sent again, until the server refuses (as nmap's
  ssl-enum-ciphers does). The hellos are written here, not by Python's ssl, because Debian 12's
  OpenSSL 3.0 cannot even offer RC4, 3DES, DES or EXPORT suites (`openssl ciphers -V
  'ALL:COMPLEMENTOFALL:@SECLEVEL=0'` lists none), and those are what old servers accept; the
  ServerHello's choice is all that is read, so no cipher needs to exist on this side.
- The certificate's names: its subject alternative names (never the CN, RFC 6125 §6.4.4 as
  browsers apply it) must cover the server name, wildcards as RFC 6125 §6.4.3 allows them.
- The chain: verified against the check's ca_file (else the system's CAs) as the server sent
  it. The server's certificate alone, whose issuer is no trust anchor, is `incomplete` (the
  intermediate was left out of the server's config: browsers that fetch it from the AIA URL
  hide it, curl, Java and phones fail); any other chain that reaches no trust anchor is
  `untrusted` (a private or self-signed root), and so is a chain that fails verification.
- Expiry of the leaf and of the chain's first certificate to expire, as the tcp and http probes
  export it (collectors/_tls.py).

The chain the server sent comes from the ssl object's get_unverified_chain(), as in
collectors/_tls.py (Python 3.11 has it on the C object only; 3.13 makes it public): ssl
itself decodes each certificate's names, issuer and dates, so neither cryptography nor
pyOpenSSL is needed, and the chain judged is the one OpenSSL built, with OpenSSL's own
verification verdict.

Failures: refused or unreachable → connect; an answer to a ClientHello that is not TLS →
protocol; no handshake completed → tls (with the versions and weak suites found); silence →
timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import re
import ssl
import struct
from dataclasses import dataclass
from typing import Literal

from agent.checks import State
from agent.collector import CollectorError, register
from agent.probe import Probe, ProbeSettings, Sample
from agent.schema import Duration, Port
from collectors import _tls

# the versions a ClientHello of its own asks for (RFC 5246 §7.4.1.2 client_version), by the names
# ssl.SSLSocket.version() gives; TLS 1.3 is read from the handshake
HELLO_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303}
OLD_VERSIONS = ("TLSv1", "TLSv1.1")

# The weak suites offered, by IANA code point and name (IANA's TLS Cipher Suites registry;
# RFC 5246 Appendix A.5, RFC 4346 A.5 for EXPORT, RFC 4492 §6 for the ECC ones).
# Insecure: what no configuration of Mozilla's Server Side TLS guidelines (5.7, even "old")
# allows: NULL encryption, anonymous key exchange, EXPORT, RC4 (RFC 7465 forbids it), DES and
# IDEA, MD5; and 3DES (Sweet32, CVE-2016-2183; NIST SP 800-131A Rev. 2 disallows it for
# encryption after 2023). Legacy: what Mozilla's "intermediate" leaves out for modern clients:
# CBC modes and key exchange by RSA (no forward secrecy).
INSECURE_SUITES = {
    0x0001: "TLS_RSA_WITH_NULL_MD5", 0x0002: "TLS_RSA_WITH_NULL_SHA", 0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA", 0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xC015: "TLS_ECDH_anon_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", 0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", 0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", 0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5", 0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA", 0x0009: "TLS_RSA_WITH_DES_CBC_SHA", 0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", 0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", 0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA", 0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256", 0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256", 0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", 0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
}
LEGACY_SUITES = {
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", 0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
}
WEAK_SUITES = {**{code: (name, "insecure") for code, name in INSECURE_SUITES.items()},
               **{code: (name, "legacy") for code, name in LEGACY_SUITES.items()}}
# Besides the weak ones, what asks a server whether it speaks a version: Mozilla's "intermediate"
# TLS 1.2 suites (ECDHE and DHE with AES-GCM or ChaCha20-Poly1305)
MODERN_SUITES = (0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA9, 0xCCA8, 0x009E, 0x009F, 0xCCAA)

# OpenSSL's verify codes (include/openssl/x509_vfy.h) for an issuer that is not found
UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE = 2, 20, 21
X509_V_FLAG_NO_CHECK_TIME = 0x200000  # expiry is judged by cert_days_*, so the chain's verdict leaves it out
MAX_RECORD = 16384 + 2048  # a TLSCiphertext fragment at most (RFC 5246 §6.2.3)

HOST_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?", re.IGNORECASE)
Severity = Literal["critical", "warning", "ok"]
SEVERITY = {"critical": State.CRITICAL, "warning": State.WARNING, "ok": State.OK}


def _offering_all(context: ssl.SSLContext) -> ssl.SSLContext:
    """`context` offering every version and the suites an old client offers, to complete a
    handshake with a server that speaks only TLS 1.0 or 1.1, for its certificate.

    OpenSSL 3.0 allows TLS 1.0 and 1.1 at security level 0 only: their handshake signs with
    MD5+SHA-1, refused above it as "legacy sigalg disallowed or unsupported" (tried against
    `openssl s_server -min_protocol TLSv1`); Debian's openssl.cnf also sets level 2 and TLS 1.2
    as the minimum for every context, so both are lowered here, for this probe's contexts only."""
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    return context


def _unverifying() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return _offering_all(context)


UNVERIFIED = _unverifying()  # the certificate of a server whose chain fails verification


@dataclass
class TlsSettings(ProbeSettings):
    # a server's TLS configuration seldom changes, and a run costs it 1 or 2 handshakes and a hello per
    # version and per weak suite it accepts
    interval: Duration = 300.0
    timeout: Duration = 60.0
    probe_timeout: Duration = 30.0


@dataclass
class TlsInspectCheck(_tls.TlsCheck):
    port: Port = 443
    server_name: str | None = None  # SNI, and the name the certificate's SANs must cover (default: the address)
    # the state each finding gives the check; "ok" measures it without judging
    old_protocol: Severity = "critical"  # TLS 1.0 or 1.1 accepted
    insecure_cipher: Severity = "critical"  # NULL, anonymous, EXPORT, RC4, DES, IDEA, 3DES or MD5 accepted
    legacy_cipher: Severity = "warning"  # CBC or RSA key exchange accepted (Mozilla "old", not "intermediate")
    name_mismatch: Severity = "critical"  # the certificate's SANs do not cover server_name (with tls_verify)
    chain_incomplete: Severity = "warning"  # the server sent its certificate without the intermediate (with tls_verify)
    chain_untrusted: Severity = "critical"  # the chain reaches no trust anchor, or fails verification (with tls_verify)

    def problems(self):
        name = self.server_name
        if name is not None and not (_is_address(name) or HOST_NAME.fullmatch(name)):
            yield "server_name", f"expected a host name (an IDN in its xn-- form) or an address, got {name!r}"


@dataclass
class Handshake:
    version: str  # as ssl names it: TLSv1.3 ...
    samples: list[Sample]  # the leaf's and the chain's expiry
    sent: list[dict]  # the certificates the server sent, its own first (ssl's decoded fields)


@register
class TlsProbe(Probe):
    name = "tls"
    help = ("TLS as an inspector checks it: the versions and weak cipher suites a server accepts, whether its "
            "certificate's names cover the site, whether its chain is complete, the certificates' expiry")
    Settings = TlsSettings
    CheckSettings = TlsInspectCheck
    UP_HELP = "1 if the last tls probe succeeded: connected, and a TLS handshake completed."
    FAILURES_HELP = "Failed tls probes by reason (timeout, connect, tls, protocol, config)."
    FAMILIES = {
        "protocol_accepted": ("gauge", "1 if the server agreed to this TLS version (TLSv1, TLSv1.1, TLSv1.2 "
                                       "offered at most; TLSv1.3 negotiated), else 0.", ["version"]),
        "weak_cipher_accepted": ("gauge", "Each weak cipher suite the server chose when offered only weak ones "
                                          "(always 1; class insecure or legacy).", ["cipher", "class"]),
        "name_covered": ("gauge", "1 if the certificate's subject alternative names cover the server name, else 0.",
                         []),
        "chain_info": ("gauge", "The certificate chain the server sent (always 1): complete, incomplete (its own "
                                "certificate alone, the issuer not trusted), untrusted.", ["status"]),
        **{key: _tls.FAMILIES[key] for key in (_tls.CERT_EXPIRY, _tls.CHAIN_EXPIRY)},
    }

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._tls = _tls.Contexts()
        # what evaluate() tells beyond the samples, per (address, port, server name): why the chain is not
        # complete, and the leaf's subject alternative names
        self._details: dict[tuple[str, int, str], tuple[str, list[str]]] = {}

    def _verifying(self, check) -> ssl.SSLContext:
        """The check's trust (its ca_file read once, an unreadable one a config error) judging the chain only."""
        context = self._tls.get(dataclasses.replace(check, tls_verify=True))
        if context.check_hostname:  # as Contexts made it: made here, once, to judge the chain alone
            context.check_hostname = False  # the names are judged apart (covers()), to be reported apart
            context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
            _offering_all(context)
        return context

    async def probe(self, target, check):
        server_name = check.server_name or target.address
        where = (target.address, check.port)
        verified = await _handshake(where, self._verifying(check), server_name)  # a closed port fails here, at once
        *hello_versions, weak = await asyncio.gather(
            *(_server_hello(where, server_name, version, [*WEAK_SUITES, *MODERN_SUITES])
              for version in HELLO_VERSIONS.values()),
            weak_suites(where, server_name))
        measured = [*(Sample("protocol_accepted", float(bool(hello) and hello[0] == version), (name,))
                   for (name, version), hello in zip(HELLO_VERSIONS.items(), hello_versions)),
                    *(Sample("weak_cipher_accepted", 1.0, WEAK_SUITES[code]) for code in weak)]
        shown = verified if isinstance(verified, Handshake) else await _handshake(where, UNVERIFIED, server_name)
        if not isinstance(shown, Handshake):
            raise CollectorError("tls", f"no handshake completed: {shown.detail}",
                                 [*measured, Sample("protocol_accepted", 0.0, ("TLSv1.3",))])
        alt_names = shown.sent[0].get("subjectAltName", ())
        chain, why = ("complete", "") if shown is verified else _chain_verdict(verified, shown.sent)
        self._details[(*where, server_name)] = why, [f"{kind}:{value}" for kind, value in alt_names]
        return [*measured, Sample("protocol_accepted", float(shown.version == "TLSv1.3"), ("TLSv1.3",)),
                Sample("name_covered", float(covers(alt_names, server_name))),
                Sample("chain_info", 1.0, (chain,)), *shown.samples]

    def evaluate(self, outcome):
        check = outcome.check
        key = (outcome.target.address, check.port, check.server_name or outcome.target.address)
        base = _tls.evaluate(self.name, outcome, "inspected")
        samples = {(s.family, s.labels): s.value for s in outcome.samples}
        old = [v for v in OLD_VERSIONS if samples[("protocol_accepted", (v,))]]
        weak = {kind: [labels[0] for family, labels in samples
                       if family == "weak_cipher_accepted" and labels[1] == kind] for kind in ("insecure", "legacy")}
        chain = next(labels[0] for family, labels in samples if family == "chain_info")
        why, alt_names = self._details[key]
        judged = check.tls_verify  # without it any certificate is accepted: names and chain are shown, not judged
        findings = [
            (check.old_protocol, bool(old), f"{' and '.join(old)} accepted"),
            (check.insecure_cipher, bool(weak["insecure"]), f"insecure suites accepted: {', '.join(weak['insecure'])}"),
            (check.legacy_cipher, bool(weak["legacy"]), f"legacy suites accepted: {', '.join(weak['legacy'])}"),
            (check.name_mismatch, judged and not samples[("name_covered", ())],
             f"the certificate's names ({', '.join(alt_names) or 'none'}) do not cover "
             f"{check.server_name or outcome.target.address}"),
            (check.chain_incomplete, judged and chain == "incomplete", f"chain incomplete: {why}"),
            (check.chain_untrusted, judged and chain == "untrusted", f"chain untrusted: {why}"),
        ]
        found = [(SEVERITY[severity], text) for severity, present, text in findings if present]
        state = max([base.state, *(state for state, _ in found)])
        return dataclasses.replace(base, state=state, summary="; ".join([base.summary, *(t for _, t in found)]))


async def _handshake(where: tuple[str, int], context: ssl.SSLContext, server_name: str) -> Handshake | CollectorError:
    """What one handshake shows, or the error of a handshake the server refused (a connect failure raises)."""
    try:
        connection = await _tls.connect(*where, context, server_name)
    except CollectorError as err:
        if err.reason != "tls":
            raise
        return err
    try:
        tls = connection.writer.get_extra_info("ssl_object")
        samples = [s for s in connection.tls_samples() if s.family != _tls.TLS_VERSION]
        return Handshake(tls.version(), samples, [cert.get_info() for cert in tls._sslobj.get_unverified_chain()])
    finally:
        connection.close()


def _chain_verdict(refused: CollectorError, sent: list[dict]) -> tuple[str, str]:
    """incomplete or untrusted, and why, from the verifying handshake's error and the chain the server sent."""
    error = refused.__cause__
    code = getattr(error, "verify_code", None)
    own = sent[0]
    if code in (UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE) and len(sent) == 1 \
            and own.get("issuer") != own.get("subject"):
        return "incomplete", (f"the server sent its own certificate alone, and its issuer {_name(own['issuer'])} "
                              "is no trust anchor (the intermediate is missing from the server's configuration)")
    if code in (UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE):
        return "untrusted", f"the chain leads to {_name(sent[-1]['issuer'])}, which is not a trusted root"
    return "untrusted", refused.detail.removeprefix("TLS handshake failed: ")


def _name(rdns) -> str:
    """An issuer as ssl decodes it, ((('commonName', 'X'),), ...), as an RFC 4514-like string."""
    return ",".join(f"{key}={value}" for rdn in rdns for key, value in rdn) or "(no name)"


def covers(alt_names, server_name: str) -> bool:
    """Whether subject alternative names (ssl's ('DNS', 'x') pairs) cover server_name: an IP address
    by an IP Address entry, a host name by a DNS one, where a wildcard is a whole leftmost label
    standing for exactly one label, and not directly under a top-level domain (RFC 6125 §6.4.3)."""
    try:
        address = ipaddress.ip_address(server_name)
    except ValueError:
        host = server_name.rstrip(".").lower()
        for kind, value in alt_names:
            pattern = value.rstrip(".").lower()
            label, _, parent = pattern.partition(".")
            if kind == "DNS" and (pattern == host or
                                  label == "*" and "." in parent and host.partition(".")[2] == parent):
                return True
        return False
    return any(kind == "IP Address" and ipaddress.ip_address(value) == address for kind, value in alt_names)


# ---- versions and weak suites, from ClientHellos written here --------------------------------------

async def weak_suites(where: tuple[str, int], server_name: str) -> list[int]:
    """The weak suites the server accepts (up to TLS 1.2: TLS 1.3 has none), in the order it chose them."""
    offered, chosen = list(WEAK_SUITES), []
    while offered:
        hello = await _server_hello(where, server_name, HELLO_VERSIONS["TLSv1.2"], offered)
        if hello is None:
            return chosen
        chosen.append(hello[1])
        offered.remove(hello[1])
    return chosen


async def _server_hello(where: tuple[str, int], server_name: str, version: int,
                        offered: list[int]) -> tuple[int, int] | None:
    """The version and the suite of the ServerHello answering a ClientHello of `version` offering
    `offered`, or None when the server refuses (an alert, or a close)."""
    reader, writer = await asyncio.open_connection(*where)
    try:
        writer.write(client_hello(server_name, version, offered))
        handshake = b""
        while len(handshake) < 39 or len(handshake) < 41 + handshake[38]:  # up to the suite, after the session id
            try:
                header = await reader.readexactly(5)
                kind, _, length = struct.unpack(">BHH", header)
                if kind == 21:  # an alert: handshake_failure, insufficient_security, protocol_version
                    return None
                if kind != 22 or length > MAX_RECORD:
                    raise CollectorError("protocol", f"not TLS: the answer to a ClientHello began {header!r}")
                handshake += await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionResetError):  # closed: as good as an alert
                return None
        if handshake[0] != 2:
            raise CollectorError("protocol", f"handshake message {handshake[0]} instead of a ServerHello")
        suite = int.from_bytes(handshake[39 + handshake[38]:41 + handshake[38]], "big")
        if suite not in offered:
            raise CollectorError("protocol", f"the server chose suite 0x{suite:04X}, which was not offered")
        return int.from_bytes(handshake[4:6], "big"), suite
    finally:
        writer.close()


def client_hello(server_name: str, version: int, suites: list[int]) -> bytes:
    """A ClientHello record of `version` at most (RFC 5246 §7.4.1.2) offering `suites`, with the extensions
    servers expect of a client: server_name (RFC 6066 §3; not for an address), supported_groups
    and ec_point_formats (RFC 8422 §5.1: x25519, secp256r1, secp384r1; uncompressed), and
    signature_algorithms (RFC 5246 §7.4.1.4.1: RSA and ECDSA with SHA-256/384, RSA-PSS, SHA-1)."""

    def vector(data: bytes, size: int = 2) -> bytes:
        return len(data).to_bytes(size, "big") + data

    def extension(kind: int, data: bytes) -> bytes:
        return struct.pack(">H", kind) + vector(data)

    extensions = b""
    if not _is_address(server_name):
        extensions += extension(0, vector(b"\x00" + vector(server_name.rstrip(".").encode())))
    extensions += extension(10, vector(struct.pack(">3H", 0x001D, 0x0017, 0x0018)))
    extensions += extension(11, vector(b"\x00", 1))
    extensions += extension(13, vector(struct.pack(">8H", 0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501,
                                                   0x0201, 0x0203)))
    body = (struct.pack(">H", version) + os.urandom(32) + b"\x00"  # no session to resume
            + vector(struct.pack(f">{len(suites)}H", *suites)) + vector(b"\x00", 1) + vector(extensions))
    handshake = b"\x01" + vector(body, 3)
    return b"\x16\x03\x01" + vector(handshake)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
