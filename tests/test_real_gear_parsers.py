"""The ssh collector's CLI parsers on third-party device output (../shared/real-gear/captures).

For every ntc-templates capture of a command that one of our parsers reads, our records are
compared field by field with the expected records published beside it, wherever a field of
ours has a counterpart there (MAPPINGS says which, and how their text becomes our value). A
mismatch fails the test unless EXCEPTIONS names it with the reason the two legitimately
differ. Every other published capture of those commands (captures/misc) must parse into at
least one record. The figures, fields right / fields compared per command, are written to the
terminal when the module ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import _cli_cisco_ios as ios
from collectors import _cli_hp_comware as comware
from collectors import _cli_huawei as vrp
from tests import real_gear

SILENT = object()  # their record says nothing of this field

_UNITS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60}


def their_uptime(text: str) -> float:
    """'60 weeks, 4 days, 11 hours, 20 minutes' in seconds, read apart from the parsers' own helper."""
    seconds = 0
    for part in text.split(","):
        count, unit = part.split()
        seconds += int(count) * _UNITS[unit.rstrip("s")]
    return float(seconds)


def ios_uptime(record: dict) -> float:
    """ntc-templates splits the IOS uptime into uptime_years ... uptime_minutes ('' for none)."""
    return float(sum(int(record[f"uptime_{unit}s"] or 0) * seconds for unit, seconds in _UNITS.items()))


# Each of these reads one field of their record: (the field, as a Mapping names it; its value as ours)
Theirs = tuple[str, Callable[[dict], Any]]


def number(field: str) -> Theirs:
    return field, lambda record: int(record[field]) if record.get(field, "") not in ("", None) else SILENT


def text(field: str) -> Theirs:
    return field, lambda record: record[field] if field in record else SILENT


def status_up(field: str) -> Theirs:
    """'up', 'up (connected)', 'UP(spoofing)', 'UP ,' are up; '' says nothing."""
    return field, lambda record: record[field].strip().lower().startswith("up") if record.get(field) else SILENT


def admin_up(field: str) -> Theirs:
    """Only 'administratively down' (IOS) / 'Administratively DOWN' (VRP, Comware) is shut down."""
    return field, lambda record: not record[field].lower().startswith("administratively") if record.get(field) else SILENT


def first(field: str) -> Theirs:
    return f"{field}[0]", lambda record: record[field][0] if record.get(field) else SILENT


def interface_state(admin: str) -> dict[str, Theirs]:
    """An interface's name and states, from a `display interface` / `show interfaces` record."""
    return {"name": text("interface"), "admin_up": admin_up(admin), "oper_up": status_up("protocol_status")}


@dataclasses.dataclass(frozen=True)
class Mapping:
    parse: Callable[[str], Any]
    # our field -> (their field(s), as the published record names them; their value as ours)
    fields: dict[str, Theirs]


NEIGHBOR_DETAIL = {"interface": text("local_interface"),
                   "system_name": text("neighbor_name"),
                   "address": text("mgmt_address")}

