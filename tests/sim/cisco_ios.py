"""A Cisco IOS router (or Catalyst switch) over SSH: fake-switches, patched where it falls short.

fake-switches 1.5 gives a stateful IOS CLI (configure terminal, interfaces, VLANs, write
memory) over Twisted conch. Its stock gaps, and what this module does about each:

- `show interfaces` prints nothing and `show ip interface brief` kills the session: both
  are rendered here from the port state, with counters that grow, in IOS's format;
- `show version` is a C3750 with a fixed uptime: here the device's own model, serial and
  an uptime that advances;
- `show running-config` lists only VLANs and interfaces: here a whole IOS config, and
  every global or interface command fake-switches does not model is kept in it
  (`no <command>` removes it), so provisioning can change it and audit can read it;
- no `end` in configuration mode, no `show privilege`, no `terminal` in user mode, no
  `| section`, no `copy running-config startup-config`, no `hostname`, no loopbacks;
- unknown commands answer "No such command"; IOS says "% Invalid input detected";
  `write memory` answers "OK", IOS "[OK]";
- the enable password is compared with the line as typed: passwords are kept as str
  here (handing it bytes, as its SSH user table wants, makes enable never match);
- one RSA host key for every device: here each device has its own (tests/sim/__init__.py),
  and the SSH banner says Cisco, not Twisted.

Added: `show processes cpu`, `show processes memory sorted`, LLDP and CDP neighbours
(`show lldp neighbors [detail]`, `show cdp neighbors [detail]`), `lldp run` / `cdp run`,
`line con 0` / `line vty 0 4` blocks (a setting replaces the one of the same keyword, as
`exec-timeout 5 0` replaces `exec-timeout 10 0`), `ip X` / `no ip X` lines other than
`ip vrf` and `ip route` (which fake-switches takes and forgets) kept like other global lines.

Test hook (no IOS command): `simulate reject <config line>` in privileged mode makes the
device answer that configuration line with "% Invalid input" until `simulate accept <line>`,
so provisioning tests can have a device refuse one command half-way.
"""

from __future__ import annotations

import hashlib
import logging
import re

from fake_switches.cisco.cisco_core import BaseCiscoSwitchCore, CiscoShellSession
from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
from fake_switches.cisco.command_processor.config_interface import ConfigInterfaceCommandProcessor
from fake_switches.cisco.command_processor.config_vlan import ConfigVlanCommandProcessor
from fake_switches.cisco.command_processor.config_vrf import ConfigVRFCommandProcessor
from fake_switches.cisco.command_processor.default import DefaultCommandProcessor
from fake_switches.cisco.command_processor.enabled import (EnabledCommandProcessor, build_running_interface,
                                                           build_running_vlan, build_static_routes)
from fake_switches.cisco.command_processor.piping import PipingProcessor
from fake_switches.command_processing.base_command_processor import BaseCommandProcessor
from fake_switches.switch_configuration import Port, SwitchConfiguration, VlanPort
from fake_switches.terminal import LoggingTerminalController
from netaddr import IPNetwork

from tests.sim import Clock, Device, host_key


class RoutedPort(VlanPort):
    """A router's port: takes `ip address` like an SVI (fake-switches' Port does not)."""

    def __init__(self, name: str):
        super().__init__(None, name)


