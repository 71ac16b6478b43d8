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

A check may also read the page for defacement (collectors/_content.py): gambling terms and
links leaving the site, the same page fetched as a browser, as Googlebot and from a Google
result (cloaking: the injections of 2023 showed to search engines), and the hash of its text
against a baseline. Those extra fetches are GETs of the same URL on the same address, within
the probe's timeout, each read up to max_body_bytes.

Failures: refused or unreachable → connect; handshake or certificate → tls; an answer
that is not HTTP, cut short, or with the wrong status or body → protocol; silence →
timeout (the base's per-target timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from agent import __version__
from agent.checks import State
from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Probe, ProbeSettings, Sample
from agent.schema import Regex
from collectors import _content, _tls

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
    # defacement (collectors/_content.py): gambling terms and links leaving the site are CRITICAL
    forbidden_content: bool = False  # scan the page (the first max_body_bytes) for them
    forbidden_terms: list[str] = field(default_factory=list)  # more terms, added to the default list
    allowed_terms: list[str] = field(default_factory=list)  # of the default list, those the site writes (police news)
    # links may go to the site's own domain and to these, subdomains included; gov.vn names are
    # registered by state bodies only (VNNIC), and government sites link to each other all the time
    allowed_domains: list[str] = field(default_factory=lambda: ["gov.vn"])
    cloaking: bool = False  # fetch also as a browser, as Googlebot and from a Google search: they must agree
    baseline_sha256: str | None = None  # the page's text hash (`egov-agent page-hash`); another one is a WARNING
    baseline_ignore: list[Regex] = field(default_factory=list)  # removed from the text (in lower case) before hashing

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
        if self.method == "HEAD" and (self.forbidden_content or self.cloaking or self.baseline_sha256):
            yield "method", "the content checks (forbidden_content, cloaking, baseline_sha256) read the page: use GET"
        if self.baseline_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.baseline_sha256):
            yield "baseline_sha256", "expected 64 lower-case hex digits, as `egov-agent page-hash` prints"

    @property
    def reads_content(self) -> bool:
        return self.forbidden_content or self.cloaking or self.baseline_sha256 is not None


@register
class HttpProbe(Probe):
    name = "http"
    help = ("HTTP(S) probes of the URLs in the inventory's http checks: status, body, phases, certificate expiry, "
            "injected content")
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
        "forbidden_content": ("gauge", "Forbidden terms (kind term) and links to domains outside the site's allow "
                                       "list (kind link) on the page, in any view fetched.", ["kind"]),
        "cloaking": ("gauge", "1 if a crawler or a visitor from a search engine was served terms or links "
                              "a browser was not.", []),
        "baseline_match": ("gauge", "1 if the hash of the page's text is the baseline's.", []),
    }

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._tls = _tls.Contexts()
        self._content_notes: dict[str, list[str]] = {}  # target -> what content() found, for its check's summary

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
        if check.reads_content:
            samples += await self.content(target, check, body)
        return samples

    async def content(self, target, check, body: bytes) -> list[Sample]:
        """The defacement samples of the page the probe read, and of the views cloaking fetches."""
        host = urlsplit(check.url).hostname

        def read(body: bytes, redirect: str | None = None):  # a page of 1 MiB takes a second: off the event loop
            return asyncio.to_thread(_content.read_page, body, redirect, check.url)

        page = await read(body)
        samples, notes = [], self._content_notes.setdefault(target.name, [])
        notes.clear()
        if check.baseline_sha256:
            digest = page.hash(check.baseline_ignore)
            samples.append(Sample("baseline_match", float(digest == check.baseline_sha256)))
            if digest != check.baseline_sha256:
                notes.append(f"the page's text is not its baseline's (sha256 {digest[:12]}…)")
        terms = _content.term_list(check.forbidden_terms, check.allowed_terms)
        found = _content.findings(page, host, terms, check.allowed_domains)
        if check.cloaking:
            views = {view: _content.findings(await read(*await self.fetch(target, check, headers)), host, terms,
                                             check.allowed_domains)
                     for view, headers in VIEWS.items()}
            cloaked = {view: views[view] - views["browser"] for view in ("crawler", "search")}
            samples.append(Sample("cloaking", float(any(cloaked.values()))))
            notes += [f"cloaking: the {view} view alone has {only.describe()}" for view, only in cloaked.items() if only]
            for view in views.values():
                found |= view
        if found:
            notes.insert(0, f"forbidden content: {found.describe()}")
        if check.forbidden_content or check.cloaking:
            samples += [Sample("forbidden_content", len(found.terms), ("term",)),
                        Sample("forbidden_content", len(found.links), ("link",))]
        return samples

    async def fetch(self, target, check, headers: dict[str, str]) -> tuple[bytes, str | None]:
        """The check's page once more, with these request headers: its body and where it redirects
        (the Location header; injections send visitors from a search engine away); its status is not judged."""
        url = urlsplit(check.url)
        https = url.scheme == "https"
        connection = await _tls.connect(target.address, url.port or (443 if https else 80),
                                        self._tls.get(check) if https else None, url.hostname)
        try:
            connection.writer.write(request("GET", url, headers))
            answer_headers: dict[str, str] = {}
            body = (await read_answer(connection.reader, "GET", self.settings.max_body_bytes, answer_headers))[1]
            return body, answer_headers.get("location")
        finally:
            connection.close()

    def evaluate(self, outcome):
        status = next(s.value for s in outcome.samples if s.family == "status_code")
        check = _tls.evaluate(self.name, outcome, f"status {status:.0f}")
        values = {s.family: s.value for s in outcome.samples if s.family in ("cloaking", "baseline_match")}
        injected = any(s.value for s in outcome.samples if s.family == "forbidden_content") or values.get("cloaking")
        # injected content is an attack; a baseline missed is as likely an edit the hash was not renewed for
        state = State.CRITICAL if injected else State.WARNING if values.get("baseline_match") == 0 else State.OK
        notes = self._content_notes.get(outcome.target.name) if state else None
        if not notes:
            return check
        return dataclasses.replace(check, state=max(state, check.state), summary="; ".join([check.summary, *notes]))


# How cloaking is looked for: a crawler's request and a visitor's from a search result, each
# against a browser's. Googlebot's User-Agent as Google documents it
# (developers.google.com/search/docs/crawling-indexing/overview-google-crawlers); Google sends
# its origin only as the Referer of a result clicked. A cloak that checks the client's address
# (Google's crawl-*.googlebot.com) is not seen from here.
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
VIEWS = {
    "browser": {"User-Agent": BROWSER},
    "crawler": {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
    "search": {"User-Agent": BROWSER, "Referer": "https://www.google.com/"},
}


def request(method: str, url: SplitResult, headers: dict[str, str] | None = None) -> bytes:
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    lines = {"Host": url.netloc, "User-Agent": f"egov-agent/{__version__}", "Accept": "*/*", **(headers or {}),
             "Connection": "close"}
    return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines.items())
            + "\r\n").encode("ascii")


async def read_answer(reader: asyncio.StreamReader, method: str, limit: int,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
    """(status, body, when the status line arrived), and the answer's headers into `headers` when
    given; CollectorError when it is not a whole HTTP answer."""
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
        parsed = parse_headers(lines)
        if headers is not None:
            headers.update(parsed)
        body = await read_body(reader, body_framing(status, parsed, method), limit)
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
