"""The `egov-agent` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from agent import __version__, logs
from agent.checks import State, worst
from agent.audit.store import DEFAULT_STORE
from agent.config import DEFAULT_LISTEN, sample_config
from agent.yamlfile import ConfigError


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="agent.yml (default: the embedded default)")
    parser.add_argument("-i", "--inventory", metavar="PATH", help="an Ansible YAML inventory (file or directory)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="egov-agent", description=(
        "Monitoring, provisioning and configuration audit for a province's e-government."))
    parser.add_argument("--version", action="version", version=f"egov-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent: collect on schedule, serve /metrics")
    _config_args(run)
    run.add_argument("--listen", metavar="HOST:PORT", help=f"where to serve (default {DEFAULT_LISTEN})")

    check = commands.add_parser("check", help="run the checks once, print a table, exit 0/1/2/3 like Nagios")
    _config_args(check)

    once = commands.add_parser("once", help="run one collector once and print its metrics")
    once.add_argument("collector")
    _config_args(once)
    once.add_argument("--debug", action="store_true", help="print the collector's debug log to stderr")

    inventory = commands.add_parser("inventory", help="validate or show an inventory")
    inventory_commands = inventory.add_subparsers(dest="inventory_command", required=True, metavar="ACTION")
    for action, text in (("validate", "check an inventory; exit 1 with every error found"),
                         ("show", "print the site tree with hosts, roles and addresses")):
        sub = inventory_commands.add_parser(action, help=text)
        sub.add_argument("-i", "--inventory", metavar="PATH", required=True)

    meeting = commands.add_parser("meeting-check", help="check every video-conference endpoint now; print "
                                  "ready / NOT READY with the reason; exit 0 all ready, 2 any not")
    meeting.add_argument("-i", "--inventory", metavar="PATH", required=True,
                         help="an Ansible YAML inventory (file or directory)")
    meeting.add_argument("-c", "--config", metavar="FILE", help="agent.yml: the probes' settings")
    meeting.add_argument("--site", metavar="SITE", help="only the endpoints at this site and the sites under it")

    provision = commands.add_parser("provision", help="provision a site's hosts with Ansible (playbooks/)")
    provision.add_argument("site", help="a site group of the inventory (or any Ansible host pattern)")
    provision.add_argument("-i", "--inventory", metavar="PATH", action="append", required=True,
                           help="an Ansible inventory; repeat to add sources (later ones win)")
    provision.add_argument("--check", action="store_true",
                           help="check mode with diffs: show what would change, change nothing")
    provision.add_argument("--playbook", default="commune_office.yml", metavar="NAME",
                           help="a playbook in playbooks/ (commune_office.yml, deploy_agent.yml, site.yml) or a path")
    provision.add_argument("--forks", type=int, default=10, metavar="N", help="hosts worked on in parallel (default 10)")
    provision.add_argument("--store", metavar="DIR", default=DEFAULT_STORE,
                           help="the audit store the first audit of the office goes to (commune_office.yml only)")

    targets = commands.add_parser("targets", help="write the Prometheus file_sd file listing the agents to scrape")
    targets.add_argument("-i", "--inventory", metavar="PATH", required=True,
                         help="an Ansible YAML inventory (file or directory)")
    targets.add_argument("-o", "--output", metavar="FILE", required=True,
                         help="the file_sd JSON file to write (replaced atomically)")
    targets.add_argument("--agents", metavar="NAMES", help="groups or hosts that run egov-agent, comma-separated "
                         "(default: the hosts with egov_role monitoring_server)")
    targets.add_argument("--shard", metavar="I/N", help="only the agents standing at a site of shard I of N "
                         "(sites split by uplink subtree)")

    audit = commands.add_parser("audit", help="configuration audit: backups with history, policy packs, "
                                "drift from the golden configurations, reports")
    from agent.audit.cli import add_commands as add_audit_commands

    add_audit_commands(audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION"))

    commands.add_parser("sample-config", help="print a commented sample agent.yml")
    return parser


def _run_collectors(args, only: str | None = None):
    from agent.daemon import load
    from agent.scheduler import Scheduler
    from agent.snapshot import Snapshot

    loaded = load(args.config, args.inventory)
    collectors = loaded.collectors
    if only is not None:
        if only not in collectors:
            from agent.collector import discover

            known = ", ".join(discover())
            raise ConfigError(f"no collector {only!r} (known: {known}; a disabled one needs enabled: true)")
        collectors = {only: collectors[only]}
    snapshot = Snapshot()
    loaded.configure(snapshot, hold=0)  # one run: nothing to hold against
    scheduler = Scheduler(snapshot)
    scheduler.use(collectors)
    results = asyncio.run(scheduler.run_all_once())
    return snapshot, results


def _check(args) -> int:
    logs.setup("error")
    try:
        snapshot, _ = _run_collectors(args)
    except ConfigError as err:
        print(f"UNKNOWN: {err}")
        return State.UNKNOWN
    checks = sorted(snapshot.checks(), key=lambda c: (-c.state, c.name, c.target))
    state = worst(c.state for c in checks)
    counts = {s: sum(c.state == s for c in checks) for s in State}
    print(f"{state.name}: {len(checks)} checks, " + ", ".join(f"{n} {s.name}" for s, n in counts.items() if n))
    width = max((len(c.name) + len(c.target) for c in checks), default=10) + 3
    for c in checks:
        print(f"{c.state.name:<11} {(c.name + ' ' + c.target):<{width}} {c.summary}")
    return state.exit_code


def _once(args) -> int:
    logs.setup("warning")
    if args.debug:  # our own loggers only, not asyncio's
        logging.getLogger("egov").setLevel(logging.DEBUG)
    _, [result] = _run_collectors(args, only=args.collector)
    sys.stdout.write(result.text.decode())
    for check in result.checks:
        print(f"# check {check.name} {check.target}: {check.state.name} - {check.summary}")
    if not result.success:
        print(f"collector {result.collector} failed: {result.reason}: {result.detail}", file=sys.stderr)
        return 1
    return 0


def _inventory(args) -> int:
    from agent.inventory import InventoryError, load_inventory, render_tree

    try:
        inventory = load_inventory(args.inventory)
    except InventoryError as err:
        if args.inventory_command != "validate":
            raise
        for error in err.errors:
            print(error, file=sys.stderr)
        print(f"{args.inventory}: {len(err.errors)} error(s)", file=sys.stderr)
        return 1
    if args.inventory_command == "show":
        print(render_tree(inventory))
    else:
        print(f"{args.inventory}: OK ({len(inventory.sites)} sites, {len(inventory.hosts)} hosts, "
              f"{sum(1 for _ in inventory.targets())} targets)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from agent.daemon import serve

            return serve(args.config, args.inventory, args.listen)
        if args.command == "check":
            return _check(args)
        if args.command == "once":
            return _once(args)
        if args.command == "inventory":
            return _inventory(args)
        if args.command == "meeting-check":
            from agent.readiness import run as meeting_check

            logs.setup("error")  # probe failures are rows of the table, not log lines
            code, table = meeting_check(args.inventory, args.config, args.site)
            print(table, end="")
            return code
        if args.command == "provision":
            from agent import onboard, provision

            if args.playbook == provision.DEFAULT_PLAYBOOK:  # a whole office: baseline, monitoring, first audit
                return onboard.run(args.site, args.inventory, args.store, check=args.check, forks=args.forks)
            return provision.run(args.site, args.inventory, check=args.check, playbook=args.playbook,
                                 forks=args.forks)
        if args.command == "targets":
            from agent.targets import run as write_targets

            return write_targets(args.inventory, args.output, args.agents, args.shard)
        if args.command == "audit":
            return args.func(args)
        if args.command == "sample-config":
            print(sample_config())
            return 0
    except ConfigError as err:
        print(f"egov-agent: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `egov-agent audit report | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 2