class Sim:
    """What fake-switches does not keep: the spec, the clock, link states, LLDP and CDP, the
    global config lines it does not model."""

    def __init__(self, device: Device, clock: Clock):
        self.device, self.clock = device, clock
        self.links = {p.name: p.up for p in device.ports}
        self.lldp, self.cdp = device.lldp, device.cdp
        self.global_lines: list[str] = []
        self.line_blocks: dict[str, list[str]] = {"line con 0": ["exec-timeout 10 0"],
                                                  "line vty 0 4": ["exec-timeout 10 0", "login local",
                                                                   "transport input ssh"]}
        self.rejected: set[str] = set()  # config lines answered with "% Invalid input" (test hook)

    def rejects(self, processor, line: str) -> bool:
        """Answer a line the test made the device reject, as IOS does an unknown one."""
        if " ".join(line.split()) not in self.rejected:
            return False
        for text in invalid_input():
            processor.write_line(text)
        return True

    def keep(self, lines: list[str], line: str) -> None:
        """Store a config line as IOS would show it; `no X` removes X."""
        line = _hide_secrets(line.strip())
        if line.startswith("no "):  # `no snmp-server community public` removes `... public RO` too
            removed = [have for have in lines if have == line[3:] or have.startswith(line[3:] + " ")]
            if removed:
                lines[:] = [have for have in lines if have not in removed]
                return
        elif "no " + line in lines:
            lines.remove("no " + line)
        if line not in lines:
            lines.append(line)


def _hide_secrets(line: str) -> str:
    """`secret X` is shown as a type-9 hash, as IOS does; the password itself never is."""
    def hashed(match):
        return f"secret 9 $9${hashlib.sha256(match[1].encode()).hexdigest()[:40]}"
    return re.sub(r"secret (?!\d )(\S+)", hashed, line)


def _is(word: str | None, keyword: str, shortest: int = 1) -> bool:
    """IOS keyword abbreviation: 'int' is 'interfaces'."""
    return word is not None and len(word) >= shortest and keyword.lower().startswith(word.lower())


class _Ends:
    """`end` leaves configuration mode from any depth."""

    ended = False

    def do_end(self):
        self.ended = self.is_done = True


class ConfigInterface(_Ends, ConfigInterfaceCommandProcessor):
    def parse_and_execute_command(self, line):
        if self.switch_configuration.sim.rejects(self, line) or super().parse_and_execute_command(line):
            return True
        self.switch_configuration.sim.keep(self.port.vendor_specific.setdefault("lines", []), line)
        return True


class ConfigVlan(_Ends, ConfigVlanCommandProcessor):
    pass


class ConfigLine(_Ends, BaseCommandProcessor):
    """`line con 0`, `line vty 0 4`: a setting replaces the one of the same keyword."""

    def init(self, switch_configuration, terminal_controller, logger, piping_processor, *args):
        super().init(switch_configuration, terminal_controller, logger, piping_processor)
        self.lines = args[0]

    def get_prompt(self):
        return self.switch_configuration.name + "(config-line)#"

    def do_exit(self):
        self.is_done = True

    def parse_and_execute_command(self, line):
        words = line.split()
        if not words or self.switch_configuration.sim.rejects(self, line):
            return True
        if _is(words[0], "exit", 2) or _is(words[0], "end", 2):
            return super().parse_and_execute_command(line)
        negated = words[0] == "no"
        keyword = words[1:3] if negated else words[:2] if words[0] == "transport" else words[:1]
        self.lines[:] = [have for have in self.lines if have.split()[:len(keyword)] != keyword]
        if not negated:
            self.lines.append(" ".join(words))
        return True


class ConfigVrf(_Ends, ConfigVRFCommandProcessor):
    pass


