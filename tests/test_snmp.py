"""The SNMP collector: the pure walk/table/rate code on a captured net-snmp walk, then real
polls of a real snmpd (v2c and v3 authPriv) whose interface table the tests change between
polls, beside a silent device and one that answers garbage."""

from __future__ import annotations

import asyncio
import bz2
import json
import logging
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.checks import State
from agent.context import Context
from agent.inventory import load_inventory
from agent.probe import Outcome, Sample
from agent.schema import build
from agent.snapshot import render
from agent.yamlfile import ConfigError
from collectors._snmp_tables import (COUNTER64, HR_STORAGE_RAM, INTERFACE_COLUMNS, RESOURCE_COLUMNS, Reading,
                                     Walk, WalkError, assemble, counter_increase, resource_family, utilization)
from collectors.snmp import SnmpCheck, SnmpCollector, SnmpSettings
from tests.peer_snmp import ADDRESSES, COMMUNITY, V3_AUTH_KEY, V3_OLD_USER, V3_PRIV_KEY, V3_USER, Port, Resources
from tests import real_gear
from tests.helpers import parse_snmpwalk, replay
from tests.peers import require

pytest_plugins = ("tests.peer_snmp",)  # the real peers this module's tests use

CAPTURE = Path(__file__).parent / "fixtures" / "snmp" / "netsnmp-debian12.walk"
SECRETS = {"EGOV_SNMP_COMMUNITY": COMMUNITY, "SNMP_AUTH": V3_AUTH_KEY, "SNMP_PRIV": V3_PRIV_KEY}


# ---------------------------------------------------------------- a captured walk, replayed

def test_a_walk_of_a_captured_netsnmp_agent_gives_its_interfaces():
    columns = {**INTERFACE_COLUMNS, **RESOURCE_COLUMNS["host-resources"]}
    device = assemble(replay(parse_snmpwalk(CAPTURE.read_text()), columns), "host-resources", uplinks=["eth0"])

    assert (device.name, device.uptime_ticks) == ("dc1-linux-gw", 149)
    assert device.description.startswith("Linux dc1-linux-gw 6.1.0-27-amd64 #1 SMP Debian")
    assert [(i.index, i.name, i.oper_up, i.uplink) for i in device.interfaces] == [
        (1, "lo", True, False), (2, "ifb0", False, False), (3, "ifb1", False, False), (4, "eth0", True, True)]
    eth0 = device.interfaces[3]
    assert eth0.counters["receive_bytes"] == 128235508 and eth0.counters["transmit_bytes"] == 338179
    assert eth0.speed_bps == 0 and device.interfaces[0].speed_bps == 10_000_000
    assert device.memory_ratio == 619676 / 24684100  # the "Physical memory" row only
    assert device.cpu_ratio is None  # snmpd answers hrProcessorLoad only after a minute of samples


def test_a_walk_stops_on_an_agent_that_goes_backwards():
    walk = Walk({}, {"ifDescr": INTERFACE_COLUMNS["ifDescr"]}, max_rows=10)
    walk.add("ifDescr", (5,), b"eth0")
    with pytest.raises(WalkError, match=r"OID 1\.3\.6\.1\.2\.1\.2\.2\.1\.2\.5 does not follow .*\.2\.5"):
        walk.add("ifDescr", (5,), b"eth0")
    with pytest.raises(WalkError, match="does not follow"):
        walk.add("ifDescr", (4,), b"eth1")


def test_a_walk_refuses_endless_tables():
    walk = Walk({}, {"ifDescr": INTERFACE_COLUMNS["ifDescr"]}, max_rows=3)
    with pytest.raises(WalkError, match="more than 3 rows in ifDescr"):
        for n in range(1, 5):
            walk.add("ifDescr", (n,), b"x")


def walked(cells: dict[str, dict[int, object]]) -> Walk:
    walk = Walk({}, {}, max_rows=10)
    walk.found = {name: {(index,): value for index, value in rows.items()} for name, rows in cells.items()}
    return walk


def test_interface_names_fall_back_and_stay_unique_and_uplinks_match_either_name():
    walk = walked({"ifName": {1: b"Gi0/0", 2: b"", 3: b"", 4: b"Gi0/0"},
                   "ifDescr": {1: b"GigabitEthernet0/0", 2: b"Serial0/1/0", 3: b"", 4: b"GigabitEthernet0/0"}})
    device = assemble(walk, "cisco", uplinks=["GigabitEthernet0/0", "Serial0/1/0"])
    assert [(i.name, i.uplink) for i in device.interfaces] == [
        ("Gi0/0", True), ("Serial0/1/0", True), ("3", False), ("Gi0/0#4", True)]


