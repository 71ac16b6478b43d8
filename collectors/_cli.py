"""What the per-platform CLI parsers share: the parsed shapes, TextFSM, uptimes, interface names.

Each platform module (`_cli_cisco_ios`, `_cli_huawei`, `_cli_hp_comware`, named by its
record in agent/platforms.py) has `COMMANDS = Commands(REFUSED)` and declares each pure parser
`parse(text)` with `@COMMANDS.parser(GROUP, COMMAND)`: for each group of facts (version,
interfaces, cpu, memory, neighbors) the commands that give it, in the order they are declared,
which is the order to try them. A parser returns the facts, returns None when the device says
it does not offer them (a command it does not know, which the platform's REFUSED regex
matches; a phrase of the decorator's `off`, such as 'LLDP is not enabled'), and raises
ParseError when the output is not what that command prints.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GROUPS = ("version", "interfaces", "cpu", "memory", "neighbors")


class ParseError(ValueError):
    """A command's output is not in the format its platform prints."""


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    uptime_seconds: float | None
    serial: str = ""


@dataclass(frozen=True)
class Interface:
    name: str
    admin_up: bool
    oper_up: bool
    # counters since the device booted or they were cleared; None where the device shows none
    receive_bytes: int | None = None
    transmit_bytes: int | None = None
    receive_packets: int | None = None
    transmit_packets: int | None = None
    receive_errors: int | None = None
    transmit_errors: int | None = None


COUNTERS = ("receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets",
            "receive_errors", "transmit_errors")


@dataclass(frozen=True)
class Neighbor:
    interface: str  # the local interface, as the device names it
    system_name: str  # what the neighbour advertises; "" when it does not
    port: str  # the neighbour's interface (or port id)
    address: str = ""  # its management address, when advertised


@dataclass(frozen=True)
class Command:
    command: str
    parse: Callable[[str], Any]


class Commands(dict):
    """A platform's commands by group of facts, each group's in the order to try them."""

    def __init__(self, refused: re.Pattern):
        super().__init__()
        self.refused = refused  # the device's answer to a command it does not know

    def parser(self, group: str, command: str, off: str = ""):
        """Declare `parse` as the parser of `command` for `group`: a refusal of the command, or
        output that says `off`, parses to None before `parse` sees it."""
        if group not in GROUPS:
            raise ValueError(f"{command!r}: unknown group {group!r}")

        def decorate(parse):
            @functools.wraps(parse)
            def offered(text: str):
                if self.refused.search(text) or (off and off in text):
                    return None
                return parse(text)

            self.setdefault(group, []).append(Command(command, offered))
            return offered

        return decorate


def required(found, message: str):
    """`found` (a match, a list, a record) when the output has it; ParseError(message) when not."""
    if not found:
        raise ParseError(message)
    return found


_UNITS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
_UPTIME = re.compile(r"(\d+)\s+(year|week|day|hour|minute|second)s?\b")


def uptime_seconds(text: str) -> float | None:
    """'1 year, 18 weeks, 5 days, 1 hour, 11 minutes' (IOS) or '0 week, 4 days, 22 hours' (VRP)."""
    parts = _UPTIME.findall(text)
    return float(sum(int(n) * _UNITS[unit] for n, unit in parts)) if parts else None


