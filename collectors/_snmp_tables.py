"""What the SNMP collector asks a router or switch for, and what it makes of the answers.

Pure: no I/O and no SNMP library. OIDs are tuples of ints; values arrive as plain Python
(int, bytes for OCTET STRING, a tuple for an OBJECT IDENTIFIER). Everything is by numeric
OID, because Debian ships no IF-MIB file and a monitoring agent should not need one.

- `Walk` holds what a poll found: the system scalars and the rows of each column, checking
  that the agent walks forward and that no column is endless.
- `assemble` turns the walked columns into a `Device`: interfaces, uptime, CPU and memory.
- `utilization` turns two `Reading`s of the octet counters into a ratio of link capacity,
  telling a 64-bit counter wrap from a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Oid = tuple[int, ...]

_MIB2 = (1, 3, 6, 1, 2, 1)
_IF_ENTRY = _MIB2 + (2, 2, 1)  # IF-MIB ifTable
_IFX_ENTRY = _MIB2 + (31, 1, 1, 1)  # IF-MIB ifXTable

# SNMPv2-MIB system group: asked with GETNEXT semantics (non-repeaters), answered at .0
SYSTEM: dict[str, Oid] = {
    "sysDescr": _MIB2 + (1, 1),
    "sysUpTime": _MIB2 + (1, 3),
    "sysName": _MIB2 + (1, 5),
}

# the columns of ifTable, then of ifXTable (ifHighSpeed in Mbit/s), by their column numbers
INTERFACE_COLUMNS: dict[str, Oid] = {
    **{name: _IF_ENTRY + (column,) for name, column in (
        ("ifDescr", 2), ("ifAdminStatus", 7), ("ifOperStatus", 8), ("ifInDiscards", 13), ("ifInErrors", 14),
        ("ifOutDiscards", 19), ("ifOutErrors", 20))},
    **{name: _IFX_ENTRY + (column,) for name, column in (
        ("ifName", 1), ("ifHCInOctets", 6), ("ifHCInUcastPkts", 7), ("ifHCOutOctets", 10), ("ifHCOutUcastPkts", 11),
        ("ifHighSpeed", 15), ("ifAlias", 18))},
}

# interface counter column -> the name of its metric, egov_snmp_interface_<name>_total
INTERFACE_COUNTERS: dict[str, str] = {
    "ifHCInOctets": "receive_bytes",
    "ifHCOutOctets": "transmit_bytes",
    "ifHCInUcastPkts": "receive_unicast_packets",
    "ifHCOutUcastPkts": "transmit_unicast_packets",
    "ifInErrors": "receive_errors",
    "ifOutErrors": "transmit_errors",
    "ifInDiscards": "receive_discards",
    "ifOutDiscards": "transmit_discards",
}

_HR_STORAGE_ENTRY = _MIB2 + (25, 2, 3, 1)
HR_STORAGE_RAM: Oid = _MIB2 + (25, 2, 1, 2)  # hrStorageType of physical memory

# CPU and memory: one MIB per platform family, so a device is never asked for tables it lacks
RESOURCE_COLUMNS: dict[str, dict[str, Oid]] = {
    "host-resources": {
        "hrProcessorLoad": _MIB2 + (25, 3, 3, 1, 2),  # percent, last minute, per processor
        "hrStorageType": _HR_STORAGE_ENTRY + (2,),
        "hrStorageSize": _HR_STORAGE_ENTRY + (5,),
        "hrStorageUsed": _HR_STORAGE_ENTRY + (6,),
    },
    "cisco": {
        "cpmCPUTotal5minRev": (1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1, 8),  # CISCO-PROCESS-MIB, percent
        "ciscoMemoryPoolUsed": (1, 3, 6, 1, 4, 1, 9, 9, 48, 1, 1, 1, 5),  # CISCO-MEMORY-POOL-MIB, bytes
        "ciscoMemoryPoolFree": (1, 3, 6, 1, 4, 1, 9, 9, 48, 1, 1, 1, 6),
    },
    "huawei": {
        "hwEntityCpuUsage": (1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 5),  # HUAWEI-ENTITY-EXTENT-MIB, %
        "hwEntityMemUsage": (1, 3, 6, 1, 4, 1, 2011, 5, 25, 31, 1, 1, 1, 1, 7),
    },
    # HH3C-ENTITY-EXT-MIB hh3cEntityExtStateEntry .6 CPU and .8 memory usage, percent per entity (0 on
    # entities without a CPU). `snmp-agent mib-style compatible` serves the same table under H3C's old
    # root 2011.10 instead of 25506 (the one E528 of ../shared/real-gear/snmp walked both ways), so
    # both are asked and the new one wins.
    "h3c": {
        "hh3cEntityExtCpuUsage": (1, 3, 6, 1, 4, 1, 25506, 2, 6, 1, 1, 1, 1, 6),
        "hh3cEntityExtMemUsage": (1, 3, 6, 1, 4, 1, 25506, 2, 6, 1, 1, 1, 1, 8),
        "h3cEntityExtCpuUsage": (1, 3, 6, 1, 4, 1, 2011, 10, 2, 6, 1, 1, 1, 1, 6),
        "h3cEntityExtMemUsage": (1, 3, 6, 1, 4, 1, 2011, 10, 2, 6, 1, 1, 1, 1, 8),
    },
}


def resource_family(platform: str | None) -> str:
    """Which MIB answers CPU and memory for a netmiko platform name."""
    if platform and platform.startswith("cisco") and platform != "cisco_tp":
        return "cisco"
    if platform and platform.startswith("huawei"):
        return "huawei"
    if platform and platform.startswith("hp_comware"):
        return "h3c"
    return "host-resources"  # Linux, MikroTik, Fortinet, ... and anything unknown


def dotted(oid: Oid) -> str:
    return ".".join(map(str, oid))


class WalkError(Exception):
    """The agent answered, but not as SNMP says a walk must go."""


class Walk:
    """What one poll found: the system scalars (one GET) and the rows of each table column,
    walked one column at a time by GETBULK. `add` is handed every row in the order the agent
    answered and refuses an agent that does not go forward (it would walk for ever) or a
    column longer than `max_rows`."""

    def __init__(self, scalars: Mapping[str, Oid], columns: Mapping[str, Oid], max_rows: int):
        self.scalars, self.columns, self.max_rows = dict(scalars), dict(columns), max_rows
        self.values: dict[str, Any] = {}  # scalar -> value
        self.found: dict[str, dict[Oid, Any]] = {name: {} for name in columns}  # column -> row index -> value

    def add(self, name: str, index: Oid, value: Any) -> None:
        rows = self.found[name]
        if rows and index <= next(reversed(rows)):
            raise WalkError(f"OID {dotted(self.columns[name] + index)} does not follow "
                            f"{dotted(self.columns[name] + next(reversed(rows)))}")
        if len(rows) >= self.max_rows:
            raise WalkError(f"more than {self.max_rows} rows in {name} ({dotted(self.columns[name])})")
        rows[index] = value


@dataclass(frozen=True)
class Interface:
    index: int  # ifIndex
    name: str  # ifName, else ifDescr, else the ifIndex; unique on the device
    description: str  # ifDescr
    alias: str  # ifAlias: what the operator wrote on the port
    uplink: bool  # the inventory lists it among the device's uplinks
    admin_up: bool | None
    oper_up: bool | None
    speed_bps: int | None  # ifHighSpeed in bit/s
    counters: dict[str, int] = field(default_factory=dict)  # INTERFACE_COUNTERS name -> value


@dataclass(frozen=True)
class Device:
    name: str  # sysName
    description: str  # sysDescr, whitespace collapsed
    uptime_ticks: int | None  # sysUpTime, hundredths of a second
    interfaces: list[Interface]
    cpu_ratio: float | None  # the busiest CPU the MIB reports
    memory_ratio: float | None


def text(value: Any, limit: int = 256) -> str:
    """An OCTET STRING as one line of text: control characters and runs of spaces collapse."""
    if not isinstance(value, bytes):
        return ""
    return " ".join(value.decode("utf-8", "replace").replace("\x00", " ").split())[:limit]


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def assemble(walk: Walk, family: str, uplinks: Iterable[str] = ()) -> Device:
    """The device a finished walk describes."""
    columns, uplinks = walk.found, set(uplinks)
    indexes = sorted({index for name in INTERFACE_COLUMNS for index in columns.get(name, {}) if len(index) == 1})
    interfaces, names = [], set()
    for (index,) in indexes:
        def cell(name):
            return columns.get(name, {}).get((index,))

        description = text(cell("ifDescr"))
        name = text(cell("ifName")) or description or str(index)
        if name in names:  # two rows with one name would be one series twice
            name = f"{name}#{index}"
        names.add(name)
        speed = _integer(cell("ifHighSpeed"))
        interfaces.append(Interface(
            index, name, description, text(cell("ifAlias")), bool(uplinks & {name, description}),
            None if _integer(cell("ifAdminStatus")) is None else cell("ifAdminStatus") == 1,
            None if _integer(cell("ifOperStatus")) is None else cell("ifOperStatus") == 1,
            None if speed is None else speed * 1_000_000,
            {metric: cell(column) for column, metric in INTERFACE_COUNTERS.items()
             if _integer(cell(column)) is not None}))
    cpu, memory = _resources(family, columns)
    return Device(text(walk.values.get("sysName")), text(walk.values.get("sysDescr")),
                  _integer(walk.values.get("sysUpTime")), interfaces, cpu, memory)


def _resources(family: str, columns: Mapping[str, Mapping[Oid, Any]]) -> tuple[float | None, float | None]:
    def numbers(name):
        return [v for v in columns.get(name, {}).values() if isinstance(v, int)]

    def busiest(name):
        values = numbers(name)
        return max(values) / 100 if values else None

    def share(used, total):
        return used / total if total > 0 else None

    if family == "cisco":
        used, free = sum(numbers("ciscoMemoryPoolUsed")), sum(numbers("ciscoMemoryPoolFree"))
        return busiest("cpmCPUTotal5minRev"), share(used, used + free)
    if family == "huawei":
        return busiest("hwEntityCpuUsage"), busiest("hwEntityMemUsage")
    if family == "h3c":
        new_root = busiest("hh3cEntityExtCpuUsage"), busiest("hh3cEntityExtMemUsage")
        return new_root if new_root != (None, None) else (busiest("h3cEntityExtCpuUsage"),
                                                           busiest("h3cEntityExtMemUsage"))
    ram = [index for index, kind in columns.get("hrStorageType", {}).items() if kind == HR_STORAGE_RAM]
    size, used = columns.get("hrStorageSize", {}), columns.get("hrStorageUsed", {})
    pairs = [(size[i], used[i]) for i in ram if isinstance(size.get(i), int) and isinstance(used.get(i), int)]
    return busiest("hrProcessorLoad"), share(sum(u for _, u in pairs), sum(s for s, _ in pairs))


# ---------------------------------------------------------------- rates between two polls

COUNTER64 = 2 ** 64


@dataclass(frozen=True)
class Reading:
    """What one poll leaves for the next: when, the device's uptime, the octet counters."""

    at: float  # the collector's clock, seconds
    uptime_ticks: int | None
    octets: dict[int, tuple[int | None, int | None]]  # ifIndex -> (received, transmitted)