MAPPINGS: dict[str, Mapping] = {
    "cisco_ios/show_version": Mapping(ios.parse_version, {
        "model": first("hardware"),
        "version": text("version"),
        "serial": first("serial"),
        "uptime_seconds": ("uptime_years..uptime_minutes", ios_uptime)}),
    "cisco_ios/show_interfaces": Mapping(ios.parse_interfaces, {
        **interface_state("link_status"),
        "receive_packets": number("input_packets"),
        "transmit_packets": number("output_packets"),
        "receive_errors": number("input_errors"),
        "transmit_errors": number("output_errors")}),
    "cisco_ios/show_processes_cpu": Mapping(ios.parse_cpu, {
        "value": ("cpu_usage_1_min", lambda r: int(r["cpu_usage_1_min"]) / 100)}),
    "cisco_ios/show_processes_memory_sorted": Mapping(ios.parse_memory, {
        "value": ("memory_used / memory_total", lambda r: int(r["memory_used"]) / int(r["memory_total"]))}),
    "cisco_ios/show_lldp_neighbors_detail": Mapping(ios.parse_lldp, {
        **NEIGHBOR_DETAIL,
        # the Port ID line; the template's neighbor_interface is the Port Description
        "port": ("neighbor_port_id or neighbor_interface",
                 lambda r: r["neighbor_port_id"] or r["neighbor_interface"])}),
    "cisco_ios/show_lldp_neighbors": Mapping(ios.parse_lldp_table, {
        "interface": text("local_interface"),
        "system_name": text("neighbor_name"),
        "port": text("neighbor_interface")}),
    "cisco_ios/show_cdp_neighbors_detail": Mapping(ios.parse_cdp, {
        **NEIGHBOR_DETAIL, "port": text("neighbor_interface")}),
    "huawei_vrp/display_version": Mapping(vrp.parse_version, {
        "model": text("model"),
        # the release Huawei's notices name: 'NE40E V800R011C00SPC200' -> 'V800R011C00SPC200'
        "version": ("product_version (its last word)", lambda r: r["product_version"].split()[-1]),
        "uptime_seconds": ("uptime", lambda r: their_uptime(r["uptime"]))}),
    "huawei_vrp/display_interface": Mapping(vrp.parse_interfaces, interface_state("link_status")),
    "huawei_vrp/display_lldp_neighbor": Mapping(vrp.parse_neighbors_detail, {
        **NEIGHBOR_DETAIL, "port": text("neighbor_port_id")}),
    "hp_comware/display_interface": Mapping(comware.parse_interfaces, interface_state("line_status")),
    "hp_comware/display_lldp_neighbor-information_verbose": Mapping(comware.parse_lldp, {
        **NEIGHBOR_DETAIL, "port": text("neighbor_interface")}),
    "hp_comware/display_lldp_neighbor-information_list": Mapping(comware.parse_lldp_list, {
        "interface": text("local_interface"),
        # '-' is how Comware prints a neighbour that advertises no system name; ours is ''
        "system_name": ("neighbor_name", lambda r: "" if r["neighbor_name"] == "-" else r["neighbor_name"]),
        "port": text("neighbor_interface")}),
}

# (capture, record index or None for the record count, our field): why theirs and ours differ
EXCEPTIONS: dict[tuple[str, int | None, str], str] = {
    ("cisco_ios/show_lldp_neighbors_detail/cisco_ios_show_lldp_neighbors_detail2", None, "records"):
        "this older layout has no 'Local Intf:' line (the template's local_interface is ''), so no neighbour "
        "can be placed on a port: our parser returns None and the collector asks `show lldp neighbors`",
    ("cisco_ios/show_lldp_neighbors_detail/cisco_ios_show_lldp_neighbors_detail5", None, "records"):
        "as detail2: no 'Local Intf:' line, so `show lldp neighbors` is asked instead",
    ("huawei_vrp/display_version/huawei_vrp_display_version5", 0, "model"):
        "the device prints 'S7706 Terabit Routing Switch'; we drop the product-line words ' Routing Switch'",
    ("hp_comware/display_interface/hp_comware_display_interface_stp-down_jumbo", 0, "admin_up"):
        "Comware 5 prints 'current state: DOWN ( Administratively )'; the template keeps only 'DOWN'",
    ("hp_comware/display_interface/hp_comware_display_interface_release_0615P16", 0, "name"):
        "the template takes the 'Output:' line for the name; the device names 'Eth-channel2/0:0' on the line "
        "before 'Current state: UP'",
}

def command_of(capture: Path) -> str:
    """'cisco_ios/show_version' for captures/*/cisco_ios/show_version/<stem>."""
    return f"{capture.parent.parent.name}/{capture.parent.name}"


CAPTURES = [p for p in real_gear.files("captures/ntc/*/*/*.raw") if command_of(p) in MAPPINGS]
FIGURES: dict[str, Counter] = {}


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """Once the module's tests have run, write fields right / compared per command to the
    terminal (past pytest's output capture, so that every CI log shows them)."""
    yield FIGURES
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if FIGURES:
            print("\nreal-gear conformance: fields right / compared (and mismatches explained in EXCEPTIONS)")
        for command, count in sorted(FIGURES.items()):
            print(f"  {command:55} {count['right']:4} / {count['compared']:4}  (+{count['excepted']} excepted)")


