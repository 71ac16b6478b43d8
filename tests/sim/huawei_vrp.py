"""A Huawei VRP 5 router (AR series) or switch (S series) over SSH, served by asyncssh.

The CLI is VRP's: user view `<hostname>`, `system-view` to `[hostname]`, interface views
`[hostname-GigabitEthernet0/0/1]`, `quit` one level up, `return` (or Ctrl+Z) to the user
view, keywords abbreviated as far as they stay unambiguous (`dis int br`), `| include`,
`| exclude` and `| begin` filters, and VRP's error messages. Typed characters are echoed, as
the device does and netmiko expects. Outputs follow captures of real devices (ntc-templates'
test data): `display version`, `display interface [brief]`, `display cpu-usage`,
`display memory-usage`, `display lldp neighbor brief`, `display current-configuration`.
Configuration commands change the running configuration: `sysname`, `lldp enable`,
`shutdown`, `description`, `ip address`, and any other line is kept as typed (`undo X`
removes X), so provisioning tests can change it and audit tests read it back. `save`
asks for confirmation like the device. `vlan N`, `interface Vlanif N` / `LoopBack N` and
`user-interface ...` enter views of their own whose lines are kept under their block (a
setting replaces the one of the same keyword: `idle-timeout 5 0`).

Test hook (no VRP command): `simulate reject <config line>` in the user view makes the
device answer that configuration line with "Error: Unrecognized command" until
`simulate accept <line>`, so provisioning tests can have a device refuse one command.

This module also serves the failure behaviours of tests/sim/__init__.py, for any platform:
silent, refuse_auth, garbage and drop.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import time

import asyncssh

from tests.sim import Clock, Device, Port, host_key

_SHORT = (("XGigabitEthernet", "XGE"), ("GigabitEthernet", "GE"), ("Ethernet", "Eth"))


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


class Vrp:
    """One device's state, shared by all its sessions."""

    def __init__(self, device: Device, clock: Clock):
        self.device, self.clock = device, clock
        self.hostname = device.name
        self.lldp = device.lldp
        self.ports: dict[str, Port] = {p.name: Port(**vars(p)) for p in device.ports}
        self.global_lines: list[str] = []
        self.interface_lines: dict[str, list[str]] = {}
        # views other than ports: "vlan 10", "interface Vlanif99", "user-interface vty 0 4"
        self.blocks: dict[str, list[str]] = {"user-interface con 0": ["authentication-mode aaa"],
                                             "user-interface vty 0 4": ["authentication-mode aaa",
                                                                        "protocol inbound ssh"]}
        self.rejected: set[str] = set()  # config lines answered with an error (test hook)

    def port(self, typed: str) -> Port | None:
        """The port named as typed: 'GigabitEthernet0/0/1', 'GE0/0/1', 'gigabitethernet 0/0/1', 'g0/0/1'."""
        match = re.match(r"([A-Za-z-]+)\s*([\d/.:]+)$", typed.strip())
        if not match:
            return None
        kind, number = match[1].lower(), match[2]
        for name, port in self.ports.items():
            full = re.match(r"([A-Za-z-]+)([\d/.:]+)$", name)
            if full and full[2] == number and (full[1].lower().startswith(kind)
                                               or short_name(full[1]).lower() == kind):
                return port
        return None

    def render_config(self) -> list[str]:
        device = self.device
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+07:00", time.localtime(self.clock.started))
        lines = [f"!Software Version {_release(device)}", f"!Last configuration was updated at {stamp}", "#",
                 f" sysname {self.hostname}", "#"]
        if self.lldp:
            lines += [" lldp enable", "#"]
        lines += [f" {line}" for line in self.global_lines] + ["#"] if self.global_lines else []
        lines += self._render_blocks("vlan ")
        lines += ["aaa", " authentication-scheme default", " authorization-scheme default",
                  f" local-user {device.username} password irreversible-cipher "
                  f"$1c${hashlib.sha256(device.password.encode()).hexdigest()[:32]}$",
                  f" local-user {device.username} privilege level 15",
                  f" local-user {device.username} service-type ssh", "#"]
        for port in self.ports.values():
            lines.append(f"interface {port.name}")
            if port.description:
                lines.append(f" description {port.description}")
            if port.address:
                network = ipaddress.ip_interface(port.address)
                lines.append(f" ip address {network.ip} {network.netmask}")
            if port.shutdown:
                lines.append(" shutdown")
            lines += [f" {line}" for line in self.interface_lines.get(port.name, [])] + ["#"]
        lines += self._render_blocks("interface ")
        lines += ["interface NULL0", "#", " stelnet server enable",
                  f" ssh user {device.username} authentication-type password",
                  f" ssh user {device.username} service-type stelnet", "#"]
        return lines + self._render_blocks("user-interface ") + ["return"]

    def _render_blocks(self, kind: str) -> list[str]:
        lines = []
        for header, block in self.blocks.items():
            if header.startswith(kind):
                lines += [header, *(f" {line}" for line in block), "#"]
        return lines


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
    for port in [only] if only else vrp.ports.values():
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
    for port in vrp.ports.values():
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
    if not vrp.lldp:
        return ["Info: Global LLDP is not enabled."]
    lines = ["Local Intf       Neighbor Dev             Neighbor Intf             Exptime(s)"]
    for n in vrp.device.neighbors:
        lines.append(f"{short_name(n.interface):<16} {n.system_name:<24} {short_name(n.port):<25} 118")
    return lines


