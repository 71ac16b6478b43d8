"""Routers and switches over SNMP: every inventory device with an `snmp` check.

Gear cannot run the agent, so the agent polls it: IF-MIB interfaces (status, speed, 64-bit
counters), sysUpTime, sysName/sysDescr, CPU and memory from HOST-RESOURCES-MIB or the
vendor's MIB (Cisco, Huawei, H3C/HPE Comware), all by numeric OID in one multi-column GETBULK walk per
device (collectors/_snmp_tables.py holds the OIDs and the arithmetic). SNMP v2c or v3 USM
with pysnmp's asyncio API; the community and the v3 keys come from the environment
variables the inventory names, never from the inventory itself.

Utilization is computed here, between this poll and the previous one of the same device,
so an alert needs no rate() over a counter that may have wrapped or been reset. An
interface the inventory lists in `uplinks` carries uplink="true", so a dead WAN link is
`egov_snmp_interface_oper_up{uplink="true"} == 0`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agent.checks import Check, State, above, worst
from agent.collector import CollectorError, register
from agent.probe import Outcome, Probe, ProbeSettings, Sample
from agent.schema import Duration
from collectors._snmp_tables import (INTERFACE_COLUMNS, INTERFACE_COUNTERS, RESOURCE_COLUMNS, SYSTEM, Device,
                                     Reading, Walk, WalkError, assemble, reading, resource_family, utilization)

# pysnmp's error indications by class name -> our reasons (pysnmp is imported only when polling)
_REASONS = {
    "RequestTimedOut": "timeout",
    "WrongDigest": "auth", "UnknownUserName": "auth", "UnknownSecurityName": "auth",
    "UnsupportedSecurityLevel": "auth", "AuthenticationFailure": "auth", "AuthenticationError": "auth",
    "DecryptionError": "auth", "NotInTimeWindow": "auth",
    "ParseError": "parse", "DeserializationError": "parse",
    "UnsupportedAuthProtocol": "config", "UnsupportedPrivProtocol": "config", "NoEncryption": "config",
}
RECEIVE_BUFFER = 4 * 2 ** 20  # bytes; Linux caps it at net.core.rmem_max
_AUTH_PROTOCOLS = {"MD5": "USM_AUTH_HMAC96_MD5", "SHA": "USM_AUTH_HMAC96_SHA", "SHA224": "USM_AUTH_HMAC128_SHA224",
                   "SHA256": "USM_AUTH_HMAC192_SHA256", "SHA384": "USM_AUTH_HMAC256_SHA384",
                   "SHA512": "USM_AUTH_HMAC384_SHA512"}
_PRIV_PROTOCOLS = {"DES": "USM_PRIV_CBC56_DES", "3DES": "USM_PRIV_CBC168_3DES", "AES": "USM_PRIV_CFB128_AES",
                   "AES192": "USM_PRIV_CFB192_AES", "AES256": "USM_PRIV_CFB256_AES"}


@dataclass
class SnmpSettings(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 55.0
    probe_timeout: Duration = 20.0
    request_timeout: Duration = 2.0  # one SNMP request; then it is sent again, `retries` times
    retries: int = 1
    max_repetitions: int = 25  # rows per column in one GETBULK answer
    max_rows: int = 5000  # per column: a walk that goes on longer is an agent bug

    def problems(self):
        yield from super().problems()
        if self.retries < 0:
            yield "retries", "must be 0 or more"
        if not 0 < self.request_timeout * (self.retries + 1) <= self.probe_timeout:
            yield "request_timeout", (f"request_timeout × (retries + 1) must be more than 0 and at most "
                                      f"the probe_timeout ({self.probe_timeout:g}s)")
        if not 1 <= self.max_repetitions <= 1000:
            yield "max_repetitions", "must be from 1 to 1000"
        if self.max_rows < 1:
            yield "max_rows", "must be at least 1"


_INTERFACE = ["interface", "uplink"]
_COUNTER_FAMILIES = {metric: f"interface_{metric}_total" for metric in INTERFACE_COUNTERS.values()}


@register
class SnmpCollector(Probe):
    name = "snmp"
    help = "Routers and switches over SNMP v2c/v3: interfaces, utilization, uptime, CPU and memory"
    Settings = SnmpSettings
    SAMPLE = """\