def compare(command: str, ours: Any, theirs: list[dict]) -> list[tuple[int | None, str, Any, Any]]:
    """(record index or None, field, ours, theirs) for every field both sides speak of."""
    mapping = MAPPINGS[command]
    if not isinstance(ours, list):  # one figure (CPU, memory) or record (version) for the device
        ours, theirs = [] if ours is None else [ours], theirs[:1]
    rows = [{"value": o} if isinstance(o, float) else dataclasses.asdict(o) for o in ours]
    out: list[tuple[int | None, str, Any, Any]] = [(None, "records", len(rows), len(theirs))]
    for index, (mine, record) in enumerate(zip(rows, theirs)):
        for field, (_, theirs_as_ours) in mapping.fields.items():
            value = theirs_as_ours(record)
            if value is not SILENT:
                out.append((index, field, mine[field], value))
    return out


def count(command: str, stem: str, comparisons) -> list[str]:
    """Add to FIGURES; the mismatches that no exception explains."""
    tally = FIGURES.setdefault(command, Counter())
    wrong = []
    for index, field, mine, theirs in comparisons:
        same = mine == pytest.approx(theirs) if isinstance(theirs, float) else mine == theirs
        if not same and (stem, index, field) in EXCEPTIONS:
            tally["excepted"] += 1
            continue
        tally["compared"] += 1
        tally["right"] += same
        if not same:
            wrong.append(f"record {index} {field}: ours {mine!r}, theirs {theirs!r}")
    return wrong


@pytest.mark.parametrize("raw", CAPTURES, ids=real_gear.ids(CAPTURES))
def test_parser_agrees_with_the_published_records(raw: Path):
    command = command_of(raw)
    stem = f"{command}/{raw.stem}"
    theirs = yaml.safe_load(raw.with_suffix(".yml").read_text())["parsed_sample"]
    with raw.open(newline="") as published:  # CRLF files kept as published
        ours = MAPPINGS[command].parse(published.read())
    comparisons = compare(command, ours, theirs)
    assert count(command, stem, comparisons) == []
    for (where, index, field), _ in EXCEPTIONS.items():  # an exception that no longer applies goes
        if where == stem:
            assert any(i == index and f == field and m != t for i, f, m, t in comparisons), (index, field)


# captures/misc/<platform>/<command> folders of the commands we parse, with the parser for them
MISC = {"hp_comware/display_version": comware.parse_version, "huawei_vrp/display_version": vrp.parse_version,
        "huawei_vrp/display_interface": vrp.parse_interfaces, "huawei_vrp/display_memory-usage": vrp.parse_memory}
MISC_CAPTURES = [p for p in real_gear.files("captures/misc/*/*/*.txt") if command_of(p) in MISC]


@pytest.mark.parametrize("capture", MISC_CAPTURES, ids=real_gear.ids(MISC_CAPTURES))
def test_other_published_output_parses(capture: Path):
    parsed = MISC[command_of(capture)](capture.read_text())
    assert parsed is not None
    assert not isinstance(parsed, list) or len(parsed) >= 1


def test_every_command_we_parse_has_captures():
    """The corpus still holds what this file claims to check (a renamed folder would silently
    leave a parser untested)."""
    real_gear.path("captures")
    assert {command_of(p) for p in CAPTURES} == set(MAPPINGS)
    assert {command_of(p) for p in MISC_CAPTURES} == set(MISC)


def test_uptime_reading_in_this_file():
    assert their_uptime("60 weeks, 4 days, 11 hours, 20 minutes") == ((60 * 7 + 4) * 86400 + 11 * 3600 + 1200)
    assert ios_uptime({"uptime_years": "1", "uptime_weeks": "", "uptime_days": "2", "uptime_hours": "",
                       "uptime_minutes": "5"}) == (365 + 2) * 86400 + 300
