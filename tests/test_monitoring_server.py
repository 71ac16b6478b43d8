"""playbooks/monitoring_server.yml applied for real: the example province's monitoring server
on a disposable sshd target (tests/peer_sshd.py), every listener on the target's own 127.x
address and a free port.

The target has no systemd: Debian's init scripts start Prometheus and Alertmanager, as on a
sysvinit host. rsyslog is not started by the role there (as host_baseline leaves it): the
test runs rsyslogd on the target with the role's configuration alone, so that this
machine's /dev/log (bind-mounted into the target) is never touched.

The agents' web config asks for TLS and basic auth, and the role is told so: one of them,
egov-agent-01, runs for real on its example address with that web config, and the server's
Prometheus scrapes it over https with a password it reads from a file. Alone, the server
still mails the teams: its alertmanager.yml is rendered and loaded (no mail is sent here;
tests/test_alert_mail_e2e.py sends them, from a pair).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
import yaml

from tests.peer_sshd import (Target, connection, make_key, override_inventory, parse_summary, provision_run,
                             require_baseline_packages)
from agent import onboard
from tests.helpers import wait_until
from tests.peers import Peer, free_port, http_get

pytest_plugins = ("tests.peer_sshd",)  # the real peers this module's tests use
REPO = Path(__file__).resolve().parent.parent
SERVER = "egov-agent-01"  # the example's monitoring server
DEVICE, DEVICE_ADDRESS = "dc-chinh-rtr", "127.10.1.1"  # a router of the example, its syslog source
GRAFANA = "/etc/grafana/provisioning"


AGENT, AGENT_ADDRESS = "egov-agent-01", "127.10.3.50"  # the example's agent, as the example places it
TARGET_CA = "/etc/ssl/egov-test-agents-ca.pem"  # on the server: the CA of the agents' certificates
PASSWORDS = {"EGOV_TEST_AGENT_SCRAPE_PASSWORD": "mật-khẩu-quét", "EGOV_TEST_SMTP_PASSWORD": "mật-khẩu-thư"}


@dataclass
class Server:
    target: Target
    ports: dict[str, int]
    runs: list  # the playbook's first and second run
    inventory: Path  # the example, with the real agent's port
    override: Path  # the inventory source that points the example's server at the target
    agent: str  # the TLS agent's HOST:PORT


def tls_agent(directory: Path, port: int) -> Peer:
    """egov-agent on AGENT_ADDRESS:port behind TLS (a certificate for that address, its own CA)
    and basic auth (user prometheus, the scrape password's bcrypt hash)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    f"/CN={AGENT_ADDRESS}", "-addext", f"subjectAltName=IP:{AGENT_ADDRESS}",
                    "-keyout", str(directory / "agent.key"), "-out", str(directory / "agent.crt")],
                   check=True, capture_output=True)
    hashed = bcrypt.hashpw(PASSWORDS["EGOV_TEST_AGENT_SCRAPE_PASSWORD"].encode(), bcrypt.gensalt(4)).decode()
    (directory / "web.yml").write_text("tls_server_config: {cert_file: agent.crt, key_file: agent.key}\n"
                                       f"basic_auth_users: {{prometheus: '{hashed}'}}\n")
    (directory / "agent.yml").write_text(f"web_config_file: {directory / 'web.yml'}\n")
    return Peer([sys.executable, "-m", "agent", "run", "--listen", f"{AGENT_ADDRESS}:{port}", "-c",
                 str(directory / "agent.yml")], directory / "agent.log", cwd=str(REPO))


@pytest.fixture(scope="module")
def server(ssh_targets, tmp_path_factory):  # noqa: F811
    """The playbook twice on one target, the TLS agent running."""
    require_baseline_packages()
    directory = tmp_path_factory.mktemp("monitoring_server")
    inventory = directory / "example"
    shutil.copytree(REPO / "inventory" / "example", inventory)
    agent_port = free_port(AGENT_ADDRESS)
    (inventory / "host_vars" / f"{AGENT}.yml").write_text(f"egov_agent_port: {agent_port}\n")
    agent = tls_agent(directory, agent_port)
    try:
        target = ssh_targets.start()
        target.path(TARGET_CA).write_bytes((directory / "agent.crt").read_bytes())
        ports = {name: free_port(target.address) for name in ("prometheus", "alertmanager", "log")}
        override = override_inventory(
            directory / "override.yml", {SERVER: connection(target, ssh_targets.root_key)},
            make_key(directory, "admin_key"), monitoring_server_apt_cache_valid_time=0,
            monitoring_server_prometheus_port=ports["prometheus"],
            monitoring_server_alertmanager_port=ports["alertmanager"],
            host_baseline_log_server=target.address, host_baseline_log_port=ports["log"],
            monitoring_server_grafana_provisioning_dir=GRAFANA,
            monitoring_server_agents_scheme="https", monitoring_server_agents_tls={"ca_file": TARGET_CA},
            monitoring_server_agents_basic_auth={"username": "prometheus",
                                                 "password_env": "EGOV_TEST_AGENT_SCRAPE_PASSWORD"},
            # never contacted: no alert fires while the tests run
            monitoring_server_teams={"network": ["mang@mail.test"]},
            monitoring_server_smtp={"smarthost": f"{target.address}:{free_port(target.address)}",
                                    "from": "giamsat@mail.test", "username": "giamsat@mail.test",
                                    "password_env": "EGOV_TEST_SMTP_PASSWORD"})
        os.environ.update(PASSWORDS)  # the controller's environment, as from Vault
        try:
            runs = [provision_run(SERVER, [str(inventory), str(override)], playbook="monitoring_server.yml")
                    for _ in range(2)]
        finally:
            for name in PASSWORDS:
                del os.environ[name]
        yield Server(target, ports, runs, inventory, override, f"{AGENT_ADDRESS}:{agent_port}")
        ssh_targets.stop(target)
    finally:
        agent.stop()


