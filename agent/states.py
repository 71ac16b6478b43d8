"""The check states operators see: raw states held against flapping, UNREACHABLE behind a
down uplink, each with its site and the team it pages.

A raw state that differs from the one shown must last `hold` seconds (over consecutive
runs) before it is shown, so a flapping WAN link does not page every minute. A check
seen for the first time shows its state at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prometheus_client.core import GaugeMetricFamily

from agent import outage
from agent.checks import Check, State

CHECK_LABELS = ["check", "target", "site", "team"]
# who is paged, by the role of the target's host; checks of this host (disk, load ...) go to the data centre
NETWORK_ROLES = {"router", "switch", "firewall", "vc_endpoint", "office_pc", "one_stop_pc"}


def team_of(role: str | None) -> str:
    return "network" if role in NETWORK_ROLES else "datacenter"


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

    def observe(self, collector_checks: list[Check], previous: list[Check], now: float) -> None:
        """One collector's new checks; `previous` are its last ones (gone checks are forgotten)."""
        for gone in {(c.name, c.target) for c in previous} - {(c.name, c.target) for c in collector_checks}:
            self._shown.pop(gone, None)
        for check in collector_checks:
            key = (check.name, check.target)
            shown = self._shown.get(key)
            if shown is None:
                self._shown[key] = Shown(check, check.state, now)
                continue
            shown.check = check
            if check.state == shown.state:
                shown.pending = None
            elif check.state != shown.pending:
                shown.pending, shown.pending_since = check.state, now
            if shown.pending is not None and now - shown.pending_since >= self.hold:
                shown.state, shown.since, shown.pending = shown.pending, now, None

    def _site_and_team(self, target: str) -> tuple[str, str]:
        hosts = self.inventory.hosts if self.inventory is not None else {}
        host = hosts.get(target) or hosts.get(self.host)  # not an inventory host: a check of this host
        return (host.site, team_of(host.role)) if host is not None else ("", "datacenter")

    def current(self) -> tuple[list[tuple[Check, State, float, str, str]], outage.Outages]:
        """(check, state shown, since, site, team) for every check, and the outages behind them."""
        outages = outage.find(self.inventory, [replace(s.check, state=s.state) for s in self._shown.values()])
        rows = []
        for shown in self._shown.values():
            site, team = self._site_and_team(shown.check.target)
            state = State.UNREACHABLE if outages.unreachable(site) else shown.state
            rows.append((shown.check, state, shown.since, site, team))
        return rows, outages

    def families(self) -> list:
        rows, outages = self.current()
        status = GaugeMetricFamily("egov_check_status", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, "
                                   "3 UNKNOWN, 4 UNREACHABLE (behind a down uplink).", labels=CHECK_LABELS)
        since = GaugeMetricFamily("egov_check_status_since_timestamp_seconds",
                                  "When the check's current state began (Unix time).", labels=CHECK_LABELS)
        threshold = GaugeMetricFamily("egov_check_threshold", "The thresholds in force for the check.",
                                      labels=[*CHECK_LABELS, "level"])
        config_error = GaugeMetricFamily("egov_check_config_error", "1 for a check the agent cannot run because "
                                         "of its own configuration (an unset secret variable, an unreadable key "
                                         "file): UNKNOWN, and not the target's fault.", labels=CHECK_LABELS)
        for check, state, began, site, team in rows:
            labels = [check.name, check.target, site, team]
            status.add_metric(labels, int(state))
            since.add_metric(labels, began)
            if check.reason == "config":
                config_error.add_metric(labels, 1.0)
            for level, value in check.thresholds.items():
                if value is not None:
                    threshold.add_metric([*labels, level], value)
        uplink = GaugeMetricFamily("egov_site_uplink_up", "1 while the site's routers answer pings, 0 when none does.",
                                   labels=["site", "site_type"])
        for site, up in sorted(outages.uplink_up.items()):
            uplink.add_metric([site, self.inventory.sites[site].type], 1.0 if up else 0.0)
        cut_off = GaugeMetricFamily("egov_site_cut_off", "1 for a site cut off because the uplink of site `cause` "
                                    "is down.", labels=["site", "cause"])
        for site, cause in sorted(outages.cause.items()):
            cut_off.add_metric([site, cause], 1.0)
        roots = GaugeMetricFamily("egov_outage_sites_cut_off", "For a down site whose own uplinks are up (a root "
                                  "cause), the number of sites cut off behind it.", labels=["site"])
        for site, count in sorted(outages.roots.items()):
            roots.add_metric([site], count)
        return [status, since, threshold, config_error, uplink, cut_off, roots]
