"""SIP OPTIONS probe of video-conference endpoints (and any SIP server) over UDP, TCP or TLS.

One OPTIONS transaction per target (RFC 3261 §11). A final response is an answer even when
it is not 200: the probe succeeds (egov_sip_up 1) and egov_sip_response_code says which; the
check turns it into a state. No final response, a refused port or a broken TLS handshake
fail the probe with reason timeout, connect or tls. Provisional (1xx) responses and responses
to other transactions are skipped. Over UDP the request is retransmitted on RFC 3261 timer E
(T1, doubling up to T2; T2 once a provisional came) until the probe timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

from agent import __version__
from agent.checks import Check, State
from agent.collector import CollectorError, register
from agent.probe import Probe, ProbeSettings, Sample, TimedCheck
from agent.schema import Duration, Port
from collectors import _sip_message as sip
from collectors._stream import describe, insecure_tls, open_stream

T2 = 4.0  # RFC 3261 timer T2: the longest retransmission interval of a non-INVITE request
USER_AGENT = f"egov-agent/{__version__}"
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


@dataclass
class SipSettings(ProbeSettings):
    # RFC 3261 timer T1, the first UDP retransmission interval (then 2 × t1 ..., at most 4s apart); raise it
    # on slow WAN links
    t1: Duration = 0.5

    def problems(self):
        yield from super().problems()
        if not 0 < self.t1 <= T2:
            yield "t1", f"must be more than 0 and at most T2 ({T2:g}s)"


@dataclass
class SipCheck(TimedCheck):
    transport: Literal["udp", "tcp", "tls"] = "udp"
    port: Port | None = None  # default 5060, 5061 for tls
    # final response codes that mean healthy; any other 3xx/4xx warns, 5xx/6xx is critical
    codes: list[int] = field(default_factory=lambda: [200])

    def problems(self):
        if not self.codes or not all(200 <= code <= 699 for code in self.codes):
            yield "codes", "expected a list of final SIP response codes (200 to 699)"


class _Transaction(asyncio.DatagramProtocol):
    """One OPTIONS client transaction over UDP; `done` settles with the final response or an error."""

    def __init__(self):
        self.request: sip.Request | None = None  # set once the socket's local address is known
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.provisional = False

    def datagram_received(self, data, addr):
        if self.request is None or not data.strip():  # nothing asked yet, or a keep-alive
            return
        try:
            response = sip.parse_response(data)
        except sip.SipParseError as err:
            self._settle(CollectorError("parse", str(err)))
            return
        if not response.answers(self.request):
            return  # a stray answer to some other transaction
        if response.provisional:
            self.provisional = True
        else:
            self._settle(response)

    def error_received(self, exc):
        # on a connected UDP socket an ICMP port unreachable comes back as ECONNREFUSED
        self._settle(CollectorError("connect", describe(exc)))

    def _settle(self, outcome):
        if not self.done.done():
            (self.done.set_exception if isinstance(outcome, Exception) else self.done.set_result)(outcome)


@register
class SipProbe(Probe):
    name = "sip"
    help = "SIP OPTIONS to video-conference endpoints over udp, tcp or tls (inventory kind sip)"
    Settings = SipSettings
    CheckSettings = SipCheck
    UP_HELP = ("1 if the endpoint gave a final response to OPTIONS (any code; see egov_sip_response_code), "
               "0 on timeout, refusal or a failed TLS handshake.")
    FAILURES_HELP = "Failed sip probes by reason (timeout, connect, tls, protocol, parse)."
    FAMILIES = {
        "response_code": ("gauge", "Status code of the final response to the last OPTIONS.", []),
        "round_trip_seconds": ("gauge", "From sending OPTIONS (its first transmission) to the final response.",
                               []),
        "connect_seconds": ("gauge", "TCP connect, and TLS handshake, before OPTIONS (tcp and tls only).", []),
        "retransmissions": ("gauge", "Times the last OPTIONS was sent again over UDP before its answer.", []),
        "server_info": ("gauge", "The endpoint's Server (or User-Agent) header, cut to 64 characters.",
                        ["server"]),
    }

    async def probe(self, target, check):
        port = check.port or DEFAULT_PORTS[check.transport]
        if check.transport == "udp":
            return await self._over_udp(target.address, port)
        return await self._over_stream(target.address, port, check.transport)

    async def _over_udp(self, address: str, port: int) -> list[Sample]:
        loop = asyncio.get_running_loop()
        transport, transaction = await loop.create_datagram_endpoint(_Transaction, remote_addr=(address, port))
        try:
            local = transport.get_extra_info("sockname")[:2]
            request = transaction.request = sip.Request.new(local[0])
            message = sip.build_options(request, "udp", (address, port), local, USER_AGENT)
            started, interval, sent = time.monotonic(), self.settings.t1, 0
            while True:
                transport.sendto(message)
                sent += 1
                try:
                    # shield: a timer E expiry must not cancel the transaction's future
                    response = await asyncio.wait_for(asyncio.shield(transaction.done), interval)
                    break
                except asyncio.TimeoutError:
                    interval = T2 if transaction.provisional else min(2 * interval, T2)
            return self._samples(response, time.monotonic() - started, retransmissions=sent - 1)
        finally:
            transport.close()

    async def _over_stream(self, address: str, port: int, transport: str) -> list[Sample]:
        reader, writer, connect = await open_stream(address, port, insecure_tls() if transport == "tls" else None)
        try:
            local = writer.get_extra_info("sockname")[:2]
            request = sip.Request.new(local[0])
            started = time.monotonic()
            writer.write(sip.build_options(request, transport, (address, port), local, USER_AGENT))
            await writer.drain()
            response = await self._read_final(reader, request)
            samples = self._samples(response, time.monotonic() - started)
        finally:
            writer.close()  # not awaited: an endpoint slow to answer TLS close_notify must not fail the probe
        return [*samples, Sample("connect_seconds", connect)]

    @staticmethod
    async def _read_final(reader: asyncio.StreamReader, request: sip.Request) -> sip.Response:
        buffer = b""
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                raise CollectorError("protocol", "the endpoint closed the connection before a final response")
            try:
                messages, buffer = sip.split_stream(buffer + data)
                for message in messages:
                    response = sip.parse_response(message)
                    if response.answers(request) and not response.provisional:
                        return response
            except sip.SipParseError as err:
                raise CollectorError("parse", str(err)) from None

    @staticmethod
    def _samples(response: sip.Response, round_trip: float, retransmissions: int | None = None) -> list[Sample]:
        samples = [Sample("response_code", response.code), Sample("round_trip_seconds", round_trip)]
        if retransmissions is not None:
            samples.append(Sample("retransmissions", retransmissions))
        server = response.server()
        if server:
            samples.append(Sample("server_info", 1, (server,)))
        return samples

    def evaluate(self, outcome):
        values = {sample.family: sample.value for sample in outcome.samples}
        code, round_trip = int(values["response_code"]), values["round_trip_seconds"]
        answer = f"{code} {sip.phrase(code)}"
        if code in outcome.check.codes:
            return self.timed(outcome, round_trip, f"{answer} in {round_trip * 1000:.0f} ms")
        # 5xx/6xx: the endpoint itself says it cannot serve now (503 busy or overloaded, 600 busy everywhere);
        # 3xx/4xx: its SIP stack works but dislikes this request (404 user, 403 ACL, 405 no OPTIONS)
        state = State.CRITICAL if code >= 500 else State.WARNING
        return Check(self.name, outcome.target.name, state, answer, code)