@pytest.mark.parametrize("family, cells, cpu, memory", [
    ("host-resources", {"hrProcessorLoad": {1: 10, 2: 70}, "hrStorageType": {1: HR_STORAGE_RAM, 2: (1, 3, 6)},
                        "hrStorageSize": {1: 400, 2: 1000}, "hrStorageUsed": {1: 100, 2: 999}}, 0.7, 0.25),
    ("cisco", {"cpmCPUTotal5minRev": {1: 7}, "ciscoMemoryPoolUsed": {1: 30, 2: 10},
               "ciscoMemoryPoolFree": {1: 70, 2: 90}}, 0.07, 0.2),
    ("huawei", {"hwEntityCpuUsage": {1: 0, 9: 33}, "hwEntityMemUsage": {1: 0, 9: 58}}, 0.33, 0.58),
    ("huawei", {}, None, None),
    ("h3c", {"hh3cEntityExtCpuUsage": {1: 0, 30: 21}, "hh3cEntityExtMemUsage": {1: 0, 30: 44},
             "h3cEntityExtCpuUsage": {30: 99}, "h3cEntityExtMemUsage": {30: 99}}, 0.21, 0.44),
    ("h3c", {"h3cEntityExtCpuUsage": {30: 49}, "h3cEntityExtMemUsage": {30: 53}}, 0.49, 0.53),
])
def test_cpu_and_memory_per_mib_family(family, cells, cpu, memory):
    device = assemble(walked(cells), family)
    assert (device.cpu_ratio, device.memory_ratio) == (cpu, memory)


def parse_snmprec(path: Path) -> dict[tuple[int, ...], object]:
    """An snmpsim recording (`OID|TAG|VALUE`, TAG the BER tag, `x` after it for a hex VALUE) as
    the values the collector hands to _snmp_tables; records whose tag names an snmpsim variation module
    (computed at run time) are left out."""
    values: dict[tuple[int, ...], object] = {}
    with (bz2.open(path, "rt") if path.suffix == ".bz2" else path.open()) as recording:
        for line in recording:
            if not line.strip() or line.startswith("#"):
                continue
            oid, tag, value = line.rstrip("\n").split("|", 2)
            if ":" in tag:
                continue
            raw = bytes.fromhex(value) if tag.endswith("x") else value.encode()
            kind = int(tag.rstrip("x"))
            key = tuple(int(x) for x in oid.split("."))
            if kind in (4, 64, 68):  # OCTET STRING, IpAddress, Opaque
                values[key] = raw
            elif kind == 6:
                values[key] = tuple(int(x) for x in value.split("."))
            elif kind != 5:  # INTEGER, Counter32/64, Gauge32, TimeTicks
                values[key] = int(value)
    return values


@pytest.mark.parametrize("recording, cpu, memory", [
    # hh3cEntityExtCpuUsage / MemUsage under 25506, the busiest entity (the others 0), as recorded
    ("hp-a5500-24g-ei-comware5-20-99-r2222p08.snmprec", 0.08, 0.47),
    ("hpe-5900af-comware7-1-045-r2422p01.snmprec", 0.05, 0.32),
    # `mib-style compatible`: the same table only under 2011.10
    ("h3c-e528-comware5-20-r1513p62.snmprec.bz2", 0.49, 0.53),
    ("h3c-wx6103-comware5-r2509p33.snmprec.bz2", 0.12, 0.23),
])
def test_comware_cpu_and_memory_from_real_recordings_under_either_root(recording, cpu, memory):
    family = resource_family("hp_comware")
    table = parse_snmprec(real_gear.path("snmp", recording))
    device = assemble(replay(table, {**INTERFACE_COLUMNS, **RESOURCE_COLUMNS[family]}), family)
    assert (device.cpu_ratio, device.memory_ratio) == (cpu, memory)


# ---------------------------------------------------------------- counters and rates

