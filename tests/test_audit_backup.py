"""`egov-agent audit backup` and `audit diff` against real peers: simulated Cisco IOS and
Huawei VRP routers over SSH (tests/sim, on 127.78.0.x), one that never answers, one that
refuses the login, one that answers junk, an address where nothing listens, and a
disposable Linux host (tests/peer_sshd.py) reached as Ansible reaches it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from agent import exitcodes
from agent.audit.backup import run
from agent.audit.fetch import Fetcher, network_config
from agent.audit.store import Store
from agent.cli import main
from tests.peer_sim import ENABLE_SECRET, PASSWORD, start_fleet
from tests.peer_sshd import SshKey, make_key
from tests.sim import Device, fingerprint, public_key_line
from tests.sim.hp_comware import hashed as comware_hash

pytest_plugins = ("tests.peer_sshd",)  # the real peers this module's tests use

SECRETS = {"SIM_PASSWORD": PASSWORD, "SIM_ENABLE": ENABLE_SECRET}
FLEET = [
    Device("rtr-cisco", "127.78.0.1", "cisco_ios", secret=ENABLE_SECRET),
    Device("rtr-huawei", "127.78.0.2", "huawei"),
    Device("rtr-silent", "127.78.0.11", "cisco_ios", behaviour="silent"),
    Device("rtr-locked", "127.78.0.12", "huawei", behaviour="refuse_auth"),
    Device("rtr-garbled", "127.78.0.13", "huawei", behaviour="garbage"),
    Device("rtr-h3c", "127.78.0.3", "hp_comware"),
]
NOTHING_LISTENS = "127.78.0.99"
GOOD = "xa_tot"  # the site of the routers that work


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with start_fleet(FLEET, tmp_path_factory.mktemp("audit_fleet")) as fleet:
        yield fleet


def _router(address: str, platform: str, **check) -> dict:
    return {"ansible_host": address, "egov_role": "router", "egov_platform": platform, "egov_checks": {"ssh": check}}


def write_inventory(path: Path, fleet, moved: dict[str, str] | None = None) -> str:
    """Two communes: one whose routers work (and a switch without an ssh check), one whose
    routers each fail in their own way; `moved` points routers at other addresses."""
    moved = moved or {}
    good = {"rtr-cisco": _router(moved.get("rtr-cisco", "127.78.0.1"), "cisco_ios", secret_env="SIM_ENABLE"),
            "rtr-huawei": _router(moved.get("rtr-huawei", "127.78.0.2"), "huawei"),
            "sw-nossh": {"ansible_host": "127.78.0.50", "egov_role": "switch", "egov_platform": "cisco_ios"}}
    failing = {"rtr-silent": _router("127.78.0.11", "cisco_ios"), "rtr-locked": _router("127.78.0.12", "huawei"),
               "rtr-garbled": _router("127.78.0.13", "huawei"), "rtr-gone": _router(NOTHING_LISTENS, "huawei")}
    defaults = {"ssh": {"port": fleet.port, "username": "egov-netops", "password_env": "SIM_PASSWORD",
                        "known_hosts": str(path.parent / "known_hosts")}}
    path.write_text(json.dumps({
        "all": {"vars": {"egov_check_defaults": defaults}},
        "tinh": {"vars": {"egov_site_type": "province"}, "children": {
            GOOD: {"vars": {"egov_site_type": "commune"}, "hosts": good},
            "xa_loi": {"vars": {"egov_site_type": "commune"}, "hosts": failing}}}}))
    return str(path)


def backup(inventory: str, store: Path, *options: str) -> tuple[int, str, str]:
    """`egov-agent audit backup` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["audit", "backup", "-i", inventory, "--store", str(store), "--timeout", "6",
                     "--known-hosts", str(store.parent / "known_hosts"), "--no-golden", *options])
    return code, out.getvalue(), err.getvalue()


def git(store: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(store), *args], capture_output=True, text=True, check=True).stdout


def configure(fleet, name: str, lines: list[str]) -> None:
    """Change a router's configuration over SSH, as an operator would. On VRP the lines are
    typed in system-view, and the session ends with `quit`: netmiko's config_mode and
    disconnect wait seconds for the simulator's silence."""
    device = fleet[name]
    connection = ConnectHandler(device_type=device.platform, host=device.address, port=fleet.port,
                                username=device.username, password=PASSWORD, secret=device.secret)
    if device.platform == "huawei":
        for line in ["system-view", *lines, "return"]:
            connection.send_command(line, expect_string=r"[\]>]\s*$")
        connection.write_channel("quit\n")
        connection.paramiko_cleanup()
        return
    try:
        connection.enable()
        connection.send_config_set(lines)
    finally:
        connection.disconnect()


