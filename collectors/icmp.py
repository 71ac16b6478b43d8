"""ICMP echo link quality: several echoes per target per run, loss, RTT, jitter, deviation.

blackbox_exporter sends one echo per probe, so a link that drops 10 % looks healthy nine
scrapes in ten. Here every run sends each target `count` echoes, `spacing` apart, each
lost when not answered within `timeout` (fields of the target's icmp check), and exports
that run's loss ratio, RTT min/avg/max, standard deviation and jitter, plus echoes sent
and received as counters across runs, and what they mean for a call over the link: the
R-factor and MOS of the E-model (`r_factor`, `mos_from_r`).

Thousands of targets from one agent, without a thread or a socket per target: one socket
per address family serves every target of a run (icmplib's async_ping opens a socket per
call, and every raw socket gets a copy of every echo reply on the host: N targets cost N²
copies). Echoes are told apart by (identifier, sequence); one sender task sends every echo
when due, paced (`pace`) so a thousand targets starting together do not leave in one
burst; one reader callback on the event loop (loop.add_reader) matches every reply. No
timer or task per echo. The RTT ends at the kernel's receive timestamp (SO_TIMESTAMPNS),
so a busy event loop does not lengthen it.

Two kinds of socket (`socket`): raw, for root or CAP_NET_RAW (we choose the identifier;
the kernel passes the socket echo replies only, ours and other programs'), or ICMP
datagram sockets for an unprivileged agent, allowed where net.ipv4.ping_group_range holds
its group (the kernel sets the identifier and hands the socket its own replies only).
`auto` tries raw first, then datagram.

A target whose every echo is lost is measured, not failed: loss 1, egov_icmp_up 0, no
failure counted. A failure (egov_icmp_failures_total) is a probe that could not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
import math
import os
import random
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from agent.checks import Check, State, above, below, worst
from agent.collector import CollectorError, register
from agent.probe import Outcome, Probe, ProbeSettings, Sample
from agent.schema import Duration, Ratio
from collectors._icmp_packet import EchoTemplate, parse_reply

SO_TIMESTAMPNS = 35  # Linux, every architecture Debian ships; the socket module does not name it
_TIMESPEC = struct.Struct("@ll")  # struct timespec: seconds, nanoseconds (native longs)
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
SOL_RAW = 255  # linux/socket.h; the socket module does not name it either
_ICMP_FILTER, _ICMP6_FILTER = 1, 1  # linux/icmp.h, linux/icmpv6.h: which types a raw socket drops
_PAYLOAD_SIZE = 56  # ping's and fping's default, so RTTs compare like for like
_PACE_WINDOW = 0.01  # 10 ms of echoes at most leave at once: 10 at the default pace
_RECEIVE_BUFFER = 1 << 20  # bursts of replies while the loop is busy elsewhere; the kernel caps it
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
_FAMILIES = {4: (socket.AF_INET, socket.IPPROTO_ICMP), 6: (socket.AF_INET6, socket.IPPROTO_ICMPV6)}


@dataclass
class IcmpSettings(ProbeSettings):
    # targets probed at once; each takes about (count - 1) × spacing (its icmp check's fields), so a
    # run of N targets lasts about N / concurrency × that, and at least N × count × pace
    concurrency: int = 1000
    # raw (root or CAP_NET_RAW), datagram (the agent's group in net.ipv4.ping_group_range), or auto: raw, else datagram
    socket: Literal["auto", "raw", "datagram"] = "auto"
    pace: Duration = 0.001  # on average between two echoes sent (fping -i); 10 ms worth leave at once

    def problems(self):
        yield from super().problems()
        fastest = self.probe_timeout / 0x10000
        if not fastest <= self.pace <= 1:
            yield "pace", (f"expected {fastest * 1000:.2f}ms to 1s; faster, the 16-bit sequence numbers "
                           f"would wrap within probe_timeout ({self.probe_timeout:g}s)")


@dataclass
class IcmpCheck:
    ONE_PER_HOST: ClassVar[bool] = True  # one address, one loss: outages and meeting-check read it per router
    count: int = 3  # echoes per run
    spacing: Duration = 1.0  # between two echoes to the target
    timeout: Duration = 1.0  # an echo not answered within this is lost
    loss_warning: Ratio | None = None  # of the packets, lost
    loss_critical: Ratio | None = None
    rtt_warning: Duration | None = None  # on the average round trip
    rtt_critical: Duration | None = None
    mos_warning: float | None = None  # at or below this E-model MOS (1 to 4.5; 3.6: many users dissatisfied)
    mos_critical: float | None = None

    def problems(self):
        if not 1 <= self.count <= 100:
            yield "count", f"expected 1 to 100 echoes per run, got {self.count}"
        if self.timeout <= 0:
            yield "timeout", "must be more than 0"
        for key in ("mos_warning", "mos_critical"):
            if getattr(self, key) is not None and not 1 <= getattr(self, key) <= 4.5:
                yield key, f"expected a MOS from 1 to 4.5, got {getattr(self, key):g}"


def summarize(rtts: Sequence[float]) -> dict[str, float]:
    """min, avg, max, stddev and jitter of the RTTs of the answered echoes, in send order.

    stddev is the population deviation (ping's mdev). jitter is the mean of |D|, D being the
    difference between the RTTs of two consecutive answered echoes: RFC 3550's D, averaged
    over the run rather than smoothed by 1/16, which a handful of echoes would barely move.
    """
    if not rtts:
        return {}
    avg = sum(rtts) / len(rtts)
    stats = {"min": min(rtts), "avg": avg, "max": max(rtts),
             "stddev": (sum((rtt - avg) ** 2 for rtt in rtts) / len(rtts)) ** 0.5}
    if len(rtts) > 1:
        stats["jitter"] = sum(abs(b - a) for a, b in zip(rtts, rtts[1:])) / (len(rtts) - 1)
    return stats


def r_factor(rtt: float, jitter: float, loss: float) -> float:
    """The E-model R-factor of a call over a link with this RTT and jitter (seconds) and loss ratio.

    ITU-T G.107's E-model as monitoring tools simplify it to a link's ping figures, every other
    input at G.107's default values (NetBeez, "Impact of packet loss, jitter, and latency on
    VoIP", https://netbeez.net/blog/impact-of-packet-loss-jitter-and-latency-on-voip; the same
    formula on voipreview.org's MOS definition, https://www.voipreview.org/speedtest/definition/mos):
    effective latency = RTT + 2 × jitter + 10 ms (the jitter buffer, the codec); R = 93.2 (G.107
    §3.7: R with every default) − latency/40, or − (latency − 120)/10 from 160 ms on, where
    delay starts to hurt; minus 2.5 per percent lost. Below 0 under heavy loss, as the formula goes.
    """
    latency = (rtt + 2 * jitter) * 1000 + 10
    return 93.2 - (latency / 40 if latency < 160 else (latency - 120) / 10) - 2.5 * loss * 100


def mos_from_r(r: float) -> float:
    """MOS from the R-factor as ITU-T G.107 (03/2005) Annex B, formula B-4, maps it:
    1 below R 0, 4.5 above R 100, else 1 + 0.035R + 7·10⁻⁶·R(R − 60)(100 − R)."""
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


class _Echoes:
    """One target's echoes in one run: the RTT of each, None until answered in time."""

    __slots__ = ("socket", "address", "spacing", "timeout", "rtts", "sequences", "sent", "outstanding",
                 "error", "timer", "done")

    def __init__(self, sock: _Socket, address: str, count: int, spacing: float, timeout: float,
                 done: asyncio.Future):
        self.socket, self.address, self.spacing, self.timeout = sock, address, spacing, timeout
        self.rtts: list[float | None] = [None] * count
        self.sequences: list[int] = []  # of the echoes sent
        self.sent = self.outstanding = 0
        self.error: OSError | None = None  # of the last echo that could not be sent
        self.timer: asyncio.TimerHandle | None = None  # the last echo's timeout, once every echo is out
        self.done = done

    def answer(self, index: int, rtt: float) -> None:
        if rtt > self.timeout or self.done.done():  # answered too late: lost, as ping -W would count it
            return
        self.rtts[index] = rtt
        self.outstanding -= 1
        if self.outstanding == 0 and self.timer is not None:
            self.finish()

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class _Socket:
    """One address family's socket in one run: sends echoes, matches every reply."""

    def __init__(self, version: int, sock: socket.socket, raw: bool, payload: bytes):
        self.version, self.sock, self.raw = version, sock, raw
        self.ip_header = raw and version == 4  # only raw IPv4 sockets receive the IP header
        self.template = EchoTemplate(version, payload)
        if raw:
            self.identifier = random.getrandbits(16)
        else:  # the kernel puts the socket's own identifier in every echo: bind to learn it
            sock.bind(("0.0.0.0" if version == 4 else "::", 0))
            self.identifier = sock.getsockname()[1]
        self.pending: dict[int, tuple[_Echoes, int, float, int]] = {}  # sequence -> echo in flight
        self._sequence = random.getrandbits(16)

    def send(self, echoes: _Echoes, index: int) -> int:
        """Send echo `index` of `echoes`; its sequence number, or OSError."""
        # 16 bits cannot wrap onto an echo still awaited: the pace allows fewer than 65536
        # echoes within probe_timeout, the longest an echo is awaited
        self._sequence = sequence = (self._sequence + 1) & 0xFFFF
        packet = self.template.request(self.identifier, sequence)
        self.pending[sequence] = (echoes, index, time.monotonic(), time.time_ns())
        try:
            self.sock.sendto(packet, (echoes.address, 0))
        except OSError:
            del self.pending[sequence]
            raise
        return sequence

    def on_readable(self) -> None:
        """Every reply waiting on the socket, matched to its echo (loop.add_reader callback)."""
        while True:
            try:
                packet, ancillary, _, source = self.sock.recvmsg(2048, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            reply = parse_reply(packet, self.version, self.ip_header)
            if reply is None or reply.identifier != self.identifier:
                continue  # another program's echo, or not an echo reply
            echo = self.pending.get(reply.sequence)
            if echo is None or source[0] != echo[0].address or reply.payload != self.template.payload:
                continue  # late, duplicated, or not ours
            del self.pending[reply.sequence]
            echoes, index, sent, sent_ns = echo
            elapsed = time.monotonic() - sent
            rtt = elapsed
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(data)
                    rtt = (seconds * 1_000_000_000 + nanoseconds - sent_ns) / 1e9
            # the kernel's clock is the wall clock: if it stepped meanwhile, trust our own
            echoes.answer(index, rtt if 0 <= rtt <= elapsed else elapsed)


def open_socket(version: int, kind: str) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket of `kind` (auto, raw, datagram) and whether it is raw."""
    family, protocol = _FAMILIES[version]
    if kind in ("auto", "raw"):
        try:
            sock = socket.socket(family, socket.SOCK_RAW, protocol)
        except PermissionError:
            if kind == "raw":
                raise CollectorError("config", "a raw ICMP socket needs root or CAP_NET_RAW "
                                               "(or set socket: datagram)") from None
        else:
            if version == 4:  # pass echo replies (type 0) only
                sock.setsockopt(SOL_RAW, _ICMP_FILTER, struct.pack("I", 0xFFFFFFFF ^ 1))
            else:  # block every type but echo reply (129): a 256-bit mask, set bit = blocked
                mask = [0xFFFFFFFF] * 8
                mask[129 >> 5] ^= 1 << (129 & 31)
                sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("8I", *mask))
            return _ready(sock), True
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, protocol)
    except PermissionError:
        raise CollectorError("config", _datagram_refused(kind)) from None
    return _ready(sock), False


def _ready(sock: socket.socket) -> socket.socket:
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
    return sock


def _datagram_refused(kind: str) -> str:
    try:
        allowed = " ".join(Path(PING_GROUP_RANGE).read_text().split())
    except OSError:
        allowed = "unreadable"
    raw = "no raw socket (needs root or CAP_NET_RAW), and " if kind == "auto" else ""
    return (f"cannot open an ICMP socket: {raw}the agent's group {os.getgid()} is outside "
            f"net.ipv4.ping_group_range ({allowed}); allow it, e.g. "
            f"sysctl -w net.ipv4.ping_group_range='{os.getgid()} {os.getgid()}'")


class _Run:
    """One run: its sockets (one per address family, opened on first need) and its one sender.

    Every echo of every target leaves from one task, in order of due time, `pace` apart on
    average: the echoes due within one window leave together, so the loop wakes about once
    a window, not once an echo, and no target needs a timer per echo.
    """

    def __init__(self, settings: IcmpSettings):
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.payload = os.urandom(8) + bytes(_PAYLOAD_SIZE - 8)  # a reply must echo it back
        self.sockets: dict[int, _Socket] = {}
        self._queue: list[tuple[float, int, _Echoes, int]] = []  # heap of (due, order, echoes, index)
        self._order = itertools.count()  # ties leave in the order they came
        self._wake: asyncio.Future = self.loop.create_future()
        self._wake_at = math.inf
        self._sender = self.loop.create_task(self._send_due(), name="icmp-sender")

    def socket(self, version: int) -> _Socket:
        if version not in self.sockets:
            sock, raw = open_socket(version, self.settings.socket)
            self.sockets[version] = _Socket(version, sock, raw, self.payload)
            self.loop.add_reader(sock.fileno(), self.sockets[version].on_readable)
        return self.sockets[version]

    async def close(self) -> None:
        self._sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sender
        for each in self.sockets.values():
            self.loop.remove_reader(each.sock.fileno())
            each.sock.close()

    async def ping(self, address: str, version: int, count: int, spacing: float, timeout: float) -> _Echoes:
        """Send `count` echoes `spacing` apart; RTTs of those answered within `timeout`."""
        echoes = _Echoes(self.socket(version), address, count, spacing, timeout, self.loop.create_future())
        self._enqueue(self.loop.time(), echoes, 0)
        try:
            await echoes.done
        finally:  # done, or cancelled by probe_timeout: queued echoes stay unsent, late replies unmatched
            echoes.finish()
            if echoes.timer is not None:
                echoes.timer.cancel()
            pending = echoes.socket.pending
            for sequence in echoes.sequences:
                if pending.get(sequence, (None,))[0] is echoes:
                    del pending[sequence]
        if not echoes.sent:  # nothing left this host: a failed probe, not a lost echo
            raise echoes.error
        return echoes

    def _enqueue(self, due: float, echoes: _Echoes, index: int) -> None:
        heapq.heappush(self._queue, (due, next(self._order), echoes, index))
        if due < self._wake_at:
            self._wake_up()

    def _wake_up(self) -> None:
        if not self._wake.done():
            self._wake.set_result(None)

    async def _send_due(self) -> None:
        loop, pace, queue = self.loop, self.settings.pace, self._queue
        burst = max(1.0, _PACE_WINDOW / pace)
        budget, refilled = burst, loop.time()
        while True:
            now = loop.time()
            budget, refilled = min(burst, budget + (now - refilled) / pace), now
            while queue and queue[0][0] <= now and budget >= 1:
                _, _, echoes, index = heapq.heappop(queue)
                if not echoes.done.done():
                    self._send(echoes, index, now)
                    budget -= 1
            self._wake = loop.create_future()
            self._wake_at = math.inf
            timer = None
            if queue:
                # held back by the pace: wait for a whole window's worth, to send it at once
                self._wake_at = queue[0][0] if budget >= 1 else now + (burst - budget) * pace
                timer = loop.call_at(self._wake_at, self._wake_up)
            try:
                await self._wake
            finally:
                if timer is not None:
                    timer.cancel()

    def _send(self, echoes: _Echoes, index: int, now: float) -> None:
        try:
            echoes.sequences.append(echoes.socket.send(echoes, index))
        except OSError as err:  # not sent, so neither sent nor lost
            echoes.error = err
        else:
            echoes.sent += 1
            echoes.outstanding += 1
        if index + 1 < len(echoes.rtts):
            self._enqueue(now + echoes.spacing, echoes, index + 1)
        elif echoes.outstanding:
            echoes.timer = self.loop.call_later(echoes.timeout, echoes.finish)
        else:
            echoes.finish()


@register
class IcmpProbe(Probe):
    name = "icmp"
    help = "ICMP echo to inventory targets: loss, RTT min/avg/max, jitter, deviation (several echoes a run)"
    Settings = IcmpSettings
    CheckSettings = IcmpCheck
    UP_HELP = ("1 if at least one of the last run's echoes was answered in time; 0 if none was (loss 1) or no "
               "echo could be sent (see egov_icmp_failures_total).")
    DURATION_HELP = ("Duration of the target's last run: all its echoes, spacing and waiting for the last reply "
                     "included.")
    FAILURES_HELP = ("Runs in which no echo could be sent to the target, by reason (connect: sendto refused, e.g. "
                     "by a local firewall; config; timeout). Unanswered echoes are loss, not failures.")
    FAMILIES = {
        "echoes_sent_total": ("counter", "ICMP echo requests sent.", []),
        "echoes_received_total": ("counter", "ICMP echo replies received within the timeout.", []),
        "loss_ratio": ("gauge", "Ratio of the last run's echoes not answered within the timeout.", []),
        "rtt_seconds": ("gauge", "Round-trip time of the last run's answered echoes: min, avg or max (stat).",
                        ["stat"]),
        "rtt_stddev_seconds": ("gauge", "Population standard deviation of the last run's round-trip times.",
                               []),
        "jitter_seconds": ("gauge", "Mean absolute difference between the round-trip times of consecutive "
                                    "answered echoes of the last run (RFC 3550's D).", []),
        "r_factor": ("gauge", "ITU-T G.107 E-model R-factor of a call over the link, from the last run's average "
                              "RTT, jitter and loss (0 to 100; below 0 with heavy loss).", []),
        "mos": ("gauge", "Mean opinion score (1 to 4.5) of a call over the link: ITU-T G.107 Annex B's mapping of "
                         "egov_icmp_r_factor.", []),
    }

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._totals: dict[tuple[str, str], list[int]] = {}  # (target, site) -> [sent, received], across runs
        self._run: _Run | None = None

    async def collect(self):
        targets = self.targets()
        if not targets:
            return []
        current = {(target.name, target.site) for target, _, _ in targets}
        self._totals = {key: value for key, value in self._totals.items() if key in current}
        self._run = _Run(self.settings)
        try:
            # the sockets the inventory's addresses need, now: refused, the whole run fails once
            for version in sorted({_literal_version(target.address) for target, _, _ in targets} - {None}):
                self._run.socket(version)
            return await super().collect()
        finally:
            await self._run.close()
            self._run = None

    async def probe(self, target, check):
        needed = (check.count - 1) * check.spacing + check.timeout
        if needed >= self.settings.probe_timeout:
            raise CollectorError("config", f"{check.count} echoes {check.spacing:g}s apart with a {check.timeout:g}s "
                                           f"timeout need {needed:g}s, not less than probe_timeout "
                                           f"{self.settings.probe_timeout:g}s")
        address, version = await _resolve(target.address)
        echoes = await self._run.ping(address, version, check.count, check.spacing, check.timeout)
        rtts = [rtt for rtt in echoes.rtts if rtt is not None]
        totals = self._totals.setdefault((target.name, target.site), [0, 0])
        totals[0] += echoes.sent
        totals[1] += len(rtts)
        stats = summarize(rtts)
        samples = [Sample("echoes_sent_total", totals[0]), Sample("echoes_received_total", totals[1]),
                   Sample("loss_ratio", 1 - len(rtts) / echoes.sent)]
        if stats:
            samples += [Sample("rtt_seconds", stats[stat], (stat,)) for stat in ("min", "avg", "max")]
            samples.append(Sample("rtt_stddev_seconds", stats["stddev"]))
        if "jitter" in stats:
            samples.append(Sample("jitter_seconds", stats["jitter"]))
        if stats:  # a single answered echo has no jitter: counted as none
            r = r_factor(stats["avg"], stats.get("jitter", 0.0), 1 - len(rtts) / echoes.sent)
            samples += [Sample("r_factor", r), Sample("mos", mos_from_r(r))]
        return samples

    def answered(self, outcome: Outcome) -> bool:
        """An ICMP target is up when it answers, not merely when it could be probed."""
        return any(sample.family == "rtt_seconds" for sample in outcome.samples)

    def evaluate(self, outcome: Outcome) -> Check:
        check = outcome.check
        values = {(s.family, s.labels): s.value for s in outcome.samples}
        loss, avg = values[("loss_ratio", ())], values.get(("rtt_seconds", ("avg",)))
        thresholds = {key: value for key, value in (
            ("loss_warning", check.loss_warning), ("loss_critical", check.loss_critical),
            ("rtt_warning", check.rtt_warning), ("rtt_critical", check.rtt_critical),
            ("mos_warning", check.mos_warning), ("mos_critical", check.mos_critical)) if value is not None}
        if avg is None:
            return Check(self.name, outcome.target.name, State.CRITICAL, "no echo answered: loss 100%", loss,
                         thresholds)
        mos = values[("mos", ())]
        state = worst([above(loss, check.loss_warning, check.loss_critical),
                       above(avg, check.rtt_warning, check.rtt_critical),
                       below(mos, check.mos_warning, check.mos_critical)])
        return Check(self.name, outcome.target.name, state,
                     f"loss {loss:.0%}, rtt avg {avg * 1000:.2f} ms, MOS {mos:.2f}", loss, thresholds)

    def mos(self) -> dict[str, float]:
        """Target name -> the MOS of its last run, for the targets that answered (meeting-check's links)."""
        return {outcome.target.name: sample.value for outcome in self._outcomes
                for sample in outcome.samples if sample.family == "mos"}


def _literal_version(address: str) -> int | None:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return None


async def _resolve(address: str) -> tuple[str, int]:
    """The address as the kernel writes it (replies are matched on it) and its IP version."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:  # a host name: the system's resolver, first answer
        try:
            found = await asyncio.get_running_loop().getaddrinfo(address, None, type=socket.SOCK_RAW)
        except socket.gaierror as err:
            raise CollectorError("connect", f"cannot resolve {address}: {err.strerror}") from None
        parsed = ipaddress.ip_address(found[0][4][0])
    return str(parsed), parsed.version
