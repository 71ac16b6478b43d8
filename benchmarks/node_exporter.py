"""egov-agent against Debian's prometheus-node-exporter 1.5, side by side in one run.

    python -m benchmarks.node_exporter [--duration 300] [--scrapes 500] [--json OUT] [--quick]

Both daemons run at once on free 127.0.0.1 ports, each stopped by its own PID. Phases:

1. cadence (the headline): both scraped as Prometheus scrapes them, every --scrape-interval
   seconds (15) from start, with Prometheus's headers, on one keep-alive connection each.
   VmRSS is read --rss-after seconds (60) after start; CPU (utime+stime) is counted over
   the next --duration seconds (300) of that cadence.
2. series: one uncompressed text-format scrape of each; sample lines are counted.
3. back-to-back (information only: Prometheus never scrapes like this): --scrapes
   sequential scrapes of each, interleaved (A,B then B,A ...); p50/p99 of
   request-to-last-body-byte, and CPU per scrape.

A benchmark, not a test: it asserts nothing and exits 0 once it has printed its table
(1 only if a daemon could not be started or died).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import http.client
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers import Peer, free_port

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
# What Prometheus 2.49-2.55 sends with every scrape on its default scrape_protocols
# (scrape/scrape.go: acceptHeader, weights from 0.5 down; 2.42 sent q=0.75/0.5/0.1 instead).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;"
                     "q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
PROMETHEUS_HEADERS = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip",
                      "User-Agent": "Prometheus/2.55.1", "X-Prometheus-Scrape-Timeout-Seconds": "10"}
TEXT_HEADERS = {"Accept": "text/plain;version=0.0.4", "Accept-Encoding": "identity"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# (key, label, goal as the highest acceptable egov/node_exporter ratio, or None)
GOALS = {"rss": 1.25, "cpu_cadence": 0.5}


# ---------------------------------------------------------------- /proc readers

def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem (bytes), Threads, and Pss from smaps_rollup."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024
            elif key == "Threads":
                out[key] = int(value)
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- targets

@dataclass
class Target:
    name: str
    peer: Peer
    port: int
    started: float  # time.monotonic() just before the process was started
    conn: http.client.HTTPConnection | None = None
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    content_type: str = ""
    content_encoding: str = ""
    last_size: int = 0

    @property
    def pid(self) -> int:
        return self.peer.pid

    def alive(self) -> bool:
        return self.peer.process.poll() is None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.connect()  # outside the timed part: Prometheus keeps its connection open
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def scrape(self, headers: dict = PROMETHEUS_HEADERS) -> tuple[float, bytes] | None:
        """Seconds from sending the request to reading the last body byte, and the body."""
        for _ in range(2):  # once more on a fresh connection if the server closed the idle one
            conn = self._connect()
            try:
                t0 = time.perf_counter()
                conn.request("GET", "/metrics", headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - t0
            except (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionError) as err:
                self._drop()
                self.reconnects += 1
                last = err
                continue
            except OSError as err:
                self._drop()
                self.errors.append(f"{type(err).__name__}: {err}")
                return None
            if response.will_close:
                self._drop()
            if response.status != 200:
                self.errors.append(f"HTTP {response.status}")
                return None
            if headers is PROMETHEUS_HEADERS:
                self.content_type = response.getheader("Content-Type", "")
                self.content_encoding = response.getheader("Content-Encoding", "") or "identity"
                self.last_size = len(body)
            return elapsed, body
        self.errors.append(f"{type(last).__name__}: {last}")
        return None


def sample_lines(body: bytes) -> int:
    return sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))


def decoded(body: bytes, encoding: str) -> bytes:
    return gzip.decompress(body) if encoding == "gzip" else body


def agent_argv(listen: str) -> list[str]:
    """The installed `egov-agent` script next to this interpreter (not a pyenv shim), else -m."""
    script = Path(sys.executable).with_name("egov-agent")
    if script.exists():
        return [sys.executable, str(script), "run", "--listen", listen]
    return [sys.executable, "-m", "agent", "run", "--listen", listen]


# ---------------------------------------------------------------- phases

def interleaved(targets: list[Target], rounds: int, stamps: dict[str, list[float]], pace: float = 0.0,
                stop_after: float | None = None) -> int:
    """`rounds` rounds, each scraping every target once (order alternating); returns rounds done."""
    t0 = time.monotonic()
    done = 0
    gc.disable()  # our own garbage collector must not add pauses to one target's timings
    try:
        for i in range(rounds):
            if stop_after is not None and time.monotonic() - t0 >= stop_after:
                break
            for target in (targets if i % 2 == 0 else targets[::-1]):
                result = target.scrape()
                if result is not None:
                    stamps[target.name].append(result[0])
            done += 1
            if pace:
                delay = t0 + (i + 1) * pace - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    finally:
        gc.enable()
    return done


def machine_facts(ne_binary: str) -> dict:
    facts = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
    }
    try:
        with open("/proc/cpuinfo") as f:
            facts["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
        with open("/proc/meminfo") as f:
            facts["mem_total_mib"] = int(f.readline().split()[1]) // 1024
    except OSError:
        pass
    try:
        out = subprocess.run([ne_binary, "--version"], capture_output=True, text=True, timeout=10)
        facts["node_exporter"] = (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError) as err:
        facts["node_exporter"] = f"unknown ({err})"
    try:
        from agent import __version__

        facts["egov_agent"] = __version__
    except ImportError:
        facts["egov_agent"] = "?"
    try:  # read-only: which commit the working tree is on (it may have uncommitted changes)
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent.parent), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True, timeout=10)
        facts["commit"] = out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        facts["commit"] = "?"
    return facts


def fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


def print_table(rows: list[dict]) -> None:
    header = ("metric", "egov-agent", "node_exporter", "ratio", "goal", "met?")
    cells = [header] + [(r["metric"], r["egov_text"], r["ne_text"], fmt_ratio(r["ratio"]),
                         f"≤ {r['goal']:g}×" if r["goal"] is not None else "—",
                         r["met"] if r["met"] is not None else "—") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    line = lambda c: "| " + " | ".join(s.ljust(w) for s, w in zip(c, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells[1:]:
        print(line(c))


def row(metric: str, egov: float, ne: float, unit_fmt: str, goal_key: str | None = None) -> dict:
    ratio = egov / ne if ne else None
    goal = GOALS.get(goal_key) if goal_key else None
    met = None if goal is None or ratio is None else ("yes" if ratio <= goal else "NO")
    return {"metric": metric, "egov": egov, "node_exporter": ne, "ratio": ratio, "goal": goal, "met": met,
            "egov_text": unit_fmt.format(egov), "ne_text": unit_fmt.format(ne)}


def run(args) -> int:
    ne_binary = shutil.which(NODE_EXPORTER) or shutil.which("prometheus-node-exporter")
    if ne_binary is None:
        print("prometheus-node-exporter is not installed (apt-get install prometheus-node-exporter)",
              file=sys.stderr)
        return 1
    facts = machine_facts(ne_binary)
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), flush=True)
    print(f"plan: scraped every {args.scrape_interval:g}s as Prometheus does; RSS at {args.rss_after:g}s, "
          f"CPU over the next {args.duration:g}s; then {args.scrapes} back-to-back scrapes each", flush=True)

    logdir = Path(tempfile.mkdtemp(prefix="egov-bench-"))
    targets: list[Target] = []
    failed = False
    try:
        port = free_port()
        t = time.monotonic()
        targets.append(Target("egov", Peer(agent_argv(f"127.0.0.1:{port}"), logdir / "egov-agent.log"), port, t))
        port = free_port()
        t = time.monotonic()
        targets.append(Target("node_exporter", Peer([ne_binary, f"--web.listen-address=127.0.0.1:{port}"],
                                                     logdir / "node_exporter.log"), port, t))
        for target in targets:
            target.peer.wait_http(f"http://127.0.0.1:{target.port}/metrics", timeout=30)
        egov, ne = targets
        ready = {t.name: round(time.monotonic() - t.started, 3) for t in targets}
        print(f"started: egov-agent pid {egov.pid} ({' '.join(egov.peer.argv)}), "
              f"node_exporter pid {ne.pid}; ready after {ready}", flush=True)

        # 1. Prometheus's cadence from start: RSS at --rss-after, then CPU over --duration
        start = min(t.started for t in targets)
        warm: dict[str, list[float]] = {t.name: [] for t in targets}
        remaining = args.rss_after - (time.monotonic() - start)
        print(f"[1/3] cadence: a scrape each every {args.scrape_interval:g}s; RSS at {args.rss_after:g}s, "
              f"then CPU over {args.duration:g}s", flush=True)
        interleaved(targets, max(1, math.ceil(remaining / args.scrape_interval)), warm,
                    pace=args.scrape_interval, stop_after=remaining)
        delay = start + args.rss_after - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        mem_warm = {t.name: memory(t.pid) for t in targets}
        cpu_warm = {t.name: cpu_seconds(t.pid) for t in targets}
        cadence: dict[str, list[float]] = {t.name: [] for t in targets}
        w0 = time.monotonic()
        cadence_rounds = interleaved(targets, max(1, round(args.duration / args.scrape_interval)), cadence,
                                     pace=args.scrape_interval)
        delay = w0 + args.duration - time.monotonic()  # the window ends a whole interval after the last scrape
        if delay > 0:
            time.sleep(delay)
        cadence_wall = time.monotonic() - w0
        cpu_cadence = {t.name: cpu_seconds(t.pid) - cpu_warm[t.name] for t in targets}
        mem_cadence = {t.name: memory(t.pid) for t in targets}

        # 2. series
        series = {}
        for target in targets:
            result = target.scrape(TEXT_HEADERS)
            series[target.name] = sample_lines(result[1] if result else b"")
        prom_series = {}
        for target in targets:  # and what Prometheus would get: decode the negotiated answer once
            result = target.scrape()
            if result:
                prom_series[target.name] = sample_lines(decoded(result[1], target.content_encoding))
        print(f"[2/3] series: {series}", flush=True)

        # 3. back-to-back, for information
        print(f"[3/3] back-to-back: {args.scrapes} interleaved scrapes each", flush=True)
        lat: dict[str, list[float]] = {t.name: [] for t in targets}
        cpu0 = {t.name: cpu_seconds(t.pid) for t in targets}
        w0 = time.monotonic()
        interleaved(targets, args.scrapes, lat)
        latency_wall = time.monotonic() - w0
        cpu_lat = {t.name: cpu_seconds(t.pid) - cpu0[t.name] for t in targets}
        mem_end = {t.name: memory(t.pid) for t in targets}
        cpu_end = {t.name: cpu_seconds(t.pid) for t in targets}
        lifetime = {t.name: time.monotonic() - t.started for t in targets}
        dead = [t.name for t in targets if not t.alive()]
    except (RuntimeError, TimeoutError, OSError) as err:
        print(f"benchmark could not run: {err}", file=sys.stderr)
        for target in targets:
            print(f"--- {target.name} log ---\n{target.peer.output()}", file=sys.stderr)
        failed = True
    finally:
        for target in targets:
            target._drop()
            target.peer.stop()
    if failed:
        return 1

    scrape_count = {name: len(v) for name, v in lat.items()}
    cpu_per_scrape = {name: cpu_lat[name] / max(1, scrape_count[name]) for name in cpu_lat}
    mib = 1024 * 1024
    every = f"every {args.scrape_interval:g}s"
    rows = [
        row(f"RSS after {args.rss_after:g}s (MiB)", mem_warm["egov"]["VmRSS"] / mib,
            mem_warm["node_exporter"]["VmRSS"] / mib, "{:.1f}", "rss"),
        row(f"CPU over {cadence_wall:.0f}s, scraped {every} (s)", cpu_cadence["egov"],
            cpu_cadence["node_exporter"], "{:.2f}", "cpu_cadence"),
        row("  per scrape interval (ms)", cpu_cadence["egov"] / cadence_rounds * 1e3,
            cpu_cadence["node_exporter"] / cadence_rounds * 1e3, "{:.1f}"),
        row(f"scrape {every} p50 (ms)", percentile(cadence["egov"], 50) * 1e3,
            percentile(cadence["node_exporter"], 50) * 1e3, "{:.3f}"),
        row(f"scrape {every} max (ms)", max(cadence["egov"]) * 1e3, max(cadence["node_exporter"]) * 1e3,
            "{:.3f}"),
        row("series (text format sample lines)", series["egov"], series["node_exporter"], "{:.0f}"),
    ]
    info = [
        row(f"RSS after {args.rss_after + args.duration:g}s (MiB)", mem_cadence["egov"]["VmRSS"] / mib,
            mem_cadence["node_exporter"]["VmRSS"] / mib, "{:.1f}"),
        row(f"  of which anon at {args.rss_after:g}s (MiB)", mem_warm["egov"]["RssAnon"] / mib,
            mem_warm["node_exporter"]["RssAnon"] / mib, "{:.1f}"),
        row(f"  of which file-backed at {args.rss_after:g}s (MiB)", mem_warm["egov"]["RssFile"] / mib,
            mem_warm["node_exporter"]["RssFile"] / mib, "{:.1f}"),
        row(f"PSS at {args.rss_after:g}s (MiB)", mem_warm["egov"].get("Pss", 0) / mib,
            mem_warm["node_exporter"].get("Pss", 0) / mib, "{:.1f}"),
        row("peak RSS, VmHWM, at end (MiB)", mem_end["egov"]["VmHWM"] / mib, mem_end["node_exporter"]["VmHWM"] / mib,
            "{:.1f}"),
        row("threads", mem_end["egov"]["Threads"], mem_end["node_exporter"]["Threads"], "{:.0f}"),
        row(f"CPU in first {args.rss_after:g}s (s)", cpu_warm["egov"], cpu_warm["node_exporter"], "{:.2f}"),
        row("back-to-back scrape p50 (ms)", percentile(lat["egov"], 50) * 1e3,
            percentile(lat["node_exporter"], 50) * 1e3, "{:.3f}"),
        row("back-to-back scrape p99 (ms)", percentile(lat["egov"], 99) * 1e3,
            percentile(lat["node_exporter"], 99) * 1e3, "{:.3f}"),
        row("back-to-back CPU per scrape (ms)", cpu_per_scrape["egov"] * 1e3, cpu_per_scrape["node_exporter"] * 1e3,
            "{:.3f}"),
        row("response as Prometheus gets it (bytes)", egov.last_size, ne.last_size, "{:.0f}"),
        row("CPU whole run (s)", cpu_end["egov"], cpu_end["node_exporter"], "{:.2f}"),
    ]
    print()
    print_table(rows)
    print()
    print("for information (no goals):")
    print_table(info)
    print()
    for target in targets:
        print(f"{target.name}: {len(cadence[target.name])} scrapes {every} in {cadence_rounds} rounds, "
              f"{scrape_count[target.name]} back-to-back scrapes in {latency_wall:.1f}s (both), "
              f"served {target.content_type!r} with Content-Encoding {target.content_encoding}; "
              f"{prom_series.get(target.name, '?')} samples in that format; "
              f"{target.reconnects} reconnects, {len(target.errors)} errors"
              + (f" (first: {target.errors[0]})" if target.errors else ""))
    for target in targets:
        stalled = sum(0.038 <= x <= 0.060 for x in lat[target.name])
        if stalled > len(lat[target.name]) // 2:
            print(f"WARNING: {stalled} of {target.name}'s {len(lat[target.name])} back-to-back scrapes took "
                  "38-60 ms: the signature of Nagle's algorithm on the server's socket meeting the client's "
                  "delayed ACK (headers and body sent in two writes without TCP_NODELAY)")
    if dead:
        print(f"WARNING: exited during the run: {', '.join(dead)}")
    print("note: node_exporter runs its collectors on every scrape; the agent on its own schedule, serving "
          "a cached snapshot. CPU figures come from /proc/PID/stat in clock ticks of "
          f"{1 / CLK_TCK * 1e3:g} ms.")
    print(f"logs: {logdir}")

    if args.json:
        report = {
            "facts": facts,
            "settings": {"rss_after": args.rss_after, "scrape_interval": args.scrape_interval,
                         "scrapes": args.scrapes, "duration": args.duration, "quick": args.quick,
                         "headers": PROMETHEUS_HEADERS},
            "results": rows, "info": info,
            "raw": {t.name: {"pid": t.pid, "argv": t.peer.argv, "memory_at_rss_after": mem_warm[t.name],
                             "memory_after_cadence": mem_cadence[t.name], "memory_at_end": mem_end[t.name],
                             "cpu_cadence_s": cpu_cadence[t.name], "cpu_back_to_back_s": cpu_lat[t.name],
                             "lifetime_s": lifetime[t.name], "back_to_back_scrapes": scrape_count[t.name],
                             "back_to_back_latency_s": lat[t.name], "cadence_latency_s": cadence[t.name],
                             "warmup_latency_s": warm[t.name], "series_text": series[t.name],
                             "series_negotiated": prom_series.get(t.name), "content_type": t.content_type,
                             "content_encoding": t.content_encoding, "reconnects": t.reconnects,
                             "errors": t.errors} for t in targets},
        }
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"json: {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.node_exporter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300,
                        help="seconds of CPU counted at the scrape interval, after --rss-after (300)")
    parser.add_argument("--rss-after", type=float, default=60, help="read RSS this many seconds after start (60)")
    parser.add_argument("--scrape-interval", type=float, default=15, help="Prometheus's scrape interval (15)")
    parser.add_argument("--scrapes", type=int, default=500, help="back-to-back scrapes of each, for information (500)")
    parser.add_argument("--json", metavar="OUT", help="also write every figure and raw timing here")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run, ~80 s: RSS at 15 s, CPU over 60 s, 100 back-to-back scrapes")
    args = parser.parse_args(argv)
    if args.quick:
        args.rss_after, args.duration, args.scrapes = 15, 60, 100
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
