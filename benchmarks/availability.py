"""`report availability` for a province of N communes over a whole month, from a real Prometheus.

    python -m benchmarks.availability [--communes 300] [--data DIR] [--runs 3]

The province: N communes in PoPs of 30 (each commune's uplink its PoP), a router per commune
and per PoP, each pinged (egov_check_status{check="icmp"}). November 2026 is backfilled with
promtool (tests/peer_history.py, one sample a minute): every commune down once (15 to 105
minutes), every PoP down an hour (its communes cut off, egov_site_cut_off), a tenth of the
communes in maintenance two hours, the agent away 30 minutes. The blocks are kept in
`--data` (default /tmp/egov-availability-bench-N) and reused by the next run. Then Prometheus
(Debian's 2.42, on 127.0.0.1) serves them, and the report is built `--runs` times: the
seconds of building it (the queries and the figures) and of writing HTML, CSV and JSON.
A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

PER_POP = 30
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MONTH = "2026-11"
START, END = datetime(2026, 11, 1, tzinfo=ZONE).timestamp(), datetime(2026, 12, 1, tzinfo=ZONE).timestamp()
GAP = (START + 19 * 86400 + 3 * 3600, START + 19 * 86400 + 3 * 3600 + 1800)


def write_inventory(path: Path, communes: int) -> Path:
    pops = {}
    for p in range((communes + PER_POP - 1) // PER_POP):
        sites = {f"xa_{c:03d}": {"vars": {"egov_site_type": "commune", "egov_site_name": f"Xã {c:03d}",
                                          "egov_uplink": f"pop_{p:02d}"},
                                 "hosts": {f"x{c:03d}-rtr": {"ansible_host": f"127.{40 + c // 250}.{c % 250}.1"}}}
                 for c in range(p * PER_POP, min((p + 1) * PER_POP, communes))}
        pops[f"pop_{p:02d}"] = {"vars": {"egov_site_type": "pop"},
                                "hosts": {f"pop{p:02d}-rtr": {"ansible_host": f"127.39.{p}.1"}}}
        pops[f"communes_{p:02d}"] = {"children": sites}
    tree = {"all": {"vars": {"egov_availability_targets": {"router": 99.5}, "egov_role": "router",
                             "egov_platform": "cisco_ios"},
                    "children": {"tinh": {"vars": {"egov_site_type": "province"}, "children": pops}}}}
    path.write_text(json.dumps(tree, ensure_ascii=False))  # JSON is YAML
    return path


def history(communes: int) -> list:
    """The series: per router a dict of minute -> state where it is not OK; cut-off runs per commune."""
    series = []

    def state(special: dict[int, float]):
        return lambda t: None if GAP[0] <= t < GAP[1] else special.get(int(t), 0)

    def minutes(start: float, length: int, value: float) -> dict[int, float]:
        return {int(start) + 60 * m: value for m in range(length)}

    for p in range((communes + PER_POP - 1) // PER_POP):
        pop_down = minutes(START + p * 86400 + 14 * 3600, 60, 4)  # day p + 1, 14:00 to 15:00
        series.append(("egov_check_status", f'check="icmp",target="pop{p:02d}-rtr",site="pop_{p:02d}"',
                       state(pop_down)))
        for c in range(p * PER_POP, min((p + 1) * PER_POP, communes)):
            special = {**pop_down, **minutes(START + (c % 30) * 86400 + 10 * 3600, (c % 7 + 1) * 15, 4)}
            if c % 10 == 0:
                special.update(minutes(START + 13 * 86400 + 22 * 3600, 120, 5))  # Saturday the 14th, 22:00
            series.append(("egov_check_status", f'check="icmp",target="x{c:03d}-rtr",site="xa_{c:03d}"',
                           state(special)))
            series.append(("egov_site_cut_off", f'site="xa_{c:03d}",cause="pop_{p:02d}"',
                           lambda t, cut=pop_down: 1 if int(t) in cut else None))
    return series


def _compacted(data: Path, quiet: float = 15.0, longest: float = 300.0) -> float:
    """Seconds until Prometheus has stopped merging the backfilled blocks (none made or removed
    for `quiet` seconds): the runs then measure the queries, not the compaction beside them."""
    started = time.monotonic()
    blocks, since = None, started
    while time.monotonic() - since < quiet and time.monotonic() - started < longest:
        now = sorted(p.name for p in data.iterdir() if p.is_dir() and len(p.name) == 26)
        if now != blocks:
            blocks, since = now, time.monotonic()
        time.sleep(1)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--communes", type=int, default=300)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from agent.inventory import load_inventory
    from agent.report import availability
    from agent.report.availability_page import render
    from tests.peer_history import BLOCK, backfill
    from tests.peers import start_prometheus

    directory = args.data or Path(f"/tmp/egov-availability-bench-{args.communes}")
    directory.mkdir(parents=True, exist_ok=True)
    inventory = load_inventory(write_inventory(directory / "inventory.yml", args.communes))
    backfilled = None
    if not (directory / "data").exists():
        started = time.perf_counter()
        backfill(directory / "data", history(args.communes), START, END, file_span=BLOCK)
        backfilled = time.perf_counter() - started
    (directory / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    peer = start_prometheus(directory / "prometheus.yml", directory, "--storage.tsdb.retention.time=3650d")
    try:
        settled = _compacted(directory / "data")
        builds, pages = [], {}
        for _ in range(args.runs):
            started = time.perf_counter()
            report = availability.build(inventory, availability.Prometheus(peer.url), MONTH,
                                        now=END + 86400)
            builds.append(time.perf_counter() - started)
        for name, write in (("html", render), ("csv", availability.to_csv), ("json", availability.to_json)):
            started = time.perf_counter()
            text = write(report)
            pages[name] = (time.perf_counter() - started, len(text.encode()))
    finally:
        peer.stop()
    series = len(report.targets)
    print(f"report availability, {args.communes} communes ({series} targets, {len(report.sites)} sites), {MONTH}, "
          f"Prometheus 2.42 on 127.0.0.1")
    if backfilled is not None:
        print(f"  backfill (promtool, once; kept in {directory}): {backfilled:.0f} s")
    print(f"  Prometheus compacting the blocks before the runs: {settled:.0f} s")
    print(f"  build (queries and figures), {args.runs} runs: median {statistics.median(builds):.2f} s, "
          f"min {min(builds):.2f} s, max {max(builds):.2f} s")
    for name, (seconds, size) in pages.items():
        print(f"  write {name}: {seconds:.3f} s, {size / 1024:.0f} KiB")
    down = sum(t["down"] for t in report.targets)
    cut = sum(t["cut_off"] for t in report.targets)
    print(f"  figures: {down} minutes down, {cut} cut off, warnings: {len(report.warnings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
