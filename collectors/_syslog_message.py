"""Syslog messages for the receiver: framing on TCP, the header, the device's timestamp, and what
the message means on the sender's platform. Pure functions on bytes, no I/O (collectors/syslog.py
does the listening).

Two header formats arrive. RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`,
an RFC 3339 timestamp with its zone. Everything else is the BSD format of RFC 3164 as network
gear writes it, a timestamp without year or zone in one of the vendors' shapes:

    <189>000075: *Mar  1 00:01:02.123: %SYS-5-...          IOS: sequence number, * clock not set
    <189>Oct 13 2004 22:45:31 UTC: %SYS-5-...              IOS `service timestamps log datetime year show-timezone`
    <190>Mar  2 2020 22:32:54-08:00 R1 %%01IFNET/4/...     Huawei: year, the zone as an offset
    <190>Dec  4 17:42:33 2019 H3C %%10SHELL/6/...          Comware: the year after the time
    <189>1w0d: %SYS-5-CONFIG_I: ...                        IOS uptime stamps: no clock at all

A timestamp without a year takes the one that puts it nearest the time it arrived (a December
message read in January). One without a zone is read in the zone the receiver says the sender
logs in (`unzoned`: UTC for IOS and VRP, the local zone it is told for Comware, agent.platforms'
log_time), and gives no clock at all without one, since a guess would raise a false clock alarm.
A zone given only by name is trusted only when it is UTC or GMT, so no clock is read from a `PDT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from agent.platforms import Platform

SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")

_PRI = re.compile(rb"^<(\d{1,3})>")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_BSD_TIME = re.compile(
    r"^(?:\d+:\s*)?[*.]?"  # IOS's sequence number; its marks of a clock not set or not synchronised
    r"(?P<month>" + "|".join(_MONTHS) + r")\s+(?P<day>\d{1,2})(?:\s+(?P<year>\d{4}))?"
    r"\s+(?P<time>\d{2}:\d{2}:\d{2})(?:[.:](?P<fraction>\d{1,6}))?"  # IOS .msec, Comware :msec
    r"(?:\s+(?P<year_after>\d{4}))?"  # Comware
    r"(?:(?P<offset>[+-]\d{2}:?\d{2})|\s+(?P<zone>[A-Z]{3,5})(?=:))?:?\s+")
_UTC_NAMES = ("UTC", "GMT")
_RFC5424 = re.compile(r"^1 (?P<timestamp>\S+) (?P<hostname>\S+) \S+ \S+ \S+ (?P<rest>.*)$", re.S)


class MessageError(ValueError):
    """A message that is not syslog; `reason` is a bounded label."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(detail)


@dataclass
class Message:
    severity: int  # 0 emergency .. 7 debug
    text: str  # what follows the header (a BSD message keeps its hostname and tag)
    timestamp: datetime | None  # the device's clock, aware; None when the message has none
    hostname: str | None = None  # RFC 5424 only: a BSD hostname cannot be told from a tag
    utf8: bool = True  # False: the bytes were not UTF-8 and were decoded with replacements


def parse(data: bytes, received: datetime, unzoned: tzinfo | None = None) -> Message:
    """One message; `received` (aware) is the agent's clock when it arrived, `unzoned` the zone of
    timestamps that name none (None: they give no timestamp)."""
    pri = _PRI.match(data)
    if not pri or int(pri[1]) > 191:
        raise MessageError("malformed", f"no <PRI> (0-191) at the start: {data[:20]!r}")
    body = data[pri.end():].rstrip(b"\r\n\0")
    try:
        text, utf8 = body.decode("utf-8"), True
    except UnicodeDecodeError:
        text, utf8 = body.decode("utf-8", "replace"), False
    severity = int(pri[1]) % 8
    modern = _RFC5424.match(text)
    if modern:
        return Message(severity, _structured_data_skipped(modern["rest"]), _rfc3339(modern["timestamp"]),
                       None if modern["hostname"] == "-" else modern["hostname"], utf8)
    stamp = _BSD_TIME.match(text)
    if not stamp:
        return Message(severity, text, None, utf8=utf8)
    return Message(severity, text[stamp.end():], _bsd_timestamp(stamp, received, unzoned), utf8=utf8)


def _rfc3339(value: str) -> datetime | None:
    if value == "-":
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise MessageError("malformed", f"RFC 5424 timestamp {value[:40]!r} is not RFC 3339") from None
    if stamp.tzinfo is None:
        raise MessageError("malformed", f"RFC 5424 timestamp {value[:40]!r} has no zone")
    return stamp


def _structured_data_skipped(rest: str) -> str:
    """The MSG after RFC 5424's STRUCTURED-DATA (`-` or [id k="v" ...]..., `\\]` escaped in values)."""
    if rest.startswith("-"):
        position = 1
    else:
        position, quoted = 0, False
        while position < len(rest) and rest[position] == "[":
            position += 1
            while position < len(rest) and (quoted or rest[position] != "]"):
                if rest[position] == "\\" and quoted:
                    position += 1
                elif rest[position] == '"':
                    quoted = not quoted
                position += 1
            if position >= len(rest):
                raise MessageError("malformed", "RFC 5424 structured data is not closed")
            position += 1
        if position == 0:
            raise MessageError("malformed", f"RFC 5424 structured data expected, got {rest[:20]!r}")
    return rest[position:].removeprefix(" ").removeprefix("\ufeff")


