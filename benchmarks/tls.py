"""egov-agent's tls probe (an inspection) against blackbox_exporter 0.23's tcp probe with TLS
(one handshake, the nearest the anchor has), on the same real servers, in one run.

    python -m benchmarks.tls [--probes N]

The servers are tests/peer_tls.py's `openssl s_server`s, `strong` (TLS 1.2 and 1.3, AEAD
suites) and `weak` (TLS 1.0 to 1.3, a NULL, an anonymous and a CBC suite), each on a
127.46.0.x address of its own. Per server, N probes one after the other: egov-agent's
`TlsProbe.probe()` in this process (wall time each, this process's CPU over all of them)
and blackbox's `GET /probe?target=ADDR:PORT&module=tls_connect` over one keep-alive
connection (its probe_duration_seconds each, its process's CPU over all of them). The
inspection opens 1 + 3 + (weak suites accepted + 1) connections where blackbox opens one,
so a ratio near that count is the cost of the inspection itself, not of its code.
A benchmark, not a test: it asserts nothing and prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import re
import statistics
import tempfile
import time
import types
from pathlib import Path

from benchmarks.node_exporter import cpu_seconds
from collectors.tls import TlsInspectCheck, TlsProbe, weak_suites
from tests.peer_tls import SERVERS, prepare_pki, start_s_server
from tests.peers import Peer, free_port, require

ADDRESSES = {"strong": "127.46.0.1", "weak": "127.46.0.2"}
BLACKBOX_CONFIG = """\
modules:
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp: {tls: true, tls_config: {insecure_skip_verify: true}}
"""


def egov(where: tuple[str, int], ca_file: str, probes: int) -> tuple[list[float], float, int]:
    """Wall seconds of each probe, CPU seconds per probe, connections per probe."""
    probe = TlsProbe()
    target = types.SimpleNamespace(name="bench", site="bench", address=where[0])
    check = TlsInspectCheck(port=where[1], server_name="portal.example", ca_file=ca_file)

    async def run() -> tuple[list[float], float, int]:
        await probe.probe(target, check)  # warm-up: the CA file read, first sockets
        walls, cpu = [], time.process_time()
        for _ in range(probes):
            started = time.perf_counter()
            await probe.probe(target, check)
            walls.append(time.perf_counter() - started)
        accepted = len(await weak_suites(where, "portal.example"))
        return walls, (time.process_time() - cpu) / probes, 1 + 3 + accepted + 1

    return asyncio.run(run())


def blackbox(port: int, pid: int, where: tuple[str, int], probes: int) -> tuple[list[float], float]:
    """probe_duration_seconds of each probe, blackbox's CPU seconds per probe."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    walls, cpu = [], cpu_seconds(pid)
    for _ in range(probes):
        conn.request("GET", f"/probe?target={where[0]}:{where[1]}&module=tls_connect")
        body = conn.getresponse().read().decode()
        assert "probe_success 1" in body, body  # a failed probe would measure nothing
        walls.append(float(re.search(r"^probe_duration_seconds (\S+)", body, re.M)[1]))
    return walls, (cpu_seconds(pid) - cpu) / probes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=200, help="probes per server and prober (200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        pki = prepare_pki(directory)
        peers: list[Peer] = []
        try:
            where = {}
            for name, address in ADDRESSES.items():
                peer, port = start_s_server(name, address, SERVERS[name], directory)
                peers.append(peer)
                where[name] = (address, port)
            (directory / "blackbox.yml").write_text(BLACKBOX_CONFIG)
            bb_port = free_port()
            peers.append(Peer([require("prometheus-blackbox-exporter"), f"--config.file={directory / 'blackbox.yml'}",
                               f"--web.listen-address=127.0.0.1:{bb_port}"], directory / "blackbox.log"))
            peers[-1].wait_http(f"http://127.0.0.1:{bb_port}/metrics")
            print(f"{args.probes} probes per server, one after the other (ms: median wall, CPU per probe)")
            print(f"{'server':8} {'conns':>5} {'egov wall':>10} {'bb wall':>8} {'ratio':>6} "
                  f"{'egov cpu':>9} {'bb cpu':>7} {'ratio':>6}")
            for name in ADDRESSES:
                walls, cpu, connections = egov(where[name], str(pki.ca_file), args.probes)
                bb_walls, bb_cpu = blackbox(bb_port, peers[-1].pid, where[name], args.probes)
                wall, bb_wall = statistics.median(walls) * 1000, statistics.median(bb_walls) * 1000
                print(f"{name:8} {connections:5d} {wall:10.2f} {bb_wall:8.2f} {wall / bb_wall:6.1f} "
                      f"{cpu * 1000:9.2f} {bb_cpu * 1000:7.2f} {cpu / bb_cpu:6.1f}")
        finally:
            for peer in peers:
                peer.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
