"""Routers and switches over their SSH command line: every inventory device with an `ssh` check.

For gear without SNMP, or to see what SNMP does not show (LLDP/CDP neighbours), the agent
logs in with netmiko (the inventory's `egov_platform` is netmiko's device_type), runs a
few read-only commands and parses them with the pure parsers beside this file
(`_cli_cisco_ios`, `_cli_huawei`): interface state and counters, version and uptime, CPU
and memory. An interface the inventory lists in `uplinks` carries uplink="true" (as in the
snmp collector), and its LLDP (or CDP) neighbour must be a device of the site's uplink site
(`egov_uplink`): a commune office cabled to the wrong PoP is reported as
`egov_ssh_uplink_neighbor_mismatch 1` and a CRITICAL `uplink_neighbor` check.

Sessions: netmiko is blocking, so each device's session runs in a worker thread, in a pool
of exactly `concurrency` threads made for each run (asyncio.to_thread's default pool holds
min(32, CPUs + 4) threads, 6 on a two-core box, which would cap the base's concurrency
without saying so); past about 20 threads the GIL costs more CPU than the cycle gains
(benchmarks/README.md). A session is opened and closed in each run: IOS and VRP give 5 vty
lines by default, and one held per device between polls would be one fewer for the
operators and for provisioning; logging in costs 0.2-0.3 s and 10-20 ms of CPU a device
each 60 s. netmiko's timeouts (connect, banner, authentication, each command, the last
ones cut to what remains of probe_timeout) end a worker thread soon after its probe is
given up.

Logging in, credentials and host keys: collectors/_ssh_session.py, the one session layer
the backup and provisioning use too. The platforms it reads: agent/platforms.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import ClassVar, Literal

from agent import platforms
from agent.checks import Check, State, above, worst
from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Outcome, Probe, ProbeSettings, Sample
from agent.schema import Duration, Port, Ratio
from collectors._cli import COUNTERS, GROUPS, Interface, Neighbor, ParseError, Version, interface_key
from collectors._ssh_session import DEFAULT_KNOWN_HOSTS, close, credentials, failure, is_closed, login


@dataclass
class SshSettings(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 55.0
    concurrency: int = 20  # devices polled at once, one worker thread each (benchmarks/README.md)
    probe_timeout: Duration = 30.0  # one device, login to logout; longer fails with reason timeout
    connect_timeout: Duration = 10.0  # TCP connect, SSH banner, authentication: each
    command_timeout: Duration = 20.0  # one command's whole output
    # host keys: recorded on first contact, a changed key is refused; a check's known_hosts overrides it
    known_hosts: str = DEFAULT_KNOWN_HOSTS

    def problems(self):
        yield from super().problems()
        if not 0 < self.connect_timeout < self.probe_timeout:
            yield "connect_timeout", f"must be more than 0 and less than the probe_timeout ({self.probe_timeout:g}s)"
        if not 0 < self.command_timeout <= self.probe_timeout:
            yield "command_timeout", f"must be more than 0 and at most the probe_timeout ({self.probe_timeout:g}s)"


@dataclass
class SshCheck:
    ONE_PER_HOST: ClassVar[bool] = True  # the device's one login; the audit fetches its config through it
    """A router or switch read over its SSH command line."""

    port: Port = 22
    username: str | None = field(default=None, metadata=REQUIRED)
    password_env: str | None = None  # the NAME of the agent's environment variable holding the password
    key_file: str | None = None  # or a private key file only the agent can read
    secret_env: str | None = None  # Cisco enable secret's variable, for an account below privilege 15
    known_hosts: str | None = None  # default: the ssh collector's known_hosts setting
    # what to read; default all
    commands: tuple[Literal["version", "interfaces", "cpu", "memory", "neighbors"], ...] | None = None
    uplinks: tuple[str, ...] = ()  # interfaces cabled to the site's uplink site (egov_uplink)
    cpu_warning: Ratio | None = None
    cpu_critical: Ratio | None = None
    memory_warning: Ratio | None = None
    memory_critical: Ratio | None = None


@dataclass(frozen=True)
class Facts:
    """What one session learnt; a group the device does not offer is None."""

    name: str  # the hostname in the device's prompt
    version: Version | None
    interfaces: list[Interface]
    cpu: float | None
    memory: float | None
    neighbors: list[Neighbor] | None


_INTERFACE = ["interface", "uplink"]


@register
class SshCliCollector(Probe):
    name = "ssh"
    help = "Routers and switches over their SSH CLI (netmiko): interfaces, uptime, CPU, memory, uplink neighbours"
    Settings = SshSettings
    CheckSettings = SshCheck
    FAMILIES = {
        "interface_receive_bytes_total": ("counter", "Octets received, as the CLI counts them.", _INTERFACE),
        "interface_transmit_bytes_total": ("counter", "Octets sent, as the CLI counts them.", _INTERFACE),
        "interface_receive_packets_total": ("counter", "Packets received.", _INTERFACE),
        "interface_transmit_packets_total": ("counter", "Packets sent.", _INTERFACE),
        "interface_receive_errors_total": ("counter", "Inbound packets with errors.", _INTERFACE),
        "interface_transmit_errors_total": ("counter", "Outbound packets with errors.", _INTERFACE),
        "interface_admin_up": ("gauge", "1 if the interface is administratively up (not shut down).", _INTERFACE),
        "interface_oper_up": ("gauge", "1 if the interface's line protocol is up.", _INTERFACE),
        "uptime_seconds": ("gauge", "Time since the device booted, as it reports it.", []),
        "cpu_utilization_ratio": ("gauge", "CPU utilisation over the last minute.", []),
        "memory_utilization_ratio": ("gauge", "Share of memory in use.", []),
        "device_info": ("gauge", "Hostname, model, software version and serial as the device reports them; "
                                 "always 1.", ["name", "model", "version", "serial"]),
        "uplink_neighbor_mismatch": ("gauge", "1 if the LLDP/CDP neighbour on an uplink is not a device of the "
                                              "site's uplink site (egov_uplink), 0 if it is.", ["interface"]),
        "uplink_neighbor_info": ("gauge", "The LLDP/CDP neighbour seen on an uplink; always 1.",
                                 ["interface", "neighbor", "neighbor_interface", "neighbor_site"]),
    }

    def __init__(self, settings=None, context=None, environ=os.environ):
        super().__init__(settings, context)
        self._environ = environ
        self._pool: ThreadPoolExecutor | None = None
        self._uplinks: dict[str, list[Finding]] = {}  # target -> this run's uplink findings

    async def collect(self):
        # paramiko's transport thread logs a traceback for every failed handshake; each failure
        # is reported once, as a reason, by the probe base
        logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
        self._uplinks = {}
        self._pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="ssh")
        try:
            return await super().collect()
        finally:
            # a session past its probe_timeout ends on netmiko's own timeouts; nobody waits for it
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def probe(self, target, check):
        platform = platforms.get(target.platform)
        if platform is None:
            raise CollectorError("config", f"platform {target.platform!r} is not one the ssh collector reads "
                                           f"(it reads {platforms.names()})")
        parsers = platform.parsers()
        logins = credentials(check, self._environ)
        deadline = time.monotonic() + self.settings.probe_timeout
        loop = asyncio.get_running_loop()
        facts = await loop.run_in_executor(self._pool, self._session, target, check, parsers, logins, deadline)
        findings = uplink_findings(target, check.uplinks, facts, self.context.inventory)
        self._uplinks[target.name] = findings
        return samples(facts, check.uplinks, findings)

    def _session(self, target, check, parsers: ModuleType, logins: dict, deadline: float) -> Facts:
        """Log in, run the commands, log out: in a worker thread."""
        known_hosts = Path(check.known_hosts or self.settings.known_hosts)
        connection = login(target.name, target.platform, target.address, check.port, logins, known_hosts,
                           self.settings.connect_timeout, self.log)
        command = ""
        try:
            found: dict[str, object] = {}
            for group in check.commands or GROUPS:
                for candidate in parsers.COMMANDS[group]:
                    command = candidate.command
                    read_timeout = max(1.0, min(self.settings.command_timeout, deadline - time.monotonic()))
                    value = candidate.parse(connection.send_command(command, read_timeout=read_timeout))
                    if value == []:  # LLDP sees no neighbour; the uplink's peer may speak only CDP, asked next
                        found.setdefault(group, value)
                    elif value is not None:
                        found[group] = value
                        break
            for group in ("version", "interfaces"):
                if group in (check.commands or GROUPS) and group not in found:
                    tried = " and ".join(repr(c.command) for c in parsers.COMMANDS[group])
                    raise ParseError(f"the device rejects {tried}")
            return Facts(connection.base_prompt, found.get("version"), found.get("interfaces", []),
                         found.get("cpu"), found.get("memory"), found.get("neighbors"))
        except ParseError as err:
            raise CollectorError("parse", str(err)) from None
        except Exception as err:
            raise failure(err, target.name, f"{target.address}:{check.port}", repr(command), known_hosts,
                          is_closed(connection)) from None
        finally:
            close(connection)

    def evaluate(self, outcome: Outcome) -> Check:
        """CPU and memory against the check's thresholds; a declared uplink that is down is critical."""
        check, problems, states = outcome.check, [], [State.OK]
        values = {sample.family: sample.value for sample in outcome.samples if not sample.labels}
        interfaces = [sample for sample in outcome.samples if sample.family == "interface_oper_up"]
        facts = [f"{len(interfaces)} interfaces, {sum(s.value for s in interfaces):.0f} up"]
        thresholds = {}
        for what, family in (("cpu", "cpu_utilization_ratio"), ("memory", "memory_utilization_ratio")):
            warning, critical = getattr(check, f"{what}_warning"), getattr(check, f"{what}_critical")
            levels = {f"{what}_warning": warning, f"{what}_critical": critical}
            thresholds.update({name: value for name, value in levels.items() if value is not None})
            if family in values:
                states.append(above(values[family], warning, critical))
                facts.append(f"{what} {values[family]:.0%}")
                if states[-1] is not State.OK:
                    problems.append(f"{what} at {values[family]:.0%}")
        for sample in interfaces:
            if sample.labels[1] == "true" and sample.value == 0:
                states.append(State.CRITICAL)
                problems.append(f"uplink {sample.labels[0]} is down")
        return Check(self.name, outcome.target.name, worst(states), "; ".join(problems) or ", ".join(facts),
                     values.get("cpu_utilization_ratio"), thresholds)

    def checks(self, metrics):
        yield from super().checks(metrics)
        for target, findings in self._uplinks.items():
            if findings:
                yield Check("uplink_neighbor", target, worst(f.state for f in findings),
                            "; ".join(f.summary for f in findings))


