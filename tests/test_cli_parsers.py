"""The CLI parsers of the ssh collector on captured outputs of real devices (tests/fixtures/cli,
the real-gear corpus through tests/real_gear.py, and short examples quoted from vendor references)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import _cli_cisco_ios as ios
from collectors import _cli_hp_comware as comware
from collectors import _cli_huawei as vrp
from collectors._cli import Interface, Neighbor, ParseError, Version, interface_key, uptime_seconds
from tests import real_gear

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


@pytest.mark.parametrize("short, long", [
    # IOS LLDP and CDP neighbour tables (corpus: captures/ntc/cisco_ios/show_lldp_neighbors*, show_cdp_neighbors*)
    ("Te1/1/1", "TenGigabitEthernet1/1/1"), ("Tw2/0/33", "TwoGigabitEthernet2/0/33"), ("Et0/0", "Ethernet0/0"),
    ("Gig 1/0/10", "GigabitEthernet1/0/10"), ("Ten 1/1/3", "TenGigabitEthernet1/1/3"), ("Fas 0/0", "FastEthernet0/0"),
    ("Fa0/13", "FastEthernet0/13"), ("Eth1/6", "Ethernet1/6"), ("Po1", "Port-channel1"),
    ("Twe1/0/1", "TwentyFiveGigE1/0/1"), ("Fo1/1/1", "FortyGigabitEthernet1/1/1"), ("Hu1/0/49", "HundredGigE1/0/49"),
    # VRP and CloudEngine (captures/ntc/huawei_vrp/display_lldp_neighbor*, tests/fixtures/cli/huawei)
    ("GE1/0/25", "GigabitEthernet1/0/25"), ("XGE0/0/1", "XGigabitEthernet0/0/1"), ("10GE1/0/45", "10GE1/0/45"),
    ("Eth-Trunk1", "Eth-Trunk 1"), ("MEth0/0/0", "MEth0/0/0"), ("Vlanif100", "Vlanif 100"),
    # Comware: `list` prints XGE for the Ten-GigabitEthernet that `verbose` and `display interface` name
    # (captures/ntc/hp_comware/display_lldp_neighbor-information_*, display_interface); BAGG, RAGG, FGE, HGE
    # and M-GE as Comware's brief tables shorten Bridge-Aggregation, Route-Aggregation, FortyGigE,
    # HundredGigE and M-GigabitEthernet
    ("XGE1/0/0/1", "Ten-GigabitEthernet1/0/0/1"), ("GE2/0/45", "GigabitEthernet2/0/45"),
    ("BAGG20", "Bridge-Aggregation20"), ("RAGG1", "Route-Aggregation1"), ("FGE2/0/30", "FortyGigE2/0/30"),
    ("HGE3/0/23", "HundredGigE3/0/23"), ("M-GE0/0/0", "M-GigabitEthernet0/0/0"), ("Vlan-int2000", "Vlan-interface2000"),
])
def test_short_and_long_port_names_share_a_key(short, long):
    assert interface_key(short) == interface_key(long)


def test_ports_of_other_speeds_or_numbers_stay_apart():
    keys = [interface_key(n) for n in ("Gi1/0/1", "Te1/0/1", "Tw1/0/1", "Twe1/0/1", "Fo1/0/1", "Hu1/0/1",
                                       "Fa1/0/1", "Et1/0/1", "Gi1/0/11", "Gi1/0/1.100")]
    assert len(set(keys)) == len(keys)


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


def test_ios_interface_headers_in_every_published_form_keep_their_own_counters():
    # the header lines as genieparser's iosxe show_interface.py and Cisco's errdisable note quote them,
    # each followed by counter lines in the form of captures/ntc/cisco_ios/show_interfaces
    text = ("Vlan1 is administratively down, line protocol is down , Autostate Enabled\n"
            "     7 packets input, 700 bytes, 0 no buffer\n"
            "Dialer1 is up (spoofing), line protocol is up (spoofing)\n"
            "     12 packets input, 3400 bytes\n"
            "     3 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored\n"
            "FastEthernet1 is down, line protocol is down (err-disabled)\n"
            "     5 packets input, 600 bytes, 0 no buffer\n"
            "     9 packets output, 900 bytes, 0 underruns\n")
    vlan, dialer, fast = ios.parse_interfaces(text)
    assert vlan == Interface("Vlan1", False, False, receive_bytes=700, receive_packets=7)
    assert dialer == Interface("Dialer1", True, True, receive_bytes=3400, receive_packets=12, receive_errors=3)
    assert fast == Interface("FastEthernet1", True, False, receive_bytes=600, transmit_bytes=900,
                             receive_packets=5, transmit_packets=9)


def test_ios_xe_cpu_per_core():
    # `show processes cpu platform`, as genieparser's iosxe show_platform.py quotes it: the whole CPU first
    assert ios.parse_cpu("CPU utilization for five seconds: 43%, one minute: 44%, five minutes: 44%\n"
                         "Core 0: CPU utilization for five seconds:  6%, one minute: 11%, five minutes: 11%\n") == 0.44
    # a multi-core Catalyst's `show processes cpu` prints only the cores (collectd-python-shower's
    # README, "Multi-core CPU example"): their mean
    assert ios.parse_cpu("Core 0: CPU utilization for five seconds: 3%; one minute: 3%; five minutes: 3%\n"
                         "Core 1: CPU utilization for five seconds: 1%; one minute: 5%; five minutes: 3%\n") == 0.04


def test_ios_older_lldp_layout_without_local_port_asks_the_table():
    older = real_gear.path("captures/ntc/cisco_ios/show_lldp_neighbors_detail",
                           "cisco_ios_show_lldp_neighbors_detail2.raw")
    assert ios.parse_lldp(older.read_text()) is None  # no 'Local Intf:' line: no neighbour can be placed
    assert [c.command for c in ios.COMMANDS["neighbors"]][1] == "show lldp neighbors"
    table = real_gear.path("captures/ntc/cisco_ios/show_lldp_neighbors/cisco_ios_show_lldp_neighbors.raw")
    assert ios.parse_lldp_table(table.read_text())[0] == Neighbor("Fa0/13", "S2", "Gi0/13")
    assert interface_key("Fa0/13") == interface_key("FastEthernet0/13")
    assert ios.parse_lldp_table("% LLDP is not enabled\n") is None


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


def test_vrp_display_lldp_neighbor_where_brief_is_unknown():
    capture = real_gear.path("captures/ntc/huawei_vrp/display_lldp_neighbor/huawei_vrp_display_lldp_neighbor.raw")
    assert vrp.parse_neighbors_detail(capture.read_text())[0] == Neighbor(
        "GigabitEthernet0/0/1", "tsa-2960-sw01", "Gi1/0/1", "192.168.0.240")
    assert [c.command for c in vrp.COMMANDS["neighbors"]] == ["display lldp neighbor brief", "display lldp neighbor"]


def test_vrp_on_the_ne40e_command_reference_examples():
    misc = "captures/misc/huawei_vrp"
    version = real_gear.path(misc, "display_version/inta_ne40e_v800r012_cmdref_example.txt").read_text()
    assert vrp.parse_version(version) == Version("NE40E-X16", "V800R012C10", 7 * 86400 + 3600 + 18 * 60)
    ports = vrp.parse_interfaces(real_gear.path(misc, "display_interface/inta_ne40e_v800r012_cmdref_example_1.txt")
                                 .read_text())
    assert ports[0] == Interface("GE1/0/0", True, True, 183126871, 509287017, 182525, 244628)
    assert ports[-1] == Interface("GE1/0/2", False, False)  # 'Administratively DOWN (ifindex: 8)......'
    assert vrp.parse_memory(real_gear.path(misc, "display_memory-usage/inta_ne40e_v800r012_cmdref_example.txt")
                            .read_text()) == 2760260 / 12183056


# ---------------------------------------------------------------- H3C / HPE Comware

def test_comware_display_version_of_comware_7_and_5():
    misc = "captures/misc/hp_comware/display_version"
    assert comware.parse_version(real_gear.path(misc, "idx_dev-sw05_s5130-28s-hpwr-ei_7.1.045.txt").read_text()) == \
        Version("S5130-28S-HPWR-EI", "7.1.045 Release 3106", (7 * 7 + 2) * 86400 + 22 * 3600 + 16 * 60)
    assert comware.parse_version(real_gear.path(misc, "idx_s5500-28c-ei_comware5_5.20-r2202.txt").read_text()) == \
        Version("S5500-28C-EI", "5.20 Release 2202", (115 * 7 + 1) * 86400 + 8 * 3600 + 37 * 60)


def test_comware_display_interface_in_both_layouts():
    ntc = "captures/ntc/hp_comware/display_interface"
    # Comware 7: the name alone on its line, then 'Current state: UP'; 'Input (total): ... packets, ... bytes'
    seven = {i.name: i for i in comware.parse_interfaces(
        real_gear.path(ntc, "hp_comware_display_interface.raw").read_text())}
    assert seven["Bridge-Aggregation20"] == Interface("Bridge-Aggregation20", True, True, 24384580165, 90115617821,
                                                      80274398, 110103849, 0, 0)
    assert seven["Vlan-interface2000"].receive_bytes == 611444  # 'Input: 9103 packets, 611444 bytes, 0 drops'
    # Comware 5: ' GigabitEthernet12/0/17 current state: DOWN ( Administratively )'
    five = comware.parse_interfaces(real_gear.path(ntc, "hp_comware_display_interface_stp-down_jumbo.raw").read_text())
    assert five[0] == Interface("GigabitEthernet12/0/17", False, False, 2077724863, 23685575500, 15657716, 224919997,
                                0, 0)
    assert (five[1].admin_up, five[1].oper_up) == (True, False)  # 'STP DOWN': shut by BPDU guard, not by staff
    # 'Input:' alone, the figures on the next lines
    [old] = comware.parse_interfaces(real_gear.path(ntc, "hp_comware_display_interface5.raw").read_text())
    assert (old.receive_packets, old.receive_bytes, old.receive_errors, old.transmit_packets) == (1183, 90466, 0, 0)


def test_comware_display_cpu_usage_takes_the_busiest_cpu():
    # H3C Comware 7 device management command reference, display cpu-usage examples
    assert comware.parse_cpu("Unit CPU usage:\n       1% in last 5 seconds\n       1% in last 1 minute\n"
                             "       1% in last 5 minutes\n") == 0.01
    assert comware.parse_cpu("Slot 1 CPU 0 CPU usage:\n       6% in last 5 seconds\n      10% in last 1 minute\n"
                             "       5% in last 5 minutes\n\nSlot 2 CPU 0 CPU usage:\n       5% in last 5 seconds\n"
                             "       8% in last 1 minute\n       5% in last 5 minutes\n") == 0.10


def test_comware_display_memory():
    # Comware 7: H3C device management command reference, display memory example
    seven = ("The statistics about memory is measured in KB:\nSlot 0:\n"
             "             Total      Used      Free    Shared   Buffers    Cached   FreeRatio\n"
             "Mem:        507980    154896    353084         0       488     54488       69.5%\n"
             "-/+ Buffers/Cache:     99920    408060\nSwap:           0         0         0\n")
    assert comware.parse_memory(seven) == 154896 / 507980  # 100% - FreeRatio 69.5%
    # Comware 5, as public tools for it quote the two lines
    assert comware.parse_memory("System Total Memory(bytes): 81806560\nTotal Used Memory(bytes): 26663832\n"
                                "Used Rate: 32%\n") == 26663832 / 81806560


def test_comware_lldp_neighbours():
    ntc = "captures/ntc/hp_comware"
    verbose = comware.parse_lldp(real_gear.path(ntc, "display_lldp_neighbor-information_verbose",
                                                "hp_comware_display_lldp_neighbor-information_verbose.raw").read_text())
    assert verbose[1] == Neighbor("Ten-GigabitEthernet1/0/0/2", "SW2", "Ten-GigabitEthernet1/0/0/5", "10.6.5.4")
    listed = comware.parse_lldp_list(real_gear.path(ntc, "display_lldp_neighbor-information_list",
                                                    "hp_comware_display_lldp_neighbor-information_list2.raw")
                                     .read_text())
    assert listed[-1] == Neighbor("GE2/0/45", "", "Port 1")  # '-': no system name advertised
    assert interface_key(listed[-1].interface) == interface_key("GigabitEthernet2/0/45")


# ---------------------------------------------------------------- every platform

# each platform's answer to a command it does not know, as the device prints it
REFUSALS = {ios: "                 ^\n% Invalid input detected at '^' marker.\n",
            vrp: "              ^\nError: Unrecognized command found at '^' position.\n",
            comware: "                  ^\n % Unrecognized command found at '^' position.\n"}
# another platform's `show version` / `display version`, which no parser may take for its own output
FOREIGN = {ios: ("huawei", "display_version_ar617"), vrp: ("cisco_ios", "show_version_asr1001"),
           comware: ("cisco_ios", "show_version_asr1001")}


EVERY_COMMAND = [pytest.param(platform, command, id=f"{platform.PLATFORM}: {command.command}")
                 for platform in REFUSALS for commands in platform.COMMANDS.values() for command in commands]
# neighbour tables that ntc-templates reads as no rows (not as an error) from another platform's version
TABLES = (ios.parse_cdp, comware.parse_lldp)


@pytest.mark.parametrize("platform, command", EVERY_COMMAND)
def test_a_refused_command_is_not_offered(platform, command):
    assert command.parse(REFUSALS[platform]) is None


@pytest.mark.parametrize("platform, command", [case for case in EVERY_COMMAND if case.values[1].parse not in TABLES])
def test_output_of_another_command_is_a_parse_error(platform, command):
    with pytest.raises(ParseError):
        command.parse(capture(*FOREIGN[platform]))


def test_out_of_range_figures_are_parse_errors():
    with pytest.raises(ParseError, match="percentage"):
        vrp.parse_cpu("CPU utilization for five seconds: 6%: one minute: 160%: five minutes: 6%")
    with pytest.raises(ParseError, match="used"):
        vrp.parse_memory("System Total Memory Is: 100 bytes\nTotal Memory Used Is: 200 bytes\n")
