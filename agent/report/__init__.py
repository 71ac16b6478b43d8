"""`egov-agent report ...`: what the province hands in, from Prometheus's history.

`report availability` (agent/report/availability.py, its HTML in availability_page.py).
Exit codes (agent/exitcodes.py): 0 written, every service within its target; 1 written with
a warning (data missing, the month past the retention); 2 written, a service below its
target; 3 Prometheus could not be read; 4 bad input (inventory, --month, --limit).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent import exitcodes

FORMATS = ("html", "csv", "json")
DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"


def add_commands(commands: argparse._SubParsersAction) -> None:
    availability = commands.add_parser("availability", help="availability per site, service and target over a "
                                       "calendar month (local time), from Prometheus's history")
    availability.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2026-11")
    availability.add_argument("-i", "--inventory", metavar="PATH", required=True, help="an Ansible YAML inventory")
    availability.add_argument("--prometheus", metavar="URL", default=DEFAULT_PROMETHEUS,
                              help=f"the Prometheus that scrapes the agents (default {DEFAULT_PROMETHEUS})")
    availability.add_argument("--limit", metavar="SITES_OR_HOSTS",
                              help="only these hosts, and the hosts at these sites and the sites under them "
                              "(comma-separated, as ansible-playbook --limit)")
    availability.add_argument("--format", choices=FORMATS, default="html")
    availability.add_argument("-o", "--output", metavar="FILE", required=True, help="the file to write")
    availability.set_defaults(func=_availability)


def _availability(args) -> int:
    from agent.inventory import load_inventory
    from agent.report import availability
    from agent.targets import write_atomically

    inventory = load_inventory(args.inventory)
    try:
        report = availability.build(inventory, availability.Prometheus(args.prometheus), args.month, args.limit)
    except availability.PrometheusError as err:
        print(f"egov-agent: {err}", file=sys.stderr)
        return exitcodes.UNKNOWN
    if args.format == "html":
        from agent.report.availability_page import render

        text = render(report)
    else:
        text = availability.to_csv(report) if args.format == "csv" else availability.to_json(report)
    write_atomically(Path(args.output), text)
    for vietnamese, english in report.warnings:
        print(f"egov-agent: {english}", file=sys.stderr)
    missed = [s["service"] for s in report.services if s.get("budget_left") is not None and s["budget_left"] < 0]
    if missed:
        print(f"egov-agent: below target: {', '.join(missed)}", file=sys.stderr)
        return exitcodes.CRITICAL
    return exitcodes.WARNING if report.warnings else exitcodes.OK
