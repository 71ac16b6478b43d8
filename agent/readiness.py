"""Meeting readiness: check every video-conference endpoint now, say which are ready and why not.

Before a province-wide meeting an operator runs `egov-agent meeting-check`: every inventory
host with egov_role vc_endpoint (optionally only those of `--limit`) gets each check its
egov_checks lists (sip, h323, http, icmp ...) run once, at once, by the same probe collectors
the daemon schedules, and one table answers: ready or NOT READY, with the reason.

An endpoint is ready when at least one of its checks ran and none is CRITICAL or UNKNOWN.
A WARNING (a slow answer, a 404 to OPTIONS) is shown but does not block: the endpoint
answers and a call will most likely go through. A check whose kind has no probe collector
in this agent is shown as not checked and does not block either; a probe collector that
failed as a whole does block, since nothing was verified.

A meeting also needs the link: each endpoint's row shows the MOS of its path, the worst of
the E-model MOS (collectors.icmp.mos_from_r) of the routers at its site that have an icmp
check, the routers whose pings say whether the site's uplink is up (agent.outage). They
are pinged in the same run. A path MOS below the endpoint's `egov_meeting_min_mos`
(default 3.6, where G.107 Annex B puts "many users dissatisfied") is NOT READY, naming the
worst link; a router that answers no echo is a MOS of 1 (the E-model's floor under total
loss). A site without such a router has no MOS ("-"), which does not block.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from agent import exitcodes
from agent.checks import Check, State
from agent.collector import discover
from agent.config import load_config
from agent.context import Context
from agent.inventory import load_inventory
from agent.inventory.limit import limit_hosts
from agent.probe import Probe
from agent.scheduler import Scheduler
from agent.snapshot import Result, Snapshot

ROLE = "vc_endpoint"
LINK_ROLE, LINK_KIND = "router", "icmp"
MIN_MOS_VAR, DEFAULT_MIN_MOS = "egov_meeting_min_mos", 3.6
READY, NOT_READY = exitcodes.OK, exitcodes.CRITICAL


@dataclass
class Verdict:
    endpoint: str
    site: str
    blocking: list[str] = field(default_factory=list)  # why it is not ready
    notes: list[str] = field(default_factory=list)  # warnings and kinds not checked
    checked: int = 0
    mos: float | None = None  # of the path: its worst link's

    @property
    def ready(self) -> bool:
        return self.checked > 0 and not self.blocking


class _Endpoints:
    """The inventory as the probes see it, cut down to the selected endpoints and their links' icmp
    checks: nothing else is probed."""

    def __init__(self, inventory, names: set[str], links: set[str]):
        self._inventory, self._names, self._links = inventory, names, links

    def targets(self):
        for target in self._inventory.targets():
            if target.name in self._names:
                yield target
            elif target.name in self._links:
                yield replace(target, checks={LINK_KIND: target.checks[LINK_KIND]})

    def __getattr__(self, name):
        return getattr(self._inventory, name)


def run(inventory_path, config_path=None, limit=None) -> tuple[int, str]:
    """(exit code: 0 every endpoint ready, 2 any not ready or none found; the table). ConfigError on bad input."""
    inventory = load_inventory(inventory_path)
    config = load_config(config_path)
    endpoints = [inventory.hosts[name] for name in limit_hosts(inventory, limit) if inventory.hosts[name].role == ROLE]
    where = f" in {limit}" if limit else ""
    if not endpoints:
        return NOT_READY, f"NOT READY: no {ROLE} host in the inventory{where}: nothing was checked\n"

    links = {host.site: _links(inventory, host.site) for host in endpoints}
    context = Context(inventory=_Endpoints(inventory, {host.name for host in endpoints},
                                           {router.name for routers in links.values() for router in routers}))
    if config.agent.inventory_host:
        context.host = config.agent.inventory_host
    classes = discover()
    kinds = {kind for host in endpoints if host.address for kind in host.checks}
    if any(links.values()):
        kinds.add(LINK_KIND)
    probes = {kind: classes[kind](config.collectors.get(kind) or classes[kind].Settings(), context)
              for kind in sorted(kinds) if kind in classes and issubclass(classes[kind], Probe)}
    results = asyncio.run(_run_all(list(probes.values())))
    link_mos = probes[LINK_KIND].mos() if LINK_KIND in probes else {}

    verdicts = []
    for host in endpoints:
        verdict = _judge(host, results)
        _judge_path(verdict, host, links[host.site], results.get(LINK_KIND), link_mos)
        verdicts.append(verdict)
    ready = sum(v.ready for v in verdicts)
    code = READY if ready == len(verdicts) else NOT_READY
    head = (f"{'READY' if code == READY else 'NOT READY'}: {ready} of {len(verdicts)} "
            f"video-conference endpoints ready{where}")
    return code, head + "\n" + _table(verdicts)


async def _run_all(probes: list[Probe]) -> dict[str, Result]:
    scheduler = Scheduler(Snapshot())  # the daemon's own run: its timeout, and failure as data
    return {result.collector: result for result in await asyncio.gather(*map(scheduler.run_once, probes))}


def _judge(host, results: dict[str, Result]) -> Verdict:
    verdict = Verdict(host.name, host.site)
    if not host.address:
        verdict.blocking.append("no address (ansible_host) in the inventory")
        return verdict
    if not host.checks:
        verdict.blocking.append("no checks listed (egov_checks)")
    for kind in host.checks:
        result = results.get(kind)
        if result is None:
            verdict.notes.append(f"{kind} not checked (no {kind} probe in this agent)")
        elif not result.success:
            verdict.blocking.append(f"{kind} not checked: the probe failed ({result.reason}: {result.detail})")
        else:
            for check in (c for c in result.checks if c.target == host.name):
                verdict.checked += 1
                _add(verdict, check)
    return verdict


def _links(inventory, site: str) -> list:
    """The routers at the site with an address and an icmp check: the site's uplink, as agent.outage finds it."""
    return [host for host in inventory.hosts_at(site)
            if host.role == LINK_ROLE and host.address and LINK_KIND in host.checks]


