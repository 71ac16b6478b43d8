"""egov-agent's icmp and tcp probes against blackbox_exporter 0.23 and fping 5.1, in one run.

    python -m benchmarks.probes [--quick] [--json OUT]

Every target is its own loopback address. Phases, one after the other:

1. ICMP, CPU per echo. egov-agent: the real `icmp` collector in a worker process of its
   own, on an inventory of T targets (127.35.x.y), each run sending 5 echoes 20 ms apart
   to every target (count 5, spacing 20ms, timeout 500ms, pace 1ms), rendered and checked
   as the daemon does; its CPU (utime + stime) over R runs after a warm-up run, divided
   by the echoes sent. blackbox_exporter: `GET /probe?target=ADDR&module=icmp` over one
   keep-alive connection, once per target in turn (one echo each); its CPU per probe.
   fping: `fping -C5 -q -p 20 -i 1 -f TARGETS`, the same T targets, 5 echoes each 20 ms
   apart, 1 ms between any two (like our pace); its CPU per echo from wait4().
2. TCP, CPU per connect probe: the `tcp` collector (collectors/tcp.py) in a worker against
   T' listeners (127.36.0.x, each accepting and closing) against blackbox's tcp_connect.
3. Scale: the agent itself (`egov-agent run`, only the icmp collector enabled) on an
   inventory of 5000 targets (127.37.x.y), 5 echoes each (spacing 1s, timeout 1s), every
   60 s, for 3 cycles; each cycle's duration and success from its own /metrics, its CPU
   and RSS (read every second) from /proc.

Peak RSS is each process's VmHWM (workers and fping: read every 10 ms while they run). A
benchmark, not a test: it asserts nothing and exits 0 once it has printed its tables (1 if
a daemon could not be started or a worker failed).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import os
import platform
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import arguments, finish
from benchmarks.node_exporter import agent_argv, cpu_seconds, memory
from tests.peers import Peer, free_port, require

BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_CONFIG = """\
modules:
  icmp:
    prober: icmp
    timeout: 5s
    icmp: {preferred_ip_protocol: ip4}
  tcp_connect:
    prober: tcp
    timeout: 5s
