"""Huawei VRP CLI output: pure parsers, one per command (see collectors/_cli.py).

ntc-templates parses `display version` and `display lldp neighbor`. Its `display interface`
template skips the traffic counters and it has none for `display cpu-usage`,
`display memory-usage` or `display lldp neighbor brief`, so those are ours; each handles the
layouts that VRP 5 (AR routers, S switches) and VRP 8 (NE, CE) print.
"""

from __future__ import annotations

import re

from collectors._cli import (Commands, Interface, Neighbor, ParseError, Version, neighbors, percent, required,
                             textfsm, textfsm_record, uptime_seconds)

PLATFORM = "huawei_vrp"  # ntc-templates' name for netmiko's huawei and huawei_vrpv8
COMMANDS = Commands(re.compile(r"^\s*Error:\s*(Unrecognized command|Wrong parameter|Incomplete command|"
                               r"Too many parameters)", re.M | re.I))


@COMMANDS.parser("version", "display version")
def parse_version(text: str) -> Version | None:
    row = textfsm_record(PLATFORM, "display version", text, "vrp_version", "'VRP (R) software, Version'")
    # 'AR610 V300R019C13SPC200': the release is what Huawei's notices and patches name
    release = row["product_version"].split()[-1] if row["product_version"] else row["vrp_version"]
    model = re.sub(r"\s+Routing Switch$", "", row["model"])
    return Version(model=model, version=release, uptime_seconds=uptime_seconds(row["uptime"]))


# 'GigabitEthernet0/0/1 current state : UP', '... : Administratively DOWN (ifindex: 9)....', 'Dialer1:0
# current state : UP ,' (corpus: captures/ntc/huawei_vrp/display_interface); any name, spaces too,
# so that no header goes unseen and lends its counters to the interface before it.
_HEADER = re.compile(r"^(?!Line protocol )(?P<name>\S.*?)\s+current state\s*:\s*(?P<state>.+?)\s*$", re.I)
_PROTOCOL = re.compile(r"^Line protocol current state\s*:\s*(?P<protocol>\w+)", re.I)
# 'Input:  30464 packets, 2525068 bytes', 'Input:  0 Packets, 0 Bytes', 'Output:0 packets,0 bytes',
# 'Input: 0 bytes' (VRP 5); 'Input: 0 bytes, 0 packets' (VRP 8)
_TRAFFIC = re.compile(r"^\s*(?P<direction>Input|Output)\s*:\s*(?:(?P<packets>\d+)\s+packets?,\s*(?P<bytes>\d+)\s+bytes"
                      r"|(?P<bytes_first>\d+)\s+bytes(?:,\s*(?P<packets_after>\d+)\s+packets?)?)", re.I)
_ERRORS = re.compile(r"Total Error:\s+(\d+)|^\s+(\d+) errors")


@COMMANDS.parser("interfaces", "display interface")
def parse_interfaces(text: str) -> list[Interface] | None:
    """`display interface`: state and counters of every interface."""
    found: list[dict] = []
    direction = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            state = header["state"].lower()
            found.append({"name": header["name"], "admin_up": not state.startswith("administratively"),
                          "oper_up": False})
            direction = None
            continue
        if not found:
            continue
        protocol = _PROTOCOL.match(line)
        if protocol:
            found[-1]["oper_up"] = protocol["protocol"].upper() == "UP"
            continue
        traffic = _TRAFFIC.match(line)
        if traffic:
            direction = "receive" if traffic["direction"].lower() == "input" else "transmit"
            found[-1][f"{direction}_bytes"] = int(traffic["bytes"] or traffic["bytes_first"])
            packets = traffic["packets"] or traffic["packets_after"]
            if packets is not None:
                found[-1][f"{direction}_packets"] = int(packets)
            continue
        errors = _ERRORS.search(line)
        if errors and direction:
            found[-1][f"{direction}_errors"] = int(errors[1] or errors[2])
    required(found, "'display interface': no '<interface> current state : ...' line")
    return [Interface(**fields) for fields in found]