def _judge_path(verdict: Verdict, host, routers: list, result: Result | None, link_mos: dict[str, float]) -> None:
    """The path's MOS on the verdict; NOT READY below the endpoint's minimum, naming the worst link."""
    if not routers:
        return
    if result is None:  # as for an endpoint's own check of a kind this agent has no probe for
        verdict.notes.append(f"link not measured (no {LINK_KIND} probe in this agent)")
        return
    if not result.success:
        verdict.blocking.append(f"link not measured: the probe failed ({result.reason}: {result.detail})")
        return
    checks = {check.target: check for check in result.checks}
    measured = []  # (MOS, router, what its pings showed)
    for router in routers:
        check = checks[router.name]
        if router.name in link_mos:
            measured.append((link_mos[router.name], router.name, check.summary))
        elif check.reason:  # no echo could be sent: the link says nothing
            verdict.blocking.append(f"link {router.name} not measured: {check.summary}")
        else:  # every echo lost
            measured.append((1.0, router.name, check.summary))
    if not measured:
        return
    verdict.mos, worst_link, summary = min(measured)
    minimum = host.vars.get(MIN_MOS_VAR, DEFAULT_MIN_MOS)
    if verdict.mos < minimum:
        verdict.blocking.append(f"link {worst_link} below MOS {minimum:g}: {summary}")


def _add(verdict: Verdict, check: Check) -> None:
    if check.state == State.WARNING:
        verdict.notes.append(f"{check.label} warning: {check.summary}")
    elif check.state != State.OK:
        verdict.blocking.append(f"{check.label} {check.summary}")


def _table(verdicts: list[Verdict]) -> str:
    rows = [("ENDPOINT", "SITE", "STATUS", "MOS", "REASON")]
    for v in sorted(verdicts, key=lambda v: (v.ready, v.site, v.endpoint)):  # the ones to fix first
        rows.append((v.endpoint, v.site, "ready" if v.ready else "NOT READY",
                     "-" if v.mos is None else f"{v.mos:.2f}", "; ".join(v.blocking + v.notes)
                     or ("-" if v.ready else "nothing was checked")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] + "\n"
                   for row in rows)
