"""Cisco IOS / IOS-XE CLI output: pure parsers, one per command (see collectors/_cli.py).

ntc-templates parse `show version`, `show processes cpu` and the LLDP/CDP neighbour
details. `show interfaces` has a template too, but it drops the byte counters, and the
`show processes memory sorted` one rejects classic IOS's I/O pool line, so those two are ours.
"""

from __future__ import annotations

import re

from collectors._cli import Command, Interface, Neighbor, ParseError, Version, percent, textfsm, uptime_seconds

PLATFORM = "cisco_ios"  # ntc-templates' name; cisco_xe devices print the same
LOGOUT = "exit"
_REJECTED = re.compile(r"^\s*% ?(Invalid input|Unknown command|Incomplete command|Ambiguous command)", re.M)


def _offered(text: str) -> bool:
    return not _REJECTED.search(text)


def parse_version(text: str) -> Version | None:
    if not _offered(text):
        return None
    rows = textfsm(PLATFORM, "show version", text)
    if not rows or not rows[0]["version"]:
        raise ParseError("'show version': no 'Cisco IOS Software ... Version' line")
    row = rows[0]
    return Version(model=next(iter(row["hardware"]), ""), version=row["version"],
                   uptime_seconds=uptime_seconds(row["uptime"]), serial=next(iter(row["serial"]), ""))


_HEADER = re.compile(r"^(?P<name>\S+) is (?P<state>[\w ]+?), line protocol is (?P<protocol>\w+)")
_COUNTERS = [
    (re.compile(r"^\s+(\d+) packets input, (\d+) bytes"), ("receive_packets", "receive_bytes")),
    (re.compile(r"^\s+(\d+) packets output, (\d+) bytes"), ("transmit_packets", "transmit_bytes")),
    (re.compile(r"^\s+(\d+) input errors"), ("receive_errors",)),
    (re.compile(r"^\s+(\d+) output errors"), ("transmit_errors",)),
]


def parse_interfaces(text: str) -> list[Interface] | None:
    """`show interfaces`: state and counters of every interface."""
    if not _offered(text):
        return None
    found: list[dict] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            found.append({"name": header["name"], "admin_up": header["state"] != "administratively down",
                          "oper_up": header["protocol"] == "up"})
            continue
        for pattern, names in _COUNTERS:
            match = pattern.match(line)
            if match and found:
                found[-1].update(zip(names, map(int, match.groups())))
    if not found:
        raise ParseError("'show interfaces': no '<interface> is ..., line protocol is ...' line")
    return [Interface(**fields) for fields in found]


def parse_cpu(text: str) -> float | None:
    """`show processes cpu`: the one-minute average, 0-1."""
    if not _offered(text):
        return None
    rows = textfsm(PLATFORM, "show processes cpu", text)
    if not rows:
        raise ParseError("'show processes cpu': no 'CPU utilization for five seconds' line")
    return percent(rows[0]["cpu_usage_1_min"], "'show processes cpu' one minute")


_PROCESSOR_POOL = re.compile(r"^Processor Pool Total:\s*(\d+)\s+Used:\s*(\d+)", re.M)


def parse_memory(text: str) -> float | None:
    """`show processes memory sorted`: used share of the processor pool, 0-1. Ours: the
    template knows IOS-XE's lsmpi_io pool but rejects the I/O pool line of classic IOS."""
    if not _offered(text):
        return None
    pool = _PROCESSOR_POOL.search(text)
    if not pool:
        raise ParseError("'show processes memory sorted': no 'Processor Pool Total' line")
    total, used = int(pool[1]), int(pool[2])
    if not 0 <= used <= total or total == 0:
        raise ParseError(f"'show processes memory sorted': used {used} of a pool of {total}")
    return used / total


def parse_lldp(text: str) -> list[Neighbor] | None:
    """`show lldp neighbors detail`; None when LLDP is off (IOS's default)."""
    if not _offered(text) or "LLDP is not enabled" in text:
        return None
    return [Neighbor(row["local_interface"], row["neighbor_name"],
                     row["neighbor_port_id"] or row["neighbor_interface"], row["mgmt_address"])
            for row in textfsm(PLATFORM, "show lldp neighbors detail", text)]


def parse_cdp(text: str) -> list[Neighbor] | None:
    """`show cdp neighbors detail`; None when CDP is off."""
    if not _offered(text) or "CDP is not enabled" in text:
        return None
    return [Neighbor(row["local_interface"], row["neighbor_name"], row["neighbor_interface"], row["mgmt_address"])
            for row in textfsm(PLATFORM, "show cdp neighbors detail", text)]


COMMANDS = {
    "version": [Command("show version", parse_version)],
    "interfaces": [Command("show interfaces", parse_interfaces)],
    "cpu": [Command("show processes cpu", parse_cpu)],
    "memory": [Command("show processes memory sorted", parse_memory)],
    # IOS runs CDP by default and LLDP only after `lldp run`; LLDP is what other vendors speak
    "neighbors": [Command("show lldp neighbors detail", parse_lldp), Command("show cdp neighbors detail", parse_cdp)],
}