"""
ECHO_CHECK = {"count": 5, "spacing": "20ms", "timeout": "500ms"}  # fping -C5 -p 20 (-t 500 is its default)
SCALE_CHECK = {"count": 5}  # spacing 1s, timeout 1s: the defaults
GOALS = {"icmp_blackbox": 0.5, "icmp_fping": 3.0, "tcp_blackbox": 0.5, "scale_cpu": 0.10}
FULL = {"icmp_targets": 1000, "icmp_runs": 3, "blackbox_probes": 2000, "tcp_targets": 500, "tcp_runs": 4,
        "scale_targets": 5000, "scale_interval": 60, "scale_cycles": 3}
QUICK = {"icmp_targets": 200, "icmp_runs": 2, "blackbox_probes": 300, "tcp_targets": 100, "tcp_runs": 3,
         "scale_targets": 500, "scale_interval": 10, "scale_cycles": 2}


def address(block: int, n: int) -> str:
    return f"127.{block}.{n // 250}.{n % 250 + 1}"


def write_inventory(path: Path, kind: str, addresses: list[str], check: dict) -> Path:
    lines = ["province:", "  vars: {egov_site_type: province}", "  hosts:"]
    lines += [f"    t{i}: {{ansible_host: {addr}, egov_role: dc_host, egov_checks: {{{kind}: {json.dumps(check)}}}}}"
              for i, addr in enumerate(addresses)]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- egov-agent's collector in a worker

def worker(args) -> int:
    """Run one probe collector `runs` times after a warm-up; print its CPU as JSON."""
    from agent.collector import discover, metric_index
    from agent.context import Context
    from agent.inventory import load_inventory
    from agent.snapshot import render

    kind = args.worker
    cls = discover()[kind]
    collector = cls(cls.Settings(**json.loads(args.settings)), Context(inventory=load_inventory(args.inventory)))

    async def runs() -> dict:
        probing = rendering = 0.0
        probes, sent_before = 0, 0.0
        for run in range(args.runs + 1):  # run 0 warms up: imports, first sockets
            start = time.process_time()
            families = await collector.collect()
            collected = time.process_time()
            text = render(families)[0].decode()  # as the scheduler does: both formats, then the checks
            list(collector.checks(metric_index(families)))
            if run == 0:
                sent_before = total(text, "egov_icmp_echoes_sent_total")
                continue
            probing += collected - start
            rendering += time.process_time() - collected
            probes += total(text, f"egov_{kind}_up")
        out = {"cpu_probing": probing, "cpu_rendering": rendering, "probes": probes}
        if kind == "icmp":  # the collector's own counters, across runs
            out.update(echoes=total(text, "egov_icmp_echoes_sent_total") - sent_before,
                       sent_total=total(text, "egov_icmp_echoes_sent_total"),
                       received_total=total(text, "egov_icmp_echoes_received_total"))
        return out

    print(json.dumps(asyncio.run(runs())))
    return 0


def total(text: str, name: str) -> float:
    """The sum of a family's samples in a text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def run_measured(argv: list[str]) -> tuple[int, str, str, dict]:
    """Run a command; its exit code, output, error output, CPU (wait4) and peak RSS.

    The peak is VmHWM read every 10 ms while it runs: ru_maxrss would count the copy of
    this Python process the child was forked from before it exec'd.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err)
        peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            try:
                peak = max(peak, memory(process.pid)["VmHWM"])
            except (OSError, KeyError):  # exiting: no memory left to read
                pass
            time.sleep(0.01)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(), err.read().decode(),
                {"cpu": usage.ru_utime + usage.ru_stime, "peak_rss": peak})


def egov_worker(kind: str, inventory: Path, runs: int, settings: dict) -> dict:
    code, out, err, usage = run_measured([sys.executable, "-m", "benchmarks.probes", "--worker", kind,
                                          "--inventory", str(inventory), "--runs", str(runs),
                                          "--settings", json.dumps(settings)])
    if code != 0:
        raise RuntimeError(f"the {kind} worker exited with {code}: {err[-2000:]}")
    return {**json.loads(out), "cpu_process": usage["cpu"], "peak_rss": usage["peak_rss"]}


# ---------------------------------------------------------------- the anchors

class Blackbox:
    """blackbox_exporter on a free 127.0.0.1 port, driven over one keep-alive connection."""

    def __init__(self, directory: Path):
        (directory / "blackbox.yml").write_text(BLACKBOX_CONFIG)
        self.port = free_port()
        self.peer = Peer([require(BLACKBOX), f"--config.file={directory / 'blackbox.yml'}",
                          f"--web.listen-address=127.0.0.1:{self.port}"], directory / "blackbox.log")
        self.peer.wait_http(f"http://127.0.0.1:{self.port}/-/healthy")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def probe(self, target: str, module: str) -> bool:
        self.conn.request("GET", f"/probe?target={target}&module={module}")
        return b"\nprobe_success 1" in self.conn.getresponse().read()

    def measure(self, targets: list[str], module: str, probes: int) -> dict:
        for target in targets[:50]:  # warm-up
            self.probe(target, module)
        start = cpu_seconds(self.peer.pid)
        ok = sum(self.probe(targets[i % len(targets)], module) for i in range(probes))
        return {"cpu": cpu_seconds(self.peer.pid) - start, "probes": probes, "ok": ok}

    def stop(self) -> None:
        self.conn.close()
        self.peer.stop()


def fping(targets_file: Path, count: int) -> dict:
    code, _, err, usage = run_measured([require("fping"), f"-C{count}", "-q", "-p", "20", "-i", "1",
                                        "-f", str(targets_file)])
    values = [v for line in err.splitlines() if " : " in line for v in line.rpartition(" : ")[2].split()]
    return {**usage, "echoes": len(values), "received": sum(v != "-" for v in values), "exit": code}


class Listeners:
    """A TCP listener on each address (one port for all), accepting and closing, in one thread."""

    def __init__(self, addresses: list[str]):
        self.port = free_port()
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        for addr in addresses:
            listener = socket.create_server((addr, self.port), backlog=1024)
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ)
            self.sockets.append(listener)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            for key, _ in self.selector.select(0.2):
                try:
                    key.fileobj.accept()[0].close()
                except BlockingIOError:
                    pass

    def stop(self) -> None:
        self.stopping = True
        self.thread.join()
        for listener in self.sockets:
            listener.close()


# ---------------------------------------------------------------- scale: the agent itself

def scrape(port: int) -> str:
    """The agent's text exposition, gzipped as it keeps it ready, so the scrape costs it little."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4", "Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        return (gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body).decode()
    finally:
        conn.close()


def metric(text: str, name: str, labels: str = "") -> list[float]:
    pattern = re.compile(rf"^{re.escape(name)}{{[^}}]*{re.escape(labels)}[^}}]*}} (\S+)$", re.M)
    return [float(value) for value in pattern.findall(text)]


