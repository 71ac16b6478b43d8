"""Connections as the tcp and http probes open them, what their TLS layer tells, the check
fields that say how a server's certificate is trusted and judged, and the check of time
and certificate thresholds (dns uses the time half).

`connect()` times the TCP connect and the TLS handshake apart. It connects the socket
first and starts TLS on it before anything is read: with asyncio's StreamWriter.start_tls
the bytes a lying server sends first (an SSH banner) would sit unread in the stream's
buffer and the handshake would wait for the timeout; here they reach the TLS layer, which
fails at once. The server name (SNI, and the name the certificate must carry) comes from
the check, not from the address connected to, as curl --resolve does.

The certificate chain: Python 3.11's ssl has no public chain API (SSLSocket and SSLObject
get_verified_chain() arrive in 3.13, as thin wrappers over the C object's method of the
same name, there since 3.10). We call that C method: its certificates come decoded by ssl
itself (get_info(), getpeercert()'s fields, even when verification is off), so the daemon
needs neither cryptography (a large import to read two dates) nor pyOpenSSL (which would
replace asyncio's TLS layer). tests/test_http_probe.py fails loudly if a Python drops it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

from agent.checks import Check, above, below
from agent.collector import CollectorError
from agent.probe import Sample, TimedCheck
from collectors._stream import describe

PHASE = "phase_duration_seconds"
TLS_VERSION = "tls_version_info"
CERT_EXPIRY = "cert_expiry_timestamp_seconds"
CHAIN_EXPIRY = "cert_chain_expiry_timestamp_seconds"
FAMILIES = {
    TLS_VERSION: ("gauge", "TLS version of the last probe's connection (always 1).", ["version"]),
    CERT_EXPIRY: ("gauge", "When the server's TLS certificate expires (Unix time).", []),
    CHAIN_EXPIRY: ("gauge", "When the first certificate of the server's chain expires, the leaf included "
                            "(Unix time).", []),
}


@dataclass
class Trust:
    """How a probe trusts a server's certificate (the tcp, http and mail checks)."""

    tls_verify: bool = True  # false: any certificate is accepted (its expiry is still read)
    ca_file: str | None = None  # a PEM bundle to verify against instead of the system's CAs


@dataclass
class TlsCheck(TimedCheck, Trust):
    """A check judged by evaluate() below: its time, and the days its certificates have left."""

    cert_days_warning: int | None = None
    cert_days_critical: int | None = None


class Contexts:
    """Client TLS contexts by (tls_verify, ca_file), built once per collector: loading a CA
    store costs time and memory. A reload builds new collectors, so it re-reads ca_file."""

    def __init__(self):
        self._built: dict[tuple[bool, str | None], ssl.SSLContext] = {}

    def get(self, check) -> ssl.SSLContext:
        key = (check.tls_verify, check.ca_file)
        if key not in self._built:
            try:  # with verification off the CAs still serve to build the chain whose expiry we read
                context = ssl.create_default_context(cafile=check.ca_file)
            except OSError as err:  # ssl.SSLError too: a file that holds no certificate
                detail = (err.reason or str(err)) if isinstance(err, ssl.SSLError) else describe(err)
                raise CollectorError("config", f"ca_file {check.ca_file}: {detail}") from None
            if not check.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._built[key] = context
        return self._built[key]


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    phases: dict[str, float]  # connect, tls (0 without TLS), in seconds

    def tls_samples(self) -> list[Sample]:
        """The TLS version, the leaf's expiry and the chain's earliest; none over plain TCP."""
        tls = self.writer.get_extra_info("ssl_object")
        if tls is None:
            return []
        # the chain OpenSSL built (up to the trusted root), else the one the server sent
        chain = tls._sslobj.get_verified_chain() or tls._sslobj.get_unverified_chain() or []
        not_after = [ssl.cert_time_to_seconds(cert.get_info()["notAfter"]) for cert in chain]
        samples = [Sample(TLS_VERSION, 1.0, (tls.version(),))]
        if not_after:  # the leaf comes first
            samples += [Sample(CERT_EXPIRY, not_after[0]), Sample(CHAIN_EXPIRY, min(not_after))]
        return samples

    def close(self) -> None:
        """Close without waiting: a TLS close_notify the server never answers must not hold the probe."""
        self.writer.close()


async def connect(address: str, port: int, tls: ssl.SSLContext | None = None,
                  server_name: str | None = None) -> Connection:
    """A connection to address:port, with TLS when `tls` is given; CollectorError when it fails."""
    started = time.monotonic()
    sock = await _connected_socket(address, port)
    connected = time.monotonic()
    try:  # on any failure, timeout included, asyncio closes the socket with the transport it made of it
        reader, writer = await asyncio.open_connection(sock=sock, ssl=tls,
                                                       server_hostname=(server_name or address) if tls else None)
    except ssl.SSLError as err:  # before ConnectionError: both are OSErrors
        reason = getattr(err, "verify_message", None) or err.reason or str(err)
        raise CollectorError("tls", f"TLS handshake failed: {reason}") from err  # its verify_code for collectors/tls.py
    except (ConnectionError, EOFError):
        raise CollectorError("tls", "connection closed during the TLS handshake") from None
    handshake = time.monotonic() - connected if tls else 0.0
    return Connection(reader, writer, {"connect": connected - started, "tls": handshake})


async def _connected_socket(address: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:  # an IP address (the usual ansible_host) needs no lookup in the loop's few executor threads
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        target = (address, port)
    except ValueError:
        try:
            family, _, _, _, target = (await loop.getaddrinfo(address, port, type=socket.SOCK_STREAM))[0]
        except socket.gaierror as err:
            raise CollectorError("connect", f"cannot resolve {address}: {err.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, target)
    except OSError as err:
        sock.close()
        raise CollectorError("connect", describe(err)) from None
    except asyncio.CancelledError:  # the per-target timeout
        sock.close()
        raise
    return sock


def evaluate(kind: str, outcome, answer: str) -> Check:
    """The state of a target that answered: the probe's time against time_*, and over TLS the
    days left on the chain's first certificate to expire against cert_days_*; the worse one wins."""
    check, duration = outcome.check, outcome.duration
    state = above(duration, check.time_warning, check.time_critical)
    value, thresholds = duration, (check.time_warning, check.time_critical)
    summary = f"{answer} in {duration * 1000:.0f} ms"
    expiry = {s.family: s.value for s in outcome.samples if s.family in (CERT_EXPIRY, CHAIN_EXPIRY)}
    if expiry:
        now = time.time()
        days, leaf_days = ((expiry[key] - now) / 86400 for key in (CHAIN_EXPIRY, CERT_EXPIRY))
        cert_state = below(days, check.cert_days_warning, check.cert_days_critical)
        summary += (f", certificate {_expiry(days)}" if days == leaf_days else
                    f", a chain certificate {_expiry(days)} (the server's own {_expiry(leaf_days)})")
        if cert_state > state:
            state, value, thresholds = cert_state, days, (check.cert_days_warning, check.cert_days_critical)
    return Check(kind, outcome.target.name, state, summary, value,
                 {name: level for name, level in zip(("warning", "critical"), thresholds) if level is not None})


def _expiry(days: float) -> str:
    return f"expires in {days:.0f} days" if days >= 0 else f"expired {-days:.0f} days ago"
