"""An H3C Comware 7 router (MSR series) over SSH, strict like the device (netmiko `hp_comware`).

VRP's CLI family (tests/sim/huawei_vrp.py): `<name>` and `[name]` prompts, `system-view`,
`quit`, `return`; Comware's own words: `screen-length disable`, `save force`, `display memory`,
`display lldp neighbor-information verbose`, `line vty 0 63` with `authentication-mode scheme`,
`local-user NAME class manage` views, `ssh server enable`, and its errors with a `%`
(`% Unrecognized command found at '^' position.`, H3C's "Common command-line syntax error
messages" table, as quoted by public CLI tools' error tables).

Sources of the shapes and of their order: ../shared/real-gear/configs/h3c
(netutils_comware7_full_7.1.045, idx_252-hexin-core_comware7_7.1.070,
idx_mer5200-router_comware7_7.1.064) and reference/h3c/comware_login_ssh_telnet_excerpts.txt;
outputs in the shape of captures/misc/hp_comware/display_version (Comware 7.1) and
captures/ntc/hp_comware/display_interface, display_lldp_neighbor-information_verbose.
"""

from __future__ import annotations

import time

from tests.sim import Clock, Device
from tests.sim.cli import compile_shapes, secret_hash, serve
from tests.sim.huawei_vrp import Vrp, VrpShell, _mac, _state

USER = compile_shapes(["display version", "display interface brief", "display interface [IFNAME]",
                       "display cpu-usage", "display memory", "display lldp neighbor-information verbose",
                       "display current-configuration", "screen-length disable", "system-view", "save [force]",
                       "quit", "return"])
SYSTEM = compile_shapes([
    "=sysname WORD", "!",
    "=clock timezone WORD {add|minus} WORD", "=clock protocol {ntp|none}", "!",
    "copyright-info enable", "!",
    "dns server IP", "!",
    "telnet server enable", "ip http enable", "ip https enable", "!",
    "=system-working-mode standard", "password-recovery enable", "!",
    "dhcp enable", "stp global enable", "!",
    "lldp global enable", "!",
    "vlan <1-4094>", "!",
    "role name WORD", "user-group WORD", "!",
    "interface IFNAME", "!",
    "line class {aux|vty|console|tty}", "line {aux|vty|con} <0-63> [<0-63>]", "!",
    "ip route-static IP {INT|IP} IP", "!",
    # H3C information center guides: info-center loghost { ipv4-address | ipv6 ... } [ port port-number ]
    "info-center loghost IP [port <1-65535>]", "!",
    "snmp-agent", "=snmp-agent community {read|write} WORD! [LINE]", "=snmp-agent sys-info contact LINE",
    "=snmp-agent sys-info location LINE", "snmp-agent sys-info version {v1|v2c|v3|all} [{v2c|v3}] [v3]",
    # H3C Comware 7 Network Management and Monitoring Command Reference, snmp-agent group
    "=snmp-agent group v3 WORD! [{authentication|privacy}]", "!",
    "ssh server enable", "=ssh server acl INT",
    # reference/h3c: "ssh user username service-type stelnet authentication-type { password | ..."
    "=ssh user WORD! service-type {all|stelnet|sftp|scp|netconf} authentication-type {password|publickey|any}", "!",
    "ntp-service enable", "ntp-service unicast-server IP [LINE]", "!",
    "=header {motd|login}! LINE", "!",
    "domain WORD", "=domain default enable WORD", "!",
    "local-user WORD [class {manage|network}]", "!",
    "=scheduler logfile size INT", "!",
    "quit", "return"])
INTERFACE = compile_shapes(["=port link-mode {bridge|route}", "=description LINE", "shutdown",
                            "ip binding vpn-instance WORD", "=ip address IP IP", "ipv6 address LINE",
                            "=tcp mss INT", "=arp max-learning-num INT", "=port link-type {access|trunk|hybrid}",
                            "=port access vlan <1-4094>", "port trunk permit vlan LINE",
                            "=port trunk pvid vlan <1-4094>", "=broadcast-suppression pps INT",
                            "=multicast-suppression pps INT", "=port-security max-mac-count INT", "poe enable",
                            "quit", "return"])