# What the simulators print instead of the secrets (tests/sim): no backup may hold them either.
SIM_HASHES = ["$9$" + hashlib.sha256(ENABLE_SECRET.encode()).hexdigest()[:40],
              "$9$" + hashlib.sha256(PASSWORD.encode()).hexdigest()[:40],
              "$1c$" + hashlib.sha256(PASSWORD.encode()).hexdigest()[:32]]


@pytest.fixture(scope="module")
def history(fleet, tmp_path_factory):
    """One store through five runs: the first, an unchanged one, one after an operator changed
    both routers, one after a secret changed, one with a router unreachable. Each stage keeps
    (exit code, stdout, stderr, commits, the files' bytes, status)."""
    directory = tmp_path_factory.mktemp("audit_history")
    store = directory / "store"
    inventory = write_inventory(directory / "inventory.yml", fleet)
    saved = {name: os.environ.get(name) for name in SECRETS}
    os.environ.update(SECRETS)
    stages = {}

    def stage(name, *options, inventory=inventory):
        code, out, err = backup(inventory, store, *options)
        files = {name: path.read_bytes() for name, path in Store(store).files().items()}
        mtimes = {name: path.stat().st_mtime_ns for name, path in Store(store).files().items()}
        stages[name] = dict(code=code, out=out, err=err, commits=git(store, "log", "--format=%H %s").splitlines(),
                            files=files, mtimes=mtimes, status=Store(store).status())

    try:
        stage("first")
        stage("unchanged", "--limit", GOOD)
        configure(fleet, "rtr-cisco", ["interface GigabitEthernet0/1", "description to pop-dongha-rtr", "exit",
                                       "logging host 192.0.2.51", "snmp-server community Tinh-M4u-RO RO"])
        configure(fleet, "rtr-huawei", ["info-center loghost 192.0.2.51"])
        stage("changed", "--limit", GOOD)
        configure(fleet, "rtr-cisco", ["no snmp-server community Tinh-M4u-RO RO", "snmp-server community M0i-2025 RO"])
        stage("secret", "--limit", GOOD)
        moved = write_inventory(directory / "moved.yml", fleet, moved={"rtr-huawei": "127.78.0.98"})  # nothing there
        stage("unreachable", "--limit", GOOD, inventory=moved)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return store, stages


def test_first_backup_fetches_both_platforms_and_reports_each_failure(history):
    store, stages = history
    first = stages["first"]
    assert first["code"] == exitcodes.UNKNOWN, first["out"] + first["err"]  # some failed
    lines = dict(re.match(r"(\S+)\s+(.*)", line).groups() for line in first["out"].splitlines()
                 if line.startswith("rtr-"))
    assert lines["rtr-cisco"].startswith("new ") and lines["rtr-huawei"].startswith("new ")
    assert lines["rtr-silent"].startswith("FAILED     timeout: ")
    assert lines["rtr-locked"].startswith("FAILED     auth: ")
    assert lines["rtr-garbled"].startswith("FAILED     parse: the device answered 'display current-configuration'")
    assert lines["rtr-gone"] == "FAILED     connect: connection refused"
    assert "not backed up (network devices without an ssh check): sw-nossh" in first["out"]
    assert re.search(r"^backup: 6 devices: 2 new, 4 failed; commit [0-9a-f]+ in ", first["out"], re.M)

    assert sorted(first["files"]) == ["rtr-cisco", "rtr-huawei"]  # a failure is never a file
    cisco, huawei = first["files"]["rtr-cisco"].decode(), first["files"]["rtr-huawei"].decode()
    assert "hostname rtr-cisco\n" in cisco and cisco.endswith("\nend\n")
    assert " sysname rtr-huawei\n" in huawei and huawei.endswith("\nreturn\n")
    assert "Current configuration" not in cisco and "!Last configuration was updated" not in huawei
    assert [commit.split(" ", 1)[1] for commit in first["commits"]] == ["backup: 2 new (rtr-cisco, rtr-huawei)"]

    status = first["status"]
    assert {name: entry.get("reason") for name, entry in status.items()} == {
        "rtr-cisco": None, "rtr-huawei": None, "rtr-silent": "timeout", "rtr-locked": "auth",
        "rtr-garbled": "parse", "rtr-gone": "connect"}
    assert status["rtr-cisco"]["last_success"] == status["rtr-cisco"]["last_change"] == \
        status["rtr-cisco"]["last_attempt"]
    gone = status["rtr-gone"]
    assert gone == {"platform": "huawei", "site": "xa_loi", "last_attempt": gone["last_attempt"],
                    "reason": "connect", "detail": "connection refused"}


