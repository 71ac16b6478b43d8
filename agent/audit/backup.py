"""`egov-agent audit backup` and `egov-agent audit diff`: configurations with their history.

A backup run, holding the store's lock throughout: fetch every device's configuration
(agent/audit/fetch.py), redact its secrets (redact.py), write the files that changed and
commit them once (store.py), render the golden configurations provisioning would apply
(golden.py) for the drift report, and record each device's status. A device that cannot
be fetched keeps its last backup; the run names it with its reason and exits UNKNOWN.

Exit codes (agent/exitcodes.py): 0 every device fetched; 3 some could not be, or the store is
in use or broken; 4 a bad inventory, a --limit naming nothing, or nothing in it to back up;
5 bad options.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TextIO

from agent import exitcodes, logs
from agent.audit.fetch import Fetcher, devices
from agent.audit.redact import redact
from agent.audit.store import DEFAULT_STORE, Change, Store, StoreError
from agent.collector import CollectorError
from agent.inventory import load_inventory
from agent.inventory.limit import limit_hosts
from agent.yamlfile import ConfigError
from collectors.ssh_cli import SshSettings



def _positive(kind):
    """An argparse type: a number above 0 (a usage error otherwise)."""
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number above 0, not {text!r}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def _date(text: str) -> datetime:
    """An argparse type: a date (its midnight, local time) or an ISO date and time."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date (2025-07-01) or an ISO date and time, not {text!r}") \
            from None


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`backup` and `diff`, on the `audit` command's sub-parsers."""
    backup = commands.add_parser("backup", help="fetch the configurations of the network devices and Linux hosts "
                                 "into the store (git); exit 0 all fetched, 3 some not")
    backup.add_argument("-i", "--inventory", metavar="PATH", required=True, help="an Ansible YAML inventory")
    backup.add_argument("--store", metavar="DIR", default=DEFAULT_STORE,
                        help=f"the store, a git repository made on first use (default {DEFAULT_STORE})")
    backup.add_argument("--limit", metavar="SITE_OR_HOST", help="only these hosts, or the hosts at these sites and "
                        "the sites under them; comma-separated")
    backup.add_argument("--concurrency", type=_positive(int), default=20, metavar="N", help="devices fetched at once (default 20)")
    backup.add_argument("--timeout", type=_positive(float), default=60.0, metavar="SECONDS",
                        help="one device, login to logout (default 60)")
    backup.add_argument("--known-hosts", metavar="FILE", default=SshSettings.known_hosts,
                        help="SSH host keys, recorded on first contact (default: the ssh collector's, "
                        f"{SshSettings.known_hosts}); a network device's ssh check may name another")
    backup.add_argument("--lock-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long to wait for another backup run to finish with the store (default 300)")
    backup.add_argument("--no-golden", dest="golden", action="store_false",
                        help="do not render the golden configurations (the drift report needs them)")
    backup.set_defaults(func=backup_command)

    diff = commands.add_parser("diff", help="the history of a device's backup: commits with their diffs")
    diff.add_argument("device")
    diff.add_argument("--store", metavar="DIR", default=DEFAULT_STORE, help=f"the store (default {DEFAULT_STORE})")
    diff.add_argument("--since", metavar="DATE", type=_date, help="changes since DATE (2025-07-01, or 2025-07-01T08:00+07:00)")
    diff.set_defaults(func=diff_command)


def backup_command(args) -> int:
    logs.setup("warning")  # host keys recorded on first contact are logged
    fetcher = Fetcher(Path(args.known_hosts), args.timeout, args.concurrency)
    return run(args.inventory, args.store, fetcher, args.limit, args.lock_timeout, args.golden)


def run(inventory_path: str, store_path: str, fetcher: Fetcher, limit: str | None = None,
        lock_timeout: float = 300.0, golden: bool = True, out: TextIO | None = None,
        causes: Mapping[str, str] | None = None, errors: TextIO | None = None) -> int:
    """One backup run; prints a line per device and a summary (errors to `errors`), returns the
    exit code. `causes`: per device, what its log said of the change, for the commit."""
    out, errors = out or sys.stdout, errors or sys.stderr
    try:
        inventory = load_inventory(inventory_path)
        found, skipped = devices(inventory, limit_hosts(inventory, limit))
    except ConfigError as err:
        print(f"egov-agent: {err}", file=errors)
        return exitcodes.BAD_INPUT
    if not found:
        print(f"egov-agent: {inventory_path}: no network device with an ssh check and no Linux host with an "
              f"address{' in ' + limit if limit else ''}: nothing to back up", file=errors)
        return exitcodes.BAD_INPUT
    store = Store(store_path)
    try:
        with store.lock(lock_timeout) as waited:
            if waited:
                print(f"waited {waited:.1f}s for another backup run to finish with {store_path}", file=out)
            store.init()
            key = store.redaction_key()
            started = int(time.time())
            results = fetcher.fetch_all(found)
            for device in found:
                if isinstance(results[device.name], str):
                    store.write(device.name, device.kind, redact(results[device.name], device.platform, key))
            previous = store.status()
            unlogged = _unlogged(previous, found, causes or {})
            commit, changes = store.commit({device.name: device.platform for device in found},
                                           {**dict.fromkeys(unlogged, UNLOGGED), **(causes or {})})
            store.update_status(_status(previous, found, results, changes, started, causes or {}, unlogged))
            golden_problem = _golden(store, inventory_path, limit, found, key) if golden else None
    except StoreError as err:
        print(f"egov-agent: {err}", file=errors)
        return exitcodes.UNKNOWN
    return _report(found, skipped, results, changes, commit, golden_problem, store_path, out)


