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

_IOS = dict(dialect="cisco_ios", show_config="show running-config", hostname="hostname", last_line="end",
            volatile=_IOS_VOLATILE, negation="no ", exit="exit", logout="exit", rejected=_IOS_REJECTED,
            cli="collectors._cli_cisco_ios", template="cisco_ios.j2")
_VRP = dict(dialect="huawei_vrp", show_config="display current-configuration", hostname="sysname",
            last_line="return", volatile=_VRP_VOLATILE, negation="undo ", exit="quit", logout="quit",
            rejected=_VRP_REJECTED, cli="collectors._cli_huawei")

PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("cisco_ios", **_IOS),
    Platform("cisco_xe", **_IOS),  # IOS-XE prints as IOS does (ntc-templates keeps both under cisco_ios)
    Platform("huawei", **_VRP, template="huawei.j2"),  # VRP V100/V200: S-series switches, AR routers
    # VRP8 (CloudEngine, NE40E): its own NTP and Telnet commands, changes committed
    Platform("huawei_vrpv8", **_VRP, template="huawei_vrpv8.j2", commit=True),
    # H3C / HPE Comware 5 and 7 (the golden configuration is Comware 7's)
    Platform("hp_comware", dialect="hp_comware", show_config="display current-configuration", hostname="sysname",
             last_line="return", volatile=_VRP_VOLATILE, negation="undo ", exit="quit", logout="quit",
             rejected=_COMWARE_REJECTED, cli="collectors._cli_hp_comware", template="hp_comware.j2"),
)}


def get(name: str | None) -> Platform | None:
    return PLATFORMS.get(name or "")


def names() -> str:
    """The platforms egov-agent speaks, for error messages."""
    return ", ".join(PLATFORMS)
