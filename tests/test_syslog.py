"""The syslog receiver: the parser on the vendors' formats, TCP framing, and the collector on real
UDP and TCP sockets on loopback (the stdlib's SysLogHandler and raw sockets as the devices)."""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from agent import platforms
from agent.collector import discover, metric_index
from agent.config import load_config
from agent.context import Context
from agent.inventory import load_inventory
from agent.yamlfile import ConfigError
from collectors._syslog_message import MessageError, StreamFramer, event, parse
from collectors.syslog import SyslogCollector, SyslogSettings
from tests import real_gear
from tests.peers import free_port, require

ICT = timezone(timedelta(hours=7))
ARRIVED = datetime(2026, 12, 2, 12, 0, 0, tzinfo=ICT)


# ---------------------------------------------------------------- the header and the device's clock

@pytest.mark.parametrize("raw, severity, offset", [
    # IOS, sequence number and an unset clock's *, no year, no zone: the one the receiver is told (ICT)
    (b"<189>000075: *Dec  2 11:59:50.123: %SYS-5-CONFIG_I: Configured from console by console", 5, -9.877),
    # IOS `service timestamps log datetime show-timezone year`: real-gear's reference example
    (b"<189>.Dec  2 2026 04:58:00 UTC: %SYS-5-CONFIG_I: Configured from console by console", 5, -120.0),
    # Huawei: year and offset; Comware: the year after the time, milliseconds after a colon
    (b"<189>Dec  2 2026 05:00:01+00:00 R1 %%01IFNET/4/LINK_STATE(l)[0]:The line protocol IP", 5, 1.0),
    (b"<190>Dec  2 12:00:30:500 2026 SW2 %%10SHELL/6/SHELL_CMD: -Line=vty0", 6, 30.5),
    # RFC 5424, its BOM and structured data with an escaped ]
    (b'<34>1 2026-12-02T04:59:00.003Z host.example su - ID47 [ex@32473 a="x\\]y"] \xef\xbb\xbfhello', 2, -59.997),
])
def test_header_gives_severity_and_the_device_clock(raw, severity, offset):
    message = parse(raw, ARRIVED, unzoned=ICT)
    assert message.severity == severity
    assert (message.timestamp - ARRIVED).total_seconds() == pytest.approx(offset)


def test_a_timestamp_without_year_takes_the_nearest_one():
    new_year = datetime(2027, 1, 1, 0, 0, 5, tzinfo=ICT)
    assert parse(b"<13>Dec 31 23:59:55 host x", new_year, ICT).timestamp.year == 2026
    assert parse(b"<13>Jan  1 00:00:01 host x", new_year, ICT).timestamp.year == 2027


@pytest.mark.parametrize("raw", [
    b"<189>1w0d: %SYS-5-CONFIG_I: Configured from console by console",  # IOS uptime stamps: no clock
    b"<189>*Dec  2 11:59:50.123: %SYS-5-CONFIG_I: Configured from console by console",  # no zone, none told
    b"<189>Oct 13 16:23:19 PDT: %SYS-5-CONFIG_I: Configured from console by console",  # a zone by name only
    b"<34>1 - host app - - - no timestamp",
])
def test_no_clock_offset_without_a_full_timestamp(raw):
    assert parse(raw, ARRIVED).timestamp is None


@pytest.mark.parametrize("raw", [b"no priority", b"<192>too high", b"<34>1 yesterday h a - - - x",
                                 b"<34>1 2026-12-02T04:59:00Z h a - - [unclosed x=\"1\"", b"<13>Feb 30 10:00:00 h x"])
def test_malformed_messages_raise_a_bounded_reason(raw):
    with pytest.raises(MessageError) as raised:
        parse(raw, ARRIVED, ICT)
    assert raised.value.reason == "malformed"


def test_non_utf8_is_read_with_replacements_and_flagged():
    message = parse(b"<13>Dec  2 12:00:00 h caf\xe9 \xff", ARRIVED)
    assert not message.utf8 and "\ufffd" in message.text


