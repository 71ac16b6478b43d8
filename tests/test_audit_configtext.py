"""Reading device configurations (agent/audit/configtext.py): blocks, banners, Linux
sections, the lines a device lacks, drift from the golden configuration."""

from agent import platforms
from agent.audit import configtext

IOS_RUNNING = """\
Building configuration...

Current configuration : 1201 bytes
!
version 15.7
service timestamps log datetime msec
!
hostname thu01-sw
!
no ip http server
ip ssh version 2
snmp-server community public RO
ntp server 127.10.1.123
!
vlan 99
 name MGMT
!
interface GigabitEthernet0/0
 description UPLINK to pop-bacson
 ip address 198.51.100.2 255.255.255.252
!
line con 0
 exec-timeout 10 0
line vty 0 4
 exec-timeout 5 0
 login local
 transport input ssh
!
end""".splitlines()

VRP_RUNNING = """\
!Software Version V300R019C13SPC200
#
 sysname thu01-rtr
#
 vlan batch 99 10
#
 stelnet server enable
 snmp-agent sys-info version v3
#
vlan 99
 description MGMT
#
interface GigabitEthernet0/0/0
 description UPLINK to pop-bacson
#
user-interface vty 0 4
 authentication-mode aaa
 protocol inbound ssh
#
return""".splitlines()


def test_parse_config_keeps_blocks_and_ios_globals():
    blocks = configtext.parse(IOS_RUNNING)
    assert "hostname thu01-sw" in blocks[""] and "interface GigabitEthernet0/0" in blocks[""]
    assert "end" not in blocks[""] and not any(line.startswith("Building") for line in blocks[""])
    assert blocks["interface GigabitEthernet0/0"] == ["description UPLINK to pop-bacson",
                                                      "ip address 198.51.100.2 255.255.255.252"]
    assert blocks["line vty 0 4"] == ["exec-timeout 5 0", "login local", "transport input ssh"]


def test_parse_config_takes_vrp_indented_lines_between_hashes_as_global():
    blocks = configtext.parse(VRP_RUNNING)
    assert {"sysname thu01-rtr", "vlan batch 99 10", "stelnet server enable",
            "snmp-agent sys-info version v3", "vlan 99"} <= set(blocks[""])
    assert blocks["vlan 99"] == ["description MGMT"]
    assert "sysname thu01-rtr" not in blocks and "return" not in blocks[""]


def test_missing_lines_per_context_with_negations():
    golden = ["hostname thu01-sw", "ip ssh version 2", "no ip http server", "no snmp-server community public",
              "no snmp-server community private", "logging host 127.10.1.51", "vlan 99", " name MGMT",
              "vlan 10", " name OFFICE-LAN", "interface GigabitEthernet0/0", " description UPLINK to pop-bacson",
              "line con 0", " exec-timeout 5 0", "line vty 0 4", " exec-timeout 5 0", " transport input ssh"]
    assert configtext.missing_lines(golden, IOS_RUNNING) == [
        ("", ["no snmp-server community public", "logging host 127.10.1.51"]),
        ("vlan 10", ["name OFFICE-LAN"]),
        ("line con 0", ["exec-timeout 5 0"]),
    ]


def test_missing_lines_on_vrp_uses_undo():
    golden = ["sysname thu01-rtr", "undo telnet server enable", "stelnet server enable",
              "info-center loghost 127.10.1.51", "user-interface vty 0 4", " protocol inbound ssh",
              " idle-timeout 5 0"]
    assert configtext.missing_lines(golden, VRP_RUNNING, "undo ") == [
        ("", ["info-center loghost 127.10.1.51"]), ("user-interface vty 0 4", ["idle-timeout 5 0"])]
    assert configtext.missing_lines(golden[:3], VRP_RUNNING + ["telnet server enable"], "undo ") == [
        ("", ["undo telnet server enable"])]


