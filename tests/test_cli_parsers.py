"""The CLI parsers of the ssh collector on captured outputs of real devices (tests/fixtures/cli)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import _cli_cisco_ios as ios
from collectors import _cli_huawei as vrp
from collectors._cli import Interface, Neighbor, ParseError, Version, interface_key, uptime_seconds

FIXTURES = Path(__file__).parent / "fixtures" / "cli"


def capture(platform: str, name: str) -> str:
    return (FIXTURES / platform / f"{name}.txt").read_text()


def test_uptimes_as_ios_and_vrp_print_them():
    assert uptime_seconds("1 year, 18 weeks, 5 days, 1 hour, 11 minutes") == (365 + 18 * 7 + 5) * 86400 + 3600 + 660
    assert uptime_seconds("0 week, 0 day, 15 hours, 16 minutes") == 15 * 3600 + 16 * 60
    assert uptime_seconds("161 days, 0 hour, 20 minutes") == 161 * 86400 + 1200
    assert uptime_seconds("a while") is None


def test_interface_names_compare_in_any_spelling():
    assert interface_key("Gi0/1") == interface_key("GigabitEthernet0/1") == interface_key("gigabitethernet 0/1")
    assert interface_key("GE0/0/1") == interface_key("GigabitEthernet0/0/1")
    assert interface_key("XGE0/0/1") == interface_key("XGigabitEthernet0/0/1") != interface_key("GE0/0/1")
    assert interface_key("10GE1/0/1") == interface_key("10ge1/0/1")
    assert interface_key("Gi0/1") != interface_key("Gi0/10")


# ---------------------------------------------------------------- Cisco IOS

def test_ios_show_version():
    assert ios.parse_version(capture("cisco_ios", "show_version_asr1001")) == Version(
        "ASR1001", "15.3(2)S1", 86400 + 15 * 3600 + 32 * 60, "SSI1289001MH")
    # a stack of four: the first member's model and serial, the master's uptime
    assert ios.parse_version(capture("cisco_ios", "show_version_c3850")) == Version(
        "WS-C3850-48U", "03.06.05E", (28 * 7 + 1) * 86400 + 7 * 3600 + 54 * 60, "FOC11111111")


def test_ios_show_interfaces_gives_states_and_byte_counters():
    interfaces = {i.name: i for i in ios.parse_interfaces(capture("cisco_ios", "show_interfaces"))}
    assert list(interfaces) == ["GigabitEthernet0/0", "GigabitEthernet0/1", "Port-channel1", "Loopback0", "Vlan1",
                                "GigabitEthernet0/2"]
    assert interfaces["GigabitEthernet0/1"] == Interface("GigabitEthernet0/1", True, True, receive_bytes=14855,
                                                         transmit_bytes=2510810, receive_packets=83,
                                                         transmit_packets=15513, receive_errors=0, transmit_errors=0)
    # "is reset" and "is down" are administratively up; only "administratively down" is not
    assert (interfaces["GigabitEthernet0/0"].admin_up, interfaces["GigabitEthernet0/0"].oper_up) == (True, False)
    assert (interfaces["GigabitEthernet0/2"].admin_up, interfaces["GigabitEthernet0/2"].oper_up) == (False, False)
    assert interfaces["Vlan1"].transmit_bytes == 240


def test_ios_cpu_and_memory():
    assert ios.parse_cpu(capture("cisco_ios", "show_processes_cpu_iosv")) == 0.11  # the one-minute figure
    assert ios.parse_cpu(capture("cisco_ios", "show_processes_cpu")) == 0.0
    assert ios.parse_memory(capture("cisco_ios", "show_processes_memory_sorted")) == 236752096 / 919638648
    # classic IOS adds an I/O pool line: only the processor pool counts
    assert ios.parse_memory(capture("cisco_ios", "show_processes_memory_sorted_iosv")) == 63267680 / 590945152


def test_ios_lldp_and_cdp_neighbours():
    assert ios.parse_lldp(capture("cisco_ios", "show_lldp_neighbors_detail")) == [
        Neighbor("Gi1/0/2", "", "502", ""),  # a Juniper that advertises no system name
        Neighbor("Gi1/0/1", "HpSwitch", "94f1.2879.5555", "203.0.113.81"),
        Neighbor("Gi1/0/9", "44:48:c1:c4:dd:dd", "4448.c1c4.dddd", "203.0.113.40")]
    assert ios.parse_cdp(capture("cisco_ios", "show_cdp_neighbors_detail")) == [
        Neighbor("GigabitEthernet1/0/16", "desktop-switch", "GigabitEthernet0/1", "198.51.100.2"),
        Neighbor("GigabitEthernet1/0/22", "ce-router", "GigabitEthernet0/0", "198.51.100.1")]
    assert ios.parse_lldp("% LLDP is not enabled\n") is None  # IOS's default: then CDP is asked
    assert ios.parse_lldp("\nTotal entries displayed: 0\n\n") == []


def test_ios_says_what_it_does_not_offer():
    rejected = "                 ^\n% Invalid input detected at '^' marker.\n"
    for parse in (ios.parse_version, ios.parse_interfaces, ios.parse_cpu, ios.parse_memory, ios.parse_cdp):
        assert parse(rejected) is None


@pytest.mark.parametrize("parse", [ios.parse_version, ios.parse_interfaces, ios.parse_cpu, ios.parse_memory,
                                   ios.parse_lldp])
def test_ios_output_of_another_command_is_a_parse_error(parse):
    with pytest.raises(ParseError):
        parse(capture("huawei", "display_version_ar617"))


# ---------------------------------------------------------------- Huawei VRP

def test_vrp_display_version():
    assert vrp.parse_version(capture("huawei", "display_version_ar617")) == Version(
        "AR617VW-LTE4EA", "V300R019C13SPC200", 15 * 3600 + 16 * 60)
    assert vrp.parse_version(capture("huawei", "display_version_ar6280")) == Version(
        "AR6280", "V300R019C10SPC300", (60 * 7 + 4) * 86400 + 11 * 3600 + 20 * 60)
    assert vrp.parse_version(capture("huawei", "display_version_ne40e")) == Version(
        "NE40E-X2-M8A", "V800R011C00SPC200", 161 * 86400 + 20 * 60)


def test_vrp_display_interface_in_its_layouts():
    ar = {i.name: i for i in vrp.parse_interfaces(capture("huawei", "display_interface_ar"))}
    assert ar["GigabitEthernet0/0/2"] == Interface("GigabitEthernet0/0/2", True, True, 768740, 768740, 6460, 6460, 0, 0)
    assert ar["GigabitEthernet0/0/4"].oper_up is False and ar["GigabitEthernet0/0/4"].receive_bytes == 2525068
    assert (ar["NULL0"].receive_bytes, ar["NULL0"].receive_packets) == (0, None)  # 'Input: 0 bytes'
    assert ar["Vlanif100"] == Interface("Vlanif100", True, True)  # no counters shown
    s5720 = {i.name: i for i in vrp.parse_interfaces(capture("huawei", "display_interface_s5720"))}
    assert list(s5720) == ["GigabitEthernet0/0/00", "NULL0", "Vlanif01", "GigabitEthernet0/0/01"]
    assert (s5720["GigabitEthernet0/0/01"].receive_bytes, s5720["GigabitEthernet0/0/01"].transmit_bytes,
            s5720["GigabitEthernet0/0/01"].transmit_packets) == (1234567890, 55470388604, 12345667789)
    assert s5720["NULL0"].receive_packets == 0  # 'Input: 0 packets,0 bytes'
    [ce] = vrp.parse_interfaces(capture("huawei", "display_interface_ce_admin_down"))
    assert ce == Interface("GE1/0/1", False, False, 0, 0, 0, 0)  # VRP 8: 'Input: 0 bytes, 0 packets'


@pytest.mark.parametrize("name, ratio", [("s5700", 0.06), ("ce", 0.14), ("ar_planes", 0.17), ("busy", 0.41)])
def test_vrp_display_cpu_usage_one_minute(name, ratio):
    assert vrp.parse_cpu(capture("huawei", f"display_cpu-usage_{name}")) == ratio


@pytest.mark.parametrize("name, ratio", [("bytes", 419923676 / 3781229768), ("kbytes", 806468 / 2025148),
                                         ("rate", 4821324 / 7848192)])
def test_vrp_display_memory_usage(name, ratio):
    assert vrp.parse_memory(capture("huawei", f"display_memory-usage_{name}")) == ratio


def test_vrp_lldp_neighbour_brief_in_both_column_orders():
    assert vrp.parse_neighbors(capture("huawei", "display_lldp_neighbor_brief_vrp5")) == [
        Neighbor("GE0/0/1", "", "d843-ae33-d748"), Neighbor("GE0/0/7", "SIP-T31P", "44db-d2fc-2dcf"),
        Neighbor("XGE0/0/1", "01.68_Stuff-Core", "10GE1/0/31")]
    vrp8 = vrp.parse_neighbors(capture("huawei", "display_lldp_neighbor_brief_vrp8"))
    assert vrp8[2] == Neighbor("10GE1/0/45", "TEST-LM01", "10GE1/0/45")
    assert vrp8[4] == Neighbor("MEth0/0/0", "TEST-LM04", "GigabitEthernet1/0/42")
    assert vrp.parse_neighbors("Info: Global LLDP is not enabled.\n") is None


def test_vrp_says_what_it_does_not_offer():
    rejected = "              ^\nError: Unrecognized command found at '^' position.\n"
    for parse in (vrp.parse_version, vrp.parse_interfaces, vrp.parse_cpu, vrp.parse_memory, vrp.parse_neighbors):
        assert parse(rejected) is None


@pytest.mark.parametrize("parse", [vrp.parse_version, vrp.parse_interfaces, vrp.parse_cpu, vrp.parse_memory,
                                   vrp.parse_neighbors])
def test_vrp_output_of_another_command_is_a_parse_error(parse):
    with pytest.raises(ParseError):
        parse(capture("cisco_ios", "show_version_asr1001"))


def test_out_of_range_figures_are_parse_errors():
    with pytest.raises(ParseError, match="percentage"):
        vrp.parse_cpu("CPU utilization for five seconds: 6%: one minute: 160%: five minutes: 6%")
    with pytest.raises(ParseError, match="used"):
        vrp.parse_memory("System Total Memory Is: 100 bytes\nTotal Memory Used Is: 200 bytes\n")