# ---------------------------------------------------------------- what a message means, per platform

@pytest.mark.parametrize("platform, text, kind, fields", [
    ("cisco_ios", "%SYS-5-CONFIG_I: Configured from console by netops1 on vty0 (192.0.2.10)", "config",
     {"user": "netops1", "line": "vty0", "address": "192.0.2.10"}),
    ("cisco_xe", "%SYS-5-CONFIG_I: Configured from console by vty2 (198.51.100.36)", "config",
     {"line": "vty2", "address": "198.51.100.36"}),
    ("cisco_ios", "%SYS-5-CONFIG_I: Configured from console by console", "config", {"line": "console"}),
    ("cisco_ios", "%PARSER-5-CFGLOG_LOGGEDCMD: User:aninchat  logged command:router lisp", "config",
     {"user": "aninchat"}),
    ("cisco_ios", "%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] [Source: 192.0.2.5] [localport: 22] "
                  "[Reason: Login Authentication Failed]", "login_failure", {"user": "admin", "address": "192.0.2.5"}),
    ("cisco_ios", "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down", "interface",
     {"interface": "GigabitEthernet0/1", "state": "down"}),
    ("huawei", '%%01SHELL/5/CMDRECORD(s)[3]:Recorded command information. (Task=VT0, Ip=192.0.2.10, VpnName=, '
               'User=netops1, AuthenticationMethod="Local-user", Command="sysname HUYEN-A")', "config",
     {"line": "VT0", "address": "192.0.2.10", "user": "netops1"}),
    ("huawei_vrpv8", "CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT: The configuration changed. (Internal change =0, "
                     "User name =netops2, Session ID =7, Command source address =192.0.2.11, Storage type =1, "
                     "Terminal type =0)", "config", {"user": "netops2", "address": "192.0.2.11"}),
    ("huawei", "%%01IFNET/4/LINK_STATE(l)[0]:The line protocol IP on the interface GigabitEthernet0/0/0 has entered "
               "the UP state.", "interface", {"interface": "GigabitEthernet0/0/0", "state": "up"}),
    ("hp_comware", "%%10SHELL/6/SHELL_CMD: -Line=vty0-IPAddr=16.123.122.155-User=admin; Command is undo telnet "
                   "server enable", "config", {"line": "vty0", "address": "16.123.122.155", "user": "admin"}),
    ("hp_comware", "%%10SHELL/6/SHELL_CMD: -Line=aux0-IPAddr=**-User=**; Command is undo snmp-agent", "config",
     {"line": "aux0"}),
    ("hp_comware", "CFGMAN/5/CFGMAN_CFGCHANGED: -EventIndex=12-CommandSource=2-ConfigSource=4-ConfigDestination=2; "
                   "Configuration is changed.", "config", {}),
    ("hp_comware", "%%10SSHS/6/SSHS_AUTH_FAIL: -DevIP=203.0.113.234; SSH user ubuntu (IP: 203.0.113.119) didn't "
                   "pass public key authentication for wrong public key.", "login_failure",
     {"user": "ubuntu", "address": "203.0.113.119"}),
    ("hp_comware", "%%10IFNET/3/PHY_UPDOWN: Physical state on the interface GigabitEthernet1/0/1 changed to down.",
     "interface", {"interface": "GigabitEthernet1/0/1", "state": "down"}),
])
def test_vendor_messages_are_recognised(platform, text, kind, fields):
    found = event(platforms.get(platform), text)
    assert (found.kind, found.fields) == (kind, fields)


