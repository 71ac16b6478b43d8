"""A Huawei VRP router (AR series) or switch (S series) over SSH, strict like the device.

The CLI is VRP's: user view `<hostname>`, `system-view` to `[hostname]`, views of their own
(`[hostname-GigabitEthernet0/0/1]`, `[hostname-aaa]`, `[hostname-ui-vty0-4]`,
`[hostname-vlan10]`), `quit` one level up, `return` (or Ctrl+Z) to the user view, keywords
abbreviated as far as they stay unambiguous (`dis int br`), `| include`, `| exclude`,
`| begin`. Each view takes only the command shapes below (tests/sim/cli.py); anything else
is VRP's error under a caret: `Error: Unrecognized command found at '^' position.`,
`Error: Incomplete command found at '^' position.`, `Error: Ambiguous command found at '^'
position.`, `Error: Too many parameters found at '^' position.`, `Error: Wrong parameter
found at '^' position.` (Huawei's "Interpreting command-line error messages", as listed
with the Comware ones by the error tables of public CLI tools; netmiko's huawei driver
takes them as failures).

Sources of the shapes and of their order (the order `display current-configuration` prints
them in): ../shared/real-gear/configs/huawei (idx_ensp-ar1_ar_v200r003,
idx_dhakacolo-panthapath_s-series_v200r021, idx_sw1pop15-esteio_s-series_v200r022,
inta_ne40e_doc_syslog_server, inta_ne40e_doc_ntp_client_server_auth_*,
inta_ce6800_doc_aaa_local_admin, inta_ce6800_doc_sftp_server) and
reference/huawei/ce6800_v300r023_cmdref_management.txt (snmp-agent sys-info version { v1 |
v2c | v3 | all }); netmiko's huawei driver for the session (`screen-length 0 temporary`,
the `save` dialogue). `header login information` is not in the corpus: from Huawei's AR
command reference ("header login information text").

Login follows the configuration at that moment: with `authentication-mode aaa` on the vty
lines, an SSH login needs an `aaa` `local-user` of that name with that password and
`service-type` ssh; with `authentication-mode password`, the vty password. A device can boot
without its account in aaa (Device.local_user False: vty password only), so a test can show
that `authentication-mode aaa` typed before the account exists locks the next login out.

Test hook (no VRP command): `simulate reject <config line>` in the user view makes the
device answer that configuration line with "Error: Unrecognized command" until
`simulate accept <line>`, so provisioning tests can have a device refuse one command.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

from tests.sim import Clock, Device, Port
from tests.sim.cli import (Lines, Parsed, Shell, caret, compile_shapes, filtered, interleave, parse, parse_config,
                           secret_hash, send_log, serve)

_SHORT = (("XGigabitEthernet", "XGE"), ("GigabitEthernet", "GE"), ("Ethernet", "Eth"))

USER = compile_shapes(["display version", "display interface brief", "display interface [IFNAME]",
                       "display cpu-usage", "display memory-usage", "display lldp neighbor brief",
                       "display current-configuration", "display saved-configuration",
                       "screen-length <0-512> temporary", "system-view", "save", "quit", "return"])
# The system view, in the order VRP prints it ("!": a `#` between groups).
SYSTEM = compile_shapes([
    "=sysname WORD", "!",
    "=header {login|shell}! information LINE", "!",
    "vlan batch LINE", "!",
    "authentication-profile name WORD", "domain WORD", "!",
    "telnet server-source LINE", "http server-source LINE", "!",
    "hwtacacs enable", "dhcp enable", "diffserv domain default", "radius-server template default",
    "drop-profile default", "!",
    "lldp enable", "!",
    "telnet server enable", "!", "http server enable", "http secure-server enable", "!",
    "=clock timezone WORD {add|minus} WORD", "!",
    "info-center channel INT name WORD", "info-center source LINE", "=info-center loghost source IFNAME",
    "info-center loghost IP [LINE]", "=info-center timestamp LINE", "!",
    "vlan <1-4094>", "!",
    "aaa", "!",
    "interface IFNAME", "!",
    "ip route-static IP IP {IP|IFNAME} [preference <1-255>]", "!",
    "ntp-service server disable", "ntp-service ipv6 server disable", "ntp-service authentication enable",
    "ntp-service unicast-server IP [LINE]", "!",
    "snmp-agent", "=snmp-agent local-engineid WORD", "=snmp-agent community {read|write} [cipher] WORD!",
    "=snmp-agent sys-info contact LINE", "=snmp-agent sys-info location LINE",
    "snmp-agent sys-info version {v1|v2c|v3|all} [{v2c|v3}] [v3]",
    "snmp-agent group v3 WORD {privacy|authentication|noauthentication} [LINE]",
    "snmp-agent target-host LINE", "snmp-agent trap enable", "snmp-agent protocol source-status LINE", "!",
    "stelnet server enable", "ssh user WORD!", "=ssh user WORD! authentication-type! {password|rsa|all}",
    "=ssh user WORD! service-type! {stelnet|sftp|all|snetconf}", "=ssh server port <1-65535>",
    "ssh server-source LINE", "=ssh server cipher LINE", "=ssh server hmac LINE", "=ssh server key-exchange LINE",
    "=ssh server dh-exchange min-len INT", "=ssh server publickey LINE", "=ssh client cipher LINE",
    "=ssh client hmac LINE", "=ssh client key-exchange LINE", "!",
    "user-interface {con|vty} <0-20> [<0-20>]", "!",
    "ops", "!",
    "quit", "return"])
AAA = compile_shapes(["authentication-scheme WORD", "authorization-scheme WORD", "accounting-scheme WORD",
                      "domain WORD",
                      "=local-user WORD! password! {irreversible-cipher|cipher} WORD",
                      "=local-user WORD! privilege! level <0-15>", "=local-user WORD! service-type! LINE",
                      "quit", "return"])
INTERFACE = compile_shapes(["portswitch", "=description LINE", "shutdown", "=port link-type {access|trunk|hybrid}",
                            "=port default vlan <1-4094>", "=port trunk allow-pass vlan LINE", "=mode {lacp|lacp-static|manual}",
                            "=jumboframe enable INT", "stp disable", "stp root-protection", "stp bpdu-filter enable",
                            "port-security enable", "=port-security max-mac-num INT", "ntdp enable", "ndp enable",
                            "bpdu enable", "loopback-detect enable", "dhcp snooping enable", "dhcp snooping trusted",
                            "=ip address IP IP", "=ospf cost <1-65535>", "=ospf network-type {p2p|broadcast}",
                            "=eth-trunk INT", "quit", "return"])
VLAN = compile_shapes(["=description LINE", "=name WORD", "quit", "return"])
UI = compile_shapes(["=authentication-mode {aaa|password|none}", "=set authentication password cipher WORD",
                     "=user privilege level <0-15>", "=idle-timeout <0-35791> [<0-59>]",
                     "=protocol inbound {ssh|telnet|all}", "quit", "return"])
VIEWS = {"system": SYSTEM, "aaa": AAA, "interface": INTERFACE, "vlan": VLAN, "user-interface": UI}
# Printed although it is the default, or only in its undo form (idx_*_v200r021/2: `undo http
# server enable` printed; `telnet server enable` printed only when on; no `undo telnet server enable`
# in any dump of the corpus).
SWITCHES = {"telnet server enable": (False, True, False), "http server enable": (True, False, True),
            "http secure-server enable": (True, False, True), "lldp enable": (False, True, False),
            "stelnet server enable": (False, True, False)}

MESSAGES = {"invalid": "Error: Unrecognized command found at '^' position.",
            "incomplete": "Error: Incomplete command found at '^' position.",
            "ambiguous": "Error: Ambiguous command found at '^' position.",
            "too-many": "Error: Too many parameters found at '^' position.",
            "wrong": "Error: Wrong parameter found at '^' position."}


def short_name(name: str) -> str:
    """'GigabitEthernet0/0/1' as VRP's tables print it: 'GE0/0/1'."""
    for long, short in _SHORT:
        if name.startswith(long):
            return short + name[len(long):]
    return name