VLAN = compile_shapes(["=name WORD", "=description LINE", "quit", "return"])
LINE = compile_shapes(["=authentication-mode {scheme|password|none}", "=set authentication password {simple|hash} WORD",
                       "user-role WORD", "=protocol inbound {ssh|telnet|all}", "=idle-timeout <0-35791> [<0-59>]",
                       "quit", "return"])
LOCAL_USER = compile_shapes(["=password {simple|hash} WORD", "=service-type LINE",
                             "authorization-attribute user-role WORD", "quit", "return"])
# Comware 7: Telnet server off by default (reference/h3c: "telnet server ... disabled by default").
SWITCHES = {"telnet server enable": (False, True, False), "ssh server enable": (False, True, False),
            "lldp global enable": (True, False, True)}
MESSAGES = {kind: "% " + text.split(": ", 1)[1] for kind, text in VrpShell.messages.items()}


def hashed(secret: str) -> str:
    return secret_hash("$h$6$", secret, 40)


class Comware(Vrp):
    system, switches, lldp = SYSTEM, SWITCHES, "lldp global enable"
    views = {"system": SYSTEM, "interface": INTERFACE, "vlan": VLAN, "line": LINE, "local-user": LOCAL_USER}
    openers = ("vlan ", "interface ", "line ", "local-user ")

    def boot(self, device: Device) -> None:
        """Comware 7's own accounts: netutils_comware7_full_7.1.045's `local-user X class manage`."""
        vty = self.block("line vty 0 63")
        if device.local_user:
            user = self.block(f"local-user {device.username} class manage")
            for line in (f"password hash {hashed(device.password)}", "service-type ssh",
                         "authorization-attribute user-role network-admin"):
                user.set(line)
            self.switch_to("ssh server enable", True)
            vty.set("authentication-mode scheme")
        else:
            vty.set("authentication-mode password")
            vty.set(f"set authentication password hash {hashed(device.password)}")
        vty.set("user-role network-operator")
        vty.set("protocol inbound ssh")
        self.block("interface NULL0")

    def login(self, username: str, password: str) -> bool:
        vty = self.block("line vty 0 63").render()
        if "authentication-mode password" in vty:
            return f"set authentication password hash {hashed(password)}" in vty
        user = next((lines.render() for header, lines in self.blocks.items()
                     if header.split()[:2] == ["local-user", username]), [])
        return f"password hash {hashed(password)}" in user and any(
            line.startswith("service-type ") and "ssh" in line.split() for line in user)

    def heading(self) -> list[str]:
        return ["#", " version 7.1.064, Release 0821P16"]


