"""The simulated devices (tests/sim) speak as the real ones do, over real SSH through netmiko:
a misspelt command gets the vendor's own error under a caret, a line taken from a real
running-config of the corpus (../shared/real-gear) is taken, and the login follows the
configuration: vty lines switched to AAA before the account exists lock the next login out."""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta, timezone

import pytest
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException

from agent import platforms
from collectors._syslog_message import event, parse
from tests import real_gear
from tests.peer_sim import PASSWORD, start_fleet
from tests.sim import Device

# platform -> (address, a misspelt command, the device's answer (after the caret line))
MISSPELT = {"cisco_ios": ("127.82.0.1", "shwo version", "% Invalid input detected at '^' marker."),
            "huawei": ("127.82.0.2", "dispaly version", "Error: Unrecognized command found at '^' position."),
            "hp_comware": ("127.82.0.3", "dispaly version", "% Unrecognized command found at '^' position."),
            "huawei_vrpv8": ("127.82.0.6", "dispaly version", "Error: Unrecognized command found at '^' position.")}
# platform -> (a corpus configuration, a line of it, the command that shows it back)
REAL_LINE = {"cisco_ios": ("cisco/cml_remoteaccess_R1_iosv_15.9.cfg", "ip ssh version 2", "show running-config"),
             "huawei": ("huawei/idx_dhakacolo-panthapath_s-series_v200r021.cfg",
                        "snmp-agent sys-info version v2c v3", "display current-configuration"),
             "hp_comware": ("h3c/netutils_comware7_full_7.1.045.cfg", "snmp-agent sys-info contact Test-Contact",
                            "display current-configuration")}