def test_a_counter_that_went_back_wrapped_only_if_the_link_could_carry_it():
    assert counter_increase(100, 350, most=1000) == 250
    assert counter_increase(COUNTER64 - 100, 50, most=1000) == 150  # wrapped past 2**64
    assert counter_increase(5_000_000, 10, most=1000) is None  # reset: reboot or `clear counters`


def test_utilization_between_two_readings():
    speeds = {1: 8_000, 2: 8_000, 3: 0}  # bit/s: 1000 bytes a second
    first = Reading(10.0, 500, {1: (0, 0), 2: (COUNTER64 - 1000, 7), 3: (0, 0)})
    second = Reading(20.0, 1500, {1: (2500, 10_000), 2: (1500, 5), 3: (9, 9), 4: (1, 1)})
    assert utilization(None, first, speeds) == {}  # the first poll has nothing to compare with
    assert utilization(first, second, speeds) == {1: (0.25, 1.0), 2: (0.25, None)}  # 2 transmit: a reset
    rebooted = Reading(30.0, 100, {1: (100, 100)})
    assert utilization(second, rebooted, speeds) == {}


# ---------------------------------------------------------------- the check

def evaluated(samples: list[Sample], uplinks=("Gi0/0",)):
    check = SnmpCheck(uplinks=uplinks, interface_util_warning=0.5, interface_util_critical=0.9)
    return SnmpCollector().evaluate(Outcome(SimpleNamespace(name="rtr"), check, 0.1, samples))


PORT_SAMPLES = [Sample("interface_info", 1, ("Gi0/0", "true", "1", "GigabitEthernet0/0", "WAN")),
                Sample("interface_info", 1, ("Gi0/1", "false", "2", "GigabitEthernet0/1", "")),
                Sample("interface_oper_up", 1, ("Gi0/0", "true")), Sample("interface_oper_up", 0, ("Gi0/1", "false"))]


@pytest.mark.parametrize("extra, uplinks, state, summary", [
    ([Sample("interface_utilization_ratio", 0.12, ("Gi0/1", "false", "receive"))], ("Gi0/0",), State.OK,
     "2 interfaces, busiest Gi0/1 at 12%"),
    ([], ("GigabitEthernet0/0", "Tunnel9"), State.UNKNOWN, "uplink Tunnel9 not on the device"),
    ([Sample("interface_utilization_ratio", 0.93, ("Gi0/0", "true", "transmit"))], ("Gi0/0",), State.CRITICAL,
     "Gi0/0 transmit at 93%"),
    ([Sample("interface_oper_up", 0, ("Gi0/7", "true"))], ("Gi0/0",), State.CRITICAL, "uplink Gi0/7 is down"),
])
def test_the_check_from_a_poll(extra, uplinks, state, summary):
    check = evaluated(PORT_SAMPLES + extra, uplinks)  # Gi0/1 being down is no problem: not an uplink
    assert (check.state, check.summary) == (state, summary)


# ---------------------------------------------------------------- settings

@pytest.mark.parametrize("settings, key", [({"request_timeout": "8s", "retries": 2, "probe_timeout": "20s"},
                                            "request_timeout"),
                                           ({"max_repetitions": 0}, "max_repetitions"),
                                           ({"retries": -1}, "retries")])
def test_settings_reject_impossible_values(settings, key):
    with pytest.raises(ConfigError, match=key):
        build(SnmpSettings, settings, "snmp")


# ---------------------------------------------------------------- real polls of a real snmpd

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def write_inventory(path: Path, hosts: dict[str, tuple[str, str, dict]]) -> Context:
    """hosts: name -> (address, platform, snmp check); every one a router at site xa_a."""
    entries = {name: {"ansible_host": address, "egov_role": "router", "egov_platform": platform,
                      "egov_checks": {"snmp": check}} for name, (address, platform, check) in hosts.items()}
    (path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "children": {
        "xa_a": {"vars": {"egov_site_type": "commune"}, "hosts": entries}}}}))
    return Context(inventory=load_inventory(path))


class Poller:
    """A collector polled again and again on one event loop, as the daemon runs it."""

    def __init__(self, context: Context, environ=None, **settings):
        self.clock, self.runner = Clock(), asyncio.Runner()
        defaults = {"request_timeout": 0.5, "retries": 1, "probe_timeout": 5.0}
        self.collector = SnmpCollector(SnmpSettings(**{**defaults, **settings}), context,
                                       environ=SECRETS if environ is None else environ, clock=self.clock)

    def poll(self, advance: float = 0.0) -> dict:
        self.clock.now += advance
        self.text = render(self.runner.run(self.collector.collect()))[0].decode()
        self.checks = {check.target: check for check in self.collector.checks({})}
        return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("site",)))): s.value
                for family in text_string_to_metric_families(self.text) for s in family.samples}

    def close(self):
        self.collector.close()
        self.runner.close()