class ComwareShell(VrpShell):
    user_shapes, messages = USER, MESSAGES
    anywhere = ("display", "save")  # Comware: "save ... Views: Any view"
    recorded_severity = 6  # SHELL/6/SHELL_CMD
    banner = "\r\n******************************************************************************\r\n" \
             "* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.*\r\n" \
             "******************************************************************************\r\n\r\n"

    def __init__(self, state, process, behaviour: str, username: str):
        super().__init__(state, process, behaviour, username)
        self.banner = ComwareShell.banner

    @staticmethod
    def stored(words: list[str]) -> list[str]:
        """`password simple X` is kept (and printed) as `password hash $h$6$...`, as the local
        users of idx_252-hexin-core and netutils_comware7_full show; the vty password alike."""
        if len(words) > 2 and words[-3:-1] == ["password", "simple"]:
            return [*words[:-2], "hash", hashed(words[-1])]
        return words

    @staticmethod
    def log_stamp(loghost: str, offset: int) -> str:
        """The loghost's default `date` stamp, "Mmm dd hh:mm:ss yyyy", local time, no zone (H3C and
        3Com information center guides, "Timestamp"): `<190>Dec  4 17:42:33 2019 H3C %%10SHELL/6/...`."""
        when = time.gmtime(time.time() + offset)
        return f"{time.strftime('%b', when)} {when.tm_mday:2d} {time.strftime('%H:%M:%S', when)} {when.tm_year}"

    def recorded(self, number: int, command: str) -> str:
        """Every command typed, as Comware records it (agent/platforms.py cites the logfile example)."""
        return f"%%10SHELL/6/SHELL_CMD: -Line=vty0-IPAddr={self.client()}-User={self.username}; Command is {command}"

    def suffix(self, words: list[str]) -> str:
        if words[0] == "local-user":  # [R1-luser-manage-admin]
            return f"luser-{words[-1]}-{words[1]}"
        if words[0] == "line":  # [R1-line-vty0-63]
            return "line-" + words[1] + "-".join(words[2:])
        return super().suffix(words)

    def enter(self, words: list[str], line: str) -> list[str]:
        if words[0] == "local-user":
            header = " ".join(words if len(words) > 2 else [*words, "class", "manage"])
            self.view = header
            self.vrp.block(header)
            return []
        return super().enter(words, line)

    def display(self, words: list[str], column: int) -> list[str]:
        what = " ".join(words)
        if what == "version":
            return display_version(self.vrp)
        if what == "memory":
            return display_memory(self.vrp)
        if what == "cpu-usage":
            cpu = self.vrp.device.cpu_percent
            return ["Slot 0 CPU 0 CPU usage:", f"       {cpu}% in last 5 seconds", f"       {cpu}% in last 1 minute",
                    f"       {cpu}% in last 5 minutes"]
        if what.startswith("lldp"):
            return display_lldp_verbose(self.vrp)
        if words[0] == "interface" and what != "interface brief":
            name = self.vrp.port(words[1]) if len(words) > 1 else None
            if len(words) > 1 and name not in self.vrp.ports:
                return self.error("wrong", self.prompt(), len("display interface "))
            return display_interface(self.vrp, [name] if name else list(self.vrp.ports))
        return super().display(words, column)

    def save(self, answer: str = "y") -> list[str]:
        return ["Validating file. Please wait...",
                "Saved the current configuration to mainboard device successfully."]


def _uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    return (f"{minutes // 10080} weeks, {minutes // 1440 % 7} days, {minutes // 60 % 24} hours, "
            f"{minutes % 60} minutes")


def display_version(vrp: Comware) -> list[str]:
    """In the shape of captures/misc/hp_comware/display_version/idx_dev-sw05_s5130-28s-hpwr-ei_7.1.045."""
    device = vrp.device
    uptime = _uptime(device.uptime_seconds + vrp.clock.elapsed())
    return ["H3C Comware Software, Version 7.1.064, Release 0821P16",
            "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.",
            f"H3C {device.model} uptime is {uptime}", "Last reboot reason : Cold reboot", "",
            "Boot image: flash:/msr36-cmw710-boot-r0821p16.bin", "Boot image version: 7.1.064, Release 0821P16",
            "  Compiled Mar 18 2021 11:00:00", "System image: flash:/msr36-cmw710-system-r0821p16.bin",
            "System image version: 7.1.064, Release 0821P16", "  Compiled Mar 18 2021 11:00:00", "", "",
            "Slot 0:", f"Uptime is {uptime.replace(', ', ',')}", f"H3C {device.model} with 1 Processor",
            f"BOARD TYPE:         {device.model}", "DRAM:               2048M bytes",
            "FLASH:              1024M bytes", "PCB 1 Version:      VER.B", "Bootrom Version:    109",
            "CPLD 1 Version:     002", f"Release Version:    H3C {device.model}-0821P16",
            "Patch Version  :    None", "Reboot Cause  :     ColdReboot"]