snmp:
  interval: 60s
  timeout: 55s
  concurrency: 100        # devices polled at once
  probe_timeout: 20s      # one device; one that takes longer fails with reason timeout
  request_timeout: 2s     # one SNMP request, sent again `retries` times without an answer
  retries: 1
  max_repetitions: 25     # rows per column in one GETBULK answer
  max_rows: 5000          # per column; a longer walk is an agent bug
"""
    FAMILIES = {
        "interface_receive_bytes_total": ("counter", "Octets received (ifHCInOctets).", _INTERFACE),
        "interface_transmit_bytes_total": ("counter", "Octets sent (ifHCOutOctets).", _INTERFACE),
        "interface_receive_unicast_packets_total": ("counter", "Unicast packets received (ifHCInUcastPkts).",
                                                    _INTERFACE),
        "interface_transmit_unicast_packets_total": ("counter", "Unicast packets sent (ifHCOutUcastPkts).",
                                                     _INTERFACE),
        "interface_receive_errors_total": ("counter", "Inbound packets with errors (ifInErrors).", _INTERFACE),
        "interface_transmit_errors_total": ("counter", "Outbound packets with errors (ifOutErrors).", _INTERFACE),
        "interface_receive_discards_total": ("counter", "Inbound packets discarded (ifInDiscards).", _INTERFACE),
        "interface_transmit_discards_total": ("counter", "Outbound packets discarded (ifOutDiscards).",
                                              _INTERFACE),
        "interface_speed_bytes": ("gauge", "Link speed in bytes per second (ifHighSpeed).", _INTERFACE),
        "interface_admin_up": ("gauge", "1 if the interface is administratively up (ifAdminStatus).", _INTERFACE),
        "interface_oper_up": ("gauge", "1 if the interface is operationally up (ifOperStatus).", _INTERFACE),
        "interface_utilization_ratio": ("gauge", "Share of the link speed used since the previous poll.",
                                        [*_INTERFACE, "direction"]),
        "interface_info": ("gauge", "Interface names as the device reports them; always 1.",
                           [*_INTERFACE, "ifindex", "description", "alias"]),
        "uptime_seconds": ("gauge", "Time since the SNMP agent restarted (sysUpTime).", []),
        "cpu_utilization_ratio": ("gauge", "Load of the busiest CPU the device reports.", []),
        "memory_utilization_ratio": ("gauge", "Share of memory in use.", []),
        "device_info": ("gauge", "sysName and sysDescr of the device; always 1.", ["name", "description"]),
    }

    def __init__(self, settings=None, context=None, environ=os.environ, clock=time.monotonic):
        super().__init__(settings, context)
        self._environ, self._clock = environ, clock
        self._readings: dict[str, Reading] = {}  # target -> its last successful poll, for rates
        self._junk: Counter[tuple[str, int]] = Counter()  # (address, port) -> datagrams that were not SNMP
        self._loop = None  # pysnmp binds engines and sockets to the event loop that made them
        self._engines: dict[Any, Any] = {}  # credentials -> SnmpEngine (a v3 user name holds one set of keys)
        self._transports: dict[tuple[str, int], Any] = {}
        self._target_class = None

    async def collect(self):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.close()
            self._loop = loop
        targets = self.targets()
        names, addresses = {t.name for t, _ in targets}, {(t.address, c.port) for t, c in targets}
        for gone in set(self._readings) - names:  # devices gone from the inventory
            del self._readings[gone]
        for gone in set(self._transports) - addresses:
            del self._transports[gone]
        self._junk.clear()  # only compared within one probe
        return await super().collect()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():  # a closed loop cannot close its sockets
            for engine in self._engines.values():
                engine.close_dispatcher()
        self._engines.clear()
        self._transports.clear()

    async def probe(self, target, check):
        engine, auth = self._session(check)
        transport = await self._transport((target.address, check.port))
        address = tuple(transport.transport_address)  # as resolved: datagrams come from there
        family = resource_family(target.platform)
        walk = Walk(SYSTEM, {**INTERFACE_COLUMNS, **RESOURCE_COLUMNS[family]}, self.settings.max_rows)
        junk_before = self._junk[address]
        while not walk.done:
            indication, status, index, varbinds = await _getbulk(engine, auth, transport, *walk.request(),
                                                                 self.settings.max_repetitions)
            if indication:
                if self._junk[address] > junk_before:
                    raise CollectorError("parse", f"{self._junk[address] - junk_before} answers that are not "
                                                  f"SNMP messages, and no SNMP answer")
                raise CollectorError(_REASONS.get(type(indication).__name__, "protocol"), str(indication))
            if status:
                raise CollectorError("protocol", f"the agent answered {status.prettyPrint()} at index {int(index)}")
            try:
                walk.feed([(name.asTuple(), _plain(value)) for name, value in varbinds])
            except WalkError as err:
                raise CollectorError("protocol", str(err)) from None
        device = assemble(walk, family, check.uplinks)
        now = reading(device, self._clock())
        ratios = utilization(self._readings.get(target.name), now, {i.index: i.speed_bps for i in device.interfaces})
        self._readings[target.name] = now
        return _samples(device, ratios)

    def _session(self, check):
        """The engine and the credentials for a check; a missing secret is a config failure."""
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        if check.version == "2c":
            key, auth = "2c", hlapi.CommunityData(self._secret(check.community_env, "community_env"), mpModel=1)
        else:
            if not check.username:
                raise CollectorError("config", "an SNMPv3 check needs a username")
            level = check.security_level
            auth_key = self._secret(check.auth_key_env, "auth_key_env") if level != "noAuthNoPriv" else None
            priv_key = self._secret(check.priv_key_env, "priv_key_env") if level == "authPriv" else None
            auth_protocol = getattr(hlapi, _AUTH_PROTOCOLS[check.auth_protocol] if auth_key else "USM_AUTH_NONE")
            priv_protocol = getattr(hlapi, _PRIV_PROTOCOLS[check.priv_protocol] if priv_key else "USM_PRIV_NONE")
            key = (check.username, auth_protocol, auth_key, priv_protocol, priv_key)
            auth = hlapi.UsmUserData(check.username, auth_key, priv_key, authProtocol=auth_protocol,
                                     privProtocol=priv_protocol)
        if key not in self._engines:
            self._engines[key] = hlapi.SnmpEngine()
        return self._engines[key], auth

    def _secret(self, variable: str | None, field: str) -> str:
        if not variable:
            raise CollectorError("config", f"the snmp check sets no {field} (the environment variable to read)")
        value = self._environ.get(variable)
        if not value:
            raise CollectorError("config", f"environment variable {variable} ({field}) is not set")
        return value

    async def _transport(self, address: tuple[str, int]):
        if self._target_class is None:
            self._target_class = _counting_target(self._junk)
        if address not in self._transports:
            self._transports[address] = await self._target_class.create(
                address, timeout=self.settings.request_timeout, retries=self.settings.retries)
        return self._transports[address]

    def evaluate(self, outcome: Outcome) -> Check:
        check, problems, states = outcome.check, [], [State.OK]
        names, busiest = set(), (0.0, "")
        for sample in outcome.samples:
            if sample.family == "interface_info":
                names |= {sample.labels[0], sample.labels[3]}
            elif sample.family == "interface_oper_up" and sample.labels[1] == "true" and sample.value == 0:
                states.append(State.CRITICAL)
                problems.append(f"uplink {sample.labels[0]} is down")
            elif sample.family == "interface_utilization_ratio":
                state = above(sample.value, check.interface_util_warning, check.interface_util_critical)
                if state is not State.OK:
                    states.append(state)
                    problems.append(f"{sample.labels[0]} {sample.labels[2]} at {sample.value:.0%}")
                busiest = max(busiest, (sample.value, sample.labels[0]))
        missing = sorted(set(check.uplinks) - names)
        if missing:
            states.append(State.UNKNOWN)
            problems.append(f"uplink {', '.join(missing)} not on the device")
        interfaces = sum(1 for sample in outcome.samples if sample.family == "interface_info")
        summary = "; ".join(problems) or f"{interfaces} interfaces" + (
            f", busiest {busiest[1]} at {busiest[0]:.0%}" if busiest[1] else "")
        thresholds = {k: v for k, v in (("warning", check.interface_util_warning),
                                        ("critical", check.interface_util_critical)) if v is not None}
        return Check(self.name, outcome.target.name, worst(states), summary, busiest[0], thresholds)


async def _getbulk(engine, auth, transport, scalars, columns, repetitions):
    """pysnmp's bulk_cmd without its MIB lookups: it resolves every OID of every request
    through its MIB view, about a sixth of the CPU of a poll (profiled), which numeric OIDs do
    not need. The answer comes as bulk_cmd's does, values in wire order."""
    from pysnmp.entity.rfc3413.cmdgen import BulkCommandGenerator
    from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
    from pysnmp.proto.rfc1902 import Null, ObjectName

    target, _ = LCD.configure(engine, auth, transport, b"")
    answer = asyncio.get_running_loop().create_future()

    def answered(engine, handle, indication, status, index, varbinds, context):
        if not answer.done():  # cancelled by the probe's timeout
            answer.set_result((indication, status, index, varbinds))

    BulkCommandGenerator().send_varbinds(engine, target, None, b"", len(scalars), repetitions,
                                         [(ObjectName(oid), Null("")) for oid in scalars + columns], answered)
    return await answer


