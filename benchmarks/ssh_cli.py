"""The ssh collector polling a fleet of simulated routers: does one cycle fit its interval?

    python -m benchmarks.ssh_cli [--devices 200] [--ports 8] [--cycles 3] [--concurrency N] [--json OUT] [--quick]

One simulator process (tests/sim: Cisco IOS and Huawei VRP over asyncssh)
serves --devices routers, half of each platform, each on its own 127.78.x.y address with
--ports interfaces and an LLDP neighbour on its uplink. Then:

1. session cost: 10 devices of each platform, one after the other, through netmiko as
   the collector drives it: log in (TCP, SSH handshake, authentication, session
   preparation, `enable` on Cisco), the five commands parsed, log out; per step the median
   wall time, and the mean CPU time of this process (all threads: paramiko does its
   crypto in its own) and of the simulator;
2. cycles: the real `ssh` collector, in this process, on an inventory of every device,
   --cycles runs back to back as the daemon would start them every --interval seconds. The
   first run meets every host key for the first time (an extra key exchange per device to
   record it); the later ones are steady state. Per cycle: wall time, CPU seconds of this
   process (collector, netmiko, paramiko threads) and of the simulator, devices up.

The goal is a steady cycle shorter than the interval (60 s for 200 devices). A benchmark,
not a test: it asserts nothing and exits 0 once it has printed its tables (1 if the
simulator could not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import logging
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.node_exporter import cpu_seconds, memory
from collectors.ssh_cli import SshSettings
from tests.peer_sim import start_fleet
from tests.sim import Device, Neighbor, Port, public_key_line

PASSWORD, SECRET = "bench-password", "bench-enable"
PLATFORMS = ("cisco_ios", "huawei")


def fleet_devices(count: int, ports: int) -> list[Device]:
    devices = []
    for n in range(count):
        kind = PLATFORMS[n % 2]
        prefix = "GigabitEthernet0/" if kind == "cisco_ios" else "GigabitEthernet0/0/"
        devices.append(Device(
            f"xa-{n:03d}-rtr", f"127.78.{n // 250}.{n % 250 + 1}", kind, password=PASSWORD,
            secret=SECRET if kind == "cisco_ios" else "",
            ports=[Port(f"{prefix}{i}", up=i < ports - 1) for i in range(ports)],
            neighbors=[Neighbor(f"{prefix}0", f"pop-{n % 4}-rtr", "GigabitEthernet0/0/1")]))
    return devices


def inventory(devices: list[Device], port: int, directory: Path):
    from agent.context import Context
    from agent.inventory import load_inventory

    hosts = {d.name: {"ansible_host": d.address, "egov_role": "router", "egov_platform": d.platform,
                      "egov_checks": {"ssh": {"port": port, "username": d.username, "password_env": "BENCH_PASSWORD",
                                              **({"secret_env": "BENCH_SECRET"} if d.secret else {}),
                                              "uplinks": [d.neighbors[0].interface]}}} for d in devices}
    directory.mkdir()
    (directory / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "children": {
        "communes": {"vars": {"egov_site_type": "commune"}, "hosts": hosts}}}}))
    return Context(inventory=load_inventory(directory))


def own_cpu() -> float:
    """CPU seconds of this process, every thread (paramiko's transport threads do the crypto)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def session_cost(devices: list[Device], port: int, sim_pid: int, known_hosts: Path) -> dict[str, dict[str, float]]:
    """Per platform and step of a session as the collector runs it, over 10 sessions one after
    the other: the median wall time, and the mean CPU of this process and of the simulator."""
    from collectors._cli import GROUPS
    from agent import platforms
    from collectors._ssh_session import session_class

    cost: dict[str, dict[str, float]] = {}
    for kind in PLATFORMS:
        parsers, sample = platforms.get(kind).parsers(), [d for d in devices if d.platform == kind][:10]
        with known_hosts.open("a") as f:  # keys known already: the first contact is the cycles' business
            f.writelines(f"[{d.address}]:{port} {public_key_line(d.name)}\n" for d in sample)
        walls: dict[str, list[float]] = {}
        cpus: dict[str, float] = {}

        def timed(step, action):
            wall, cpu, sim = time.perf_counter(), own_cpu(), cpu_seconds(sim_pid)
            result = action()
            walls.setdefault(step, []).append(time.perf_counter() - wall)
            cpus[f"{step} CPU agent"] = cpus.get(f"{step} CPU agent", 0.0) + own_cpu() - cpu
            cpus[f"{step} CPU sim"] = cpus.get(f"{step} CPU sim", 0.0) + cpu_seconds(sim_pid) - sim
            return result

        for device in sample:
            def login():
                connection = session_class(kind)(
                    device_type=kind, host=device.address, port=port, username=device.username,
                    password=device.password, secret=device.secret, allow_agent=False, use_keys=False,
                    alt_key_file=str(known_hosts))
                if device.secret:
                    connection.enable()
                return connection

            connection = timed("log in", login)
            timed("5 commands", lambda: [parsers.COMMANDS[group][0].parse(
                connection.send_command(parsers.COMMANDS[group][0].command)) for group in GROUPS])
            timed("log out", connection.disconnect)
        cost[kind] = {**{f"{step} wall": statistics.median(values) for step, values in walls.items()},
                      **{step: total / len(sample) for step, total in cpus.items()}}
    return cost


def cycles(devices, port, directory, count: int, concurrency: int, sim_pid: int) -> list[dict]:
    from agent.snapshot import render
    from collectors.ssh_cli import SshCliCollector

    settings = SshSettings(concurrency=concurrency, known_hosts=str(directory / "known_hosts"))
    collector = SshCliCollector(settings, inventory(devices, port, directory / "inventory"),
                                environ={"BENCH_PASSWORD": PASSWORD, "BENCH_SECRET": SECRET})
    loop = asyncio.new_event_loop()
    rows = []
    try:
        for n in range(count):
            wall, cpu, sim = time.perf_counter(), cpu_seconds(os.getpid()), cpu_seconds(sim_pid)
            families = loop.run_until_complete(collector.collect())
            wall = time.perf_counter() - wall
            up = sum(s.value for f in families if f.name == "egov_ssh_up" for s in f.samples)
            series = render(families)[0].decode().count("\n")
            rows.append({"cycle": n + 1, "kind": "first contact" if n == 0 else "steady", "wall_s": wall,
                         "agent_cpu_s": cpu_seconds(os.getpid()) - cpu, "simulator_cpu_s": cpu_seconds(sim_pid) - sim,
                         "up": int(up), "exposition_lines": series})
    finally:
        loop.close()
    return rows


def run(args) -> int:
    logging.getLogger("egov").setLevel(logging.ERROR)  # not each first-contact host key record
    devices = fleet_devices(args.devices, args.ports)
    with tempfile.TemporaryDirectory(prefix="egov-bench-ssh-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        try:
            fleet = start_fleet(devices, directory, timeout=120)
        except (RuntimeError, TimeoutError) as err:
            print(f"the simulator did not start: {err}", file=sys.stderr)
            return 1
        startup = time.perf_counter() - started
        try:
            cost = session_cost(devices, fleet.port, fleet.peer.pid, directory / "session_known_hosts")
            rows = cycles(devices, fleet.port, directory, args.cycles, args.concurrency, fleet.peer.pid)
            rss = memory(os.getpid())
        finally:
            fleet.stop()
    facts = {"python": platform.python_version(), "cpus": os.cpu_count(), "devices": args.devices,
             "ports": args.ports, "concurrency": args.concurrency, "interval_s": args.interval,
             "simulator_startup_s": round(startup, 2)}
    print(f"{args.devices} simulated routers ({args.devices // 2} Cisco IOS, {args.devices - args.devices // 2} "
          f"Huawei VRP), {args.ports} ports each; {os.cpu_count()} CPUs; simulator up in {startup:.1f} s\n")
    print("one session, alone: median wall, mean CPU of the agent and the simulator, of 10 (seconds)")
    print(f"{'step':<24}" + "".join(f"{kind:>12}" for kind in cost))
    for step in sorted(next(iter(cost.values())), key=lambda s: ("log in", "5 commands", "log out").index(
            s.split(" CPU")[0].removesuffix(" wall"))):
        print(f"{step:<24}" + "".join(f"{cost[kind][step]:>12.3f}" for kind in cost))
    print(f"\ncycles of the ssh collector, concurrency {args.concurrency}")
    print(f"{'cycle':<18}{'wall s':>9}{'agent CPU s':>13}{'sim CPU s':>11}{'up':>6}")
    for row in rows:
        print(f"{row['cycle']} {row['kind']:<16}{row['wall_s']:>9.1f}{row['agent_cpu_s']:>13.1f}"
              f"{row['simulator_cpu_s']:>11.1f}{row['up']:>6}")
    steady = [row for row in rows if row["kind"] == "steady"] or rows
    worst = max(row["wall_s"] for row in steady)
    met = worst < args.interval and all(row["up"] == args.devices for row in steady)
    print(f"\npeak RSS of the agent process {rss.get('VmHWM', 0) / 2**20:.0f} MiB, threads now {rss.get('Threads')}")
    print(f"goal: every device polled within the {args.interval:g} s interval: slowest steady cycle {worst:.1f} s "
          f"-> {'met' if met else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "session_cost": cost, "cycles": rows,
                                               "peak_rss_bytes": rss.get("VmHWM"), "met": met}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--ports", type=int, default=8, help="interfaces per device")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--concurrency", type=int, help="default: the collector's own")
    parser.add_argument("--interval", type=float, default=60.0, help="the collector's interval, the goal")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--quick", action="store_true", help="20 devices, 2 cycles")
    args = parser.parse_args(argv)
    args.concurrency = args.concurrency or SshSettings.concurrency
    if args.quick:
        args.devices, args.cycles = 20, 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