class Config(_Ends, ConfigCommandProcessor):
    def delegate_to_sub_processor(self, line):
        processed = self.sub_processor.process_command(line)
        if self.sub_processor.is_done:
            ended = self.sub_processor.ended
            self.sub_processor = None
            if ended:
                self.ended = self.is_done = True
            else:
                self.show_prompt()
        return processed

    def parse_and_execute_command(self, line):
        sim = self.switch_configuration.sim
        if sim.rejects(self, line) or super().parse_and_execute_command(line):
            return True
        sim.keep(sim.global_lines, line)
        return True

    def do_ip(self, cmd, *args):  # fake-switches models `ip vrf` and `ip route` only
        if "vrf".startswith(cmd) or "route".startswith(cmd):
            super().do_ip(cmd, *args)
        else:
            self.switch_configuration.sim.keep(self.switch_configuration.sim.global_lines, " ".join(("ip", cmd, *args)))

    def do_no_ip(self, cmd, *args):
        if "vrf".startswith(cmd) or "route".startswith(cmd):
            super().do_no_ip(cmd, *args)
        else:
            self.switch_configuration.sim.keep(self.switch_configuration.sim.global_lines,
                                               " ".join(("no", "ip", cmd, *args)))

    def do_line(self, *args):
        header = "line " + " ".join(args)
        self.move_to(ConfigLine(), self.switch_configuration.sim.line_blocks.setdefault(header, []))

    def do_hostname(self, name):
        self.switch_configuration.name = name

    def do_lldp(self, *args):
        if args[:1] == ("run",):
            self.switch_configuration.sim.lldp = True

    def do_no_lldp(self, *args):
        if args[:1] == ("run",):
            self.switch_configuration.sim.lldp = False

    def do_cdp(self, *args):
        if args[:1] == ("run",):
            self.switch_configuration.sim.cdp = True

    def do_no_cdp(self, *args):
        if args[:1] == ("run",):
            self.switch_configuration.sim.cdp = False

    def do_interface(self, *args):
        name = "".join(args)
        known = self.switch_configuration.get_port_by_partial_name(name)
        if re.match(r"(?i)(loopback|tunnel)\d+$", name) and not known:
            port = RoutedPort(name[0].upper() + name[1:].lower())
            self.switch_configuration.add_port(port)
            self.switch_configuration.sim.links[port.name] = True
        super().do_interface(*args)


class UserMode(DefaultCommandProcessor):
    """The `>` prompt of an account without privilege 15."""

    def do_terminal(self, *args):
        pass

    def do_show(self, *args):
        if args and _is(args[0], "privilege"):
            self.write_line("Current privilege level is 1")
        else:
            self.write_line("% Type \"show ?\" for a list of subcommands")
            self.write_line("")

    def do_exit(self):
        self.is_done = True


class Enabled(EnabledCommandProcessor):
    def do_show(self, *args):
        sim = self.switch_configuration.sim
        words = list(args) + [None] * 4
        first, second, third = words[:3]
        if _is(first, "version", 2):
            lines = show_version(self.switch_configuration)
        elif _is(first, "interfaces", 2) and not _is(second, "status"):
            lines = show_interfaces(self.switch_configuration, "".join(args[1:]))
        elif _is(first, "ip") and _is(second, "interface") and _is(third, "brief"):
            lines = show_ip_interface_brief(self.switch_configuration)
        elif _is(first, "privilege", 2):
            lines = ["Current privilege level is 15"]
        elif _is(first, "running-config", 2) and second is None:
            lines = show_running_config(self.switch_configuration)
        elif _is(first, "processes", 4) and _is(second, "cpu"):
            lines = show_processes_cpu(sim)
        elif _is(first, "processes", 4) and _is(second, "memory"):
            lines = show_processes_memory(sim)
        elif _is(first, "lldp", 2) and _is(second, "neighbors"):
            lines = show_lldp(sim, detail=_is(third, "detail"))
        elif _is(first, "cdp", 2) and _is(second, "neighbors"):
            lines = show_cdp(sim, detail=_is(third, "detail"))
        elif any(_is(first, known, 2) for known in ("running-config", "vlan", "etherchannel", "ip")):
            return super().do_show(*args)
        else:
            lines = invalid_input()
        for line in lines:
            self.write_line(line)

    def do_write(self, *args):
        self.save()

    def do_simulate(self, action, *words):
        """The test hook: `simulate reject|accept <config line>`."""
        rejected = self.switch_configuration.sim.rejected
        if action == "reject":
            rejected.add(" ".join(words))
        else:
            rejected.discard(" ".join(words))

    def do_copy(self, source, destination="startup-config"):
        if _is(source, "running-config") and _is(destination, "startup-config"):
            self.write("Destination filename [startup-config]? ")
            self.continue_to(lambda _: self.save())
        else:
            super().do_copy(source, destination)

    def save(self):
        self.write_line("Building configuration...")
        self.switch_configuration.commit()
        self.write_line("[OK]")


