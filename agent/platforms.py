"""The network platforms egov-agent speaks, one record each: every fact about a dialect in one place.

A platform is named by netmiko's `device_type` (the inventory's `egov_platform`). Its record
says how the device shows its configuration and how to tell a whole one, how a block is left
and a line negated, what a refused command looks like, which parsers read its CLI, which
golden template provisions it, which policy pack and redaction rules judge its backups. The
ssh collector, the backup, the audit, provisioning and the simulators read it from here;
adding a platform is its record, its parsers, its template, its policy pack, its simulator
and its corpus tests.

Light on purpose: the daemon imports it; the parsers are named, imported by `parsers()`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class LogEvent:
    """A log message that means something: `kind` is config (the configuration changed), command
    (a command was recorded: a change unless it is one of the platform's `exec_commands`),
    login_failure or interface. `pattern` is searched in the message; its named groups, where the
    message has them: user, line, address (who, on which terminal, from where), command,
    interface, state (up or down)."""

    kind: str
    pattern: re.Pattern


@dataclass(frozen=True)
class Platform:
    name: str  # netmiko's device_type
    dialect: str  # ntc-templates' platform name, shared by the device types that print alike
    show_config: str  # the command printing the running configuration
    hostname: str  # the keyword of the line naming the device: every configuration has one
    last_line: str  # the line a complete configuration ends with
    volatile: re.Pattern  # lines of the configuration that change while it does not
    negation: str  # how a line is negated
    exit: str  # leaves a block (configuration view)
    logout: str  # ends a session
    rejected: re.Pattern  # the device's answer to a configuration line it refuses
    cli: str  # the module of pure parsers of its CLI (collectors/_cli.py says their shape)
    template: str | None  # its golden configuration, a template of the network_baseline role
    commit: bool = False  # two-stage configuration: changes take effect at `commit` (VRP8)
    log_events: tuple[LogEvent, ...] = ()  # what its syslog messages say (collectors/syslog.py)
    exec_commands: tuple[str, ...] = ()  # recorded commands that change nothing, in full (any prefix matches)
    # the zone of a loghost timestamp that names none, as the golden configuration makes it log:
    # "UTC", or "local" (the device's `clock timezone`, which the receiver's unzoned_timestamps says)
    log_time: str = "local"

    def parsers(self) -> ModuleType:
        return importlib.import_module(self.cli)


# What IOS prints around and inside `show running-config` that changes without a change
# of the configuration (real-gear configs/cisco: `Building configuration...`,
# `Current configuration : 3781 bytes`, `! Last configuration change at ...`).
_IOS_VOLATILE = re.compile(
    r"^(Building configuration\.\.\.|Current configuration : \d+ bytes|! Last configuration change at .*"
    r"|! NVRAM config last updated at .*|! No configuration change since last restart|ntp clock-period \d+)$")
# Cisco IOS Configuration Fundamentals; netmiko's cisco_ios driver looks for the same words.
# The IOS and Comware parsers take these too: a show command the device does not know.
_IOS_REJECTED = re.compile(r"(?m)^\s*% ?(Invalid input|Incomplete command|Ambiguous command|Unknown command)")
# VRP: `Error: Unrecognized command found at '^' position.` and its Wrong parameter /
# Incomplete command / Too many parameters siblings (Huawei command references' examples).
_VRP_REJECTED = re.compile(r"(?m)^\s*Error:")
# Comware: `% Unrecognized command found at '^' position.` (and Wrong parameter, Incomplete
# command, Too many parameters): H3C Comware command references, "Using the CLI".
_COMWARE_REJECTED = re.compile(r"^\s*% ?(Unrecognized command|Wrong parameter|Incomplete command|Too many parameters)",
                               re.M | re.I)
_VRP_VOLATILE = re.compile(r"^!Last configuration was (updated|saved) at .*$")

# Log messages (addresses in the quoted examples replaced by documentation ones, RFC 5737).
# IOS: `%SYS-5-CONFIG_I: Configured from console by console` (real-gear
# reference/cisco/ios_config_fundamentals_cmdref_management.txt); older releases name the line
# where the user goes, `... by vty2 (192.0.2.36)` (Cisco Aironet 1100 configuration guide,
# "Configuring System Message Logging"); newer ones both, `... by netops on vty0 (192.0.2.37)`
# (public captures). Archive logging, one message per configuration command, exec commands
# marked `!exec:`: `%PARSER-5-CFGLOG_LOGGEDCMD: User:aninchat  logged command:router lisp`
# (public captures; one space or two after the user). `%SEC_LOGIN-4-LOGIN_FAILED: Login failed
# [user: admin] [Source: 192.0.2.5] [localport: 22] [Reason: ...]` and `%LINK-3-UPDOWN: Interface
# GigabitEthernet0/1, changed state to up` (IOS System Message Guide; Aironet guide's example).
_IOS_LOG = (
    LogEvent("config", re.compile(r"%SYS-5-CONFIG_I: Configured from \S+ by (?P<user>\S+?)"
                                  r"(?: on (?P<line>\S+?))?(?: \((?P<address>[^)\s]+)\))?\s*$")),
    LogEvent("command", re.compile(r"%PARSER-5-CFGLOG_LOGGEDCMD: User:\s*(?P<user>[^\s,]+),?\s+"
                                   r"logged command:(?!!exec:)(?P<command>.*)$")),
    LogEvent("login_failure", re.compile(r"%SEC_LOGIN-4-LOGIN_FAILED: Login failed \[user: (?P<user>[^\]]*)\]"
                                         r"(?: \[Source: (?P<address>[^\]]+)\])?")),
    LogEvent("interface", re.compile(r"%LINK-\d-UPDOWN: Interface (?P<interface>[^,]+), changed state to "
                                     r"(?:administratively )?(?P<state>up|down)")),
)
# Huawei VRP: `SHELL/5/CMDRECORD:Recorded command information. (Task=[string], Ip=[string],
# VpnName=[STRING], User=[string], AuthenticationMethod="[STRING]", Command="[string]")`, every
# command (Huawei log reference, SHELL; support.huawei.com EDOC1100127087); older releases omit
# VpnName and AuthenticationMethod. The logs' header: `%%01MODULE/4/BRIEF(l)[0]:` (Huawei forum,
# "how to analyse the logs"). `LINE/4/LOGIN_FAIL` (log reference, LINE, EDOC1100126883);
# `IFNET/4/LINK_STATE(l)[0]:The line protocol IP on the interface GigabitEthernet0/0/0 has entered
# the UP state.` (eNSP captures). VRP8 also logs `CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT: The
# configuration changed. (Internal change =[isInner], User name =[username], Session ID =[ssnId],
# Command source address =[srcAddress], ...)` (NetEngine 8000 log reference), 0: a user's change.
_VRP_HEAD = r"(?:\(\w\))?(?:\[\d+\])?:\s*"
_VRP_LOG = (
    LogEvent("command", re.compile(r"SHELL/5/CMDRECORD" + _VRP_HEAD + r"Recorded command information\. "
                                   r"\(Task=(?P<line>[^,]*), Ip=(?P<address>[^,]*),(?: VpnName=[^,]*,)? "
                                   r"User=(?P<user>[^,]*),(?: AuthenticationMethod=\"[^\"]*\",)? "
                                   r"Command=\"(?P<command>.*)\"\)")),
    LogEvent("config", re.compile(r"CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT" + _VRP_HEAD +
                                  r"The configuration changed\. \(Internal change =0, User name =(?P<user>[^,]*), "
                                  r"Session ID =[^,]*, Command source address =(?P<address>[^,]*)")),
    LogEvent("login_failure", re.compile(r"LINE/4/LOGIN_FAIL\b")),
    LogEvent("interface", re.compile(r"IFNET/\d/LINK_STATE" + _VRP_HEAD + r"The line protocol \S+ on the "
                                     r"interface (?P<interface>\S+) has entered the (?P<state>UP|DOWN) state")),
)
# H3C / HPE Comware: `SHELL/6/SHELL_CMD: -Line=vty0-IPAddr=192.0.2.155-User=admin; Command is
# dis info-center`, every command (HPE FlexFabric 5930 logfile example; public captures, `**` when
# there is no address or user); `CFGMAN/5/CFGMAN_CFGCHANGED: -EventIndex=12-CommandSource=2-
# ConfigSource=4-ConfigDestination=2; Configuration is changed.` (H3C information center
# configuration guide); `SSHS/6/SSHS_AUTH_FAIL: -DevIP=...; SSH user ubuntu (IP: 192.0.2.119)
# didn't pass public key authentication` (public capture); `IFNET/3/PHY_UPDOWN: Physical state on
# the interface GigabitEthernet1/0/1 changed to down.` (public captures, Comware 7).
_COMWARE_LOG = (
    LogEvent("command", re.compile(r"SHELL/6/SHELL_CMD: -Line=(?P<line>[^-]+)-IPAddr=(?P<address>[^-]+)"
                                   r"-User=(?P<user>[^;]*); Command is (?P<command>.*)$")),
    LogEvent("config", re.compile(r"CFGMAN/5/CFGMAN_CFGCHANGED: -EventIndex=")),
    LogEvent("login_failure", re.compile(r"SSHS/\d/SSHS_AUTH_FAIL\w*:.*?SSH user (?P<user>\S+) "
                                         r"\(IP: (?P<address>[^)]+)\)")),
    LogEvent("interface", re.compile(r"IFNET/\d/PHY_UPDOWN: Physical state on the interface (?P<interface>\S+) "
                                     r"changed to (?P<state>up|down)")),
)
# Loghost timestamps without a zone. IOS `service timestamps log datetime` without `localtime` is
# UTC, "without a time zone name" unless show-timezone (reference/cisco, service timestamps); the
# golden configuration names it. VRP and VRP8 send UTC to a loghost unless `info-center loghost IP
# local-time` ("If this parameter is not specified, the UTC time is used by default":
# reference/huawei/ce6800_v300r023_cmdref_management.txt, ne40e_v800r012, info-center loghost), as
# `Aug 6 2011 20:34:46 HUAWEI %%01HWCM/5/EXIT(l)[1]` without an offset, local time with one
# (Huawei log reference, "Log format", TimeStamp; its gloss of `03:58:15+07:00` as 10:58:15 local
# reads the offset backwards, so the golden configurations say `utc` rather than `local-time`). Comware's `date` stamp is the local time of its `clock timezone`, unzoned (H3C information
# center guides, "Timestamp"; its loghost line has no zone option).
# VRP and Comware record every command, reading ones too (display version, in the captures above)
_VRP_EXEC = ("display", "system-view", "quit", "return", "screen-length", "save", "ping", "tracert", "super")

_IOS = dict(dialect="cisco_ios", show_config="show running-config", hostname="hostname", last_line="end",
            volatile=_IOS_VOLATILE, negation="no ", exit="exit", logout="exit", rejected=_IOS_REJECTED,
            cli="collectors._cli_cisco_ios", template="cisco_ios.j2", log_events=_IOS_LOG, log_time="UTC")
_VRP = dict(dialect="huawei_vrp", show_config="display current-configuration", hostname="sysname",
            last_line="return", volatile=_VRP_VOLATILE, negation="undo ", exit="quit", logout="quit",
            rejected=_VRP_REJECTED, cli="collectors._cli_huawei", log_events=_VRP_LOG, exec_commands=_VRP_EXEC,
            log_time="UTC")

PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("cisco_ios", **_IOS),
    Platform("cisco_xe", **_IOS),  # IOS-XE prints as IOS does (ntc-templates keeps both under cisco_ios)
    Platform("huawei", **_VRP, template="huawei.j2"),  # VRP V100/V200: S-series switches, AR routers
    # VRP8 (CloudEngine, NE40E): its own NTP and Telnet commands, changes committed
    Platform("huawei_vrpv8", **_VRP, template="huawei_vrpv8.j2", commit=True),
    # H3C / HPE Comware 5 and 7 (the golden configuration is Comware 7's)
    Platform("hp_comware", dialect="hp_comware", show_config="display current-configuration", hostname="sysname",
             last_line="return", volatile=_VRP_VOLATILE, negation="undo ", exit="quit", logout="quit",
             rejected=_COMWARE_REJECTED, cli="collectors._cli_hp_comware", template="hp_comware.j2",
             log_events=_COMWARE_LOG, exec_commands=_VRP_EXEC),
)}


def get(name: str | None) -> Platform | None:
    return PLATFORMS.get(name or "")


def names() -> str:
    """The platforms egov-agent speaks, for error messages."""
    return ", ".join(PLATFORMS)
