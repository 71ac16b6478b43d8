"""HTTP(S) probe: one request for the URL a host's http check names, sent to the host's address.

The connection goes to the inventory address (ansible_host) on the URL's port; the URL's
host is the Host header, the SNI and the name the certificate must carry, as curl
--resolve does: no DNS answer decides which server is probed. The phases are
blackbox_exporter's: connect, tls (0 over plain HTTP), processing (request written to
status line read), transfer (headers and body).

Redirects are not followed. The check asks whether this server answers this URL as it
should; following would leave the inventory's address for whatever host the Location
names (found through DNS) and hide a changed redirect behind the page it leads to. A URL
that redirects is checked with `status: 301` (or 302), or the check names the final URL.

Why asyncio streams and not httpx or aiohttp: the probe needs the phase timings (httpx
gives none; aiohttp's trace hooks do, with its own connector and resolver, ~5 MB more in a
daemon whose idle memory we watch) and one GET or HEAD with `Connection: close` is a few
lines of HTTP/1.1. HTTP/2 is not spoken; servers offer HTTP/1.1 to a client that asks no ALPN.

Failures: refused or unreachable → connect; handshake or certificate → tls; an answer
that is not HTTP, cut short, or with the wrong status or body → protocol; silence →
timeout (the base's per-target timeout).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from agent import __version__
from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Probe, ProbeSettings, Sample
from agent.schema import Regex
from collectors import _tls

MAX_HEADER_LINES = 100


@dataclass
class HttpSettings(ProbeSettings):
    max_body_bytes: int = 1024 * 1024  # read at most this much of a body (the `body` pattern sees this part)

    def problems(self):
        yield from super().problems()
        if self.max_body_bytes < 1:
            yield "max_body_bytes", "must be at least 1"


@dataclass
class HttpCheck(_tls.TlsCheck):
    # connected to the host's address; the URL's host is the Host header, the SNI, the certificate's name
    url: str | None = field(default=None, metadata=REQUIRED)
    status: int = 200  # redirects are not followed: a URL that redirects is checked with status 301 or 302
    method: Literal["GET", "HEAD"] = "GET"
    body: Regex | None = None  # the body must match it (re.search)

    def problems(self):
        try:  # urlsplit raises on a bad IPv6 bracket, .port on a port out of range
            url = urlsplit(self.url or "http://unset")  # egov_check_defaults leaves the URL to each host
            url.port  # noqa: B018
        except ValueError as err:
            yield "url", f"{err} in {self.url!r}"
            return
        if url.scheme not in ("http", "https") or not url.hostname:
            yield "url", f"expected an http:// or https:// URL with a host name, got {self.url!r}"
        elif url.username is not None:
            yield "url", "no user or password in the URL: it would show in logs"
        elif not url.geturl().isascii():
            yield "url", "write the host name in its xn-- form and percent-encode the path"
        if not 100 <= self.status <= 599:
            yield "status", f"expected an HTTP status from 100 to 599, got {self.status}"


@register
class HttpProbe(Probe):
    name = "http"
    help = "HTTP(S) probes of the URLs in the inventory's http checks: status, body, phases, certificate expiry"
    Settings = HttpSettings
    CheckSettings = HttpCheck
    UP_HELP = ("1 if the last http probe succeeded: an HTTP answer with the expected status (and body), "
               "TLS verified as asked.")
    FAILURES_HELP = "Failed http probes by reason (timeout, connect, tls, protocol, config)."
    FAMILIES = {
        _tls.PHASE: ("gauge", "Duration of each phase of the last request: connect, tls (0 over plain HTTP), "
                              "processing (to the status line), transfer.", ["phase"]),
        "status_code": ("gauge", "HTTP status code of the last answer.", []),
        "body_bytes": ("gauge", "Body bytes read from the last answer (at most max_body_bytes).", []),
        **_tls.FAMILIES,
    }

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._tls = _tls.Contexts()

    async def probe(self, target, check):
        url = urlsplit(check.url)
        https = url.scheme == "https"
        connection = await _tls.connect(target.address, url.port or (443 if https else 80),
                                        self._tls.get(check) if https else None, url.hostname)
        try:
            sent = time.monotonic()
            connection.writer.write(request(check.method, url))
            status, body, first_byte = await read_answer(connection.reader, check.method, self.settings.max_body_bytes)
            done = time.monotonic()
            tls = connection.tls_samples()
        finally:
            connection.close()
        phases = {**connection.phases, "processing": first_byte - sent, "transfer": done - first_byte}
        samples = [*(Sample(_tls.PHASE, seconds, (phase,)) for phase, seconds in phases.items()),
                   Sample("status_code", status), Sample("body_bytes", len(body)), *tls]
        if status != check.status:
            raise CollectorError("protocol", f"status {status}, expected {check.status}", samples)
        if check.body and not re.search(check.body, body.decode("utf-8", "replace")):
            raise CollectorError("protocol", f"the body does not match '{check.body}'", samples)
        return samples

    def evaluate(self, outcome):
        status = next(s.value for s in outcome.samples if s.family == "status_code")
        return _tls.evaluate(self.name, outcome, f"status {status:.0f}")


def request(method: str, url: SplitResult) -> bytes:
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return (f"{method} {target} HTTP/1.1\r\nHost: {url.netloc}\r\nUser-Agent: egov-agent/{__version__}\r\n"
            f"Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii")


async def read_answer(reader: asyncio.StreamReader, method: str, limit: int) -> tuple[int, bytes, float]:
    """(status, body, when the status line arrived); CollectorError when it is not a whole HTTP answer."""
    status = None
    try:
        line = await reader.readuntil(b"\n")
        first_byte = time.monotonic()
        status = parse_status_line(line)
        lines = []
        while (line := await reader.readuntil(b"\n")).strip():
            lines.append(line)
            if len(lines) > MAX_HEADER_LINES:
                raise ValueError(f"more than {MAX_HEADER_LINES} header lines")
        body = await read_body(reader, body_framing(status, parse_headers(lines), method), limit)
    except ssl.SSLError as err:  # before ValueError and OSError
        raise CollectorError("tls", f"TLS failed during the answer: {err.reason or err}") from None
    except asyncio.IncompleteReadError as err:
        raise CollectorError("protocol", "the connection closed without an answer" if status is None and
                             not err.partial else "the connection closed before the answer was complete") from None
    except asyncio.LimitOverrunError:
        raise CollectorError("protocol", "a line of more than 64 KiB in the answer's head") from None
    except ValueError as err:
        raise CollectorError("protocol", str(err)) from None
    return status, body, first_byte


# ---- pure parsers -----------------------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?\r?\n")
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*\r?\n")


def parse_status_line(line: bytes) -> int:
    match = _STATUS_LINE.fullmatch(line)
    if not match:
        raise ValueError(f"not an HTTP answer: {line[:60]!r}")
    return int(match[1])


def parse_headers(lines: list[bytes]) -> dict[str, str]:
    """Header names in lower case; a repeated header's values joined with ", " (RFC 9110 5.3)."""
    headers: dict[str, str] = {}
    for line in lines:
        match = _HEADER.fullmatch(line)
        if not match:
            raise ValueError(f"not an HTTP header line: {line[:60]!r}")
        name, value = match[1].decode("ascii").lower(), match[2].decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def body_framing(status: int, headers: dict[str, str], method: str) -> tuple[str, int]:
    """How the body ends (RFC 9112 6.3): ("none", 0), ("length", n), ("chunked", 0) or ("close", 0)."""
    if method == "HEAD" or status < 200 or status in (204, 304):
        return "none", 0
    if headers.get("transfer-encoding", "").rsplit(",", 1)[-1].strip().lower() == "chunked":
        return "chunked", 0
    if "content-length" in headers:
        lengths = {value.strip() for value in headers["content-length"].split(",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise ValueError(f"a bad Content-Length: {headers['content-length'][:40]!r}")
        return "length", int(lengths.pop())
    return "close", 0


def parse_chunk_size(line: bytes) -> int:
    """The size on a chunk's first line, its extensions (;name=value) ignored."""
    size = line.split(b";", 1)[0].strip()
    if not size or not all(c in b"0123456789abcdefABCDEF" for c in size):
        raise ValueError(f"a bad chunk size line: {line[:40]!r}")
    return int(size, 16)


async def read_body(reader: asyncio.StreamReader, framing: tuple[str, int], limit: int) -> bytes:
    """At most `limit` bytes of the body; what lies beyond stays unread (the connection is closed next)."""
    kind, length = framing
    if kind == "length":
        return await reader.readexactly(min(length, limit))
    body = bytearray()
    if kind == "close":
        while len(body) < limit and (data := await reader.read(limit - len(body))):
            body += data
    elif kind == "chunked":
        while len(body) < limit and (size := parse_chunk_size(await reader.readuntil(b"\n"))):
            chunk = await reader.readexactly(min(size, limit - len(body)))
            body += chunk
            if len(chunk) == size and await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk not followed by CRLF")
    return bytes(body)
