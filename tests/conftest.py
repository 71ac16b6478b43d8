"""Peers are started once per test session and stopped by PID at its end."""

from __future__ import annotations

import pytest

from tests.peers import Peer, free_port, require


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory):
    """Debian's prometheus-node-exporter on a free loopback port; yields its /metrics URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("node_exporter") / "node_exporter.log"
    peer = Peer([require("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}"], log)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        peer.wait_http(url)
        yield url
    finally:
        peer.stop()
