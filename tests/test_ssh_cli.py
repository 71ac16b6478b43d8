"""The ssh collector against simulated routers over real SSH sessions (netmiko → tests/sim):
Cisco IOS, Huawei VRP and H3C Comware devices (tests/sim, asyncssh), a silent one, one that refuses
the login, one that answers junk, one that hangs up mid-command, and an address where
nothing listens. Host keys are checked against a real known_hosts file."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from netmiko import ConnectHandler
from ntc_templates.parse import parse_output
from prometheus_client.parser import text_string_to_metric_families

from agent.checks import State
from agent.context import Context
from agent.inventory import load_inventory
from agent.schema import build
from agent.snapshot import render
from agent.yamlfile import ConfigError
from collectors._cli import Interface, Neighbor
from collectors.ssh_cli import Facts, SshCliCollector, SshSettings, uplink_findings
from tests.peer_sim import CLIENT_KEY, ENABLE_SECRET, NOTHING_LISTENS, PASSWORD
from tests.sim import fingerprint, host_key, public_key_line

pytest_plugins = ("tests.peer_sim",)  # the real peers this module's tests use

SECRETS = {"SIM_PASSWORD": PASSWORD, "SIM_ENABLE": ENABLE_SECRET}
FAST = {"probe_timeout": 10.0, "connect_timeout": 2.0, "command_timeout": 2.0, "timeout": 30.0, "interval": 60.0}


def router(fleet, name: str, platform: str, **check) -> dict:
    address = fleet[name].address if name in fleet.devices else NOTHING_LISTENS
    return {"ansible_host": address, "egov_role": "router", "egov_platform": platform, "egov_checks": {"ssh": check}}


def inventory(fleet, directory: Path) -> Context:
    """A corner of the example province: two PoPs, four communes hanging from them, and a
    commune whose routers all fail in their own way."""
    cisco = {"secret_env": "SIM_ENABLE"}
    key_file = directory / "id_ed25519"  # the agent's private key, for the router that takes only keys
    key_file.write_bytes(host_key(CLIENT_KEY).private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    key_file.chmod(0o600)
    sites = {
        "pop_bac_son": ({"egov_site_type": "pop"}, {
            "pop-bacson-rtr": router(fleet, "pop-bacson-rtr", "huawei", uplinks=["GigabitEthernet0/0/0"])}),
        "pop_dong_ha": ({"egov_site_type": "pop"}, {
            "pop-dongha-rtr": router(fleet, "pop-dongha-rtr", "cisco_ios", **cisco)}),
        "xa_tan_lap": ({"egov_site_type": "commune", "egov_uplink": "pop_bac_son"}, {
            "tanlap-rtr": router(fleet, "tanlap-rtr", "huawei", uplinks=["GE0/0/0"])}),
        "xa_son_thuy": ({"egov_site_type": "commune", "egov_uplink": "pop_bac_son"}, {
            "sonthuy-rtr": router(fleet, "sonthuy-rtr", "huawei", uplinks=["GigabitEthernet0/0/0"])}),
        "xa_hoa_binh": ({"egov_site_type": "commune", "egov_uplink": "pop_dong_ha"}, {
            "hoabinh-rtr": router(fleet, "hoabinh-rtr", "cisco_ios", uplinks=["Gi0/0"], **cisco)}),
        "phuong_trung_tam": ({"egov_site_type": "commune", "egov_uplink": "pop_dong_ha"}, {
            "trungtam-rtr": router(fleet, "trungtam-rtr", "cisco_ios", uplinks=["GigabitEthernet0/0"])}),
        "xa_lien_son": ({"egov_site_type": "commune", "egov_uplink": "pop_bac_son"}, {
            "lienson-rtr": router(fleet, "lienson-rtr", "hp_comware", uplinks=["GE0/0"])}),
        "xa_an_phu": ({"egov_site_type": "commune"}, {
            "anphu-rtr": router(fleet, "anphu-rtr", "huawei", password_env=None, key_file=str(key_file))}),
        "xa_loi": ({"egov_site_type": "commune"}, {
            "silent-rtr": router(fleet, "silent-rtr", "cisco_ios"),
            "locked-rtr": router(fleet, "locked-rtr", "huawei"),
            "garbled-rtr": router(fleet, "garbled-rtr", "huawei"),
            "dropping-rtr": router(fleet, "dropping-rtr", "huawei"),
            "refusing-rtr": router(fleet, "refusing-rtr", "huawei"),
            "fortinet-fw": router(fleet, "tanlap-rtr", "fortinet") | {"ansible_host": "127.77.0.98"},
            "nopassword-rtr": router(fleet, "tanlap-rtr", "huawei", password_env="SIM_UNSET")
            | {"ansible_host": "127.77.0.97"}}),
    }
    defaults = {"ssh": {"port": fleet.port, "username": "egov-netops", "password_env": "SIM_PASSWORD",
                        "cpu_warning": 0.8, "cpu_critical": 0.95, "memory_warning": 0.85}}
    (directory / "inventory").mkdir()
    (directory / "inventory" / "hosts.yml").write_text(json.dumps({
        "all": {"vars": {"egov_check_defaults": defaults}},
        "province": {"vars": {"egov_site_type": "province"}, "children": {
            name: {"vars": site_vars, "hosts": hosts} for name, (site_vars, hosts) in sites.items()}}}))
    return Context(inventory=load_inventory(directory / "inventory"))


@pytest.fixture
def poller(network_sim, tmp_path):  # noqa: F811
    """poll(**settings) -> (samples, checks, collector), on a fresh known_hosts unless given one."""
    context = inventory(network_sim, tmp_path)
    collectors = {}

    def poll(environ=None, known_hosts=None, **settings):
        key = (json.dumps(settings, sort_keys=True), known_hosts)
        if key not in collectors:
            collectors[key] = SshCliCollector(
                SshSettings(**{**FAST, "known_hosts": str(known_hosts or tmp_path / "known_hosts"), **settings}),
                context, environ=SECRETS if environ is None else environ)
        collector = collectors[key]
        text = render(asyncio.run(collector.collect()))[0].decode()
        samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "site"))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        checks = {(c.name, c.target): c for c in collector.checks({})}
        return samples, checks, text

    return poll


def on(target: str, **labels) -> tuple:
    return tuple(sorted({"target": target, "check": "ssh", **labels}.items()))


def port(target: str, name: str, uplink: bool = False) -> tuple:
    return on(target, interface=name, uplink="true" if uplink else "false")


def test_a_comware_router_read_over_ssh(poller, network_sim):  # noqa: F811
    got, checks, _ = poller()
    lienson = network_sim["lienson-rtr"]
    assert got[("egov_ssh_up", on("lienson-rtr"))] == 1
    [info] = [dict(labels) for name, labels in got if name == "egov_ssh_device_info"
              and ("target", "lienson-rtr") in labels]
    assert (info["name"], info["model"]) == ("lienson-rtr", "MSR3620") and info["version"].startswith("7.1")
    assert got[("egov_ssh_uptime_seconds", on("lienson-rtr"))] >= lienson.uptime_seconds - 60
    assert got[("egov_ssh_cpu_utilization_ratio", on("lienson-rtr"))] == 0.07
    assert got[("egov_ssh_memory_utilization_ratio", on("lienson-rtr"))] == pytest.approx(0.88)
    assert got[("egov_ssh_interface_oper_up", port("lienson-rtr", "GigabitEthernet0/0", uplink=True))] == 1
    assert got[("egov_ssh_interface_oper_up", port("lienson-rtr", "GigabitEthernet0/2"))] == 0
    assert got[("egov_ssh_interface_receive_bytes_total", port("lienson-rtr", "GigabitEthernet0/0", uplink=True))] > 0
    assert checks[("ssh", "lienson-rtr")].state == State.WARNING and checks[("ssh", "lienson-rtr")].summary == \
        "memory at 88%"
    # its uplink's LLDP neighbour, named as Comware names ports (GE0/0 in the inventory)
    assert got[("egov_ssh_uplink_neighbor_mismatch", on("lienson-rtr", interface="GigabitEthernet0/0"))] == 0
    assert checks[("uplink_neighbor", "lienson-rtr")].summary == "uplink GigabitEthernet0/0 → pop-bacson-rtr " \
                                                               "(pop_bac_son)"


def test_cisco_and_huawei_routers_read_over_ssh(poller, network_sim):  # noqa: F811
    got, checks, _ = poller()
    assert got[("egov_ssh_up", on("hoabinh-rtr"))] == 1 and got[("egov_ssh_up", on("tanlap-rtr"))] == 1

    hoabinh = network_sim["hoabinh-rtr"]  # Cisco, logs in at privilege 1 and enables
    assert got[("egov_ssh_device_info", on("hoabinh-rtr", name="hoabinh-rtr", model="CISCO2911/K9",
                                          version="15.7(3)M5", serial=hoabinh.serial))] == 1
    assert got[("egov_ssh_uptime_seconds", on("hoabinh-rtr"))] >= hoabinh.uptime_seconds - 60
    assert got[("egov_ssh_cpu_utilization_ratio", on("hoabinh-rtr"))] == 0.07
    assert got[("egov_ssh_memory_utilization_ratio", on("hoabinh-rtr"))] == pytest.approx(0.38)
    assert got[("egov_ssh_interface_oper_up", port("hoabinh-rtr", "GigabitEthernet0/0", uplink=True))] == 1
    assert got[("egov_ssh_interface_admin_up", port("hoabinh-rtr", "GigabitEthernet0/2"))] == 0  # shut down
    assert got[("egov_ssh_interface_oper_up", port("hoabinh-rtr", "GigabitEthernet0/2"))] == 0
    assert checks[("ssh", "hoabinh-rtr")].state == State.OK

    assert got[("egov_ssh_device_info", on("tanlap-rtr", name="tanlap-rtr", model="AR6120",
                                          version="V300R019C13SPC200", serial=""))] == 1
    assert got[("egov_ssh_interface_oper_up", port("tanlap-rtr", "GigabitEthernet0/0/0", uplink=True))] == 1
    assert got[("egov_ssh_interface_oper_up", port("tanlap-rtr", "GigabitEthernet0/0/3"))] == 0  # no link
    assert checks[("ssh", "tanlap-rtr")].state == State.WARNING  # its CPU runs at 91 %
    assert checks[("ssh", "tanlap-rtr")].summary == "cpu at 91%"
    assert got[("egov_ssh_up", on("anphu-rtr"))] == 1  # logged in with a key, no password at all

    received = ("egov_ssh_interface_receive_bytes_total", port("tanlap-rtr", "GigabitEthernet0/0/0", uplink=True))
    again, _, _ = poller()
    assert again[received] > got[received] > 0  # the counters run
    assert again[("egov_ssh_interface_receive_bytes_total", port("hoabinh-rtr", "GigabitEthernet0/1"))] > 0


def test_each_failure_has_its_fixed_reason(poller):
    got, checks, text = poller()
    reasons = {target: reason for (name, labels), value in got.items() if name == "egov_ssh_failures_total"
               for target, reason in [(dict(labels)["target"], dict(labels)["reason"])]}
    assert reasons == {"silent-rtr": "timeout", "locked-rtr": "auth", "garbled-rtr": "parse",
                       "dropping-rtr": "connect", "refusing-rtr": "connect", "fortinet-fw": "config",
                       "nopassword-rtr": "config"}
    summaries = {target: check.summary for (name, target), check in checks.items() if target in reasons}
    assert summaries["refusing-rtr"] == "connect: connection refused"
    assert summaries["dropping-rtr"] == "connect: the device closed the connection while 'display version'"
    assert summaries["garbled-rtr"].startswith("parse: 'display version'")
    assert summaries["locked-rtr"].endswith("refused the login")
    assert summaries["silent-rtr"] == "timeout: no complete answer while logging in"
    assert summaries["fortinet-fw"].startswith("config: platform 'fortinet' is not one the ssh collector reads")
    assert summaries["nopassword-rtr"] == "config: environment variable SIM_UNSET (password_env) is not set"
    # the device's failures are CRITICAL; the agent's own configuration says nothing of the device: UNKNOWN
    assert {target: checks[("ssh", target)].state for target in reasons} == {
        target: State.UNKNOWN if reason == "config" else State.CRITICAL for target, reason in reasons.items()}
    for target in reasons:  # the silent one and the hang-up end on their own timeouts, far from hanging
        assert got[("egov_ssh_duration_seconds", on(target))] < FAST["probe_timeout"]


def test_host_keys_are_recorded_on_first_contact_and_a_changed_key_is_refused(poller, network_sim, tmp_path,
                                                                              caplog):  # noqa: F811
    known_hosts = tmp_path / "operator_known_hosts"
    with caplog.at_level(logging.WARNING, logger="egov.collector.ssh"):
        got, _, _ = poller(known_hosts=known_hosts)
    entry = f"[{network_sim['tanlap-rtr'].address}]:{network_sim.port}"
    lines = known_hosts.read_text().splitlines()
    assert f"{entry} {public_key_line('tanlap-rtr')}" in lines
    assert len(lines) == len([1 for d in network_sim.devices.values() if d.behaviour not in ("silent",)])
    recorded = [r for r in caplog.records if r.getMessage().startswith("recorded the SSH host key")]
    assert {r.target: r.fingerprint for r in recorded}["tanlap-rtr"] == fingerprint("tanlap-rtr")

    # tanlap-rtr's line now holds another device's key: the device "changed" its key
    known_hosts.write_text("\n".join(f"{entry} {public_key_line('pop-bacson-rtr')}" if line.startswith(entry + " ")
                                     else line for line in lines) + "\n")
    before = known_hosts.read_text()
    caplog.clear()
    got, checks, _ = poller(known_hosts=known_hosts)
    assert got[("egov_ssh_up", on("tanlap-rtr"))] == 0
    assert got[("egov_ssh_failures_total", on("tanlap-rtr", reason="tls"))] == 1
    summary = checks[("ssh", "tanlap-rtr")].summary
    assert "tanlap-rtr" in summary and entry.strip("[").split("]")[0] in summary
    assert fingerprint("tanlap-rtr") in summary and fingerprint("pop-bacson-rtr") in summary
    assert known_hosts.read_text() == before  # refused, not re-recorded
    assert not [r for r in caplog.records if r.getMessage().startswith("recorded")]
    assert got[("egov_ssh_up", on("hoabinh-rtr"))] == 1  # the others are unaffected


def test_an_uplink_cabled_to_the_wrong_pop_is_a_finding(poller):
    got, checks, _ = poller()
    # sonthuy hangs from pop_bac_son, but LLDP on its uplink sees Đông Hà's router
    assert got[("egov_ssh_uplink_neighbor_mismatch", on("sonthuy-rtr", interface="GigabitEthernet0/0/0"))] == 1
    assert got[("egov_ssh_uplink_neighbor_info", on(
        "sonthuy-rtr", interface="GigabitEthernet0/0/0", neighbor="pop-dongha-rtr.tinhmau.gov.vn",
        neighbor_interface="GE0/1", neighbor_site="pop_dong_ha"))] == 1
    wrong = checks[("uplink_neighbor", "sonthuy-rtr")]
    assert wrong.state == State.CRITICAL
    assert wrong.summary == ("uplink GigabitEthernet0/0/0 is cabled to pop-dongha-rtr of pop_dong_ha, "
                             "expected a device of pop_bac_son")
    # cabled right: Huawei over LLDP, Cisco over LLDP, a Cisco with LLDP off over CDP
    for target, interface in (("tanlap-rtr", "GigabitEthernet0/0/0"), ("hoabinh-rtr", "GigabitEthernet0/0"),
                              ("trungtam-rtr", "GigabitEthernet0/0")):
        assert got[("egov_ssh_uplink_neighbor_mismatch", on(target, interface=interface))] == 0
        assert checks[("uplink_neighbor", target)].state == State.OK
    assert checks[("uplink_neighbor", "trungtam-rtr")].summary == ("uplink GigabitEthernet0/0 → pop-dongha-rtr "
                                                                   "(pop_dong_ha)")
    # nothing seen on the PoP's uplink: a warning, and no mismatch figure either way
    assert checks[("uplink_neighbor", "pop-bacson-rtr")].state == State.WARNING
    assert not [key for key in got if key[0] == "egov_ssh_uplink_neighbor_mismatch" and ("target", "pop-bacson-rtr")
                in key[1]]
    assert ("uplink_neighbor", "pop-dongha-rtr") not in checks  # declares no uplink


def test_uplink_findings_in_every_case(tmp_path):
    (tmp_path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "children": {
        "dc": {"vars": {"egov_site_type": "datacenter"}, "children": {
            "dc_rack": {"vars": {"egov_site_type": "rack"}, "hosts": {
                "dc-core": {"ansible_host": "127.77.1.1", "egov_role": "switch", "egov_platform": "huawei"}}}}},
        "pop": {"vars": {"egov_site_type": "pop"}, "hosts": {
            "pop-rtr": {"ansible_host": "127.77.1.2", "egov_role": "router", "egov_platform": "huawei"}}},
        "xa_a": {"vars": {"egov_site_type": "commune", "egov_uplink": "dc"}, "hosts": {
            "xa-rtr": {"ansible_host": "127.77.1.3", "egov_role": "router", "egov_platform": "huawei"}}}}}}))
    inventory_ = load_inventory(tmp_path)
    [target] = [t for t in inventory_.targets() if t.name == "xa-rtr"]
    ports = [Interface(f"GigabitEthernet0/0/{n}", True, True) for n in range(4)]

    def findings(neighbors, uplinks=("GE0/0/0",)):
        return [(f.interface, f.state.name, f.mismatch, f.neighbor_site) for f in
                uplink_findings(target, uplinks, Facts("xa-rtr", None, ports, None, None, neighbors), inventory_)]

    # a device of a rack of the uplink site is of the uplink site; found by its address alone
    assert findings([Neighbor("GE0/0/0", "", "10GE1/0/7", "127.77.1.1")]) == [
        ("GigabitEthernet0/0/0", "OK", False, "dc_rack")]
    assert findings([Neighbor("GE0/0/0", "POP-RTR.tinhmau.gov.vn", "GE0/0/1")]) == [
        ("GigabitEthernet0/0/0", "CRITICAL", True, "pop")]
    assert findings([Neighbor("GE0/0/0", "isp-cpe", "eth0")]) == [("GigabitEthernet0/0/0", "WARNING", True, "")]
    assert findings([Neighbor("GE0/0/1", "dc-core", "10GE1/0/7")]) == [("GigabitEthernet0/0/0", "WARNING", None, "")]
    assert findings(None) == [("GigabitEthernet0/0/0", "UNKNOWN", None, "")]  # neither LLDP nor CDP
    assert findings([], uplinks=["GE0/0/9"]) == [("GE0/0/9", "UNKNOWN", None, "")]  # no such port
    assert findings([], uplinks=[]) == []


def test_credentials_appear_nowhere(poller, caplog):
    with caplog.at_level(logging.DEBUG):
        _, checks, text = poller()
        poller(environ={**SECRETS, "SIM_PASSWORD": "not-" + PASSWORD})  # every login refused
    seen = [text, *(c.summary for c in checks.values())]
    for record in caplog.records:
        seen += [record.getMessage(), *(str(v) for v in vars(record).values())]
    for secret in (PASSWORD, ENABLE_SECRET):
        assert not [line for line in seen if secret in line]
    assert any("refused the login" in line for line in seen)  # the failures were logged


def test_sessions_never_exceed_the_concurrency(network_sim, tmp_path):  # noqa: F811
    class Counting(SshCliCollector):
        active = most = 0
        lock = threading.Lock()

        def _session(self, *args):
            with self.lock:
                Counting.active += 1
                Counting.most = max(Counting.most, Counting.active)
            try:
                return super()._session(*args)
            finally:
                with self.lock:
                    Counting.active -= 1

    collector = Counting(SshSettings(**{**FAST, "concurrency": 2, "known_hosts": str(tmp_path / "kh")}),
                         inventory(network_sim, tmp_path), environ=SECRETS)
    asyncio.run(collector.collect())
    assert Counting.most == 2


def test_settings_are_strict():
    with pytest.raises(ConfigError, match="connect_timeout"):
        build(SshSettings, {"probe_timeout": "10s", "connect_timeout": "10s"})
    with pytest.raises(ConfigError, match="command_timeout"):
        build(SshSettings, {"probe_timeout": "10s", "connect_timeout": "5s", "command_timeout": "11s"})


# ---------------------------------------------------------------- the simulators, for later users

def session(fleet, name: str, platform: str, **options):
    device = fleet[name]
    return ConnectHandler(device_type=platform, host=device.address, port=fleet.port, username=device.username,
                          password=device.password, secret=device.secret, allow_agent=False, use_keys=False,
                          **options)


def test_simulated_cisco_answers_as_ntc_templates_expect_and_keeps_its_config(network_sim):  # noqa: F811
    with session(network_sim, "pop-dongha-rtr", "cisco_ios") as cli:
        cli.enable()
        assert cli.send_command("show privilege") == "Current privilege level is 15"
        parsed = cli.send_command("show interfaces", use_textfsm=True)
        assert [row["interface"] for row in parsed] == ["GigabitEthernet0/0", "GigabitEthernet0/1",
                                                        "GigabitEthernet0/2"]
        brief = cli.send_command("show ip interface brief", use_textfsm=True)
        assert brief[2]["status"] == "down"
        assert cli.send_command("show version", use_textfsm=True)[0]["hardware"] == ["CISCO2911/K9"]
        cli.send_config_set(["ntp server 192.0.2.123", "interface GigabitEthernet0/1", "description LAN Mot cua",
                             "lldp transmit"])
        assert cli.check_config_mode() is False  # `end` brought it back
        config = cli.send_command("show running-config")
        assert "\nntp server 192.0.2.123\n" in config
        assert cli.send_command("show running-config | section interface GigabitEthernet0/1").splitlines() == [
            "interface GigabitEthernet0/1", " description LAN Mot cua", " no ip address", " lldp transmit"]
        assert PASSWORD not in config and ENABLE_SECRET not in config  # shown hashed, as IOS does
        cli.send_config_set(["no ntp server 192.0.2.123"])
        assert "ntp server" not in cli.send_command("show running-config")
        assert "[OK]" in cli.save_config()


def test_simulated_huawei_answers_as_ntc_templates_expect_and_keeps_its_config(network_sim):  # noqa: F811
    with session(network_sim, "pop-bacson-rtr", "huawei") as cli:
        def parsed(command):  # netmiko looks templates up as "huawei"; ntc-templates names them "huawei_vrp"
            return parse_output(platform="huawei_vrp", command=command, data=cli.send_command(command))

        interfaces = parsed("display interface")
        assert [row["interface"] for row in interfaces][:2] == ["GigabitEthernet0/0/0", "GigabitEthernet0/0/1"]
        assert interfaces[0]["ip_address"] == "192.0.2.1/30"
        assert [(row["interface"], row["phy"]) for row in parsed("display interface brief")][-1] == ("NULL0", "up")
        assert parsed("display version")[0]["model"] == "AR6120"
        cli.send_config_set(["ntp-service unicast-server 192.0.2.123", "interface GigabitEthernet0/0/2",
                             "description LAN Mot cua", "shutdown"])
        config = cli.send_command("display current-configuration")
        assert "\n ntp-service unicast-server 192.0.2.123\n" in config
        assert "interface GigabitEthernet0/0/2\n description LAN Mot cua\n shutdown\n#" in config
        assert "GigabitEthernet0/0/2 current state : Administratively DOWN" in cli.send_command(
            "display interface GigabitEthernet0/0/2")
        # undone by hand: netmiko's check for the system view costs 2 s of silence each time
        for line in ("system-view", "interface GE0/0/2", "undo shutdown", "undo description", "quit",
                     "undo ntp-service unicast-server 192.0.2.123"):
            cli.send_command(line, expect_string=r"\]$")
        assert "ntp-service" not in cli.send_command("display current-configuration | include ntp")
        cli.send_command("return", expect_string=r">$")
        assert "saved successfully" in cli.save_config()
        assert "Unrecognized command" in cli.send_command("display nonsense")