def test_secrets_are_tokens_in_the_backup_and_nowhere_in_the_output(history):
    store, stages = history
    cisco, huawei = stages["first"]["files"]["rtr-cisco"].decode(), stages["first"]["files"]["rtr-huawei"].decode()
    assert re.search(r"^enable secret 9 <redacted:[0-9a-f]{12}>$", cisco, re.M)
    assert re.search(r"^username egov-netops privilege 15 secret 9 <redacted:[0-9a-f]{12}>$", cisco, re.M)
    assert re.search(r"^ local-user egov-netops password irreversible-cipher <redacted:[0-9a-f]{12}>$", huawei, re.M)
    everything = [*stages["first"]["files"].values(), *stages["secret"]["files"].values()]
    everything += [stage[part].encode() for stage in stages.values() for part in ("out", "err")]
    everything += [git(store, "log", "-p", "--all").encode()]
    for secret in [PASSWORD, ENABLE_SECRET, "Tinh-M4u-RO", "M0i-2025", *SIM_HASHES]:
        assert not any(secret.encode() in blob for blob in everything), secret
    key = store / ".redaction-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ".redaction-key" not in git(store, "ls-files") and "status.json" not in git(store, "ls-files")


def test_an_unchanged_run_commits_nothing(history):
    _, stages = history
    unchanged = stages["unchanged"]
    assert unchanged["code"] == 0
    assert unchanged["commits"] == stages["first"]["commits"]
    assert unchanged["files"] == stages["first"]["files"]
    assert "rtr-cisco   unchanged" in unchanged["out"] and "rtr-silent" not in unchanged["out"]  # --limit
    assert "backup: 2 devices: 2 unchanged; no change to commit" in unchanged["out"]
    assert unchanged["status"]["rtr-cisco"]["last_change"] == stages["first"]["status"]["rtr-cisco"]["last_change"]


def test_a_change_is_one_commit_naming_the_contexts(history):
    store, stages = history
    changed = stages["changed"]
    assert changed["code"] == 0, changed["out"]
    assert len(changed["commits"]) == 2
    message = git(store, "log", "-1", "--format=%B", changed["commits"][0].split()[0])
    assert message.split("\n")[0] == "backup: 2 changed (rtr-cisco, rtr-huawei)"
    assert "rtr-cisco: global (+2), interface GigabitEthernet0/1 (+1)\n" in message
    assert "rtr-huawei: global (+1)\n" in message
    assert "rtr-cisco   changed    global (+2), interface GigabitEthernet0/1 (+1)" in changed["out"]
    cisco = changed["files"]["rtr-cisco"].decode()
    assert "interface GigabitEthernet0/1\n description to pop-dongha-rtr\n" in cisco
    assert re.search(r"^snmp-server community <redacted:[0-9a-f]{12}> RO$", cisco, re.M)


def test_a_changed_secret_is_a_changed_line(history):
    store, stages = history
    secret = stages["secret"]
    assert secret["commits"][0].split(" ", 1)[1] == "backup: 1 changed (rtr-cisco)"
    before = re.search(r"^snmp-server community (\S+) RO$", stages["changed"]["files"]["rtr-cisco"].decode(), re.M)
    after = re.search(r"^snmp-server community (\S+) RO$", secret["files"]["rtr-cisco"].decode(), re.M)
    assert before[1] != after[1] and after[1].startswith("<redacted:")
    assert "rtr-cisco: global (+1 −1)" in git(store, "log", "-1", "--format=%B")