def test_commands_leave_each_block_and_merged_shows_lines_in_place():
    missing = [("", ["logging host 127.10.1.51"]), ("line con 0", ["exec-timeout 5 0"]),
               ("vlan 10", ["name OFFICE-LAN"])]
    assert configtext.commands(missing, "exit") == ["logging host 127.10.1.51", "line con 0", " exec-timeout 5 0",
                                                    "exit", "vlan 10", " name OFFICE-LAN", "exit"]
    after = configtext.merged(IOS_RUNNING, missing)
    con = after.index("line con 0")
    assert after[con + 1:con + 3] == [" exec-timeout 10 0", " exec-timeout 5 0"]
    assert after[-4:] == ["logging host 127.10.1.51", "vlan 10", " name OFFICE-LAN", "end"]
    assert configtext.merged(IOS_RUNNING, []) == IOS_RUNNING


def test_an_ios_banner_reads_the_same_typed_or_printed_and_over_several_lines():
    typed = configtext.parse(["banner login ^Authorised access only.^"])[""]
    printed = configtext.parse(["banner login ^CAuthorised access only.^C"])[""]
    spanning = configtext.parse(["banner login ^C", "Authorised access only.", "^C", "hostname r1"])[""]
    assert typed == printed == ["banner login ^CAuthorised access only.^C"]
    assert spanning == ["banner login ^CAuthorised access only.^C", "hostname r1"]
    # a banner's text never becomes configuration lines, even when it reads like one
    tricky = configtext.parse(["banner motd #", "no service password-encryption", "ip http server", "#"])
    assert tricky == {"": ["banner motd ^Cno service password-encryption ip http server^C"]}
    # the golden line is typed with the delimiter it was written with
    assert configtext.commands([("", typed)], "exit") == ["banner login ^Authorised access only.^"]


def test_a_banner_never_closed_keeps_its_text_and_ends_the_file():
    assert configtext.parse(["hostname r1", "banner exec ^C", "half a banner"])[""] == [
        "hostname r1", "banner exec ^Chalf a banner^C"]


def test_linux_backups_read_as_one_block_per_file_without_comments():
    text = "\n".join(["==> /etc/ssh/sshd_config <==", "# a comment", "PermitRootLogin   no", "",
                      "==> sshd -T <==", "permitrootlogin no", "passwordauthentication no"])
    assert configtext.parse(text, "linux") == {
        "": ["==> /etc/ssh/sshd_config <==", "==> sshd -T <=="],
        "==> /etc/ssh/sshd_config <==": ["PermitRootLogin no"],
        "==> sshd -T <==": ["permitrootlogin no", "passwordauthentication no"]}


def test_drift_names_missing_and_extra_lines_in_their_context_whatever_the_order():
    golden = ["hostname thu01-sw", "ntp server 127.10.1.123", "logging host 127.10.1.51",
              "no ip http server", "line vty 0 4", " exec-timeout 5 0", " transport input ssh"]
    running = ["hostname thu01-sw", "logging host 127.10.1.51", "ip http server", "ntp server 203.0.113.9",
               "service timestamps log datetime msec", "!", "line vty 0 4", " transport input ssh",
               " exec-timeout 10 0", " login local", "line vty 5 15", " transport input ssh"]
    found = configtext.drift(golden, running, "cisco_ios")
    assert found["missing"] == [("", ["ntp server 127.10.1.123", "no ip http server"]),
                                ("line vty 0 4", ["exec-timeout 5 0"])]
    # lines that take the place of a standard one; unrelated lines are not drift
    assert found["extra"] == [("", ["ntp server 203.0.113.9"]), ("line vty 0 4", ["exec-timeout 10 0"])]
    # (`line vty 5 15` is another block, not a global line replacing `line vty 0 4`)
    shuffled = running[2:5] + running[:2] + running[5:]
    assert configtext.drift(golden, shuffled, "cisco_ios") == found
    assert configtext.drift(golden, golden, "cisco_ios") == {"missing": [], "extra": []}


