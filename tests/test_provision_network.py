"""`egov-agent provision` on network gear: the network_baseline role and its egov_net_config
module, run through ansible-runner against simulated Cisco IOS and Huawei VRP devices over
real SSH (tests/sim). What the devices hold afterwards is read back over SSH; the golden
lines are the role's templates as Ansible renders them for each device. The expensive runs
happen once in module fixtures; the tests assert their separate aspects. Below them, the
module's pure diff functions on configurations in the devices' own format.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from agent import platforms, provision
from agent.audit import assess, configtext, golden, policy
from tests.peer_sim import PASSWORD, start_fleet
from tests.peer_sshd import Run, parse_summary
from tests.sim import Device, Port, public_key_line

REPO = Path(__file__).resolve().parent.parent
ROLE = REPO / "playbooks/roles/network_baseline"
PASSWORD_ENV = "EGOV_TEST_NET_PASSWORD"
ENABLE_SECRET = "golden-enable-secret"  # what the baseline sets; a test value
ENV = {PASSWORD_ENV: PASSWORD, "EGOV_NET_ENABLE_SECRET": ENABLE_SECRET}
REJECTED = "snmp-server group EGOV-RO v3 priv"  # the line thu02-rtr refuses in the failure test

# Devices boot with factory hostnames ("Switch", "Huawei", "H3C"): the baseline renames them.
# inventory name -> (the simulated device's boot name, platform, address, uplink, extra spec)
DEVICES = {
    "thu01-access-sw": ("Switch", "cisco_ios", "127.81.1.1", "GigabitEthernet1/0/1",
                 {"model": "WS-C2960X-24TS-L", "ports": [Port("GigabitEthernet1/0/1"), Port("GigabitEthernet1/0/2")]}),
    "thu01-rtr": ("Huawei", "huawei", "127.81.1.2", "GigabitEthernet0/0/0", {}),
    "thu01-wan-rtr": ("H3C", "hp_comware", "127.81.1.3", "GigabitEthernet0/0", {}),
    "thu01-core-sw": ("HUAWEI", "huawei_vrpv8", "127.81.1.4", "10GE1/0/1", {"ports": [Port("10GE1/0/1"), Port("10GE1/0/2")]}),
    "thu02-rtr": ("thu02-rtr", "cisco_ios", "127.81.2.1", "GigabitEthernet0/0", {}),
    "thu02-sw": ("thu02-sw", "huawei", "127.81.2.2", "GigabitEthernet0/0/1", {}),
}
OFFICES = {"xa_thu_01": ["thu01-access-sw", "thu01-rtr", "thu01-wan-rtr", "thu01-core-sw"], "xa_thu_02": ["thu02-rtr", "thu02-sw"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    directory = tmp_path_factory.mktemp("network_fleet")
    devices = [Device(boot, address, platform, password=PASSWORD, **extra)
               for boot, platform, address, _, extra in DEVICES.values()]
    fleet = start_fleet(devices, directory)
    known_hosts = directory / "known_hosts"
    known_hosts.write_text("".join(f"[{d.address}]:{fleet.port} {public_key_line(d.name)}\n" for d in devices))
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump(_inventory(fleet.port, known_hosts), sort_keys=False))
    try:
        yield fleet, inventory, known_hosts, directory
    finally:
        fleet.stop()


def _inventory(port: int, known_hosts: Path) -> dict:
    offices = {office: {"vars": {"egov_site_type": "commune", "egov_uplink": "pop-bacson"},
                        "hosts": {name: {"ansible_host": DEVICES[name][2], "egov_platform": DEVICES[name][1],
                                         "egov_role": "router" if name.endswith("rtr") else "switch",
                                         "egov_checks": {"ssh": {"uplinks": [DEVICES[name][3]]}}}
                                  for name in names}}
               for office, names in OFFICES.items()}
    return {"all": {"vars": {
        "host_baseline_ntp_servers": ["127.10.1.123"], "host_baseline_log_server": "127.10.1.51",
        "egov_check_defaults": {"ssh": {"username": "egov-netops", "password_env": PASSWORD_ENV, "port": port}},
        "network_baseline_known_hosts": str(known_hosts)},
        "children": offices}}


def provision_run(site: str, inventory: Path, check: bool = False) -> Run:
    out = io.StringIO()
    rc = provision.run(site, str(inventory), check=check, envvars=ENV, out=out)
    output = out.getvalue()
    return Run(rc, output, parse_summary(output))


class Cli:
    """A session on a simulated device, as an operator would open one."""

    def __init__(self, fleet, name: str):
        from netmiko import ConnectHandler

        _, platform, address, _, _ = DEVICES[name]
        self.platform = platform
        self.connection = ConnectHandler(device_type=platform, host=address, port=fleet.port,
                                         username="egov-netops", password=PASSWORD)

    def running(self) -> list[str]:
        command = platforms.get(self.platform).show_config
        return self.connection.send_command(command).splitlines()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.connection.disconnect()


def running_config(fleet, name: str) -> list[str]:
    with Cli(fleet, name) as cli:
        return cli.running()


def simulate(fleet, name: str, action: str, line: str) -> None:
    """The simulator's test hook: make the device refuse (or accept again) one config line."""
    with Cli(fleet, name) as cli:
        cli.connection.send_command_timing(f"simulate {action} {line}")