def display_memory(vrp: Comware) -> list[str]:
    """Comware 7's `display memory` (KB)."""
    total = 2048000
    used = total * vrp.device.memory_percent // 100
    return ["Memory statistics are measured in KB:", "Slot 0:",
            "             Total      Used      Free    Shared   Buffers    Cached   FreeRatio",
            f"Mem:       {total:>7}   {used:>7}   {total - used:>7}         0      1884    118392       "
            f"{100 * (total - used) / total:.1f}%",
            f"-/+ Buffers/Cache:   {used - 120276:>7}   {total - used + 120276:>7}",
            "Swap:            0         0         0"]


def display_interface(vrp: Comware, names: list[str]) -> list[str]:
    """In the shape of captures/ntc/hp_comware/display_interface/hp_comware_display_interface.raw."""
    lines = []
    for name in names:
        port = vrp.port_state(name)
        state, _ = _state(port)
        counters = vrp.clock.counters(vrp.hostname, name, state == "UP")
        lines += [name, f"Current state: {'Administratively DOWN' if port.shutdown else state}",
                  f"Line protocol state: {'UP' if state == 'UP' else 'DOWN'}",
                  f"IP packet frame type: Ethernet II, hardware address: {_mac(vrp.hostname, name)}",
                  f"Description: {port.description or name + ' Interface'}", "Bandwidth: 1000000 kbps"]
        if port.address:
            lines.append(f"Internet address: {port.address} (Primary)")
        lines += ["Loopback is not set", "Media type is twisted pair, port hardware type is 1000_BASE_T",
                  "1000Mbps-speed mode, full-duplex mode",
                  "Link speed type is autonegotiation, link duplex type is autonegotiation",
                  "Flow-control is not enabled", "Maximum frame length: 9216",
                  "Last clearing of counters: Never",
                  f"Current system time:{time.strftime('%Y-%m-%d %H:%M:%S')} UTC+07:00:00",
                  "Last 300 seconds input: 3 packets/sec 250 bytes/sec -%",
                  "Last 300 seconds output: 2 packets/sec 238 bytes/sec -%",
                  f"Input (total):  {counters['receive_packets']} packets, {counters['receive_bytes']} bytes",
                  f"        {counters['receive_packets']} unicasts, 0 broadcasts, 0 multicasts, 0 pauses",
                  f"Input:  {counters['receive_errors']} input errors, 0 runts, 0 giants, 0 throttles",
                  "        0 CRC, 0 frame, - overruns, 0 aborts", "        - ignored, - parity errors",
                  f"Output (total): {counters['transmit_packets']} packets, {counters['transmit_bytes']} bytes",
                  f"        {counters['transmit_packets']} unicasts, 0 broadcasts, 0 multicasts, 0 pauses",
                  f"Output: {counters['transmit_errors']} output errors, - underruns, - buffer failures",
                  "        0 aborts, 0 deferred, 0 collisions, 0 late collisions",
                  "        0 lost carrier, - no carrier", ""]
    return lines


def display_lldp_verbose(vrp: Comware) -> list[str]:
    """In the shape of captures/ntc/hp_comware/display_lldp_neighbor-information_verbose."""
    lines = []
    for index, n in enumerate(vrp.device.neighbors, 1):
        lines += [f"LLDP neighbor-information of port {index}[{n.interface}]:", "LLDP agent nearest-bridge:",
                  " LLDP neighbor index : 1", " Update time         : 0 days, 1 hours, 2 minutes, 3 seconds",
                  " Chassis type        : MAC address", f" Chassis ID          : {_mac(n.system_name, 'chassis')}",
                  " Port ID type        : Interface name", f" Port ID             : {n.port}",
                  " Time to live        : 120", f" Port description    : {n.port}",
                  f" System name         : {n.system_name}", " System description  : Network device",
                  " System capabilities supported : Bridge, Router",
                  " System capabilities enabled   : Router"]
        if n.address:
            lines += [" Management address type           : IPv4", f" Management address                : {n.address}"]
        lines.append("")
    return lines


async def listen(device: Device, port: int, clock: Clock):
    """Serve the device on device.address:port (SSH banner as Comware's)."""
    return await serve(device, port, Comware(device, clock), ComwareShell, "Comware-7.1.064")