@pytest.mark.parametrize("platform, text", [
    ("cisco_ios", "%PARSER-5-CFGLOG_LOGGEDCMD: User:aninchat  logged command:!exec: enable"),
    ("huawei", 'SHELL/5/CMDRECORD:Recorded command information. (Task=VT0, Ip=**, User=a, Command="dis cur")'),
    ("hp_comware", "SHELL/6/SHELL_CMD: -Line=vty1-IPAddr=**-User=admin; Command is display version"),
    ("hp_comware", "SHELL/6/SHELL_CMD: -Line=vty1-IPAddr=**-User=admin; Command is quit"),
    ("huawei_vrpv8", "CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT: The configuration changed. (Internal change =1, "
                     "User name =, Session ID =0, Command source address =, Storage type =1, Terminal type =65535)"),
    ("cisco_ios", "%SYS-5-RESTART: System restarted"),
])
def test_reading_commands_and_other_messages_are_no_change(platform, text):
    assert event(platforms.get(platform), text) is None


def test_the_cisco_reference_examples_are_configuration_changes():
    text = real_gear.path("reference", "cisco", "ios_config_fundamentals_cmdref_management.txt").read_text()
    lines = [line.strip() for line in text.splitlines() if re.search(r"%SYS-5-CONFIG_I: .*console$", line)]
    assert len(lines) >= 5
    for line in lines:
        assert event(platforms.get("cisco_ios"), line).kind == "config", line


# ---------------------------------------------------------------- TCP framing (RFC 6587)

def test_framing_by_octet_count_and_by_line_across_reads():
    framer = StreamFramer(100)
    assert list(framer.feed(b"11 <13>hello x<13>line one\n<13>part")) == [b"<13>hello x", b"<13>line one"]
    assert list(framer.feed(b"ial\n5 <13>a")) == [b"<13>partial", b"<13>a"]


def test_framing_skips_oversized_frames_and_garbage_keeping_the_next():
    framer = StreamFramer(100)
    frames = list(framer.feed(b"300 " + b"x" * 120))
    assert frames == [None]
    frames = list(framer.feed(b"x" * 180 + b"5 <13>a<13>" + b"y" * 150 + b"\n?garbage\n<13>after\n"))
    assert frames == [b"<13>a", None, "framing", b"<13>after"]
    framer.feed(b"<13>" + b"z" * 10_000)  # a line that never ends holds no more than the cap
    assert len(framer._buffer) <= 100 + 10_004


# ---------------------------------------------------------------- the receiver on real sockets

DEVICES = {"rtr-cisco": ("127.0.0.1", "cisco_ios"), "rtr-huawei": ("127.0.0.2", "huawei"),
           "sw-comware": ("127.0.0.3", "hp_comware"), "srv-linux": ("127.0.0.4", "linux")}
STRANGER = "127.0.0.9"


def context(tmp_path) -> Context:
    hosts = {name: {"ansible_host": address, "egov_role": "router" if platform != "linux" else "dc_host",
                    "egov_platform": platform} for name, (address, platform) in DEVICES.items()}
    (tmp_path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"},
                                                                 "hosts": hosts}}))
    return Context(inventory=load_inventory(tmp_path))


class Clock:
    """The agent's clock, moved forward by the test (an hour of silence takes no hour)."""

    def __init__(self):
        self.shift = 0.0

    def __call__(self):
        return time.time() + self.shift


def receiver(tmp_path, clock=time.time, **settings) -> SyslogCollector:
    return SyslogCollector(SyslogSettings(listen="127.0.0.1:0", **settings), context(tmp_path), clock=clock)