def scale(directory: Path, targets: int, interval: int, cycles: int) -> dict:
    from agent.collector import discover

    inventory = write_inventory(directory / "scale.yml", "icmp", [address(37, i) for i in range(targets)],
                                SCALE_CHECK)
    others = "".join(f"  {name}: {{enabled: false}}\n" for name in discover() if name != "icmp")
    config = directory / "agent.yml"
    config.write_text(f"collectors:\n  icmp: {{interval: {interval}s, timeout: {interval - 1}s, "
                      f"probe_timeout: {min(10, interval - 2)}s}}\n{others}")
    port = free_port()
    peer = Peer([*agent_argv(f"127.0.0.1:{port}"), "-c", str(config), "-i", str(inventory)],
                directory / "agent.log")
    try:
        peer.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        started_cpu, started = cpu_seconds(peer.pid), time.monotonic()
        rss, threads, runs = [], set(), {}
        while time.monotonic() - started < cycles * interval:
            time.sleep(1)
            status = memory(peer.pid)
            rss.append(status["VmRSS"])
            threads.add(status["Threads"])
            if len(rss) % 5 == 0:  # every 5 s: has a run ended?
                text = scrape(port)
                for stamp in metric(text, "egov_collector_last_success_timestamp_seconds", 'collector="icmp"'):
                    runs[stamp] = metric(text, "egov_collector_duration_seconds", 'collector="icmp"')[0]
        cpu, wall = cpu_seconds(peer.pid) - started_cpu, time.monotonic() - started
        text = scrape(port)
        success = metric(text, "egov_collector_success", 'collector="icmp"')
        final = memory(peer.pid)
        return {"targets": targets, "interval": interval, "cycles": cycles, "cpu": cpu, "wall": wall,
                "runs": sorted(runs.values()), "collector_success": success[0] if success else None,
                "sent": sum(metric(text, "egov_icmp_echoes_sent_total")),
                "received": sum(metric(text, "egov_icmp_echoes_received_total")),
                "rss_min": min(rss), "rss_max": max(rss), "rss_end": final["VmRSS"], "peak_rss": final["VmHWM"],
                "threads": sorted(threads)}
    finally:
        peer.stop()


# ---------------------------------------------------------------- the run

def table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def ratio_row(metric_name: str, ours: float, theirs: float, anchor: str, goal: float, unit: str = "µs") -> tuple:
    ratio = ours / theirs
    return (metric_name, f"{ours:.1f} {unit}", f"{theirs:.1f} {unit} ({anchor})", f"{ratio:.2f}×", f"≤ {goal:g}×",
            "yes" if ratio <= goal else "NO")


def run(args) -> int:
    plan = QUICK if args.quick else FULL
    directory = Path(tempfile.mkdtemp(prefix="egov-bench-probes-"))
    print(f"machine: {os.cpu_count()} CPUs, kernel {platform.release()}, {platform.python_implementation()} "
          f"{platform.python_version()}; plan {plan}", flush=True)
    results: dict = {"plan": plan}
    blackbox = listeners = None
    try:
        blackbox = Blackbox(directory)
        icmp_targets = [address(35, i) for i in range(plan["icmp_targets"])]
        (directory / "targets.txt").write_text("\n".join(icmp_targets) + "\n")

        print(f"[1/3] ICMP: {len(icmp_targets)} targets x 5 echoes x {plan['icmp_runs']} runs", flush=True)
        inventory = write_inventory(directory / "icmp.yml", "icmp", icmp_targets, ECHO_CHECK)
        results["egov_icmp"] = egov_worker("icmp", inventory, plan["icmp_runs"], {"pace": 0.001})
        results["blackbox_icmp"] = blackbox.measure(icmp_targets, "icmp", plan["blackbox_probes"])
        results["fping"] = fping(directory / "targets.txt", 5)

        tcp_targets = [address(36, i) for i in range(plan["tcp_targets"])]
        print(f"[2/3] TCP: {len(tcp_targets)} targets x {plan['tcp_runs']} runs", flush=True)
        listeners = Listeners(tcp_targets)
        inventory = write_inventory(directory / "tcp.yml", "tcp", tcp_targets, {"port": listeners.port})
        results["egov_tcp"] = egov_worker("tcp", inventory, plan["tcp_runs"], {})
        results["blackbox_tcp"] = blackbox.measure([f"{addr}:{listeners.port}" for addr in tcp_targets],
                                                   "tcp_connect", plan["blackbox_probes"])
        results["blackbox_peak_rss"] = memory(blackbox.peer.pid)["VmHWM"]
    except (RuntimeError, TimeoutError, OSError) as err:
        print(f"failed: {err}", file=sys.stderr)
        return 1
    finally:
        if listeners is not None:
            listeners.stop()
        if blackbox is not None:
            blackbox.stop()

    print(f"[3/3] scale: the agent, {plan['scale_targets']} targets x 5 echoes every {plan['scale_interval']}s, "
          f"{plan['scale_cycles']} cycles", flush=True)
    try:
        results["scale"] = scale(directory, plan["scale_targets"], plan["scale_interval"], plan["scale_cycles"])
    except (RuntimeError, TimeoutError, OSError) as err:
        print(f"failed: {err}", file=sys.stderr)
        return 1
    return finish(report, results, args.json)


