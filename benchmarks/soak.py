"""A long run of the agent as Prometheus uses it, with reloads: does anything grow?

A generated province of 1,000 hosts (100 communes of 10 hosts, every address on loopback
127.20.<commune>.<n>, each host with an icmp check) is served by `egov-agent run`; a
scraper sends /metrics requests with Prometheus 2.42's headers every --scrape-interval
seconds and POSTs /-/reload every --reload-interval seconds, for --duration seconds.
After --warmup seconds of scrapes only, every --sample-interval seconds it reads the agent's RSS, open fds and threads from
/proc/PID and its asyncio task count from its own metric egov_agent_asyncio_tasks.

The report gives each figure's first and last sample and its least-squares slope per
hour, over the run and over its second half (the first fills caches and malloc's arenas): a leak shows as a slope, a reload that leaves loops running as tasks or threads
that climb. There is no anchor to compare with: the reference is the run's own start.

    .venv/bin/python -m benchmarks.soak                    # an hour, a reload a minute
    .venv/bin/python -m benchmarks.soak --quick            # 2 minutes, a reload every 10 s
    .venv/bin/python -m benchmarks.soak --duration 600 --reload-interval 10
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import arguments, write_json
from benchmarks.node_exporter import PROMETHEUS_HEADERS, agent_argv, memory
from tests.peers import Peer, free_port, http_get

COMMUNES, HOSTS_PER_COMMUNE = 100, 10


def write_inventory(directory: Path) -> Path:
    """The province: a root site and COMMUNES commune sites of HOSTS_PER_COMMUNE hosts each."""
    communes = {}
    for c in range(1, COMMUNES + 1):
        hosts = {f"xa{c:03d}-host-{h:02d}": {"ansible_host": f"127.20.{c}.{h}"} for h in range(1, HOSTS_PER_COMMUNE + 1)}
        communes[f"xa_{c:03d}"] = {"vars": {"egov_site_type": "commune"}, "hosts": hosts}
    inventory = {"tinh_soak": {"vars": {"egov_site_type": "province", "egov_role": "dc_host",
                                        "egov_platform": "linux", "egov_checks": {"icmp": None}},
                               "children": communes}}
    path = directory / "inventory.yml"
    path.write_text(json.dumps(inventory))  # JSON is YAML
    return path


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def gauge(body: bytes, name: str) -> float | None:
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return 3600 * sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0


def main(argv: list[str] | None = None) -> int:
    # warmup: scrapes only, no samples, before the run
    parser = arguments(__doc__, duration=3600.0, scrape_interval=15.0, reload_interval=60.0, sample_interval=60.0,
                       warmup=60.0)
    parser.add_argument("--quick", action="store_true", help="2 minutes, a reload every 10 s, a sample every 15 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.reload_interval, args.sample_interval, args.warmup = 120, 10, 15, 20

    directory = Path(tempfile.mkdtemp(prefix="egov-soak-"))
    inventory = write_inventory(directory)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    agent = Peer(agent_argv(f"127.0.0.1:{port}") + ["-i", str(inventory)], directory / "agent.log")
    samples: list[dict] = []
    scrapes = scrape_failures = reloads = reload_failures = 0
    try:
        agent.wait_http(url + "/healthz", timeout=60)
        warmup_end = time.monotonic() + args.warmup  # the first runs of every collector fill caches
        while time.monotonic() < warmup_end:
            http_get(url + "/metrics", headers=PROMETHEUS_HEADERS, timeout=10)
            time.sleep(min(args.scrape_interval, max(0.0, warmup_end - time.monotonic())))
        started = time.monotonic()
        next_scrape = next_reload = next_sample = started
        while time.monotonic() - started < args.duration:
            now = time.monotonic()
            if now >= next_scrape:
                next_scrape += args.scrape_interval
                try:
                    scrapes += 1
                    if http_get(url + "/metrics", headers=PROMETHEUS_HEADERS, timeout=10)[0] != 200:
                        scrape_failures += 1
                except OSError:
                    scrape_failures += 1
            if now - started >= args.reload_interval and now >= next_reload:
                next_reload = now + args.reload_interval
                try:
                    reloads += 1
                    if http_get(url + "/-/reload", method="POST", timeout=120)[0] != 200:
                        reload_failures += 1
                except OSError:
                    reload_failures += 1
            if now >= next_sample:
                next_sample += args.sample_interval
                sample = {"t": now - started, **memory(agent.pid), "fds": open_fds(agent.pid),
                          # the text format, which prometheus_client's parser reads
                          "tasks": gauge(http_get(url + "/metrics", timeout=10)[2], "egov_agent_asyncio_tasks")}
                samples.append(sample)
                print(f"{sample['t']:7.0f}s  rss {sample['VmRSS'] / 2**20:6.1f} MiB  fds {sample['fds']:4d}  "
                      f"threads {sample['Threads']:3d}  tasks {sample.get('tasks')}", flush=True)
            time.sleep(max(0.0, min(next_scrape, next_sample, next_reload) - time.monotonic()))
    finally:
        agent.stop()

    rows = []
    for key, label, scale in (("VmRSS", "RSS (MiB)", 2**-20), ("fds", "open fds", 1),
                              ("Threads", "threads", 1), ("tasks", "asyncio tasks", 1)):
        points = [(s["t"], s[key] * scale) for s in samples if s.get(key) is not None]
        if points:  # the second half's slope: the first fills caches and malloc's arenas, a leak goes on
            rows.append({"figure": label, "first": points[0][1], "last": points[-1][1],
                         "slope_per_hour": slope_per_hour(points),
                         "second_half_slope_per_hour": slope_per_hour(points[len(points) // 2:])})
    print(f"\n{len(samples)} samples over {args.duration:g}s; {scrapes} scrapes ({scrape_failures} failed), "
          f"{reloads} reloads ({reload_failures} failed); {COMMUNES * HOSTS_PER_COMMUNE} hosts\n")
    print(f"| {'figure':14} | {'first':>8} | {'last':>8} | {'slope /h':>9} | {'2nd half /h':>11} |")
    print(f"|{'-' * 16}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 13}|")
    for r in rows:
        print(f"| {r['figure']:14} | {r['first']:8.1f} | {r['last']:8.1f} | {r['slope_per_hour']:+9.2f} "
              f"| {r['second_half_slope_per_hour']:+11.2f} |")
    write_json(args.json, {"settings": vars(args), "samples": samples, "summary": rows, "scrapes": scrapes,
                           "scrape_failures": scrape_failures, "reloads": reloads, "reload_failures": reload_failures})
    return 0 if samples else 1


if __name__ == "__main__":
    sys.exit(main())