def udp_from(source: str, port: int, *messages: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for message in messages:
            sock.sendto(message, ("127.0.0.1", port))


def tcp_from(source: str, port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(data)


async def until(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        await asyncio.sleep(0.01)


def run(collector: SyslogCollector, scenario):
    """The scenario on one event loop, as the daemon runs the collector; its sockets closed on it."""
    async def closing():
        try:
            return await scenario()
        finally:
            collector.close()

    return asyncio.run(closing())


def value(families, name: str, **labels) -> float:
    family = metric_index(families)[name]
    found = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found)


def test_a_change_from_each_platform_is_counted_with_its_author(tmp_path):
    collector = receiver(tmp_path)

    async def scenario():
        await collector.collect()
        port = collector.address[1]
        udp_from("127.0.0.1", port, b"<189>12: *Dec  2 11:59:50.123: %SYS-5-CONFIG_I: Configured from console "
                                    b"by netops1 on vty0 (192.0.2.10)")
        udp_from("127.0.0.2", port, b'<189>Dec  2 2026 05:00:01+00:00 R1 %%01SHELL/5/CMDRECORD(s)[3]:Recorded '
                                    b'command information. (Task=VT0, Ip=192.0.2.11, VpnName=, User=netops2, '
                                    b'AuthenticationMethod="Local-user", Command="sysname R2")')
        tcp_from("127.0.0.3", port, b"<190>Dec  2 12:00:30:500 2026 SW2 %%10SHELL/6/SHELL_CMD: -Line=vty0-IPAddr="
                                    b"192.0.2.12-User=netops3; Command is undo telnet server enable\n")
        udp_from(STRANGER, port, b"<189>%SYS-5-CONFIG_I: Configured from console by intruder")
        await until(lambda: len(collector._changes) == 3 and collector._dropped["unknown_sender"] == 1,
                    "three changes and a stranger")
        return await collector.collect()

    families = run(collector, scenario)
    for name in ("rtr-cisco", "rtr-huawei", "sw-comware"):
        assert value(families, "egov_syslog_config_changes_total", target=name) == 1
    assert value(families, "egov_syslog_messages_total", target="sw-comware", severity="info") == 1
    assert value(families, "egov_syslog_dropped_total", reason="unknown_sender") == 1
    assert {s.labels["target"] for s in metric_index(families)["egov_syslog_messages_total"].samples} == {
        "rtr-cisco", "rtr-huawei", "sw-comware"}
    changes = {c.target: (c.user, c.line, c.address) for c in collector.changes()}
    assert changes == {"rtr-cisco": ("netops1", "vty0", "192.0.2.10"), "rtr-huawei": ("netops2", "VT0", "192.0.2.11"),
                       "sw-comware": ("netops3", "vty0", "192.0.2.12")}
    assert collector.changes() == []


def test_tcp_octet_counting_line_framing_and_the_stdlib_handler(tmp_path):
    collector = receiver(tmp_path)

    async def scenario():
        await collector.collect()
        port = collector.address[1]
        first = b"<187>Dec  2 12:00:00 R1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
        tcp_from("127.0.0.1", port, b"%d %s" % (len(first), first) + b"<190>up and running\n")
        handler = logging.handlers.SysLogHandler(("127.0.0.1", port), socktype=socket.SOCK_STREAM)
        try:  # NUL-terminated, from 127.0.0.1: rtr-cisco
            handler.emit(logging.LogRecord("r", logging.ERROR, __file__, 1, "%SEC_LOGIN-4-LOGIN_FAILED: Login "
                                           "failed [user: root] [Source: 192.0.2.66] [localport: 22]", None, None))
        finally:
            handler.close()
        await until(lambda: sum(collector._devices["127.0.0.1"].severities.values()) == 3, "three messages")
        return await collector.collect()

    families = run(collector, scenario)
    assert value(families, "egov_syslog_interface_changes_total", target="rtr-cisco", state="down") == 1
    assert value(families, "egov_syslog_login_failures_total", target="rtr-cisco") == 1
    assert value(families, "egov_syslog_messages_total", target="rtr-cisco", severity="error") == 1 + 1


def test_hostile_input_is_counted_and_the_receiver_keeps_serving(tmp_path):
    collector = receiver(tmp_path, max_message_bytes=1024)

    async def scenario():
        await collector.collect()
        port = collector.address[1]
        udp_from("127.0.0.2", port, b"<13>" + b"A" * 5000, b"no priority at all", b"<999>x",
                 b"<13>Dec  2 12:00:00 h \xff\xfe\xfd", b"")
        tcp_from("127.0.0.3", port, b"99999 " + b"B" * 3000)  # the count says more than the cap
        tcp_from("127.0.0.3", port, b"?not syslog\n<13>after the garbage\n")
        tcp_from(STRANGER, port, b"<13>hello\n")
        udp_from("127.0.0.2", port, b"<13>Dec  2 12:00:00 h still fine")
        await until(lambda: collector._dropped["unknown_sender"] == 1 and collector._dropped["framing"] == 1
                    and sum(collector._devices["127.0.0.2"].severities.values()) == 2
                    and sum(collector._devices["127.0.0.3"].severities.values()) == 1, "all counted")
        return await collector.collect()

    families = run(collector, scenario)
    assert value(families, "egov_syslog_dropped_total", reason="oversized") == 2  # a datagram, a TCP frame
    assert value(families, "egov_syslog_dropped_total", reason="malformed") == 3  # no PRI, <999>, empty
    assert value(families, "egov_syslog_not_utf8_total") == 1
    assert value(families, "egov_syslog_messages_total", target="rtr-huawei") == 2


def test_a_flood_costs_a_counter_not_memory_nor_the_others_messages(tmp_path):
    collector = receiver(tmp_path, rate=0.01, burst=50, max_changes=5)
    paste = b"<189>Dec  2 12:00:00 R1 %%PARSER-5-CFGLOG_LOGGEDCMD: User:netops1  logged command:interface Gi0/%d"

    async def scenario():
        await collector.collect()
        port = collector.address[1]
        udp_from("127.0.0.1", port, *(paste % i for i in range(40)))  # a 40-line paste
        # sent while the loop is not reading: 150 fit in the kernel's default socket buffer
        udp_from("127.0.0.2", port, *([b"<14>flood"] * 150))
        udp_from("127.0.0.3", port, b"<14>Dec  2 12:00:00 SW2 one quiet message")
        await until(lambda: sum(collector._devices["127.0.0.3"].severities.values()) == 1
                    and collector._devices["127.0.0.1"].config_changes == 40, "the quiet device and the paste")
        return await collector.collect()

    families = run(collector, scenario)
    flooded = value(families, "egov_syslog_messages_total", target="rtr-huawei")
    assert flooded == 50  # the burst
    assert value(families, "egov_syslog_rate_limited_total", target="rtr-huawei") == 100
    assert value(families, "egov_syslog_dropped_total", reason="rate_limited") == 100
    assert value(families, "egov_syslog_config_changes_total", target="rtr-cisco") == 40
    assert len(collector.changes()) == 5  # the changes kept are bounded, the newest kept
    assert set(collector._devices) == {address for address, _ in DEVICES.values()}


def test_connections_beyond_the_limit_are_refused_and_close_ends_the_rest(tmp_path):
    collector = receiver(tmp_path, max_connections=1)

    async def scenario():
        await collector.collect()
        held = socket.create_connection(collector.address, timeout=5, source_address=("127.0.0.2", 0))
        try:
            await until(lambda: len(collector._streams) == 1, "the first connection")
            tcp_from("127.0.0.3", collector.address[1], b"<13>refused\n")
            await until(lambda: collector._dropped["connections"] == 1, "the second one refused")
            collector.close()
            held.settimeout(5)
            assert await asyncio.get_running_loop().run_in_executor(None, held.recv, 10) == b""  # closed by the agent
        finally:
            held.close()
        return collector._devices["127.0.0.3"].severities

    assert run(collector, scenario) == {}


def test_silence_and_clock_offset_checks(tmp_path):
    clock = Clock()
    collector = receiver(tmp_path, clock=clock)
    late = (datetime.now(timezone.utc) - timedelta(seconds=120)).isoformat().encode()

    async def scenario():
        await collector.collect()
        udp_from("127.0.0.1", collector.address[1], b"<13>1 " + late + b" R1 app - - - two minutes late")
        await until(lambda: collector._devices["127.0.0.1"].last_message is not None, "the message")
        families = await collector.collect()
        return families, {(c.name, c.target): c for c in collector.checks(metric_index(families))}

    families, checks = run(collector, scenario)
    clock.shift = 3600 + 60
    later = {(c.name, c.target): c for c in collector.checks({})}
    assert value(families, "egov_syslog_clock_offset_seconds", target="rtr-cisco") == pytest.approx(-120, abs=30)
    assert checks[("syslog_clock", "rtr-cisco")].state.name == "CRITICAL"
    assert checks[("syslog", "rtr-cisco")].state.name == "OK"
    assert checks[("syslog", "rtr-huawei")].state.name == "OK"  # silent, but not for an hour yet
    assert ("syslog", "srv-linux") not in checks  # not network gear: no log expected
    assert later[("syslog", "rtr-cisco")].state.name == "CRITICAL"
    assert later[("syslog", "rtr-huawei")].summary.startswith("no message since the receiver started")


# the thresholds from the inventory: one router with its own, one with the fleet's defaults, a Linux
# host that lists the check (it logs to the agent) and one that does not (no log expected)
OWN_THRESHOLDS = {
    "rtr-own": ("127.0.0.1", "cisco_ios", "router", {"syslog": {"silence_critical": "10m", "clock_offset_critical": "5s"}}),
    "rtr-default": ("127.0.0.2", "huawei", "router", None),
    "srv-logs": ("127.0.0.4", "linux", "dc_host", {"syslog": {"silence_warning": "1m"}}),
    "srv-quiet": ("127.0.0.5", "linux", "dc_host", None)}


def thresholds_inventory(tmp_path, hosts=OWN_THRESHOLDS, defaults=None):
    entries = {name: {"ansible_host": address, "egov_role": role, "egov_platform": platform,
                      **({"egov_checks": checks} if checks else {})}
               for name, (address, platform, role, checks) in hosts.items()}
    defaults = {"syslog": {"silence_critical": "2h"}} if defaults is None else defaults
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"vars": {"egov_check_defaults": defaults}, "children": {
        "province": {"vars": {"egov_site_type": "province"}, "hosts": entries}}}}))
    return tmp_path