def report(results: dict) -> None:
    ours, bb, fp = results["egov_icmp"], results["blackbox_icmp"], results["fping"]
    per_echo = (ours["cpu_probing"] + ours["cpu_rendering"]) / ours["echoes"] * 1e6
    tcp, bb_tcp = results["egov_tcp"], results["blackbox_tcp"]
    per_connect = (tcp["cpu_probing"] + tcp["cpu_rendering"]) / tcp["probes"] * 1e6
    mib = 1 << 20

    def split(worker: dict, unit: str) -> str:
        return (f"{worker['cpu_probing'] / worker[unit] * 1e6:.1f} / "
                f"{worker['cpu_rendering'] / worker[unit] * 1e6:.1f} µs")

    print()
    table([("metric", "egov-agent", "anchor", "ratio", "goal", "met?"),
           ratio_row("CPU per ICMP echo", per_echo, bb["cpu"] / bb["probes"] * 1e6, "blackbox, per probe",
                     GOALS["icmp_blackbox"]),
           ratio_row("CPU per ICMP echo", per_echo, fp["cpu"] / fp["echoes"] * 1e6, "fping", GOALS["icmp_fping"]),
           ratio_row("CPU per TCP connect probe", per_connect, bb_tcp["cpu"] / bb_tcp["probes"] * 1e6,
                     "blackbox tcp_connect", GOALS["tcp_blackbox"])])
    print()
    table([("for information", "value"),
           ("egov ICMP: echoes measured, answered (all runs)",
            f"{ours['echoes']:.0f}, {ours['received_total']:.0f} of {ours['sent_total']:.0f}"),
           ("egov ICMP: CPU per echo probing / rendering + checks",
            split(ours, "echoes")),
           ("egov ICMP worker: whole process CPU (start-up, warm-up run included)", f"{ours['cpu_process']:.2f} s"),
           ("blackbox: ICMP probes answered", f"{bb['ok']} of {bb['probes']}"),
           ("fping: echoes, answered, exit code", f"{fp['echoes']}, {fp['received']}, {fp['exit']}"),
           ("egov TCP: CPU per probe probing / rendering + checks",
            split(tcp, "probes")),
           ("blackbox: tcp_connect probes answered", f"{bb_tcp['ok']} of {bb_tcp['probes']}"),
           ("peak RSS: egov icmp worker / egov tcp worker",
            f"{ours['peak_rss'] / mib:.1f} / {tcp['peak_rss'] / mib:.1f} MiB"),
           ("peak RSS: blackbox / fping",
            f"{results['blackbox_peak_rss'] / mib:.1f} / {fp['peak_rss'] / mib:.1f} MiB")])
    s = results["scale"]
    share = s["cpu"] / s["wall"]
    print()
    table([("scale: the agent", "value", "goal", "met?"),
           ("targets x echoes, every", f"{s['targets']} x 5, {s['interval']} s", "", ""),
           ("runs seen, their durations", f"{len(s['runs'])}: " + ", ".join(f"{d:.1f} s" for d in s["runs"]),
            f"< {s['interval']} s each", "yes" if s["runs"] and max(s["runs"]) < s["interval"] else "NO"),
           ("CPU over the run, share of one core", f"{s['cpu']:.2f} s in {s['wall']:.0f} s = {share:.1%}",
            f"≤ {GOALS['scale_cpu']:.0%}", "yes" if share <= GOALS["scale_cpu"] else "NO"),
           ("echoes sent, answered (counters at the end)", f"{s['sent']:.0f}, {s['received']:.0f}", "", ""),
           ("RSS min / max / end, peak (MiB)", f"{s['rss_min'] / mib:.1f} / {s['rss_max'] / mib:.1f} / "
            f"{s['rss_end'] / mib:.1f}, {s['peak_rss'] / mib:.1f}", "", ""),
           ("threads seen", ", ".join(map(str, s["threads"])), "", "")])


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer targets and probes, a 10 s scale cycle")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return worker(args) if args.worker else run(args)


if __name__ == "__main__":
    sys.exit(main())
