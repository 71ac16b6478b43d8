"""The policy packs (policies/*.yml) on configurations in real vendor syntax.

Each platform has one compliant configuration (tests/fixtures/audit/configs/): every rule
of its pack passes there, and fails on a small mutation of it declared in FAILING below,
with the offending lines or the missing requirement the finding names. A rule without a
failing case fails `test_every_rule_has_a_failing_case`. The packs load strictly, and
hostile input (huge, garbage, NULs, prompts, endless lines, an open banner) never stops
the audit.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.audit.policy import IMPLIED, Pack, evaluate, load_pack, load_packs
from agent.audit.redact import redact
from agent.yamlfile import ConfigError

CONFIGS = Path(__file__).parent / "fixtures" / "audit" / "configs"
FIXTURE = {"cisco_ios": "cisco_ios.cfg", "huawei": "huawei_vrp.cfg", "huawei_vrpv8": "huawei_vrpv8.cfg",
           "hp_comware": "hp_comware.cfg", "linux": "linux.cfg"}
COMPLIANT = {platform: (CONFIGS / name).read_text() for platform, name in FIXTURE.items()}
PACKS = load_packs()

# the sections of the Linux backup (agent/audit/fetch.py prints them)
SSHD_CONFIG = "==> /etc/ssh/sshd_config <=="
HARDENING = "==> /etc/ssh/sshd_config.d/00-egov-hardening.conf <=="
SSHD_T = "==> sshd -T <=="
SUDO_ADMINS = "==> /etc/sudoers.d/egov-admins <=="
NFT = "==> nft list ruleset <=="
TIMESYNCD, TIMESYNCD_EGOV = "==> /etc/systemd/timesyncd.conf <==", "==> /etc/systemd/timesyncd.conf.d/50-egov.conf <=="
CHRONY = "==> /etc/chrony/chrony.conf <=="
SSHD_T_OUTPUT = COMPLIANT["linux"].split(SSHD_T + "\n")[1].split("==> ")[0]

IOS_ENABLE = "enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM"
IOS_USER = "username egov-netops privilege 15 secret 9 $9$3VE6CpM3Zr2mQE$e3wZ9mIEyHxuT0jx4Wbb9Jl0cAq9ByXk5hGJqJtCA1s"
# IOS prints no `login authentication default`: the VTY lines use the default login list
IOS_VTY_0_4 = "line vty 0 4\n access-class MGMT-ACL in\n exec-timeout 5 0\n logging synchronous\n"
IOS_VTY_5_15 = "line vty 5 15\n access-class MGMT-ACL in\n exec-timeout 5 0\n transport input ssh\n"
VRP_USER = "local-user egov-netops password irreversible-cipher $1c$Wq~R;<kFVT$K!E_Lh8cSX>e2!Pyf`0Q5y2:2s8VaLA@&W)}S.$"


def edited(text: str, edits: tuple[tuple[str, str], ...]) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the configuration"
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Case:
    """`rule` fails on the compliant configuration of `platform` with `edits` made."""

    rule: str
    platform: str
    edits: tuple[tuple[str, str], ...]  # (old, new); old occurs exactly once
    offending: tuple[tuple[str, str], ...] = ()  # (context, line) the finding names
    missing: tuple[tuple[str, str], ...] = ()  # (context, a line its missing requirement would match)
    also: tuple[str, ...] = ()  # the other rules the same edits fail

    @property
    def text(self) -> str:
        return edited(COMPLIANT[self.platform], self.edits)


def removed(rule: str, platform: str, line: str, missing: str | None = None) -> Case:
    """`rule` fails when `line` is taken out of the compliant configuration: the finding names it
    (or the `missing` form its requirement matches) missing."""
    return Case(rule, platform, ((f"{line}\n", ""),), missing=(("", missing or line.strip()),))


def replaced(rule: str, platform: str, line: str, offending: str) -> Case:
    """`rule` fails when `line` of the compliant configuration becomes `offending`, which the finding names."""
    return Case(rule, platform, ((line, offending),), offending=(("", offending.strip()),))


def unshut(rule: str, platform: str, interface: str, above: str) -> Case:
    """`rule` fails when the unused `interface` loses its `shutdown` (the line below `above`)."""
    return Case(rule, platform, ((f"{above}\n shutdown\n", f"{above}\n"),),
                missing=((f"interface {interface}", "shutdown"),))


FAILING = [
    # Cisco IOS
    removed("IOS-SSH-001", "cisco_ios", "ip ssh version 2"),
    Case("IOS-MGMT-001", "cisco_ios", ((IOS_VTY_5_15, IOS_VTY_5_15.replace("input ssh", "input telnet ssh")),),
         offending=(("line vty 5 15", "transport input telnet ssh"),),
         missing=(("line vty 5 15", "transport input ssh"),)),
    Case("IOS-MGMT-002", "cisco_ios", (("line con 0\n exec-timeout 5 0", "line con 0\n exec-timeout 0 0"),
                                       (IOS_VTY_0_4, IOS_VTY_0_4.replace("5 0", "30 0"))),
         offending=(("line con 0", "exec-timeout 0 0"), ("line vty 0 4", "exec-timeout 30 0"))),
    replaced("IOS-MGMT-003", "cisco_ios", "no ip http secure-server", "ip http secure-server"),
    Case("IOS-AAA-001", "cisco_ios", (("aaa new-model", "no aaa new-model"),
                                      ("aaa authentication login default local\n"
                                       "aaa authentication enable default enable\n"
                                       "aaa authorization exec default local\n", ""),
                                      ("aaa session-id common\n", ""),
                                      (IOS_VTY_0_4, IOS_VTY_0_4 + " login local\n"),
                                      (IOS_VTY_5_15, IOS_VTY_5_15 + " login local\n")),
         missing=(("", "aaa new-model"),)),
    Case("IOS-AAA-002", "cisco_ios", ((IOS_VTY_5_15, IOS_VTY_5_15 + " password 7 0822455D0A16\n login\n"),),
         offending=(("line vty 5 15", "login"),),
         missing=(("line vty 5 15", "login local"),)),
    # without AAA, a VTY line without a login line is not by user name
    Case("IOS-AAA-002", "cisco_ios", (("aaa new-model", "no aaa new-model"),
                                      ("aaa authentication login default local\n"
                                       "aaa authentication enable default enable\n"
                                       "aaa authorization exec default local\n", ""),
                                      ("aaa session-id common\n", "")),
         missing=(("line vty 0 4", "login local"), ("line vty 5 15", "login local")), also=("IOS-AAA-001",)),
    Case("IOS-PWD-001", "cisco_ios", (("service password-encryption", "no service password-encryption"),),
         missing=(("", "service password-encryption"),)),
    Case("IOS-PWD-002", "cisco_ios", ((IOS_ENABLE, "enable password 7 070C285F4D06"),),
         offending=(("", "enable password 7 070C285F4D06"),),
         missing=(("", "enable secret 9 $9$x"),)),
    Case("IOS-PWD-003", "cisco_ios", ((IOS_USER, "username egov-netops privilege 15 password 7 094F471A1A0A\n"
                                                 "username guest nopassword"),),
         offending=(("", "username egov-netops privilege 15 password 7 094F471A1A0A"),
                    ("", "username guest nopassword"))),
    Case("IOS-SNMP-001", "cisco_ios", (("snmp-server view", "snmp-server community public RO\nsnmp-server view"),),
         offending=(("", "snmp-server community public RO"),),
         also=("IOS-SNMP-002",)),
    Case("IOS-SNMP-002", "cisco_ios", (("EGOV-RO v3 priv read", "EGOV-RO v3 auth read"),
                                       ("snmp-server view", "snmp-server community Tl9rq2x RO MGMT-ACL\n"
                                                            "snmp-server view"),
                                       ("version 3 priv egov-mon", "version 2c Tl9rq2x")),
         offending=(("", "snmp-server community Tl9rq2x RO MGMT-ACL"),
                    ("", "snmp-server group EGOV-RO v3 auth read EGOV-VIEW access MGMT-ACL"),
                    ("", "snmp-server host 192.0.2.20 version 2c Tl9rq2x")),
         missing=(("", "snmp-server group EGOV-RO v3 priv"),)),
    removed("IOS-LOG-001", "cisco_ios", "logging host 192.0.2.51"),
    removed("IOS-NTP-001", "cisco_ios", "ntp server 192.0.2.123"),
    Case("IOS-BANNER-001", "cisco_ios", (("banner login ^C\nAuthorised access only. Activity is logged.\n^C",
                                          "banner login ^C^C"),),
         missing=(("", "banner login ^CAuthorised access only.^C"),)),
    unshut("IOS-IF-001", "cisco_ios", "GigabitEthernet0/2", "interface GigabitEthernet0/2\n no ip address"),
    removed("IOS-SVC-001", "cisco_ios", "no ip source-route"),
    removed("IOS-SVC-002", "cisco_ios", "service tcp-keepalives-in"),
    removed("IOS-SVC-003", "cisco_ios", "no service pad"),
    removed("IOS-SVC-004", "cisco_ios", "no cdp run"),
    # Huawei VRP
    removed("VRP-SSH-001", "huawei", " stelnet server enable"),
    Case("VRP-MGMT-001", "huawei", ((" protocol inbound ssh", " protocol inbound all"),),
         offending=(("user-interface vty 0 4", "protocol inbound all"),),
         missing=(("user-interface vty 0 4", "protocol inbound ssh"),)),
    Case("VRP-MGMT-002", "huawei", (("aaa\n idle-timeout 5 0\nuser-interface vty",
                                     "aaa\n idle-timeout 0 0\nuser-interface vty"),
                                    ("inbound ssh\n idle-timeout 5 0", "inbound ssh\n idle-timeout 30 0")),
         offending=(("user-interface con 0", "idle-timeout 0 0"), ("user-interface vty 0 4", "idle-timeout 30 0"))),
    replaced("VRP-MGMT-003", "huawei", " undo http server enable", " http server enable"),
    replaced("VRP-MGMT-004", "huawei", " undo telnet server enable", " telnet server enable"),
    Case("VRP-AAA-001", "huawei", (("inbound\n authentication-mode aaa",
                                    "inbound\n authentication-mode password\n"
                                    " set authentication password cipher %^%#Zk8&Yq0=Ls5(H3vB%^%#"),),
         offending=(("user-interface vty 0 4", "authentication-mode password"),),
         missing=(("user-interface vty 0 4", "authentication-mode aaa"),)),
    Case("VRP-PWD-001", "huawei", ((VRP_USER, "local-user egov-netops password cipher %^%#u2<B4j`9:P0c5F%^%#"),),
         offending=(("aaa", "local-user egov-netops password cipher %^%#u2<B4j`9:P0c5F%^%#"),)),
    Case("VRP-SNMP-001", "huawei", (("version v3\n", "version v3\n snmp-agent community read public\n"),),
         offending=(("", "snmp-agent community read public"),),
         also=("VRP-SNMP-002",)),
    Case("VRP-SNMP-002", "huawei", (("version v3\n", "version v2c v3\n"
                                                    " snmp-agent community read cipher %^%#K7;x=Q%^%#\n"),
                                    ("EGOV-RO privacy read-view", "EGOV-RO read-view"),
                                    ("egov-mon v3 privacy", "%^%#K7;x=Q%^%# v2c")),
         offending=(("", "snmp-agent sys-info version v2c v3"),
                    ("", "snmp-agent community read cipher %^%#K7;x=Q%^%#"),
                    ("", "snmp-agent group v3 EGOV-RO read-view EGOV-VIEW acl 2000"),
                    ("", "snmp-agent target-host trap address udp-domain 192.0.2.20 params securityname "
                         "%^%#K7;x=Q%^%# v2c")),
         missing=(("", "snmp-agent group v3 EGOV-RO privacy"),)),
    # VRP and Comware write the log and the time server alike (`info-center loghost source Vlanif99`
    # stays: it names no log server)
    *(removed(f"{pack}-{rule}", platform, line) for pack, platform in (("VRP", "huawei"), ("CMW", "hp_comware"))
      for rule, line in (("LOG-001", " info-center loghost 192.0.2.51"),
                         ("NTP-001", " ntp-service unicast-server 192.0.2.123"))),
    removed("VRP-BANNER-001", "huawei", 'header login information "Authorised access only. Activity is logged."',
            missing='header login information "Authorised access only."'),
    unshut("VRP-IF-001", "huawei", "GigabitEthernet0/0/4", "GigabitEthernet0/0/4"),
    # Huawei VRP8 (CloudEngine): Telnet is on unless `telnet server disable` says otherwise
    Case("VRP-MGMT-004", "huawei_vrpv8", (("telnet server disable\n", ""),),
         offending=(("", f"undo telnet server disable {IMPLIED}"),)),
    Case("VRP-MGMT-004", "huawei_vrpv8", (("telnet server disable\n", "undo telnet server disable\n"),),
         offending=(("", "undo telnet server disable"),)),
    removed("VRP-NTP-001", "huawei_vrpv8", "ntp unicast-server 192.0.2.123"),
    Case("VRP-IF-001", "huawei_vrpv8", ((" eth-trunk 1\n", ""),),
         missing=(("interface 10GE1/0/3", "shutdown"),)),
    # H3C Comware
    Case("CMW-SSH-001", "hp_comware", ((" ssh server enable\n", " ssh server compatible-ssh1x enable\n"),),
         offending=(("", "ssh server compatible-ssh1x enable"),), missing=(("", "ssh server enable"),)),
    Case("CMW-MGMT-001", "hp_comware", ((" protocol inbound ssh\n", " protocol inbound all\n"),),
         offending=(("line vty 0 63", "protocol inbound all"),), missing=(("line vty 0 63", "protocol inbound ssh"),)),
    Case("CMW-MGMT-002", "hp_comware", (("line aux 0\n authentication-mode scheme\n idle-timeout 5 0",
                                         "line aux 0\n authentication-mode scheme\n idle-timeout 0 0"),
                                        (" protocol inbound ssh\n idle-timeout 5 0", " protocol inbound ssh\n idle-timeout 60 0")),
         offending=(("line aux 0", "idle-timeout 0 0"), ("line vty 0 63", "idle-timeout 60 0"))),
    Case("CMW-MGMT-003", "hp_comware", ((" ssh server acl 2000\n", " ssh server acl 2000\n#\n ip http enable\n"),),
         offending=(("", "ip http enable"),)),
    Case("CMW-MGMT-004", "hp_comware", ((" clock protocol ntp\n", " clock protocol ntp\n#\n telnet server enable\n"),),
         offending=(("", "telnet server enable"),)),
    # Comware 5 runs a Telnet server, and lets SSH1 clients in, unless told otherwise
    Case("CMW-MGMT-004", "hp_comware", ((" version 7.1.070, Release 7743P05", " version 5.20, Release 2222P10"),),
         offending=(("", f"telnet server enable {IMPLIED}"),), also=("CMW-SSH-001",)),
    Case("CMW-SSH-001", "hp_comware", ((" version 7.1.070, Release 7743P05", " version 5.20, Release 2222P10"),
                                       (" clock protocol ntp\n", " clock protocol ntp\n#\n undo telnet server enable\n")),
         offending=(("", f"ssh server compatible-ssh1x enable {IMPLIED}"),)),
    Case("CMW-AAA-001", "hp_comware", ((" protocol inbound ssh\n", " protocol inbound ssh\n authentication-mode none\n"),
                                       ("line vty 0 63\n authentication-mode scheme\n", "line vty 0 63\n")),
         offending=(("line vty 0 63", "authentication-mode none"),),
         missing=(("line vty 0 63", "authentication-mode scheme"),)),
    # the VTY default is password authentication
    Case("CMW-AAA-001", "hp_comware", (("line vty 0 63\n authentication-mode scheme\n", "line vty 0 63\n"),),
         offending=(("line vty 0 63", f"authentication-mode password {IMPLIED}"),),
         missing=(("line vty 0 63", "authentication-mode scheme"),)),
    Case("CMW-PWD-001", "hp_comware", ((" service-type ssh terminal\n", " service-type ssh terminal\n#\n"
                                        "local-user guest class manage\n password simple h3c\n"),),
         offending=(("local-user guest class manage", "password simple h3c"),)),
    Case("CMW-PWD-002", "hp_comware", ((" ssh server acl 2000\n", " ssh server acl 2000\n#\n"
                                        " super password role network-admin simple Egov2025\n"),),
         offending=(("", "super password role network-admin simple Egov2025"),)),
    Case("CMW-SNMP-001", "hp_comware", ((" snmp-agent sys-info version v3\n", " snmp-agent sys-info version v3\n"
                                         " snmp-agent community read public\n"),),
         offending=(("", "snmp-agent community read public"),), also=("CMW-SNMP-002",)),
    Case("CMW-SNMP-002", "hp_comware", ((" snmp-agent sys-info version v3\n", " snmp-agent sys-info version v2c v3\n"),
                                        ("EGOV-RO privacy read-view", "EGOV-RO authentication read-view")),
         offending=(("", "snmp-agent sys-info version v2c v3"),
                    ("", "snmp-agent group v3 EGOV-RO authentication read-view EGOV-VIEW acl 2000")),
         missing=(("", "snmp-agent group v3 EGOV-RO privacy"),)),
    removed("CMW-BANNER-001", "hp_comware", " header login %\nAuthorised access only. Activity is logged.\n%",
            missing="header login ^CAuthorised access only.^C"),
    unshut("CMW-IF-001", "hp_comware", "GigabitEthernet1/0/3", "port link-mode bridge"),
    # Linux: the drop-in that sshd reads first and the effective configuration (sshd -T) both say it
    # the effective `sshd -T` is what is judged, when the backup has it (see below without)
    Case("LNX-SSH-001", "linux", (("PermitRootLogin no", "PermitRootLogin yes"),
                                  ("permitrootlogin no", "permitrootlogin yes")),
         offending=((SSHD_T, "permitrootlogin yes"),), missing=((SSHD_T, "permitrootlogin no"),)),
    Case("LNX-SSH-002", "linux", (("PasswordAuthentication no", "PasswordAuthentication yes"),
                                  ("passwordauthentication no", "passwordauthentication yes")),
         offending=((SSHD_T, "passwordauthentication yes"),), missing=((SSHD_T, "passwordauthentication no"),)),
    Case("LNX-SSH-003", "linux", (("\nPermitEmptyPasswords no", "\nPermitEmptyPasswords yes"),
                                  ("permitemptypasswords no", "permitemptypasswords yes")),
         offending=((SSHD_T, "permitemptypasswords yes"),), missing=((SSHD_T, "permitemptypasswords no"),)),
    Case("LNX-SSH-004", "linux", (("MaxAuthTries 3", "MaxAuthTries 6"), ("maxauthtries 3", "maxauthtries 6")),
         offending=((SSHD_T, "maxauthtries 6"),)),
    Case("LNX-SSH-005", "linux", (("\nX11Forwarding no", "\nX11Forwarding yes"),
                                  ("x11forwarding no", "x11forwarding yes")),
         offending=((SSHD_T, "x11forwarding yes"),), missing=((SSHD_T, "x11forwarding no"),)),
    Case("LNX-FW-001", "linux", (("policy drop;", "policy accept;"),),
         missing=((NFT, "type filter hook input priority filter; policy drop;"),)),
    Case("LNX-TIME-001", "linux", (("NTP=192.0.2.123", "NTP="),),
         missing=((TIMESYNCD, "NTP=192.0.2.123"), (TIMESYNCD_EGOV, "NTP=192.0.2.123"), (CHRONY, "server 192.0.2.123"))),
    Case("LNX-SUDO-001", "linux", (("%egov-admins ALL=(ALL:ALL) ALL", "%egov-admins ALL=(ALL:ALL) NOPASSWD: ALL"),),
         offending=((SUDO_ADMINS, "%egov-admins ALL=(ALL:ALL) NOPASSWD: ALL"),)),
]

# Other ways of getting it right: the whole pack still passes.
PASSING = {
    "IOS: VTY logins with local users instead of AAA": ("cisco_ios", (
        (IOS_VTY_5_15, IOS_VTY_5_15 + " login local\n"),)),
    "IOS: AAA without a default login list (the local users)": ("cisco_ios", (
        ("aaa authentication login default local\n", ""),)),
    "IOS: a VTY line naming its login list": ("cisco_ios", (
        (IOS_VTY_5_15, IOS_VTY_5_15 + " login authentication default\n"),)),
    "IOS: VTY lines closed to every protocol": ("cisco_ios", (
        (IOS_VTY_5_15, "line vty 5 15\n no login\n transport input none\n"),)),
    "IOS: the default exec-timeout (10 min, not printed), and one in seconds": ("cisco_ios", (
        ("line con 0\n exec-timeout 5 0\n", "line con 0\n"),
        (IOS_VTY_0_4, IOS_VTY_0_4.replace("5 0", "0 30")))),
    "VRP8: NE40E writes the Telnet server off as VRP5 does": ("huawei_vrpv8", (
        ("telnet server disable\n", "undo telnet server enable\n"),)),
    "VRP8: the IPv4-only STelnet server": ("huawei_vrpv8", (
        ("stelnet server enable\n", "stelnet ipv4 server enable\n"),)),
    "Comware 5: the Telnet server off, user-interface VTY lines": ("hp_comware", (
        (" version 7.1.070, Release 7743P05", " version 5.20, Release 2222P10"),
        (" clock protocol ntp\n", " clock protocol ntp\n#\n undo telnet server enable\n"),
        (" ssh server enable\n", " ssh server enable\n undo ssh server compatible-ssh1x\n"),
        ("line vty 0 63\n", "user-interface vty 0 15\n"),
        (" password hash $h$6$", " password cipher $c$3$"))),
    "Comware: a port in an aggregation group, and a motd banner": ("hp_comware", (
        ("port link-mode bridge\n shutdown\n", "port link-mode bridge\n port link-aggregation group 1\n"),
        (" header login %", " header motd %"))),
    "VRP: the default idle-timeout (10 min, not printed)": ("huawei", (
        ("aaa\n idle-timeout 5 0\nuser-interface vty", "aaa\nuser-interface vty"),)),
    "Linux: sshd -T failed, the files say it all": ("linux", (
        (SSHD_T_OUTPUT, "sshd: no hostkeys available -- exiting.\n(exit 1)\n"),)),
    "Linux: time from chrony": ("linux", (
        ("NTP=192.0.2.123", "NTP="),
        ("(absent)", "server 192.0.2.123 iburst\ndriftfile /var/lib/chrony/chrony.drift"))),
    "Linux: iptables-nft's own input chain accepts, ours drops": ("linux", (
        ("}\n==> /etc/systemd", "}\ntable ip filter {\n\tchain INPUT {\n"
                                "\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n"
                                "==> /etc/systemd"),)),
    "Linux: a group runs one command without a password": ("linux", (
        ("%egov-admins ALL=(ALL:ALL) ALL", "%egov-admins ALL=(ALL:ALL) ALL\n"
                                           "%egov-backup ALL=(root) NOPASSWD: /usr/bin/rsync --server --sender *"),)),
}


def findings(text: str, platform: str) -> dict:
    return {finding.rule.id: finding for finding in evaluate(PACKS[platform], text, platform)}


def failed(text: str, platform: str) -> set[str]:
    return {rule for rule, finding in findings(text, platform).items() if not finding.passed}


def all_packs() -> list[Pack]:
    return list({pack.name: pack for pack in PACKS.values()}.values())


def test_every_rule_has_a_failing_case():
    rules = [rule.id for pack in all_packs() for rule in pack.rules]
    assert len(rules) == len(set(rules)), "rule ids are unique across packs"
    assert set(rules) == {case.rule for case in FAILING}


def test_every_rule_says_why_and_how_to_fix_it():
    for pack in all_packs():
        for rule in pack.rules:
            assert re.fullmatch(r"(IOS|VRP|CMW|LNX)-[A-Z]+-\d{3}", rule.id), rule.id
            assert rule.title and rule.reference and rule.rationale and rule.remediation.strip(), rule.id


@pytest.mark.parametrize("platform", FIXTURE)
def test_the_compliant_configuration_passes_every_rule_of_its_pack(platform):
    results = findings(COMPLIANT[platform], platform)
    assert list(results) == [rule.id for rule in PACKS[platform].rules]
    assert [rule for rule, finding in results.items() if not finding.passed] == []
    # each pass is earned: every rule found something to judge
    assert [rule for rule, finding in results.items() if not finding.applicable] == []


@pytest.mark.parametrize("case", FAILING, ids=lambda case: case.rule)
def test_the_rule_fails_on_its_mutation_naming_the_lines(case):
    assert failed(case.text, case.platform) == {case.rule, *case.also}
    finding = findings(case.text, case.platform)[case.rule]
    assert set(finding.offending) == set(case.offending)
    assert [context for context, _ in finding.missing] == [context for context, _ in case.missing]
    for (_, pattern), (_, line) in zip(finding.missing, case.missing):
        assert re.search(pattern, line), f"{pattern!r} is not the requirement {line!r} meets"
    assert set(finding.contexts) == {context for context, _ in case.offending + case.missing}


@pytest.mark.parametrize("name", PASSING)
def test_other_compliant_forms_pass(name):
    platform, edits = PASSING[name]
    assert failed(edited(COMPLIANT[platform], edits), platform) == set()


@pytest.mark.parametrize("case", [None, *FAILING], ids=lambda case: case.rule if case else "compliant")
def test_backups_with_redacted_secrets_are_judged_alike(case):
    """Backups hold tokens where the secrets were (agent/audit/redact.py): the rules judge the
    words around them, so a redacted backup passes and fails exactly the same rules."""
    for platform in FIXTURE if case is None else [case.platform]:
        text = COMPLIANT[platform] if case is None else case.text
        redacted = redact(text, platform, b"k" * 32)
        if platform != "linux":
            assert "<redacted:" in redacted
        assert failed(redacted, platform) == failed(text, platform)


def test_a_backup_without_the_needed_sections_fails_what_must_be_somewhere():
    text = "==> /etc/sudoers <==\nroot ALL=(ALL:ALL) ALL\n"
    results = findings(text, "linux")
    for rule in PACKS["linux"].rules:
        finding = results[rule.id]
        if rule.match == "any":  # the setting is nowhere: the finding names where it was looked for
            assert not finding.passed and finding.missing[0][0] == rule.context, rule.id
        else:
            assert finding.passed and finding.applicable, rule.id


# --- strict loading

VALID_PACK = """\
title: test pack
platforms: [cisco_ios]
rules:
  - id: T-001
    title: SSH version 2
    severity: high
    rationale: version 1 is broken
    remediation: ip ssh version 2
    require: ['^ip ssh version 2$']
