"""One outage, one alert: which sites are cut off, and by which down uplink.

A site's uplink is down when every router at the site that the agent pings answers no
echo at all (its icmp check has loss 1, or the probe could not run). Every site whose
uplink chain passes through a down site is cut off by the nearest down site on that
chain; the down sites whose own chain is up are the root causes. Every check of a target
at a down or cut-off site is UNREACHABLE, not CRITICAL: operators get one alert for the
root cause (from `egov_outage_sites_cut_off`), not one per commune.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.checks import Check, State


@dataclass
class Outages:
    uplink_up: dict[str, bool] = field(default_factory=dict)  # sites with at least one pinged router
    cause: dict[str, str] = field(default_factory=dict)  # unreachable site -> the down site it hangs behind
    roots: dict[str, int] = field(default_factory=dict)  # root-cause site -> number of sites cut off behind it

    def unreachable(self, site: str | None) -> bool:
        return site is not None and (site in self.cause or self.uplink_up.get(site) is False)


def _silent(check: Check) -> bool:
    """A CRITICAL icmp check whose echoes all went unanswered (value = loss ratio), or that could not run."""
    return check.state == State.CRITICAL and (check.value is None or check.value >= 1.0)


def find(inventory, checks: list[Check]) -> Outages:
    """The outages that the icmp checks of routers show (in their shown, held state)."""
    if inventory is None:
        return Outages()
    silent: dict[str, list[bool]] = {}
    for check in checks:
        host = inventory.hosts.get(check.target)
        if check.kind == "icmp" and host is not None and host.role == "router":
            silent.setdefault(host.site, []).append(_silent(check))
    outages = Outages(uplink_up={site: not all(states) for site, states in silent.items()})
    down = {site for site, up in outages.uplink_up.items() if not up}
    for site in down:
        behind = inventory.behind(site)
        for cut in behind:
            if cut.name not in outages.cause or _nearer(inventory, site, outages.cause[cut.name], cut.name):
                outages.cause[cut.name] = site
    for site in down:
        if site not in outages.cause:  # nothing down above it: a root cause
            outages.roots[site] = sum(1 for cause in outages.cause.values() if _root_of(outages, cause) == site)
    return outages


def _uplink_chain(inventory, site: str) -> list[str]:
    chain, current = [], inventory.sites[site].uplink
    while current:
        chain.append(current)
        current = inventory.sites[current].uplink
    return chain


def _nearer(inventory, candidate: str, current: str, site: str) -> bool:
    chain = _uplink_chain(inventory, site)
    return chain.index(candidate) < chain.index(current)


def _root_of(outages: Outages, site: str) -> str:
    while site in outages.cause:
        site = outages.cause[site]
    return site
