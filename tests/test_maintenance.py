"""Maintenance windows (agent.inventory.service_levels): declared per site or host, in the
province's local time; the checks inside one show MAINTENANCE and the site is exported."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.checks import Check, State, worst
from agent.inventory import load_inventory, validate
from agent.inventory.service_levels import Schedule
from agent.states import CheckStates
from tests.helpers import cases

PROVINCE = """\
all:
  vars:
    egov_timezone: {timezone}
    egov_availability_targets: {{web_server: 99.5, icmp: 99}}
  children:
    tinh:
      vars: {{egov_site_type: province}}
      children:
        pop_old:
          vars:
            egov_site_type: pop
            egov_maintenance: {pop_windows}
          hosts:
            pop-rtr: {{ansible_host: 127.20.51.1, egov_role: router, egov_platform: huawei}}
          children:
            pop_old_room:
              vars: {{egov_site_type: office}}
              hosts:
                room-sw: {{ansible_host: 127.20.51.2, egov_role: switch, egov_platform: huawei}}
        xa_a:
          vars: {{egov_site_type: commune, egov_uplink: pop_old}}
          hosts:
            a-rtr: {{ansible_host: 127.20.52.1, egov_role: router, egov_platform: huawei}}
            a-pc:
              ansible_host: 127.20.52.9
              egov_role: one_stop_pc
              egov_maintenance: {host_windows}
"""
WEEKLY = "[{reason: Cập nhật phần mềm, weekly: Saturday 22:00-02:00}]"
ONCE = "[{reason: Thay máy, start: 2026-11-20 09:00, end: 2026-11-20 10:30}]"


def province(tmp_path, timezone="Asia/Ho_Chi_Minh", pop_windows=WEEKLY, host_windows=ONCE):
    path = tmp_path / "hosts.yml"
    path.write_text(PROVINCE.format(timezone=timezone, pop_windows=pop_windows, host_windows=host_windows))
    return path


def at(local: str, zone: str = "Asia/Ho_Chi_Minh") -> float:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize("moment, sites, hosts", [
    ("2026-11-14 21:59", set(), set()),
    # Saturday 22:00 to Sunday 02:00, local time; a window on a site covers the sites under it
    ("2026-11-14 22:00", {"pop_old", "pop_old_room"}, {"pop-rtr", "room-sw"}),
    ("2026-11-15 01:59", {"pop_old", "pop_old_room"}, {"pop-rtr", "room-sw"}),
    ("2026-11-15 02:00", set(), set()),
    ("2026-11-20 09:00", set(), {"a-pc"}),  # a host's own one-off window
    ("2026-11-20 10:30", set(), set()),
])
def test_who_is_in_maintenance_when(tmp_path, moment, sites, hosts):
    sites_now, hosts_now = Schedule(load_inventory(province(tmp_path))).now(at(moment))
    assert (set(sites_now), set(hosts_now)) == (sites, hosts)
    assert set(sites_now.values()) <= {"Cập nhật phần mềm"}


def test_the_windows_are_in_the_provinces_time_zone(tmp_path):
    schedule = Schedule(load_inventory(province(tmp_path, timezone="Asia/Tokyo")))  # two hours ahead of Hà Nội
    assert schedule.now(at("2026-11-15 01:00"))[0] == {}  # 03:00 in Tokyo: over
    assert set(schedule.now(at("2026-11-14 20:30"))[0]) == {"pop_old", "pop_old_room"}  # 22:30 in Tokyo


@cases("windows, key, message", """
    [{weekly: Saturday 22:00-02:00}]  egov_maintenance[0].reason  required key is missing
    [{reason: ' ', weekly: Saturday 22:00-02:00}]  egov_maintenance[0].reason  say why
    [{reason: x, weekly: Caturday 22:00-02:00}]  egov_maintenance[0].weekly  expected a day and two times
    [{reason: x, weekly: Sunday 25:00-02:00}]  egov_maintenance[0].weekly  expected a day and two times
    [{reason: x, start: 2026-11-20 09:00}]  egov_maintenance[0].end  needs start and end, or weekly
    [{reason: x, start: 2026-11-20 09:00, end: 2026-11-20 08:00}]  egov_maintenance[0].end  ends before
    [{reason: x, start: tomorrow, end: 2026-11-20 08:00}]  egov_maintenance[0].start  2026-11-14 22:00
    [{reason: x, start: 2026-11-20 09:00, end: 2026-11-20 10:00, weekly: Sunday 01:00-02:00}]  egov_maintenance[0].weekly  not both
    [{reason: x, every: sunday}]  egov_maintenance[0].every  unknown key