@pytest.fixture(scope="module")
def office(fleet):
    """xa_thu_01 on factory-fresh devices: check mode, apply, apply again, check mode again."""
    inventory = fleet[1]
    names = OFFICES["xa_thu_01"]
    runs = {"before": {name: running_config(fleet[0], name) for name in names}}
    runs["fresh_check"] = provision_run("xa_thu_01", inventory, check=True)
    runs["after_check"] = {name: running_config(fleet[0], name) for name in names}
    runs["apply"] = provision_run("xa_thu_01", inventory)
    runs["running"] = {name: running_config(fleet[0], name) for name in names}
    runs["reapply"] = provision_run("xa_thu_01", inventory)
    runs["check"] = provision_run("xa_thu_01", inventory, check=True)
    runs["golden"] = golden.render(str(inventory))
    return runs


def _explain(run: Run) -> str:
    return f"rc={run.rc}\n{run.output[-6000:]}"


def _assert_compliant(running: list[str], golden_lines: list[str], platform: str) -> None:
    """Every golden line is in its context of the running config (a secret by its place: the
    device shows its hash); `no X` / `undo X`: no X there."""
    negation = platforms.get(platform).negation
    want, have = configtext.parse(golden_lines, platform), configtext.parse(running, platform)
    for header, lines in want.items():
        for line in lines:
            if header == "" and want.get(line):
                assert line in have[""], f"block {line!r} missing from\n" + "\n".join(running)
            elif line.startswith(negation):
                unwanted = line[len(negation):]
                assert not [h for h in have.get(header, []) if h == unwanted or h.startswith(unwanted + " ")], line
            else:
                shown = {configtext.comparable(h) for h in have.get(header, [])}
                assert configtext.comparable(line) in shown, f"{line!r} (in {header or 'global'!r}) missing from\n" \
                    + "\n".join(running)


def test_check_mode_on_fresh_devices_shows_the_diff_and_changes_nothing(office):
    run = office["fresh_check"]
    assert run.rc == 0, _explain(run)
    assert "check mode" in run.output
    for name in OFFICES["xa_thu_01"]:
        assert run.hosts[name]["changed"] == 1, _explain(run)
        assert f"{name}: would change: Config | Apply the lines" in run.output
    assert "      +ntp server 127.10.1.123" in run.output  # the IOS diff
    assert "      +info-center loghost 127.10.1.51 utc" in run.output  # the VRP diff
    assert " + description UPLINK to pop-bacson" in run.output  # into the uplink's block
    assert "      +enable secret <env:EGOV_NET_ENABLE_SECRET>" in run.output  # a secret only by its name
    assert office["after_check"] == office["before"]


def test_baseline_applies_every_golden_line_on_both_platforms(office):
    run = office["apply"]
    assert run.rc == 0, _explain(run)
    for name in OFFICES["xa_thu_01"]:
        assert run.hosts[name]["changed"] == 1 and run.hosts[name]["failed"] == 0, _explain(run)
        platform = DEVICES[name][1]
        golden_lines = office["golden"][name]
        assert len(golden_lines) > 20
        _assert_compliant(office["running"][name], golden_lines, platform)
        assert configtext.missing_lines(golden_lines, office["running"][name],
                                        platforms.get(platform).negation) == []
    assert "applied: Config: Apply the lines" in run.output