def _filtered(lines: list[str], pipe: str) -> list[str]:
    """`| include X`, `| exclude X`, `| begin X` (each keyword abbreviable)."""
    words = pipe.split(None, 1)
    if len(words) < 2:
        return lines
    how, text = words[0].lower(), words[1]
    if "include".startswith(how):
        return [line for line in lines if text in line]
    if "exclude".startswith(how):
        return [line for line in lines if text not in line]
    if "begin".startswith(how):
        start = next((i for i, line in enumerate(lines) if text in line), len(lines))
        return lines[start:]
    return lines


def _matches(words: list[str], *keywords: str) -> bool:
    """VRP's keyword abbreviation: `dis int br` is `display interface brief`."""
    return len(words) >= len(keywords) and all(k.startswith(w.lower()) for w, k in zip(words, keywords))


_UNRECOGNIZED = "Error: Unrecognized command found at '^' position."
_WRONG = "Error: Wrong parameter found at '^' position."


class VrpSession:
    """One SSH shell on the device: the views, the line discipline, the commands."""

    def __init__(self, vrp: Vrp, process, behaviour: str):
        self.vrp, self.process, self.behaviour = vrp, process, behaviour
        self.view = "user"  # user, system, or the name of the interface being configured
        self.confirm = None  # a pending [Y/N] question's action

    def prompt(self) -> str:
        name = self.vrp.hostname
        if self.view == "user":
            return f"<{name}>"
        if self.view in self.vrp.blocks:  # [R1-vlan10], [R1-Vlanif99], [R1-ui-vty0-4]
            words = self.view.split()
            suffix = ("ui-" + "".join(words[1:2]) + "-".join(words[2:]) if words[0] == "user-interface"
                      else "".join(words[1:]) if words[0] == "interface" else "".join(words))
            return f"[{name}-{suffix}]"
        return f"[{name}]" if self.view == "system" else f"[{name}-{self.view}]"

    def write(self, text: str) -> None:
        self.process.stdout.write(text)

    async def run(self) -> None:
        self.write("\r\nInfo: The max number of VTY users is 10, and the number\r\n"
                   "      of current VTY users on line is 1.\r\n"
                   f"      The current login time is {time.strftime('%Y-%m-%d %H:%M:%S+07:00')}.\r\n"
                   + self.prompt())
        line, last = "", ""
        while True:
            try:
                data = await self.process.stdin.read(4096)
            except asyncssh.TerminalSizeChanged:
                continue
            if not data:
                return
            for char in data:
                if char in "\r\n":
                    if not (char == "\n" and last == "\r"):
                        self.write("\r\n")
                        if not await self.execute(line):
                            return
                        line = ""
                elif char == "\x1a":  # Ctrl+Z
                    self.view, line = "user", ""
                    self.write("\r\n" + self.prompt())
                elif char in "\x7f\b":
                    if line:
                        line = line[:-1]
                        self.write("\b \b")
                elif char.isprintable():
                    line += char
                    self.write(char)
                last = char

    async def execute(self, line: str) -> bool:
        """Run one line; False ends the session."""
        if self.confirm:
            action, self.confirm = self.confirm, None
            output = action() if line.strip().lower() in ("y", "yes") else []
        else:
            command, _, pipe = line.partition("|")
            words = command.split()
            if not words:
                output = []
            elif self.view == "user" and _matches(words, "quit") and len(words) == 1:
                return False
            else:
                output = self.command(words, len(self.prompt()) + len(line) - len(line.lstrip()))
                if pipe.strip() and output and words[0].lower().startswith("dis"):
                    output = _filtered(output, pipe.strip())
        if self.behaviour == "drop" and line.strip().lower().startswith("dis"):
            self.write("Huawei Versatile Routing Pla")
            await asyncio.sleep(0.05)
            self.process.get_extra_info("connection").abort()
            return False
        if self.behaviour == "garbage" and line.strip().lower().startswith("dis"):
            output = _garbage(line)
        self.write("".join(text + "\r\n" for text in output) + (self.confirm_text() or self.prompt()))
        return True

    def confirm_text(self) -> str | None:
        return "  Are you sure to continue? (y/n)[n]:" if self.confirm else None

    def command(self, words: list[str], column: int) -> list[str]:
        vrp = self.vrp
        if _matches(words, "display"):
            return self.display(words[1:], column + len(words[0]) + 1)
        if _matches(words, "screen-length") and words[1:2] == ["0"]:
            return ["Info: The configuration takes effect on the current user terminal interface only."]
        if _matches(words, "return"):
            self.view = "user"
            return []
        if _matches(words, "quit"):
            self.view = "user" if self.view == "system" else "system"
            return []
        if self.view != "user" and " ".join(words) in vrp.rejected:
            return [" " * column + "^", _UNRECOGNIZED]
        if self.view == "user":
            if words[0] == "simulate" and len(words) > 2:  # the test hook
                line = " ".join(words[2:])
                if words[1] == "reject":
                    vrp.rejected.add(line)
                else:
                    vrp.rejected.discard(line)
                return []
            if _matches(words, "system-view"):
                self.view = "system"
                return ["Enter system view, return user view with Ctrl+Z."]
            if _matches(words, "save"):
                self.confirm = self.save
                return ["  The current configuration will be written to the device."]
            return [" " * column + "^", _UNRECOGNIZED]
        if self.view == "system":
            if _matches(words, "sysname") and len(words) == 2:
                vrp.hostname = words[1]
            elif _matches(words, "interface") and len(words) > 1:
                port = vrp.port(" ".join(words[1:]))
                logical = re.match(r"(?i)(vlanif|loopback)\s*(\d+)$", " ".join(words[1:]))
                if port is None and logical:
                    self.view = f"interface {'Vlanif' if logical[1].lower() == 'vlanif' else 'LoopBack'}{logical[2]}"
                    vrp.blocks.setdefault(self.view, [])
                elif port is None:
                    return [" " * (column + len(words[0]) + 1) + "^", _WRONG]
                else:
                    self.view = port.name
            elif (words[0] == "vlan" and len(words) == 2 and words[1].isdigit()) or words[0] == "user-interface":
                self.view = " ".join(words)
                vrp.blocks.setdefault(self.view, [])
            elif _matches(words, "lldp", "enable"):
                vrp.lldp = True
            elif _matches(words, "undo", "lldp", "enable"):
                vrp.lldp = False
            else:
                _keep(vrp.global_lines, " ".join(words))
            return []
        if self.view in vrp.blocks:
            _set(vrp.blocks[self.view], words)
            return []
        port = vrp.ports[self.view]
        if _matches(words, "shutdown"):
            port.shutdown = True
        elif _matches(words, "undo", "shutdown"):
            port.shutdown = False
        elif _matches(words, "description") and len(words) > 1:
            port.description = " ".join(words[1:])
        elif _matches(words, "undo", "description"):
            port.description = ""
        elif _matches(words, "ip", "address") and len(words) == 4:
            port.address = str(ipaddress.ip_interface(f"{words[2]}/{words[3]}"))
        elif _matches(words, "undo", "ip", "address"):
            port.address = ""
        else:
            _keep(vrp.interface_lines.setdefault(port.name, []), " ".join(words))
        return []

    def display(self, words: list[str], column: int) -> list[str]:
        vrp = self.vrp
        if _matches(words, "version"):
            return display_version(vrp)
        if _matches(words, "interface", "brief"):
            return display_interface_brief(vrp)
        if _matches(words, "interface"):
            if len(words) == 1:
                return display_interface(vrp)
            port = vrp.port(" ".join(words[1:]))
            return display_interface(vrp, port) if port else [" " * (column + len(words[0]) + 1) + "^", _WRONG]
        if _matches(words, "cpu-usage"):
            return display_cpu_usage(vrp)
        if _matches(words, "memory-usage"):
            return display_memory_usage(vrp)
        if _matches(words, "lldp", "neighbor", "brief"):
            return display_lldp_neighbor_brief(vrp)
        if _matches(words, "current-configuration"):
            return vrp.render_config()
        return [" " * column + "^", _UNRECOGNIZED]

    def save(self) -> list[str]:
        return ["  It will take several minutes to save configuration file, please wait.......",
                "  Configuration file had been saved successfully",
                "  Note: The configuration file will take effect after being activated"]


