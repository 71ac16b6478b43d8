"""The h323 probe against real TCP listeners on loopback: one that accepts, one judged slow
by its threshold, one port refused."""

from __future__ import annotations

import asyncio
import socket

from agent.checks import State
from agent.context import Context
from agent.inventory import load_inventory
from agent.probe import ProbeSettings
from collectors.h323 import H323Probe
from tests.peers import free_port


def test_h323_probe(tmp_path):
    refused = free_port("127.50.60.8")
    with socket.create_server(("127.50.60.1", 0)) as first, socket.create_server(("127.50.60.10", 0)) as second:
        open_port, slow_port = first.getsockname()[1], second.getsockname()[1]
        targets = {"open": ("127.50.60.1", f"port: {open_port}"),
                   "slow": ("127.50.60.10", f"port: {slow_port}, time_warning: 0s"),
                   "closed": ("127.50.60.8", f"port: {refused}")}
        (tmp_path / "hosts.yml").write_text("province:\n  vars: {egov_site_type: province}\n  hosts:\n" + "".join(
            f"    {name}: {{ansible_host: {address}, egov_role: vc_endpoint, egov_checks: {{h323: {{{check}}}}}}}\n"
            for name, (address, check) in targets.items()))
        probe = H323Probe(ProbeSettings(probe_timeout=2, timeout=5, interval=10), Context(load_inventory(tmp_path)))
        families = {f.name: f for f in asyncio.run(probe.collect())}
    checks = {c.target: c for c in probe.checks({})}
    assert {s.labels["target"]: s.value for s in families["egov_h323_up"].samples} == {
        "open": 1, "slow": 1, "closed": 0}
    assert {s.labels["target"] for s in families["egov_h323_connect_seconds"].samples} == {"open", "slow"}
    assert checks["open"].state == State.OK and checks["open"].summary.startswith(f"port {open_port} accepted in ")
    assert checks["slow"].state == State.WARNING
    assert (checks["closed"].state, checks["closed"].summary) == (State.CRITICAL, "connect: connection refused")
