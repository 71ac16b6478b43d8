"""A Huawei VRP8 device (CloudEngine switch; netmiko `huawei_vrpv8`) over SSH, strict like the device.

VRP's CLI (tests/sim/huawei_vrp.py), configured in two stages, as CloudEngine's command
reference shows it in every example (reference/huawei/ce6800_v300r023_cmdref_management.txt):
`<HUAWEI> system-view`, then `[~HUAWEI]` while the session's candidate configuration is the
running one, `[*HUAWEI]` (`[*HUAWEI-ui-console0]` in a view) once it differs; `commit` makes it
the running configuration (`[*HUAWEI-ssl-policy-a] commit` / `[~HUAWEI-ssl-policy-a] quit`).
Each session has its candidate; `display current-configuration` shows the committed one, and
`sysname` renames the device at commit (CloudEngine's own example: `[~HUAWEI] sysname DeviceA`,
`[*HUAWEI] commit`, `[~DeviceA]`). Leaving the system view with changes not committed asks, as
a VRP8 session captured by an operator shows (found with the code search):
`Warning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:`
and the system view says `Enter system view, return user view with return command.`
netmiko's huawei_vrpv8 commits (`commit`, then `return` waiting for `>`), so it never meets
the question; a session closed with changes not committed drops them.

CloudEngine's words: `telnet server disable` (Telnet on by default), `ntp unicast-server`,
`local-user NAME privilege level <0-3>`, unindented global lines (sources beside the shapes).
Defaults hidden: `idle-timeout` typed as the default of its line (console 5 minutes, VTY 10:
reference, "idle-timeout (user interface view)") is not printed, as `display
current-configuration` prints no default. `save` as CloudEngine answers it: `Warning: The
current configuration will be written to the device. Continue? [Y/N]:`, `Now saving the
current configuration to the slot 1 .`, `Info: Save the configuration successfully.`
(CloudEngine configuration guides' examples; netmiko's huawei save_config docstring).
"""

from __future__ import annotations

import copy
import time

from tests.sim import Clock, Device
from tests.sim.cli import Lines, compile_shapes, parse_config, serve
from tests.sim.huawei_vrp import Vrp, VrpShell, cipher

RELEASE = "V200R005C00SPC800"

# The system view, in the order CloudEngine prints it: idx_ce5810_v100r003 (sysname,
# drop-profile, vlan batch, stp, telnet ipv6, diffserv, aaa, interfaces, snmp-agent, lldp,
# user-interface), inta_ce6800_doc_* (info-center and ntp before the interfaces; vlan N after
# vlan batch; stelnet and ssh after the static routes). Where no configuration of the corpus
# shows a line, it stands where VRP prints it (telnet server disable with telnet ipv6).
SYSTEM = compile_shapes([
    "=sysname WORD", "!",
    "=header {login|shell}! information LINE", "!",  # reference: COMMAND: header
    "drop-profile default", "!",
    "vlan batch LINE", "!",
    "=stp mode {stp|rstp|mstp}", "stp v-stp enable", "stp disable", "!",
    "telnet server disable", "telnet ipv6 server disable", "!",
    "diffserv domain default", "!",
    "=clock timezone WORD {add|minus} WORD", "!",
    "info-center channel INT name WORD", "info-center source LINE", "info-center snmp channel INT",
    "=info-center loghost source IFNAME", "info-center loghost IP [LINE]", "!",
    "ntp authentication-keyid LINE", "ntp trusted authentication-keyid INT",
    "ntp unicast-server {ipv6|domain} WORD [LINE]", "ntp unicast-server IP [LINE]", "ntp authentication enable",
    "=ntp server source-interface IFNAME", "ntp server disable", "ntp ipv6 server disable", "!",
    "dhcp enable", "!",
    "vlan <1-4094>", "!",
    "aaa", "!",
    "interface IFNAME", "!",
    "ip route-static IP IP {IP|IFNAME}", "!",
    "snmp-agent", "=snmp-agent local-engineid WORD", "=snmp-agent community {read|write} [cipher] WORD! [LINE]",
    "=snmp-agent sys-info contact LINE", "=snmp-agent sys-info location LINE", "!",
    "snmp-agent sys-info version {v1|v2c|v3|all} [{v2c|v3}] [v3]", "snmp-agent mib-view include LINE",
    "snmp-agent group v3 WORD {privacy|authentication|noauthentication} [LINE]", "snmp-agent usm-user v3 LINE",
    "snmp-agent trap enable", "snmp-agent target-host LINE", "!",
    "lldp enable", "!",
    "stelnet server enable", "sftp server enable", "ssh user WORD!",
    "=ssh user WORD! authentication-type! {password|rsa|all}", "=ssh user WORD! service-type! {stelnet|sftp|all|snetconf}",
    "=ssh user WORD! sftp-directory! WORD", "ssh server-source LINE", "=ssh server acl INT", "!",
    "=ssh server cipher LINE", "=ssh server hmac LINE", "=ssh server key-exchange LINE", "=ssh server publickey LINE",
    "=ssh server dh-exchange min-len INT", "!",
    "user-interface {con|console|vty} <0-20> [<0-20>]", "!",
    "vm-manager", "!",
    "commit", "quit", "return"])