# A device that logs its changes to the agent (one triggered a backup, agent/audit/change_backup.py)
# and logged none since its last backup, yet changed: a finding, and its commit says so.
UNLOGGED = "Changed without a log message: the device logs its changes, and none announced this one"


def _unlogged(previous: dict, found, causes: Mapping[str, str]) -> list[str]:
    """The devices whose change, if this run finds one, no log message announced."""
    return [device.name for device in found if device.name not in causes
            and previous.get(device.name, {}).get("last_logged_change", math.inf)
            <= previous.get(device.name, {}).get("last_success", 0)]


def _status(previous: dict, found, results, changes: list[Change], now: int, logged: Mapping[str, str],
            unlogged: list[str]) -> dict[str, dict]:
    changed = {change.device for change in changes}
    entries = {}
    for device in found:
        entry = {key: value for key, value in previous.get(device.name, {}).items()
                 if key in ("last_success", "last_change", "last_logged_change", "last_unlogged_change")}
        if device.name in logged:
            entry["last_logged_change"] = now
        entry.update(platform=device.platform, site=device.site, last_attempt=now)
        result = results[device.name]
        if isinstance(result, CollectorError):
            entry.update(reason=result.reason, detail=result.detail)
        else:
            entry["last_success"] = now
            if device.name in changed:
                entry["last_change"] = now
                if device.name in unlogged:
                    entry["last_unlogged_change"] = now
        entries[device.name] = entry
    return entries


def _golden(store: Store, inventory_path: str, limit: str | None, found, key: bytes) -> str | None:
    """Store the golden configurations of the network devices, redacted like their backups;
    the reason when Ansible cannot render them (the last ones rendered stay)."""
    from agent.audit.golden import GoldenError, render

    network = [device for device in found if device.kind == "network"]
    if not network:
        return None
    try:
        rendered = render(inventory_path, limit)
    except GoldenError as err:
        return str(err)
    for device in network:
        lines = rendered.get(device.name)
        store.write_golden(device.name, None if lines is None else
                           redact("\n".join(lines) + "\n", device.platform, key))
    return None


def _report(found, skipped, results, changes: list[Change], commit: str | None, golden_problem: str | None,
            store_path: str, out: TextIO) -> int:
    by_device = {change.device: change for change in changes}
    width = max(len(device.name) for device in found)
    counts = dict.fromkeys(("new", "changed", "unchanged", "failed"), 0)
    for device in found:
        result, change = results[device.name], by_device.get(device.name)
        if isinstance(result, CollectorError):
            state, text = "failed", f"FAILED     {result.reason}: {result.detail}"
        elif change is not None and change.state in ("new", "changed"):
            state, text = change.state, f"{change.state:<10} {change.summary}"
        else:
            state, text = "unchanged", "unchanged"
        counts[state] += 1
        print(f"{device.name:<{width}}  {text}", file=out)
    if skipped:
        print(f"not backed up (network devices without an ssh check): {', '.join(skipped)}", file=out)
    if golden_problem:
        print(f"golden configurations not rendered: {golden_problem}", file=out)
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    print(f"backup: {len(found)} devices: {summary}; " + (f"commit {commit} in {store_path}" if commit
                                                            else f"no change to commit in {store_path}"), file=out)
    return exitcodes.UNKNOWN if counts["failed"] else exitcodes.OK


def diff_command(args) -> int:
    store = Store(args.store)
    files = store.files()
    if args.device not in files:
        failed = store.status().get(args.device, {})
        if failed.get("reason"):
            problem = f"it has never been fetched: {failed['reason']}: {failed.get('detail', '')}"
        else:
            near = difflib.get_close_matches(args.device, files, n=5)
            problem = f"near: {', '.join(near)}" if near else f"{len(files)} devices have one"
        print(f"egov-agent: no backup of {args.device!r} in {args.store} ({problem})", file=sys.stderr)
        return exitcodes.BAD_INPUT
    try:
        history = store.history(args.device, args.since)
    except StoreError as err:
        print(f"egov-agent: {err}", file=sys.stderr)
        return exitcodes.UNKNOWN
    print(history.rstrip("\n") if history else f"{args.device}: no change since {args.since}")
    return exitcodes.OK
