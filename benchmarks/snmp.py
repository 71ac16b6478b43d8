"""egov-agent's SNMP collector against Debian's prometheus-snmp-exporter, side by side in one run.

    python -m benchmarks.snmp [--devices 500] [--interfaces 24] [--cycles 3] [--json OUT] [--quick]

One snmpsim process simulates every device: one .snmprec per device (system group,
IF-MIB ifTable/ifXTable columns with Counter64 octet and packet counters that grow with
time, Cisco CPU and memory pools), each device on its own 127.62.x.y address. Then, in
alternating order, each poller polls every device once per cycle, with the same
concurrency, from one CPU core (both pinned to the same core, snmpsim to another):

- egov-agent: the real `snmp` collector in a worker process, on an inventory of the devices
  (platform cisco_ios), one `collect()` per cycle on a long-lived event loop, as the daemon runs it;
- snmp_exporter 0.21: `GET /snmp?target=…&module=…` for every device, a hand-written
  snmp.yml asking for the same OIDs (`walk` per column, `get` for the scalars).

CPU seconds of each poller process per device poll, wall time of a cycle, and peak RSS
(VmHWM) are read from /proc. A benchmark, not a test: it asserts nothing and exits 0 once
it has printed its table (1 if a daemon could not be started or a poller failed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.node_exporter import cpu_seconds, memory, sample_lines
from collectors._snmp_tables import INTERFACE_COLUMNS, RESOURCE_COLUMNS, SYSTEM, dotted
from tests.peers import Peer, free_port, require

SNMP_EXPORTER = "prometheus-snmp-exporter"
GOAL = 1.0  # CPU per device poll, egov-agent / snmp_exporter
POLLER_CPU, SIMULATOR_CPU = 0, 1  # pinned: the pollers share core 0, snmpsim has core 1
# snmprec types by column (snmpsim tags: 2 Integer, 4 OctetString, 65 Counter32, 66 Gauge32,
# 67 TimeTicks, 70 Counter64); the growing ones use snmpsim's `numeric` variation
COUNTER64_RATES = {"ifHCInOctets": 12_500, "ifHCOutOctets": 25_000, "ifHCInUcastPkts": 10, "ifHCOutUcastPkts": 20}


# ---------------------------------------------------------------- simulated devices

def address(n: int) -> str:
    return f"127.62.{n // 250}.{n % 250 + 1}"


def community(n: int) -> str:
    return f"dev{n:04d}"


def snmprec(n: int, interfaces: int) -> str:
    """One device's data: what both pollers ask for, sorted by OID as snmpsim needs."""
    records = {SYSTEM["sysDescr"] + (0,): "4|Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version "
                                          "15.0(2)SE11, RELEASE SOFTWARE (fc3)",
               SYSTEM["sysUpTime"] + (0,): f"67|{8_640_000 + n}", SYSTEM["sysName"] + (0,): f"4|sw-{n:04d}"}
    static = {"ifDescr": lambda i: f"4|GigabitEthernet0/{i}", "ifName": lambda i: f"4|Gi0/{i}",
              "ifAlias": lambda i: f"4|access port {i}", "ifAdminStatus": lambda i: "2|1",
              "ifOperStatus": lambda i: "2|1" if i % 5 else "2|2", "ifHighSpeed": lambda i: "66|1000",
              "ifInErrors": lambda i: f"65|{i}", "ifOutErrors": lambda i: "65|0", "ifInDiscards": lambda i: "65|0",
              "ifOutDiscards": lambda i: f"65|{i * 3}"}
    for column, oid in INTERFACE_COLUMNS.items():
        for i in range(1, interfaces + 1):
            if column in COUNTER64_RATES:
                rate = COUNTER64_RATES[column] * i
                records[oid + (i,)] = f"70:numeric|rate={rate},initial={rate * 1000 * (n + 1)}"
            else:
                records[oid + (i,)] = static[column](i)
    cisco = RESOURCE_COLUMNS["cisco"]
    records[cisco["cpmCPUTotal5minRev"] + (1,)] = f"66|{n % 100}"
    for pool, (used, free) in enumerate(((30_000_000, 70_000_000), (4_000_000, 12_000_000)), start=1):
        records[cisco["ciscoMemoryPoolUsed"] + (pool,)] = f"66|{used}"
        records[cisco["ciscoMemoryPoolFree"] + (pool,)] = f"66|{free}"
    return "".join(f"{dotted(oid)}|{value}\n" for oid, value in sorted(records.items()))