# inta_ce6800_doc_aaa_local_admin (privilege levels 0-3), idx_ce5810_v100r003 (`level 15`).
AAA = compile_shapes(["=local-user WORD! password! irreversible-cipher WORD", "=local-user WORD! privilege! level <0-3>",
                      "=local-user WORD! level! <0-15>", "=local-user WORD! service-type! LINE",
                      "authentication-scheme WORD", "authorization-scheme WORD", "accounting-scheme WORD",
                      "domain WORD", "commit", "quit", "return"])
# idx_leaf-1_ce-vm_v200r005 (description, ip address), idx_ce5810 (port default vlan, trunks),
# inta_ce6800_doc_mlag_* (eth-trunk, mode lacp-static, Vlanif's mac-address).
INTERFACE = compile_shapes(["=description LINE", "shutdown", "=port link-type {access|trunk|hybrid}",
                            "=port default vlan <1-4094>", "port trunk allow-pass vlan LINE", "=ip address IP IP",
                            "=mac-address WORD", "=mode {lacp-static|lacp-dynamic|manual}", "peer-link INT",
                            "=eth-trunk INT", "commit", "quit", "return"])
VLAN = compile_shapes(["=description LINE", "=name WORD", "management-vlan", "commit", "quit", "return"])
# reference: authentication-mode, set authentication password, user privilege level,
# idle-timeout, protocol inbound; printed in idx_ce5810's order.
UI = compile_shapes(["=authentication-mode {aaa|password}", "=set authentication password cipher WORD",
                     "=user privilege level <0-15>", "=idle-timeout <0-35791> [<0-59>]",
                     "=protocol inbound {ssh|telnet|all}", "commit", "quit", "return"])
# Printed only when on (reference: Telnet on, STelnet off by default; idx_ce5810 prints `lldp enable`).
SWITCHES = {"telnet server disable": (False, True, False), "stelnet server enable": (False, True, False),
            "lldp enable": (False, True, False)}
# (the line's view, the line) the device takes as its default: it prints nothing for it
DEFAULTS = {("user-interface con", "idle-timeout 5 0"), ("user-interface vty", "idle-timeout 10 0")}
UNCOMMITTED = "Warning: Uncommitted configurations found, commit them before exiting? [Y(yes)/N(no)/C(cancel)]:"
CHOOSE = "Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:"


def _copy(lines: Lines) -> Lines:
    copied = Lines(lines.shapes)
    copied.items = list(lines.items)  # the items are replaced, never changed in place
    return copied


class Vrp8(Vrp):
    """The committed configuration, shared by all sessions; each session edits a candidate()."""

    system, switches = SYSTEM, SWITCHES
    views = {"system": SYSTEM, "aaa": AAA, "interface": INTERFACE, "vlan": VLAN, "user-interface": UI}
    indent = ""  # idx_ce5810_v100r003: `sysname HUAWEI`

    # inta_ce6800_doc_first_login_basic's account and login; idx_ce5810 prints the console first
    factory = {"user-interface con 0": ()}
    account = ("local-user {user} password irreversible-cipher {cipher}", "local-user {user} privilege level 3",
               "local-user {user} service-type ssh")
    ssh_account = ("ssh user {user}", "ssh user {user} authentication-type password", "ssh user {user} service-type stelnet")

    def candidate(self) -> Vrp8:
        copied = copy.copy(self)
        copied.global_, copied.blocks = _copy(self.global_), {h: _copy(lines) for h, lines in self.blocks.items()}
        return copied

    def snapshot(self) -> tuple:
        return self.global_.render(), {h: lines.render() for h, lines in self.blocks.items()}

    def heading(self) -> list[str]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(self.clock.started))
        return [f"!Software Version {RELEASE}", f"!Last configuration was updated at {stamp}"]