def test_secrets_are_compared_without_their_values():
    golden = ["enable secret <env:EGOV_NET_ENABLE_SECRET>", "username egov-netops privilege 15 secret <env:PW>",
              "aaa", " local-user egov-netops password irreversible-cipher <env:PW>"]
    device = ["enable secret 9 $9$8d7f0c2a", "username egov-netops privilege 15 secret 9 $9$aa01",
              "aaa", " local-user egov-netops password irreversible-cipher $1c$Zx1$"]
    backup = ["enable secret <redacted:3f9c0a1b2c4d>", "username egov-netops privilege 15 secret <redacted:99>",
              "aaa", " local-user egov-netops password irreversible-cipher <redacted:0a>"]
    assert configtext.missing_lines(golden, device) == []
    assert configtext.drift(golden, backup, "huawei") == {"missing": [], "extra": []}
    # another user, or a password where a secret is wanted, is still a difference
    assert configtext.missing_lines(golden, ["enable password 7 0822455D0A16", device[1], "aaa"]) == [
        ("", ["enable secret <env:EGOV_NET_ENABLE_SECRET>"]), ("aaa", [golden[3].strip()])]


def test_a_default_on_ios_feature_is_off_only_when_no_x_is_shown():
    golden = ["no service pad", "no ip http server"]
    assert configtext.missing_lines(golden, ["hostname r1"]) == [("", ["no service pad"])]
    assert configtext.missing_lines(golden, ["no service pad"]) == []
    assert configtext.missing_lines(golden, ["service pad", "ip http server"]) == [("", golden)]


def test_comments_and_indented_separators_do_not_end_a_block():
    # shapes of the corpus: IOS ` !` between a BGP block's parts (batfish_example_as1core1_15.2),
    # a commented-out line (batfish_examplejuniper_as2border2_12.4), VRP8's ` #` inside `aaa`
    # (inta_ne40e_doc_local_authn_authz), a publisher's `# note` and a line of spaces
    ios = configtext.parse("router bgp 1\n neighbor 192.0.2.2 remote-as 1\n !\n address-family ipv4\n"
                           "!default-information originate always\n   \n  bgp dampening\n!\n ntp x\n")
    assert ios["router bgp 1"] == ["neighbor 192.0.2.2 remote-as 1", "address-family ipv4", "bgp dampening"]
    assert "ntp x" in ios[""]
    vrp = configtext.parse("aaa\n local-user a password cipher X\n #\n authentication-scheme default\n"
                           " # the publisher's note\n domain default\n#\n sysname ce\n", "huawei_vrpv8")
    assert vrp["aaa"] == ["local-user a password cipher X", "authentication-scheme default", "domain default"]
    assert "sysname ce" in vrp[""]


def test_a_comware_header_is_one_line_and_a_vrp_header_stays_as_it_is():
    comware = configtext.parse("#\n header motd %\n*****\nAuthorised only.\n%\n#\n sysname acc\n", "hp_comware")
    assert comware[""] == ["header motd ^C***** Authorised only.^C", "sysname acc"]
    vrp = configtext.parse('#\nheader login information "Authorised only."\n#\n', "huawei")
    assert vrp[""] == ['header login information "Authorised only."']


def test_comware_negates_with_undo_and_leaves_a_block_with_quit():
    missing = configtext.missing_lines(["undo telnet server enable", "line vty 0 63", " protocol inbound ssh"],
                                       ["#", " telnet server enable", "#", "line vty 0 63", " authentication-mode scheme"],
                                       platforms.get("hp_comware").negation, "hp_comware")
    assert missing == [("", ["undo telnet server enable"]), ("line vty 0 63", ["protocol inbound ssh"])]
    assert configtext.commands(missing[1:], platforms.get("hp_comware").exit) == [
        "line vty 0 63", " protocol inbound ssh", "quit"]


def test_a_comware_password_is_compared_without_its_value():
    """Typed `password simple X`, printed `password hash` (Comware 7) or `password cipher`
    (Comware 5): the same setting. A password kept in clear is the policy pack's business."""
    golden = ["local-user egov-netops class manage", " password simple <env:PW>"]
    for printed in (" password hash $h$6$Nn0Lw8xT$7mY2bQv+uO6yW0l3", " password cipher $c$3$ZmF8ZQ=="):
        device = ["local-user egov-netops class manage", printed]
        assert configtext.missing_lines(golden, device, "undo ", "hp_comware") == []
    assert configtext.missing_lines(golden, ["local-user egov-netops class manage"], "undo ", "hp_comware") == [
        ("local-user egov-netops class manage", ["password simple <env:PW>"])]