class SectionPipe:
    """`| section X`: the lines with X and the indented lines under them."""

    def __init__(self, lookup: str):
        self.lookup, self.inside = lookup, False

    def pipe(self, data):
        if not data.startswith(" "):
            self.inside = self.lookup in data
        return data if self.inside else False


class Piping(PipingProcessor):
    def do_section(self, *args):
        return SectionPipe(" ".join(args))


class Session(CiscoShellSession):
    def handle_unknown_command(self, line):
        for text in invalid_input():
            self.command_processor.terminal_controller.write(text + "\n")


class SimCore(BaseCiscoSwitchCore):
    def new_command_processor(self):
        return Enabled(config=Config(config_vlan=ConfigVlan(), config_vrf=ConfigVrf(),
                                     config_interface=ConfigInterface()))

    def launch(self, protocol, terminal_controller):
        self.last_connection_id += 1
        self.logger = logging.getLogger(f"fake_switches.cisco.{self.switch_configuration.name}")
        processor = self.new_command_processor()
        if not self.switch_configuration.auto_enabled:
            processor = UserMode(processor)
        processor.init(self.switch_configuration, LoggingTerminalController(self.logger, terminal_controller),
                       self.logger, Piping(self.logger))
        return Session(processor)


def invalid_input() -> list[str]:
    return ["                ^", "% Invalid input detected at '^' marker.", ""]


def switch_configuration(device: Device, clock: Clock) -> SwitchConfiguration:
    switch = device.model.startswith("WS-C")
    ports = []
    for spec in device.ports:
        port = Port(spec.name) if switch else RoutedPort(spec.name)
        port.description = spec.description or None
        port.shutdown = spec.shutdown or None
        if spec.address and not switch:
            port.add_ip(IPNetwork(spec.address))
        ports.append(port)
    config = SwitchConfiguration("127.0.0.1", name=device.name, auto_enabled=not device.secret,
                                 privileged_passwords=[device.secret] if device.secret else [], ports=ports)
    config.sim = Sim(device, clock)
    return config


# ------------------------------------------------------------------ rendering, IOS 15 on an ISR G2