class Vrp8Shell(VrpShell):
    entered = "Enter system view, return user view with return command."

    def __init__(self, vrp: Vrp8, process, behaviour: str, username: str):
        super().__init__(vrp, process, behaviour, username)
        self.committed = vrp  # self.vrp: the candidate while in the system view

    @property
    def running(self) -> Vrp8:
        return self.committed

    def uncommitted(self) -> bool:
        return self.vrp is not self.committed and self.vrp.snapshot() != self.committed.snapshot()

    def prompt(self) -> str:
        if self.question:  # Ctrl+Z with changes not committed asks too
            return self.question[0]
        name = self.committed.hostname
        if self.view == "user":
            return f"<{name}>"
        mark = "*" if self.uncommitted() else "~"
        if self.view == "system":
            return f"[{mark}{name}]"
        return f"[{mark}{name}-{self.suffix(self.view.split())}]"

    def suffix(self, words: list[str]) -> str:
        if words[:2] == ["user-interface", "con"]:  # reference: [~HUAWEI-ui-console0]
            return "ui-console" + words[2]
        return super().suffix(words)

    def user(self, command: str, pipe: str) -> list[str] | None:
        output = super().user(command, pipe)
        if self.view == "system" and self.vrp is self.committed:
            self.vrp = self.committed.candidate()
        return output

    def display(self, words: list[str], column: int) -> list[str]:
        working, self.vrp = self.vrp, self.committed  # what runs, not what is being typed
        try:
            return display_version(self.vrp) if words == ["version"] else super().display(words, column)
        finally:
            self.vrp = working

    def configure(self, line: str) -> list[str]:
        view = self.view.split()[0]
        parsed, undo = parse_config(self.vrp.views[view], line, "undo")
        words = parsed.words if parsed.kind == "ok" and not undo else [""]
        if words[0] == "commit":
            self.commit()
            return []
        if (words[0] == "return" or (words[0] == "quit" and view == "system")) and self.uncommitted():
            self.question = (UNCOMMITTED, self.leave)
            return []
        if (" ".join(self.view.split()[:2]), " ".join(words)) in DEFAULTS:
            self.vrp.block(self.view).remove(words[:1])
            return []
        output = super().configure(line)
        if self.view == "user":
            self.vrp = self.committed
        return output

    def enter(self, words: list[str], line: str) -> list[str]:
        if words[0] == "user-interface" and words[1] == "console":  # printed `user-interface con 0`
            words = [words[0], "con", *words[2:]]
        return super().enter(words, line)

    def interrupt(self) -> None:
        if self.uncommitted():
            self.question = (UNCOMMITTED, self.leave)
        else:
            self.view, self.vrp = "user", self.committed

    def commit(self) -> None:
        """Make the candidate run, logged as VRP8 logs a user's change (agent/platforms.py cites the
        NetEngine 8000 log reference); VRP8 records every command too (SHELL/5/CMDRECORD)."""
        self.committed.global_, self.committed.blocks = self.vrp.global_, self.vrp.blocks
        self.vrp = self.committed.candidate()
        self.log(6, lambda number: f"%%01CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT(l)[{number}]:The configuration "
                                   f"changed. (Internal change =0, User name ={self.username}, Session ID ={id(self) % 1000}, "
                                   f"Command source address ={self.client()}, Storage type =1, Terminal type =0)")

    def leave(self, answer: str) -> list[str]:
        answer = answer.lower()
        if answer in ("c", "cancel"):
            return []
        if answer not in ("y", "yes", "n", "no"):
            self.question = (CHOOSE, self.leave)
            return []
        if answer.startswith("y"):
            self.commit()
        self.view, self.vrp = "user", self.committed
        return []

    def save(self, answer: str) -> list[str]:
        if answer.lower() not in ("y", "yes"):
            return []
        return ["Now saving the current configuration to the slot 1 .", "Info: Save the configuration successfully."]


def _uptime(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 1440} days, {minutes // 60 % 24} hours, {minutes % 60} minutes"


def display_version(vrp: Vrp8) -> list[str]:
    """In the shape of a CE6870's and a CE7850's `display version` quoted by public test data
    (found with the code search): 'VRP (R) software, Version 8.180 (CE6870EI V200R005C00SPC800)'."""
    model = vrp.device.model
    uptime = _uptime(vrp.device.uptime_seconds + vrp.clock.elapsed())
    series = model.split("-")[0] + model.rsplit("-", 1)[-1]  # CE6870-48S6CQ-EI: CE6870EI
    return ["Huawei Versatile Routing Platform Software", f"VRP (R) software, Version 8.180 ({series} {RELEASE})",
            "Copyright (C) 2012-2018 Huawei Technologies Co., Ltd.", f"HUAWEI {model} uptime is {uptime}", "",
            f"{model}(Master) 1 : uptime is  {uptime}", "Memory    Size    : 4096 M bytes",
            "Flash     Size    : 1024 M bytes", f"{model} version information", "1. PCB    Version : CEM48S6CQP01    VER B",
            "2. MAB    Version : 1", f"3. Board  Type    : {model}"]


async def listen(device: Device, port: int, clock: Clock):
    """Serve the device on device.address:port (SSH banner as a Huawei's)."""
    return await serve(device, port, Vrp8(device, clock), Vrp8Shell, "HUAWEI-1.5")

