"""Wall time of `egov-agent provision` onboarding commune offices, per phase, on disposable peers.

    python -m benchmarks.provision [--offices 20] [--forks 10] [--json OUT]

An office is what the provisioning issue counts: a router, a switch and one Linux host.
The routers and switches are simulated devices (tests/sim: Cisco IOS and Huawei VRP over
real SSH, password login), all served by ONE simulator process, office N's router on
127.83.N.1 and its switch on 127.83.N.2; even offices have a Cisco router and a Huawei
switch, odd ones the reverse. They boot with their office hostname and nothing else of
the baseline (not a factory hostname: egov_net_config times out renaming a Cisco device to
a name over 8 characters, as netmiko cuts the configuration-mode prompt at 16).
The Linux host is a disposable target of tests/peer_sshd.py (a real sshd on its own 127.x
address over a copy-on-write copy of this machine). Controller, simulator and targets share
this machine's CPUs: the figures are an upper bound for real offices, whose hosts and
devices do their own work in parallel.

Each run is `agent.provision.run` with commune_office.yml: the baseline `egov-agent
provision SITE` starts with (the monitoring and first-audit phases that follow it are not
timed here).

1. one office: office 0, `--limit xa_bench_000`, first run, then the rerun (changed=0 expected).
2. all offices: offices 1..--offices, `--limit communes` with --forks parallel connections,
   first run, then the rerun.

Phases are the playbook's plays, timed from the moment provision's progress prints each
play's start (a play finishes on every host before the next starts): set-up (ansible-playbook
starting, reading the inventory, sorting hosts by platform), host baseline (the Linux hosts'
play), network baseline (the routers' and switches' play, up to the summary).

Goals (the provisioning issue): one office within 60 s, 20 offices within 5 minutes.
A benchmark, not a test: it asserts nothing and exits 0 once it has printed its table
(1 only if a run did not finish with every host provisioned).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from agent import provision
from tests.peer_sim import PASSWORD, start_fleet
from tests.peer_sshd import ENV, TargetFactory, connection, make_key, office_inventory, parse_summary, \
    require_baseline_packages
from tests.sim import Device, Port, public_key_line

GOALS = {"one office": 60.0, "all offices": 300.0}
# the devices' login password and the enable secret the baseline sets, in ansible-playbook's
# environment only (the inventory names the variable); test values
PASSWORD_ENV = "EGOV_BENCH_NET_PASSWORD"
NET_ENV = {PASSWORD_ENV: PASSWORD, "EGOV_NET_ENABLE_SECRET": "bench-enable-secret"}
# commune_office.yml's plays that are a phase of their own; the time before them is the set-up
PHASES = {"Baseline of the Linux hosts": "host baseline", "Baseline of the routers and switches": "network baseline"}

# platform -> (Device options, uplink port) of a router and of a switch
ROUTER = {"cisco_ios": ({}, "GigabitEthernet0/0"), "huawei": ({}, "GigabitEthernet0/0/0")}
SWITCH = {"cisco_ios": ({"model": "WS-C2960X-24TS-L", "ports": [Port(f"GigabitEthernet1/0/{i}") for i in range(1, 5)]},
                        "GigabitEthernet1/0/1"),
          "huawei": ({"model": "S5735-L24T4S-A", "ports": [Port(f"GigabitEthernet0/0/{i}") for i in range(1, 5)]},
                     "GigabitEthernet0/0/1")}
GEAR = (("routers", "rtr", ROUTER), ("switches", "sw", SWITCH))  # on office N's 127.83.N.1 and .2


def site(n: int) -> str:
    return f"xa_bench_{n:03d}"


def office_gear(n: int) -> dict[str, dict[str, tuple[Device, str]]]:
    """Office n's router and switch by role group: {group: {inventory name: (device, uplink)}}."""
    platforms = ("cisco_ios", "huawei") if n % 2 == 0 else ("huawei", "cisco_ios")
    gear = {}
    for host, ((group, suffix, kinds), platform) in enumerate(zip(GEAR, platforms), start=1):
        options, uplink = kinds[platform]
        name = f"bench{n:03d}-{suffix}"
        gear[group] = {name: (Device(name, f"127.83.{n}.{host}", platform, password=PASSWORD, **options), uplink)}
    return gear


def host_vars(device: Device, uplink: str) -> dict:
    return {"ansible_host": device.address, "egov_platform": device.platform,
            "egov_checks": {"ssh": {"uplinks": [uplink]}}}


