"""Cisco IOS / IOS-XE CLI output: pure parsers, one per command (see collectors/_cli.py).

ntc-templates parse `show version` and the LLDP/CDP neighbour tables. `show interfaces` has a
template too, but it drops the byte counters; the `show processes memory sorted` one rejects
classic IOS's I/O pool line, and the `show processes cpu` one the per-core lines of IOS-XE;
so those three are ours.
"""

from __future__ import annotations

import re

from agent.platforms import PLATFORMS
from collectors._cli import (Commands, Interface, Neighbor, ParseError, Version, neighbors, percent, required,
                             textfsm, textfsm_record, uptime_seconds)

PLATFORM = "cisco_ios"  # ntc-templates' name; cisco_xe devices print the same
COMMANDS = Commands(PLATFORMS["cisco_ios"].rejected)


@COMMANDS.parser("version", "show version")
def parse_version(text: str) -> Version | None:
    row = textfsm_record(PLATFORM, "show version", text, "version", "'Cisco IOS Software ... Version'")
    return Version(model=next(iter(row["hardware"]), ""), version=row["version"],
                   uptime_seconds=uptime_seconds(row["uptime"]), serial=next(iter(row["serial"]), ""))


# '<name> is <state>[ (<why>)][, line protocol is <protocol>[ (<why>)][ , Autostate Enabled]]', the
# block's other lines indented: 'is up, line protocol is up (connected)', 'is administratively down,
# line protocol is down (disabled)', 'is reset, line protocol is down (notconnect)' (corpus:
# captures/ntc/cisco_ios/show_interfaces), 'Dialer1 is up (spoofing), line protocol is up (spoofing)',
# 'FastEthernet1 is down, line protocol is down (err-disabled)', 'Vlan1 is administratively down,
# line protocol is down , Autostate Enabled' (genieparser's iosxe show_interface.py, Cisco's errdisable
# recovery note 69980). Any other line at the margin ends the block, so that a header we cannot
# read never lends its counters to the interface before it.
_HEADER = re.compile(r"^(?P<name>\S.*?) is (?P<state>[a-z][a-z ]*?)(?: \([^)]*\))?"
                     r"(?:, line protocol is (?P<protocol>[a-z]+)\b.*)?$")
_COUNTERS = [
    (re.compile(r"^\s+(\d+) packets input, (\d+) bytes"), ("receive_packets", "receive_bytes")),
    (re.compile(r"^\s+(\d+) packets output, (\d+) bytes"), ("transmit_packets", "transmit_bytes")),
    (re.compile(r"^\s+(\d+) input errors"), ("receive_errors",)),
    (re.compile(r"^\s+(\d+) output errors"), ("transmit_errors",)),
]


@COMMANDS.parser("interfaces", "show interfaces")
def parse_interfaces(text: str) -> list[Interface] | None:
    """`show interfaces`: state and counters of every interface."""
    found: list[dict] = []
    current: dict | None = None
    for line in text.splitlines():
        if line[:1].strip():  # only a header starts at the margin
            header = _HEADER.match(line.rstrip())
            current = None
            if header:
                protocol = header["protocol"] or header["state"]
                current = {"name": header["name"], "admin_up": header["state"] != "administratively down",
                           "oper_up": protocol == "up"}
                found.append(current)
            continue
        for pattern, names in _COUNTERS:
            match = pattern.match(line)
            if match and current is not None:
                current.update(zip(names, map(int, match.groups())))
    required(found, "'show interfaces': no '<interface> is ..., line protocol is ...' line")
    return [Interface(**fields) for fields in found]


# 'CPU utilization for five seconds: 4%/0%; one minute: 6%; five minutes: 5%' (IOS),
# 'CPU utilization for five seconds: 43%, one minute: 44%, five minutes: 44%' and
# 'Core 0: CPU utilization for five seconds:  6%, one minute: 11%, five minutes: 11%' (IOS-XE
# `show processes cpu platform`, genieparser's iosxe show_platform.py), and on multi-core
# Catalysts only the core lines: 'Core 0: CPU utilization for five seconds: 3%; one minute: 3%; ...'
# (ArnesSI/collectd-python-shower README, "Multi-core CPU example").
_CPU = re.compile(r"^\s*(?P<core>Core \d+:\s*)?CPU utilization for five seconds:[^;,]*[;,]\s*"
                  r"one minute:\s*(?P<minute>\d+)%", re.M | re.I)


@COMMANDS.parser("cpu", "show processes cpu")
def parse_cpu(text: str) -> float | None:
    """`show processes cpu`: the one-minute average, 0-1; where only cores are shown, their mean."""
    lines = required(list(_CPU.finditer(text)), "'show processes cpu': no 'CPU utilization for five seconds' line")
    whole = [m for m in lines if not m["core"]]
    if whole:
        return percent(whole[0]["minute"], "'show processes cpu' one minute")
    cores = [percent(m["minute"], "'show processes cpu' one minute of a core") for m in lines]
    return sum(cores) / len(cores)


_PROCESSOR_POOL = re.compile(r"^Processor Pool Total:\s*(\d+)\s+Used:\s*(\d+)", re.M)


@COMMANDS.parser("memory", "show processes memory sorted")
def parse_memory(text: str) -> float | None:
    """`show processes memory sorted`: used share of the processor pool, 0-1. Ours: the
    template knows IOS-XE's lsmpi_io pool but rejects the I/O pool line of classic IOS."""
    pool = required(_PROCESSOR_POOL.search(text), "'show processes memory sorted': no 'Processor Pool Total' line")
    total, used = int(pool[1]), int(pool[2])
    if not 0 <= used <= total or total == 0:
        raise ParseError(f"'show processes memory sorted': used {used} of a pool of {total}")
    return used / total


# IOS runs CDP by default and LLDP only after `lldp run`; LLDP is what other vendors speak, so it is asked first
@COMMANDS.parser("neighbors", "show lldp neighbors detail", off="LLDP is not enabled")
def parse_lldp(text: str) -> list[Neighbor] | None:
    """`show lldp neighbors detail`; None when LLDP is off (IOS's default), and when the layout
    names no local interface (older IOS, corpus: ..._lldp_neighbors_detail2 and 5): then the
    `show lldp neighbors` table, which does, is asked next."""
    rows = textfsm(PLATFORM, "show lldp neighbors detail", text)
    if any(not row["local_interface"] for row in rows):
        return None
    return neighbors(rows, "neighbor_port_id", "neighbor_interface")


@COMMANDS.parser("neighbors", "show lldp neighbors", off="LLDP is not enabled")
def parse_lldp_table(text: str) -> list[Neighbor] | None:
    """`show lldp neighbors`: IOS cuts the system name at 20 characters and gives no address."""
    return neighbors(textfsm(PLATFORM, "show lldp neighbors", text), "neighbor_interface")


@COMMANDS.parser("neighbors", "show cdp neighbors detail", off="CDP is not enabled")
def parse_cdp(text: str) -> list[Neighbor] | None:
    """`show cdp neighbors detail`; None when CDP is off."""
    return neighbors(textfsm(PLATFORM, "show cdp neighbors detail", text), "neighbor_interface")