def start_snmpsim(directory: Path, devices: int, interfaces: int, port: int) -> Peer:
    """snmpsim 1.2 selects a device's file by community: its per-endpoint selection
    (data/<community>/<transport-id>.snmprec) overrides handleMgmtOperation, which pysnmp 7
    no longer calls. So each device has its own community, and its own address too."""
    data = directory / "data"
    data.mkdir()
    for n in range(devices):
        (data / f"{community(n)}.snmprec").write_text(snmprec(n, interfaces))
    argv = [str(Path(sys.executable).parent / "snmpsim-command-responder"), f"--data-dir={data}",
            f"--cache-dir={directory / 'cache'}", "--log-level=error",
            *(f"--agent-udpv4-endpoint={address(n)}:{port}" for n in range(devices))]
    peer = Peer(argv, directory / "snmpsim.log", env={"SNMPSIM_ALLOW_ROOT": "true"})
    os.sched_setaffinity(peer.pid, {SIMULATOR_CPU})
    deadline = time.monotonic() + 300  # it indexes every data file first
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"snmpsim exited: {peer.output()}")
        probe = subprocess.run([require("snmpget"), "-v2c", "-c", community(devices - 1), "-t", "1", "-r", "0",
                                "-m", "", f"{address(devices - 1)}:{port}", dotted(SYSTEM["sysName"] + (0,))],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return peer
        time.sleep(1)
    peer.stop()
    raise RuntimeError("snmpsim did not answer within 300 s")


# ---------------------------------------------------------------- snmp_exporter

def exporter_config(devices: int, max_repetitions: int, timeout: float, retries: int) -> str:
    """snmp.yml for snmp_exporter 0.21 (auth inside the module): one module per device,
    since each has its own community; the first is written out, the others merge it."""
    lookup = [{"labels": ["ifIndex"], "labelname": "ifName", "oid": dotted(INTERFACE_COLUMNS["ifName"]),
               "type": "DisplayString"}]
    metrics = [{"name": name, "oid": dotted(oid), "type": "DisplayString" if name in ("sysName", "sysDescr")
                else "gauge", "help": name} for name, oid in SYSTEM.items()]
    for name, oid in INTERFACE_COLUMNS.items():
        kind = ("DisplayString" if name in ("ifDescr", "ifName", "ifAlias") else
                "counter" if "Octets" in name or "Pkts" in name or "Errors" in name or "Discards" in name
                else "gauge")
        metrics.append({"name": name, "oid": dotted(oid), "type": kind, "help": name,
                        "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
                        "lookups": [] if name == "ifName" else lookup})
    for name, oid in RESOURCE_COLUMNS["cisco"].items():
        metrics.append({"name": name, "oid": dotted(oid), "type": "gauge", "help": name,
                        "indexes": [{"labelname": "index", "type": "gauge"}]})
    base = {"version": 2, "max_repetitions": max_repetitions, "timeout": f"{timeout:g}s", "retries": retries,
            "get": [dotted(oid + (0,)) for oid in SYSTEM.values()],
            "walk": [dotted(oid) for oid in [*INTERFACE_COLUMNS.values(), *RESOURCE_COLUMNS["cisco"].values()]],
            "metrics": metrics, "auth": {"community": community(0)}}
    lines = [f"{community(0)}: &device " + json.dumps(base)]  # YAML is a superset of JSON
    lines += [f"{community(n)}: {{<<: *device, auth: {{community: {community(n)}}}}}" for n in range(1, devices)]
    return "\n".join(lines) + "\n"


def start_exporter(directory: Path, config: str) -> tuple[Peer, str]:
    (directory / "snmp.yml").write_text(config)
    port = free_port()
    peer = Peer([require(SNMP_EXPORTER), f"--config.file={directory / 'snmp.yml'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"], directory / "snmp_exporter.log")
    os.sched_setaffinity(peer.pid, {POLLER_CPU})
    peer.wait_http(f"http://127.0.0.1:{port}/metrics", timeout=60)
    return peer, f"127.0.0.1:{port}"


def exporter_cycle(listen: str, devices: int, port: int, concurrency: int) -> dict:
    """One GET /snmp per device, `concurrency` at a time; answers, errors and sample lines."""
    def scrape(n: int) -> tuple[bool, int]:
        connection = http.client.HTTPConnection(listen, timeout=60)
        try:
            connection.request("GET", f"/snmp?module={community(n)}&target={address(n)}:{port}")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        ok = response.status == 200 and b"\nifHCInOctets{" in body
        return ok, sample_lines(body)

    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(scrape, range(devices)))
    return {"ok": sum(ok for ok, _ in answers), "series": sum(lines for _, lines in answers)}