@pytest.fixture
def pollers():
    made = []

    def make(*args, **kwargs) -> Poller:
        made.append(Poller(*args, **kwargs))
        return made[-1]

    yield make
    for poller in made:
        poller.close()


def on(target: str, **labels) -> tuple:
    return tuple(sorted({"target": target, "check": "snmp", **labels}.items()))


def interface(target, name, uplink=False, **extra):
    return on(target, interface=name, uplink="true" if uplink else "false", **extra)


ROUTER_PORTS = [
    Port(1, "Gi0/0", "GigabitEthernet0/0", "WAN VNPT", speed_mbps=100, in_octets=1_000_000, out_octets=2_000_000,
         in_packets=900, out_packets=800, in_errors=3, out_errors=4, in_discards=5, out_discards=6),
    Port(2, "Gi0/1", "GigabitEthernet0/1", "LAN", in_octets=5_000, out_octets=6_000),
    Port(3, "Gi0/2", "GigabitEthernet0/2", in_octets=COUNTER64 - 250_000),
    Port(4, "Vl1", "Vlan1", speed_mbps=0, in_octets=7, out_octets=7),
]


def test_a_router_polled_over_v2c_as_its_interfaces_change(snmpd, tmp_path, pollers):
    ports = [Port(**vars(p)) for p in ROUTER_PORTS]
    snmpd.publish(ports)
    context = write_inventory(tmp_path, {"rtr": (ADDRESSES[0], "cisco_ios", {
        "port": snmpd.port, "uplinks": ["Gi0/0"], "interface_util_warning": 0.5, "interface_util_critical": 0.9})})
    poller = pollers(context)

    got = poller.poll()
    assert got[("egov_snmp_up", on("rtr"))] == 1
    gi0 = interface("rtr", "Gi0/0", uplink=True)
    assert {name: got[(f"egov_snmp_interface_{name}_total", gi0)] for name in (
        "receive_bytes", "transmit_bytes", "receive_unicast_packets", "transmit_unicast_packets", "receive_errors",
        "transmit_errors", "receive_discards", "transmit_discards")} == {
        "receive_bytes": 1_000_000, "transmit_bytes": 2_000_000, "receive_unicast_packets": 900,
        "transmit_unicast_packets": 800, "receive_errors": 3, "transmit_errors": 4, "receive_discards": 5,
        "transmit_discards": 6}
    assert got[("egov_snmp_interface_speed_bytes", gi0)] == 100e6 / 8
    assert got[("egov_snmp_interface_oper_up", gi0)] == 1 and got[("egov_snmp_interface_admin_up", gi0)] == 1
    assert got[("egov_snmp_interface_info", on("rtr", alias="WAN VNPT", description="GigabitEthernet0/0",
                                                ifindex="1", interface="Gi0/0", uplink="true"))] == 1
    assert got[("egov_snmp_interface_receive_bytes_total", interface("rtr", "Gi0/2"))] == float(COUNTER64 - 250_000)
    assert got[("egov_snmp_device_info", on("rtr", name=snmpd.sys_name, description=snmpd.sys_descr))] == 1
    assert got[("egov_snmp_uptime_seconds", on("rtr"))] > 0
    assert (got[("egov_snmp_cpu_utilization_ratio", on("rtr"))],
            got[("egov_snmp_memory_utilization_ratio", on("rtr"))]) == (0.35, 0.2)  # from the Cisco MIBs
    assert not [key for key in got if key[0] == "egov_snmp_interface_utilization_ratio"]  # first poll
    assert poller.checks["rtr"].state == State.OK

    # ten seconds later: traffic on three ports, Gi0/2's receive counter wrapped past 2**64
    ports[0].in_octets += 625_000
    ports[0].out_octets += 10_000_000
    ports[1].in_octets += 750_000_000
    ports[2].in_octets = 1_000_000
    snmpd.publish(ports)
    got = poller.poll(advance=10)
    ratios = {key: value for key, value in got.items() if key[0] == "egov_snmp_interface_utilization_ratio"}
    assert ratios == pytest.approx({
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/0", True, direction="receive")): 0.005,
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/0", True, direction="transmit")): 0.08,
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/1", direction="receive")): 0.6,
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/1", direction="transmit")): 0.0,
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/2", direction="receive")): 0.001,
        ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/2", direction="transmit")): 0.0,
    })  # none for Vl1: no speed
    assert got[("egov_snmp_interface_receive_bytes_total", interface("rtr", "Gi0/2"))] == 1_000_000
    check = poller.checks["rtr"]
    assert (check.state, check.summary, check.value) == (State.WARNING, "Gi0/1 receive at 60%", pytest.approx(0.6))

    # the uplink goes down and Gi0/1's transmit counter is cleared
    ports[0].oper = 2
    ports[1].out_octets = 10
    snmpd.publish(ports)
    got = poller.poll(advance=10)
    assert got[("egov_snmp_interface_oper_up", gi0)] == 0
    assert got[("egov_snmp_interface_transmit_bytes_total", interface("rtr", "Gi0/1"))] == 10
    assert ("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/1", direction="transmit")) not in got
    assert got[("egov_snmp_interface_utilization_ratio", interface("rtr", "Gi0/1", direction="receive"))] == 0
    assert (poller.checks["rtr"].state, poller.checks["rtr"].summary) == (State.CRITICAL, "uplink Gi0/0 is down")

    lint = subprocess.run([require("promtool"), "check", "metrics"], input=poller.text.encode(), capture_output=True)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, b"")


