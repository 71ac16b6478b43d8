"""What the province promises: maintenance windows, availability targets, its time zone.

Written in the inventory, read with Ansible's semantics like every `egov_*` variable:

    # group_vars/all.yml
    egov_timezone: Asia/Ho_Chi_Minh            # the default; local times below are in it
    egov_availability_targets: {web_server: 99.5, router: 99.0, http: 99.5}   # % per role or check kind

    # a site group's vars, or a host's
    egov_maintenance:
      - {reason: Thay bộ chuyển mạch, start: 2026-11-14 22:00, end: 2026-11-15 00:00}
      - {reason: Cập nhật phần mềm hằng tuần, weekly: Saturday 22:00-02:00}

A window set on a site covers the site and every site under it (as Ansible's group
variables reach them); one set on a host (or a group of hosts, e.g. `routers`) covers the
hosts that carry it. A weekly window may run past midnight; one-off windows are in local
time. Time-zone data come from the standard library's zoneinfo (the system's tz database).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, make_dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKLY = re.compile(r"^\s*(\w+)\s+(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def _local(text: str) -> datetime:
    """A local date and time: 2026-11-14 22:00 (YAML reads it as a string; with seconds or as a
    bare date it reads a datetime or a date, which the schema turns into the same text)."""
    return datetime.fromisoformat(text.strip())


@dataclass
class Window:
    reason: str = field(metadata={"required": True})
    start: str | None = None  # one-off, local time: 2026-11-14 22:00
    end: str | None = None
    weekly: str | None = None  # Saturday 22:00-02:00 (may run past midnight)

    def problems(self):
        if not self.reason.strip():
            yield "reason", "say why (it is shown on the status page and in the report)"
        if self.weekly is not None:
            if self.start is not None or self.end is not None:
                yield "weekly", "either weekly or start and end, not both"
            elif self._weekly() is None:
                yield "weekly", (f"expected a day and two times like 'Saturday 22:00-02:00', got {self.weekly!r}")
            return
        if self.start is None or self.end is None:
            yield "start" if self.start is None else "end", "a window needs start and end, or weekly"
            return
        for key in ("start", "end"):
            try:
                _local(getattr(self, key))
            except ValueError:
                yield key, f"expected a local date and time like 2026-11-14 22:00, got {getattr(self, key)!r}"
                return
        if _local(self.end) <= _local(self.start):
            yield "end", "ends before it starts"

    def _weekly(self) -> tuple[int, int, int] | None:
        """(weekday, start minute of the day, length in minutes), or None when malformed."""
        match = _WEEKLY.match(str(self.weekly))
        if not match or match[1].lower() not in WEEKDAYS:
            return None
        begin_h, begin_m, end_h, end_m = map(int, match.groups()[1:])
        if begin_h > 23 or end_h > 24 or begin_m > 59 or end_m > 59:
            return None
        begin, end = begin_h * 60 + begin_m, end_h * 60 + end_m
        return WEEKDAYS.index(match[1].lower()), begin, (end - begin) % 1440 or 1440

    def active(self, moment: datetime) -> bool:
        """Whether the window holds at `moment` (a local, naive datetime)."""
        if self.weekly is None:
            return _local(self.start) <= moment < _local(self.end)
        weekday, begin, length = self._weekly()
        for days_back in (0, 1):  # a window that began yesterday may still run
            day = moment.date() - timedelta(days=days_back)
            if day.weekday() == weekday:
                opened = datetime.combine(day, time()) + timedelta(minutes=begin)
                if opened <= moment < opened + timedelta(minutes=length):
                    return True
        return False


def problems(egov_vars):
    """EgovVars' own checks of these variables (the windows and targets check themselves)."""
    name = egov_vars.egov_timezone
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            yield "egov_timezone", f"no time zone {name!r} in the tz database (e.g. {DEFAULT_TIMEZONE})"


def _percents(self):
    for key, value in vars(self).items():
        if value is not None and not 0 < value <= 100:
            yield key, f"expected a percentage above 0 and at most 100, got {value:g}"


def availability_targets_class(services: tuple[str, ...]) -> type:
    """The dataclass of egov_availability_targets: one optional percentage per role or check kind."""
    return make_dataclass("AvailabilityTargets", [(name, float | None, field(default=None)) for name in services],
                          namespace={"problems": _percents})


def province_vars(inventory):
    """The variables of group `all`, where the province-wide ones live."""
    groups = inventory.ansible.groups
    return groups["all"].vars if "all" in groups else {}


class Schedule:
    """Who is in maintenance when, for one inventory."""

    def __init__(self, inventory):
        self.timezone = ZoneInfo(province_vars(inventory).get("egov_timezone") or DEFAULT_TIMEZONE)
        self.sites: dict[str, list[Window]] = {}
        for site in inventory.sites.values():
            windows = [w for s in inventory.path(site.name) for w in _windows(inventory.ansible.groups[s.name].vars)]
            if windows:
                self.sites[site.name] = windows
        # hosts grouped by the windows they carry: most inherit one list from a group, and a
        # result's check of the schedule then costs a look per list, not per host
        groups: dict[tuple[int, str], tuple[list[Window], list[str]]] = {}
        for host in inventory.hosts.values():
            raw = host.vars.get("egov_maintenance") or []
            key = (id(raw), host.site)
            if key not in groups:
                groups[key] = (_windows(host.vars) + self.sites.get(host.site, []), [])
            groups[key][1].append(host.name)
        self.hosts = [group for group in groups.values() if group[0]]

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self.timezone).replace(tzinfo=None)

    def now(self, timestamp: float) -> tuple[dict[str, str], dict[str, str]]:
        """(site -> reason, host -> reason) of the windows holding at `timestamp` (Unix time)."""
        moment = self.local(timestamp)
        sites = {site: reason for site, windows in self.sites.items() if (reason := _holding(windows, moment))}
        hosts = {}
        for windows, names in self.hosts:
            reason = _holding(windows, moment)
            if reason:
                hosts.update(dict.fromkeys(names, reason))
        return sites, hosts


def _windows(variables) -> list[Window]:
    from agent.schema import build

    return [build(Window, raw) for raw in variables.get("egov_maintenance") or []]


def _holding(windows: list[Window], moment: datetime) -> str:
    return next((w.reason for w in windows if w.active(moment)), "")