def utc_offset(text: str) -> tzinfo:
    """`+07:00`, `-0800`, `UTC` as a zone; ValueError otherwise."""
    if text.upper() in _UTC_NAMES:
        return timezone.utc
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if not offset:
        raise ValueError(f"expected UTC or an offset like +07:00, got {text!r}")
    sign = -1 if offset[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3])))


def _bsd_timestamp(stamp: re.Match, received: datetime, unzoned: tzinfo | None) -> datetime | None:
    if stamp["zone"] and stamp["zone"] not in _UTC_NAMES:
        return None  # a zone name other than UTC's: its offset is not in the message
    zone = utc_offset(stamp["offset"] or stamp["zone"]) if stamp["offset"] or stamp["zone"] else unzoned
    if zone is None:
        return None
    hour, minute, second = map(int, stamp["time"].split(":"))
    fraction = int((stamp["fraction"] or "0").ljust(6, "0"))
    year = stamp["year"] or stamp["year_after"]
    years = [int(year)] if year else [received.year - 1, received.year, received.year + 1]
    candidates = []
    for candidate in years:
        try:
            candidates.append(datetime(candidate, _MONTHS[stamp["month"]], int(stamp["day"]), hour, minute, second,
                                       fraction, tzinfo=zone))
        except ValueError:  # 29 February of another year, hour 25
            continue
    if not candidates:
        raise MessageError("malformed", f"no such date: {stamp.group().strip()!r}")
    return min(candidates, key=lambda when: abs(when - received))


@dataclass
class Event:
    """What a message means on its platform (agent.platforms.LogEvent): a change, a failed login,
    an interface going up or down, and whatever the message says of who and where."""

    kind: str  # config (a change), login_failure, interface
    fields: dict[str, str] = field(default_factory=dict)  # user, line, address, interface, state


_NOBODY = ("", "**", "-")  # Huawei and Comware write ** for an address or user they do not know
_LINES = re.compile(r"^(?:vty|tty|con|aux)\w*$", re.I)


def event(platform: Platform, text: str) -> Event | None:
    for known in platform.log_events:
        match = known.pattern.search(text)
        if not match:
            continue
        found = {name: value.strip() for name, value in match.groupdict().items()
                 if value is not None and value.strip() not in _NOBODY}
        command = found.pop("command", None)
        if known.kind == "command":
            if command is not None and _reads_only(platform, command):
                return None
            return Event("config", found)
        if known.kind == "config" and "line" not in found and _LINES.match(found.get("user", "")):
            found["line"] = found.pop("user")  # IOS's `Configured from console by vty2 (ADDRESS)`
        if "state" in found:
            found["state"] = found["state"].lower()
        return Event(known.kind, found)
    return None


def _reads_only(platform: Platform, command: str) -> bool:
    """A recorded command that changes nothing: `dis ver` is an abbreviation of display."""
    words = command.split()
    return bool(words) and any(full.startswith(words[0].lower()) for full in platform.exec_commands)


class StreamFramer:
    """RFC 6587 framing of a TCP stream: octet counting (`LENGTH SP MESSAGE`) or, when a frame
    starts with `<`, a message per line (LF, also NUL, as rsyslog accepts). Holds at most one
    message's worth of bytes: a frame longer than `limit` is skipped and reported as None."""

    def __init__(self, limit: int):
        self.limit = limit
        self._buffer = b""
        self._skip = 0  # bytes of an oversized frame still to drop
        self._skip_line = False  # an oversized line: drop to its end

    def feed(self, data: bytes):
        """Yield each complete frame (bytes), None for one too long, MessageError's reason for framing
        garbage; a partial frame waits for more data."""
        self._buffer += data
        while self._buffer:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                self._buffer, self._skip = self._buffer[dropped:], self._skip - dropped
                continue
            if self._skip_line:
                end = self._line_end()
                if end < 0:
                    self._buffer = b""
                    return
                self._buffer, self._skip_line = self._buffer[end + 1:], False
                continue
            first = self._buffer[:1]
            if first in b"\r\n\0 ":
                self._buffer = self._buffer[1:]
            elif first.isdigit():
                space = self._buffer.find(b" ", 0, 12)
                if space < 0:
                    if len(self._buffer) >= 12 or not self._buffer.isdigit():
                        yield "framing"
                        self._skip_line = True
                        continue
                    return
                length = self._buffer[:space]
                if not length.isdigit():
                    yield "framing"
                    self._skip_line = True
                    continue
                size = int(length)
                if size > self.limit:
                    yield None
                    self._buffer, self._skip = self._buffer[space + 1:], size
                    continue
                if len(self._buffer) < space + 1 + size:
                    return
                yield self._buffer[space + 1:space + 1 + size]
                self._buffer = self._buffer[space + 1 + size:]
            elif first == b"<":
                end = self._line_end()
                if end < 0:
                    if len(self._buffer) > self.limit:
                        yield None
                        self._buffer, self._skip_line = b"", True
                    return
                if end > self.limit:
                    yield None
                else:
                    yield self._buffer[:end]
                self._buffer = self._buffer[end + 1:]
            else:
                yield "framing"
                self._skip_line = True

    def _line_end(self) -> int:
        ends = [position for position in (self._buffer.find(b"\n"), self._buffer.find(b"\0")) if position >= 0]
        return min(ends) if ends else -1