def test_v3_authpriv_and_the_cpu_and_memory_mib_of_each_platform(snmpd, tmp_path, pollers):
    snmpd.publish(ROUTER_PORTS[:2], Resources(hr_loads=[15, 45], hr_ram=(800, 200), cisco_cpu=[9],
                                              cisco_pools=[(25, 75)], huawei_cpu=[0, 66], huawei_mem=[0, 77]))
    v3 = {"port": snmpd.port, "version": "3", "username": V3_USER, "auth_protocol": "SHA256",
          "auth_key_env": "SNMP_AUTH", "priv_protocol": "AES", "priv_key_env": "SNMP_PRIV"}
    old_gear = {**v3, "username": V3_OLD_USER, "auth_protocol": "MD5", "priv_protocol": "DES"}
    context = write_inventory(tmp_path, {"cisco": (ADDRESSES[1], "cisco_ios", v3),
                                         "huawei": (ADDRESSES[2], "huawei", v3),
                                         "mikrotik": (ADDRESSES[3], "mikrotik_routeros", {"port": snmpd.port}),
                                         "old-gear": (ADDRESSES[4], "cisco_ios", old_gear)})
    got = pollers(context).poll()
    for target in ("cisco", "huawei", "mikrotik", "old-gear"):
        assert got[("egov_snmp_up", on(target))] == 1
        assert got[("egov_snmp_interface_receive_bytes_total", interface(target, "Gi0/0"))] == 1_000_000
    assert [(got[("egov_snmp_cpu_utilization_ratio", on(t))], got[("egov_snmp_memory_utilization_ratio", on(t))])
            for t in ("cisco", "huawei", "mikrotik")] == [(0.09, 0.25), (0.66, 0.77), (0.45, 0.25)]


def test_a_wrong_community_times_out_and_a_wrong_v3_auth_key_fails_auth(snmpd, tmp_path, pollers):
    snmpd.publish(ROUTER_PORTS[:1])
    v3 = {"port": snmpd.port, "version": "3", "username": V3_USER, "auth_key_env": "SNMP_AUTH",
          "priv_key_env": "SNMP_PRIV"}
    context = write_inventory(tmp_path, {
        "wrong-community": (ADDRESSES[0], "huawei", {"port": snmpd.port, "community_env": "WRONG"}),
        "wrong-auth-key": (ADDRESSES[1], "huawei", {**v3, "auth_key_env": "WRONG"}),
        "unknown-user": (ADDRESSES[2], "huawei", {**v3, "username": "nobody"}),
        "wrong-priv-key": (ADDRESSES[4], "huawei", {**v3, "priv_key_env": "WRONG"}),
        "right": (ADDRESSES[3], "huawei", v3)})
    poller = pollers(context, environ={**SECRETS, "WRONG": "not-the-secret"})
    got = poller.poll()
    assert got[("egov_snmp_up", on("right"))] == 1
    # SNMP v2c has no authentication error: an agent drops a wrong community silently
    assert got[("egov_snmp_failures_total", on("wrong-community", reason="timeout"))] == 1
    assert got[("egov_snmp_failures_total", on("wrong-auth-key", reason="auth"))] == 1
    assert got[("egov_snmp_failures_total", on("unknown-user", reason="auth"))] == 1
    assert poller.checks["wrong-auth-key"].summary.startswith("auth: the agent refused the SNMPv3 credentials")
    # the right auth key but a wrong privacy key: net-snmp cannot decrypt the request and
    # the collector never hears back, so it looks like a wrong community
    assert got[("egov_snmp_failures_total", on("wrong-priv-key", reason="timeout"))] == 1


