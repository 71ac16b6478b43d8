"""Who changed what, seconds after they did, end to end: a 40-line paste typed over SSH into a
simulated Cisco, Huawei VRP, CloudEngine (VRP8) and Comware device; each device logs it as its vendor does, to the agent
(the real daemon, syslog receiver on, `backup_store` set); the store has one new commit within
30 s naming the device and the user, and the audit's failed-rule metric follows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from netmiko import ConnectHandler

from agent.cli import main
from tests.peer_sim import PASSWORD, start_fleet
from tests.peers import Peer, free_port, http_get
from tests.sim import Device, public_key_line

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "EGOV_TEST_CHANGE_PASSWORD"
USER = "netops1"
# name -> (platform, address, the loghost line, the paste's last line: a critical finding, its rule)
DEVICES = {
    "hoa-rtr": ("cisco_ios", "127.84.0.1", "logging host 127.0.0.1", "snmp-server community public RO",
                "IOS-SNMP-001"),
    "hoa-sw": ("huawei", "127.84.0.2", "info-center loghost 127.0.0.1", "telnet server enable", "VRP-MGMT-004"),
    "hoa-cmw": ("hp_comware", "127.84.0.3", "info-center loghost 127.0.0.1", "telnet server enable",
                "CMW-MGMT-004"),
    "hoa-ce": ("huawei_vrpv8", "127.84.0.4", "info-center loghost 127.0.0.1", "snmp-agent community read public",
               "VRP-SNMP-001"),
}
ROUTES = {"cisco_ios": "ip route 203.0.113.{n} 255.255.255.255 192.0.2.1",
          "huawei": "ip route-static 203.0.113.{n} 255.255.255.255 192.0.2.1",
          "hp_comware": "ip route-static 203.0.113.{n} 32 192.0.2.1",
          "huawei_vrpv8": "ip route-static 203.0.113.{n} 255.255.255.255 192.0.2.1"}
DEADLINE = 30.0  # seconds from the paste's first line to the commit (issue 17)


def git(store: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(store), *args], capture_output=True, text=True, check=True).stdout


def commits_of(store: Path, name: str) -> list[str]:
    """The messages of the commits that changed the device's backup, newest first."""
    log = git(store, "log", "--format=%B%x00", "--", f"network/{name}.cfg")
    return [message.strip() for message in log.split("\0") if message.strip()]


def metric(url: str, name: str, **labels) -> float | None:
    _, _, body = http_get(f"{url}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def until(condition, what: str, timeout: float, agent: Peer):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s; the agent's log:\n{agent.output()}")
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    directory = tmp_path_factory.mktemp("change_e2e")
    syslog_port = free_port()
    fleet = start_fleet([Device(name, address, platform, username=USER, password=PASSWORD, log_port=syslog_port)
                         for name, (platform, address, *_) in DEVICES.items()], directory)
    known_hosts = directory / "known_hosts"
    known_hosts.write_text("".join(f"[{address}]:{fleet.port} {public_key_line(name)}\n"
                                   for name, (_, address, *_) in DEVICES.items()))
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"egov_check_defaults": {"ssh": {"username": USER, "password_env": PASSWORD_ENV,
                                                 "port": fleet.port, "known_hosts": str(known_hosts)}}},
        "children": {"xa_hoa": {"vars": {"egov_site_type": "commune"}, "hosts": {
            name: {"ansible_host": address, "egov_role": "router", "egov_platform": platform, "egov_checks": {"ssh": None}}
            for name, (platform, address, *_) in DEVICES.items()}}}}}))
    store = directory / "store"
    agent_port = free_port()
    config = directory / "agent.yml"
    config.write_text(yaml.safe_dump({"listen": f"127.0.0.1:{agent_port}", "collectors": {
        "ssh": {"enabled": False},
        "syslog": {"enabled": True, "listen": f"127.0.0.1:{syslog_port}", "backup_store": str(store),
                   "unzoned_timestamps": "UTC"},
        "audit": {"enabled": True, "store": str(store), "interval": "5s", "timeout": "4s"}}}))
    os.environ[PASSWORD_ENV] = PASSWORD
    agent = None
    try:
        for name, (platform, address, loghost, *_) in DEVICES.items():  # the devices log to the agent
            with connect(platform, address, fleet.port) as session:
                session.send_config_set([loghost])
                if platform == "huawei_vrpv8":
                    session.commit()
        assert main(["audit", "backup", "-i", str(inventory), "--store", str(store)]) == 0  # the baseline
        agent = Peer([sys.executable, "-m", "agent", "run", "-c", str(config), "-i", str(inventory)],
                     directory / "agent.log", cwd=str(ROOT))
        url = f"http://127.0.0.1:{agent_port}"
        until(lambda: agent.process.poll() is None and _ready(url), "the agent ready", 60, agent)
        yield {"fleet": fleet, "store": store, "agent": agent, "url": url, "inventory": inventory}
    finally:
        if agent is not None:
            agent.stop()
        fleet.stop()
        os.environ.pop(PASSWORD_ENV, None)


