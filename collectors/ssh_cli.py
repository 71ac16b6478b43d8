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

Host keys are checked against a known_hosts file the operator controls. A device seen for
the first time has its key recorded there (trust on first use, logged with its
fingerprint); a key that differs from the recorded one is refused, naming the device and
both fingerprints. Nothing is accepted silently.

Credentials come from the environment variables the check names (`password_env`,
`secret_env`) or a key file; they never appear in a metric, a log line or an error text.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from agent.checks import Check, State, above, worst
from agent.collector import CollectorError, register
from agent.probe import Outcome, Probe, ProbeSettings, Sample
from agent.schema import Duration
from collectors import _cli_cisco_ios, _cli_huawei
from collectors._cli import COUNTERS, GROUPS, Interface, Neighbor, ParseError, Version, interface_key

# netmiko device_type -> the parsers of its CLI
PLATFORMS: dict[str, ModuleType] = {"cisco_ios": _cli_cisco_ios, "cisco_xe": _cli_cisco_ios,
                                    "huawei": _cli_huawei, "huawei_vrpv8": _cli_huawei}


@dataclass
class SshSettings(ProbeSettings):
    interval: Duration = 60.0
    timeout: Duration = 55.0
    concurrency: int = 20  # devices polled at once, one worker thread each (benchmarks/README.md)
    probe_timeout: Duration = 30.0
    connect_timeout: Duration = 10.0  # TCP connect, SSH banner, authentication: each
    command_timeout: Duration = 20.0  # one command's whole output
    known_hosts: str = "/var/lib/egov-agent/ssh_known_hosts"  # a check's known_hosts overrides it

    def problems(self):
        yield from super().problems()
        if not 0 < self.connect_timeout < self.probe_timeout:
            yield "connect_timeout", f"must be more than 0 and less than the probe_timeout ({self.probe_timeout:g}s)"
        if not 0 < self.command_timeout <= self.probe_timeout:
            yield "command_timeout", f"must be more than 0 and at most the probe_timeout ({self.probe_timeout:g}s)"


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
    SAMPLE = """\
ssh:
  interval: 60s
  timeout: 55s
  concurrency: 20         # devices polled at once, one worker thread each
  probe_timeout: 30s      # one device, login to logout; longer fails with reason timeout
  connect_timeout: 10s    # TCP connect, SSH banner and authentication, each
  command_timeout: 20s    # one command's output
  # host keys: recorded on first contact, a changed key is refused (a check's known_hosts overrides)
  known_hosts: /var/lib/egov-agent/ssh_known_hosts
"""
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
        parsers = PLATFORMS.get(target.platform or "")
        if parsers is None:
            raise CollectorError("config", f"platform {target.platform!r} is not one the ssh collector reads "
                                           f"(it reads {', '.join(PLATFORMS)})")
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
        connection = login(target, check, logins, known_hosts, self.settings.connect_timeout, self.log)
        command = ""
        try:
            found: dict[str, object] = {}
            for group in check.commands or GROUPS:
                for candidate in parsers.COMMANDS[group]:
                    command = candidate.command
                    read_timeout = max(1.0, min(self.settings.command_timeout, deadline - time.monotonic()))
                    value = candidate.parse(connection.send_command(command, read_timeout=read_timeout))
                    if value is not None:
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
            closed = connection.remote_conn is None or connection.remote_conn.closed
            raise failure(err, target.name, f"{target.address}:{check.port}", repr(command), known_hosts,
                          closed) from None
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
    expected_site: str
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
            findings.append(Finding(interface, expected, State.UNKNOWN,
                                    f"uplink {interface}: the device runs neither LLDP nor CDP"))
            continue
        if interface_key(declared) not in names:
            findings.append(Finding(interface, expected, State.UNKNOWN, f"uplink {declared}: not on the device"))
            continue
        seen = [n for n in facts.neighbors if interface_key(n.interface) == interface_key(declared)]
        if not seen:
            findings.append(Finding(interface, expected, State.WARNING,
                                    f"uplink {interface}: no LLDP/CDP neighbour, expected a device of {expected}"))
            continue
        neighbor = seen[0]
        host = neighbor_host(neighbor, inventory)
        site = host.site if host else ""
        if host and expected in (s.name for s in inventory.path(site)):  # the uplink site, or a rack of it
            findings.append(Finding(interface, expected, State.OK,
                                    f"uplink {interface} → {host.name} ({site})", neighbor, site))
        elif host:
            findings.append(Finding(interface, expected, State.CRITICAL,
                                    f"uplink {interface} is cabled to {host.name} of {site}, "
                                    f"expected a device of {expected}", neighbor, site))
        else:
            findings.append(Finding(interface, expected, State.WARNING,
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


def credentials(check, environ: Mapping[str, str]) -> dict:
    """netmiko's keyword arguments for logging in as the ssh check says, the secrets from the
    environment variables it names; a missing one is a config failure."""
    def secret(variable: str | None, field: str) -> str:
        if not variable:
            return ""
        value = environ.get(variable)
        if not value:
            raise CollectorError("config", f"environment variable {variable} ({field}) is not set")
        return value

    if not check.username:
        raise CollectorError("config", "the ssh check sets no username")
    if not check.password_env and not check.key_file:
        raise CollectorError("config", "the ssh check sets neither password_env nor key_file")
    found = {"username": check.username, "password": secret(check.password_env, "password_env"),
             "secret": secret(check.secret_env, "secret_env")}
    if check.key_file:
        if not os.access(check.key_file, os.R_OK):
            raise CollectorError("config", f"key_file {check.key_file} cannot be read")
        found.update(use_keys=True, key_file=check.key_file)
    return found


def login(target, check, logins: dict, known_hosts: Path, timeout: float, log: logging.Logger):
    """A session on the device (a `session_class`): its host key checked against known_hosts,
    recorded on first contact; logged in with `logins` (credentials()); enabled when there is
    a secret. CollectorError with the reason when not. `timeout`: TCP connect, SSH banner and
    authentication, each. The caller closes it (close())."""
    where = f"{target.address}:{check.port}"
    try:
        KnownHosts(known_hosts, log).ensure(target, check.port, timeout)
        connection = session_class(target.platform, PLATFORMS[target.platform].LOGOUT)(
            device_type=target.platform, host=target.address, port=check.port, **logins,
            allow_agent=False, ssh_strict=True, alt_key_file=str(known_hosts),
            conn_timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    except Exception as err:
        raise failure(err, target.name, where, "logging in", known_hosts) from None
    try:
        if logins["secret"] and not connection.check_enable_mode():
            connection.enable()
    except Exception as err:
        closed = connection.remote_conn is None or connection.remote_conn.closed
        close(connection)
        raise failure(err, target.name, where, "'enable'", known_hosts, closed) from None
    return connection


def close(connection) -> None:
    """Log out of a session; one the device already closed is no error."""
    try:
        connection.disconnect()
    except Exception:
        pass


@functools.cache
def session_class(device_type: str, logout: str) -> type:
    """netmiko's class for the platform, with two changes. Host keys: paramiko is given the
    recorded keys of this one device from the parsed known_hosts (netmiko's alt_key_file
    would have it read and parse the whole file again for every session: 200 devices of 200
    lines each cycle), and refuses a device not in it. Logging out: straight away, without
    netmiko's check for configuration mode, which these sessions never enter and which on
    Huawei waits 2 s for silence."""
    import paramiko
    from netmiko import ssh_dispatcher

    def _build_ssh_client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        entry = host_key_entry(f"{self.host}:{self.port}")
        for kind, key in KnownHosts(Path(self.alt_key_file)).known(entry).items():
            client.get_host_keys().add(entry, kind, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return client

    def cleanup(self, command: str = "") -> None:
        self.write_channel(logout + self.RETURN)

    base = ssh_dispatcher(device_type)
    return type(f"ReadOnly{base.__name__}", (base,), {"_build_ssh_client": _build_ssh_client, "cleanup": cleanup})


def failure(err: Exception, target: str, where: str, doing: str, known_hosts: Path,
            closed: bool = False) -> CollectorError:
    """A netmiko/paramiko exception as one of the fixed reasons, with a detail of our own
    words: the library's messages can carry the device settings and are long."""
    import paramiko
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

    if isinstance(err, CollectorError):
        return err
    cause = err.__context__ if isinstance(err, NetmikoTimeoutException) else err
    if isinstance(cause, paramiko.BadHostKeyException):
        return CollectorError("tls", f"{target} ({where}) presents host key {cause.key.fingerprint}, but "
                                     f"{known_hosts} holds {cause.expected_key.fingerprint} for it: refused. If the "
                                     f"device was replaced, remove the old key "
                                     f"(ssh-keygen -R '{host_key_entry(where)}' -f {known_hosts})")
    if isinstance(cause, paramiko.SSHException) and "not found in known_hosts" in str(cause):
        return CollectorError("tls", f"{target} ({where}) has no recorded host key in {known_hosts}: refused")
    if isinstance(err, NetmikoAuthenticationException) or isinstance(cause, paramiko.AuthenticationException):
        return CollectorError("auth", f"{where} refused the login")
    if isinstance(cause, paramiko.ssh_exception.NoValidConnectionsError):
        codes = {e.errno for e in cause.errors.values()}
        return CollectorError("connect", "connection refused" if codes == {errno.ECONNREFUSED}
                              else f"cannot connect to {where}")
    if isinstance(cause, ConnectionRefusedError):
        return CollectorError("connect", "connection refused")
    if closed or isinstance(err, (EOFError, ConnectionError)):
        return CollectorError("connect", f"the device closed the connection while {doing}")
    if isinstance(err, (NetmikoTimeoutException, ReadTimeout, socket.timeout, paramiko.SSHException)):
        return CollectorError("timeout", f"no complete answer while {doing}")
    if isinstance(err, OSError):
        return CollectorError("connect", f"{err.strerror or type(err).__name__} while {doing}")
    return CollectorError("error", f"{type(err).__name__} while {doing}")


def host_key_entry(where: str) -> str:
    """known_hosts' name for an address:port ('[addr]:port' unless the port is 22)."""
    address, _, port = where.rpartition(":")
    return address if port == "22" else f"[{address}]:{port}"


class KnownHosts:
    """The operator's known_hosts file, parsed once and again only when it changes. A device
    seen for the first time has its key recorded there (and logged); for a known device
    paramiko compares what it presents with what is recorded, and refuses a changed key."""

    _lock = threading.Lock()  # one reader or writer at a time, across all sessions of this process
    _parsed: dict[Path, tuple[tuple[int, int], object]] = {}  # path -> ((mtime_ns, size), paramiko HostKeys)

    def __init__(self, path: Path, log: logging.Logger | None = None):
        self.path, self.log = path, log

    def known(self, entry: str) -> dict:
        """The recorded keys of `entry` ('[address]:port'), by key type; empty if none."""
        with self._lock:
            return dict(self._keys().lookup(entry) or {})

    def _keys(self):
        import paramiko

        try:
            stat = self.path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            version = (0, 0)
        cached = self._parsed.get(self.path)
        if cached is None or cached[0] != version:
            keys = paramiko.HostKeys()
            if version != (0, 0):
                keys.load(str(self.path))
            self._parsed[self.path] = cached = (version, keys)
        return cached[1]

    def ensure(self, target, port: int, timeout: float) -> None:
        entry = host_key_entry(f"{target.address}:{port}")
        if self.known(entry):
            return
        key = fetch_host_key(target.address, port, timeout)
        with self._lock:
            keys = self._keys()
            if keys.lookup(entry):  # another session recorded it meanwhile
                return
            if not self.path.parent.is_dir():
                raise CollectorError("config", f"known_hosts {self.path}: directory {self.path.parent} does not exist")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as f:
                f.write(f"{entry} {key.get_name()} {key.get_base64()}\n")
            keys.add(entry, key.get_name(), key)
            stat = self.path.stat()
            self._parsed[self.path] = ((stat.st_mtime_ns, stat.st_size), keys)
        self.log.warning("recorded the SSH host key of a device seen for the first time",
                         extra={"target": target.name, "address": entry, "fingerprint": key.fingerprint,
                                "known_hosts": str(self.path)})


def fetch_host_key(address: str, port: int, timeout: float):
    """The host key a device presents, from a key exchange without logging in."""
    import paramiko

    sock = socket.create_connection((address, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()
