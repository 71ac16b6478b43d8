"""The backup a logged configuration change triggers: when (debounced), what the commit says, and a
failing backup that is logged and counted while the receiver keeps receiving. The backup itself,
through SSH into simulated devices, is tests/test_change_e2e.py."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest

from agent.audit.change_backup import Debounce, failed_devices
from agent.collector import metric_index
from agent.context import Context
from agent.inventory import load_inventory
from collectors.syslog import Change, SyslogCollector, SyslogSettings
from tests.peers import free_port

ICT = timezone(timedelta(hours=7))
LOGGED = datetime(2026, 12, 2, 9, 5, 12, tzinfo=ICT)


def change(target="tanlap-rtr", seconds=0, user="netops1", line="vty0", address="192.0.2.10", stamped=True):
    when = LOGGED + timedelta(seconds=seconds)
    return Change(target, when.timestamp(), when if stamped else None, user, line, address)


def test_a_paste_is_one_backup_once_the_device_is_quiet():
    debounce = Debounce(settle=5, longest=20, spacing=60)
    joined = [debounce.add(change(seconds=i / 20), 100 + i / 20) for i in range(40)]  # 40 lines in 2 s
    assert joined == [False] + [True] * 39
    assert debounce.take(106.0) == {}  # 5 s after the last line, not yet
    due = debounce.take(107.0)
    assert list(due) == ["tanlap-rtr"]
    assert due["tanlap-rtr"] == ("Configured from vty0 by netops1 (192.0.2.10) at 2026-12-02 09:05:12+07:00 "
                                 "(40 messages, the last at 2026-12-02 09:05:13+07:00)")
    assert debounce.take(200.0) == {}  # taken once


def test_a_device_that_keeps_changing_is_backed_up_within_the_longest_wait_then_once_a_minute():
    debounce = Debounce(settle=5, longest=20, spacing=60)
    started = []
    for second in range(0, 200):  # a change every second for 200 s
        debounce.add(change(seconds=second), float(second))
        if debounce.take(float(second)):
            started.append(second)
    assert started == [20, 80, 140]
    other = Debounce(settle=5, longest=20, spacing=60)
    other.add(change("hoabinh-rtr"), 0.0)
    assert list(other.take(5.0)) == ["hoabinh-rtr"]  # each device on its own


def test_the_cause_names_every_author_and_says_when_the_time_is_the_agents():
    debounce = Debounce(settle=1, longest=20, spacing=60)
    debounce.add(change(user=None, line="console", address=None), 0.0)
    debounce.add(change(user="evil\nFAKE: line", line=None, address=None, stamped=False), 0.0)
    debounce.add(change(user=None, line=None, address=None), 0.0)
    lines = debounce.take(1.0)["tanlap-rtr"].split("\n")
    assert lines[0] == "Configured from console at 2026-12-02 09:05:12+07:00"
    assert lines[1].startswith("Configured by evil?FAKE: line at ") and lines[1].endswith(
        "(received: the message had no full timestamp)")
    assert lines[2] == "Configured (the message names no user) at 2026-12-02 09:05:12+07:00"


def test_failed_devices_read_from_the_run_output():
    output = ("tanlap-rtr   FAILED     connect: 127.77.0.3:22: connection refused\n"
              "hoabinh-rtr  unchanged\n"
              "not backed up (network devices without an ssh check): anphu-rtr\n")
    assert failed_devices(output, ["tanlap-rtr", "hoabinh-rtr", "anphu-rtr"], 3) == {
        "tanlap-rtr": "connect: 127.77.0.3:22: connection refused",
        "anphu-rtr": "no ssh check (the backup logs in as the ssh check does)"}
    assert failed_devices("egov-agent: /s is in use by another backup run (PID 7); waited 300s\n",
                          ["tanlap-rtr"], 3) == {"tanlap-rtr": "/s is in use by another backup run (PID 7); waited 300s"}
    assert failed_devices("backup: 1 devices: 1 unchanged; no change to commit in /s\n", ["hoabinh-rtr"], 0) == {}


def test_a_failing_backup_is_logged_and_counted_and_the_receiver_keeps_receiving(tmp_path, caplog, monkeypatch):
    """A real backup run into a real store, of a device whose SSH port refuses: it fails, and the
    messages that follow are still counted."""
    closed_port = free_port()
    monkeypatch.setenv("EGOV_TEST_CHANGE_PASSWORD", "not-used")
    (tmp_path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "hosts": {
        "tanlap-rtr": {"ansible_host": "127.0.0.2", "egov_role": "router", "egov_platform": "cisco_ios",
                       "egov_checks": {"ssh": {"username": "egov-netops", "password_env": "EGOV_TEST_CHANGE_PASSWORD",
                                               "port": closed_port,
                                               "known_hosts": str(tmp_path / "known_hosts")}}}}}}))
    context = Context(inventory=load_inventory(tmp_path), inventory_path=str(tmp_path))
    collector = SyslogCollector(SyslogSettings(listen="127.0.0.1:0", backup_store=str(tmp_path / "store")), context)
    def send(text: bytes):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.2", 0))
            sock.sendto(text, collector.address)

    async def scenario():
        try:
            await collector.collect()
            send(b"<189>12: %SYS-5-CONFIG_I: Configured from console by netops1 on vty0 (192.0.2.10)")
            deadline = time.monotonic() + 60
            while not collector._backups.failed["tanlap-rtr"]:
                assert time.monotonic() < deadline, "the failed backup: not within 60 s"
                await asyncio.sleep(0.1)
            send(b"<189>13: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down")
            while collector._devices["127.0.0.2"].interface_changes["down"] == 0:
                assert time.monotonic() < deadline, "the message after the failed backup: not within 60 s"
                await asyncio.sleep(0.05)
            return metric_index(await collector.collect())
        finally:
            collector.close()

    with caplog.at_level(logging.WARNING, logger="egov.collector.syslog"):
        families = asyncio.run(scenario())
    failed = [r for r in caplog.records if r.getMessage() == "backup after a configuration change failed"]
    assert failed and failed[0].target == "tanlap-rtr" and "connect" in failed[0].detail, failed
    samples = {(f, s.labels["target"]): s.value for f in ("egov_syslog_change_backups_total",
                                                         "egov_syslog_change_backups_failed_total")
               for s in families[f].samples}
    assert samples == {("egov_syslog_change_backups_total", "tanlap-rtr"): 1,
                       ("egov_syslog_change_backups_failed_total", "tanlap-rtr"): 1}


def test_backup_store_without_an_inventory_path_is_a_config_error(tmp_path):
    collector = SyslogCollector(SyslogSettings(listen="127.0.0.1:0", backup_store=str(tmp_path)), Context())
    with pytest.raises(Exception) as raised:
        asyncio.run(collector.collect())
    assert getattr(raised.value, "reason", None) == "config" and "backup_store" in str(raised.value)
