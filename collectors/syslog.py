"""Syslog receiver: the inventory's devices send their logs to the agent (UDP and TCP, RFC 3164 and
RFC 5424, TCP framed by octet counting or by line, RFC 6587), and the agent counts what they say:
messages by severity, failed logins, interfaces going up or down, configuration changes (who, on
which line, from where), when each device last spoke and how far its clock is from the agent's.

The listener lives as long as the collector. The first `collect()` opens the sockets on the
agent's event loop (a reload or a new loop closes them and opens new ones); from then on messages
are handled as they arrive, and each `collect()` reports what accumulated. A message is handled
where it is received: the sender must be an inventory target (by source address, `ansible_host`;
from a listed relay, by the address the relay names in RFC 5424's HOSTNAME), then a token bucket
per device, then the size cap, then the parse. Handling a capped message costs microseconds, so
no queue of raw messages builds up in the agent: the kernel's socket buffer is the queue
(RECEIVE_BUFFER asks for 4 MiB; Linux caps it at net.core.rmem_max), and what overflows it is
lost there, as UDP syslog always allows. What the collector keeps is bounded by the inventory
(counters per device) and by `max_changes` (the configuration changes waiting for the backup,
oldest dropped first); a TCP connection holds at most one message.

A configuration change (agent.platforms' `log_events` of the device's platform) is counted, logged
with its author and kept as a `Change` for `changes()`. The user is not a metric label: device
accounts are not bounded by the inventory, and a label per author and device would grow with
every new login; the author is in the log and in the change. With `backup_store` set, the changes
trigger a backup of their device, debounced, whose commit names the author
(agent/audit/change_backup.py).

The thresholds are the inventory's, per device: the `syslog` check kind (`SyslogCheck`). Every
router, switch and firewall is judged, by `egov_check_defaults.syslog` where it lists no syslog check
of its own, because a device that silently stops logging must not go unnoticed for want of a listed
check; any other host is judged when it lists one. Silence counts from the listener's start until a
device's first message.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, ClassVar

from agent import platforms
from agent.checks import Check, above
from agent.collector import Collector, CollectorError, CollectorSettings, register
from agent.inventory import NETWORK_ROLES
from agent.metrics import CounterMetricFamily, GaugeMetricFamily
from agent.probe import TARGET_LABELS
from agent.schema import Duration, build
from collectors._syslog_message import SEVERITIES, MessageError, StreamFramer, event, parse, utc_offset

RECEIVE_BUFFER = 4 * 2 ** 20  # bytes: a burst from many devices waits here while the loop reads; Linux caps it
DROP_REASONS = ("unknown_sender", "rate_limited", "oversized", "malformed", "framing", "connections")


@dataclass
class SyslogSettings(CollectorSettings):
    listen: str = "127.0.0.1:5514"  # UDP and TCP; port 0 takes a free one (tests)
    # syslog relays (the province's rsyslog): each message names its device in RFC 5424's HOSTNAME
    # and carries the device's own message as MSG (README: the rsyslog lines)
    relays: list[str] = field(default_factory=list)
    max_message_bytes: int = 8192  # a longer message is dropped
    # the zone of the local time devices log without naming it (Comware's `clock timezone`, +07:00);
    # unset: those timestamps give no clock offset. IOS's and VRP's name none in UTC (agent.platforms)
    unzoned_timestamps: str | None = None
    rate: float = 20.0  # messages per second a device may send, sustained
    burst: int = 200  # messages a device may send at once
    max_connections: int = 100  # TCP connections at once
    max_changes: int = 1000  # configuration changes kept until taken, oldest dropped
    # the audit store (`audit backup --store`): a logged change backs the device up into it, the
    # commit naming who changed it (agent/audit/change_backup.py); unset: no backup is triggered
    backup_store: str | None = None

    def problems(self):
        yield from super().problems()
        try:
            listen_address(self.listen)
        except ValueError as err:
            yield "listen", str(err)
        if self.unzoned_timestamps is not None:
            try:
                utc_offset(self.unzoned_timestamps)
            except ValueError as err:
                yield "unzoned_timestamps", str(err)
        if not 512 <= self.max_message_bytes <= 65536:
            yield "max_message_bytes", "must be from 512 to 65536"
        if self.rate <= 0:
            yield "rate", "must be more than 0"
        for key in ("burst", "max_connections", "max_changes"):
            if getattr(self, key) < 1:
                yield key, "must be at least 1"


@dataclass
class SyslogCheck:
    """A host's egov_checks.syslog: how long it may be silent, how far its clock may be off. A
    threshold set to null is not judged (both silence ones null: a device that does not log)."""

    ONE_PER_HOST: ClassVar[bool] = True  # one device, one log stream
    silence_warning: Duration | None = None  # no message from the device for this long
    silence_critical: Duration | None = 3600.0
    clock_offset_warning: Duration | None = 10.0  # the device's clock, as its timestamps show it
    clock_offset_critical: Duration | None = 60.0

    def problems(self):
        for key, value in vars(self).items():
            if value is not None and value <= 0:
                yield key, "must be more than 0 (null: not judged)"


@dataclass(frozen=True)
class Change:
    """A configuration change a device logged, for the backup (and the commit naming its author)."""

    target: str
    received: float  # the agent's clock (Unix time)
    device_time: datetime | None  # the device's, as it logged it
    user: str | None = None
    line: str | None = None
    address: str | None = None


@dataclass
class _Device:
    target: Any  # agent.inventory.Target
    check: SyslogCheck | None  # None: not judged (neither network gear nor a host listing the check)
    tokens: float
    refilled: float  # monotonic
    severities: Counter = field(default_factory=Counter)
    login_failures: int = 0
    interface_changes: Counter = field(default_factory=Counter)  # up / down
    config_changes: int = 0
    rate_limited: int = 0
    last_message: float | None = None  # Unix time
    clock_offset: float | None = None  # device minus agent, seconds, of the last stamped message


@register
class SyslogCollector(Collector):
    name = "syslog"
    help = "Syslog receiver for the inventory's devices: severities, logins, interfaces, configuration changes, clocks"
    default_enabled = False
    Settings = SyslogSettings
    CheckSettings = SyslogCheck
    SAMPLE_NOTE = "# every router, switch and firewall is judged, by egov_check_defaults.syslog where it lists none\n"

    def __init__(self, settings=None, context=None, clock=time.time, monotonic=time.monotonic):
        super().__init__(settings, context)
        self._clock, self._monotonic = clock, monotonic
        self._devices: dict[str, _Device] = {}  # source address -> state
        self._dropped: Counter[str] = Counter({reason: 0 for reason in DROP_REASONS})
        self._not_utf8 = 0
        self._changes: deque[Change] = deque(maxlen=self.settings.max_changes)
        unzoned = self.settings.unzoned_timestamps
        self._unzoned = utc_offset(unzoned) if unzoned else None
        self._loop = None
        self._servers: list = []  # the UDP transport and the TCP server
        self._streams: set = set()  # the TCP connections' transports
        self._started: float | None = None
        self._defaults: tuple[Any, SyslogCheck | None] = (None, None)  # (inventory, its default check)
        self.address: tuple[str, int] | None = None  # where it listens, once started
        self._backups = self._backup_task = None
        if self.settings.backup_store and self.context.inventory_path:
            from agent.audit.change_backup import ChangeBackups, audit_backup
            from collectors.ssh_cli import SshSettings

            self._backups = ChangeBackups(self.changes, audit_backup(
                self.context.inventory_path, self.settings.backup_store, SshSettings.known_hosts), self.log)

    async def collect(self):
        if self.settings.backup_store and not self.context.inventory_path:
            raise CollectorError("config", "backup_store: a backup needs the inventory (-i, or agent.yml's inventory)")
        self._update_devices()
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.close()
            await self._listen(loop)
        return self._families()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():  # a closed loop has closed its sockets
            for server in [*self._servers, *self._streams]:
                server.close()
            if self._backup_task is not None:
                self._backup_task.cancel()  # a backup running in its thread finishes on its own
        self._servers, self._streams, self._loop, self.address, self._backup_task = [], set(), None, None, None

    async def _listen(self, loop) -> None:
        host, port = listen_address(self.settings.listen)
        server = None
        try:
            server = await loop.create_server(lambda: _Stream(self), host, port)
            bound = server.sockets[0].getsockname()[:2]
            udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=bound)
        except OSError as err:
            if server is not None:
                server.close()
            raise CollectorError("config", f"cannot listen on {self.settings.listen}: {err.strerror or err}") from None
        self._servers, self._loop, self.address = [server, udp], loop, bound
        if self._backups is not None:
            self._backup_task = loop.create_task(self._backups.run(), name="syslog-change-backups")
        self._started = self._clock()
        self.log.info("listening", extra={"address": f"{bound[0]}:{bound[1]}"})

    def _update_devices(self) -> None:
        inventory = self.context.inventory
        targets = {t.address: t for t in inventory.targets()} if inventory is not None else {}
        for gone in set(self._devices) - set(targets):
            del self._devices[gone]
        for address, target in targets.items():
            check = self._check(inventory, target)
            if address in self._devices:
                self._devices[address].target, self._devices[address].check = target, check
            else:
                self._devices[address] = _Device(target, check, float(self.settings.burst), self._monotonic())

    def _check(self, inventory, target) -> SyslogCheck | None:
        """The target's own syslog check; for network gear that lists none, the inventory's defaults."""
        if self.name in target.checks:
            return target.check(self.name)
        if target.role not in NETWORK_ROLES:
            return None
        if self._defaults[0] is not inventory:  # egov_check_defaults is group all's: one for every host
            defaults = inventory.hosts[target.name].vars.get("egov_check_defaults") or {}
            self._defaults = (inventory, build(SyslogCheck, defaults.get(self.name)))
        return self._defaults[1]

    def changes(self) -> list[Change]:
        """The configuration changes logged since the last call, oldest first."""
        taken = list(self._changes)
        self._changes.clear()
        return taken

    def received(self, data: bytes | None, sender: str) -> None:
        """One message from `sender` (an address); None: a TCP frame already known to be too long."""
        relayed = sender in self.settings.relays
        if not relayed and not self._admitted(self._devices.get(sender)):
            return
        if data is None or len(data) > self.settings.max_message_bytes:
            self._dropped["oversized"] += 1
            return
        now = self._clock()
        arrived = datetime.fromtimestamp(now, timezone.utc).astimezone()
        try:
            if relayed:
                relay = parse(data, arrived)
                sender = relay.hostname or ""
                if not self._admitted(self._devices.get(sender)):
                    return
                # the device's message as it sent it, after its PRI (the relay kept the PRI)
                data = b"<%d>%s" % (relay.severity, relay.text.encode())
            message = parse(data, arrived, self._zone(self._devices[sender]))
        except MessageError as err:
            self._dropped[err.reason] += 1
            self.log.debug("message dropped", extra={"sender": sender, "reason": err.reason, "detail": str(err)})
            return
        device = self._devices[sender]
        self._not_utf8 += not message.utf8
        device.severities[message.severity] += 1
        device.last_message = now
        if message.timestamp is not None:
            device.clock_offset = (message.timestamp - arrived).total_seconds()
        platform = platforms.get(device.target.platform)
        meaning = event(platform, message.text) if platform else None
        if meaning is None:
            return
        if meaning.kind == "login_failure":
            device.login_failures += 1
        elif meaning.kind == "interface" and "state" in meaning.fields:
            device.interface_changes[meaning.fields["state"]] += 1
        elif meaning.kind == "config":
            device.config_changes += 1
            change = Change(device.target.name, now, message.timestamp, **{
                key: meaning.fields.get(key) for key in ("user", "line", "address")})
            self._changes.append(change)
            self.log.info("configuration changed", extra={"target": change.target, "user": change.user,
                                                         "line": change.line, "address": change.address})

    def _zone(self, device: _Device) -> tzinfo | None:
        """The zone of the device's timestamps that name none: its platform's (agent.platforms'
        log_time), or for local time the one the receiver is told (unzoned_timestamps)."""
        platform = platforms.get(device.target.platform)
        return timezone.utc if platform is not None and platform.log_time == "UTC" else self._unzoned

    def connected(self, sender: str, transport) -> bool:
        """Whether a TCP connection from `sender` is accepted."""
        if sender not in self._devices and sender not in self.settings.relays:
            self._dropped["unknown_sender"] += 1
        elif len(self._streams) >= self.settings.max_connections:
            self._dropped["connections"] += 1
        else:
            self._streams.add(transport)
            return True
        return False

    def disconnected(self, transport) -> None:
        self._streams.discard(transport)

    def framing_error(self) -> None:
        self._dropped["framing"] += 1

    def _admitted(self, device: _Device | None) -> bool:
        """Whether a message of `device` (None: not in the inventory) is read: within its token bucket."""
        if device is None:
            self._dropped["unknown_sender"] += 1
            return False
        now = self._monotonic()
        device.tokens = min(float(self.settings.burst), device.tokens + (now - device.refilled) * self.settings.rate)
        device.refilled = now
        if device.tokens < 1:
            device.rate_limited += 1
            self._dropped["rate_limited"] += 1
            return False
        device.tokens -= 1
        return True

    def _families(self) -> list:
        def family(kind, name, help_, labels=()):
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            return cls(f"egov_syslog_{name}", help_, labels=[*TARGET_LABELS, *labels])

        messages = family("counter", "messages", "Messages received from the device, by severity.", ["severity"])
        logins = family("counter", "login_failures", "Failed logins the device logged.")
        interfaces = family("counter", "interface_changes", "Interfaces the device logged going up or down.",
                            ["state"])
        changes = family("counter", "config_changes", "Configuration changes the device logged "
                                                      "(a configuration command, or a configuration session ended).")
        limited = family("counter", "rate_limited", "Messages from the device dropped beyond its rate limit.")
        last = family("gauge", "last_message_timestamp_seconds", "When the device's last message arrived (Unix time).")
        offset = family("gauge", "clock_offset_seconds", "The device's clock minus the agent's, from the timestamp "
                                                         "of its last message that had a full one.")
        for device in self._devices.values():
            where = [device.target.name, device.target.site]
            for severity, count in sorted(device.severities.items()):
                messages.add_metric([*where, SEVERITIES[severity]], count)
            if device.last_message is None:
                continue
            logins.add_metric(where, device.login_failures)
            for state in ("up", "down"):
                interfaces.add_metric([*where, state], device.interface_changes[state])
            changes.add_metric(where, device.config_changes)
            limited.add_metric(where, device.rate_limited)
            last.add_metric(where, device.last_message)
            if device.clock_offset is not None:
                offset.add_metric(where, device.clock_offset)
        dropped = CounterMetricFamily("egov_syslog_dropped_total", "Messages dropped before they were read, by "
                                      "reason: unknown_sender (not an inventory address), rate_limited, oversized, "
                                      "malformed, framing (TCP), connections (over max_connections).",
                                      labels=["reason"])
        for reason, count in sorted(self._dropped.items()):
            dropped.add_metric([reason], count)
        not_utf8 = CounterMetricFamily("egov_syslog_not_utf8_total", "Messages that were not UTF-8, read with "
                                                                    "replacement characters.", value=self._not_utf8)
        families = [messages, logins, interfaces, changes, limited, last, offset, dropped, not_utf8]
        if self._backups is not None:
            families += self._backups.families([device.target.name, device.target.site] for device in
                                               self._devices.values() if platforms.get(device.target.platform))
        return families

    def checks(self, metrics):
        now = self._clock()
        for device in self._devices.values():
            target, check = device.target, device.check
            if check is None:
                continue
            since = device.last_message if device.last_message is not None else self._started or now
            silent = now - since
            summary = (f"last message {silent:.0f}s ago" if device.last_message is not None
                       else f"no message since the receiver started {silent:.0f}s ago")
            yield Check(self.name, target.name, above(silent, check.silence_warning, check.silence_critical),
                        summary, silent, _thresholds(check.silence_warning, check.silence_critical))
            if device.clock_offset is not None:
                state = above(abs(device.clock_offset), check.clock_offset_warning, check.clock_offset_critical)
                yield Check("syslog_clock", target.name, state,
                            f"the device's clock is {device.clock_offset:+.0f}s from the agent's",
                            device.clock_offset, _thresholds(check.clock_offset_warning, check.clock_offset_critical))


def listen_address(value: str) -> tuple[str, int]:
    """HOST:PORT as agent.config's listen, but port 0 (any free one) allowed."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _thresholds(warning, critical) -> dict[str, float]:
    return {k: v for k, v in (("warning", warning), ("critical", critical)) if v is not None}


def _sender(address) -> str:
    return address[0] if isinstance(address, tuple) else str(address)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogCollector):
        self.receiver = receiver

    def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def datagram_received(self, data, address):
        self.receiver.received(data, _sender(address))


class _Stream(asyncio.Protocol):
    """One TCP connection: accepted from an inventory device only, within max_connections."""

    def __init__(self, receiver: SyslogCollector):
        self.receiver = receiver
        self.framer = StreamFramer(receiver.settings.max_message_bytes)
        self.sender = ""
        self.transport = None
        self.accepted = False

    def connection_made(self, transport):
        self.sender, self.transport = _sender(transport.get_extra_info("peername")), transport
        self.accepted = self.receiver.connected(self.sender, transport)
        if not self.accepted:
            transport.close()

    def data_received(self, data):
        if not self.accepted:
            return
        for frame in self.framer.feed(data):
            if frame == "framing":
                self.receiver.framing_error()
            else:
                self.receiver.received(frame, self.sender)

    def connection_lost(self, exc):
        if self.accepted:
            self.receiver.disconnected(self.transport)
            self.accepted = False