def test_the_golden_configs_hold_the_baseline(office):
    ios, vrp = office["golden"]["thu01-access-sw"], office["golden"]["thu01-rtr"]
    for line in ("hostname thu01-access-sw", "ip ssh version 2", "no ip http server", "service password-encryption",
                 "no snmp-server community public", "snmp-server group EGOV-RO v3 priv", "ntp server 127.10.1.123",
                 "logging host 127.10.1.51", "vlan 99", " name MGMT", " name ONE-STOP",
                 "interface GigabitEthernet1/0/1", " transport input ssh", " exec-timeout 5 0",
                 "banner login ^Authorised access only. Activity is logged.^", "aaa new-model",
                 "enable secret <env:EGOV_NET_ENABLE_SECRET>",
                 "username egov-netops privilege 15 secret <env:EGOV_TEST_NET_PASSWORD>"):
        assert line in ios
    for line in ("sysname thu01-rtr", "stelnet server enable", "undo telnet server enable", "undo http server enable",
                 "snmp-agent sys-info version v3", "ntp-service unicast-server 127.10.1.123",
                 "info-center loghost 127.10.1.51 utc", " protocol inbound ssh", " idle-timeout 5 0",
                 " local-user egov-netops password irreversible-cipher <env:EGOV_TEST_NET_PASSWORD>",
                 " local-user egov-netops service-type terminal ssh",
                 'header login information "Authorised access only. Activity is logged."'):
        assert line in vrp
    assert not [line for line in vrp if line.startswith(("vlan", "interface Vlanif"))], "a router has no VLANs"
    assert "vlan batch 99 10 20 30 40" in office["golden"]["thu02-sw"]


def test_secrets_are_typed_from_the_environment_and_shown_nowhere(office):
    outputs = "".join(office[run].output for run in ("fresh_check", "apply", "reapply", "check"))
    for secret in (PASSWORD, ENABLE_SECRET):
        assert secret not in outputs and not any(secret in "".join(g) for g in office["golden"].values())
    ios = office["running"]["thu01-access-sw"]
    assert [line for line in ios if line.startswith("enable secret 9 ")], "the enable secret was not set"
    assert "no aaa new-model" not in ios and "aaa new-model" in ios


def test_devices_are_renamed_and_the_session_goes_on(office):
    assert "hostname thu01-access-sw" in office["running"]["thu01-access-sw"]
    assert " sysname thu01-rtr" in office["running"]["thu01-rtr"]
    assert "hostname Switch" in office["before"]["thu01-access-sw"]


def test_a_second_run_changes_nothing(office):
    run = office["reapply"]
    assert run.rc == 0, _explain(run)
    for name in OFFICES["xa_thu_01"]:
        assert run.hosts[name]["changed"] == 0 and run.hosts[name]["failed"] == 0, _explain(run)


def test_a_provisioned_device_passes_its_pack_and_shows_no_drift(office):
    """What provisioning applied is what the security team's audit asks for: no critical or
    high rule fails on the running configuration, and nothing separates it from the golden one."""
    packs = policy.load_packs()
    for name in OFFICES["xa_thu_01"]:
        platform, running = DEVICES[name][1], "\n".join(office["running"][name])
        audit = assess.audit_text(name, platform, running, packs, golden=office["golden"][name])
        assert [(f.rule.id, f.offending, f.missing) for f in audit.failed if f.rule.severity in ("critical", "high")] == [], name
        assert audit.drift == {"missing": [], "extra": []}, name


def test_check_mode_on_compliant_devices_reports_no_change(office):
    run = office["check"]
    assert run.rc == 0, _explain(run)
    for name in OFFICES["xa_thu_01"]:
        assert run.hosts[name]["changed"] == 0, _explain(run)
    assert "would change" not in run.output


