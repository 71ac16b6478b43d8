"""H3C / HPE Comware 5 and 7 CLI output (netmiko's hp_comware): pure parsers, one per command
(see collectors/_cli.py).

ntc-templates parses the LLDP neighbour tables. Its `display interface` template skips the
traffic counters and it has none for `display version`, `display cpu-usage` or
`display memory`, so those are ours. netmiko's hp_comware session turns paging off itself
(`screen-length disable`) when it logs in.
"""

from __future__ import annotations

import re

from agent.platforms import PLATFORMS
from collectors._cli import (Commands, Interface, Neighbor, ParseError, Version, neighbors, percent, required, textfsm,
                             uptime_seconds)

PLATFORM = "hp_comware"  # ntc-templates' and netmiko's name
COMMANDS = Commands(PLATFORMS["hp_comware"].rejected)  # '% Unrecognized command found at '^' position.'


# 'H3C Comware Software, Version 7.1.045, Release 3106' (Comware 7), 'Comware Software, Version 5.20,
# Release 2202' (Comware 5), then 'H3C S5130-28S-HPWR-EI uptime is 7 weeks, 2 days, 22 hours,
# 16 minutes' (corpus: captures/misc/hp_comware/display_version)
_RELEASE = re.compile(r"Comware Software, Version (?P<version>[\w.]+), Release (?P<release>\w+)")
_UPTIME = re.compile(r"^(?:(?:H3C|HPE|HP) )?(?P<model>\S.*?) uptime is (?P<uptime>.+?)\s*$", re.M)


@COMMANDS.parser("version", "display version")
def parse_version(text: str) -> Version | None:
    """`display version`: the model, 'Comware version Release n', the uptime (no serial here)."""
    release, uptime = _RELEASE.search(text), _UPTIME.search(text)
    required(release and uptime, "'display version': no 'Comware Software, Version ..., Release ...' and "
                                 "'... uptime is ...' lines")
    return Version(model=uptime["model"], version=f"{release['version']} Release {release['release']}",
                   uptime_seconds=uptime_seconds(uptime["uptime"]))


# Comware 7 names the interface on a line of its own, then 'Current state: UP' and 'Line protocol
# state: UP(spoofing)'; Comware 5 on the state line, ' GigabitEthernet1/0/1 current state: DOWN
# ( Administratively )', then 'Line protocol current state: UP' (corpus:
# captures/ntc/hp_comware/display_interface). Only 'Administratively DOWN' is the staff's
# `shutdown`; 'STP DOWN' (BPDU guard), 'MAD ShutDown', 'DOWN ( Link-Aggregation interface down )'
# are the device's own doing (HPE FlexNetwork 5130 EI command reference, display interface).
_STATE = re.compile(r"^\s*(?!Line protocol )(?:(?P<name>\S.*?)\s+)?current state\s*:\s*(?P<state>.+?)\s*$", re.I)
_PROTOCOL = re.compile(r"^\s*Line protocol (?:current )?state\s*:\s*(?P<protocol>[a-z]+)", re.I)
# 'Input (total):  80274398 packets, 24384580165 bytes', 'Input: 9103 packets, 611444 bytes, 0 drops',
# 'Input:' then '  1183 packets, 90466 bytes'; errors as 'Input:  0 input errors, 0 runts, ...' or
# '  0 errors, 0 runts, 0 giants'. The '(normal)' lines repeat the packets without the bytes.
_DIRECTION = re.compile(r"^\s*(?P<direction>input|output)\s*(?:\((?P<which>\w+)\))?\s*:", re.I)
_TRAFFIC = re.compile(r"(\d+) packets,\s*(\d+) bytes", re.I)
_ERRORS = re.compile(r"\b(\d+) (?:input |output )?errors\b", re.I)