""")
def test_a_bad_window_is_an_error_naming_file_line_and_key(tmp_path, windows, key, message):
    path = province(tmp_path, host_windows=windows)
    line = path.read_text().splitlines().index(f"              egov_maintenance: {windows}") + 1
    [error] = validate(path)
    assert str(error).startswith(f"{path}:{line}: {key}: host a-pc: ") and message in str(error)


@pytest.mark.parametrize("text, key, message", [
    ("timezone: Asia/Hanoi_City", "egov_timezone", "no time zone 'Asia/Hanoi_City'"),
    ("targets: {portal: 99.5}", "egov_availability_targets.portal", "unknown key"),
    ("targets: {http: 120}", "egov_availability_targets.http", "at most 100"),
])
def test_a_bad_time_zone_or_target_is_an_error_naming_the_key(tmp_path, text, key, message):
    path = province(tmp_path)
    source = path.read_text()
    if text.startswith("timezone"):
        source = source.replace("Asia/Ho_Chi_Minh", text.split(": ")[1])
    else:
        source = source.replace("{web_server: 99.5, icmp: 99}", text.split(": ", 1)[1])
    path.write_text(source)
    [error] = validate(path)
    assert f": {key}: group all: " in str(error) and message in str(error)


def icmp(target: str, loss: float) -> Check:
    return Check("icmp", target, State.CRITICAL if loss >= 1 else State.OK, f"loss {loss:.0%}", loss)


def test_inside_a_window_the_checks_show_maintenance_and_the_site_is_exported(tmp_path):
    states = CheckStates(hold=0, inventory=load_inventory(province(tmp_path)))
    checks = [icmp("pop-rtr", 1.0), icmp("room-sw", 0), icmp("a-rtr", 1.0), icmp("a-pc", 0)]
    states.observe(checks, [], now=at("2026-11-14 22:10"))  # the PoP's line cut during its window
    rows, _ = states.current()
    shown = {check.target: state for check, state, *_ in rows}
    # the commune behind it is cut off, not down: no page for it either
    assert shown == {"pop-rtr": State.MAINTENANCE, "room-sw": State.MAINTENANCE,
                     "a-rtr": State.UNREACHABLE, "a-pc": State.UNREACHABLE}
    exported = {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(states.exposition().decode()) for s in f.samples}
    assert exported[("egov_site_maintenance", (("site", "pop_old"),))] == 1
    assert exported[("egov_check_status", (("check", "icmp"), ("kind", "icmp"), ("site", "pop_old"),
                                           ("target", "pop-rtr"), ("team", "network")))] == 5

    states.observe(checks, checks, now=at("2026-11-15 02:00"))  # the window closes: the same cut shows
    rows, _ = states.current()
    assert {check.target: state for check, state, *_ in rows}["pop-rtr"] == State.UNREACHABLE
    assert b"egov_site_maintenance{" not in states.exposition()


def test_maintenance_ranks_just_above_ok_and_exits_ok():
    assert worst([State.MAINTENANCE, State.OK]) == State.MAINTENANCE
    assert worst([State.MAINTENANCE, State.UNREACHABLE]) == State.UNREACHABLE
    assert State.MAINTENANCE.exit_code == 0