@pytest.fixture(scope="module")
def rejecting(fleet):
    """xa_thu_02, whose Cisco router refuses one line half-way; then the rejection is lifted."""
    device_fleet, inventory, _, _ = fleet
    simulate(device_fleet, "thu02-rtr", "reject", REJECTED)
    runs = {"failed": provision_run("xa_thu_02", inventory),
            "partial": running_config(device_fleet, "thu02-rtr")}
    simulate(device_fleet, "thu02-rtr", "accept", REJECTED)
    runs["completed"] = provision_run("xa_thu_02", inventory)
    runs["running"] = running_config(device_fleet, "thu02-rtr")
    runs["again"] = provision_run("xa_thu_02", inventory)
    return runs


def test_a_rejected_line_fails_that_device_and_says_what_was_applied(rejecting):
    run = rejecting["failed"]
    assert run.rc == 2, _explain(run)
    assert run.hosts["thu02-rtr"]["failed"] == 1, _explain(run)
    assert f"rejected '{REJECTED}' (% Invalid input detected at '^' marker.)" in run.output
    assert "applied before it, in the running configuration and not saved: service password-encryption; " \
           "service tcp-keepalives-in; no service pad; no ip source-route" in run.output
    # what came before the rejected line is on the device, nothing after it
    assert "ip ssh version 2" in rejecting["partial"]
    assert REJECTED not in rejecting["partial"] and "ntp server 127.10.1.123" not in rejecting["partial"]


def test_the_other_devices_of_the_office_complete(rejecting):
    run = rejecting["failed"]
    assert run.hosts["thu02-sw"] == {"ok": 4, "changed": 1, "failed": 0, "unreachable": 0}, _explain(run)


def test_the_next_run_completes_the_rejecting_device(rejecting, fleet):
    run = rejecting["completed"]
    assert run.rc == 0, _explain(run)
    assert run.hosts["thu02-rtr"]["changed"] == 1 and run.hosts["thu02-sw"]["changed"] == 0, _explain(run)
    assert REJECTED in rejecting["running"] and "ntp server 127.10.1.123" in rejecting["running"]
    again = rejecting["again"]
    assert again.rc == 0 and again.hosts["thu02-rtr"]["changed"] == 0, _explain(again)


def test_host_keys_as_the_agent_takes_them_first_recorded_then_held(fleet, tmp_path):
    """One host-key policy with the agent (collectors/_ssh_session.py): a device seen for the
    first time has its key recorded; a device presenting another key than the recorded one
    is refused."""
    device_fleet, inventory, known_hosts, _ = fleet
    data = yaml.safe_load(inventory.read_text())
    data["all"]["vars"]["network_baseline_known_hosts"] = str(tmp_path / "known_hosts")
    other = tmp_path / "inventory.yml"
    other.write_text(yaml.safe_dump(data))
    entry = f"[127.81.2.2]:{device_fleet.port}"

    first = provision_run("thu02-sw", other, check=True)
    assert first.rc == 0, _explain(first)
    assert (tmp_path / "known_hosts").read_text() == f"{entry} {public_key_line('thu02-sw')}\n"

    (tmp_path / "known_hosts").write_text(f"{entry} {public_key_line('another device')}\n")
    changed = provision_run("thu02-sw", other, check=True)
    assert changed.rc == 2, _explain(changed)
    assert f"cannot log in to {entry[1:].replace(']', '')}: 127.81.2.2 ({entry[1:].replace(']', '')}) presents host key" \
        in changed.output and "refused" in changed.output
    assert PASSWORD not in first.output + changed.output


def test_devices_without_an_ssh_check_are_left_alone(fleet, tmp_path):
    _, inventory, _, _ = fleet
    data = yaml.safe_load(inventory.read_text())
    data["all"]["children"]["xa_thu_01"]["hosts"]["thu01-access-sw"].pop("egov_checks")
    other = tmp_path / "inventory.yml"
    other.write_text(yaml.safe_dump(data))
    run = provision_run("thu01-access-sw", other, check=True)
    assert run.rc == 0, _explain(run)
    assert run.hosts["thu01-access-sw"] == {"ok": 1, "changed": 0, "failed": 0, "unreachable": 0}, _explain(run)
    assert "network_baseline" not in run.output