def _explain(run) -> str:
    return f"rc={run.rc}\n{run.output[-6000:]}"


def _api(target, port: int, path: str):
    status, _, body = http_get(f"http://{target.address}:{port}{path}")
    assert status == 200, body[:500]
    return json.loads(body)


def test_prometheus_and_alertmanager_run_on_the_inventory_address(server):
    target, ports, (first, _) = server.target, server.ports, server.runs
    assert first.rc == 0, _explain(first)
    flags = _api(target, ports["prometheus"], "/api/v1/status/flags")["data"]
    assert flags["web.listen-address"] == f"{target.address}:{ports['prometheus']}"
    assert flags["storage.tsdb.retention.time"] == "1y"  # 365d, as Prometheus prints it
    assert flags["config.file"] == "/etc/prometheus/prometheus.yml"
    status = _api(target, ports["alertmanager"], "/api/v2/status")
    assert status["cluster"]["status"] == "disabled"  # alone: no gossip listener on 0.0.0.0:9094
    assert http_get(f"http://{target.address}:{ports['alertmanager']}/-/ready")[0] == 200


def _active_targets(server) -> dict[str, dict]:
    active = _api(server.target, server.ports["prometheus"], "/api/v1/targets")["data"]["activeTargets"]
    return {t["labels"]["instance"]: t for t in active}


def test_prometheus_scrapes_every_agent_egov_agent_targets_lists(server, tmp_path):
    expected = tmp_path / "egov.json"
    subprocess.run([sys.executable, "-m", "agent", "targets", "-i", str(server.inventory), "-o", str(expected)],
                   cwd=REPO, check=True, capture_output=True)
    assert server.target.path("/etc/prometheus/file_sd/egov.json").read_text() == expected.read_text()
    wanted = {group["targets"][0] for group in json.loads(expected.read_text())}
    # Prometheus reads file_sd a moment after it starts
    wait_until(lambda: set(_active_targets(server)), wanted, "every agent a target")
    assert {t["labels"]["job"] for t in _active_targets(server).values()} == {"egov"}


def test_prometheus_scrapes_an_agent_over_tls_with_basic_auth(server):
    """The agent refuses a scrape without the password; Prometheus, with the CA and the password
    file the role wrote, gets in. The password is in that file only, never in prometheus.yml."""
    target, instance = server.target, server.agent
    context = ssl.create_default_context(cafile=str(target.path(TARGET_CA)))
    assert http_get(f"https://{instance}/metrics", context=context)[0] == 401

    def scraped() -> tuple:
        seen = _active_targets(server).get(instance, {})
        return seen.get("scrapeUrl"), seen.get("health"), seen.get("lastError")

    wait_until(scraped, (f"https://{instance}/metrics", "up", ""), "the TLS agent scraped", timeout=60)  # an interval
    config = yaml.safe_load(target.path("/etc/prometheus/prometheus.yml").read_text())
    [scrape] = config["scrape_configs"]
    assert scrape["scheme"] == "https" and scrape["tls_config"] == {"ca_file": TARGET_CA}
    assert scrape["basic_auth"] == {"username": "prometheus", "password_file": "/etc/prometheus/egov-agents.password"}
    password_file = target.path("/etc/prometheus/egov-agents.password")
    assert password_file.read_text() == PASSWORDS["EGOV_TEST_AGENT_SCRAPE_PASSWORD"]
    assert password_file.stat().st_mode & 0o007 == 0
    for password in PASSWORDS.values():
        assert password not in target.path("/etc/prometheus/prometheus.yml").read_text()
        assert password not in target.path("/etc/prometheus/alertmanager.yml").read_text()
        assert all(password not in run.output for run in server.runs)


