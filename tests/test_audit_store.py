"""The backup store on real files and the real git CLI: commits named by context, nothing
committed when nothing changed, untracked key and status, atomic writes, the lock."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest

from agent.audit.store import Change, Store, StoreError, changed_contexts, commit_message

IOS = """\
!
hostname xa-a-rtr
!
logging host 192.0.2.51
!
interface GigabitEthernet0/0
 description uplink
 ip address 198.51.100.2 255.255.255.252
!
interface GigabitEthernet0/1
 no ip address
 shutdown
!
line vty 0 4
 exec-timeout 10 0
 transport input ssh
!
end
"""

VRP = """\
!Software Version AR6120 V300R019C13SPC200
#
 sysname xa-b-rtr
#
 info-center loghost 192.0.2.51
#
interface GigabitEthernet0/0/1
 description uplink
#
user-interface vty 0 4
 authentication-mode aaa
#
return
"""

HOST = """\
==> /etc/ssh/sshd_config <==
PermitRootLogin no
PasswordAuthentication no
==> /etc/sudoers <==
root ALL=(ALL:ALL) ALL
==> /etc/chrony/chrony.conf <==
(absent)
"""


def test_changes_are_named_by_their_context():
    new = IOS.replace(" shutdown\n", " description office LAN\n").replace(" exec-timeout 10 0", " exec-timeout 5 0")
    new = new.replace("logging host 192.0.2.51", "logging host 192.0.2.52\nntp server 192.0.2.123")
    assert changed_contexts(IOS, new, "cisco_ios") == \
        "global (+2 −1), interface GigabitEthernet0/1 (+1 −1), line vty 0 4 (+1 −1)"


def test_a_new_block_counts_its_header_with_its_lines():
    new = IOS.replace("line vty", "interface Loopback0\n ip address 192.0.2.1 255.255.255.255\n!\nline vty")
    assert changed_contexts(IOS, new, "cisco_ios") == "interface Loopback0 (+2)"
    assert changed_contexts(new, IOS, "cisco_ios") == "interface Loopback0 (−2)"


def test_vrp_global_lines_between_hashes_are_global():
    new = VRP.replace(" info-center loghost 192.0.2.51", " info-center loghost 192.0.2.51\n undo telnet server enable")
    new = new.replace(" description uplink", " description uplink to pop-bacson")
    assert changed_contexts(VRP, new, "huawei") == "global (+1), interface GigabitEthernet0/0/1 (+1 −1)"


def test_a_host_change_is_named_by_its_file():
    new = HOST.replace("PasswordAuthentication no", "PasswordAuthentication yes").replace(
        "==> /etc/chrony/chrony.conf <==\n(absent)\n", "==> /etc/chrony/chrony.conf <==\nserver 192.0.2.123 iburst\n")
    assert changed_contexts(HOST, new, "linux") == \
        "/etc/ssh/sshd_config (+1 −1), /etc/chrony/chrony.conf (+1 −1)"


def test_a_change_of_order_or_spacing_only_says_so():
    new = IOS.replace(" description uplink\n ip address 198.51.100.2 255.255.255.252",
                      " ip address  198.51.100.2 255.255.255.252\n description uplink")
    assert changed_contexts(IOS, new, "cisco_ios") == "lines moved or respaced"


def test_commit_message_names_devices_and_contexts():
    changes = [Change("tanlap-rtr", "changed", "interface GigabitEthernet0/0/1 (+1 −1), global (+2)"),
               Change("hoabinh-rtr", "changed", "global (+1)"), Change("x", "new", "new, 40 lines")]
    assert commit_message(changes) == (
        "backup: 2 changed (tanlap-rtr, hoabinh-rtr), 1 new (x)\n\n"
        "tanlap-rtr: interface GigabitEthernet0/0/1 (+1 −1), global (+2)\n"
        "hoabinh-rtr: global (+1)\nx: new, 40 lines\n")
    many = [Change(f"commune-{n:03}-rtr", "new", "new, 40 lines") for n in range(1, 8)]
    subject = commit_message(many).split("\n")[0]
    assert subject == "backup: 7 new (commune-001-rtr, commune-002-rtr, commune-003-rtr, commune-004-rtr, " \
                      "commune-005-rtr, …)"


def _git(store: Store, *args: str) -> str:
    return subprocess.run(["git", "-C", str(store.path), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    with store.lock(1):
        store.init()
    return store


def test_a_commit_per_change_and_none_without(store):
    store.write("xa-a-rtr", "network", IOS)
    store.write("xa-b-rtr", "network", VRP)
    store.write("srv-01", "host", HOST)
    commit, changes = store.commit({"xa-a-rtr": "cisco_ios", "xa-b-rtr": "huawei", "srv-01": "linux"})
    assert commit and [(c.device, c.state) for c in changes] == \
        [("srv-01", "new"), ("xa-a-rtr", "new"), ("xa-b-rtr", "new")]
    assert _git(store, "ls-files").split() == [".gitignore", "hosts/srv-01.cfg", "network/xa-a-rtr.cfg",
                                               "network/xa-b-rtr.cfg"]
    assert store.files() == {"xa-a-rtr": store.path / "network/xa-a-rtr.cfg",
                             "xa-b-rtr": store.path / "network/xa-b-rtr.cfg", "srv-01": store.path / "hosts/srv-01.cfg"}
    assert store.read("srv-01") == HOST

    store.write("xa-a-rtr", "network", IOS)  # the same again
    assert store.commit({}) == (None, [])
    assert len(_git(store, "log", "--format=%H").split()) == 1

    store.write("xa-b-rtr", "network", VRP.replace("192.0.2.51", "192.0.2.52"))
    commit, changes = store.commit({"xa-b-rtr": "huawei"})
    assert changes == [Change("xa-b-rtr", "changed", "global (+1 −1)")]
    assert _git(store, "log", "-1", "--format=%B") == "backup: 1 changed (xa-b-rtr)\n\nxa-b-rtr: global (+1 −1)\n\n"
    assert commit == _git(store, "rev-parse", "--short", "HEAD").strip()

    history = store.history("xa-b-rtr")
    assert len(re.findall(r"^commit [0-9a-f]{40}$", history, re.M)) == 2  # the new file, its change
    assert "\n- info-center loghost 192.0.2.51\n+ info-center loghost 192.0.2.52\n" in history
    assert "backup: 1 changed (xa-b-rtr)" in store.history("xa-b-rtr", since=datetime(2000, 1, 1))
    assert store.history("xa-b-rtr", since=datetime.now() + timedelta(minutes=1)) == ""


def test_the_key_and_the_status_stay_out_of_git(store):
    key = store.redaction_key()
    assert len(key) == 32 and Store(store.path).redaction_key() == key  # made once
    assert stat.S_IMODE((store.path / ".redaction-key").stat().st_mode) == 0o600
    store.update_status({"a": {"platform": "cisco_ios", "last_attempt": 1}})
    store.update_status({"b": {"platform": "huawei", "last_attempt": 2}})
    store.update_status({"a": {"platform": "cisco_ios", "last_attempt": 3, "reason": "timeout"}})
    assert store.status() == {"a": {"platform": "cisco_ios", "last_attempt": 3, "reason": "timeout"},
                              "b": {"platform": "huawei", "last_attempt": 2}}
    store.write_golden("a", "hostname a\n")
    assert store.golden("a") == ["hostname a"] and store.golden("b") is None
    store.write("a", "network", IOS)
    store.commit({})
    assert _git(store, "status", "--porcelain", "--ignored").split("\n")[:-1] == \
        ["!! .lock", "!! .redaction-key", "!! golden/", "!! status.json"]
    store.write_golden("a", None)
    assert store.golden("a") is None
    assert not list(store.path.rglob("*.tmp"))  # atomic writes leave nothing behind


def test_a_device_name_cannot_leave_the_store(store):
    for name in ("../etc/passwd", ".git"):
        with pytest.raises(StoreError, match="cannot name a file"):
            store.write(name, "network", IOS)


_HOLDER = """
import sys, time
from agent.audit.store import Store
with Store(sys.argv[1]).lock(5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_run_waits_then_gives_up_naming_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / "store"), "30"],
                              stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with pytest.raises(StoreError, match=rf"in use by another backup run \(PID {holder.pid}\); waited 0.5s"):
            with Store(tmp_path / "store").lock(0.5):
                pass
        assert 0.5 <= time.monotonic() - started < 2
    finally:
        holder.kill()
        holder.wait()
    with Store(tmp_path / "store").lock(1) as waited:  # the lock died with its holder
        assert waited == 0


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path):
    store, events = Store(tmp_path / "store"), []

    def second():
        with store.lock(5) as waited:
            events.append(("second", waited))

    with store.lock(1):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.4)
        events.append(("first done", 0))
    thread.join(5)
    assert events[0] == ("first done", 0) and events[1][0] == "second" and events[1][1] >= 0.3


def test_commit_message_names_what_the_device_logged_under_its_line():
    changes = [Change("tanlap-rtr", "changed", "global (+1)"), Change("hoabinh-rtr", "changed", "global (+2)")]
    causes = {"tanlap-rtr": "Configured from vty0 by netops1 (192.0.2.10) at 2026-12-02 09:05:12+07:00\n"
                            "Configured by netops2 at 2026-12-02 09:05:13+07:00"}
    assert commit_message(changes, causes).split("\n")[2:] == [
        "tanlap-rtr: global (+1)", "  Configured from vty0 by netops1 (192.0.2.10) at 2026-12-02 09:05:12+07:00",
        "  Configured by netops2 at 2026-12-02 09:05:13+07:00", "hoabinh-rtr: global (+2)", ""]
