"""A scrape as Prometheus makes it, on a 5,000-host province, against node_exporter's scrape.

    python -m benchmarks.scrape [--communes 500] [--scrapes 8] [--interval 15] [--back-to-back 200] [--json OUT]

The agent runs on the embedded default config (icmp every 60 s, see CONFIG) and the province of benchmarks/province.py
(its icmp, tcp and snmp probes then have thousands of targets on loopback addresses;
nothing answers SNMP there, so those targets time out), inside a worker process of this
script that adds one probe task to the agent's event loop: it sleeps 10 ms again and
again and records how late it woke (the loop's lag). node_exporter 1.5 runs beside it.
Both on free 127.0.0.1 ports, stopped by their PIDs.

1. Once the agent is ready (/-/ready: every collector has reported once), --scrapes
   rounds --interval seconds apart, each scraping both with Prometheus 2.42's headers
   (OpenMetrics, gzip). Per scrape: latency (request sent to last body byte), the process's
   CPU over that window (the sum of its threads' run time, /proc/PID/task/*/schedstat, ns),
   whether the decoded body differs from the previous one (the snapshot changed), and for
   the agent the largest loop lag seen during the scrape.
2. --back-to-back scrapes of the agent in a row (information: the snapshot rarely changes
   between two): latency p50 / p99.
3. The loop lag over the whole run, outside scrapes, as the reference.

The agent's CPU over a scrape window includes whatever its collectors did meanwhile, so
it is also split by thread: the HTTP handler thread that served the scrape (one keep-alive
connection, one thread) and the event loop's (the main thread); the table also shows the
agent's CPU over windows of the same length without a scrape.
A benchmark, not a test: asserts nothing; exit 1 only if a daemon could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import arguments, finish
from benchmarks.node_exporter import NODE_EXPORTER, PROMETHEUS_HEADERS, Target, percentile
from benchmarks.province import write_province
from tests.peers import Peer, free_port, http_get

GOALS = {"cpu": 0.050}  # agent CPU seconds per scrape at Prometheus's cadence
LAG_PERIOD = 0.010
# The embedded default, but 15,000 echoes (5,000 targets x 3) at the default pace of 1 ms need
# more than its 25 s icmp timeout: a cycle of 60 s, as benchmarks/probes.py's scale phase runs.
CONFIG = "collectors:\n  icmp: {interval: 60s, timeout: 55s}\n"


def thread_seconds(pid: int) -> dict[int, float]:
    """CPU time of each thread of `pid` so far (schedstat: nanoseconds on the CPU)."""
    found = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                found[int(task)] = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError):  # the thread ended meanwhile
            pass
    return found


def run_seconds(pid: int) -> float:
    return sum(thread_seconds(pid).values())


# ---------------------------------------------------------------- the agent, with a loop-lag probe

def worker(args) -> int:
    """Run the agent as `egov-agent run` does, plus the lag probe; write the lags on exit."""
    from agent import logs
    from agent.daemon import Agent, load

    loaded = load(args.config, args.inventory)
    logs.setup("warning", loaded.config.agent.log_format)
    lags: list[tuple[float, float]] = []  # (monotonic time woken, seconds late)

    async def probe(until: asyncio.Task) -> None:
        while not until.done():
            asked = time.monotonic()
            await asyncio.sleep(LAG_PERIOD)
            woke = time.monotonic()
            lags.append((woke, woke - asked - LAG_PERIOD))

    async def main() -> None:
        agent = asyncio.create_task(Agent(args.config, args.inventory, args.listen).run(loaded))
        await asyncio.gather(agent, probe(agent))

    asyncio.run(main())
    Path(args.lags).write_text(json.dumps(lags))
    return 0


def lag_between(lags: list, start: float, end: float) -> float:
    return max((lag for woke, lag in lags if start <= woke <= end + LAG_PERIOD), default=0.0)


# ---------------------------------------------------------------- the run

def wait_ready(url: str, peer: Peer, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if peer.process.poll() is not None:
            raise RuntimeError(f"the agent exited: {peer.output()}")
        try:
            if http_get(url + "/-/ready", timeout=10)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the agent was not ready after {timeout:g} s")


def scrape_measured(target: Target) -> dict | None:
    before, start = thread_seconds(target.pid), time.monotonic()
    result = target.scrape()
    end, after = time.monotonic(), thread_seconds(target.pid)
    if result is None:
        return None
    latency, body = result
    threads = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    return {"start": start, "end": end, "latency": latency, "cpu": sum(threads.values()), "threads": threads,
            "decoded": gzip.decompress(body) if target.content_encoding == "gzip" else body, "bytes": len(body)}


def split_threads(pid: int, rounds: list[dict]) -> None:
    """Each scrape's CPU in the thread that served it and in the event loop's (the main thread).
    One keep-alive connection is one handler thread: the other thread busy in every scrape."""
    busy: dict[int, float] = {}
    for measured in rounds:
        for tid, seconds in measured["threads"].items():
            if tid != pid:
                busy[tid] = busy.get(tid, 0.0) + (seconds > 0) + seconds
    handler = max(busy, key=busy.get, default=None)
    for measured in rounds:
        threads = measured.pop("threads")
        measured["cpu_handler"], measured["cpu_loop"] = threads.get(handler, 0.0), threads.get(pid, 0.0)


def run(args, tmp: Path) -> dict:
    inventory = write_province(tmp / "province", args.communes)
    lags_file, config = tmp / "lags.json", tmp / "agent.yml"
    config.write_text(CONFIG)
    agent_port, ne_port = free_port(), free_port()
    started = time.monotonic()
    agent = Peer([sys.executable, "-m", "benchmarks.scrape", "--worker", "--inventory", str(inventory), "--config", str(config),
                  "--listen", f"127.0.0.1:{agent_port}", "--lags", str(lags_file)], tmp / "agent.log",
                 cwd=str(Path(__file__).resolve().parent.parent))
    node_exporter = Peer([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ne_port}"], tmp / "ne.log")
    targets = {"egov": Target("egov-agent", agent, agent_port, started),
               "ne": Target("node_exporter", node_exporter, ne_port, started)}
    out: dict = {"rounds": {"egov": [], "ne": []}, "quiet_cpu": []}
    try:
        out["ready_after"] = wait_ready(f"http://127.0.0.1:{agent_port}", agent, args.ready_timeout)
        node_exporter.wait_http(f"http://127.0.0.1:{ne_port}/metrics")
        previous: dict[str, bytes] = {}
        for i in range(args.scrapes):
            round_start = time.monotonic()
            for key in (("egov", "ne") if i % 2 == 0 else ("ne", "egov")):
                measured = scrape_measured(targets[key])
                if measured is None:
                    continue
                decoded = measured.pop("decoded")
                measured["changed"] = previous.get(key) is not None and decoded != previous[key]
                measured["series"] = sum(1 for line in decoded.splitlines() if line and not line.startswith(b"#"))
                measured["decoded_bytes"] = len(decoded)
                previous[key] = decoded
                if key == "egov":
                    out["failed"] = sorted(line.split(b'"')[1].decode() for line in decoded.splitlines()
                                           if line.startswith(b"egov_collector_success{") and line.endswith(b" 0.0"))
                out["rounds"][key].append(measured)
            # the same window without a scrape, for the agent's background CPU
            window = max(m["end"] - m["start"] for m in out["rounds"]["egov"][-1:]) if out["rounds"]["egov"] else 0.1
            cpu = run_seconds(agent.pid)
            time.sleep(window)
            out["quiet_cpu"].append((run_seconds(agent.pid) - cpu, window))
            if i < args.scrapes - 1:
                time.sleep(max(0.0, round_start + args.interval - time.monotonic()))
        out["back_to_back"] = [r[0] for r in (targets["egov"].scrape() for _ in range(args.back_to_back)) if r]
    finally:
        agent.stop()
        node_exporter.stop()
    split_threads(agent.pid, out["rounds"]["egov"])
    for measured in out["rounds"]["ne"]:
        measured.pop("threads")
    lags = json.loads(lags_file.read_text()) if lags_file.exists() else []
    windows = [(m["start"], m["end"]) for m in out["rounds"]["egov"]]
    for measured in out["rounds"]["egov"]:
        measured["loop_lag"] = lag_between(lags, measured["start"], measured["end"])
    outside = [lag for woke, lag in lags if woke > started + out.get("ready_after", 0)
               and not any(s <= woke <= e + LAG_PERIOD for s, e in windows)]
    out["lag_outside"] = {"p50": percentile(outside, 50), "p99": percentile(outside, 99), "max": max(outside)} \
        if outside else {}
    return out


def report(out: dict) -> None:
    egov, ne = out["rounds"]["egov"], out["rounds"]["ne"]
    print(f"agent ready after {out['ready_after']:.1f} s; {len(egov)} scrapes of each, "
          f"{sum(m['changed'] for m in egov)} of the agent's {len(egov) - 1} after the first with a changed body")
    print(f"collectors failed at the last scrape: {', '.join(out.get('failed', [])) or 'none'}")
    print(f"{'per scrape (Prometheus cadence)':<40} {'egov-agent':>14} {'node_exporter':>14} {'ratio':>7}  goal")

    def line(label, key, fmt, scale=1.0, goal=""):
        a, b = statistics.median(m[key] for m in egov) * scale, statistics.median(m[key] for m in ne) * scale
        print(f"{label:<40} {fmt.format(a):>14} {fmt.format(b):>14} {a / b if b else float('nan'):>6.2f}x  {goal}")

    line("series", "series", "{:.0f}")
    line("body, gzipped (KiB)", "bytes", "{:.0f}", 1 / 1024)
    line("body, decoded (KiB)", "decoded_bytes", "{:.0f}", 1 / 1024)
    line("latency p50 (ms)", "latency", "{:.1f}", 1000)
    line("CPU over the scrape, median (ms)", "cpu", "{:.1f}", 1000, f"egov <= {GOALS['cpu'] * 1000:.0f} ms")
    print(f"{'CPU over the scrape, max (ms)':<40} {max(m['cpu'] for m in egov) * 1000:>14.1f} "
          f"{max(m['cpu'] for m in ne) * 1000:>14.1f}")
    for label, key in (("agent CPU over each scrape (ms)", "cpu"), ("  of it in the HTTP thread", "cpu_handler"),
                       ("  of it in the event loop's thread", "cpu_loop")):
        print(f"{label:<40} {', '.join(format(m[key] * 1000, '.0f') for m in egov)}")
    quiet = [cpu for cpu, _ in out["quiet_cpu"]]
    print(f"{'agent CPU, same window without scrape':<40} {statistics.median(quiet) * 1000:>14.1f}  (ms, median)")
    print(f"{'loop lag during a scrape, max (ms)':<40} {max(m['loop_lag'] for m in egov) * 1000:>14.1f}")
    lag = out["lag_outside"]
    if lag:
        print(f"{'loop lag outside scrapes p50/p99/max':<40} "
              f"{lag['p50'] * 1000:.1f} / {lag['p99'] * 1000:.1f} / {lag['max'] * 1000:.1f} ms")
    b2b = out["back_to_back"]
    if b2b:
        print(f"{'back-to-back, agent p50 / p99 (info)':<40} "
              f"{percentile(b2b, 50) * 1000:.1f} / {percentile(b2b, 99) * 1000:.1f} ms over {len(b2b)} scrapes")


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, communes=500, scrapes=8, interval=15.0, back_to_back=200, ready_timeout=180.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--lags", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory(prefix="egov-bench-scrape-") as tmp:
        try:
            out = run(args, Path(tmp))
        except (RuntimeError, TimeoutError) as err:
            print(f"benchmark failed: {err}", file=sys.stderr)
            return 1
    return finish(report, out, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
