"""The check states operators see: raw states held against flapping, UNREACHABLE behind a
down uplink, MAINTENANCE inside a maintenance window, each with its site and the team it pages.

A raw state that differs from the one shown must last `hold` seconds (over consecutive
runs) before it is shown, so a flapping WAN link does not page every minute. A check
seen for the first time shows its state at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent import outage
from agent.checks import Check, State
from agent.inventory import NETWORK_TEAM_ROLES
from agent.inventory.service_levels import Schedule
from agent.metrics import sample_line

CHECK_LABELS = ["check", "kind", "target", "site", "team"]


def team_of(role: str | None) -> str:
    """Who is paged, by the role of the target's host; checks of this host (disk, load ...) go to the data centre."""
    return "network" if role in NETWORK_TEAM_ROLES else "datacenter"


@dataclass
class Shown:
    check: Check  # the latest raw result
    state: State  # the state shown (held)
    since: float  # when the shown state began
    pending: State | None = None  # a different raw state waiting out the hold time
    pending_since: float = 0.0


class CheckStates:
    def __init__(self, hold: float = 0.0, inventory=None, host: str | None = None):
        self.hold, self.inventory, self.host = hold, inventory, host
        self.schedule = Schedule(inventory) if inventory is not None else None
        self.maintenance: tuple[dict[str, str], dict[str, str]] = ({}, {})  # (site, host) -> reason, as of the last result
        self._shown: dict[tuple[str, str, str], Shown] = {}  # (kind, name, target)
        self._lines = _Lines()
        self.version = 0  # moves whenever the exposition would: most results change no state

    def configure(self, hold: float, inventory, host: str | None) -> None:
        self.hold, self.inventory, self.host = hold, inventory, host
        self.schedule = Schedule(inventory) if inventory is not None else None
        self.version += 1

    def observe(self, collector_checks: list[Check], previous: list[Check], now: float) -> None:
        """One collector's new checks; `previous` are its last ones (gone checks are forgotten)."""
        for gone in {_key(c) for c in previous} - {_key(c) for c in collector_checks}:
            if self._shown.pop(gone, None) is not None:
                self.version += 1
        for check in collector_checks:
            key = _key(check)
            shown = self._shown.get(key)
            if shown is None:
                self._shown[key] = Shown(check, check.state, now)
                self.version += 1
                continue
            if _exported(check) != _exported(shown.check):
                self.version += 1
            shown.check = check
            if check.state == shown.state:
                shown.pending = None
            elif check.state != shown.pending:
                shown.pending, shown.pending_since = check.state, now
            if shown.pending is not None and now - shown.pending_since >= self.hold:
                shown.state, shown.since, shown.pending = shown.pending, now, None
                self.version += 1
        maintenance = self.schedule.now(now) if self.schedule is not None else ({}, {})
        if maintenance != self.maintenance:  # a window opened or closed: shown with the next result
            self.maintenance = maintenance
            self.version += 1

    def _site_and_team(self, target: str) -> tuple[str, str]:
        hosts = self.inventory.hosts if self.inventory is not None else {}
        host = hosts.get(target) or hosts.get(self.host)  # not an inventory host: a check of this host
        return (host.site, team_of(host.role)) if host is not None else ("", "datacenter")

    def _in_maintenance(self, target: str) -> bool:
        hosts = self.inventory.hosts if self.inventory is not None else {}
        return (target if target in hosts else self.host) in self.maintenance[1]

    def current(self) -> tuple[list[tuple[Check, State, float, str, str]], outage.Outages]:
        """(check, state shown, since, site, team) for every check, and the outages behind them.
        Outages are found on the states as measured, so a PoP in maintenance still marks the
        communes behind it UNREACHABLE rather than CRITICAL."""
        outages = outage.find(self.inventory, [replace(s.check, state=s.state) for s in self._shown.values()
                                               if s.check.kind == "icmp"])  # outages come from pings only
        rows = []
        for shown in self._shown.values():
            site, team = self._site_and_team(shown.check.target)
            state = (State.MAINTENANCE if self._in_maintenance(shown.check.target)
                     else State.UNREACHABLE if outages.unreachable(site) else shown.state)
            rows.append((shown.check, state, shown.since, site, team))
        return rows, outages

    def frozen(self) -> CheckStates:
        """A copy to render outside the snapshot's lock (observe may run meanwhile); it shares
        the cache of rendered lines."""
        copy = CheckStates(self.hold, None, self.host)
        copy.inventory, copy.schedule, copy.maintenance = self.inventory, self.schedule, self.maintenance
        copy._shown = {key: Shown(s.check, s.state, s.since) for key, s in self._shown.items()}
        copy._lines, copy.version = self._lines, self.version
        return copy

    def exposition(self) -> bytes:
        """The check and site families; gauges only, so the text format and OpenMetrics alike.

        A check's lines are kept while its row (labels, state, since, thresholds) stays the
        same: a province has thousands of checks and few change between two scrapes; the
        whole text is kept while the version stays."""
        version, text = self._lines.text
        if version == self.version:
            return text
        rows, outages = self.current()
        kept, lines = self._lines.rows, {}
        for check, state, began, site, team in rows:
            row = (check.name, check.kind, check.target, site, team, int(state), began, check.reason == "config",
                   tuple(check.thresholds.items()))
            lines[row] = kept.get(row) or _check_lines(*row)
        self._lines.rows = lines
        per_family = list(zip(*lines.values())) or [()] * len(_CHECK_FAMILIES)
        out = [_family(name, help_text, samples) for (name, help_text), samples in zip(_CHECK_FAMILIES, per_family)]
        out.append(_family("egov_site_uplink_up", "1 while the site's routers answer pings, 0 when none does.",
                           [sample_line("egov_site_uplink_up", (("site", site), ("site_type", self.inventory.sites[site].type)),
                                        1.0 if up else 0.0)
                            for site, up in sorted(outages.uplink_up.items())]))
        out.append(_family("egov_site_cut_off", "1 for a site cut off because the uplink of site `cause` is down.",
                           [sample_line("egov_site_cut_off", (("site", site), ("cause", cause)), 1.0)
                            for site, cause in sorted(outages.cause.items())]))
        out.append(_family("egov_outage_sites_cut_off", "For a down site whose own uplinks are up (a root cause), "
                           "the number of sites cut off behind it.",
                           [sample_line("egov_outage_sites_cut_off", (("site", site),), count)
                            for site, count in sorted(outages.roots.items())]))
        out.append(_family("egov_site_maintenance", "1 for a site inside one of its maintenance windows "
                           "(the inventory's egov_maintenance): its alerts are held.",
                           [sample_line("egov_site_maintenance", (("site", site),), 1.0)
                            for site in sorted(self.maintenance[0])]))
        text = "".join(out).encode()
        self._lines.text = (self.version, text)
        return text


