"""`egov-agent provision --limit SITE`: a commune office online end to end, in three phases.

1. Baseline: playbooks/commune_office.yml on the site's hosts (Linux hosts and network gear).
2. Monitoring: playbooks/deploy_agent.yml on the monitoring servers, so their agents get the
   inventory with the new office (its devices are probed, its uplink watched), then the
   file_sd tasks of playbooks/monitoring_server.yml (tag `targets`), so their Prometheus
   scrapes the office's agents (and, where a server runs a Prometheus of its own,
   egov_agent_file_sd, deploy_agent.yml rewrites that one).
3. First audit: the site's configurations backed up into the audit store, audited against
   the policy packs and the golden configurations, the table printed and the HTML report
   kept in the store (reports/), so the office starts on record.

Each phase runs even when the one before failed for some hosts (one unreachable router does
not keep the rest of the office from its baseline, nor from its audit); a rerun is safe.
With `check`, phases 1 and 2 run in check mode and phase 3 is skipped (it would log in).
The exit code (agent/exitcodes.py) is the worst of the phases': 2 a task failed or the first
audit finds a critical rule failing, 3 a host unreachable or a device not backed up, 4 the
limit matches no host.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from agent import exitcodes, provision

MONITORING_GROUP = "monitoring_servers"
TARGETS_TAG = "targets"  # playbooks/roles/monitoring_server's file_sd tasks


def run(site: str, inventory: list[str], store: str, check: bool = False, forks: int = 10,
        out: TextIO | None = None) -> int:
    out = out or sys.stdout
    code = provision.run(site, inventory, check=check, forks=forks, out=out)
    if code == exitcodes.BAD_INPUT:
        return code
    print(f"\n== monitoring: the agents of {MONITORING_GROUP} take the new inventory", file=out, flush=True)
    registered = provision.run(MONITORING_GROUP, inventory, check=check, playbook="deploy_agent.yml",
                               forks=forks, out=out)
    if registered != exitcodes.BAD_INPUT:  # an inventory without monitoring servers has nothing to register
        code = exitcodes.worst(code, registered, refresh_targets(inventory, check, forks, out))
    if check:
        print("\n== first audit: skipped in check mode", file=out)
        return code
    audited = first_audit(site, inventory, store, out)
    return exitcodes.worst(code, audited)


def refresh_targets(inventory: list[str], check: bool, forks: int, out: TextIO) -> int:
    """The monitoring servers' file_sd rewritten from the inventory: their Prometheus scrape every agent."""
    print(f"\n== monitoring: the Prometheus of {MONITORING_GROUP} scrape the agents of the new inventory",
          file=out, flush=True)
    return provision.run(MONITORING_GROUP, inventory, check=check, playbook="monitoring_server.yml", forks=forks,
                         out=out, tags=TARGETS_TAG)


def first_audit(site: str, inventory: list[str], store: str, out: TextIO) -> int:
    """Back up and audit the site: the worst of the backup's and the audit's exit codes."""
    from agent.audit import backup, report
    from agent.audit.assess import audit_store
    from agent.audit.fetch import Fetcher
    from agent.audit.store import Store
    from agent.inventory import load_inventory
    from agent.inventory.limit import limit_hosts
    from collectors.ssh_cli import SshSettings

    print(f"\n== first audit of {site}: backup into {store}", file=out, flush=True)
    if len(inventory) > 1:
        print("first audit skipped: it reads one inventory, this run was given several", file=out)
        return exitcodes.OK
    fetched = backup.run(inventory[0], store, Fetcher(Path(SshSettings.known_hosts), 60.0, 20), limit=site,
                         out=out)
    loaded = load_inventory(inventory[0])
    audits = audit_store(Store(store), loaded, limit_hosts(loaded, site))
    report.table(audits, out)
    path = Path(store) / "reports" / f"{site}-{time.strftime('%Y%m%d-%H%M%S')}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.html(audits), encoding="utf-8")
    print(f"report: {path}", file=out)
    if fetched != 0:
        print("first audit: some configurations could not be backed up (above); the report shows their last "
              "backup, if any", file=out)
    return exitcodes.worst(fetched, report.exit_code(audits))
