"""The check states operators see: raw states held against flapping, UNREACHABLE behind a
down uplink, each with its site and the team it pages.

A raw state that differs from the one shown must last `hold` seconds (over consecutive
runs) before it is shown, so a flapping WAN link does not page every minute. A check
seen for the first time shows its state at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prometheus_client.utils import floatToGoString

from agent import outage
from agent.checks import Check, State
from agent.inventory import NETWORK_TEAM_ROLES

CHECK_LABELS = ["check", "target", "site", "team"]


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
        self._shown: dict[tuple[str, str], Shown] = {}
        self._lines = _Lines()
        self.version = 0  # moves whenever the exposition would: most results change no state

    def configure(self, hold: float, inventory, host: str | None) -> None:
        self.hold, self.inventory, self.host = hold, inventory, host
        self.version += 1

    def observe(self, collector_checks: list[Check], previous: list[Check], now: float) -> None:
        """One collector's new checks; `previous` are its last ones (gone checks are forgotten)."""
        for gone in {(c.name, c.target) for c in previous} - {(c.name, c.target) for c in collector_checks}:
            if self._shown.pop(gone, None) is not None:
                self.version += 1
        for check in collector_checks:
            key = (check.name, check.target)
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

    def _site_and_team(self, target: str) -> tuple[str, str]:
        hosts = self.inventory.hosts if self.inventory is not None else {}
        host = hosts.get(target) or hosts.get(self.host)  # not an inventory host: a check of this host
        return (host.site, team_of(host.role)) if host is not None else ("", "datacenter")

    def current(self) -> tuple[list[tuple[Check, State, float, str, str]], outage.Outages]:
        """(check, state shown, since, site, team) for every check, and the outages behind them."""
        outages = outage.find(self.inventory, [replace(s.check, state=s.state) for s in self._shown.values()
                                               if s.check.name == "icmp"])  # outages come from pings only
        rows = []
        for shown in self._shown.values():
            site, team = self._site_and_team(shown.check.target)
            state = State.UNREACHABLE if outages.unreachable(site) else shown.state
            rows.append((shown.check, state, shown.since, site, team))
        return rows, outages

    def frozen(self) -> CheckStates:
        """A copy to render outside the snapshot's lock (observe may run meanwhile); it shares
        the cache of rendered lines."""
        copy = CheckStates(self.hold, self.inventory, self.host)
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
            row = (check.name, check.target, site, team, int(state), began, check.reason == "config",
                   tuple(check.thresholds.items()))
            lines[row] = kept.get(row) or _check_lines(*row)
        self._lines.rows = lines
        per_family = list(zip(*lines.values())) or [()] * len(_CHECK_FAMILIES)
        out = [_family(name, help_text, samples) for (name, help_text), samples in zip(_CHECK_FAMILIES, per_family)]
        out.append(_family("egov_site_uplink_up", "1 while the site's routers answer pings, 0 when none does.",
                           [_sample("egov_site_uplink_up", ("site", site),
                                    ("site_type", self.inventory.sites[site].type), value=1.0 if up else 0.0)
                            for site, up in sorted(outages.uplink_up.items())]))
        out.append(_family("egov_site_cut_off", "1 for a site cut off because the uplink of site `cause` is down.",
                           [_sample("egov_site_cut_off", ("site", site), ("cause", cause), value=1.0)
                            for site, cause in sorted(outages.cause.items())]))
        out.append(_family("egov_outage_sites_cut_off", "For a down site whose own uplinks are up (a root cause), "
                           "the number of sites cut off behind it.",
                           [_sample("egov_outage_sites_cut_off", ("site", site), value=count)
                            for site, count in sorted(outages.roots.items())]))
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
    return check.thresholds, check.reason == "config", check.value if check.name == "icmp" else None


_CHECK_FAMILIES = [
    ("egov_check_status", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 4 UNREACHABLE "
                          "(behind a down uplink)."),
    ("egov_check_status_since_timestamp_seconds", "When the check's current state began (Unix time)."),
    ("egov_check_threshold", "The thresholds in force for the check."),
    ("egov_check_config_error", "1 for a check the agent cannot run because of its own configuration (an unset "
                                "secret variable, an unreadable key file): UNKNOWN, and not the target's fault."),
]


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _sample(name: str, *labels: tuple[str, str], value: float) -> str:
    """One sample line as prometheus_client writes a gauge's, in either format (labels sorted)."""
    pairs = ",".join(f'{key}="{_escape(str(text))}"' for key, text in sorted(labels))
    return f"{name}{{{pairs}}} {floatToGoString(value)}\n"


def _family(name: str, help_text: str, samples) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n" + "".join(samples)


def _check_lines(name, target, site, team, state, began, config_error, thresholds) -> tuple[str, str, str, str]:
    labels = tuple(zip(CHECK_LABELS, (name, target, site, team)))
    return (_sample("egov_check_status", *labels, value=state),
            _sample("egov_check_status_since_timestamp_seconds", *labels, value=began),
            "".join(_sample("egov_check_threshold", *labels, ("level", level), value=value)
                    for level, value in thresholds if value is not None),
            _sample("egov_check_config_error", *labels, value=1.0) if config_error else "")
