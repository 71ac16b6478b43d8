"""`egov-agent audit ...`: backup, diff (agent/audit/backup.py), report, file, fix.

Exit codes of report and file (agent/audit/report.py): 0 no critical finding, 1 some
device could not be audited, 2 a critical finding — so a pipeline stops on it.
"""

from __future__ import annotations

import argparse
import json
import sys

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

    fix = commands.add_parser("fix", help="print what brings a device back to the standard; --apply applies it")
    fix.add_argument("device")
    _inventory_store(fix, limit=False)
    fix.add_argument("--apply", action="store_true",
                     help="apply it: the network_baseline playbook run limited to the device")
    fix.set_defaults(func=_fix)


def _inventory_store(parser: argparse.ArgumentParser, limit: bool = True) -> None:
    from agent.audit.store import DEFAULT_STORE

    parser.add_argument("-i", "--inventory", metavar="PATH", required=True, help="an Ansible YAML inventory")
    parser.add_argument("--store", metavar="DIR", default=DEFAULT_STORE,
                        help=f"the backup store (default {DEFAULT_STORE})")
    if limit:
        parser.add_argument("--limit", metavar="SITE_OR_HOST", help="only this host, or the hosts at this site "
                            "and the sites under it")


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
        return 1
    return _emit([audit], args)


def _report(args) -> int:
    from agent.audit.assess import audit_store
    from agent.audit.backup import select
    from agent.audit.store import Store
    from agent.inventory import load_inventory

    inventory = load_inventory(args.inventory)
    return _emit(audit_store(Store(args.store), inventory, select(inventory, args.limit)), args)


def _fix(args) -> int:
    """The missing golden lines as the commands to type, the failed rules' remediation, the
    lines the standard does not know (never removed automatically); --apply runs the
    provisioning playbook on the device alone."""
    from agent.audit.assess import audit_store
    from agent import platforms
    from agent.audit.configtext import commands
    from agent.audit.store import Store
    from agent.inventory import load_inventory

    inventory = load_inventory(args.inventory)
    if args.device not in inventory.hosts:
        print(f"egov-agent: no host {args.device!r} in {args.inventory}", file=sys.stderr)
        return 1
    audits = audit_store(Store(args.store), inventory, [args.device])
    if not audits or audits[0].error:
        print(f"{args.device}: cannot audit: {audits[0].error if audits else 'no policy pack for its platform'}")
        return 1
    audit = audits[0]
    if audit.drift and audit.drift["missing"]:
        print(f"# {args.device}: configuration lines the golden configuration has and the device lacks")
        print("\n".join(commands(audit.drift["missing"], platforms.get(audit.platform).exit)))
    for finding in audit.failed:
        print(f"# {finding.rule.id} ({finding.rule.severity}) {finding.rule.title}")
        print(finding.rule.remediation.rstrip())
    if audit.drift and audit.drift["extra"]:
        print("# review: lines where the standard has others (not removed automatically)")
        for context, lines in audit.drift["extra"]:
            print("\n".join(f"#   {context + ': ' if context else ''}{line}" for line in lines))
    if not audit.failed and not (audit.drift and (audit.drift["missing"] or audit.drift["extra"])):
        print(f"{args.device}: nothing to fix")
        return 0
    if not args.apply:
        print(f"# apply with: egov-agent audit fix {args.device} -i {args.inventory} --store {args.store} --apply")
        print(f"#   (runs: egov-agent provision {args.device} -i {args.inventory})")
        return 0
    from agent import provision

    return provision.run(args.device, args.inventory)