def test_a_silent_and_a_garbage_device_fail_alone_and_do_not_hold_up_the_others(snmpd, tmp_path, pollers,
                                                                                udp_peers):
    snmpd.publish(ROUTER_PORTS)
    silent = udp_peers("127.61.1.1")
    garbage = udp_peers("127.61.1.2", reply=b"\x00\xffHTTP/1.1 400 Bad Request\r\n\r\n")
    context = write_inventory(tmp_path, {
        "silent": (silent.address, "huawei", {"port": silent.port}),
        "garbage": (garbage.address, "huawei", {"port": garbage.port}),
        **{f"ok-{n}": (ADDRESSES[n], "huawei", {"port": snmpd.port}) for n in range(4)}})
    poller = pollers(context, request_timeout=0.5, retries=1, probe_timeout=3.0)
    started = time.monotonic()
    got = poller.poll()
    assert time.monotonic() - started < 3.0 + 2  # the silent device costs its own timeout, once
    for n in range(4):
        assert got[("egov_snmp_up", on(f"ok-{n}"))] == 1
        assert got[("egov_snmp_interface_oper_up", interface(f"ok-{n}", "Gi0/0"))] == 1
    assert got[("egov_snmp_up", on("silent"))] == 0 and got[("egov_snmp_up", on("garbage"))] == 0
    assert got[("egov_snmp_failures_total", on("silent", reason="timeout"))] == 1
    assert got[("egov_snmp_failures_total", on("garbage", reason="parse"))] == 1
    assert silent.received == 2 and garbage.received == 2  # the request and its one retry
    assert poller.checks["garbage"].state == State.CRITICAL


def test_a_missing_secret_is_a_config_failure_naming_the_variable_never_a_value(snmpd, tmp_path, pollers,
                                                                                   caplog):
    snmpd.publish(ROUTER_PORTS[:1])
    context = write_inventory(tmp_path, {
        "no-community": (ADDRESSES[0], "huawei", {"port": snmpd.port, "community_env": "EGOV_UNSET_COMMUNITY"}),
        "no-priv-key": (ADDRESSES[1], "huawei", {"port": snmpd.port, "version": "3", "username": V3_USER,
                                                 "auth_key_env": "SNMP_AUTH", "priv_key_env": "EGOV_UNSET_PRIV"}),
        "no-user": (ADDRESSES[2], "huawei", {"port": snmpd.port, "version": "3"}),
        "fine": (ADDRESSES[3], "huawei", {"port": snmpd.port})})
    poller = pollers(context)
    with caplog.at_level(logging.DEBUG):
        got = poller.poll()
    for target in ("no-community", "no-priv-key", "no-user"):
        assert got[("egov_snmp_failures_total", on(target, reason="config"))] == 1
    assert poller.checks["no-community"].summary == \
        "config: environment variable EGOV_UNSET_COMMUNITY (community_env) is not set"
    assert poller.checks["no-priv-key"].summary == \
        "config: environment variable EGOV_UNSET_PRIV (priv_key_env) is not set"
    assert poller.checks["no-user"].summary == "config: an SNMPv3 check needs a username"
    assert {target: poller.checks[target].state for target in ("no-community", "no-priv-key", "no-user")} == \
        dict.fromkeys(("no-community", "no-priv-key", "no-user"), State.UNKNOWN)  # the agent's problem, not the router's
    assert got[("egov_snmp_up", on("fine"))] == 1
    said = poller.text + caplog.text + "".join(c.summary for c in poller.checks.values())
    for secret in SECRETS.values():
        assert secret not in said