# ------------------------------------------------------------------ pure parts, tested directly

@dataclass(frozen=True)
class Finding:
    """What was seen on one uplink the inventory declares."""

    interface: str  # as the device names it (as declared when the device has no such interface)
    state: State
    summary: str
    neighbor: Neighbor | None = None
    neighbor_site: str = ""  # "" when the neighbour is not a host of the inventory

    @property
    def mismatch(self) -> bool | None:
        return None if self.neighbor is None else self.state is not State.OK


def uplink_findings(target, uplinks, facts: Facts, inventory) -> list[Finding]:
    """Each declared uplink's neighbour against the site's uplink site (egov_uplink)."""
    if not uplinks or inventory is None:
        return []
    expected = inventory.site(target.site).uplink
    if expected is None:  # the root site hangs from nothing
        return []
    names = {interface_key(i.name): i.name for i in facts.interfaces}
    findings = []
    for declared in uplinks:
        interface = names.get(interface_key(declared), declared)
        if facts.neighbors is None:
            findings.append(Finding(interface, State.UNKNOWN,
                                    f"uplink {interface}: the device runs neither LLDP nor CDP"))
            continue
        if interface_key(declared) not in names:
            findings.append(Finding(interface, State.UNKNOWN, f"uplink {declared}: not on the device"))
            continue
        seen = [n for n in facts.neighbors if interface_key(n.interface) == interface_key(declared)]
        if not seen:
            findings.append(Finding(interface, State.WARNING,
                                    f"uplink {interface}: no LLDP/CDP neighbour, expected a device of {expected}"))
            continue
        neighbor = seen[0]
        host = neighbor_host(neighbor, inventory)
        site = host.site if host else ""
        if host and expected in (s.name for s in inventory.path(site)):  # the uplink site, or a rack of it
            findings.append(Finding(interface, State.OK,
                                    f"uplink {interface} → {host.name} ({site})", neighbor, site))
        elif host:
            findings.append(Finding(interface, State.CRITICAL,
                                    f"uplink {interface} is cabled to {host.name} of {site}, "
                                    f"expected a device of {expected}", neighbor, site))
        else:
            findings.append(Finding(interface, State.WARNING,
                                    f"uplink {interface} is cabled to {neighbor.system_name or neighbor.port!r}, "
                                    f"which is not in the inventory; expected a device of {expected}", neighbor))
    return findings