def test_each_device_is_judged_by_its_own_thresholds_or_the_inventorys_defaults(tmp_path):
    clock = Clock()
    context = Context(inventory=load_inventory(thresholds_inventory(tmp_path)))
    collector = SyslogCollector(SyslogSettings(listen="127.0.0.1:0"), context, clock=clock)
    late = (datetime.now(timezone.utc) - timedelta(seconds=30)).isoformat().encode()

    async def scenario():
        await collector.collect()
        for source in ("127.0.0.1", "127.0.0.2"):
            udp_from(source, collector.address[1], b"<13>1 " + late + b" R1 app - - - thirty seconds late")
        await until(lambda: all(collector._devices[a].clock_offset is not None for a in ("127.0.0.1", "127.0.0.2")),
                    "both messages")
        await collector.collect()

    def states(shift: float) -> dict[tuple[str, str], str]:
        clock.shift = shift
        return {(c.name, c.target): c.state.name for c in collector.checks({})}

    run(collector, scenario)
    assert states(0) == {("syslog", "rtr-own"): "OK", ("syslog_clock", "rtr-own"): "CRITICAL",  # its own 5s
                         ("syslog", "rtr-default"): "OK", ("syslog_clock", "rtr-default"): "WARNING",  # 10s
                         ("syslog", "srv-logs"): "OK"}  # srv-quiet lists no syslog check: no log expected
    quarter = states(15 * 60)
    assert (quarter[("syslog", "rtr-own")], quarter[("syslog", "rtr-default")], quarter[("syslog", "srv-logs")]) == (
        "CRITICAL", "OK", "WARNING")  # 10 minutes its own; the defaults' 2 hours; 1 minute
    assert states(2 * 3600 + 60)[("syslog", "rtr-default")] == "CRITICAL"


