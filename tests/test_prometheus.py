"""The agent as Prometheus meets it: a real server scrapes it; promtool lints the exposition."""

from __future__ import annotations

import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from tests.peers import http_get, require
from tests.test_daemon import collected


def test_promtool_accepts_the_exposition(start_agent, tmp_path):
    agent = start_agent()
    collected(agent, "loadavg")
    time.sleep(1.5)  # let every default collector finish its first run
    _, _, body = http_get(agent.url + "/metrics")
    (tmp_path / "scrape.prom").write_bytes(body)  # kept as an artifact of the run
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=body, capture_output=True)
    assert lint.returncode == 0, lint.stderr.decode() + lint.stdout.decode()
    assert lint.stdout.decode().strip() == "" and lint.stderr.decode().strip() == ""


def test_real_prometheus_scrapes_the_agent(start_agent, prometheus):
    agent = start_agent()
    address = agent.url.removeprefix("http://")
    prometheus.scrape([{"targets": [address], "labels": {"site": "dc-main"}}])
    deadline = time.monotonic() + 30
    result = []
    while time.monotonic() < deadline and not result:
        result = prometheus.query(f'process_start_time_seconds{{instance="{address}",site="dc-main"}}')
        time.sleep(0.2)
    assert result, prometheus.query(f'up{{instance="{address}"}}')
    [sample] = result
    _, _, body = http_get(agent.url + "/metrics")
    [ours] = [s.value for f in text_string_to_metric_families(body.decode()) for s in f.samples
              if s.name == "process_start_time_seconds"]
    assert float(sample["value"][1]) == ours
    [up] = prometheus.query(f'up{{instance="{address}"}}')
    assert up["value"][1] == "1"
    prometheus.scrape([])
