"""The `egov-agent` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from agent import __version__, exitcodes, logs
from agent.checks import State, worst
from agent.audit.store import DEFAULT_STORE
from agent.config import DEFAULT_LISTEN, sample_config
from agent.yamlfile import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, which is CRITICAL in our table: exit USAGE instead."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(exitcodes.USAGE, f"{self.prog}: error: {message}\n")


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="agent.yml (default: the embedded default)")
    parser.add_argument("-i", "--inventory", metavar="PATH", help="an Ansible YAML inventory (file or directory)")


def _limit(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument("--limit", metavar="SITES_OR_HOSTS", required=required,
                        help="only these hosts, and the hosts at these sites and the sites under them "
                        "(comma-separated, as ansible-playbook --limit)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="egov-agent", description=(
        "Monitoring, provisioning and configuration audit for a province's e-government."),
        epilog="exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (not all judged), 4 bad input, 5 usage")
    parser.add_argument("--version", action="version", version=f"egov-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")  # sub-parsers are _Parser too

    run = commands.add_parser("run", help="run the agent: collect on schedule, serve /metrics")
    _config_args(run)
    run.add_argument("--listen", metavar="HOST:PORT", help=f"where to serve (default {DEFAULT_LISTEN})")
    run.set_defaults(func=_run)

    check = commands.add_parser("check", help="run the checks once, print a table, exit 0/1/2/3 like Nagios")
    _config_args(check)
    check.set_defaults(func=_check)

    once = commands.add_parser("once", help="run one collector once and print its metrics")
    once.add_argument("collector")
    _config_args(once)
    once.add_argument("--debug", action="store_true", help="print the collector's debug log to stderr")
    once.set_defaults(func=_once)

    inventory = commands.add_parser("inventory", help="validate or show an inventory")
    inventory_commands = inventory.add_subparsers(dest="inventory_command", required=True, metavar="ACTION")
    for action, text in (("validate", "check an inventory; exit 4 with every error found"),
                         ("show", "print the site tree with hosts, roles and addresses")):
        sub = inventory_commands.add_parser(action, help=text)
        sub.add_argument("-i", "--inventory", metavar="PATH", required=True)
        sub.set_defaults(func=_inventory)

    meeting = commands.add_parser("meeting-check", help="check every video-conference endpoint now; print "
                                  "ready / NOT READY with the reason; exit 0 all ready, 2 any not")
    meeting.add_argument("-i", "--inventory", metavar="PATH", required=True,
                         help="an Ansible YAML inventory (file or directory)")
    meeting.add_argument("-c", "--config", metavar="FILE", help="agent.yml: the probes' settings")
    _limit(meeting)
    meeting.set_defaults(func=_meeting_check)

    page_hash = commands.add_parser("page-hash", help="print the hash of the text of a host's http check page "
                                    "now, for the check's baseline_sha256")
    page_hash.add_argument("host")
    page_hash.add_argument("--check", metavar="NAME", help="which of the host's http checks (by its name), "
                           "when it has several")
    page_hash.add_argument("-i", "--inventory", metavar="PATH", required=True,
                           help="an Ansible YAML inventory (file or directory)")
    page_hash.set_defaults(func=_page_hash)

    provision = commands.add_parser("provision", help="provision a site's hosts with Ansible (playbooks/)")
    _limit(provision, required=True)
    provision.add_argument("-i", "--inventory", metavar="PATH", action="append", required=True,
                           help="an Ansible inventory; repeat to add sources (later ones win)")
    provision.add_argument("--check", action="store_true",
                           help="check mode with diffs: show what would change, change nothing")
    provision.add_argument("--playbook", default="commune_office.yml", metavar="NAME",
                           help="a playbook in playbooks/ (commune_office.yml, deploy_agent.yml, site.yml) or a path")
    provision.add_argument("--forks", type=int, default=10, metavar="N", help="hosts worked on in parallel (default 10)")
    provision.add_argument("--store", metavar="DIR", default=DEFAULT_STORE,
                           help="the audit store the first audit of the office goes to (commune_office.yml only)")
    provision.set_defaults(func=_provision)

    targets = commands.add_parser("targets", help="write the Prometheus file_sd file listing the agents to scrape")
    targets.add_argument("-i", "--inventory", metavar="PATH", required=True,
                         help="an Ansible YAML inventory (file or directory)")
    targets.add_argument("-o", "--output", metavar="FILE", required=True,
                         help="the file_sd JSON file to write (replaced atomically)")
    targets.add_argument("--agents", metavar="NAMES", help="groups or hosts that run egov-agent, comma-separated "
                         "(default: the hosts with egov_role monitoring_server)")
    targets.add_argument("--shard", metavar="I/N", help="only the agents standing at a site of shard I of N "
                         "(sites split by uplink subtree)")
    targets.set_defaults(func=_targets)

    audit = commands.add_parser("audit", help="configuration audit: backups with history, policy packs, "
                                "drift from the golden configurations, reports")
    from agent.audit.cli import add_commands as add_audit_commands

    add_audit_commands(audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION"))

    report = commands.add_parser("report", help="reports from Prometheus's history: monthly availability")
    from agent.report import add_commands as add_report_commands

    add_report_commands(report.add_subparsers(dest="report_command", required=True, metavar="REPORT"))

    commands.add_parser("sample-config", help="print a commented sample agent.yml").set_defaults(func=_sample_config)
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
    except ConfigError as err:  # Nagios shows 4 as UNKNOWN; a script tells it from a target's state
        print(f"UNKNOWN: {err}")
        return exitcodes.BAD_INPUT
    checks = sorted(snapshot.checks(), key=lambda c: (-c.state, c.kind, c.target, c.name))
    state = worst(c.state for c in checks)
    counts = {s: sum(c.state == s for c in checks) for s in State}
    print(f"{state.name}: {len(checks)} checks, " + ", ".join(f"{n} {s.name}" for s, n in counts.items() if n))
    width = max((len(c.label) + len(c.target) for c in checks), default=10) + 3
    for c in checks:
        print(f"{c.state.name:<11} {(c.label + ' ' + c.target):<{width}} {c.summary}")
    return state.exit_code


def _once(args) -> int:
    logs.setup("warning")
    if args.debug:  # our own loggers only, not asyncio's
        logging.getLogger("egov").setLevel(logging.DEBUG)
    _, [result] = _run_collectors(args, only=args.collector)
    sys.stdout.write(result.text.decode())
    for check in result.checks:
        print(f"# check {check.label} {check.target}: {check.state.name} - {check.summary}")
    if not result.success:
        print(f"collector {result.collector} failed: {result.reason}: {result.detail}", file=sys.stderr)
        return exitcodes.UNKNOWN
    return exitcodes.OK


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
        return exitcodes.BAD_INPUT
    if args.inventory_command == "show":
        print(render_tree(inventory))
    else:
        print(f"{args.inventory}: OK ({len(inventory.sites)} sites, {len(inventory.hosts)} hosts, "
              f"{sum(1 for _ in inventory.targets())} targets)")
    return exitcodes.OK


def _run(args) -> int:
    from agent.daemon import serve

    return serve(args.config, args.inventory, args.listen)


def _meeting_check(args) -> int:
    from agent.readiness import run

    logs.setup("error")  # probe failures are rows of the table, not log lines
    code, table = run(args.inventory, args.config, args.limit)
    print(table, end="")
    return code


def _page_hash(args) -> int:
    from agent.collector import CollectorError
    from agent.context import Context
    from agent.inventory import load_inventory
    from collectors._content import read_page
    from collectors.http import HttpProbe

    inventory = load_inventory(args.inventory)
    target = next((t for t in inventory.targets() if t.name == args.host and "http" in t.checks), None)
    if target is None:
        raise ConfigError(f"{args.inventory}: no host {args.host!r} with an http check")
    named = target.checks["http"]
    name = args.check or (next(iter(named)) if len(named) == 1 else None)
    if name not in named:
        raise ConfigError(f"{args.inventory}: host {args.host} has the http checks {', '.join(named)}: "
                          f"name one with --check" + (f" (not {args.check!r})" if args.check else ""))
    check, probe = named[name], HttpProbe(context=Context(inventory=inventory))
    try:  # the request the probe sends, so the hash is the one it will compute
        page = asyncio.run(asyncio.wait_for(probe.fetch(target, check, {}), probe.settings.probe_timeout))
    except (CollectorError, OSError, asyncio.TimeoutError) as err:
        detail = f"{err.reason}: {err.detail}" if isinstance(err, CollectorError) else str(err) or "timeout"
        print(f"egov-agent: {args.host} ({check.url}): {detail}", file=sys.stderr)
        return exitcodes.UNKNOWN
    print(read_page(*page, check.url).hash(check.baseline_ignore))
    return exitcodes.OK


def _provision(args) -> int:
    from agent import onboard, provision

    if args.playbook == provision.DEFAULT_PLAYBOOK:  # a whole office: baseline, monitoring, first audit
        return onboard.run(args.limit, args.inventory, args.store, check=args.check, forks=args.forks)
    return provision.run(args.limit, args.inventory, check=args.check, playbook=args.playbook, forks=args.forks)


def _targets(args) -> int:
    from agent.targets import run

    return run(args.inventory, args.output, args.agents, args.shard)


def _sample_config(args) -> int:
    print(sample_config())
    return exitcodes.OK


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # a usage error (5), --help or --version (0): a code, also in process
        return exit_.code
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"egov-agent: {err}", file=sys.stderr)
        return exitcodes.BAD_INPUT
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except BrokenPipeError:  # `egov-agent audit report | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exitcodes.BROKEN_PIPE