def _vrp_uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    parts = [(minutes // 10080, "week"), (minutes // 1440 % 7, "day"), (minutes // 60 % 24, "hour"),
             (minutes % 60, "minute")]
    return ", ".join(f"{n} {unit}{'s' if n > 1 else ''}" for n, unit in parts)


def _mac(device: str, port: str) -> str:
    digest = hashlib.sha256(f"{device}/{port}".encode()).hexdigest()
    return f"fc73-{digest[:4]}-{digest[4:8]}"


def cipher(secret: str) -> str:
    """What VRP shows for an irreversible-cipher password: never the password."""
    return secret_hash("$1c$", secret, 32) + "$"


class Vrp:
    """One device's state, shared by all its sessions."""

    system, views, switches, lldp = SYSTEM, VIEWS, SWITCHES, "lldp enable"
    indent = " "  # AR V200/V300 indent global lines (idx_ensp-ar1); CloudEngine does not
    openers = ("vlan ", "aaa", "interface ", "user-interface ")  # the blocks, in the order they print

    def __init__(self, device: Device, clock: Clock):
        self.device, self.clock = device, clock
        self.ports: dict[str, Port] = {p.name: Port(**vars(p)) for p in device.ports}
        self.switchports = any(not p.address for p in device.ports)
        self.global_ = Lines(self.system)
        self.blocks: dict[str, Lines] = {}  # "aaa", "vlan 10", "interface Vlanif99", "user-interface vty 0 4"
        self.rejected: set[str] = set()
        self.logged = 0  # messages logged: the sequence number of each
        self.global_.set(f"sysname {device.name}")
        for name, (default, on, off) in self.switches.items():
            self.switch_to(name, default)
        self.switch_to(self.lldp, device.lldp)
        self.boot(device)
        for port in self.ports.values():
            lines = self.block(f"interface {port.name}")
            if port.description:
                lines.set(f"description {port.description}")
            if port.shutdown:
                lines.set("shutdown")
            if port.address:
                network = ipaddress.ip_interface(port.address)
                lines.set(f"ip address {network.ip} {network.netmask}")

    # The factory configuration (ensp-ar1_ar_v200r003's aaa block), then the account that logs in.
    factory = {"aaa": ("authentication-scheme default", "authorization-scheme default", "accounting-scheme default",
                       "domain default", "domain default_admin"),
               "user-interface con 0": ("authentication-mode aaa",)}
    account = ("local-user {user} password irreversible-cipher {cipher}", "local-user {user} privilege level 15",
               "local-user {user} service-type ssh")
    ssh_account = ("ssh user {user} authentication-type password", "ssh user {user} service-type stelnet")

    def boot(self, device: Device) -> None:
        """The factory configuration, and the account (or only the vty password)."""
        for header, lines in self.factory.items():
            block = self.block(header)
            for line in lines:
                block.set(line)
        vty = self.block("user-interface vty 0 4")
        if device.local_user:
            for line in self.account:
                self.block("aaa").set(line.format(user=device.username, cipher=cipher(device.password)))
            self.switch_to("stelnet server enable", True)
            for line in self.ssh_account:
                self.global_.set(line.format(user=device.username))
            vty.set("authentication-mode aaa")
        else:
            vty.set("authentication-mode password")
            vty.set(f"set authentication password cipher {cipher(device.password)}")
        vty.set("protocol inbound ssh")
        self.block("interface NULL0")

    @property
    def hostname(self) -> str:
        return self.global_.render()[0].split()[1]

    def block(self, header: str) -> Lines:
        return self.blocks.setdefault(header, Lines(self.views[header.split()[0]]))

    def switch_to(self, name: str, on: bool) -> None:
        parsed = parse(self.system, name)
        self.global_.remove(parsed.words)
        self.global_.remove(["undo", *parsed.words])
        _, printed_on, printed_off = self.switches[name]
        if on and printed_on:
            self.global_.put(parsed.shape, parsed.words)
        elif not on and printed_off:
            self.global_.put(parsed.shape, ["undo", *parsed.words])

    def on(self, name: str) -> bool:
        lines = self.global_.render()
        return name in lines or (self.switches[name][0] and f"undo {name}" not in lines)

    def port(self, typed: str) -> str | None:
        """The interface named as typed: 'GigabitEthernet0/0/1', 'GE0/0/1', 'g0/0/1', 'Vlanif99',
        CloudEngine's '10GE1/0/1'."""
        match = re.match(r"(\d*[A-Za-z][A-Za-z-]*)\s*([\d/.:]+)$", typed.strip())
        if not match:
            return None
        kind, number = match[1].lower(), match[2]
        for header in self.blocks:
            full = re.match(r"interface (\d*[A-Za-z][A-Za-z-]*)([\d/.:]+)$", header)
            if full and full[2] == number and (full[1].lower().startswith(kind) or short_name(full[1]).lower() == kind):
                return full[1] + full[2]
        return None

    def physical(self) -> list[Port]:
        return [self.port_state(name) for name in self.ports]

    def port_state(self, name: str) -> Port:
        """The port as the configuration has it now."""
        lines = self.blocks[f"interface {name}"].render()
        port = self.ports.get(name) or Port(name)
        address = next((line.split()[2:4] for line in lines if line.startswith("ip address ")), None)
        return Port(name, up=port.up, shutdown="shutdown" in lines,
                    description=next((line[12:] for line in lines if line.startswith("description ")), ""),
                    address=str(ipaddress.ip_interface("/".join(address))) if address else "")

    # ---- login

    def login(self, username: str, password: str) -> bool:
        vty = self.block("user-interface vty 0 4").render()
        if "authentication-mode password" in vty:
            return f"set authentication password cipher {cipher(password)}" in vty
        if "authentication-mode none" in vty:
            return True
        aaa = self.block("aaa").render()
        return (f"local-user {username} password irreversible-cipher {cipher(password)}" in aaa
                and any(line.startswith(f"local-user {username} service-type ") and "ssh" in line.split()[3:]
                        for line in aaa))

    # ---- rendering

    def render_config(self) -> list[str]:
        lines = self.heading()
        section = None
        for shape, text, block in interleave(self.global_.ordered(), [
                (parse(self.system, h, prefix=True).shape, h) for h in self._headers()]):
            if block or shape.section != section:
                lines.append("#")
            lines.append(text if block else self.indent + text)
            if block:
                lines += [f" {line}" for line in self.blocks[text].render()]
            section = None if block else shape.section
        return lines + ["#", "return"]

    def heading(self) -> list[str]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+07:00", time.localtime(self.clock.started))
        return [f"!Software Version {_release(self.device)}", f"!Last configuration was updated at {stamp}"]

    def _headers(self) -> list[str]:
        headers = [h for kind in self.openers for h in self.blocks if h.startswith(kind)]
        return [h for h in headers if h != "interface NULL0"] + ["interface NULL0"]


def _release(device: Device) -> str:
    if device.model.startswith("AR"):
        return f"{device.model} V300R019C13SPC200"
    return f"{device.model.split('-')[0]} V200R019C10SPC500"


def _state(port: Port) -> tuple[str, str]:
    if port.shutdown:
        return "Administratively DOWN", "DOWN"
    return ("UP", "UP") if port.up else ("DOWN", "DOWN")


def display_version(vrp: Vrp) -> list[str]:
    device = vrp.device
    uptime = _vrp_uptime(device.uptime_seconds + vrp.clock.elapsed())
    router = device.model.startswith("AR")
    return ["Huawei Versatile Routing Platform Software",
            f"VRP (R) software, Version 5.170 ({_release(device)})",
            "Copyright (C) 2011-2021 HUAWEI TECH CO., LTD",
            f"Huawei {device.model} Router uptime is {uptime}" if router else
            f"HUAWEI {device.model} Routing Switch uptime is {uptime}",
            "",
            f"MPU 0(Master) : uptime is {uptime}",
            "SDRAM Memory Size    : 1024    M bytes",
            "Flash 0 Memory Size  : 1024    M bytes",
            "MPU version information : ",
            "1. PCB      Version  : AR01SRU2G VER.A",
            "2. MAB      Version  : 0",
            f"3. Board    Type     : {device.model}",
            "4. BootROM  Version  : 1"]


def display_interface(vrp: Vrp, only: Port | None = None) -> list[str]:
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    lines = []
    for port in [only] if only else vrp.physical():
        state, protocol = _state(port)
        counters = vrp.clock.counters(vrp.hostname, port.name, state == "UP")
        lines += [f"{port.name} current state : {state}", f"Line protocol current state : {protocol}",
                  f"Description:{port.description or f'HUAWEI, AR Series, {port.name} Interface'}"]
        if port.address:
            lines += ["Route Port,The Maximum Transmit Unit is 1500", f"Internet Address is {port.address}"]
        else:
            lines.append("Switch Port, PVID :    1, TPID : 8100(Hex), The Maximum Frame Length is 9596")
        lines += [f"IP Sending Frames' Format is PKTFMT_ETHNT_2, Hardware address is {_mac(vrp.hostname, port.name)}",
                  f"Last physical up time   : {'-' if state != 'UP' else '2025-03-03 08:12:31'}",
                  "Last physical down time : 2025-03-03 08:11:02",
                  f"Current system time: {now}",
                  "Port Mode: COMMON COPPER",
                  "Speed : 1000,  Loopback: NONE",
                  "Duplex: FULL,  Negotiation: ENABLE",
                  "Mdi   : AUTO,  Clock   : -",
                  "Last 300 seconds input rate 2112 bits/sec, 3 packets/sec",
                  "Last 300 seconds output rate 1904 bits/sec, 2 packets/sec",
                  "Input peak rate 19400 bits/sec,Record time: 2025-03-03 09:55:33",
                  "Output peak rate 63040 bits/sec,Record time: 2025-03-03 09:55:33",
                  "",
                  f"Input:  {counters['receive_packets']} packets, {counters['receive_bytes']} bytes",
                  f"  Unicast:              {counters['receive_packets']},  Multicast:                   0",
                  "  Broadcast:                0,  Jumbo:                       -",
                  f"  Discard:                  0,  Total Error:{counters['receive_errors']:>18}",
                  "",
                  "  CRC:                      0,  Giants:                      0",
                  "  Jabbers:                  0,  Throttles:                   0",
                  "  Runts:                    0,  Symbols:                     0",
                  "  Ignoreds:                 0,  Frames:                      0",
                  "",
                  f"Output:  {counters['transmit_packets']} packets, {counters['transmit_bytes']} bytes",
                  f"  Unicast:              {counters['transmit_packets']},  Multicast:                   0",
                  "  Broadcast:                0,  Jumbo:                       -",
                  f"  Discard:                  0,  Total Error:{counters['transmit_errors']:>18}",
                  "",
                  "  Collisions:               0,  ExcessiveCollisions:         0",
                  "  Late Collisions:          0,  Deferreds:                   0",
                  "",
                  "    Input bandwidth utilization threshold : 100.00%",
                  "    Output bandwidth utilization threshold: 100.00%",
                  "    Input bandwidth utilization  : 0.01%",
                  "    Output bandwidth utilization : 0.01%",
                  ""]
    if not only:
        lines += ["NULL0 current state : UP", "Line protocol current state : UP (spoofing)",
                  "Description:HUAWEI, AR Series, NULL0 Interface", "Route Port,The Maximum Transmit Unit is 1500",
                  "Internet protocol processing : disabled", "Physical is NULL DEV", f"Current system time: {now}",
                  "    Input: 0 bytes", "    Output:0 bytes", ""]
    return lines


def display_interface_brief(vrp: Vrp) -> list[str]:
    lines = ["PHY: Physical", "*down: administratively down", "^down: standby", "(l): loopback", "(s): spoofing",
             "(b): BFD down", "(e): ETHOAM down", "(d): Dampening Suppressed",
             "InUti/OutUti: input utility/output utility",
             "Interface                   PHY   Protocol InUti OutUti   inErrors  outErrors"]
    for port in vrp.physical():
        state, protocol = _state(port)
        phy = "*down" if port.shutdown else state.lower()
        errors = vrp.clock.counters(vrp.hostname, port.name, state == "UP")
        lines.append(f"{port.name:<28}{phy:<6}{protocol.lower():<9}{'0%':>5}{'0%':>7}"
                     f"{errors['receive_errors']:>11}{errors['transmit_errors']:>11}")
    lines.append(f"{'NULL0':<28}{'up':<6}{'up(s)':<9}{'0%':>5}{'0%':>7}{0:>11}{0:>11}")
    return lines


def display_cpu_usage(vrp: Vrp) -> list[str]:
    cpu = vrp.device.cpu_percent
    stamp = time.strftime("%Y-%m-%d  %H:%M:%S")
    return ["CPU Usage Stat. Cycle: 60 (Second)", f"CPU Usage            : {cpu}% Max: 31%",
            f"CPU Usage Stat. Time : {stamp} ",
            f"CPU utilization for five seconds: {cpu}%: one minute: {cpu}%: five minutes: {cpu}%",
            "Max CPU Usage Stat. Time : 2025-03-01 02:11:09.", "",
            "TaskName        CPU  Runtime(CPU Tick High/Tick Low)  Task Explanation",
            f"VIDL          {100 - cpu:>9}%        13/b28d8dff       DOPRA IDLE                    ",
            f"OS            {cpu:>9}%         1/ c388d00       Operation System              ",
            "AAA                   0%         0/       0       AAA  Authen Account Authorize "]


def display_memory_usage(vrp: Vrp) -> list[str]:
    total = 1073741824
    used = total * vrp.device.memory_percent // 100
    return [f"Memory utilization statistics at {time.strftime('%Y-%m-%d %H:%M:%S')}+07:00",
            f" System Total Memory Is: {total} bytes", f" Total Memory Used Is: {used} bytes",
            f" Memory Using Percentage Is: {vrp.device.memory_percent}%"]


def display_lldp_neighbor_brief(vrp: Vrp) -> list[str]:
    if not vrp.on(vrp.lldp):
        return ["Info: Global LLDP is not enabled."]
    lines = ["Local Intf       Neighbor Dev             Neighbor Intf             Exptime(s)"]
    for n in vrp.device.neighbors:
        lines.append(f"{short_name(n.interface):<16} {n.system_name:<24} {short_name(n.port):<25} 118")
    return lines


# `display WHAT` answered from the device's state alone
DISPLAYED = {"version": display_version, "interface brief": display_interface_brief, "cpu-usage": display_cpu_usage,
             "memory-usage": display_memory_usage, "lldp neighbor brief": display_lldp_neighbor_brief}


class VrpShell(Shell):
    """One SSH shell on the device: the views and the commands."""

    user_shapes, messages = USER, MESSAGES
    anywhere = ("display",)  # user-view commands every view takes
    entered = "Enter system view, return user view with Ctrl+Z."
    recorded_severity = 5  # SHELL/5/CMDRECORD

    def __init__(self, vrp: Vrp, process, behaviour: str, username: str):
        super().__init__(vrp, process, behaviour, username)
        self.vrp = vrp
        self.view = "user"  # user, system, or the header of the block being configured
        self.banner = ("\r\nInfo: The max number of VTY users is 10, and the number\r\n"
                       "      of current VTY users on line is 1.\r\n"
                       f"      The current login time is {time.strftime('%Y-%m-%d %H:%M:%S+07:00')}.\r\n")

    def error(self, kind: str, prompt: str, column: int) -> list[str]:
        return [caret(prompt, column), self.messages[kind]]

    def refusal(self, parsed: Parsed) -> list[str]:
        return self.error(parsed.kind, self.prompt(), parsed.column)

    def prompt(self) -> str:
        name = self.vrp.hostname
        if self.view == "user":
            return f"<{name}>"
        if self.view == "system":
            return f"[{name}]"
        return f"[{name}-{self.suffix(self.view.split())}]"

    def suffix(self, words: list[str]) -> str:
        """[R1-GigabitEthernet0/0/1], [R1-vlan10], [R1-Vlanif99], [R1-ui-vty0-4], [R1-aaa]"""
        if words[0] == "user-interface":
            return "ui-" + words[1] + "-".join(words[2:])
        return words[1] if words[0] == "interface" else "".join(words)

    def interrupt(self) -> None:
        self.view = "user"

    @property
    def running(self) -> Vrp:
        """The configuration that runs (VRP8: the committed one, not a session's candidate)."""
        return self.vrp

    def execute(self, line: str) -> list[str] | None:
        output = self.command(line)
        if line.strip():
            self.log(self.recorded_severity, lambda number: self.recorded(number, line.strip()))
        return output

    def log(self, severity: int, text) -> None:
        """The message `text(number)` (`%%01SHELL/5/...`) to each loghost, facility local7, in the
        header VRP writes (the time, year, then the device's name): `<189>Dec  2 2026 05:00:01 R1 %%01...`."""
        running = self.running
        lines = [line.strip() for line in running.global_.render()]
        offset = zone_offset(lines)
        running.logged += 1
        for loghost in (line for line in lines if line.startswith("info-center loghost ")):
            send_log(running.device, [loghost], f"<{23 * 8 + severity}>{self.log_stamp(loghost, offset)}"
                                                f" {running.hostname} {text(running.logged)}")

    @staticmethod
    def log_stamp(loghost: str, offset: int) -> str:
        """UTC without a zone, or with `local-time` the device's time and its offset (agent.platforms
        cites Huawei's loghost default and log format)."""
        local = "local-time" in loghost.split()
        when = time.gmtime(time.time() + (offset if local else 0))
        sign, minutes = "-" if offset < 0 else "+", abs(offset) // 60
        return (f"{time.strftime('%b', when)} {when.tm_mday:2d} {when.tm_year} {time.strftime('%H:%M:%S', when)}"
                + (f"{sign}{minutes // 60:02d}:{minutes % 60:02d}" if local else ""))

    def recorded(self, number: int, command: str) -> str:
        """Every command typed, as VRP records it (agent/platforms.py cites the log reference)."""
        return (f"%%01SHELL/5/CMDRECORD(s)[{number}]:Recorded command information. (Task=VT0, Ip={self.client()}, "
                f'VpnName=, User={self.username}, AuthenticationMethod="Local-user", Command="{command}")')

    def command(self, line: str) -> list[str] | None:
        command, _, pipe = line.partition("|")
        words = command.split()
        if not words:
            return []
        if self.view == "user" and words[:1] == ["simulate"] and len(words) > 2:  # the test hook
            (self.vrp.rejected.add if words[1] == "reject" else self.vrp.rejected.discard)(" ".join(words[2:]))
            return []
        if self.view != "user" and " ".join(line.split()) in self.vrp.rejected:
            return self.error("invalid", self.prompt(), len(line) - len(line.lstrip()))
        if self.view == "user" or any(k.startswith(words[0].lower()) and len(words[0]) > 1 for k in self.anywhere):
            return self.user(command, pipe)
        return self.configure(line)

    def user(self, command: str, pipe: str) -> list[str] | None:
        parsed = parse(self.user_shapes, command)
        if (answer := self.unparsed(parsed)) is not None:
            return answer
        words = parsed.words
        if words[0] == "quit":
            return None if self.view == "user" else []
        if words[0] == "return":
            self.view = "user"
            return []
        if words[0] == "screen-length":  # Comware's `screen-length disable` says nothing
            return [] if words[1] == "disable" else [
                "Info: The configuration takes effect on the current user terminal interface only."]
        if words[0] == "system-view":
            if self.view != "user":
                return self.error("invalid", self.prompt(), 0)
            self.view = "system"
            return [self.entered]
        if words[0] == "save":
            if words[1:] == ["force"]:
                return self.save("y")
            self.question = ("Warning: The current configuration will be written to the device. Continue? [Y/N]:",
                             self.save)
            return []
        output = self.display(words[1:], parsed.column)
        if pipe.strip():
            how, _, text = pipe.strip().partition(" ")
            kinds = [k for k in ("include", "exclude", "begin") if k.startswith(how.lower())]
            if len(kinds) != 1 or not text.strip():
                return self.error("invalid", self.prompt(), len(command) + 2)
            output = filtered(output, kinds[0], text.strip())
        return output

    def display(self, words: list[str], column: int) -> list[str]:
        vrp = self.vrp
        what = " ".join(words)
        if what in DISPLAYED:
            return DISPLAYED[what](vrp)
        if words[0] == "interface":
            if len(words) == 1:
                return display_interface(vrp)
            name = vrp.port(words[1])
            return display_interface(vrp, vrp.port_state(name)) if name in vrp.ports else \
                self.error("wrong", self.prompt(), len("display interface "))
        return vrp.render_config()

    def configure(self, line: str) -> list[str]:
        vrp = self.vrp
        view = self.view.split()[0]
        parsed, undo = parse_config(self.vrp.views[view], line, "undo")
        if (answer := self.unparsed(parsed)) is not None:
            return answer
        words = parsed.words
        if words[0] == "return":
            self.view = "user"
            return []
        if words[0] == "quit":
            self.view = "user" if view == "system" else "system"
            return []
        if view == "system" and any((words[0] + " ").startswith(o.strip() + " ") for o in vrp.openers) \
                and not undo and words[:2] != ["vlan", "batch"]:
            return self.enter(words, line)
        if view == "system" and words[:2] == ["vlan", "batch"] and not vrp.switchports:
            return self.error("invalid", self.prompt(), len(line) - len(line.lstrip()))
        target = vrp.global_ if view == "system" else vrp.block(self.view)
        name = " ".join(words)
        if view == "system" and name in self.vrp.switches:
            vrp.switch_to(name, not undo)
        elif undo:
            if view == "system" and words[0] in ("interface", "vlan"):
                vrp.blocks.pop(" ".join(words), None)
            target.remove(words)
        else:
            target.put(parsed.shape, self.stored(words))
        return []

    @staticmethod
    def stored(words: list[str]) -> list[str]:
        """A line as the device keeps it: a password typed in clear only as its cipher."""
        return [*words[:-1], cipher(words[-1])] if _secret(words) else words

    def enter(self, words: list[str], line: str) -> list[str]:
        vrp = self.vrp
        column = line.index(words[1]) if len(words) > 1 and words[1] in line else 0
        if words[0] == "interface":
            name = vrp.port(words[1])
            logical = re.match(r"(?i)(vlanif|loopback)(\d+)$", words[1])
            if name is None and logical and (logical[1].lower() == "loopback" or vrp.switchports):
                name = ("Vlanif" if logical[1].lower() == "vlanif" else "LoopBack") + logical[2]
            if name is None:
                return self.error("wrong", self.prompt(), column)
            self.view = f"interface {name}"
        elif words[0] == "vlan":
            if not vrp.switchports:  # a router without switch ports has no VLANs
                return self.error("invalid", self.prompt(), len(line) - len(line.lstrip()))
            self.view = " ".join(words)
        else:
            self.view = " ".join(words)
        vrp.block(self.view)
        return []

    def save(self, answer: str) -> list[str]:
        if answer.lower() not in ("y", "yes"):
            return []
        return ["  It will take several minutes to save configuration file, please wait.......",
                "  Configuration file had been saved successfully",
                "  Note: The configuration file will take effect after being activated"]


def zone_offset(lines: list[str]) -> int:
    """Seconds east of UTC that `clock timezone NAME add|minus HH[:MM[:SS]]` sets (VRP, Comware)."""
    words = next((line.split() for line in lines if line.startswith("clock timezone ")), None)
    if words is None:
        return 0
    parts = [int(part) for part in words[4].split(":")] + [0, 0]
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    return -seconds if words[3] == "minus" else seconds


def _secret(words: list[str]) -> bool:
    """A password typed in clear, which VRP keeps only as its cipher."""
    return len(words) > 2 and words[-2] in ("irreversible-cipher", "cipher") and not words[-1].startswith("$1c$")


async def listen(device: Device, port: int, clock: Clock):
    """Serve the device on device.address:port (SSH banner as a Huawei's)."""
    return await serve(device, port, Vrp(device, clock), VrpShell, "HUAWEI-1.5")
