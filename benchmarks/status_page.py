"""/metrics latency while clients load a large status page, in one run.

    python -m benchmarks.status_page [--checks N] [--scrapes N] [--loaders N]

The agent's HTTP server (agent.server.AgentHTTPServer) runs in a child process of its own
on 127.0.0.1, serving a snapshot of N checks (a third CRITICAL, so the page lists them
twice); its status page is either cached per snapshot change (as the agent serves it) or,
for comparison, rendered per request (as before issue 12). For each mode, `--scrapes`
back-to-back `GET /metrics` on one keep-alive connection, from a 127.0.0.2 source address,
first with the server otherwise idle (the anchor), then while `--loaders` processes load
`/` in a loop. Figures: p50 and p90 of the scrapes and their ratio to the anchor of the
same run. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import statistics
import time

SCRAPER = "127.0.0.2"


def _serve(port_out, checks: int, cached: bool) -> None:
    from agent import status_page
    from agent.server import AgentHTTPServer
    from agent.webconfig import WebConfig
    from tests.test_server import snapshot_of

    snapshot = snapshot_of(checks)
    server = AgentHTTPServer(("127.0.0.1", 0), snapshot, WebConfig(), lambda: (True, "reloaded"))
    if not cached:
        class PerRequest:
            def page(self) -> bytes:
                return status_page.render(snapshot)
        server.status_page = PerRequest()
    port_out.put(server.server_address[1])
    server.serve_forever()


def _load(port: int, stop) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        connection.request("GET", "/")
        connection.getresponse().read()


def _scrapes(port: int, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(SCRAPER, 0))
    took = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", "/metrics")
        connection.getresponse().read()
        took.append(time.perf_counter() - started)
    connection.close()
    return took


def _run(checks: int, cached: bool, scrapes: int, loaders: int) -> tuple[list[float], list[float], int]:
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports, checks, cached), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        page.request("GET", "/")
        size = len(page.getresponse().read())
        idle = _scrapes(port, scrapes)
        stop = multiprocessing.Event()
        load = [multiprocessing.Process(target=_load, args=(port, stop), daemon=True) for _ in range(loaders)]
        for process in load:
            process.start()
        time.sleep(1.0)  # the loaders under way
        loaded = _scrapes(port, scrapes)
        stop.set()
        for process in load:
            process.join(timeout=60)
        return idle, loaded, size
    finally:
        server.terminate()  # our own child, by its PID
        server.join(timeout=10)


def _ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--loaders", type=int, default=4)
    args = parser.parse_args()
    print(f"| status page | page size | /metrics p50 idle (anchor) | p50 with {args.loaders} page loaders | ratio "
          f"| p90 idle | p90 loaded | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for cached in (False, True):
        idle, loaded, size = _run(args.checks, cached, args.scrapes, args.loaders)
        p50, p50l, p90, p90l = _ms(idle, 50), _ms(loaded, 50), _ms(idle, 90), _ms(loaded, 90)
        mode = "cached per snapshot change" if cached else "rendered per request"
        print(f"| {mode} | {size / 1e6:.1f} MB | {p50:.2f} ms | {p50l:.2f} ms | {p50l / p50:.1f}× "
              f"| {p90:.2f} ms | {p90l:.2f} ms | {p90l / p90:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
