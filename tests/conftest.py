"""Peers are started once per test session and stopped by PID at its end."""

from __future__ import annotations

import sys

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


@pytest.fixture
def start_agent(tmp_path):
    """Start `egov-agent run` as a real process on a free port; every one is stopped after the test."""
    started = []

    def start(*args: str, wait: str | None = "/healthz", scheme: str = "http", env: dict | None = None):
        port = free_port()
        argv = [sys.executable, "-m", "agent", "run", "--listen", f"127.0.0.1:{port}", *args]
        peer = Peer(argv, tmp_path / f"agent-{port}.log", env=env)
        peer.url = f"{scheme}://127.0.0.1:{port}"
        started.append(peer)
        if wait:
            peer.wait_http(peer.url + wait)
        return peer

    yield start
    for peer in started:
        peer.stop()
