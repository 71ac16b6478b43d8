"""Loading a province: `egov-agent inventory validate` and `egov-agent run` to its first 200.

    python -m benchmarks.inventory_load [--communes 500] [--runs 3] [--json OUT]

On the synthetic province of benchmarks/province.py (500 communes = 5,000 hosts):
1. validate: `egov-agent inventory validate -i DIR` run --runs times; wall and CPU (the
   child's rusage) of each, the median shown; then one load in this process under cProfile,
   its top functions by own time.
2. first 200: `egov-agent run -i DIR` started --runs times; seconds from the start to the
   first 200 on /metrics (Prometheus's first good scrape), and to /-/ready's first 200
   (every collector has reported once) as information. Each agent is stopped by its PID.

No anchor runs this: the goals (≤ 1 s, ≤ 2 s) are the issue's. Asserts nothing.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import arguments, write_json
from benchmarks.node_exporter import agent_argv
from benchmarks.province import write_province
from tests.peers import Peer, free_port, http_get

GOALS = {"validate": 1.0, "first_200": 2.0}


def validate_once(inventory: Path) -> dict:
    argv = agent_argv("")[:-3] + ["inventory", "validate", "-i", str(inventory)]  # the CLI without `run`
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    output = child.stdout.read().decode().strip()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "output": output}


def profile_top(inventory: Path, count: int = 8) -> str:
    from agent.inventory import load_inventory

    profiler = cProfile.Profile()
    profiler.runcall(load_inventory, inventory)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(count)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


def first_200(inventory: Path, log: Path, timeout: float = 120.0) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    agent = Peer(agent_argv(f"127.0.0.1:{port}") + ["-i", str(inventory)], log)
    found: dict[str, float] = {}
    try:
        while len(found) < 2 and time.monotonic() - start < timeout:
            if agent.process.poll() is not None:
                raise RuntimeError(f"the agent exited: {agent.output()}")
            for path in ("/metrics", "/-/ready"):
                if path not in found:
                    try:
                        if http_get(url + path, timeout=10)[0] == 200:
                            found[path] = time.monotonic() - start
                    except OSError:
                        pass
            time.sleep(0.01)
    finally:
        agent.stop()
    return {"metrics": found.get("/metrics"), "ready": found.get("/-/ready")}


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, communes=500, runs=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="egov-bench-inventory-") as tmp:
        inventory = write_province(Path(tmp) / "province", args.communes)
        validates = [validate_once(inventory) for _ in range(args.runs)]
        top = profile_top(inventory)
        starts = [first_200(inventory, Path(tmp) / f"agent-{i}.log") for i in range(args.runs)]
    wall = statistics.median(v["wall"] for v in validates)
    cpu = statistics.median(v["cpu"] for v in validates)
    metrics = statistics.median(s["metrics"] for s in starts)
    ready = [s["ready"] for s in starts]
    print(f"province: {args.communes} communes, {validates[0]['output']}")
    def runs(values):
        return ", ".join("-" if v is None else f"{v:.2f}" for v in values)

    print(f"{'what':<36} {'median':>8}  {'runs':<18} goal")
    print(f"{'inventory validate: wall':<36} {wall:>7.2f}s  {runs(v['wall'] for v in validates):<18} "
          f"<= {GOALS['validate']:g} s")
    print(f"{'inventory validate: CPU':<36} {cpu:>7.2f}s  {runs(v['cpu'] for v in validates):<18}")
    print(f"{'run: first 200 on /metrics':<36} {metrics:>7.2f}s  {runs(s['metrics'] for s in starts):<18} "
          f"<= {GOALS['first_200']:g} s")
    print(f"{'run: first 200 on /-/ready (info)':<36} {'':>8}  {runs(ready):<18}")
    print("\nprofile of one load (top functions by own time):\n" + top)
    write_json(args.json, {"communes": args.communes, "validate": validates, "first_200": starts,
                           "python": sys.version})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
