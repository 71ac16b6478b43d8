"""The agent as a real process, scraped over HTTP: formats, reload, signals, TLS and auth."""

from __future__ import annotations

import base64
import gzip
import json
import signal
import ssl
import subprocess
import sys
import time

import bcrypt
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from agent import exitcodes
from tests.helpers import values, wait_for
from tests.peers import http_get

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                     "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def collected(agent, collector: str) -> bytes:
    def ready():
        _, _, body = http_get(agent.url + "/metrics")
        return body if values(body, "egov_collector_success").get((("collector", collector),)) == 1 else None
    return wait_for(ready)


def test_serves_text_openmetrics_and_gzip(start_agent):
    agent = start_agent()
    body = collected(agent, "loadavg")
    assert values(body, "node_load1")[()] >= 0

    status, headers, om = http_get(agent.url + "/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.endswith(b"# EOF\n")
    names = {f.name for f in parse_openmetrics(om.decode())}
    assert {"node_load1", "egov_collector_success", "egov_collector_errors"} <= names

    status, headers, packed = http_get(agent.url + "/metrics", headers={"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b"node_load1" in gzip.decompress(packed)

    status, headers, text = http_get(agent.url + "/metrics", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers and headers["Content-Type"].startswith("text/plain; version=0.0.4")

    assert http_get(agent.url + "/healthz")[0] == 200
    status, _, page = http_get(agent.url + "/")
    assert status == 200 and b"loadavg" in page and b"<table>" in page
    assert http_get(agent.url + "/nope")[0] == 404


def test_reload_rejects_bad_config_and_keeps_serving(start_agent, tmp_path):
    config = tmp_path / "agent.yml"
    config.write_text("collectors:\n  loadavg:\n    interval: 1s\n    timeout: 500ms\n")
    agent = start_agent("-c", str(config))
    collected(agent, "loadavg")

    config.write_text("collectors:\n  loadavg:\n    intervall: 1s\n")
    status, _, message = http_get(agent.url + "/-/reload", method="POST")
    assert status == 500 and b"agent.yml:3" in message and b"intervall" in message
    _, _, body = http_get(agent.url + "/metrics")
    assert values(body, "egov_config_last_reload_successful")[()] == 0
    assert values(body, "egov_collector_success")[(("collector", "loadavg"),)] == 1

    # fixed and reloaded with SIGHUP: a collector turned off disappears, the flag returns to 1
    config.write_text("collectors:\n  agent:\n    enabled: false\n")
    agent.signal(signal.SIGHUP)

    def reloaded():
        body = http_get(agent.url + "/metrics")[2]
        return values(body, "egov_config_last_reload_successful")[()] == 1 and body
    body = wait_for(reloaded)
    assert (("collector", "agent"),) not in values(body, "egov_collector_success")
    log = agent.output()
    assert "reload rejected" in log and "intervall" in log


def test_sigterm_stops_cleanly(start_agent):
    agent = start_agent()
    agent.signal(signal.SIGTERM)
    assert agent.process.wait(10) == 0
    lines = agent.output().strip().splitlines()
    assert all(line.startswith("ts=") and " level=" in line for line in lines)  # one line per event
    assert "msg=stopping" in lines[-1]


def test_bad_config_at_start_exits_with_a_located_error(tmp_path):
    config = tmp_path / "agent.yml"
    config.write_text("listen: 127.0.0.1:1\ncollectors:\n  loadavg:\n    per_cpu_warning: lots\n")
    run = subprocess.run([sys.executable, "-m", "agent", "run", "-c", str(config)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == exitcodes.BAD_INPUT
    assert f"{config}:4: collectors.loadavg.per_cpu_warning: expected a number" in run.stderr


def test_tls_and_basic_auth(start_agent, certificate, tmp_path):
    hashed = bcrypt.hashpw(b"s3cret-passw0rd", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    web = certificate / "web.yml"  # relative paths resolve beside the web config, as in exporter-toolkit
    web.write_text(f"tls_server_config:\n  cert_file: agent.crt\n  key_file: agent.key\n"
                   f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    config = tmp_path / "agent.yml"
    config.write_text(f"web_config_file: {web}\n")
    agent = start_agent("-c", str(config), wait=None, scheme="https")
    context = ssl.create_default_context(cafile=str(certificate / "agent.crt"))

    def get(user=None, password=None):
        headers = {}
        if user:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return http_get(agent.url + "/metrics", headers=headers, context=context)

    def up():
        try:
            return get()
        except OSError:
            return None
    status, headers, _ = wait_for(up)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert get("prometheus", "wrong")[0] == 401
    assert get("nobody", "s3cret-passw0rd")[0] == 401
    status, _, body = get("prometheus", "s3cret-passw0rd")
    assert status == 200 and b"egov_build_info" in body
    with pytest.raises(OSError):  # plain HTTP to a TLS port gets nothing
        http_get(agent.url.replace("https", "http") + "/metrics", timeout=3)
    assert "s3cret" not in agent.output()


def test_reload_rejects_a_broken_inventory(start_agent, tmp_path):
    import shutil

    inventory = tmp_path / "inventory"
    shutil.copytree("inventory/example", inventory)
    config = tmp_path / "agent.yml"
    config.write_text("log_format: json\n")
    agent = start_agent("-c", str(config), "-i", str(inventory))
    sites = inventory / "00-sites.yml"
    sites.write_text(sites.read_text() + "\n    broken: [\n")
    status, _, message = http_get(agent.url + "/-/reload", method="POST")
    assert status == 500 and b"00-sites.yml" in message and b"invalid YAML" in message
    body = http_get(agent.url + "/metrics")[2]
    assert values(body, "egov_config_last_reload_successful")[()] == 0
    events = [json.loads(line) for line in agent.output().splitlines()]  # log_format: json, one per line
    [rejected] = [e for e in events if e["msg"].startswith("reload rejected")]
    assert rejected["level"] == "error" and "00-sites.yml" in rejected["error"]


def test_ready_only_once_every_collector_has_reported(start_agent, tmp_path):
    """/healthz answers at once; /-/ready says "starting" (503, naming who it waits for) until
    every collector's first run has ended, here an http probe of a server that accepts the
    connection and never answers, so the probe ends on its 3 s timeout."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    port = silent.getsockname()[1]
    try:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "hosts": {
            "slow-web": {"ansible_host": "127.0.0.1", "egov_role": "web_server", "egov_platform": "linux",
                         "egov_checks": {"http": {"url": f"http://127.0.0.1:{port}/"}}}}}}))
        config = tmp_path / "agent.yml"
        config.write_text("collectors:\n  http: {probe_timeout: 3s}\n")
        agent = start_agent("-c", str(config), "-i", str(inventory))
        status, _, body = http_get(agent.url + "/-/ready")
        assert status == 503 and body.startswith(b"Starting: waiting for the first run of ") and b"http" in body
        deadline = time.monotonic() + 30
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            status, _, body = http_get(agent.url + "/-/ready")
        assert (status, body) == (200, b"Ready\n")
        assert http_get(agent.url + "/healthz")[0] == 200
    finally:
        silent.close()