def _uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    parts = [(minutes // 525600, "year"), (minutes // 10080 % 52, "week"), (minutes // 1440 % 7, "day"),
             (minutes // 60 % 24, "hour"), (minutes % 60, "minute")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return ", ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts)


def _mac(device: str, port: str) -> str:
    digest = hashlib.sha256(f"{device}/{port}".encode()).hexdigest()
    return f"0c{digest[:2]}.{digest[2:6]}.{digest[6:10]}"


def show_version(config: SwitchConfiguration) -> list[str]:
    sim = config.sim
    device = sim.device
    return [
        "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5, RELEASE SOFTWARE (fc1)",
        "Technical Support: http://www.cisco.com/techsupport",
        "Copyright (c) 1986-2019 by Cisco Systems, Inc.",
        "Compiled Wed 30-Jan-19 09:58 by prod_rel_team",
        "",
        "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)",
        "",
        f"{config.name} uptime is {_uptime(device.uptime_seconds + sim.clock.elapsed())}",
        "System returned to ROM by power-on",
        'System image file is "flash0:c2900-universalk9-mz.SPA.157-3.M5.bin"',
        "Last reload type: Normal Reload",
        "Last reload reason: power-on",
        "",
        "This product contains cryptographic features and is subject to United",
        "States and local country laws governing import, export, transfer and",
        "use. Delivery of Cisco cryptographic products does not imply",
        "third-party authority to import, export, distribute or use encryption.",
        "",
        f"Cisco {device.model} (revision 1.0) with 483328K/40960K bytes of memory.",
        f"Processor board ID {device.serial}",
        f"{sum(1 for p in config.ports if p.name.startswith('Gigabit'))} Gigabit Ethernet interfaces",
        "DRAM configuration is 64 bits wide with parity enabled.",
        "255K bytes of non-volatile configuration memory.",
        "250880K bytes of ATA System CompactFlash 0 (Read/Write)",
        "",
        "Configuration register is 0x2102",
    ]


def _state(config: SwitchConfiguration, port) -> tuple[str, str]:
    if port.shutdown:
        return "administratively down", "down"
    if config.sim.links.get(port.name, True):
        return "up", "up"
    return "down", "down"


def show_interfaces(config: SwitchConfiguration, only: str = "") -> list[str]:
    ports = [config.get_port_by_partial_name(only)] if only else config.ports
    if only and ports[0] is None:
        return invalid_input()
    lines = []
    sim = config.sim
    for port in ports:
        state, protocol = _state(config, port)
        counters = sim.clock.counters(config.name, port.name, state == "up")
        loopback = port.name.startswith("Loopback")
        hardware = ("Loopback" if loopback else
                    f"EtherSVI, address is {_mac(config.name, port.name)} (bia {_mac(config.name, port.name)})"
                    if port.name.startswith("Vlan") else
                    f"CN Gigabit Ethernet, address is {_mac(config.name, port.name)} "
                    f"(bia {_mac(config.name, port.name)})")
        lines += [f"{port.name} is {state}, line protocol is {protocol} ", f"  Hardware is {hardware}"]
        if port.description:
            lines.append(f"  Description: {port.description}")
        for network in getattr(port, "ips", [])[:1]:
            lines.append(f"  Internet address is {network}")
        lines += [
            f"  MTU {1514 if loopback else 1500} bytes, BW {8000000 if loopback else 1000000} Kbit/sec, "
            f"DLY {5000 if loopback else 10} usec, ",
            "     reliability 255/255, txload 1/255, rxload 1/255",
            f"  Encapsulation {'LOOPBACK' if loopback else 'ARPA'}, loopback not set",
            "  Keepalive set (10 sec)",
            "  Full Duplex, 1Gbps, media type is RJ45",
            "  output flow-control is unsupported, input flow-control is unsupported",
            "  ARP type: ARPA, ARP Timeout 04:00:00",
            "  Last input 00:00:00, output 00:00:00, output hang never",
            '  Last clearing of "show interface" counters never',
            "  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: 0",
            "  Queueing strategy: fifo",
            "  Output queue: 0/40 (size/max)",
            "  5 minute input rate 2000 bits/sec, 3 packets/sec",
            "  5 minute output rate 1000 bits/sec, 2 packets/sec",
            f"     {counters['receive_packets']} packets input, {counters['receive_bytes']} bytes, 0 no buffer",
            "     Received 1543 broadcasts (0 IP multicasts)",
            "     0 runts, 0 giants, 0 throttles ",
            f"     {counters['receive_errors']} input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
            "     0 watchdog, 0 multicast, 0 pause input",
            f"     {counters['transmit_packets']} packets output, {counters['transmit_bytes']} bytes, 0 underruns",
            f"     {counters['transmit_errors']} output errors, 0 collisions, 1 interface resets",
            "     0 unknown protocol drops",
            "     0 babbles, 0 late collision, 0 deferred",
            "     0 lost carrier, 0 no carrier, 0 pause output",
            "     0 output buffer failures, 0 output buffers swapped out",
        ]
    return lines


def show_ip_interface_brief(config: SwitchConfiguration) -> list[str]:
    lines = ["Interface                  IP-Address      OK? Method Status                Protocol"]
    for port in config.ports:
        state, protocol = _state(config, port)
        ips = getattr(port, "ips", [])
        address, method = (str(ips[0].ip), "NVRAM") if ips else ("unassigned", "unset")
        lines.append(f"{port.name:<27}{address:<16}YES {method:<7}{state:<22}{protocol}")
    return lines


def show_running_config(config: SwitchConfiguration) -> list[str]:
    sim = config.sim
    device = sim.device
    body = ["!", "version 15.7", "service timestamps debug datetime msec", "service timestamps log datetime msec",
            "!", f"hostname {config.name}", "!", "boot-start-marker", "boot-end-marker", "!"]
    typed = sim.global_lines  # a typed `enable secret`, `username` or `aaa new-model` replaces the boot one
    if device.secret and not any(line.startswith("enable secret ") for line in typed):
        body += [_hide_secrets(f"enable secret {device.secret}"), "!"]
    if "aaa new-model" not in typed:
        body += ["no aaa new-model", "!"]
    if not sim.cdp:
        body.append("no cdp run")
    if sim.lldp:
        body.append("lldp run")
    body += [*typed, "!"]
    if not any(line.startswith(f"username {device.username} ") for line in typed):
        body += [_hide_secrets(f"username {device.username} privilege 15 secret {device.password}"), "!"]
    for vlan in config.vlans:
        if vlan.number != 1:
            body += build_running_vlan(vlan) + ["!"]
    for port in config.ports:
        body += build_running_interface(port)
        body += [f" {line}" for line in port.vendor_specific.get("lines", [])] + ["!"]
    body += [build_static_routes(route) for route in config.static_routes]
    body.append("!")
    for header, lines in sim.line_blocks.items():
        body += [header, *(f" {line}" for line in lines)]
    body += ["!", "end"]
    return ["Building configuration...", "", f"Current configuration : {len(chr(10).join(body)) + 1} bytes", *body]


_PROCESSES = ["   1          18          10       1800  0.00%  0.00%  0.00%   0 Chunk Manager    ",
              "   2         728        3965        183  0.00%  0.00%  0.00%   0 Load Meter       ",
              "   8        5026        2684       1872  0.00%  0.02%  0.00%   0 Check heaps      ",
              "  14          74         407        181  0.07%  0.03%  0.01%   1 SSH Process      ",
              "  72        1903       25520         74  0.00%  0.00%  0.00%   0 IOSD ipc task    "]


def show_processes_cpu(sim: Sim) -> list[str]:
    cpu = sim.device.cpu_percent
    return [f"CPU utilization for five seconds: {cpu + 1}%/0%; one minute: {cpu}%; five minutes: {cpu}%",
            " PID Runtime(ms)     Invoked      uSecs   5Sec   1Min   5Min TTY Process ", *_PROCESSES]


def show_processes_memory(sim: Sim) -> list[str]:
    total = 402653184
    used = total * sim.device.memory_percent // 100
    return [f"Processor Pool Total:  {total} Used:  {used} Free:  {total - used}",
            "      I/O Pool Total:   41943040 Used:   12061424 Free:   29881616", "",
            " PID TTY  Allocated      Freed    Holding    Getbufs    Retbufs Process",
            "   0   0  209299480   13474544  178205704          0          0 *Init*          ",
            "   1   0    1583728       3472    1613672          0          0 Chunk Manager   "]


def _short(name: str) -> str:
    """'GigabitEthernet0/1' as LLDP and CDP tables print it: 'Gi0/1'."""
    match = re.match(r"([A-Za-z]+)(.*)", name)
    return match[1][:2] + match[2] if match else name


def show_lldp(sim: Sim, detail: bool) -> list[str]:
    if not sim.lldp:
        return ["% LLDP is not enabled"]
    neighbors = sim.device.neighbors
    if not detail:
        lines = ["Capability codes:", "    (R) Router, (B) Bridge, (T) Telephone, (C) DOCSIS Cable Device",
                 "    (W) WLAN Access Point, (P) Repeater, (S) Station, (O) Other", "",
                 "Device ID           Local Intf     Hold-time  Capability      Port ID"]
        lines += [f"{n.system_name[:20]:<20}{_short(n.interface):<15}{120:<11}{'R':<16}{n.port}" for n in neighbors]
        return lines + ["", f"Total entries displayed: {len(neighbors)}", ""]
    lines = []
    for n in neighbors:
        lines += ["------------------------------------------------", f"Local Intf: {_short(n.interface)}",
                  f"Chassis id: {_mac(n.system_name, 'chassis')}", f"Port id: {n.port}",
                  f"Port Description: {n.port}", f"System Name: {n.system_name}", "", "System Description:",
                  "Huawei Versatile Routing Platform Software", "", "Time remaining: 112 seconds",
                  "System Capabilities: B,R", "Enabled Capabilities: R"]
        lines += ["Management Addresses:", f"    IP: {n.address}"] if n.address else \
            ["Management Addresses - not advertised"]
        lines += ["Auto Negotiation - supported, enabled", "Physical media capabilities:", "    1000baseT(FD)",
                  "Media Attachment Unit type: 30", "Vlan ID: - not advertised", ""]
    return lines + ["", f"Total entries displayed: {len(neighbors)}", ""]


def show_cdp(sim: Sim, detail: bool) -> list[str]:
    if not sim.cdp:
        return ["% CDP is not enabled"]
    neighbors = sim.device.neighbors
    if not detail:
        lines = ["Capability Codes: R - Router, T - Trans Bridge, B - Source Route Bridge",
                 "                  S - Switch, H - Host, I - IGMP, r - Repeater, P - Phone", "",
                 "Device ID        Local Intrfce     Holdtme    Capability  Platform  Port ID"]
        lines += [f"{n.system_name:<17}{_short(n.interface):<18}{155:<11}{'R S I':<12}{'CISCO2911':<10}"
                  f"{_short(n.port)}" for n in neighbors]
        return lines + ["", f"Total cdp entries displayed : {len(neighbors)}"]
    lines = []
    for n in neighbors:
        lines += ["-------------------------", f"Device ID: {n.system_name}", "Entry address(es): "]
        lines += [f"  IP address: {n.address}"] if n.address else []
        lines += ["Platform: Cisco CISCO2911/K9,  Capabilities: Router Switch IGMP ",
                  f"Interface: {n.interface},  Port ID (outgoing port): {n.port}", "Holdtime : 155 sec", "",
                  "Version :",
                  "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5, RELEASE SOFTWARE (fc1)",
                  "", "advertisement version: 2", "Duplex: full", "Management address(es): "]
        lines += [f"  IP address: {n.address}"] if n.address else []
        lines.append("")
    return lines + ["", f"Total cdp entries displayed : {len(neighbors)}"]


# ------------------------------------------------------------------ SSH

def listen(device: Device, port: int, clock: Clock, reactor):
    """Serve the device on device.address:port with its own host key; returns Twisted's port."""
    from twisted.conch.ssh import factory, keys, transport
    from twisted.cred import checkers, portal
    from fake_switches.transports.ssh_service import SSHDemoRealm

    class CiscoTransport(transport.SSHServerTransport):
        ourVersionString = b"SSH-2.0-Cisco-1.25"

    key = keys.Key(host_key(device.name))
    ssh = factory.SSHFactory()
    ssh.protocol = CiscoTransport
    ssh.portal = portal.Portal(SSHDemoRealm(SimCore(switch_configuration(device, clock))))
    ssh.portal.registerChecker(checkers.InMemoryUsernamePasswordDatabaseDontUse(
        **{device.username: device.password.encode()}))
    ssh.publicKeys = {b"ssh-ed25519": key.public()}
    ssh.privateKeys = {b"ssh-ed25519": key}
    return reactor.listenTCP(port, ssh, interface=device.address)