@COMMANDS.parser("interfaces", "display interface")
def parse_interfaces(text: str) -> list[Interface] | None:
    """`display interface`: state and counters of every interface."""
    found: list[dict] = []
    previous, direction = "", None
    for line in text.splitlines():
        state = _STATE.match(line)
        if state:
            name = state["name"] or previous
            status = state["state"].upper()
            found.append({"name": name.strip(), "admin_up": "ADMINISTRATIVELY" not in status,
                          "oper_up": status.startswith("UP")})
            direction = None
        elif found and _PROTOCOL.match(line):
            found[-1]["oper_up"] = _PROTOCOL.match(line)["protocol"].upper() == "UP"
        elif found:
            moved = _DIRECTION.match(line)
            if moved:
                direction = None if (moved["which"] or "").lower() == "normal" else (
                    "receive" if moved["direction"].lower() == "input" else "transmit")
            _count(found[-1], line[moved.end():] if moved else line, direction)
        if line.strip():
            previous = line
    required(found, "'display interface': no 'Current state: ...' line")
    return [Interface(**fields) for fields in found]


def _count(fields: dict, text: str, direction: str | None) -> None:
    """The first packets/bytes and errors figures of a direction are its totals."""
    if direction is None:
        return
    traffic, errors = _TRAFFIC.search(text), _ERRORS.search(text)
    if traffic and f"{direction}_packets" not in fields:
        fields[f"{direction}_packets"], fields[f"{direction}_bytes"] = int(traffic[1]), int(traffic[2])
    if errors and f"{direction}_errors" not in fields:
        fields[f"{direction}_errors"] = int(errors[1])


# 'Slot 1 CPU 0 CPU usage:' (or 'Unit CPU usage:', 'Chassis 1 Slot 0 CPU 0 CPU usage:') then
# '      10% in last 1 minute' (H3C Comware 7 device management command reference, display cpu-usage)
_CPU_MINUTE = re.compile(r"^\s*(\d+)% in last 1 minute", re.M)


@COMMANDS.parser("cpu", "display cpu-usage")
def parse_cpu(text: str) -> float | None:
    """`display cpu-usage`: the one-minute average of the busiest CPU (one per IRF member or card), 0-1."""
    minutes = required(_CPU_MINUTE.findall(text), "'display cpu-usage': no '...% in last 1 minute' line")
    return max(percent(value, "'display cpu-usage' one minute") for value in minutes)


# Comware 7: 'Mem:  507980  154896  353084  0  488  54488  69.5%' under 'Total Used Free Shared Buffers
# Cached FreeRatio', one table per slot (H3C Comware 7 device management command reference, display
# memory); Comware 5: 'System Total Memory(bytes): 431869088' and 'Total Used Memory(bytes): 71963156'
# (as public tools for Comware 5 quote it).
_MEM_ROW = re.compile(r"^Mem:\s+(\d+)\s+(\d+)\s", re.M)
_TOTAL = re.compile(r"System Total Memory\(bytes\):\s*(\d+)", re.I)
_USED = re.compile(r"Total Used Memory\(bytes\):\s*(\d+)", re.I)


@COMMANDS.parser("memory", "display memory")
def parse_memory(text: str) -> float | None:
    """`display memory`: used share of the memory of the fullest slot, 0-1 (Used / Total, which
    is 100% less FreeRatio)."""
    rows = [(int(total), int(used)) for total, used in _MEM_ROW.findall(text)]
    total, used = _TOTAL.search(text), _USED.search(text)
    if total and used:
        rows.append((int(total[1]), int(used[1])))
    required(rows, "'display memory': no 'Mem:' row and no 'System Total Memory(bytes)' line")
    for total_value, used_value in rows:
        if not 0 <= used_value <= total_value or total_value == 0:
            raise ParseError(f"'display memory': {used_value} used of {total_value}")
    return max(used_value / total_value for total_value, used_value in rows)


@COMMANDS.parser("neighbors", "display lldp neighbor-information verbose")
def parse_lldp(text: str) -> list[Neighbor] | None:
    """`display lldp neighbor-information verbose`: local port, system name, port ID, address."""
    return neighbors(textfsm(PLATFORM, "display lldp neighbor-information verbose", text), "neighbor_interface")


@COMMANDS.parser("neighbors", "display lldp neighbor-information list")
def parse_lldp_list(text: str) -> list[Neighbor] | None:
    """`display lldp neighbor-information list` (no addresses); '-' is a neighbour without a name."""
    return neighbors(textfsm(PLATFORM, "display lldp neighbor-information list", text), "neighbor_interface")