def textfsm(platform: str, command: str, text: str) -> list[dict[str, Any]]:
    """The ntc-templates table for `command` on `platform`; ParseError if the template rejects it."""
    from ntc_templates.parse import ParsingException, parse_output
    from textfsm import TextFSMError

    try:
        return parse_output(platform=platform, command=command, data=text)
    except (ParsingException, TextFSMError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ParseError(f"{command!r}: {first[:160]}") from None


def textfsm_record(platform: str, command: str, text: str, key: str, line: str) -> dict[str, Any]:
    """The record of a one-record template (`show version`), which must fill `key`; ParseError
    saying the output has no `line` when it does not."""
    rows = textfsm(platform, command, text)
    return required(rows and rows[0][key] and rows[0], f"{command!r}: no {line} line")


def neighbors(rows: list[dict[str, Any]], *ports: str) -> list[Neighbor]:
    """ntc-templates neighbour records as Neighbors: the port is the first of `ports` that the
    record fills; '-' (Comware's word for it) and '' are no system name."""
    return [Neighbor(row["local_interface"], "" if row["neighbor_name"] == "-" else row["neighbor_name"],
                     next((row[port] for port in ports if row[port]), ""), row.get("mgmt_address", ""))
            for row in rows]


def percent(value: str, what: str) -> float:
    """'16%' or '20.6' as a ratio from 0 to 1."""
    try:
        ratio = float(value.strip().rstrip("%")) / 100
    except ValueError:
        raise ParseError(f"{what}: expected a percentage, got {value!r}") from None
    if not 0 <= ratio <= 1:
        raise ParseError(f"{what}: {value!r} is not a percentage from 0 to 100")
    return ratio


# Every spelling of a kind of port that the devices print, to one name. IOS/IOS-XE shorten names in
# LLDP ('Gi1/0/1', 'Te1/1/1', 'Tw2/0/33' for TwoGigabitEthernet, 'Et0/0') and CDP ('Gig 1/0/10',
# 'Ten 1/1/3', 'Fas 0/0'), VRP in `display lldp neighbor brief` ('GE0/0/1', 'XGE0/0/1' for
# XGigabitEthernet) and CloudEngine in its full names ('10GE1/0/45'), Comware in
# `display lldp neighbor-information list` ('XGE1/0/1' for Ten-GigabitEthernet1/0/1, 'GE1/0/24');
# NX-OS neighbours say 'Eth1/6' (corpus: captures/ntc/*/*lldp*, *cdp*). Within one device only its
# own vendor's names occur, so the 10G names of all three vendors can share one key.
_KINDS = {
    "gigabitethernet": ("gi", "gig", "ge", "gige", "gigabitethernet"),
    "tengigabitethernet": ("te", "ten", "tengige", "tengigabitethernet", "ten-gigabitethernet", "xge",
                           "xgigabitethernet", "10ge"),
    "twogigabitethernet": ("tw", "two", "twogigabitethernet"),
    "fivegigabitethernet": ("fi", "fiv", "fivegigabitethernet"),
    "twentyfivegige": ("twe", "twentyfivegige", "twenty-fivegige", "wge", "25ge"),
    "fortygigabitethernet": ("fo", "for", "fortygige", "fortygigabitethernet", "fge", "40ge"),
    "hundredgige": ("hu", "hun", "hundredgige", "hundredgigabitethernet", "hge", "100ge"),
    "fastethernet": ("fa", "fas", "fastethernet"),
    "ethernet": ("et", "eth", "ethernet"),
    "port-channel": ("po", "port-channel"),
    "bridge-aggregation": ("bagg", "bridge-aggregation"),
    "route-aggregation": ("ragg", "route-aggregation"),
    "loopback": ("lo", "loop", "loopback"),
    "vlan": ("vl", "vlan", "vlanif", "vlan-interface", "vlan-int"),
    "management": ("mgmt", "management", "meth", "m-ge", "m-gigabitethernet"),
    "tunnel": ("tu", "tunnel"),
}
_KIND = {spelling: kind for kind, spellings in _KINDS.items() for spelling in spellings}
_NAME = re.compile(r"^(\d*[a-z][a-z-]*?)\s*(\d[\d/.:]*)$")


def interface_key(name: str) -> str:
    """One spelling per interface: 'Gi0/1', 'Gig 0/1' and 'GigabitEthernet0/1' compare equal, and so
    do 'XGE1/0/1', 'Ten-GigabitEthernet1/0/1' and 'TenGigabitEthernet1/0/1'."""
    match = _NAME.match(name.strip().lower())
    if not match:
        return name.strip().lower()
    return _KIND.get(match[1], match[1]) + match[2]
