"""`egov-agent audit ...`: backup, diff (agent/audit/backup.py), report, file, fix.

Exit codes (agent/exitcodes.py) of report and file: 0 no critical finding, 2 a critical
finding (so a pipeline stops on it), 3 some device could not be audited, 4 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from agent import exitcodes
from agent.audit import redact

FORMATS = ("table", "json", "html")


def add_commands(commands: argparse._SubParsersAction) -> None:
    from agent.audit import backup

    backup.add_commands(commands)

    report = commands.add_parser("report", help="audit the stored backups: policy packs and drift from the "
                                 "golden configurations; exit 2 on a critical finding")
    _inventory_store(report)
    _output(report)
    report.set_defaults(func=_report)

    file = commands.add_parser("file", help="audit one saved configuration offline")
    file.add_argument("path", metavar="PATH")
    file.add_argument("--platform", required=True, choices=redact.platforms(),
                      help="its egov_platform (those its secrets can be redacted for)")
    file.add_argument("--golden", metavar="FILE", help="a golden configuration to report drift against")
    _output(file)
    file.set_defaults(func=_file)

    fix = commands.add_parser("fix", help="print what brings devices back to the standard; --apply applies it")
    _inventory_store(fix, limit_required=True)
    fix.add_argument("--apply", action="store_true",
                     help="apply it: the network_baseline playbook run limited to the device")
    fix.set_defaults(func=_fix)


def _inventory_store(parser: argparse.ArgumentParser, limit_required: bool = False) -> None:
    from agent.audit.store import DEFAULT_STORE

    parser.add_argument("-i", "--inventory", metavar="PATH", required=True, help="an Ansible YAML inventory")
    parser.add_argument("--store", metavar="DIR", default=DEFAULT_STORE,
                        help=f"the backup store (default {DEFAULT_STORE})")
    parser.add_argument("--limit", metavar="SITES_OR_HOSTS", required=limit_required,
                        help="only these hosts, and the hosts at these sites and the sites under them "
                        "(comma-separated, as ansible-playbook --limit)")


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")


def _emit(audits, args) -> int:
    from agent.audit import report

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump(report.to_json(audits), out, ensure_ascii=False, indent=2)
            out.write("\n")
        elif args.format == "html":
            out.write(report.html(audits))
        else:
            report.table(audits, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return report.exit_code(audits)


def _file(args) -> int:
    from agent.audit.assess import audit_file

    try:
        audit = audit_file(args.path, args.platform, args.golden)
    except OSError as err:  # not there, a directory, not readable: nothing was audited
        print(f"egov-agent: {err.filename}: {err.strerror}", file=sys.stderr)
        return exitcodes.BAD_INPUT
    return _emit([audit], args)


def _report(args) -> int:
    from agent.audit.assess import audit_store
    from agent.audit.store import Store
    from agent.inventory import load_inventory
    from agent.inventory.limit import limit_hosts

    inventory = load_inventory(args.inventory)
    return _emit(audit_store(Store(args.store), inventory, limit_hosts(inventory, args.limit)), args)


def _fix(args) -> int:
    """For each device of the limit: the missing golden lines as the commands to type, the
    failed rules' remediation, the lines the standard does not know (never removed
    automatically); --apply runs the provisioning playbook on the limit."""
    from agent.audit.assess import audit_store
    from agent.audit.store import Store
    from agent.inventory import load_inventory
    from agent.inventory.limit import limit_hosts

    inventory = load_inventory(args.inventory)
    audits = audit_store(Store(args.store), inventory, limit_hosts(inventory, args.limit))
    if not audits:
        print(f"egov-agent: no device with a policy pack in --limit {args.limit}", file=sys.stderr)
        return exitcodes.UNKNOWN
    to_fix = [audit for audit in audits if not audit.error and _print_fix(audit)]
    unaudited = [audit for audit in audits if audit.error]
    for audit in unaudited:
        print(f"{audit.device}: cannot audit: {audit.error}")
    if not to_fix:
        print(f"{args.limit}: nothing to fix" + (" on the devices audited" if unaudited else ""))
    elif not args.apply:
        print(f"# apply with: egov-agent audit fix --limit {args.limit} -i {args.inventory} --store {args.store} "
              f"--apply\n#   (runs: egov-agent provision --limit {args.limit} -i {args.inventory})")
    else:
        from agent import provision

        return exitcodes.worst(provision.run(args.limit, args.inventory),
                               exitcodes.UNKNOWN if unaudited else exitcodes.OK)
    return exitcodes.UNKNOWN if unaudited else exitcodes.OK


def _print_fix(audit) -> bool:
    """Print what brings one audited device back to the standard; False when nothing does."""
    from agent import platforms
    from agent.audit.configtext import commands

    missing = audit.drift["missing"] if audit.drift else []
    extra = audit.drift["extra"] if audit.drift else []
    if not (audit.failed or missing or extra):
        return False
    if missing:
        print(f"# {audit.device}: configuration lines the golden configuration has and the device lacks")
        print("\n".join(commands(missing, platforms.get(audit.platform).exit)))
    for finding in audit.failed:
        print(f"# {audit.device}: {finding.rule.id} ({finding.rule.severity}) {finding.rule.title}")
        print(finding.rule.remediation.rstrip())
    if extra:
        print(f"# {audit.device}: review: lines where the standard has others (not removed automatically)")
        for context, lines in extra:
            print("\n".join(f"#   {context + ': ' if context else ''}{line}" for line in lines))
    return True
