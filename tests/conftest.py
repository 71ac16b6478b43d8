"""Peers are started once per test session and stopped by PID at its end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROMETHEUS_DIR
from tests.peers import Peer, free_port, query, require, start_prometheus

# The real peers of the probe and network-gear tests (tests/peer_*.py) are session fixtures,
# each started once for the whole run by whichever test needs it first and stopped by PID at
# its end. A test module names the peer plugins it uses in its own `pytest_plugins`, so a run
# of modules that use none (pytest tests/test_config.py) loads none of them.
# A module may import a peer's constants before pytest loads it as a plugin: its asserts are
# rewritten all the same.
pytest.register_assert_rewrite(*(f"tests.{peer.stem}" for peer in Path(__file__).parent.glob("peer_*.py")))


@pytest.fixture
def prometheus_dir(tmp_path):
    """The sample config and rules copied, with the targets file `egov-agent targets` writes."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, copy, ignore=shutil.ignore_patterns("tests"))
    return copy


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


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A directory with agent.crt and agent.key: a self-signed certificate for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(directory / "agent.key"), "-out", str(directory / "agent.crt")],
                   check=True, capture_output=True)
    return directory


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


class Prometheus:
    """A real Prometheus scraping whatever `scrape(...)` lists, through file_sd."""

    def __init__(self, directory, peer: Peer):
        self.directory, self.peer, self.url = directory, peer, peer.url

    def scrape(self, targets: list[dict]) -> None:
        """Replace the file_sd target groups ([{"targets": [...], "labels": {...}}]); written atomically."""
        staging = self.directory / "targets.json.new"
        staging.write_text(json.dumps(targets))
        staging.rename(self.directory / "targets.json")

    def query(self, expression: str) -> list[dict]:
        return query(self.url, expression)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("prometheus")
    (directory / "targets.json").write_text("[]")
    (directory / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: egov\n"
        "    file_sd_configs: [{files: ['" + str(directory / "targets.json") + "'], refresh_interval: 1s}]\n")
    peer = start_prometheus(directory / "prometheus.yml", directory)
    try:
        yield Prometheus(directory, peer)
    finally:
        peer.stop()