class _Lines:
    """Rendered lines per check row, replaced whole by each render (scrapes render concurrently)."""

    def __init__(self):
        self.rows: dict[tuple, tuple[str, str, str, str]] = {}
        self.text: tuple[int, bytes] = (-1, b"")  # the last exposition and the version it shows


def _exported(check: Check) -> tuple:
    """What of a check, besides its held state, the exposition shows: its thresholds, a config
    error, and for a ping its loss (outage.find reads it to find the uplinks that are down)."""
    return check.thresholds, check.reason == "config", check.value if check.kind == "icmp" else None


def _key(check: Check) -> tuple[str, str, str]:
    return check.kind, check.name, check.target


_CHECK_FAMILIES = [
    ("egov_check_status", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 4 UNREACHABLE "
                          "(behind a down uplink), 5 MAINTENANCE (inside a maintenance window)."),
    ("egov_check_status_since_timestamp_seconds", "When the check's current state began (Unix time)."),
    ("egov_check_threshold", "The thresholds in force for the check."),
    ("egov_check_config_error", "1 for a check the agent cannot run because of its own configuration (an unset "
                                "secret variable, an unreadable key file): UNKNOWN, and not the target's fault."),
]


def _family(name: str, help_text: str, samples) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n" + "".join(samples)


def _check_lines(name, kind, target, site, team, state, began, config_error,
                 thresholds) -> tuple[str, str, str, str]:
    labels = tuple(zip(CHECK_LABELS, (name, kind, target, site, team)))
    return (sample_line("egov_check_status", labels, state),
            sample_line("egov_check_status_since_timestamp_seconds", labels, began),
            "".join(sample_line("egov_check_threshold", (*labels, ("level", level)), value)
                    for level, value in thresholds if value is not None),
            sample_line("egov_check_config_error", labels, 1.0) if config_error else "")
