"""`egov-agent provision` applied for real: playbooks/ on disposable sshd targets.

Each target is a copy-on-write copy of this machine behind a real sshd on its own
127.x address (tests/peer_sshd.py); what a playbook writes is read back from the
target's overlay. Every expensive run happens once in a module fixture; the tests
assert its separate aspects.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exitcodes
from agent.provision import HostResult, phase_of, summary, unreachable_reason
from tests.peer_sshd import (connection, make_key, office_inventory, override_inventory, provision_run,
                             require_baseline_packages)
from tests.peers import free_port, http_get

pytest_plugins = ("tests.peer_sshd",)  # the real peers this module's tests use

REPO = Path(__file__).resolve().parent.parent
FILE_SD = "/etc/prometheus/file_sd/egov.json"  # the agent host runs Prometheus too
OFFICE = "xa_thu_01"
LINUX_HOSTS = ["thu01-motcua-01", "thu01-motcua-02"]


@pytest.fixture(scope="module")
def admin_key(ssh_targets):  # noqa: F811
    require_baseline_packages()
    return make_key(ssh_targets.directory, "admin_key")


@pytest.fixture(scope="module")
def office(ssh_targets, admin_key, tmp_path_factory):  # noqa: F811
    """One commune office with two Linux hosts: check mode on fresh hosts, apply, apply
    again, check mode again. The state after the first check is kept for its test."""
    targets = ssh_targets.start_many(len(LINUX_HOSTS))
    inventory = office_inventory(tmp_path_factory.mktemp("office") / "inventory.yml",
                                 {OFFICE: {name: connection(t, ssh_targets.root_key)
                                           for name, t in zip(LINUX_HOSTS, targets)}}, admin_key)
    runs = {"fresh_check": provision_run(OFFICE, str(inventory), check=True)}
    runs["after_check"] = {"dropin": targets[0].path("/etc/ssh/sshd_config.d/00-egov-hardening.conf").exists(),
                           "passwd": targets[0].path("/etc/passwd").read_text()}
    runs["apply"] = provision_run(OFFICE, str(inventory))
    runs["reapply"] = provision_run(OFFICE, str(inventory))
    runs["check"] = provision_run(OFFICE, str(inventory), check=True)
    yield dict(zip(LINUX_HOSTS, targets)), runs, inventory
    for target in targets:
        ssh_targets.stop(target)


def _explain(run) -> str:
    return f"rc={run.rc}\n{run.output[-6000:]}"


def test_check_mode_on_a_fresh_host_shows_diffs_and_changes_nothing(office):
    _, runs, _ = office
    run = runs["fresh_check"]
    assert run.rc == 0, _explain(run)
    assert "check mode" in run.output
    for host in LINUX_HOSTS:
        assert run.hosts[host]["changed"] > 0, _explain(run)
        assert f"{host}: would change: Ssh | Harden sshd" in run.output
    assert "+PermitRootLogin no" in run.output  # the diff of the drop-in
    assert not runs["after_check"]["dropin"]
    assert "egov-ops:" not in runs["after_check"]["passwd"]


def test_baseline_applies_to_every_linux_host_of_the_office(office):
    _, runs, _ = office
    run = runs["apply"]
    assert run.rc == 0, _explain(run)
    for host in LINUX_HOSTS:
        assert run.hosts[host]["failed"] == 0 and run.hosts[host]["changed"] > 0, _explain(run)
    assert "applied: Users: Create the admin group" in run.output
    # the router is network gear: sorted by platform, no Linux baseline, never connected to
    assert run.hosts[f"{OFFICE}-rtr"] == {"ok": 1, "changed": 0, "failed": 0, "unreachable": 0}


def test_time_logs_updates_and_ssh_config_come_from_the_inventory(office):
    targets, _, _ = office
    target = targets[LINUX_HOSTS[0]]
    timesyncd = target.path("/etc/systemd/timesyncd.conf.d/50-egov.conf").read_text()
    assert "NTP=127.10.1.123\n" in timesyncd and "FallbackNTP=\n" in timesyncd
    rsyslog = target.path("/etc/rsyslog.d/90-egov-forward.conf").read_text()
    assert 'target="127.10.1.51"' in rsyslog and 'protocol="tcp"' in rsyslog
    assert '"origin=Debian,codename=${distro_codename}-security,label=Debian-Security";' in \
        target.path("/etc/apt/apt.conf.d/52egov-unattended-upgrades").read_text()
    assert 'APT::Periodic::Unattended-Upgrade "1";' in target.path("/etc/apt/apt.conf.d/20auto-upgrades").read_text()
    dropin = target.path("/etc/ssh/sshd_config.d/00-egov-hardening.conf").read_text()
    assert "PermitRootLogin no\n" in dropin and "PasswordAuthentication no\n" in dropin


def test_sshd_on_the_host_would_refuse_root_and_passwords(office, ssh_targets):  # noqa: F811
    """The host's own sshd configuration (not the rig's): `sshd -T` prints what it applies."""
    targets, _, _ = office
    effective = _ssh(targets[LINUX_HOSTS[0]], ssh_targets.root_key.private, "root", "/usr/sbin/sshd -T")
    lines = set(effective.splitlines())
    assert {"permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no",
            "authenticationmethods publickey"} <= lines


def test_admin_user_logs_in_with_its_key_and_has_sudo(office, admin_key):
    targets, _, _ = office
    target = targets[LINUX_HOSTS[1]]
    assert "egov-ops:" in target.path("/etc/passwd").read_text()
    keys = target.path("/home/egov-ops/.ssh/authorized_keys")
    assert keys.read_text() == admin_key.public + "\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "%egov-admins ALL=(ALL:ALL) NOPASSWD: ALL" in target.path("/etc/sudoers.d/egov-admins").read_text()
    assert _ssh(target, admin_key.private, "egov-ops", "sudo -n id -u").strip() == "0"


def test_firewall_ruleset_loads_and_drops_by_default(office):
    """Loaded into a network namespace of its own: applying it on the test machine would
    firewall everyone's tests."""
    targets, _, _ = office
    ruleset = targets[LINUX_HOSTS[0]].path("/etc/nftables.conf")
    listed = subprocess.run(["unshare", "--net", "sh", "-c", f"nft -f {ruleset} && nft list ruleset"],
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert "policy drop;" in listed.stdout
    assert "ip saddr 127.10.0.0/16 tcp dport 22 accept" in listed.stdout
    # the monitoring server comes from the inventory's monitoring_servers group
    assert "ip saddr 127.10.3.50 tcp dport 9469 accept" in listed.stdout


def test_services_are_left_to_systemd_and_not_started_here(office):
    """No systemd on the targets: nothing is started (rsyslog would forward, timesyncd would
    query NTP); the files are written and validated, the services skipped."""
    _, runs, _ = office
    assert "Services | Enable and start the baseline services" not in runs["apply"].output.split("summary of")[1]


def test_every_office_host_runs_the_agent_for_its_own_metrics(office):
    """The agent answers on the host's address; without the inventory, it probes nothing."""
    targets, _, _ = office
    for target in targets.values():
        status, _, metrics = http_get(f"http://{target.address}:9469/metrics")
        assert status == 200 and b"node_load1" in metrics and b"egov_icmp_up" not in metrics
        config = target.path("/etc/egov-agent/agent.yml").read_text()
        assert "inventory:" not in config and not target.path("/etc/egov-agent/inventory").exists()


def test_second_run_changes_nothing(office):
    _, runs, _ = office
    run = runs["reapply"]
    assert run.rc == 0, _explain(run)
    assert run.hosts and all(counts["changed"] == 0 for counts in run.hosts.values()), _explain(run)


def test_check_mode_on_a_compliant_host_reports_no_change(office):
    _, runs, _ = office
    run = runs["check"]
    assert run.rc == 0, _explain(run)
    assert all(counts["changed"] == 0 for counts in run.hosts.values()), _explain(run)
    assert "would change" not in run.output


def test_unknown_site_matches_no_host(office):
    _, _, inventory = office
    run = provision_run("xa_khong_co", str(inventory))
    assert run.rc == exitcodes.BAD_INPUT
    assert "no host of the inventory matches 'xa_khong_co'" in run.output


@pytest.fixture(scope="module")
def broken_office(ssh_targets, admin_key, tmp_path_factory):  # noqa: F811
    """A good host, a host with nothing listening, and a host that refuses our key."""
    good, locked = ssh_targets.start_many(2)
    directory = tmp_path_factory.mktemp("broken_office")
    stranger = make_key(directory, "stranger_key")
    silent = "127.78.0.1"
    hosts = {"good-01": connection(good, ssh_targets.root_key),
             "refused-01": connection(None, ssh_targets.root_key, address=silent, port=free_port(silent)),
             "wrongkey-01": connection(locked, stranger)}
    inventory = office_inventory(directory / "inventory.yml", {"xa_hong": hosts}, admin_key)
    yield provision_run("xa_hong", str(inventory))
    for target in (good, locked):
        ssh_targets.stop(target)


def test_an_unreachable_host_does_not_stop_the_others(broken_office):
    run = broken_office
    assert run.rc == exitcodes.UNKNOWN, _explain(run)  # some host unreachable, none failed
    assert run.hosts["good-01"]["failed"] == 0 and run.hosts["good-01"]["changed"] > 0, _explain(run)
    assert run.hosts["refused-01"]["unreachable"] == 1
    assert "unreachable (refused)" in run.output


def test_an_authentication_failure_is_reported_for_its_host(broken_office):
    run = broken_office
    assert run.hosts["wrongkey-01"]["unreachable"] == 1, _explain(run)
    assert "wrongkey-01: UNREACHABLE (auth)" in run.output
    assert "unreachable (auth): " in run.output.split("wrongkey-01")[-1]


@pytest.fixture(scope="module")
def agent_host(ssh_targets, admin_key, tmp_path_factory):  # noqa: F811
    """egov-agent-01 of the example inventory on a target at its own address, deployed
    twice from a snapshot of this checkout (others may edit the checkout meanwhile)."""
    directory = tmp_path_factory.mktemp("agent_host")
    source = directory / "src"
    for part in ("agent", "collectors", "policies"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, source / part)
    wheelhouse = REPO / "build" / "wheelhouse"
    if not any(wheelhouse.glob("setuptools-*.whl")):
        pytest.fail(f"{wheelhouse} lacks the dependency wheels: scripts/setup.sh test builds them")
    shutil.copytree(wheelhouse, source / "build" / "wheelhouse")
    target = ssh_targets.start("127.10.3.50")
    port = free_port(target.address)
    override = override_inventory(
        directory / "override.yml", {"egov-agent-01": connection(target, ssh_targets.root_key)}, admin_key,
        egov_agent_port=port, egov_agent_extras=[], egov_agent_source_dir=str(source),
        egov_agent_wheelhouse=str(source / "build" / "wheelhouse"), egov_agent_file_sd=FILE_SD)
    inventory = [str(REPO / "inventory" / "example"), str(override)]
    runs = [provision_run("egov-agent-01", inventory, playbook="deploy_agent.yml") for _ in range(2)]
    yield target, port, runs
    ssh_targets.stop(target)


def test_agent_is_deployed_and_answers_on_the_host_address(agent_host):
    target, port, (first, _) = agent_host
    assert first.rc == 0, _explain(first)
    status, _, body = http_get(f"http://{target.address}:{port}/healthz")
    assert (status, body.strip()) == (200, b"OK")
    status, _, metrics = http_get(f"http://{target.address}:{port}/metrics")
    assert status == 200 and b"egov_build_info" in metrics


def test_the_prometheus_targets_are_written_from_the_deployed_inventory(agent_host):
    target, _, (first, second) = agent_host
    groups = json.loads(target.path(FILE_SD).read_text())
    # from the inventory the role ships (the example's; the test's port override stays on the controller)
    assert {"targets": ["127.10.3.50:9469"], "labels": {
        "agent": "egov-agent-01", "site": "dc_chinh_rack_a2", "site_type": "rack"}} in groups
    assert "changed: Config | Write the Prometheus targets" in first.output
    assert "Write the Prometheus targets" not in second.output  # unchanged the second time


def test_agent_config_unit_and_inventory_are_in_place(agent_host):
    target, port, _ = agent_host
    config = target.path("/etc/egov-agent/agent.yml").read_text()
    assert f'listen: "127.10.3.50:{port}"' in config and "inventory_host: egov-agent-01" in config
    unit = target.path("/etc/systemd/system/egov-agent.service").read_text()
    assert "ExecStart=/opt/egov-agent/venv/bin/egov-agent run --config /etc/egov-agent/agent.yml" in unit
    example = REPO / "inventory" / "example"
    copied = target.path("/etc/egov-agent/inventory")
    assert sorted(p.relative_to(copied) for p in copied.rglob("*")) == \
        sorted(p.relative_to(example) for p in example.rglob("*"))
    assert (copied / "00-sites.yml").read_bytes() == (example / "00-sites.yml").read_bytes()


def test_agent_redeploy_changes_nothing(agent_host):
    _, _, (_, second) = agent_host
    assert second.rc == 0, _explain(second)
    assert second.hosts["egov-agent-01"]["changed"] == 0, _explain(second)


def _ssh(target, key: Path, user: str, command: str) -> str:
    result = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", "-i", str(key), "-p", str(target.port), f"{user}@{target.address}", command],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- the parts that need no target


def test_provision_imports_without_ansible():
    code = ("import sys; sys.modules['ansible_runner'] = None; sys.modules['ansible'] = None\n"
            "import agent.provision, agent.cli")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("message, reason", [
    ("Failed to connect to the host via ssh: root@127.0.0.1: Permission denied (publickey).", "auth"),
    ("Failed to connect to the host via ssh: ssh: connect to host 127.78.0.1 port 4022: Connection refused", "refused"),
    ("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.9 port 22: Connection timed out", "timeout"),
    ("Failed to connect to the host via ssh: kex_exchange_identification: read: Connection reset by peer", "connect"),
])
def test_unreachable_reasons(message, reason):
    assert unreachable_reason(message) == reason


def test_phases_come_from_role_and_task_prefix():
    assert phase_of("host_baseline", "Ssh | Harden sshd") == "host_baseline: Ssh"
    assert phase_of("", "Group by egov_platform") == "Group by egov_platform"


def test_summary_lists_counts_failures_and_what_was_applied():
    stats = {"ok": {"a": 5, "b": 1}, "changed": {"a": 2}, "dark": {"b": 1}}
    hosts = {"a": HostResult(applied=["Ssh | Harden sshd", "Time | Sync time", "Ssh | Reload"]),
             "b": HostResult(errors=["Permission denied (publickey)."], unreachable="auth")}
    lines = summary(stats, hosts, check=False)
    assert lines[1].split() == ["a", "5", "2", "0", "0"]
    assert lines[2] == "  applied: Ssh: Harden sshd, Reload; Time: Sync time"
    assert lines[3].split() == ["b", "1", "0", "0", "1"]
    assert lines[4] == "  unreachable (auth): Permission denied (publickey)."
    assert summary(stats, hosts, check=True)[2].startswith("  would apply: ")