def reading(device: Device, at: float) -> Reading:
    return Reading(at, device.uptime_ticks, {i.index: (i.counters.get("receive_bytes"),
                                                       i.counters.get("transmit_bytes"))
                                             for i in device.interfaces})


def counter_increase(previous: int, current: int, most: float) -> int | None:
    """How much a 64-bit counter grew, or None when it was reset rather than wrapped.

    A counter that went back either wrapped past 2**64 or restarted (a reboot, `clear
    counters`). The wrap is believed only when the growth it implies fits in `most`,
    what the link could carry in the time between the readings.
    """
    if current >= previous:
        return current - previous
    wrapped = current + COUNTER64 - previous
    return wrapped if wrapped <= most else None


def utilization(previous: Reading | None, current: Reading,
                speeds: Mapping[int, int | None]) -> dict[int, tuple[float | None, float | None]]:
    """ifIndex -> (receive, transmit) as ratios of ifHighSpeed over the time between the
    readings; None where it cannot be known: the first poll, a reset, a reboot, no speed."""
    if previous is None or current.at <= previous.at:
        return {}
    if current.uptime_ticks is not None and previous.uptime_ticks is not None \
            and current.uptime_ticks < previous.uptime_ticks:
        return {}  # the device restarted: every counter starts again
    elapsed, ratios = current.at - previous.at, {}
    for index, now in current.octets.items():
        before, speed_bps = previous.octets.get(index), speeds.get(index)
        if before is None or not speed_bps:
            continue
        capacity = speed_bps / 8 * elapsed  # bytes the link could carry meanwhile
        ratios[index] = tuple(_ratio(old, new, capacity) for old, new in zip(before, now))
    return ratios


def _ratio(old: int | None, new: int | None, capacity: float) -> float | None:
    if old is None or new is None:
        return None
    grown = counter_increase(old, new, capacity)
    return None if grown is None else grown / capacity