def _keep(lines: list[str], line: str) -> None:
    """A config line as typed; `undo X` removes X and X followed by more words."""
    if line.startswith("undo "):
        lines[:] = [have for have in lines if have != line[5:] and not have.startswith(line[5:] + " ")]
    elif line not in lines:
        lines.append(line)


def _set(lines: list[str], words: list[str]) -> None:
    """A line of a block view: it replaces the setting of the same keyword; `undo X` removes it."""
    undo = words[0] == "undo"
    keyword = words[1] if undo else words[0]
    lines[:] = [line for line in lines if line.split()[0] != keyword]
    if not undo:
        lines.append(" ".join(words))


def _garbage(command: str) -> list[str]:
    """Lines no parser can take for any command's output (and no prompt either)."""
    digest = hashlib.sha256(command.encode()).hexdigest()
    return [f"%%01SHELL/4/DEBUG({digest[:4]}) 0x{digest[i:i + 8]} ~~ {digest[i + 8:i + 24]} ??"
            for i in range(0, 40, 8)]


async def listen(device: Device, port: int, clock: Clock):
    """Serve the device on device.address:port; returns the asyncio/asyncssh server."""
    if device.behaviour == "silent":
        return await asyncio.start_server(_silent, device.address, port)
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = asyncssh.import_private_key(host_key(device.name).private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    vrp = Vrp(device, clock)

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return bool(device.password)

        def validate_password(self, username: str, password: str) -> bool:
            return (device.behaviour != "refuse_auth" and username == device.username
                    and bool(device.password) and password == device.password)

        def public_key_auth_supported(self) -> bool:
            return bool(device.authorized_keys)

        def validate_public_key(self, username: str, key) -> bool:
            offered = key.export_public_key("openssh").decode().split()[1]
            return (device.behaviour != "refuse_auth" and username == device.username
                    and offered in (line.split()[1] for line in device.authorized_keys))

    async def shell(process) -> None:
        try:
            await VrpSession(vrp, process, device.behaviour).run()
        except (asyncssh.BreakReceived, ConnectionError):
            pass
        process.exit(0)

    return await asyncssh.create_server(Server, device.address, port, server_host_keys=[key],
                                        process_factory=shell, line_editor=False, encoding="utf-8",
                                        server_version="HUAWEI-1.5")


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, then say nothing until the client gives up."""
    try:
        while await reader.read(4096):
            pass
    finally:
        writer.close()
