"""Routers and switches over SNMP: every inventory device with an `snmp` check.

Gear cannot run the agent, so the agent polls it: IF-MIB interfaces (status, speed, 64-bit
counters), sysUpTime, sysName/sysDescr, CPU and memory from HOST-RESOURCES-MIB or the
vendor's MIB (Cisco, Huawei, H3C/HPE Comware), all by numeric OID: one GET of the system
scalars and a GETBULK walk of each column (collectors/_snmp_tables.py holds the OIDs and the
arithmetic). SNMP v2c or v3 USM with gufo-snmp, whose BER and USM code is compiled (Rust):
pysnmp spent ten times snmp_exporter's CPU a poll, 80 % of it in pyasn1 (benchmarks/README.md).
The community and the v3 keys come from the environment variables the inventory names, never
from the inventory itself.

Utilization is computed here, between this poll and the previous one of the same device,
so an alert needs no rate() over a counter that may have wrapped or been reset. An
interface the inventory lists in `uplinks` carries uplink="true", so a dead WAN link is
`egov_snmp_interface_oper_up{uplink="true"} == 0`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from typing import ClassVar, Literal

from agent.checks import Check, State, above, worst
from agent.collector import CollectorError, register
from agent.metrics import Rendered
from agent.probe import Outcome, Probe, ProbeSettings, Sample
from agent.schema import Duration, Port, Ratio
from collectors._snmp_tables import (INTERFACE_COLUMNS, INTERFACE_COUNTERS, RESOURCE_COLUMNS, SYSTEM, Device, Oid,
                                     Reading, Walk, WalkError, assemble, dotted, reading, resource_family,
                                     utilization)

# inventory names -> gufo-snmp's key classes (imported only when polling)
_AUTH_KEYS = {"MD5": "Md5Key", "SHA": "Sha1Key", "SHA224": "Sha224Key", "SHA256": "Sha256Key",
              "SHA384": "Sha384Key", "SHA512": "Sha512Key"}
_PRIV_KEYS = {"DES": "DesKey", "AES": "Aes128Key", "AES192": "Aes192Key", "AES256": "Aes256Key"}


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


@dataclass
class SnmpCheck:
    ONE_PER_HOST: ClassVar[bool] = True  # one agent per device; its interfaces are labels
    version: Literal["2c", "3"] = "2c"
    port: Port = 161
    community_env: str = "EGOV_SNMP_COMMUNITY"  # the secret comes from the agent's environment
    # SNMPv3 (USM): like the community, the keys are read from the environment variables named here
    username: str | None = None
    security_level: Literal["authPriv", "authNoPriv", "noAuthNoPriv"] = "authPriv"
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA256"
    auth_key_env: str | None = None
    priv_protocol: Literal["DES", "3DES", "AES", "AES192", "AES256"] = "AES"
    priv_key_env: str | None = None
    uplinks: tuple[str, ...] = ()  # interface names (ifName or ifDescr) that are WAN uplinks
    interface_util_warning: Ratio | None = None  # of link capacity
    interface_util_critical: Ratio | None = None


_INTERFACE = ["interface", "uplink"]
_COUNTER_FAMILIES = {metric: f"interface_{metric}_total" for metric in INTERFACE_COUNTERS.values()}


@register
class SnmpCollector(Probe):
    name = "snmp"
    help = "Routers and switches over SNMP v2c/v3: interfaces, utilization, uptime, CPU and memory"
    Settings = SnmpSettings
    CheckSettings = SnmpCheck
    UP_HELP = "1 if the last snmp poll of the device succeeded."
    DURATION_HELP = "Duration of the last snmp poll."
    FAILURES_HELP = "Failed snmp polls by reason."
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
        self._checks: list[Check] = []
        self._polled: dict[str, tuple[Check, dict[str, bytes]]] = {}  # this run's: target -> check, lines

    async def collect(self):
        targets = [target.name for target, _, _ in self.targets()]
        for gone in set(self._readings) - set(targets):  # devices gone from the inventory
            del self._readings[gone]
        self._polled = {}
        families = await super().collect()
        polled, self._polled = [self._polled[target] for target in targets], {}
        self._checks = [check for check, _ in polled]
        own = self.own_families(())
        return [*families, *(Rendered(family, (lines[key] for _, lines in polled if key in lines))
                             for key, family in own.items() if any(key in lines for _, lines in polled))]

    async def _probe_one(self, limit, target, name, check):
        # judged and rendered as each poll ends, so that a device's samples (~340) do not outlive it:
        # the run holds each device's lines as bytes, not 170,000 samples for 500 switches
        outcome = await super()._probe_one(limit, target, name, check)
        lines = {key: family.render()[2] for key, family in self.own_families([outcome]).items() if family.samples}
        self._polled[target.name] = (self.judge(outcome), lines)
        outcome.samples = []
        return outcome

    def checks(self, metrics):
        return iter(self._checks)

    async def probe(self, target, check):
        from gufo.snmp import SnmpAuthError, SnmpDecodeError, SnmpError
        from gufo.snmp.aio import SnmpSession

        # gufo-snmp gives every session its own connected UDP socket: one a device poll, closed
        # with the session at the end of the probe, so at most `concurrency` are open at once
        session = SnmpSession(await _address(target.address, check.port), check.port,
                              timeout=self.settings.request_timeout, **self._credentials(check))
        family = resource_family(target.platform)
        walk = Walk(SYSTEM, {**INTERFACE_COLUMNS, **RESOURCE_COLUMNS[family]}, self.settings.max_rows)
        try:
            await self._ask(session.refresh)  # SNMPv3: discovers the engine, its boots and time
            scalars = {dotted(oid) + ".0": name for name, oid in SYSTEM.items()}
            for oid, value in (await self._ask(lambda: session.get_many(list(scalars)))).items():
                walk.values[scalars[oid]] = value
            for name, column in walk.columns.items():
                prefix = len(dotted(column)) + 1
                rows = session.getbulk(dotted(column), self.settings.max_repetitions)
                while True:
                    try:
                        oid, value = await self._ask(rows.__anext__)
                    except StopAsyncIteration:
                        break
                    walk.add(name, tuple(map(int, oid[prefix:].split("."))),
                             _oid(value) if isinstance(value, str) else value)
        except WalkError as err:
            raise CollectorError("protocol", str(err)) from None
        except SnmpAuthError:
            raise CollectorError("auth", "the agent refused the SNMPv3 credentials (an unknown user, a wrong "
                                         "auth key, or a clock out of its time window)") from None
        except SnmpDecodeError as err:
            raise CollectorError("parse", f"an answer that is not an SNMP message ({err})") from None
        except SnmpError as err:
            raise CollectorError("protocol", str(err)) from None
        device = assemble(walk, family, check.uplinks)
        now = reading(device, self._clock())
        ratios = utilization(self._readings.get(target.name), now, {i.index: i.speed_bps for i in device.interfaces})
        self._readings[target.name] = now
        return _samples(device, ratios)

    async def _ask(self, request):
        """One SNMP request, sent again `retries` times while no answer (or no SNMP answer) comes."""
        for attempt in range(self.settings.retries + 1):
            try:
                return await request()
            except BaseException as err:
                # imported here, not per call: a walk asks once per row (gufo-snmp hands a GETBULK
                # answer's rows out one by one), and the import statement was 5 % of a poll's CPU
                from gufo.snmp import SnmpDecodeError

                last = attempt == self.settings.retries
                if isinstance(err, (TimeoutError, SnmpDecodeError)):  # a stray datagram may be followed by the answer
                    if last:
                        raise
                # gufo-snmp 0.13 panics (pyo3's PanicException, a BaseException) on a BER length that runs
                # past the datagram's end (src/ber/header.rs): an answer that is not SNMP, like the above
                elif type(err).__name__ != "PanicException":
                    raise
                elif last:
                    raise SnmpDecodeError(f"undecodable datagram: {err}") from None

    def _credentials(self, check) -> dict:
        """SnmpSession's keyword arguments for a check; a missing secret is a config failure."""
        import gufo.snmp as gufo

        if check.version == "2c":
            return {"community": self._secret(check.community_env, "community_env")}
        if not check.username:
            raise CollectorError("config", "an SNMPv3 check needs a username")
        level, keys = check.security_level, {}
        if level != "noAuthNoPriv":
            auth = getattr(gufo, _AUTH_KEYS[check.auth_protocol])
            keys["auth_key"] = auth(self._secret(check.auth_key_env, "auth_key_env").encode())
        if level == "authPriv":
            if check.priv_protocol not in _PRIV_KEYS:
                raise CollectorError("config", f"priv_protocol {check.priv_protocol} is not supported (gufo-snmp "
                                               f"has {', '.join(_PRIV_KEYS)})")
            priv = getattr(gufo, _PRIV_KEYS[check.priv_protocol])
            keys["priv_key"] = priv(self._secret(check.priv_key_env, "priv_key_env").encode())
        # AES-192/256 keys stretched as Cisco does (Reeder), as pysnmp's USM_PRIV_CFB*_AES did before
        return {"user": gufo.User(check.username, **keys, key_expansion=gufo.KeyExpansion.Cisco)}

    def _secret(self, variable: str | None, field: str) -> str:
        if not variable:
            raise CollectorError("config", f"the snmp check sets no {field} (the environment variable to read)")
        value = self._environ.get(variable)
        if not value:
            raise CollectorError("config", f"environment variable {variable} ({field}) is not set")
        return value

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


async def _address(host: str, port: int) -> str:
    """An IP address for the host: gufo-snmp takes no names."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        return found[0][4][0]


def _oid(value: str) -> Oid | str:
    """An OBJECT IDENTIFIER value (gufo-snmp gives it dotted) as a tuple, as _snmp_tables wants."""
    try:
        return tuple(map(int, value.split(".")))
    except ValueError:
        return value


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