def _ready(url: str) -> bool:
    try:
        return http_get(f"{url}/-/ready", timeout=2)[0] == 200
    except OSError:
        return False


def connect(platform: str, address: str, port: int):
    return ConnectHandler(device_type=platform, host=address, port=port, username=USER, password=PASSWORD,
                          allow_agent=False, use_keys=False)


@pytest.mark.parametrize("name", DEVICES)
def test_a_paste_typed_over_ssh_is_one_commit_naming_the_user_within_30s(province, name):
    platform, address, _, unsafe, rule = DEVICES[name]
    store, agent, url = province["store"], province["agent"], province["url"]
    before = commits_of(store, name)
    until(lambda: metric(url, "egov_audit_rule_pass", device=name, rule=rule) == 1,
          f"{name}: {rule} passing before the change", 60, agent)
    paste = [ROUTES[platform].format(n=n) for n in range(1, 40)] + [unsafe]
    with connect(platform, address, province["fleet"].port) as session:
        typed = time.monotonic()  # the first line
        session.send_config_set(paste)
        if platform == "huawei_vrpv8":
            session.commit()  # CMDRECORD for every line, and NETCONF_CONFIG_CHANGE_EVENT
    until(lambda: len(commits_of(store, name)) > len(before), f"{name}: a commit within {DEADLINE:g}s of the paste",
          DEADLINE - (time.monotonic() - typed), agent)
    took = time.monotonic() - typed
    message = commits_of(store, name)[0]
    assert re.search(rf"^  Configured from \S+ by {USER} \(127\.0\.0\.1\) at \d{{4}}-\d\d-\d\d ", message, re.M), message
    assert f"{name}: " in message, message
    # the drift and failed rules of the new backup, as after `audit backup`
    until(lambda: metric(url, "egov_audit_rule_pass", device=name, rule=rule) == 0,
          f"{name}: {rule} failing after the change", 60, agent)
    # one paste, one commit: nothing more is committed once the backup has run
    assert len(commits_of(store, name)) == len(before) + 1
    until(lambda: metric(url, "egov_syslog_change_backups_total", target=name) == 1,
          f"{name}: the backup counted", 30, agent)
    assert metric(url, "egov_syslog_change_backups_failed_total", target=name) == 0
    if platform != "cisco_ios":  # IOS logs the session once, as it leaves the configuration mode
        assert metric(url, "egov_syslog_change_backups_debounced_total", target=name) >= len(paste) - 1
    print(f"{name}: committed {took:.1f}s after the paste's first line:\n{message}")


def test_a_change_no_message_announced_is_committed_as_such_by_the_scheduled_backup(province):
    """The device stops logging (its loghost removed, which it can no longer log), then changes:
    the scheduled `audit backup` finds the change, and its commit says no log announced it."""
    store = province["store"]
    platform, address, loghost, *_ = DEVICES["hoa-sw"]
    before = commits_of(store, "hoa-sw")
    with connect(platform, address, province["fleet"].port) as session:
        session.send_config_set([f"undo {loghost}", "snmp-agent sys-info contact Phong CNTT"])
    assert main(["audit", "backup", "-i", str(province["inventory"]), "--store", str(store)]) == 0
    message = commits_of(store, "hoa-sw")[0]
    assert len(commits_of(store, "hoa-sw")) == len(before) + 1
    assert "hoa-sw: global (+1 −1)\n  Changed without a log message" in message, message
    assert "hoa-rtr" not in message  # unchanged devices are not named
    # a finding: the audit collector serves when it was found
    until(lambda: metric(province["url"], "egov_audit_unlogged_change_timestamp_seconds", device="hoa-sw"),
          "hoa-sw: the change without a log message served", 60, province["agent"])
    assert metric(province["url"], "egov_audit_unlogged_change_timestamp_seconds", device="hoa-rtr") is None
