"""A Cisco IOS 15 router (ISR G2) or Catalyst switch over SSH, strict like the device.

Modes and prompts as IOS has them: `name>` (user EXEC), `name#` (privileged), `name(config)#`,
`(config-if)#`, `(config-line)#`, `(config-vlan)#`. Each mode takes only the command shapes
below (tests/sim/cli.py), keywords abbreviated as far as they stay unambiguous, and answers
anything else the way IOS does (a caret under the first bad token, then
`% Invalid input detected at '^' marker.`; `% Incomplete command.`;
`% Ambiguous command:  "x"` — as captured from an IOS router in the pyneng course's
`send_config_commands` examples, and matched by netmiko's cisco_base_connection).

Sources of the shapes, and of their order (the order `show running-config` prints them in):
the corpus ../shared/real-gear/configs/cisco (cml_remoteaccess_R1_iosv_15.9, cml_ssh_R1_iosv_15.9,
pybatfish_hsrp_BR1_iosv_15.7, netutils_ios_full_17.1, idx_sw-noc-2_c2960_12.2,
ccat_HR_startup-config_15.2, batfish_ios_*_show_run_all_15.5), and reference/cisco/
ios_config_fundamentals_cmdref_management.txt; netmiko's cisco_ios driver for the session
commands (`terminal width 511`, `terminal length 0`, `copy running-config startup-config`).

What the running configuration shows follows the devices: `login authentication default` on
a line is the default and never printed; `no service pad`, `no ip source-route`, `no cdp run`,
`no aaa new-model`, `no ip http server` are; `no lldp run` and `no service tcp-keepalives-in`
are not. A secret is shown as a type-9 hash, a banner with `^C` delimiters.

Login follows the configuration as it is at that moment: without `aaa new-model` the vty
`login local` takes the `username` accounts (and `login` the line password); with it, the
`aaa authentication login` list of the vty (`default` unless `login authentication X`), local
for `default` when no list is configured. The privilege is the account's (with aaa: only
through `aaa authorization exec ... local`).

Test hook (no IOS command): `simulate reject <config line>` in privileged mode makes the
device answer that configuration line with "% Invalid input" until `simulate accept <line>`,
so provisioning tests can have a device refuse one command half-way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time

from tests.sim import Clock, Device
from tests.sim.cli import (Lines, Parsed, Shell, caret, compile_shapes, filtered, interleave, parse, parse_config,
                           secret_hash, send_log, serve)

# --------------------------------------------------------------- grammar

_SHOW = ["show version", "show privilege", "show interfaces [IFNAME]", "show ip interface brief",
         "show processes cpu [sorted]", "show processes memory [sorted]", "show lldp neighbors [detail]",
         "show cdp neighbors [detail]", "show clock", "show users"]
USER_EXEC = compile_shapes(["enable", "exit", "logout", "terminal length <0-512>", "terminal width <0-512>",
                            *_SHOW])
PRIVILEGED = compile_shapes(["enable", "disable", "exit", "logout", "configure terminal",
                             "copy running-config startup-config", "write [memory]",
                             "terminal length <0-512>", "terminal width <0-512>", *_SHOW,
                             "show running-config", "show startup-config"])

# Global configuration, in the order IOS prints it; "!" where it prints one between groups.
CONFIG = compile_shapes([
    "service pad", "service tcp-keepalives-in", "service tcp-keepalives-out",
    # typed again, it replaces the line of its kind (reference/cisco, service timestamps)
    "=service timestamps {debug|log}! {datetime|uptime} [msec] [localtime] [show-timezone] [year]",
    "service password-encryption", "service compress-config", "service sequence-numbers", "!",
    "=hostname WORD", "!",
    "boot-start-marker", "boot-end-marker", "!",
    "=logging buffered INT [{debugging|informational|notifications|warnings|errors}]",
    "logging console [{debugging|informational|notifications|warnings|errors}]", "!",
    "=enable secret [{0|5|8|9}] WORD", "=enable password [{0|7}] WORD", "!",
    "aaa new-model", "=aaa authentication login WORD! LINE", "=aaa authorization exec WORD! LINE",
    "aaa session-id common", "!",
    "=clock timezone WORD INT [INT]", "!",
    "=mmi polling-interval INT", "mmi auto-configure", "mmi pvc", "=mmi snmp-timeout INT", "!",
    "ip icmp rate-limit unreachable", "!",
    "ip source-route", "ip domain lookup", "=ip domain name WORD", "=ip domain-name WORD", "ip name-server IP",
    "ip cef", "ipv6 unicast-routing", "ipv6 cef", "ip multicast-routing", "!",
    "login on-success log", "login on-failure log", "!",
    "multilink bundle-name authenticated", "!",
    "=vtp mode {transparent|server|client|off}", "=spanning-tree mode {pvst|rapid-pvst|mst}",
    "spanning-tree extend system-id", "vlan internal allocation policy ascending", "!",
    "vlan <1-4094>",
    "=username WORD! privilege <0-15> {secret|password} [{0|5|7|8|9}] WORD",
    "=username WORD! {secret|password} [{0|5|7|8|9}] WORD", "!",
    "redundancy", "!",
    "lldp run", "cdp run", "!",
    "interface IFNAME",
    "ip tcp synwait-time <5-300>", "ip bgp-community new-format", "ip forward-protocol nd", "!",
    "ip http server", "ip http secure-server", "=ip http authentication {local|enable|aaa}",
    "ip route IP IP {IP|IFNAME} [<1-255>]",
    "=ip ssh version {1|2}", "=ip ssh time-out <1-120>", "=ip ssh authentication-retries <0-5>",
    "=ip ssh bulk-mode INT", "!",
    "ip community-list LINE", "ip prefix-list LINE", "!",
    "access-list <1-199> {permit|deny} LINE", "!",
    "logging IP", "logging host IP [transport {udp|tcp} port <1-65535>]", "=logging trap WORD",
    "=logging source-interface IFNAME", "!",
    "=snmp-server community WORD! [{RO|RW}] [WORD]", "=snmp-server location LINE", "=snmp-server contact LINE",
    "snmp-server group WORD v3 {auth|noauth|priv} [read WORD] [write WORD]",
    "snmp-server host IP LINE", "snmp-server enable traps [LINE]", "!",
    "control-plane", "!",
    "=banner {login|motd|exec|incoming}! LINE", "!",
    "line {console|aux} <0-0>", "line vty <0-1869> [<0-1869>]", "!",
    "=ntp source IFNAME", "ntp server IP [prefer]", "!",
    "scheduler allocate [INT INT]", "=memory free low-watermark LINE", "!",
    "end", "exit", "do LINE",
])
INTERFACE = compile_shapes([
    "=description LINE", "=encapsulation dot1Q <1-4094> [native]",
    "=switchport access vlan <1-4094>", "=switchport trunk encapsulation {dot1q|isl|negotiate}",
    "=switchport trunk native vlan <1-4094>", "=switchport trunk allowed vlan WORD",
    "=switchport mode {access|trunk}", "switchport nonegotiate", "switchport port-security [LINE]",
    "=ip address IP IP", "ip helper-address IP", "ip redirects", "ip unreachables", "ip proxy-arp",
    "=ip nat {inside|outside}", "=ip tcp adjust-mss <500-1460>", "=ip ospf cost <1-65535>",
    "=ip ospf network {point-to-point|broadcast}", "ipv6 enable", "ipv6 address LINE", "shutdown",
    "=duplex {auto|full|half}", "=speed {10|100|1000|auto}", "=media-type {rj45|gbic|sfp|auto-select}",
    "negotiation auto", "cdp enable", "lldp transmit", "lldp receive", "spanning-tree portfast [trunk]",
    "spanning-tree bpduguard enable", "end", "exit"])
LINE = compile_shapes([
    "=session-timeout <0-35791>", "=exec-timeout <0-35791> [<0-2147483>]", "=privilege level <0-15>",
    "=password [{0|7}] WORD", "logging synchronous", "=login [local]", "=login {authentication} WORD",
    "=transport input {ssh|telnet|all|none} [{ssh|telnet}]", "=transport output {ssh|telnet|all|none}",
    "=access-class WORD in", "=stopbits {1|2}", "end", "exit"])
VLAN = compile_shapes(["=name WORD", "end", "exit"])
MODES = {"config": CONFIG, "config-if": INTERFACE, "config-line": LINE, "config-vlan": VLAN}

# What IOS prints of an on/off command: (on by default, printed when on, printed when off).
# Sources: `no service pad`, `no cdp run` (idx_sw-noc-2_c2960_12.2, pybatfish_*: `no cdp log ...`),
# `no service password-encryption`, `no aaa new-model`, `no ip domain lookup`, `no ip http server`,
# `no ip http secure-server` (cml_*_iosv_15.9), `ip http server` (netutils_ios_full_17.1),
# `lldp run` (netutils_ios_full_17.1; off by default, ref. cmdref), `service tcp-keepalives-in`.
SWITCHES = {"service pad": (True, False, True), "service password-encryption": (False, True, True),
            "service tcp-keepalives-in": (False, True, False), "aaa new-model": (False, True, True),
            "ip source-route": (True, False, True), "ip domain lookup": (True, False, True),
            "ip http server": (False, True, True), "ip http secure-server": (False, True, True),
            "cdp run": (True, False, True), "lldp run": (False, True, False)}
# Lines IOS takes and never prints: the default they set.
HIDDEN = {"config-line": {"login authentication default"}}
# IOS's interface order in the running configuration (netutils_ios_full_17.1: Loopback0 first;
# ccat_HR_startup-config_15.2: Vlan1 after the Ethernet ports).
_KINDS = ("Loopback", "Tunnel", "Port-channel", "(physical)", "Vlan")
_TYPES = ("GigabitEthernet", "FastEthernet", "TenGigabitEthernet", "Ethernet", "Loopback", "Tunnel",
          "Port-channel", "Vlan")

INVALID = "% Invalid input detected at '^' marker."


def errors(parsed: Parsed, prompt: str) -> list[str]:
    if parsed.kind == "ambiguous":
        return [f'% Ambiguous command:  "{parsed.line.strip()}"']
    if parsed.kind == "incomplete":
        return ["% Incomplete command.", ""]
    return [caret(prompt, parsed.column), INVALID, ""]


def interface_name(typed: str) -> str | None:
    """'g0/1', 'Gi0/1', 'gigabitethernet0/1' -> 'GigabitEthernet0/1'."""
    match = re.match(r"([A-Za-z-]+)([\d/.:]+)$", typed)
    if not match:
        return None
    kinds = [t for t in _TYPES if t.lower().startswith(match[1].lower())]
    return kinds[0] + match[2] if len(kinds) == 1 or (kinds and kinds[0].lower() == match[1].lower()) else None


def _join_interface(line: str) -> str:
    """`interface GigabitEthernet 0/1` (and `show interfaces gi 0/1`) name one interface, as IOS reads it."""
    return re.sub(r"(?i)^(\s*(?:sh\S*\s+)?int\S*\s+)([a-z][a-z-]*[a-z])\s+(\d+(?:/\d+)*(?:\.\d+)?)\s*$",
                  lambda m: m[1] + m[2] + m[3] if interface_name(m[2] + m[3]) else m[0], line)


# --------------------------------------------------------------- the device's state

class Ios:
    """One device's state, shared by all its sessions."""

    def __init__(self, device: Device, clock: Clock):
        self.device, self.clock = device, clock
        self.switch = device.model.startswith("WS-C")
        self.links = {p.name: p.up for p in device.ports}
        self.rejected: set[str] = set()
        self.changed: float | None = None
        self.levels: dict[str, int] = {}  # the privilege each account logged in with last
        self.logged = 0  # messages logged: the sequence number of each
        self.global_ = Lines(CONFIG)
        self.blocks: dict[str, Lines] = {}  # "interface GigabitEthernet0/1", "line vty 0 4", "vlan 99"
        for line in ("service timestamps debug datetime msec", "service timestamps log datetime msec",
                     f"hostname {device.name}", "boot-start-marker", "boot-end-marker", "ip cef",
                     f"username {device.username} privilege 15 secret {device.password}"):
            self.global_.set(self.typed(line))
        if device.secret:
            self.global_.set(self.typed(f"enable secret {device.secret}"))
        for name, (default, _, _) in SWITCHES.items():
            self.switch_to(name, default)
        self.switch_to("cdp run", device.cdp)
        self.switch_to("lldp run", device.lldp)
        for spec in device.ports:
            lines = self.block(f"interface {spec.name}")
            if spec.description:
                lines.set(f"description {spec.description}")
            if spec.address and not self.switch:
                network = ipaddress.ip_interface(spec.address)
                lines.set(f"ip address {network.ip} {network.netmask}")
            if spec.shutdown:
                lines.set("shutdown")
        self.block("line console 0").set("exec-timeout 10 0")
        for setting in ("exec-timeout 10 0", "login local", "transport input ssh"):
            self.block("line vty 0 4").set(setting)

    @property
    def hostname(self) -> str:
        return next(line.split()[1] for line in self.global_.render() if line.startswith("hostname "))

    def typed(self, line: str) -> str:
        """A secret as IOS stores it: `secret X` -> `secret 9 $9$...` (never the secret itself)."""
        return re.sub(r"\b(secret|password) (?![05789] )(\S+)$",
                      lambda m: f"{m[1]} 9 {secret_hash('$9$', m[2], 40)}" if m[1] == "secret" else m[0], line)

    def block(self, header: str) -> Lines:
        kind = header.split()[0]
        shapes = {"interface": INTERFACE, "line": LINE, "vlan": VLAN}[kind]
        return self.blocks.setdefault(header, Lines(shapes))

    def on(self, name: str) -> bool:
        default = SWITCHES[name][0]
        lines = self.global_.render()
        return name in lines or (default and f"no {name}" not in lines)

    def switch_to(self, name: str, on: bool) -> None:
        parsed = parse(CONFIG, name)
        self.global_.remove(parsed.words)
        self.global_.remove(["no", *parsed.words])
        _, printed_on, printed_off = SWITCHES[name]
        if on and printed_on:
            self.global_.put(parsed.shape, parsed.words)
        elif not on and printed_off:
            self.global_.put(parsed.shape, ["no", *parsed.words])

    def ports(self) -> list[str]:
        names = [h.split(None, 1)[1] for h in self.blocks if h.startswith("interface ")]
        return sorted(names, key=lambda n: next((i for i, k in enumerate(_KINDS) if n.startswith(k)), 3))

    # ---- login: what the configuration lets in now

    def _account(self, username: str, password: str) -> int | None:
        for line in self.global_.render():
            words = line.split()
            if words[:2] == ["username", username]:
                level = int(words[3]) if words[2] == "privilege" else 1
                if words[-1] in (secret_hash("$9$", password, 40), password):
                    return level
        return None

    def login_level(self, username: str, password: str) -> int | None:
        """The privilege a vty login gets, or None if it is refused."""
        vty = self.blocks.get("line vty 0 4", Lines(LINE)).render()
        lines = self.global_.render()
        if not self.on("aaa new-model"):
            if "login local" in vty:
                return self._account(username, password)
            if "login" in vty:
                passwords = [line.split()[-1] for line in vty if line.startswith("password ")]
                return self._line_level(vty) if password in passwords else None
            return None  # IOS: "Password required, but none set"
        listname = next((line.split()[2] for line in vty if line.startswith("login authentication ")), "default")
        methods = next((line.split()[4:] for line in lines if line.startswith(f"aaa authentication login {listname} ")),
                       ["local"] if listname == "default" else [])
        for method in methods:
            if method in ("local", "local-case"):
                level = self._account(username, password)
                if level is None:
                    return None
                authorised = any(line.startswith("aaa authorization exec default local") for line in lines)
                return level if authorised else 1
            if method == "none":
                return 1
        return None  # a server group: there are no servers here

    @staticmethod
    def _line_level(vty: list[str]) -> int:
        return next((int(line.split()[-1]) for line in vty if line.startswith("privilege level ")), 1)

    def login(self, username: str, password: str) -> bool:
        level = self.login_level(username, password)
        if level is not None:
            self.levels[username] = level
        return level is not None

    # ---- logging

    def log(self, text: str, severity: int = 5) -> None:
        """`text` (`%SYS-5-CONFIG_I: ...`) to the loghosts, facility local7, in the header IOS
        writes: the message number, then the timestamp `service timestamps log` asks for, `*`
        before it while no NTP server is configured (the clock is not authoritative), as
        reference/cisco (service timestamps) shows them: `000075: *Mar  1 00:01:02.123: %SYS-...`,
        `Oct 13 2004 22:45:31 UTC: %SYS-...`, `1w0d: %SYS-...`."""
        self.logged += 1
        lines = self.global_.render()
        number = f"{self.logged:06d}" if "service sequence-numbers" in lines else str(self.logged)
        stamp = self.log_stamp(lines)
        if stamp and not any(line.startswith("ntp server ") for line in lines):
            stamp = "*" + stamp
        send_log(self.device, lines, f"<{23 * 8 + severity}>{number}: {stamp + ': ' if stamp else ''}{text}")

    def log_stamp(self, lines: list[str]) -> str:
        words = next((line.split()[3:] for line in lines if line.startswith("service timestamps log ")), None)
        if words is None:
            return ""
        if "datetime" not in words:
            days = int((self.device.uptime_seconds + self.clock.elapsed()) // 86400)
            return f"{days // 7}w{days % 7}d"
        now, zone = time.time(), "UTC"
        timezone = next((line.split()[2:] for line in lines if line.startswith("clock timezone ")), None)
        if "localtime" in words and timezone:  # `clock timezone ICT 7 [0]`
            hours = int(timezone[1])
            minutes = int(timezone[2]) if len(timezone) > 2 else 0
            now += hours * 3600 + (minutes if hours >= 0 else -minutes) * 60
            zone = timezone[0]
        when = time.gmtime(now)
        stamp = f"{time.strftime('%b', when)} {when.tm_mday:2d}" + (f" {when.tm_year}" if "year" in words else "")
        stamp += " " + time.strftime("%H:%M:%S", when) + (f".{int(now * 1000) % 1000:03d}" if "msec" in words else "")
        return stamp + (f" {zone}" if "show-timezone" in words else "")

    # ---- rendering

    def running_config(self) -> list[str]:
        body = ["!"]
        if self.changed:
            body += [time.strftime("! Last configuration change at %H:%M:%S UTC %a %b %d %Y",
                                   time.gmtime(self.changed)), "!"]
        body.append("version 15.7")
        shapes = {kind: parse(CONFIG, example).shape for kind, example in
                  (("interface", "interface Gi0/0"), ("line", "line vty 0"), ("vlan", "vlan 1"))}
        headers = [f"interface {name}" for name in self.ports()]
        headers += [h for h in self.blocks if h.startswith("vlan ")] + [h for h in self.blocks if h.startswith("line ")]
        previous = None  # (a block, its section, a line block)
        for shape, text, block in interleave(self.global_.ordered(), [(shapes[h.split()[0]], h) for h in headers]):
            if block:
                if not (previous and previous[2] and text.startswith("line ")):
                    body.append("!")
                body.append(re.sub(r"^line console ", "line con ", text))
                body += [f" {line}" for line in self._block_lines(text)]
            else:
                if previous and (previous[0] or previous[1] != shape.section):
                    body.append("!")
                body += _banner(text) if text.startswith("banner ") else [text]
            previous = (block, shape.section, text.startswith("line "))
        body += ["!", "end"]
        return ["Building configuration...", "", f"Current configuration : {len(chr(10).join(body)) + 1} bytes",
                *body]

    def _block_lines(self, header: str) -> list[str]:
        lines = self.blocks[header]
        if header.startswith("interface ") and not self.switch and not any(
                line.startswith("ip address ") for line in lines.render()):
            ip = parse(INTERFACE, "ip address 192.0.2.1 255.255.255.0").shape
            return lines.render(extra=((ip, ["no", "ip", "address"]),))  # IOS shows a routed port without one
        return lines.render()


def _banner(line: str) -> list[str]:
    """`banner login ^Text^` (any delimiter) as IOS prints it: `banner login ^CText^C`."""
    words = line.split(None, 2)
    text = words[2]
    return [f"{words[0]} {words[1]} ^C{text[1:text.index(text[0], 1)] if text[0] in text[1:] else text[1:]}^C"]


# --------------------------------------------------------------- the CLI

class IosShell(Shell):
    def __init__(self, ios: Ios, process, behaviour: str, username: str):
        super().__init__(ios, process, behaviour, username)
        self.ios = ios
        self.level = ios.levels.get(username, 1)
        self.mode, self.header = "exec", ""

    def prompt(self) -> str:
        name = self.ios.hostname
        if self.mode == "exec":
            return name + ("#" if self.level == 15 else ">")
        return f"{name}({self.mode})#"

    def interrupt(self) -> None:
        if self.mode != "exec":
            self.configured()

    def configured(self) -> None:
        """Leave the configuration mode, logged as IOS logs it (reference/cisco: `%SYS-5-CONFIG_I:
        Configured from console by console`; from a vty: `... by USER on vty0 (ADDRESS)`)."""
        self.mode = "exec"
        self.ios.log(f"%SYS-5-CONFIG_I: Configured from console by {self.username} on vty0 ({self.client()})")

    def execute(self, line: str) -> list[str] | None:
        command, _, pipe = line.partition("|")
        if self.mode == "exec":
            return self.exec_command(command, pipe)
        if " ".join(line.split()) in self.ios.rejected:
            return [caret(self.prompt(), len(line) - len(line.lstrip())), INVALID, ""]
        return self.config_command(_join_interface(line))

    def refusal(self, parsed: Parsed) -> list[str]:
        return errors(parsed, self.prompt())

    # ---- EXEC

    def exec_command(self, command: str, pipe: str) -> list[str] | None:
        words = command.split()
        if words[:1] == ["simulate"] and len(words) > 2 and self.level == 15:  # the test hook
            (self.ios.rejected.add if words[1] == "reject" else self.ios.rejected.discard)(" ".join(words[2:]))
            return []
        parsed = parse(PRIVILEGED if self.level == 15 else USER_EXEC, _join_interface(command))
        if (answer := self.unparsed(parsed)) is not None:
            return answer
        words = parsed.words
        if words[0] in ("exit", "logout"):
            return None
        if words[0] == "enable":
            if self.level == 15:
                return []
            self.question = ("Password: ", self.enable)
            return []
        if words[0] == "disable":
            self.level = 1
            return []
        if words[0] == "terminal":
            return []
        if words[:2] == ["configure", "terminal"]:
            self.mode = "config"
            return ["Enter configuration commands, one per line.  End with CNTL/Z."]
        if words[0] == "copy":
            self.question = ("Destination filename [startup-config]? ", lambda _: self.save())
            return []
        if words[0] == "write":
            return self.save()
        output = self.show(words[1:])
        if output is None:
            return [caret(self.prompt(), parsed.column), INVALID, ""]
        if pipe.strip():
            how, _, text = pipe.strip().partition(" ")
            kinds = [k for k in ("include", "exclude", "begin", "section") if k.startswith(how.lower())]
            if len(kinds) != 1 or not text.strip():
                return [caret(self.prompt(), len(command) + 2), INVALID, ""]
            output = filtered(output, kinds[0], text.strip())
        return output

    def enable(self, password: str) -> list[str]:
        secrets = [line.split()[-1] for line in self.ios.global_.render() if line.startswith("enable secret ")]
        if not secrets:
            return ["% No password set", ""]
        if secret_hash("$9$", password, 40) in secrets:
            self.level = 15
            return []
        return ["% Access denied", ""]

    def save(self) -> list[str]:
        return ["Building configuration...", "[OK]"]

    def show(self, words: list[str]) -> list[str] | None:
        ios = self.ios
        shown = SHOWN.get(words[0]) or SHOWN.get(" ".join(words[:2]))
        if shown:
            return shown(ios)
        if words[0] == "privilege":
            return [f"Current privilege level is {self.level}"]
        if words[0] == "interfaces":
            return show_interfaces(ios, words[1] if len(words) > 1 else "")
        if words[0] in ("lldp", "cdp"):
            return (show_lldp if words[0] == "lldp" else show_cdp)(ios, detail=len(words) > 2)
        if words[0] == "clock":
            return [time.strftime("*%H:%M:%S.000 UTC %a %b %d %Y", time.gmtime())]
        if words[0] == "users":
            return ["    Line       User       Host(s)              Idle       Location",
                    f"*  2 vty 0     {self.username:<10} idle                 00:00:00 127.0.0.1", ""]
        return None

    # ---- configuration

    def config_command(self, line: str) -> list[str]:
        ios = self.ios
        stripped = line.strip()
        parsed, negated = parse_config(MODES[self.mode], line, "no")
        if (answer := self.unparsed(parsed)) is not None:
            return answer
        words = parsed.words
        if words[0] == "end" or (words[0] == "exit" and self.mode == "config"):
            self.configured()
            return []
        if words[0] == "exit":
            self.mode = "config"
            return []
        if words[0] == "do":
            return self.exec_command(stripped[2:].strip(), "")
        if self.mode == "config" and words[0] in ("interface", "line", "vlan") and not negated:
            return self.enter(words, parsed, line)
        target = ios.global_ if self.mode == "config" else ios.block(self.header)
        name = " ".join(words)
        if self.mode == "config" and name in SWITCHES:
            ios.switch_to(name, not negated)
        elif negated:
            if self.mode == "config" and words[0] in ("interface", "vlan"):
                ios.blocks.pop(" ".join(words), None)
            target.remove(words)
        elif name in HIDDEN.get(self.mode, ()):
            target.remove(words[:1])  # back to the default, which is not shown
        else:
            target.put(parsed.shape, words if ios.typed(name) == name else ios.typed(name).split(" "))
        ios.changed = time.time()
        return []

    def enter(self, words: list[str], parsed: Parsed, line: str) -> list[str]:
        ios = self.ios
        if words[0] == "interface":
            name = interface_name(words[1])
            known = f"interface {name}" in ios.blocks
            creatable = name and (re.match(r"(Loopback|Tunnel|Port-channel)\d+$", name)
                                  or (ios.switch and re.match(r"Vlan\d+$", name)))
            if not (known or creatable):
                return [caret(self.prompt(), line.index(words[1][0]) if words[1][0] in line else 0), INVALID, ""]
            self.header, self.mode = f"interface {name}", "config-if"
            ios.links.setdefault(name, True)
        elif words[0] == "vlan":
            if not ios.switch:  # a router without switch ports has no VLAN database
                return [caret(self.prompt(), len(line) - len(line.lstrip())), INVALID, ""]
            self.header, self.mode = " ".join(words), "config-vlan"
        else:
            self.header, self.mode = " ".join(words), "config-line"
        ios.block(self.header)
        return []


# --------------------------------------------------------------- outputs, IOS 15 on an ISR G2

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


def show_version(ios: Ios) -> list[str]:
    device = ios.device
    return [
        "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5, RELEASE SOFTWARE (fc1)",
        "Technical Support: http://www.cisco.com/techsupport",
        "Copyright (c) 1986-2019 by Cisco Systems, Inc.",
        "Compiled Wed 30-Jan-19 09:58 by prod_rel_team",
        "",
        "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)",
        "",
        f"{ios.hostname} uptime is {_uptime(device.uptime_seconds + ios.clock.elapsed())}",
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
        f"{sum(1 for p in ios.ports() if p.startswith('Gigabit'))} Gigabit Ethernet interfaces",
        "DRAM configuration is 64 bits wide with parity enabled.",
        "255K bytes of non-volatile configuration memory.",
        "250880K bytes of ATA System CompactFlash 0 (Read/Write)",
        "",
        "Configuration register is 0x2102",
    ]


def _port(ios: Ios, name: str) -> dict:
    lines = ios.blocks[f"interface {name}"].render()
    address = next((line.split()[2:4] for line in lines if line.startswith("ip address ")), None)
    return {"shutdown": "shutdown" in lines, "address": ipaddress.ip_interface("/".join(address)) if address else None,
            "description": next((line[12:] for line in lines if line.startswith("description ")), "")}


def _state(ios: Ios, name: str) -> tuple[str, str]:
    if _port(ios, name)["shutdown"]:
        return "administratively down", "down"
    return ("up", "up") if ios.links.get(name, True) else ("down", "down")


def show_interfaces(ios: Ios, only: str = "") -> list[str] | None:
    names = ios.ports()
    if only:
        name = interface_name(only)
        if name not in names:
            return None
        names = [name]
    lines = []
    for name in names:
        port = _port(ios, name)
        state, protocol = _state(ios, name)
        counters = ios.clock.counters(ios.device.name, name, state == "up")
        loopback = name.startswith("Loopback")
        mac = _mac(ios.device.name, name)
        hardware = ("Loopback" if loopback else f"EtherSVI, address is {mac} (bia {mac})" if name.startswith("Vlan")
                    else f"CN Gigabit Ethernet, address is {mac} (bia {mac})")
        lines += [f"{name} is {state}, line protocol is {protocol} ", f"  Hardware is {hardware}"]
        if port["description"]:
            lines.append(f"  Description: {port['description']}")
        if port["address"]:
            lines.append(f"  Internet address is {port['address'].with_prefixlen}")
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


def show_ip_interface_brief(ios: Ios) -> list[str]:
    lines = ["Interface                  IP-Address      OK? Method Status                Protocol"]
    for name in ios.ports():
        state, protocol = _state(ios, name)
        address = _port(ios, name)["address"]
        ip, method = (str(address.ip), "NVRAM") if address else ("unassigned", "unset")
        lines.append(f"{name:<27}{ip:<16}YES {method:<7}{state:<22}{protocol}")
    return lines


_PROCESSES = ["   1          18          10       1800  0.00%  0.00%  0.00%   0 Chunk Manager    ",
              "   2         728        3965        183  0.00%  0.00%  0.00%   0 Load Meter       ",
              "   8        5026        2684       1872  0.00%  0.02%  0.00%   0 Check heaps      ",
              "  14          74         407        181  0.07%  0.03%  0.01%   1 SSH Process      ",
              "  72        1903       25520         74  0.00%  0.00%  0.00%   0 IOSD ipc task    "]


def show_processes_cpu(ios: Ios) -> list[str]:
    cpu = ios.device.cpu_percent
    return [f"CPU utilization for five seconds: {cpu + 1}%/0%; one minute: {cpu}%; five minutes: {cpu}%",
            " PID Runtime(ms)     Invoked      uSecs   5Sec   1Min   5Min TTY Process ", *_PROCESSES]


def show_processes_memory(ios: Ios) -> list[str]:
    total = 402653184
    used = total * ios.device.memory_percent // 100
    return [f"Processor Pool Total:  {total} Used:  {used} Free:  {total - used}",
            "      I/O Pool Total:   41943040 Used:   12061424 Free:   29881616", "",
            " PID TTY  Allocated      Freed    Holding    Getbufs    Retbufs Process",
            "   0   0  209299480   13474544  178205704          0          0 *Init*          ",
            "   1   0    1583728       3472    1613672          0          0 Chunk Manager   "]


def _short(name: str) -> str:
    """'GigabitEthernet0/1' as LLDP and CDP tables print it: 'Gi0/1'."""
    match = re.match(r"([A-Za-z]+)(.*)", name)
    return match[1][:2] + match[2] if match else name


def show_lldp(ios: Ios, detail: bool) -> list[str]:
    if not ios.on("lldp run"):
        return ["% LLDP is not enabled"]
    neighbors = ios.device.neighbors
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


def show_cdp(ios: Ios, detail: bool) -> list[str]:
    if not ios.on("cdp run"):
        return ["% CDP is not enabled"]
    neighbors = ios.device.neighbors
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


# `show WHAT ...` answered from the device's state alone, by its first word or two
SHOWN = {"version": show_version, "ip interface": show_ip_interface_brief, "processes cpu": show_processes_cpu,
         "processes memory": show_processes_memory, "running-config": Ios.running_config,
         "startup-config": Ios.running_config}


async def listen(device: Device, port: int, clock: Clock):
    """Serve the device on device.address:port (SSH banner as a Cisco's)."""
    return await serve(device, port, Ios(device, clock), IosShell, "Cisco-1.25")