def test_a_syslog_check_in_the_inventory_is_strict_and_names_host_and_key(tmp_path):
    from agent.inventory import validate

    for checks, key in (({"syslog": {"silence_critical": "-5m"}}, "silence_critical"),
                        ({"syslog": {"silence": "1h"}}, "silence"),
                        ({"syslog": {"clock_offset_warning": "soon"}}, "clock_offset_warning")):
        hosts = {"rtr-bad": ("127.0.0.1", "cisco_ios", "router", checks)}
        errors = [str(error) for error in validate(thresholds_inventory(tmp_path, hosts))]
        assert len(errors) == 1 and "host rtr-bad" in errors[0] and f"egov_checks.syslog.{key}" in errors[0], errors
    errors = [str(e) for e in validate(thresholds_inventory(tmp_path, defaults={"syslog": {"silence_warning": 0}}))]
    assert len(errors) == 1 and "group all" in errors[0] and "egov_check_defaults.syslog.silence_warning" in errors[0]


def test_egov_agent_check_lists_the_network_devices_and_the_hosts_that_list_the_check(tmp_path):
    others = "".join(f"  {name}: {{enabled: false}}\n" for name in discover() if name != "syslog")
    config = tmp_path / "agent.yml"
    config.write_text(f"collectors:\n{others}  syslog: {{enabled: true, listen: '127.0.0.1:0'}}\n")
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    thresholds_inventory(inventory)
    run_ = subprocess.run([sys.executable, "-m", "agent", "check", "-c", str(config), "-i", str(inventory)],
                          capture_output=True, text=True, timeout=60)
    first, *rows = run_.stdout.splitlines()
    assert run_.returncode == 0 and first == "OK: 3 checks, 3 OK", run_.stdout + run_.stderr
    assert sorted(row.split()[2] for row in rows) == ["rtr-default", "rtr-own", "srv-logs"]
    assert all(row.split()[:2] == ["OK", "syslog"] and "no message since the receiver started" in row for row in rows)