"""


@pytest.mark.parametrize("old, new, line, key, words", [
    ("require: ['^ip ssh version 2$']", "require: ['^ip ssh (version 2$']", 9, "rules[0].require",
     "not a regular expression"),
    ("require:", "requires:", 9, "rules[0].requires", "unknown key"),
    ("severity: high", "severity: urgent", 6, "rules[0].severity", "one of 'critical'"),
    ("require:", "context: '^line (vty'\n    require:", 9, "rules[0].context", "not a regular expression"),
    ("require: ['^ip ssh version 2$']", r"numeric: {line: '^exec-timeout \d+', max: 10}", 9,
     "rules[0].numeric.line", "exactly one group"),
    ("require: ['^ip ssh version 2$']", r"numeric: {line: '^exec-timeout (\d+)'}", 9,
     "rules[0].numeric.line", "min or max"),
    ("require: ['^ip ssh version 2$']", "reference: nothing to check", 4, "rules[0].id", "checks nothing"),
    ("require:", "defaults: [{line: ip ssh version 2, unless: '^ip ssh (v'}]\n    require:", 9,
     "rules[0].defaults[0].unless", "not a regular expression"),
    ("    require: ['^ip ssh version 2$']\n", "    require: ['^ip ssh version 2$']\n  - id: T-001\n    title: again\n"
     "    severity: low\n    rationale: r\n    remediation: r\n    forbid: [telnet]\n",
     3, "rules", "T-001 appears twice"),
])
def test_a_broken_pack_is_refused_naming_file_line_and_key(tmp_path, old, new, line, key, words):
    path = tmp_path / "broken.yml"
    path.write_text(edited(VALID_PACK, ((old, new),)))
    with pytest.raises(ConfigError) as error:
        load_pack(path)
    assert (error.value.file, error.value.line, error.value.key) == (str(path), line, key)
    assert words in error.value.message


def test_two_packs_for_one_platform_are_refused(tmp_path):
    (tmp_path / "a.yml").write_text(VALID_PACK)
    (tmp_path / "b.yml").write_text(VALID_PACK.replace("[cisco_ios]", "[cisco_xe, cisco_ios]"))
    with pytest.raises(ConfigError, match="platform cisco_ios has two packs: a and b") as error:
        load_packs(tmp_path)
    assert error.value.file == tmp_path / "b.yml"


# --- hostile input: the audit goes on, and judges what it can


def _with_prompts(text: str, platform: str) -> str:
    """Captured from a terminal: the prompt and the command before, the prompt after."""
    prompt = {"cisco_ios": "tanlap-rtr#", "huawei": "<tanlap-sw>", "huawei_vrpv8": "<tanlap-ce>",
              "hp_comware": "<tanlap-acc>", "linux": "root@tanlap-srv:~# "}[platform]
    command = {"cisco_ios": "show running-config", "linux": "sh /tmp/egov-backup.sh"}.get(
        platform, "display current-configuration")
    return f"{prompt}{command}\n{text}{prompt}\n"


def _with_nuls(text: str, platform: str) -> str:
    first, rest = text.split("\n", 1)
    return f"{first}\n \0\0\0\0\0\0\0\0\n{rest.rstrip()}\0\0\0\n"


def _with_long_lines(text: str, platform: str) -> str:
    """10,000 characters, some of them almost what a pattern looks for."""
    first, rest = text.split("\n", 1)
    long = ["a" * 10_000, "username x " + "passwordx " * 999, "transport input " + "telnetx " * 1249,
            "%admins ALL=" + "NOPASSWD:" * 1110 + " NONE"]
    return "\n".join([first, *(" " + line for line in long), rest])


@pytest.mark.parametrize("hostile", [_with_prompts, _with_nuls, _with_long_lines], ids=lambda f: f.__name__[6:])
@pytest.mark.parametrize("platform", FIXTURE)
def test_noise_around_a_compliant_configuration_changes_nothing(platform, hostile):
    assert failed(hostile(COMPLIANT[platform], platform), platform) == set()


@pytest.mark.parametrize("platform", FIXTURE)
def test_binary_garbage_is_audited_and_fails(platform):
    garbage = random.Random(7).randbytes(1_000_000).decode("utf-8", errors="replace")
    results = findings(garbage, platform)
    assert len(results) == len(PACKS[platform].rules)
    must_be_there = {rule.id for rule in PACKS[platform].rules
                     if rule.match == "any" or (rule.context == "global" and rule.require)}
    assert must_be_there and must_be_there <= {rule for rule, finding in results.items() if not finding.passed}


def test_a_50_mb_configuration_is_judged_to_its_last_line():
    acl = " permit 192.0.2.77 0.0.0.0 log\n" * (50_000_000 // 31)
    huge = edited(COMPLIANT["cisco_ios"], (("standard MGMT-ACL\n", "standard MGMT-ACL\n" + acl),))
    assert len(huge) > 50_000_000
    assert failed(huge, "cisco_ios") == set()
    late = edited(huge, (("ntp server 192.0.2.123\n", "ntp server 192.0.2.123\nip http server\n"),))
    assert findings(late, "cisco_ios")["IOS-MGMT-003"].offending == (("", "ip http server"),)


def test_a_banner_never_closed_swallows_the_rest_but_stops_nothing():
    text = edited(COMPLIANT["cisco_ios"], (("Activity is logged.\n^C\n", "Activity is logged.\n"),))
    results = findings(text, "cisco_ios")
    assert results["IOS-BANNER-001"].passed
    assert not results["IOS-NTP-001"].passed  # `ntp server` came after the banner: it is banner text now


def test_the_effective_sshd_settings_win_over_the_files():
    """A drop-in read first says yes: `sshd -T` shows yes though sshd_config says no."""
    backup = "\n".join(["==> /etc/ssh/sshd_config.d/50-cloud-init.conf <==", "PasswordAuthentication yes",
                        "==> /etc/ssh/sshd_config <==", "PasswordAuthentication no",
                        "==> sshd -T <==", "passwordauthentication yes"])
    pack = load_packs()["linux"]
    failed = {f.rule.id for f in evaluate(pack, backup, "linux") if not f.passed}
    assert "LNX-SSH-002" in failed


def test_a_configuration_pasted_many_times_is_judged_once_per_block():
    text = (CONFIGS / "cisco_ios.cfg").read_text() * 2000
    findings = evaluate(load_packs()["cisco_ios"], text, "cisco_ios")
    assert all(finding.passed for finding in findings)