# 'CPU utilization for five seconds: 6%: one minute: 6%: ...' (VRP 5),
# 'Cpu utilization for five seconds: 15% ;  one minute: 14% ; ...', 'one minute:  17.0%' (VRP 8),
# '41% in last 1 minute' (older boxes)
_CPU_MINUTE = re.compile(r"one minute:\s*([\d.]+)%|([\d.]+)%\s+in last 1 minute", re.I)


@COMMANDS.parser("cpu", "display cpu-usage")
def parse_cpu(text: str) -> float | None:
    """`display cpu-usage`: the one-minute average (of the control plane where it is split), 0-1."""
    match = required(_CPU_MINUTE.search(text), "'display cpu-usage': no one-minute CPU utilisation")
    return percent(match[1] or match[2], "'display cpu-usage' one minute")


_MEMORY_TOTAL = re.compile(r"System Total Memory(?: Is)?(?:\(bytes\))?\s*:\s*(\d+)", re.I)
_MEMORY_USED = re.compile(r"Total (?:Memory Used|Used Memory)(?: Is)?(?:\(bytes\))?\s*:\s*(\d+)", re.I)


@COMMANDS.parser("memory", "display memory-usage")
def parse_memory(text: str) -> float | None:
    """`display memory-usage`: used share of the system memory, 0-1 (from the totals, both in
    the same unit, which is more precise than the rounded percentage)."""
    total, used = _MEMORY_TOTAL.search(text), _MEMORY_USED.search(text)
    if not total or not used:
        raise ParseError("'display memory-usage': no 'System Total Memory' and 'Total Memory Used' lines")
    total_value, used_value = int(total[1]), int(used[1])
    if not 0 <= used_value <= total_value or total_value == 0:
        raise ParseError(f"'display memory-usage': {used_value} used of {total_value}")
    return used_value / total_value


# VRP 5: 'Local Intf  Neighbor Dev  Neighbor Intf  Exptime(s)'; VRP 8: 'Local Interface  Exptime(s)
# Neighbor Interface  Neighbor Device'
_COLUMNS = re.compile(r"Local\s+Int(?:f|erface)|Exptime(?:\(s\))?|Neighbor\s+Intf|Neighbor\s+Interface"
                      r"|Neighbor\s+Dev(?:ice)?", re.I)


@COMMANDS.parser("neighbors", "display lldp neighbor brief", off="LLDP is not enabled")
def parse_neighbors(text: str) -> list[Neighbor] | None:
    """`display lldp neighbor brief`; None when LLDP is off."""
    columns: list[str] = []
    listed = []
    for line in text.splitlines():
        if not line.strip() or set(line.strip()) <= {"-"}:
            continue
        if not columns:
            found = [_column(m.group()) for m in _COLUMNS.finditer(line)]
            if sorted(found) == ["device", "expires", "local", "port"]:
                columns = found
            continue
        values = line.split()
        if len(values) > 4 and columns[-1] == "device":  # a system name with spaces, in the last column
            values = values[:3] + [" ".join(values[3:])]
        if len(values) != 4:
            raise ParseError(f"'display lldp neighbor brief': expected 4 columns, got {line.strip()!r}")
        row = dict(zip(columns, values))
        listed.append(Neighbor(row["local"], "" if row["device"] == "-" else row["device"], row["port"]))
    required(columns, "'display lldp neighbor brief': no 'Local Intf ... Neighbor Dev' header")
    return listed


@COMMANDS.parser("neighbors", "display lldp neighbor", off="LLDP is not enabled")
def parse_neighbors_detail(text: str) -> list[Neighbor] | None:
    """`display lldp neighbor`, for a VRP that does not know `brief`; None when LLDP is off."""
    return neighbors(textfsm(PLATFORM, "display lldp neighbor", text), "neighbor_port_id")


def _column(header: str) -> str:
    header = header.lower()
    if header.startswith("local"):
        return "local"
    if header.startswith("exptime"):
        return "expires"
    return "device" if "dev" in header else "port"
