"""Wall time of `egov-agent provision` (the host baseline) on disposable targets.

    python -m benchmarks.provision [--offices 20] [--hosts-per-office 1] [--forks 10] [--json OUT]

Hosts only: commune_office.yml's Linux host baseline (host_baseline); the network gear
baseline is not part of it yet. Each Linux host is a disposable target of
tests/peer_sshd.py (a real sshd on its own 127.x address over a copy-on-write copy of
this machine), so controller and targets share this machine's CPUs: the figures are an
upper bound for real hosts, which do their own work in parallel.

1. one office: fresh targets for one commune office, applied once (first run), then again
   (the idempotent rerun, changed=0 expected).
2. all offices: fresh targets for --offices offices, applied at once with `--limit
   communes` and --forks parallel SSH connections, then again.

Goals (the provisioning issue): one office within 60 s, 20 offices within 5 minutes.
A benchmark, not a test: it asserts nothing and exits 0 once it has printed its table
(1 only if a run did not finish with every host provisioned).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from tests.peer_sshd import (Run, TargetFactory, connection, make_key, office_inventory, provision_run,
                              require_baseline_packages)

GOALS = {"one office": 60.0, "all offices": 300.0}


def _offices(factory: TargetFactory, first: int, count: int, hosts_per_office: int) -> dict[str, dict]:
    offices = {}
    for n in range(first, first + count):
        targets = factory.start_many(hosts_per_office)
        offices[f"xa_bench_{n:03d}"] = {f"bench{n:03d}-pc-{i:02d}": connection(t, factory.root_key)
                                        for i, t in enumerate(targets, start=1)}
    return offices


def _row(phase: str, run: Run, hosts: int) -> dict:
    changed = sum(h["changed"] for h in run.hosts.values())
    failed = sum(h["failed"] + h["unreachable"] for h in run.hosts.values())
    return {"phase": phase, "hosts": hosts, "seconds": round(run.seconds, 1), "rc": run.rc,
            "changed": changed, "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--hosts-per-office", type=int, default=1)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)

    require_baseline_packages()
    directory = Path(tempfile.mkdtemp(prefix="egov-bench-provision-"))
    factory = TargetFactory(directory)
    admin = make_key(directory, "admin_key")
    rows, load = [], [os.getloadavg()[0]]
    try:
        one = _offices(factory, 0, 1, args.hosts_per_office)
        inventory = office_inventory(directory / "one.yml", one, admin)
        site = next(iter(one))
        for phase in ("one office", "one office, rerun"):
            rows.append(_row(phase, provision_run(site, str(inventory), forks=args.forks), args.hosts_per_office))
        factory.stop_all()

        many = _offices(factory, 1, args.offices, args.hosts_per_office)
        inventory = office_inventory(directory / "all.yml", many, admin)
        hosts = args.offices * args.hosts_per_office
        for phase in ("all offices", "all offices, rerun"):
            rows.append(_row(phase, provision_run("communes", str(inventory), forks=args.forks), hosts))
    finally:
        factory.stop_all()
    load.append(os.getloadavg()[0])

    print(f"\nprovision benchmark: {args.offices} offices x {args.hosts_per_office} Linux host(s), "
          f"forks {args.forks}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at start, {load[1]:.1f} at end")
    print(f"{'phase':<20} {'hosts':>5} {'seconds':>8} {'goal':>6} {'changed':>8} {'failed':>6}")
    for row in rows:
        goal = GOALS.get(row["phase"])
        print(f"{row['phase']:<20} {row['hosts']:>5} {row['seconds']:>8.1f} {goal or '':>6} "
              f"{row['changed']:>8} {row['failed']:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "load_average": load, "rows": rows}, indent=2))
    return 0 if all(row["rc"] == 0 and row["failed"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