def test_an_unreachable_device_keeps_its_last_backup(history):
    _, stages = history
    unreachable, before = stages["unreachable"], stages["secret"]
    assert unreachable["code"] == exitcodes.UNKNOWN
    assert "rtr-huawei  FAILED     connect: connection refused" in unreachable["out"]
    assert unreachable["files"]["rtr-huawei"] == before["files"]["rtr-huawei"]
    assert unreachable["mtimes"]["rtr-huawei"] == before["mtimes"]["rtr-huawei"]  # not even rewritten
    assert unreachable["commits"] == before["commits"]
    status = unreachable["status"]["rtr-huawei"]
    assert status["reason"] == "connect" and status["last_success"] == before["status"]["rtr-huawei"]["last_success"]
    assert status["last_attempt"] >= status["last_success"]


def test_diff_shows_a_devices_history(history, capsys):
    store, stages = history
    assert main(["audit", "diff", "rtr-cisco", "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert len(re.findall(r"^commit [0-9a-f]{40}$", shown, re.M)) == 3  # new, changed, secret changed
    assert "    backup: 1 changed (rtr-cisco)" in shown and "    backup: 2 new (rtr-cisco, rtr-huawei)" in shown
    assert "\n+ description to pop-dongha-rtr\n" in shown and "\n+logging host 192.0.2.51\n" in shown
    assert set(re.findall(r"^diff --git .*$", shown, re.M)) == {  # only its own file's diffs
        "diff --git a/network/rtr-cisco.cfg b/network/rtr-cisco.cfg"}

    assert main(["audit", "diff", "rtr-cisco", "--store", str(store), "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == "rtr-cisco: no change since 2999-01-01 00:00:00\n"

    assert main(["audit", "diff", "rtr-cisko", "--store", str(store)]) == exitcodes.BAD_INPUT
    assert capsys.readouterr().err == f"egov-agent: no backup of 'rtr-cisko' in {store} (near: rtr-cisco)\n"
    assert main(["audit", "diff", "rtr-silent", "--store", str(store)]) == exitcodes.BAD_INPUT
    assert "it has never been fetched: timeout: " in capsys.readouterr().err
    assert main(["audit", "diff", "rtr-cisco", "--store", str(store), "--since", "last week"]) == exitcodes.USAGE


def test_concurrent_runs_take_turns_and_leave_a_sound_repository(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_PASSWORD", PASSWORD)
    monkeypatch.setenv("SIM_ENABLE", ENABLE_SECRET)
    inventory, store = write_inventory(tmp_path / "inventory.yml", fleet), tmp_path / "store"
    outputs, codes = [], []

    def one_run():  # run() itself: redirecting sys.stdout is not per thread
        out = io.StringIO()
        codes.append(run(inventory, str(store), Fetcher(tmp_path / "known_hosts", timeout=6), GOOD, golden=False,
                         out=out))
        outputs.append(out.getvalue())

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [0, 0], outputs
    waited = [out for out in outputs if "for another backup run to finish" in out]
    assert len(waited) == 1  # one writer at a time: the second waited for the first
    assert "2 unchanged; no change to commit" in waited[0]  # and found the first one's work done
    assert len(git(store, "log", "--format=%H").split()) == 1
    assert subprocess.run(["git", "-C", str(store), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git(store, "status", "--porcelain") == ""


def test_a_run_that_cannot_get_the_store_gives_up_naming_the_holder(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_PASSWORD", PASSWORD)
    inventory, store = write_inventory(tmp_path / "inventory.yml", fleet), tmp_path / "store"
    with Store(store).lock(1):
        code, out, err = backup(inventory, store, "--limit", "rtr-huawei", "--lock-timeout", "0.3")
    assert code == exitcodes.UNKNOWN
    assert err == f"egov-agent: {store} is in use by another backup run (PID {os.getpid()}); waited 0.3s\n"


def test_host_keys_are_recorded_then_checked(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_PASSWORD", PASSWORD)
    inventory, store = write_inventory(tmp_path / "inventory.yml", fleet), tmp_path / "store"
    entry = f"[127.78.0.2]:{fleet.port}"
    (tmp_path / "known_hosts").write_text(f"{entry} {public_key_line('another device')}\n")
    code, out, _ = backup(inventory, store, "--limit", "rtr-huawei")
    assert code == exitcodes.UNKNOWN and re.search(rf"rtr-huawei  FAILED     tls: rtr-huawei \(127\.78\.0\.2:{fleet.port}\) presents "
                                   rf"host key {re.escape(fingerprint('rtr-huawei'))}, but ", out), out
    (tmp_path / "known_hosts").unlink()
    code, out, err = backup(inventory, store, "--limit", "rtr-huawei")
    assert code == 0 and "recorded the SSH host key of a device seen for the first time" in err
    assert (tmp_path / "known_hosts").read_text() == f"{entry} {public_key_line('rtr-huawei')}\n"


def test_a_comware_router_is_backed_up_with_its_secrets_redacted(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_PASSWORD", PASSWORD)
    configure_comware = ConnectHandler(device_type="hp_comware", host="127.78.0.3", port=fleet.port,
                                       username="egov-netops", password=PASSWORD)
    configure_comware.send_config_set(["snmp-agent community read Tinh-M4u-RO"])
    configure_comware.disconnect()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"tinh": {"vars": {"egov_site_type": "province"}, "hosts": {
        "rtr-h3c": _router("127.78.0.3", "hp_comware", port=fleet.port, username="egov-netops",
                           password_env="SIM_PASSWORD", known_hosts=str(tmp_path / "known_hosts"))}}}))
    code, out, err = backup(str(inventory), tmp_path / "store")
    assert code == 0, out + err
    saved = Store(tmp_path / "store").files()["rtr-h3c"].read_text()
    assert re.search(r"^ sysname rtr-h3c$", saved, re.M) and saved.rstrip().endswith("return")
    assert re.search(r"^ password hash <redacted:[0-9a-f]{12}>$", saved, re.M)
    assert re.search(r"^ snmp-agent community read <redacted:[0-9a-f]{12}>", saved, re.M)
    blobs = [saved, out, err, git(tmp_path / "store", "log", "-p", "--all")]
    for secret in (PASSWORD, "Tinh-M4u-RO", comware_hash(PASSWORD)):
        assert not any(secret in blob for blob in blobs), secret


def test_bad_input_is_exit_4_naming_it(fleet, tmp_path, capsys):
    inventory = write_inventory(tmp_path / "inventory.yml", fleet)
    assert backup(inventory, tmp_path / "store", "--limit", "xa_tott")[:2] == (exitcodes.BAD_INPUT, "")
    assert "--limit: no site or host named 'xa_tott' (near: xa_tot" in backup(
        inventory, tmp_path / "store", "--limit", "xa_tott")[2]
    code, _, err = backup(str(tmp_path / "missing.yml"), tmp_path / "store")
    assert code == exitcodes.BAD_INPUT and "missing.yml" in err
    code, _, err = backup(inventory, tmp_path / "store", "--limit", "sw-nossh")
    assert code == exitcodes.BAD_INPUT and "nothing to back up" in err
    assert not (tmp_path / "store").exists()


def test_golden_configurations_are_stored_for_the_drift_report(fleet, tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_PASSWORD", PASSWORD)
    monkeypatch.setenv("SIM_ENABLE", ENABLE_SECRET)
    inventory, store = write_inventory(tmp_path / "inventory.yml", fleet), tmp_path / "store"
    code = run(inventory, str(store), Fetcher(tmp_path / "known_hosts", timeout=6), limit=GOOD)
    assert code == 0
    golden = Store(store).golden("rtr-cisco")
    assert golden[0] == "hostname rtr-cisco" and "line vty 0 4" in golden
    assert Store(store).golden("rtr-huawei")[0] == "sysname rtr-huawei"
    assert "golden" not in git(store, "ls-files")


# ------------------------------------------------------------------ a Linux host

def _add_user(target, name: str, uid: int, key: SshKey, sudo: bool) -> None:
    """A login on the target, with a key, with or without sudo."""
    for file, line in (("passwd", f"{name}:x:{uid}:{uid}::/home/{name}:/bin/sh"), ("group", f"{name}:x:{uid}:"),
                       ("shadow", f"{name}:*:19000:0:99999:7:::")):
        with target.path(f"/etc/{file}").open("a") as f:
            f.write(line + "\n")
    ssh = target.path(f"/home/{name}/.ssh")
    ssh.mkdir(parents=True)
    (ssh / "authorized_keys").write_text(key.public + "\n")
    if sudo:
        rule = target.path(f"/etc/sudoers.d/{name}")
        rule.write_text(f"{name} ALL=(root) NOPASSWD: ALL\n")
        rule.chmod(0o440)


def test_linux_host_configuration_in_sections_redacted(ssh_targets, tmp_path):  # noqa: F811
    target = ssh_targets.start(address="127.78.1.1")
    try:
        agent = target.path("/etc/egov-agent")
        agent.mkdir()
        (agent / "agent.yml").write_text("listen: 127.0.0.1:9469\ncollectors:\n  imap:\n"
                                         "    password_env: EGOV_IMAP_PASSWORD\n    password: hunter2-not-here\n")
        (agent / "web.yml").write_text("basic_auth_users:\n  prometheus: "
                                       "$2y$10$Ap9QwFJ3VsdmNg1Hw8FRA.xHLs2dORZkVpqpJ3b6dTUq0EjT/kQxC\n")
        target.path("/etc/ssh/sshd_config.d/10-egov.conf").write_text("PermitRootLogin no\n")
        user_key = make_key(tmp_path, "backup_key")
        _add_user(target, "egov-backup", 2901, user_key, sudo=True)
        _add_user(target, "egov-nosudo", 2902, user_key, sudo=False)

        def host(user: str, key: Path) -> dict:
            return {"ansible_host": target.address, "ansible_port": target.port, "ansible_user": user,
                    "ansible_ssh_private_key_file": str(key), "egov_role": "app_server", "egov_platform": "linux"}

        hosts = {"srv-root": host("root", ssh_targets.root_key.private),
                 "srv-sudo": host("egov-backup", user_key.private),
                 "srv-nosudo": host("egov-nosudo", user_key.private)}
        results = {}  # one target, three logins: an inventory each (an address belongs to one host)
        for name, variables in hosts.items():
            inventory = tmp_path / f"{name}.yml"
            inventory.write_text(json.dumps({"tinh": {"vars": {"egov_site_type": "province"},
                                                      "hosts": {name: variables}}}))
            results[name] = backup(str(inventory), tmp_path / "store", "--limit", name)
    finally:
        ssh_targets.stop(target)

    code, out, err = results["srv-root"]
    assert code == 0, out + err
    text = Store(tmp_path / "store").read("srv-root")
    headers = re.findall(r"^==> (.+) <==$", text, re.M)
    assert headers[:4] == ["/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/10-egov.conf", "sshd -T", "/etc/sudoers"]
    assert {"nft list ruleset", "/etc/systemd/timesyncd.conf", "/etc/chrony/chrony.conf",
            "/etc/egov-agent/agent.yml", "/etc/egov-agent/web.yml", "/etc/sudoers.d/egov-backup"} <= set(headers)
    assert "==> /etc/ssh/sshd_config.d/10-egov.conf <==\nPermitRootLogin no\n==> sshd -T <==\n" in text
    assert re.search(r"^permitrootlogin no$", text, re.M)  # sshd -T: what sshd applies
    if not Path("/etc/chrony/chrony.conf").exists():  # the target is a copy of this machine
        assert "==> /etc/chrony/chrony.conf <==\n(absent)\n" in text
    assert "    password_env: EGOV_IMAP_PASSWORD\n    password: <redacted:" in text
    assert "hunter2" not in text and "$2y$10$" not in text and "  prometheus: <redacted:" in text
    assert "new, " in out and "recorded the SSH host key" in err  # first contact, logged

    code, out, err = results["srv-sudo"]
    assert code == 0, out + err
    as_user = Store(tmp_path / "store").read("srv-sudo")
    assert "==> /etc/sudoers <==\n" in as_user and "\n(absent)\n==> /etc/sudoers <==" not in as_user  # root read it

    code, out, err = results["srv-nosudo"]
    assert code == exitcodes.UNKNOWN and "srv-nosudo" not in Store(tmp_path / "store").files()
    assert re.search(r"srv-nosudo  FAILED     auth: egov-nosudo@127\.78\.1\.1:\d+: exit 1: "
                     r"sudo: a password is required", out), out


def test_a_config_answer_must_be_whole():
    whole = "Building configuration...\n\nCurrent configuration : 10 bytes\n!\nhostname r1\n!\nntp clock-period 17\nend"
    assert network_config(whole, "cisco_ios") == "!\nhostname r1\n!\nend\n"
    for answer, problem in [("", "nothing"), ("                ^\n% Invalid input detected at '^' marker.", "Invalid"),
                            ("!\nversion 15.7\n!\nend", "no hostname line"),
                            ("!\nhostname r1\n!\ninterface GigabitEthernet0/0\n no ip", "cut short")]:
        with pytest.raises(Exception, match=problem):
            network_config(answer, "cisco_ios")
    with pytest.raises(Exception, match="Error: Unrecognized command"):
        network_config("   ^\nError: Unrecognized command found at '^' position.", "huawei")
