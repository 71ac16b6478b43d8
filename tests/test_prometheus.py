"""The agent as Prometheus meets it: a real server scrapes it; promtool lints the exposition."""

from __future__ import annotations

import subprocess
import time
import zlib

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import MEMINFO_CAMELCASE, all_collected
from tests.peers import http_get, require

PROMETHEUS_HEADERS = {"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "Accept-Encoding": "gzip"}


def test_promtool_accepts_the_exposition(start_agent, tmp_path):
    agent = start_agent()
    body = all_collected(agent)
    (tmp_path / "scrape.prom").write_bytes(body)  # kept as an artifact of the run
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=body, capture_output=True)
    problems = (lint.stdout + lint.stderr).decode().splitlines()
    assert [p for p in problems if not MEMINFO_CAMELCASE.match(p)] == []
    assert len(body.splitlines()) > 100


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


def gzip_members(body: bytes) -> list[bytes]:
    """Each member of a gzip stream, decompressed."""
    members = []
    while body:
        member = zlib.decompressobj(wbits=31)
        members.append(member.decompress(body))
        body = member.unused_data
    return members


def test_real_prometheus_reads_every_member_of_the_gzipped_scrape(start_agent, prometheus):
    agent = start_agent()
    all_collected(agent)
    _, headers, body = http_get(agent.url + "/metrics", headers=PROMETHEUS_HEADERS)
    assert headers["Content-Encoding"] == "gzip"
    members = gzip_members(body)
    assert len(members) > 3 and members[-1] == b"# EOF\n"  # the health, the checks, each collector, the end
    samples = [line for line in members[-2].decode().splitlines() if line and not line.startswith("#")]
    last = next(line.split("{")[0].split(" ")[0] for line in reversed(samples) if "_created" not in line)
    address = agent.url.removeprefix("http://")
    prometheus.scrape([{"targets": [address]}])
    deadline = time.monotonic() + 30
    found = []
    while time.monotonic() < deadline and not found:
        found = prometheus.query(f'{last}{{instance="{address}"}}')  # a series of the last collector's member
        time.sleep(0.2)
    assert found, prometheus.query(f'up{{instance="{address}"}}')
    assert prometheus.query(f'egov_build_info{{instance="{address}"}}')  # and of the first member
    prometheus.scrape([])