# ---------------------------------------------------------------- egov-agent's collector in a worker

def inventory(devices: int, port: int) -> str:
    hosts = {f"sw-{n:04d}": {"ansible_host": address(n), "egov_role": "switch", "egov_platform": "cisco_ios",
                             "egov_checks": {"snmp": {"port": port, "community_env": f"BENCH_{community(n)}",
                                                      "interface_util_warning": 0.8,
                                                      "interface_util_critical": 0.95}}}
             for n in range(devices)}
    return json.dumps({"province": {"vars": {"egov_site_type": "province"}, "hosts": hosts}})


def worker(args) -> int:
    """Poll on request: one line on stdin, one collect(), one JSON line on stdout."""
    import asyncio

    from agent.context import Context
    from agent.inventory import load_inventory
    from agent.scheduler import _finish
    from collectors.snmp import SnmpCollector, SnmpSettings

    settings = SnmpSettings(concurrency=args.concurrency, max_repetitions=args.max_repetitions,
                            request_timeout=args.timeout, retries=args.retries)
    environ = {f"BENCH_{community(n)}": community(n) for n in range(args.devices)}
    collector = SnmpCollector(settings, Context(inventory=load_inventory(args.worker)), environ=environ)
    with asyncio.Runner() as runner:
        for _ in sys.stdin:
            families = runner.run(collector.collect())
            up = next(family for family in families if family.name == "egov_snmp_up")
            ok = int(sum(sample.value for sample in up.samples))
            # what the daemon does with a run (agent.scheduler._finish: both formats, OpenMetrics gzipped, the
            # checks), and what it holds of it until the next (the bytes, as the snapshot does; not the families)
            held = _finish(collector, families)
            del families
            print(json.dumps({"ok": ok, "series": sample_lines(held["text"])}), flush=True)
    return 0


class Worker:
    def __init__(self, directory: Path, args):
        (directory / "inventory.yml").write_text(inventory(args.devices, args.port))
        argv = [sys.executable, "-m", "benchmarks.snmp", "--worker", str(directory / "inventory.yml"),
                "--devices", str(args.devices), "--concurrency", str(args.concurrency),
                "--max-repetitions", str(args.max_repetitions), "--timeout", str(args.timeout),
                "--retries", str(args.retries)]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=Path(__file__).resolve().parent.parent, start_new_session=True)
        self.pid = self.process.pid
        os.sched_setaffinity(self.pid, {POLLER_CPU})

    def cycle(self) -> dict:
        self.process.stdin.write("poll\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker exited with {self.process.wait()}")
        return json.loads(line)

    def stop(self) -> None:
        self.process.stdin.close()  # it ends after the poll under way, if any
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------- the run

def measured(pid: int, simulator: int, cycle) -> dict:
    cpu, sim, started = cpu_seconds(pid), cpu_seconds(simulator), time.monotonic()
    result = cycle()
    return {**result, "wall": time.monotonic() - started, "cpu": cpu_seconds(pid) - cpu,
            "simulator_cpu": cpu_seconds(simulator) - sim}