def _plain(value) -> Any:
    """A pysnmp value as plain Python: None for noSuchObject/noSuchInstance/endOfMibView."""
    from pyasn1.type import univ

    if isinstance(value, univ.Null):
        return None
    if isinstance(value, univ.OctetString):
        return value.asOctets()
    if isinstance(value, univ.ObjectIdentifier):
        return value.asTuple()
    return int(value)


def _samples(device: Device, ratios: dict[int, tuple[float | None, float | None]]) -> list[Sample]:
    samples = [Sample("device_info", 1.0, (device.name, device.description))]
    if device.uptime_ticks is not None:
        samples.append(Sample("uptime_seconds", device.uptime_ticks / 100))
    if device.cpu_ratio is not None:
        samples.append(Sample("cpu_utilization_ratio", device.cpu_ratio))
    if device.memory_ratio is not None:
        samples.append(Sample("memory_utilization_ratio", device.memory_ratio))
    for interface in device.interfaces:
        labels = (interface.name, "true" if interface.uplink else "false")
        samples.append(Sample("interface_info", 1.0,
                              (*labels, str(interface.index), interface.description, interface.alias)))
        for metric, value in interface.counters.items():
            samples.append(Sample(_COUNTER_FAMILIES[metric], float(value), labels))
        if interface.speed_bps is not None:
            samples.append(Sample("interface_speed_bytes", interface.speed_bps / 8, labels))
        for family, up in (("interface_admin_up", interface.admin_up), ("interface_oper_up", interface.oper_up)):
            if up is not None:
                samples.append(Sample(family, 1.0 if up else 0.0, labels))
        for direction, ratio in zip(("receive", "transmit"), ratios.get(interface.index, ())):
            if ratio is not None:
                samples.append(Sample("interface_utilization_ratio", ratio, (*labels, direction)))
    return samples


def _counting_target(junk: Counter):
    """pysnmp's UDP target whose socket also counts, per sender, datagrams that are not SNMP
    at all: pysnmp drops those silently, and without the count a device answering garbage
    would look exactly like a silent one."""
    from pysnmp.carrier.asyncio.dgram.udp import UdpAsyncioTransport
    from pysnmp.hlapi.v3arch.asyncio import UdpTransportTarget
    from pysnmp.proto.api.verdec import decode_message_version
    from pysnmp.proto.error import ProtocolError

    class CountingTransport(UdpAsyncioTransport):
        def connection_made(self, transport):
            # every device answers on this one socket: with the default buffer (~200 KiB)
            # a hundred answers arriving at once overflow it and are lost to timeouts
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            super().connection_made(transport)

        def datagram_received(self, datagram, transportAddress):
            try:
                decode_message_version(datagram)
            except ProtocolError:
                junk[tuple(transportAddress)[:2]] += 1
            super().datagram_received(datagram, transportAddress)

    class CountingTarget(UdpTransportTarget):
        PROTO_TRANSPORT = CountingTransport

    return CountingTarget
