"""SIP messages for the OPTIONS probe: build the request, frame and parse responses (RFC 3261).

Pure functions on bytes, no I/O: collectors/sip.py does the sending and the waiting.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: a branch starting with it marks an RFC 3261 transaction
MAX_MESSAGE = 65535  # the largest UDP datagram; a stream response larger than this is not a SIP answer
SERVER_LABEL_LENGTH = 64  # the Server / User-Agent value kept as a metric label

# RFC 3261 §7.3.3 compact header names
_COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length", "m": "contact",
            "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}

# RFC 3261 §21 reason phrases: checks name the standard phrase, whatever text the endpoint sends
REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
_CLASS_NAMES = {1: "Provisional", 2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error",
                6: "Global Failure"}

_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")


class SipParseError(ValueError):
    """Bytes that are not a SIP response; the message says what was wrong, never quoting much of it."""


def phrase(code: int) -> str:
    """The standard reason phrase of a status code, or its class name for a code RFC 3261 does not list."""
    return REASON_PHRASES.get(code) or _CLASS_NAMES.get(code // 100, "Unknown")


@dataclass(frozen=True)
class Request:
    """One OPTIONS transaction's identifiers: a response belongs to it only if they match."""

    branch: str
    call_id: str
    from_tag: str
    cseq: int = 1

    @classmethod
    def new(cls, local_host: str) -> Request:
        return cls(MAGIC_COOKIE + secrets.token_hex(8), f"{secrets.token_hex(12)}@{local_host}",
                   secrets.token_hex(6))


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address  # an IPv6 reference in a SIP URI


def build_options(request: Request, transport: str, target: tuple[str, int], local: tuple[str, int],
                  user_agent: str) -> bytes:
    """An OPTIONS request to the endpoint at `target`, sent from `local` over `transport` (udp, tcp, tls)."""
    uri = f"sip:{_host(target[0])}:{target[1]}"
    sent_by = f"{_host(local[0])}:{local[1]}"
    lines = [
        f"OPTIONS {uri} SIP/2.0",
        # rport (RFC 3581): answer to the port we sent from, even behind NAT
        f"Via: SIP/2.0/{transport.upper()} {sent_by};branch={request.branch};rport",
        "Max-Forwards: 70",
        f"To: <{uri}>",
        f"From: <sip:egov-agent@{_host(local[0])}>;tag={request.from_tag}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.cseq} OPTIONS",
        f"Contact: <sip:egov-agent@{sent_by};transport={transport}>",
        "Accept: application/sdp",
        f"User-Agent: {user_agent}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Response:
    code: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case full names -> values in order

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    @property
    def provisional(self) -> bool:
        return self.code < 200

    @property
    def branch(self) -> str | None:
        """The branch of the topmost Via: the transaction this response answers."""
        via = self.header("via")
        if via is None:
            return None
        first = via.split(",")[0]  # a Via value may hold several, comma separated
        match = re.search(r";\s*branch\s*=\s*([^;,\s]+)", first, re.IGNORECASE)
        return match.group(1) if match else None

    def answers(self, request: Request) -> bool:
        """RFC 3261 §17.1.3: the top Via branch and the CSeq method match; the Call-ID too, to be sure."""
        cseq = (self.header("cseq") or "").split()
        return (self.branch == request.branch and self.header("call-id") == request.call_id
                and cseq == [str(request.cseq), "OPTIONS"])

    def server(self) -> str | None:
        """Who answered (Server, else User-Agent), cut and cleaned to be one bounded label value."""
        value = self.header("server") or self.header("user-agent")
        if value is None:
            return None
        cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
        return cleaned[:SERVER_LABEL_LENGTH].rstrip() or None


def parse_response(data: bytes) -> Response:
    """One SIP response (a whole datagram, or one framed message of a stream)."""
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, _ = data.partition(b"\n\n")  # RFC 3261 §7: accept bare LF line ends
    text = head.decode("utf-8", errors="replace")
    lines = text.replace("\r\n", "\n").split("\n")
    match = _STATUS_LINE.match(lines[0].strip())
    if match is None:
        raise SipParseError(f"not a SIP/2.0 status line: {lines[0][:40]!r}")
    headers: dict[str, list[str]] = {}
    name = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and name is not None:  # a folded continuation line (§7.3.1)
            headers[name][-1] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            raise SipParseError(f"not a header line: {line[:40]!r}")
        name = key.strip().lower()
        name = _COMPACT.get(name, name)
        headers.setdefault(name, []).append(value.strip())
    return Response(int(match.group(1)), match.group(2).strip(), headers)


def split_stream(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole messages at the start of a TCP/TLS byte stream, and the incomplete rest.

    Over a stream, Content-Length frames each message (RFC 3261 §18.3) and is mandatory.
    CRLFs between messages are keep-alives (RFC 5626 §3.5.1) and are skipped.
    """
    messages = []
    while True:
        buffer = buffer.lstrip(b"\r\n")
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_MESSAGE:
                raise SipParseError(f"no end of headers within {MAX_MESSAGE} bytes")
            return messages, buffer
        head = buffer[: end + 4]
        length = re.search(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r$", head, re.IGNORECASE | re.MULTILINE)
        if length is None:
            raise SipParseError("a response over a stream without Content-Length")
        total = end + 4 + int(length.group(1))
        if total > MAX_MESSAGE:
            raise SipParseError(f"a response of {total} bytes, more than {MAX_MESSAGE}")
        if len(buffer) < total:
            return messages, buffer
        messages.append(buffer[:total])
        buffer = buffer[total:]
