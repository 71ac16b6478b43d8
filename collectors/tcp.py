"""TCP probe: connect to the port a host's tcp check names, optionally over TLS, optionally
send a line and expect an answer matching a pattern (a banner: ^SSH-2\\.0-, ^220 ).

Phases: connect, tls (0 without TLS), answer (from connected to the expected text; 0 when
nothing is expected). Over TLS the certificate's and the chain's expiry are read as the
http probe reads them. An answer that never matches while the server keeps the connection
open ends with the per-target timeout; one that closes first, or grows past 64 KiB, is
reason protocol.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Probe, Sample
from agent.schema import Port, Regex
from collectors import _tls

MAX_ANSWER_BYTES = 64 * 1024


@dataclass
class TcpCheck(_tls.TlsCheck):
    port: Port | None = field(default=None, metadata=REQUIRED)
    tls: bool = False  # TLS from the first byte (LDAPS, SMTPS, IMAPS ...)
    server_name: str | None = None  # sent as SNI; with tls_verify the certificate must carry it (default: address)
    send: str | None = None  # written once connected, e.g. "PING\r\n"
    expect: Regex | None = None  # the answer must match it (re.search), e.g. ^SSH-2\.0-


@register
class TcpProbe(Probe):
    name = "tcp"
    help = "TCP connect probes of the ports in the inventory's tcp checks, with optional TLS and expected answer"
    CheckSettings = TcpCheck
    UP_HELP = "1 if the last tcp probe succeeded: connected (TLS up, the expected answer read, when asked)."
    FAILURES_HELP = "Failed tcp probes by reason (timeout, connect, tls, protocol, config)."
    FAMILIES = {
        _tls.PHASE: ("gauge", "Duration of each phase of the last probe: connect, tls (0 without TLS), "
                              "answer (0 when nothing is expected).", ["phase"]),
        **_tls.FAMILIES,
    }

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._tls = _tls.Contexts()

    async def probe(self, target, check):
        connection = await _tls.connect(target.address, check.port, self._tls.get(check) if check.tls else None,
                                        check.server_name)
        try:
            started = time.monotonic()
            if check.send:
                connection.writer.write(check.send.encode())
            if check.expect:
                await expect(connection.reader, check.expect)
            answer = time.monotonic() - started if check.expect else 0.0
            tls = connection.tls_samples()
        finally:
            connection.close()
        phases = {**connection.phases, "answer": answer}
        return [*(Sample(_tls.PHASE, seconds, (phase,)) for phase, seconds in phases.items()), *tls]

    def evaluate(self, outcome):
        return _tls.evaluate(self.name, outcome, "answered" if outcome.check.expect else "connected")


async def expect(reader: asyncio.StreamReader, pattern: str) -> None:
    """Read until what arrived matches `pattern` (re.search on the text so far)."""
    received = b""
    while True:
        text = received.decode("utf-8", "replace")
        if received and re.search(pattern, text):
            return
        if len(received) >= MAX_ANSWER_BYTES:
            raise CollectorError("protocol", f"no match for '{pattern}' in the first 64 KiB: {text[:60]!r}")
        data = await reader.read(MAX_ANSWER_BYTES - len(received))
        if not data:
            raise CollectorError("protocol", f"closed without a match for '{pattern}': "
                                             + (repr(text[:60]) if received else "nothing received"))
        received += data