LOCKED = Device("lockout-rtr", "127.82.0.4", "huawei", password=PASSWORD, local_user=False)
SAFE = Device("safe-rtr", "127.82.0.5", "huawei", password=PASSWORD, local_user=False)
LOCKED_CE = Device("lockout-ce", "127.82.0.7", "huawei_vrpv8", password=PASSWORD, local_user=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    devices = [Device(f"{platform}-sim", address, platform, password=PASSWORD)
               for platform, (address, _, _) in MISSPELT.items()] + [LOCKED, SAFE, LOCKED_CE]
    with start_fleet(devices, tmp_path_factory.mktemp("fidelity")) as fleet:
        yield fleet


def connect(fleet, platform: str, address: str, username: str = "egov-netops"):
    return ConnectHandler(device_type=platform, host=address, port=fleet.port, username=username,
                          password=PASSWORD, allow_agent=False, use_keys=False)


@pytest.mark.parametrize("platform", MISSPELT)
def test_a_misspelt_command_gets_the_vendors_error_under_a_caret(fleet, platform):
    address, command, message = MISSPELT[platform]
    with connect(fleet, platform, address) as session:
        prompt = session.find_prompt()
        answer = session.send_command(command).splitlines()
    assert answer[-1] == message
    assert answer[-2] == " " * len(prompt) + "^"  # under the first letter of the bad word


def test_ios_says_incomplete_and_ambiguous_as_ios_does(fleet):
    with connect(fleet, "cisco_ios", MISSPELT["cisco_ios"][0]) as session:
        answer = session.send_config_set(["logging", "a"], cmd_verify=False)
    assert "% Incomplete command." in answer and '% Ambiguous command:  "a"' in answer


@pytest.mark.parametrize("platform", REAL_LINE)
def test_a_line_of_a_real_configuration_is_taken_and_shown(fleet, platform):
    name, line, show = REAL_LINE[platform]
    assert line in real_gear.path("configs", *name.split("/")).read_text().splitlines() or \
        " " + line in real_gear.path("configs", *name.split("/")).read_text().splitlines()
    with connect(fleet, platform, MISSPELT[platform][0]) as session:
        answer = session.send_config_set([line])
        running = session.send_command(show).splitlines()
    assert not re.search(r"% |Error:", answer), answer
    assert line in [text.strip() for text in running]


def test_vty_aaa_before_the_account_exists_locks_the_next_login_out(fleet):
    with connect(fleet, "huawei", LOCKED.address) as session:  # boots with the vty password only
        answer = session.send_config_set(["user-interface vty 0 4", "authentication-mode aaa"])
    assert "Error" not in answer
    with pytest.raises(NetmikoAuthenticationException):
        connect(fleet, "huawei", LOCKED.address)


def test_vty_aaa_after_the_account_is_made_keeps_the_login(fleet):
    user = "egov-netops"
    lines = ["aaa", f"local-user {user} password irreversible-cipher {PASSWORD}",
             f"local-user {user} privilege level 15", f"local-user {user} service-type ssh", "quit",
             f"ssh user {user} authentication-type password", f"ssh user {user} service-type stelnet",
             "user-interface vty 0 4", "authentication-mode aaa"]
    with connect(fleet, "huawei", SAFE.address) as session:
        answer = session.send_config_set(lines)
    assert "Error" not in answer, answer
    with connect(fleet, "huawei", SAFE.address) as session:
        assert f"local-user {user} service-type ssh" in session.send_command("display current-configuration")


def test_vrp8_runs_a_change_once_committed_and_its_prompt_says_so(fleet):
    """CloudEngine configures in two stages (reference/huawei/ce6800_v300r023_cmdref_management.txt:
    `[~HUAWEI]` until a change, `[*HUAWEI]` after it, `commit` makes it run)."""
    line = "clock timezone BJ add 08:00:00"
    assert line in real_gear.path("configs", "huawei", "inta_ce6800_doc_first_login_basic.cfg").read_text().splitlines()
    with connect(fleet, "huawei_vrpv8", MISSPELT["huawei_vrpv8"][0]) as session:
        session.config_mode()
        assert session.find_prompt() == "[~huawei_vrpv8-sim]"
        session.send_config_set(["user-interface vty 0 4", "idle-timeout 7 0"])
        assert session.find_prompt() == "[*huawei_vrpv8-sim-ui-vty0-4]"
        session.send_config_set(["quit", line])
        assert session.find_prompt() == "[*huawei_vrpv8-sim]"
        assert line not in session.send_command("display current-configuration").splitlines()
        session.commit()  # netmiko: `commit`, then `return`
        assert session.find_prompt() == "<huawei_vrpv8-sim>"
        running = session.send_command("display current-configuration").splitlines()
    assert line in running and " idle-timeout 7 0" in running


def test_vrp8_asks_before_leaving_changes_not_committed(fleet):
    with connect(fleet, "huawei_vrpv8", MISSPELT["huawei_vrpv8"][0]) as session:
        session.config_mode()
        session.send_config_set(["sysname renamed"])
        assert session.find_prompt() == "[*huawei_vrpv8-sim]"  # the name changes at commit
        asked = session.send_command("return", expect_string=r"C\(cancel\)\]:")
        assert "Warning: Uncommitted configurations found, commit them before exiting?" in asked
        session.send_command("n", expect_string=r">")
        assert session.find_prompt() == "<huawei_vrpv8-sim>"
        assert "sysname renamed" not in session.send_command("display current-configuration")


def test_vrp8_vty_aaa_before_the_account_exists_locks_the_next_login_out_once_committed(fleet):
    with connect(fleet, "huawei_vrpv8", LOCKED_CE.address) as session:  # boots with the vty password only
        answer = session.send_config_set(["user-interface vty 0 4", "authentication-mode aaa"])
        assert "Error" not in answer
        connect(fleet, "huawei_vrpv8", LOCKED_CE.address).disconnect()  # not committed: not running
        session.commit()
    with pytest.raises(NetmikoAuthenticationException):
        connect(fleet, "huawei_vrpv8", LOCKED_CE.address)


def _shapes(platform: str):
    """platform -> (the global shapes, the block shapes by the header's first word, the negation)."""
    from tests.sim import cisco_ios, hp_comware, huawei_vrp, huawei_vrpv8

    return {"cisco": (cisco_ios.CONFIG, {"interface": cisco_ios.INTERFACE, "line": cisco_ios.LINE,
                                         "vlan": cisco_ios.VLAN}, "no"),
            "huawei": (huawei_vrp.SYSTEM, {"interface": huawei_vrp.INTERFACE, "aaa": huawei_vrp.AAA,
                                           "user-interface": huawei_vrp.UI, "vlan": huawei_vrp.VLAN}, "undo"),
            "h3c": (hp_comware.SYSTEM, {"interface": hp_comware.INTERFACE, "line": hp_comware.LINE,
                                        "vlan": hp_comware.VLAN, "local-user": hp_comware.LOCAL_USER}, "undo"),
            "ce": (huawei_vrpv8.SYSTEM, {"interface": huawei_vrpv8.INTERFACE, "aaa": huawei_vrpv8.AAA,
                                         "user-interface": huawei_vrpv8.UI, "vlan": huawei_vrpv8.VLAN}, "undo")}[platform]


# The share of the corpus's configuration lines, in the modes the simulators model (global, and
# the blocks of _shapes), that their grammar takes: measured 2819/3769 IOS, 1277/1534 VRP,
# 736/1143 Comware, 393/501 CloudEngine (its configurations: huawei/*_ce*; the most missed: `undo
# portswitch`, 20). A floor, so that it only grows.
FLOOR = {"cisco": 0.74, "huawei": 0.82, "h3c": 0.63, "ce": 0.78}
CONFIGS = {"cisco": "cisco/*.cfg", "huawei": "huawei/*.cfg", "h3c": "h3c/*.cfg", "ce": "huawei/*_ce*.cfg"}


@pytest.mark.parametrize("vendor", FLOOR)
def test_the_grammar_takes_most_lines_of_the_real_configurations(vendor):
    from tests.sim.cisco_ios import _join_interface
    from tests.sim.cli import parse

    top, blocks, negation = _shapes(vendor)
    taken, seen = 0, 0
    for path in real_gear.files(f"configs/{CONFIGS[vendor]}"):
        block, banner = top, False  # the shapes of the lines indented here; None: a block not modelled
        for line in path.read_text(errors="replace").splitlines():
            text = line.strip()
            if banner:  # an IOS banner's text is no command
                banner = "^C" not in line
                continue
            if not text or text in ("!", "#", "end", "return") or text.startswith(("!", "Building", "Current conf",
                                                                                   "version ", "[V")):
                block = top if line == text else block  # after a `#`, VRP and Comware indent global lines
                continue
            if line.startswith("  ") or (line.startswith(" ") and block is None):
                continue  # a nested view, or a block the simulators do not model
            if line.startswith(" "):
                shapes = block
            else:
                banner = text.startswith("banner ") and text.count("^C") < 2 and not text.endswith("^")
                shapes, block = top, blocks.get(text.split()[0])
            negated = text.split()[0] == negation and len(text.split()) > 1
            text = text[len(negation) + 1:] if negated else text
            seen += 1
            taken += parse(shapes, _join_interface(text), prefix=negated).kind == "ok"

    print(f"{vendor}: {taken}/{seen} lines taken")
    assert seen and taken / seen >= FLOOR[vendor], f"{vendor}: {taken}/{seen} lines taken"


# platform -> the loghost line with the receiver's port (the golden configuration's options), and a change
LOGGED = {"cisco_ios": ("logging host 127.0.0.1 transport udp port {port}", "snmp-server location Kho A"),
          "huawei": ("info-center loghost 127.0.0.1 port {port} utc", "snmp-agent sys-info location Kho A"),
          "hp_comware": ("info-center loghost 127.0.0.1 port {port}", "snmp-agent sys-info location Kho A"),
          "huawei_vrpv8": ("info-center loghost 127.0.0.1 port {port} utc", "snmp-agent sys-info location Kho A")}
# platform -> the golden configuration's clock lines (network_baseline)
GOLDEN_CLOCK = {"cisco_ios": ["service timestamps log datetime msec show-timezone year", "clock timezone ICT 7 0"],
                "huawei": ["clock timezone ICT add 07:00:00"],
                "hp_comware": ["clock timezone ICT add 07:00:00"],
                "huawei_vrpv8": ["clock timezone ICT add 07:00:00"]}
ICT = timezone(timedelta(hours=7))


def agents_zone(platform: str):
    """The zone the agent reads the platform's unzoned timestamps in: its log_time, local time
    being the +07:00 the agent is told (unzoned_timestamps)."""
    return timezone.utc if platforms.get(platform).log_time == "UTC" else ICT


def first_logged_change(fleet, platform: str, lines: list[str], unzoned, loghost: str | None = None):
    """Type the loghost line, `lines` and a change; the first change the device logs, as the
    agent's receiver reads it (the message and what it means)."""
    address = MISSPELT[platform][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        change = LOGGED[platform][1]
        loghost = loghost or LOGGED[platform][0]
        with connect(fleet, platform, address) as session:
            session.send_config_set([*lines, loghost.format(port=receiver.getsockname()[1]), change])
            if platform == "huawei_vrpv8":
                session.commit()
        while True:
            data, sender = receiver.recvfrom(8192)  # a timeout fails the test
            assert sender[0] == address  # from the device's own address
            message = parse(data, datetime.now(timezone.utc), unzoned)
            found = event(platforms.get(platform), message.text)
            if found and found.kind == "config":
                return message, found


@pytest.mark.parametrize("platform", LOGGED)
def test_a_change_typed_over_ssh_is_logged_to_the_loghost_as_the_vendor_logs_it(fleet, platform):
    """What the device sends is what the agent's receiver reads as a change by the SSH user."""
    message, found = first_logged_change(fleet, platform, [], timezone.utc)
    assert (found.fields["user"], found.fields["address"]) == ("egov-netops", "127.0.0.1"), message
    assert abs((message.timestamp - datetime.now(timezone.utc)).total_seconds()) < 300, message


@pytest.mark.parametrize("platform", GOLDEN_CLOCK)
def test_the_golden_clock_lines_give_log_timestamps_the_agent_holds_to_its_clock(fleet, platform):
    message, _ = first_logged_change(fleet, platform, GOLDEN_CLOCK[platform], agents_zone(platform))
    assert message.timestamp is not None, message  # a zone the message names, or the one the agent reads it in
    assert abs((message.timestamp - datetime.now(timezone.utc)).total_seconds()) < 300, message


@pytest.mark.parametrize("platform", ["huawei", "huawei_vrpv8"])
def test_a_huawei_loghost_gets_utc_without_a_zone_or_with_local_time_the_offset(fleet, platform):
    """reference/huawei, info-center loghost: UTC unless local-time. The golden `utc` stamps name no
    zone (the test above reads them as UTC); `local-time` ones carry the device's offset."""
    utc, _ = first_logged_change(fleet, platform, GOLDEN_CLOCK[platform], None)
    assert utc.timestamp is None, utc  # no zone in it: nothing to read without the platform's log_time
    loghost = "info-center loghost 127.0.0.1 port {port} local-time"
    local, _ = first_logged_change(fleet, platform, GOLDEN_CLOCK[platform], None, loghost)
    assert local.timestamp.utcoffset() == timedelta(hours=7), local
    assert abs((local.timestamp - datetime.now(timezone.utc)).total_seconds()) < 300, local