def facts() -> dict:
    from importlib.metadata import version

    out = subprocess.run([require(SNMP_EXPORTER), "--version"], capture_output=True, text=True)
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
            "gufo-snmp": version("gufo-snmp"), "snmp_exporter": (out.stdout or out.stderr).splitlines()[0].strip()}


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    header = ("metric", "egov-agent", "snmp_exporter", "ratio", "goal")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in [header, *rows]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="egov-bench-snmp-") as tmp:
        directory = Path(tmp)
        started = time.monotonic()
        simulator = start_snmpsim(directory, args.devices, args.interfaces, args.port)
        peers = [simulator]
        try:
            exporter, listen = start_exporter(directory, exporter_config(
                args.devices, args.max_repetitions, args.timeout, args.retries))
            peers.append(exporter)
            agent = Worker(directory, args)
            peers.append(agent)
            print(f"snmpsim up with {args.devices} devices after {time.monotonic() - started:.0f}s; "
                  f"{args.cycles} cycles after one warm-up", file=sys.stderr)
            sides = {"egov-agent": (agent.pid, agent.cycle),
                     "snmp_exporter": (exporter.pid, lambda: exporter_cycle(listen, args.devices, args.port,
                                                                            args.concurrency))}
            cycles: dict[str, list[dict]] = {name: [] for name in sides}
            for number in range(args.cycles + 1):  # cycle 0 warms up: imports, engines, first rates
                for name in (list(sides) if number % 2 else list(sides)[::-1]):
                    pid, cycle = sides[name]
                    cycles[name].append(measured(pid, simulator.pid, cycle))
                    print(f"cycle {number} {name}: {json.dumps(cycles[name][-1])}", file=sys.stderr)
            rss = {name: memory(pid)["VmHWM"] for name, (pid, _) in sides.items()}
        finally:
            for peer in reversed(peers):
                peer.stop()
    return report(args, cycles, rss)


def report(args, cycles: dict[str, list[dict]], rss: dict[str, int]) -> int:
    steady = {name: runs[1:] for name, runs in cycles.items()}
    polls = args.devices * args.cycles

    def total(name, key):
        return sum(run[key] for run in steady[name])

    ours, theirs = "egov-agent", "snmp_exporter"
    cpu = {name: total(name, "cpu") / polls * 1000 for name in steady}
    wall = {name: max(run["wall"] for run in steady[name]) for name in steady}
    ratio = cpu[ours] / cpu[theirs] if cpu[theirs] else None
    rows = [
        ("CPU per device poll (ms)", f"{cpu[ours]:.2f}", f"{cpu[theirs]:.2f}",
         f"{ratio:.2f}×" if ratio else "—", f"≤ {GOAL:g}× {'met' if ratio and ratio <= GOAL else 'NOT met'}"),
        ("slowest cycle, wall (s)", f"{wall[ours]:.1f}", f"{wall[theirs]:.1f}", f"{wall[ours] / wall[theirs]:.2f}×",
         f"≤ 60 s {'met' if wall[ours] <= 60 else 'NOT met'}"),
        ("first cycle: CPU (s)", f"{cycles[ours][0]['cpu']:.1f}", f"{cycles[theirs][0]['cpu']:.1f}", "", ""),
        ("peak RSS, VmHWM (MiB)", f"{rss[ours] / 2**20:.1f}", f"{rss[theirs] / 2**20:.1f}",
         f"{rss[ours] / rss[theirs]:.2f}×", ""),
        ("devices answered per cycle", f"{min(r['ok'] for r in steady[ours])}/{args.devices}",
         f"{min(r['ok'] for r in steady[theirs])}/{args.devices}", "", ""),
        ("series per cycle", str(steady[ours][-1]["series"]), str(steady[theirs][-1]["series"]), "", ""),
        ("snmpsim CPU per cycle (s)", f"{total(ours, 'simulator_cpu') / args.cycles:.1f}",
         f"{total(theirs, 'simulator_cpu') / args.cycles:.1f}", "", ""),
    ]
    print(f"{args.devices} devices × {args.interfaces} interfaces, {args.cycles} measured cycles, concurrency "
          f"{args.concurrency}, max-repetitions {args.max_repetitions}")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "facts": facts(), "cycles": cycles,
                                               "rss": rss, "rows": rows}, indent=2))
    failed = any(r["ok"] < args.devices for runs in steady.values() for r in runs)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--interfaces", type=int, default=24)
    parser.add_argument("--cycles", type=int, default=3, help="measured cycles, after one warm-up cycle")
    parser.add_argument("--concurrency", type=int, default=100, help="devices polled at once, by both")
    parser.add_argument("--max-repetitions", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per SNMP request, both")
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--port", type=int, default=16100, help="UDP port of every simulated device")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--quick", action="store_true", help="50 devices, 1 measured cycle")
    parser.add_argument("--worker", metavar="INVENTORY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.devices, args.cycles = 50, 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