class Lines(io.TextIOBase):
    """provision's output stream: every line with the time it was printed (Progress prints
    as ansible-runner hands it each event)."""

    def __init__(self):
        self.lines: list[tuple[float, str]] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *done, self._partial = (self._partial + text).split("\n")
        now = time.monotonic()
        self.lines.extend((now, line) for line in done)
        return len(text)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def measure(run: str, limit: str, inventory: Path, linux: list[str], gear: list[str], forks: int,
            log: Path) -> dict:
    """One provision run: wall time, then per phase its hosts, seconds, changed tasks and
    failed hosts (failed, unreachable or missing from the summary)."""
    out = Lines()
    started = time.monotonic()
    rc = provision.run(limit, str(inventory), forks=forks, envvars={**ENV, **NET_ENV}, out=out)
    ended = time.monotonic()
    log.write_text("".join(f"{at - started:7.1f} {line}\n" for at, line in out.lines))
    summary = parse_summary(out.text())

    def counts(hosts: list[str]) -> dict:
        failed = [h for h in hosts if h not in summary or summary[h]["failed"] or summary[h]["unreachable"]]
        return {"hosts": len(hosts), "changed": sum(summary.get(h, {}).get("changed", 0) for h in hosts),
                "failed": len(failed)}

    marks = [("set-up", started)] + [(PHASES[line[3:]], at) for at, line in out.lines
                                     if line.startswith("== ") and line[3:] in PHASES]
    ends = [at for _, at in marks[1:]] + [ended]
    # the set-up changes nothing; a host failing there counts in the total
    members = {"host baseline": linux, "network baseline": gear}
    phases = [{"phase": phase, "seconds": round(end - at, 1),
               **(counts(members[phase]) if phase in members else {"hosts": len(linux + gear)})}
              for (phase, at), end in zip(marks, ends)]
    return {"run": run, "offices": len(linux), "rc": rc, "seconds": round(ended - started, 1),
            **counts(linux + gear), "phases": phases}


def print_table(runs: list[dict]) -> None:
    print(f"{'run':<19} {'phase':<17} {'hosts':>5} {'seconds':>8} {'goal':>5} {'met':>4} {'changed':>8} {'failed':>6}")
    for run in runs:
        label = run["run"]
        for phase in run["phases"]:
            print(f"{label:<19} {phase['phase']:<17} {phase['hosts']:>5} {phase['seconds']:>8.1f} {'':>5} {'':>4} "
                  f"{phase.get('changed', ''):>8} {phase.get('failed', ''):>6}")
            label = ""
        goal = GOALS.get(run["run"])
        met = ("yes" if run["seconds"] <= goal and run["rc"] == 0 and run["failed"] == 0 else "NO") if goal else ""
        print(f"{'':<19} {'total (rc ' + str(run['rc']) + ')':<17} {run['hosts']:>5} {run['seconds']:>8.1f} "
              f"{goal or '':>5} {met:>4} {run['changed']:>8} {run['failed']:>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offices", type=int, default=20, help="offices of the parallel run (at most 254)")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    if not 1 <= args.offices <= 254:
        parser.error("--offices: 1 to 254 (office N's devices are on 127.83.N.1 and .2)")

    require_baseline_packages()
    load = [os.getloadavg()[0]]
    directory = Path(tempfile.mkdtemp(prefix="egov-bench-provision-"))
    gear = {n: office_gear(n) for n in range(args.offices + 1)}  # office 0 is the one-office run
    devices = [device for office in gear.values() for group in office.values() for device, _ in group.values()]
    factory = TargetFactory(directory)
    admin = make_key(directory, "admin_key")
    (directory / "fleet").mkdir()
    fleet = start_fleet(devices, directory / "fleet")
    runs = []
    try:
        known_hosts = directory / "known_hosts"
        known_hosts.write_text("".join(f"[{d.address}]:{fleet.port} {public_key_line(d.name)}\n" for d in devices))
        province = {"egov_check_defaults": {"ssh": {"username": "egov-netops", "password_env": PASSWORD_ENV,
                                                    "port": fleet.port}},
                    "network_baseline_known_hosts": str(known_hosts)}
        for run, numbers, limit in (("one office", [0], site(0)),
                                    ("all offices", list(range(1, args.offices + 1)), "communes")):
            targets = factory.start_many(len(numbers))
            offices = {site(n): {f"bench{n:03d}-pc": connection(t, factory.root_key)} for n, t in zip(numbers, targets)}
            office_devices = {site(n): {group: {name: host_vars(*spec) for name, spec in members.items()}
                                        for group, members in gear[n].items()} for n in numbers}
            inventory = office_inventory(directory / f"{run.replace(' ', '_')}.yml", offices, admin,
                                         gear=office_devices, **province)
            linux = [name for hosts in offices.values() for name in hosts]
            network = [name for office in office_devices.values() for group in office.values() for name in group]
            for label in (run, f"{run}, rerun"):
                log = directory / f"{label.replace(' ', '_').replace(',', '')}.log"
                runs.append(measure(label, limit, inventory, linux, network, args.forks, log))
            factory.stop_all()
    finally:
        factory.stop_all()
        fleet.stop()
    load.append(os.getloadavg()[0])

    print(f"\nprovision benchmark: {args.offices} offices (router + switch + 1 Linux host each), forks {args.forks}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at start, {load[1]:.1f} at end; logs in {directory}")
    print_table(runs)
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "cpus": os.cpu_count(), "load_average": load,
                                               "runs": runs}, indent=2))
    return 0 if all(run["rc"] == 0 and run["failed"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