@pytest.fixture
def agent_in_vietnam(monkeypatch):
    """The agent's own zone is the province's (TZ=Asia/Ho_Chi_Minh), as on a server set up there."""
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_utc_timestamps_without_a_zone_give_no_offset_where_the_agent_runs_in_local_time(tmp_path, agent_in_vietnam):
    """VRP sends UTC to a loghost by default (its golden configuration says `utc`), IOS too without
    `localtime`; Comware its local time; none names the zone. Told +07:00 for local time, the agent
    reads each in its own zone: about no offset, not 7 hours."""
    collector = receiver(tmp_path, unzoned_timestamps="+07:00")
    now = time.time()
    utc, local = time.gmtime(now), time.gmtime(now + 7 * 3600)

    def stamp(when, rest):  # "Dec  2 ...": the day space-padded, as the devices write it
        return f"{time.strftime('%b', when)} {when.tm_mday:2d} {time.strftime(rest, when)}".encode()

    async def scenario():
        await collector.collect()
        port = collector.address[1]
        udp_from("127.0.0.2", port, b"<189>" + stamp(utc, "%Y %H:%M:%S") + b" R1 %%01SHELL/5/CMDRECORD(s)[1]:x")
        udp_from("127.0.0.1", port, b"<189>12: *" + stamp(utc, "%H:%M:%S") + b".000: %SYS-5-CONFIG_I: x")
        udp_from("127.0.0.3", port, b"<190>" + stamp(local, "%H:%M:%S %Y") + b" SW2 %%10SHELL/6/SHELL_CMD: x")
        await until(lambda: all(collector._devices[a].clock_offset is not None for a in
                                ("127.0.0.1", "127.0.0.2", "127.0.0.3")), "three stamped messages")
        return await collector.collect()

    families = run(collector, scenario)
    assert datetime.now().astimezone().utcoffset() == timedelta(hours=7)
    for name in ("rtr-huawei", "rtr-cisco", "sw-comware"):
        assert value(families, "egov_syslog_clock_offset_seconds", target=name) == pytest.approx(0, abs=5), name