def test_the_repository_rules_and_routes_are_loaded(server):
    target, ports = server.target, server.ports
    groups = _api(target, ports["prometheus"], "/api/v1/rules")["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert "EgovSiteUplinkDown" in names
    alertmanagers = _api(target, ports["prometheus"], "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [a["url"] for a in alertmanagers] == [f"http://{target.address}:{ports['alertmanager']}/api/v2/alerts"]
    original = _api(target, ports["alertmanager"], "/api/v2/status")["config"]["original"]
    assert 'team="network"' in original and "EgovSiteUplinkDown" in original  # routes and inhibitions
    config = yaml.safe_load(original)
    # the network team by mail, the others as monitoring/alertmanager.yml has them
    [network] = [r for r in config["receivers"] if r["name"] == "network"]
    [mail] = network["email_configs"]
    assert mail["to"] == "mang@mail.test" and mail["send_resolved"] is True
    assert config["global"]["smtp_auth_password_file"] == "/etc/prometheus/alertmanager-smtp.password"
    assert target.path("/etc/prometheus/alertmanager-smtp.password").read_text() == PASSWORDS["EGOV_TEST_SMTP_PASSWORD"]
    assert all("email_configs" not in r for r in config["receivers"] if r["name"] != "network")


def test_grafana_gets_the_datasource_and_the_dashboards(server):
    target, ports = server.target, server.ports
    datasource = target.path(f"{GRAFANA}/datasources/egov.yml").read_text()
    assert f"url: http://{target.address}:{ports['prometheus']}\n" in datasource
    assert "path: /var/lib/grafana/dashboards/egov" in target.path(f"{GRAFANA}/dashboards/egov.yml").read_text()
    for dashboard in (REPO / "monitoring" / "grafana").glob("*.json"):
        assert target.path(f"/var/lib/grafana/dashboards/egov/{dashboard.name}").read_bytes() == dashboard.read_bytes()


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
    target, ports = server.target, server.ports
    target.ssh(ssh_targets.root_key, "rsyslogd -f /etc/rsyslog.d/40-egov-devices.conf -i /run/egov-test-rsyslogd.pid")
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
        target.ssh(ssh_targets.root_key, "kill $(cat /run/egov-test-rsyslogd.pid)")
    target.ssh(ssh_targets.root_key, "logrotate --force --state /run/egov-test-logrotate.state "
                                        "/etc/logrotate.d/egov-devices")
    rotated = [p.name for p in target.path("/var/log/egov-devices").iterdir()]
    assert any(name.startswith(f"{DEVICE}.log-") for name in rotated), rotated
    assert "rotate 180\n" in target.path("/etc/logrotate.d/egov-devices").read_text()


def test_second_run_changes_nothing(server):
    _, second = server.runs
    assert second.rc == 0, _explain(second)
    assert second.hosts[SERVER]["changed"] == 0, _explain(second)


# A commune office the inventory gains; its one-stop PC runs an agent.
NEW_OFFICE = """\
communes:
  children:
    xa_moi:
      vars: {egov_site_type: commune, egov_site_name: Xã Mới, egov_uplink: pop_dong_ha}
      hosts:
        moi-rtr: {ansible_host: 127.10.40.1, egov_platform: cisco_ios, egov_role: router}
        moi-motcua-01: {ansible_host: 127.10.40.11, egov_platform: linux, egov_role: one_stop_pc}
"""


def test_onboarding_a_site_rewrites_the_targets_and_prometheus_scrapes_its_agent(server, tmp_path):
    """`egov-agent provision`'s monitoring phase (agent/onboard.py) after an office joins the
    inventory: the role's file_sd tasks alone, then Prometheus has the office's agent. Last in
    this file: the server's targets are the new inventory's from here on."""
    inventory = tmp_path / "example"
    shutil.copytree(server.inventory, inventory)
    (inventory / "35-xa-moi.yml").write_text(NEW_OFFICE, encoding="utf-8")
    out = io.StringIO()
    code = onboard.refresh_targets([str(inventory), str(server.override)], check=False, forks=10, out=out)
    assert code == 0, out.getvalue()[-6000:]
    [first, _] = server.runs
    summary = parse_summary(out.getvalue())[SERVER]
    assert summary["changed"] == 1 and summary["ok"] < first.hosts[SERVER]["ok"] / 3, out.getvalue()  # the copy alone
    listed = json.loads(server.target.path("/etc/prometheus/file_sd/egov.json").read_text())
    assert {"agent": "moi-motcua-01", "site": "xa_moi", "site_type": "commune"} in [g["labels"] for g in listed]
    wait_until(lambda: "127.10.40.11:9469" in _active_targets(server), True, "the new office's agent a target")
