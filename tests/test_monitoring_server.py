"""playbooks/monitoring_server.yml applied for real: the example province's monitoring server
on a disposable sshd target (tests/peer_sshd.py), every listener on the target's own 127.x
address and a free port.

The target has no systemd: Debian's init scripts start Prometheus and Alertmanager, as on a
sysvinit host. rsyslog is not started by the role there (as host_baseline leaves it): the
test runs rsyslogd on the target with the role's configuration alone, so that this
machine's /dev/log (bind-mounted into the target) is never touched.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.peer_sshd import connection, make_key, override_inventory, provision_run, require_baseline_packages
from tests.peers import free_port, http_get

pytest_plugins = ("tests.peer_sshd",)  # the real peers this module's tests use
REPO = Path(__file__).resolve().parent.parent
SERVER = "egov-agent-01"  # the example's monitoring server
DEVICE, DEVICE_ADDRESS = "dc-chinh-rtr", "127.10.1.1"  # a router of the example, its syslog source
GRAFANA = "/etc/grafana/provisioning"


@pytest.fixture(scope="module")
def server(ssh_targets, tmp_path_factory):  # noqa: F811
    """The playbook twice on one target; yields the target, its ports and both runs."""
    require_baseline_packages()
    directory = tmp_path_factory.mktemp("monitoring_server")
    target = ssh_targets.start()
    ports = {name: free_port(target.address) for name in ("prometheus", "alertmanager", "log")}
    override = override_inventory(
        directory / "override.yml", {SERVER: connection(target, ssh_targets.root_key)},
        make_key(directory, "admin_key"), monitoring_server_apt_cache_valid_time=0,
        monitoring_server_prometheus_port=ports["prometheus"], monitoring_server_alertmanager_port=ports["alertmanager"],
        host_baseline_log_server=target.address, host_baseline_log_port=ports["log"],
        monitoring_server_grafana_provisioning_dir=GRAFANA)
    inventory = [str(REPO / "inventory" / "example"), str(override)]
    runs = [provision_run(SERVER, inventory, playbook="monitoring_server.yml") for _ in range(2)]
    yield target, ports, runs
    ssh_targets.stop(target)


def _explain(run) -> str:
    return f"rc={run.rc}\n{run.output[-6000:]}"


def _api(target, port: int, path: str):
    status, _, body = http_get(f"http://{target.address}:{port}{path}")
    assert status == 200, body[:500]
    return json.loads(body)


def test_prometheus_and_alertmanager_run_on_the_inventory_address(server):
    target, ports, (first, _) = server
    assert first.rc == 0, _explain(first)
    flags = _api(target, ports["prometheus"], "/api/v1/status/flags")["data"]
    assert flags["web.listen-address"] == f"{target.address}:{ports['prometheus']}"
    assert flags["storage.tsdb.retention.time"] == "1y"  # 365d, as Prometheus prints it
    assert flags["config.file"] == "/etc/prometheus/prometheus.yml"
    status = _api(target, ports["alertmanager"], "/api/v2/status")
    assert status["cluster"]["status"] == "disabled"  # alone: no gossip listener on 0.0.0.0:9094
    assert http_get(f"http://{target.address}:{ports['alertmanager']}/-/ready")[0] == 200


def test_prometheus_scrapes_every_agent_egov_agent_targets_lists(server, tmp_path):
    target, ports, _ = server
    expected = tmp_path / "egov.json"
    subprocess.run([__import__("sys").executable, "-m", "agent", "targets", "-i", str(REPO / "inventory" / "example"),
                    "-o", str(expected)], cwd=REPO, check=True, capture_output=True)
    assert target.path("/etc/prometheus/file_sd/egov.json").read_text() == expected.read_text()
    wanted = {group["targets"][0] for group in json.loads(expected.read_text())}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # Prometheus reads file_sd a moment after it starts
        active = _api(target, ports["prometheus"], "/api/v1/targets")["data"]["activeTargets"]
        if {t["labels"]["instance"] for t in active} == wanted:
            break
        time.sleep(0.5)
    assert {t["labels"]["instance"] for t in active} == wanted
    assert {t["labels"]["job"] for t in active} == {"egov"}


def test_the_repository_rules_and_routes_are_loaded(server):
    target, ports, _ = server
    groups = _api(target, ports["prometheus"], "/api/v1/rules")["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert "EgovSiteUplinkDown" in names
    alertmanagers = _api(target, ports["prometheus"], "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [a["url"] for a in alertmanagers] == [f"http://{target.address}:{ports['alertmanager']}/api/v2/alerts"]
    config = _api(target, ports["alertmanager"], "/api/v2/status")["config"]["original"]
    assert 'team="network"' in config and "EgovSiteUplinkDown" in config  # routes and inhibitions


def test_grafana_gets_the_datasource_and_the_dashboards(server):
    target, ports, _ = server
    datasource = target.path(f"{GRAFANA}/datasources/egov.yml").read_text()
    assert f"url: http://{target.address}:{ports['prometheus']}\n" in datasource
    assert "path: /var/lib/grafana/dashboards/egov" in target.path(f"{GRAFANA}/dashboards/egov.yml").read_text()
    for dashboard in (REPO / "monitoring" / "grafana").glob("*.json"):
        assert target.path(f"/var/lib/grafana/dashboards/egov/{dashboard.name}").read_bytes() == dashboard.read_bytes()


def _ssh(target, key, command: str) -> str:
    return subprocess.run(["ssh", "-i", str(key.private), "-p", str(target.port), "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", f"root@{target.address}", command],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def _read_until(path: Path, needle: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and needle in (text := path.read_text()):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never reached {path}")


def test_device_logs_land_in_a_file_per_device_and_rotate(server, ssh_targets):  # noqa: F811
    """rsyslogd on the target with the role's file alone; a router's message over UDP and one
    over TCP from an address the inventory does not know."""
    target, ports, _ = server
    _ssh(target, ssh_targets.root_key, "rsyslogd -f /etc/rsyslog.d/40-egov-devices.conf -i /run/egov-test-rsyslogd.pid")
    try:
        # Cisco IOS's format (rsyslog reads the sender from the packet's source address)
        message = "<189>42: *Dec  2 14:00:00: %SYS-5-CONFIG_I: Configured from console by egov-netops on vty0"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((DEVICE_ADDRESS, 0))
            deadline = time.monotonic() + 10
            log = target.path(f"/var/log/egov-devices/{DEVICE}.log")
            while not log.exists() and time.monotonic() < deadline:  # until rsyslog listens
                sock.sendto(message.encode(), (target.address, ports["log"]))
                time.sleep(0.2)
        assert "%SYS-5-CONFIG_I: Configured from console" in _read_until(log, "CONFIG_I")
        with socket.create_connection((target.address, ports["log"]), source_address=("127.78.9.9", 0)) as sock:
            sock.sendall(b"<14>Dec  2 14:00:01 stranger app: hello\n")
        _read_until(target.path("/var/log/egov-devices/unknown.log"), "hello")
    finally:
        _ssh(target, ssh_targets.root_key, "kill $(cat /run/egov-test-rsyslogd.pid)")
    _ssh(target, ssh_targets.root_key, "logrotate --force --state /run/egov-test-logrotate.state "
                                        "/etc/logrotate.d/egov-devices")
    rotated = [p.name for p in target.path("/var/log/egov-devices").iterdir()]
    assert any(name.startswith(f"{DEVICE}.log-") for name in rotated), rotated
    assert "rotate 180\n" in target.path("/etc/logrotate.d/egov-devices").read_text()


def test_second_run_changes_nothing(server):
    _, _, (_, second) = server
    assert second.rc == 0, _explain(second)
    assert second.hosts[SERVER]["changed"] == 0, _explain(second)