def test_a_port_in_use_fails_with_reason_config(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        collector = SyslogCollector(SyslogSettings(listen=f"127.0.0.1:{taken.getsockname()[1]}"), context(tmp_path))
        with pytest.raises(Exception) as raised:
            asyncio.run(collector.collect())
    assert getattr(raised.value, "reason", None) == "config" and "cannot listen" in str(raised.value)


def test_off_by_default_on_loopback_and_strict(tmp_path):
    assert "syslog" not in load_config().collectors
    assert SyslogSettings().listen.startswith("127.0.0.1:")
    config = tmp_path / "agent.yml"
    for key, bad in (("listen", "everywhere"), ("unzoned_timestamps", "ICT")):
        config.write_text(f"collectors:\n  syslog:\n    enabled: true\n    {key}: {bad}\n")
        with pytest.raises(ConfigError, match=key):
            load_config(config)


# ---------------------------------------------------------------- through the province's rsyslog

RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{relay_port}")
template(name="egov" type="string" string="<%PRI%>1 - %FROMHOST-IP% - - - - %RAWMSG-AFTER-PRI%")
action(type="omfwd" target="127.0.0.1" port="{agent_port}" protocol="tcp" TCP_Framing="octet-counted"
       template="egov")
"""


def test_a_real_rsyslog_relays_each_devices_messages_as_its_own(tmp_path):
    """rsyslog (README's lines) on 127.0.0.1 forwards what the devices on 127.0.0.2-3 send it; 127.0.0.1 is
    no inventory device here, only the relay."""
    rsyslogd = require("rsyslogd")
    devices = {name: spec for name, spec in DEVICES.items() if spec[0] != "127.0.0.1"}
    hosts = {name: {"ansible_host": address, "egov_role": "router" if platform != "linux" else "dc_host",
                    "egov_platform": platform} for name, (address, platform) in devices.items()}
    (tmp_path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"},
                                                                 "hosts": hosts}}))
    collector = SyslogCollector(SyslogSettings(listen="127.0.0.1:0", relays=["127.0.0.1"]),
                                Context(inventory=load_inventory(tmp_path)))
    relay_port, late = free_port(), (datetime.now(timezone.utc) - timedelta(seconds=120))
    stamp = late.astimezone().strftime("%b %d %Y %H:%M:%S").encode() + late.astimezone().strftime("%z").encode()

    async def scenario():
        await collector.collect()
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=tmp_path, relay_port=relay_port, agent_port=collector.address[1]))
        relay = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        huawei = collector._devices["127.0.0.2"]
        try:
            deadline = time.monotonic() + 20
            while huawei.last_message is None:  # until rsyslog listens and forwards
                assert relay.poll() is None and time.monotonic() < deadline, relay.stderr.read1().decode()
                udp_from("127.0.0.2", relay_port, b"<190>" + stamp + b" R1 %%01IFNET/4/LINK_STATE(l)[0]:The line "
                         b"protocol IP on the interface GigabitEthernet0/0/1 has entered the DOWN state.")
                await asyncio.sleep(0.2)
            udp_from("127.0.0.3", relay_port, b"<190>Dec  2 12:00:30 2026 SW2 %%10SHELL/6/SHELL_CMD: -Line=vty0-"
                                              b"IPAddr=192.0.2.12-User=netops3; Command is undo telnet server enable")
            udp_from(STRANGER, relay_port, b"<190>Dec  2 12:00:30 2026 X %%10SHELL/6/SHELL_CMD: -Line=vty0-"
                                           b"IPAddr=192.0.2.13-User=intruder; Command is sysname X")
            await until(lambda: collector._devices["127.0.0.3"].config_changes == 1
                        and collector._dropped["unknown_sender"] >= 1, "the change and the stranger, relayed")
            return await collector.collect()
        finally:
            relay.terminate()
            relay.wait(10)

    families = run(collector, scenario)
    assert value(families, "egov_syslog_interface_changes_total", target="rtr-huawei", state="down") >= 1
    assert value(families, "egov_syslog_clock_offset_seconds", target="rtr-huawei") == pytest.approx(-120, abs=30)
    assert [(c.target, c.user) for c in collector.changes()] == [("sw-comware", "netops3")]
    assert value(families, "egov_syslog_config_changes_total") == 1  # the stranger's is not anyone's