def neighbor_host(neighbor: Neighbor, inventory):
    """The inventory host a neighbour is: by its system name (without a domain), else by its
    management address."""
    name = neighbor.system_name.split(".")[0].lower()
    for host in inventory.hosts.values():
        if name and host.name.lower() == name:
            return host
    for host in inventory.hosts.values():
        if neighbor.address and host.address == neighbor.address:
            return host
    return None


def samples(facts: Facts, uplinks, findings: list[Finding]) -> list[Sample]:
    out = []
    if facts.version is not None:
        version = facts.version
        out.append(Sample("device_info", 1.0, (facts.name, version.model, version.version, version.serial)))
        if version.uptime_seconds is not None:
            out.append(Sample("uptime_seconds", version.uptime_seconds))
    if facts.cpu is not None:
        out.append(Sample("cpu_utilization_ratio", facts.cpu))
    if facts.memory is not None:
        out.append(Sample("memory_utilization_ratio", facts.memory))
    declared = {interface_key(name) for name in uplinks}
    for interface in facts.interfaces:
        labels = (interface.name, "true" if interface_key(interface.name) in declared else "false")
        out.append(Sample("interface_admin_up", float(interface.admin_up), labels))
        out.append(Sample("interface_oper_up", float(interface.oper_up), labels))
        for counter in COUNTERS:
            value = getattr(interface, counter)
            if value is not None:
                out.append(Sample(f"interface_{counter}_total", float(value), labels))
    for finding in findings:
        if finding.neighbor is not None:
            out.append(Sample("uplink_neighbor_mismatch", float(finding.mismatch), (finding.interface,)))
            out.append(Sample("uplink_neighbor_info", 1.0, (finding.interface, finding.neighbor.system_name,
                                                            finding.neighbor.port, finding.neighbor_site)))
    return out
