"""The configuration audit on real configurations: the third-party corpus
(../shared/real-gear/configs, tests/real_gear.py), not our own fixtures.

Every configuration is read, redacted and audited against its pack with no traceback, in
bounded time; redaction leaves none of the secrets the corpus's README names in clear; and
a set of verdicts labelled by reading the configurations (this rule passes here, fails
there naming this line) holds, true positives and true negatives. The figures, verdicts
right / labelled per pack, are printed at the end of the module's run.

Platform per file: `cisco/` is cisco_ios, `h3c/` hp_comware; `huawei/` is huawei_vrpv8 for
the CloudEngine and NE40E files (VRP8: the product is in the file name, `_ce…`/`ne40e`, as
the corpus's README and SOURCES.md name it) and huawei (VRP5) for the S-series, S3328 and
AR dumps.
"""

from __future__ import annotations

import re
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.audit.policy import IMPLIED, evaluate, load_packs
from agent.audit.redact import redact
from tests import real_gear

PACKS = load_packs()
CONFIGS = real_gear.files("configs/*/*.cfg")
KEY = b"r" * 32


def platform_of(path: Path) -> str:
    vendor = path.parent.name
    if vendor == "huawei":
        return "huawei_vrpv8" if re.search(r"_ce|ne40e", path.stem) else "huawei"
    return {"cisco": "cisco_ios", "h3c": "hp_comware"}[vendor]


def audit(stem: str) -> dict:
    path = next(p for p in CONFIGS if p.stem == stem)
    platform = platform_of(path)
    return {f.rule.id: f for f in evaluate(PACKS[platform], path.read_text(errors="replace"), platform)}


@pytest.mark.parametrize("path", CONFIGS, ids=real_gear.ids(CONFIGS))
def test_every_configuration_is_redacted_and_audited(path):
    platform = platform_of(path)
    text = path.read_text(errors="replace")
    with no_hang(60):  # a few kB take milliseconds: a guard against a runaway pattern, not a benchmark
        redacted = redact(text, platform, KEY)
        findings = evaluate(PACKS[platform], redacted, platform)
    assert [f.rule.id for f in findings] == [rule.id for rule in PACKS[platform].rules]


@contextmanager
def no_hang(seconds: int):
    """Fail (instead of hanging the run) when the block has not returned after `seconds`."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# (file stem, a secret as the file holds it, with the words before it where the value alone
# is common): README's "Files that hold the publishers' secrets"
SECRETS = [
    ("ccat_example1_12.3", "enable password cisco123"),
    ("ccat_example1_12.3", "cg6#107X"),
    ("ccat_example1_12.3", "key secret-password"),  # Easy VPN group and client
    ("ccat_example1_12.3", "key 0 cisco123"),  # the local RADIUS server's NAS
    ("idx_sw1pop15-esteio_s-series_v200r022", "user backups password %^%#"),
    ("cml_300node_R1_iosv_15.9", "enable password cisco"),
    ("cml_300node_R1_iosv_15.9", "$9$nhBWmvxM6XeMCN$"),
    ("cml_hybrid_router-1_iolxe_17.15", "password 0 cisco"),
    ("cml_remoteaccess_R1_iosv_15.9", "password 0 cisco"),
    ("cml_ssh_R1_iosv_15.9", "password 0 cisco"),
    ("idx_sw-noc-2_c2960_12.2", "@pass@"),
    ("idx_workshop-sw_c2960_12.2", "@_pass_@"),
    ("idx_workshop-sw_c2960_12.2", "@_community_@"),
    ("netutils_ios_full_17.1", "ntc123"),
    ("netutils_ios_full_17.1", "community ntc-public"),
    ("batfish_hybridcloud_lhr-border-02_15.2", "$1$bOPC$Ledl3D.5Xx8hkXUgobF0i."),
    ("batfish_hybridcloud_lhr-border-02_15.2", "QMP5tKPP5qk95Y1Eee9c_82.MofNUJQV"),
    ("pybatfish_exitgw_csr_16.4", "Rcw.wfJi8tgiOS8WiRS8eVmWvUrrC_Kx"),
    ("pybatfish_vrrp_BR2_iosv_15.7", "password 0 cisco"),
    ("idx_huishi-3328_s3328_v100r005", '4)^M+N][#H[D*WAH8"1XQA!!'),
    ("idx_dhakacolo-panthapath_s-series_v200r021", '$1c$It]Z*2g`"Z$'),
    ("idx_dhakacolo-panthapath_s-series_v200r021", "%^%##&$NAA.~zSy-(R+$"),
    ("idx_ce5810_v100r003", "$1a$fb:J!Rwy*H$"),
    ("idx_ce5810_v100r003", "%@%@5Oo|+77#A0K"),
    ("idx_ensp-ar1_ar_v200r003", "%$%$K8m.Nt84DZ}e#<0`8bmE3Uw}%$%$"),
    ("inta_ce6800_doc_traps_to_snmp_agent", "%^%#7%%^p{1$d!X%_YQKZ"),
    ("inta_ce6800_doc_ntp_client_server_auth_deviceB", "%+%#>hD8))_H-XZVut2u3"),
    ("inta_ce6800_doc_hwtacacs_local_admin", "SKvr${[Fs."),
    ("inta_ne40e_doc_local_authn_authz", "%^%#pPgn;|W90$J72.Ak$"),
    ("inta_ne40e_doc_snmpv1", "%#%#qTp*MccD#Z[sHw4"),
    ("inta_ce6800_doc_vrrp_master_backup_deviceA", "YsH_2022"),
    ("idx_h3c-switch_comware5_5.20-r2222p10", "$c$3$3O3TRePwLP0yAqW37DGX1h4rfkdIGQ=="),
    ("idx_h3c-switch_comware5_5.20-r2222p10", "$c$3$KcMReVoIeZfuRWS6GZQmpte0jZycfXExsQ=="),
    ("idx_wa2220e-ag-ap_comware5_5.20-r1110p01", "h3capadmin"),
    ("idx_wa2220e-ag-ap_comware5_5.20-r1110p01_saved-configuration", "h3capadmin"),
    ("netutils_comware7_full_7.1.045", "$h$6$123456789012345678901234567890$"),
    ("netutils_comware7_full_7.1.045", "cipher $c$3$123456789012345678901234567890"),
    ("netutils_comware7_full_7.1.045", "Test-Community"),
    ("netutils_comware_hp-jkt-01_partial", "community read ro"),
    ("idx_mer5200-router_comware7_7.1.064", "cipher $c$3$****"),
    ("idx_252-hexin-core_comware7_7.1.070", "hash <REDACTED>"),
]


@pytest.mark.parametrize("stem, secret", SECRETS, ids=[f"{s}:{v[:16]}" for s, v in SECRETS])
def test_redaction_leaves_no_secret_of_the_file_in_clear(stem, secret):
    path = next((p for p in CONFIGS if p.stem == stem), None) or real_gear.path("configs", stem)
    text = path.read_text(errors="replace")
    assert secret in text, "the label names what the file holds"
    assert secret not in redact(text, platform_of(path), KEY)


PASS, FAIL = "pass", "fail"
# (file stem, rule, verdict, the offending line a fail names, or None: a required line is
# missing). Read from the files; the reason is beside each label.
LABELS = [
    # --- Cisco IOS / IOS-XE
    ("cml_remoteaccess_R1_iosv_15.9", "IOS-AAA-002", PASS, None),  # default login list, VTY without `login`
    ("cml_remoteaccess_R1_iosv_15.9", "IOS-AAA-001", PASS, None),  # aaa new-model
    ("cml_remoteaccess_R1_iosv_15.9", "IOS-SSH-001", PASS, None),  # ip ssh version 2
    ("cml_remoteaccess_R1_iosv_15.9", "IOS-PWD-003", FAIL, "username cisco privilege 15 password 0 cisco"),
    ("cml_remoteaccess_R1_iosv_15.9", "IOS-BANNER-001", PASS, None),
    ("cml_ssh_R1_iosv_15.9", "IOS-AAA-002", PASS, None),  # login local
    ("cml_ssh_R1_iosv_15.9", "IOS-AAA-001", FAIL, None),  # no aaa new-model
    ("cml_ssh_R1_iosv_15.9", "IOS-MGMT-001", PASS, None),  # transport input ssh
    ("cml_ssh_R1_iosv_15.9", "IOS-MGMT-002", FAIL, "exec-timeout 0 0"),
    ("idx_sw-noc-2_c2960_12.2", "IOS-AAA-002", FAIL, "login"),  # line password only
    ("idx_sw-noc-2_c2960_12.2", "IOS-PWD-001", PASS, None),  # service password-encryption
    ("idx_sw-noc-2_c2960_12.2", "IOS-PWD-002", FAIL, "enable password @pass@"),
    ("idx_sw-noc-2_c2960_12.2", "IOS-SVC-003", PASS, None),  # no service pad
    ("idx_sw-noc-2_c2960_12.2", "IOS-SNMP-002", FAIL, "snmp-server community @pass@ RO"),
    ("idx_sw-noc-2_c2960_12.2", "IOS-SNMP-001", PASS, None),  # a community, not public/private
    ("idx_workshop-sw_c2960_12.2", "IOS-PWD-002", FAIL, "enable password @_pass_@"),  # a secret and a password
    ("cml_300node_R1_iosv_15.9", "IOS-MGMT-001", FAIL, "transport input telnet ssh"),
    ("cml_300node_R1_iosv_15.9", "IOS-MGMT-002", FAIL, "exec-timeout 720 0"),
    ("cml_300node_R1_iosv_15.9", "IOS-AAA-002", PASS, None),  # login local
    ("cml_300node_R1_iosv_15.9", "IOS-PWD-003", PASS, None),  # username ... secret 9
    ("cml_300node_R1_iosv_15.9", "IOS-PWD-002", FAIL, "enable password cisco"),
    ("batfish_hybridcloud_lhr-border-02_15.2", "IOS-MGMT-001", FAIL, "transport input telnet"),
    ("batfish_hybridcloud_lhr-border-02_15.2", "IOS-PWD-003", PASS, None),  # secret 5
    ("batfish_hybridcloud_lhr-border-02_15.2", "IOS-AAA-002", PASS, None),  # aaa new-model, VTY without login
    ("batfish_example_as2border1_15.2", "IOS-AAA-002", FAIL, "login"),  # aaa new-model, yet a line password
    ("netutils_ios_full_17.1", "IOS-MGMT-001", FAIL, "transport input all"),
    ("netutils_ios_full_17.1", "IOS-LOG-001", PASS, None),  # logging host 10.125.1.171 transport udp ...
    ("netutils_ios_full_17.1", "IOS-NTP-001", PASS, None),
    ("otus_lab03_moscow_r12_iol", "IOS-MGMT-001", FAIL, "transport input all"),
    ("cml_vlans_R1_iosv_15.9", "IOS-MGMT-001", PASS, None),  # transport input none: closed
    ("cml_cdp_R1_iolxe_17.12", "IOS-MGMT-001", PASS, None),
    ("idx_csr1_csr1000v_16.9", "IOS-MGMT-003", FAIL, "ip http server"),  # IOS-XE prints it
    ("batfish_example_as1core1_15.2", "IOS-MGMT-003", PASS, None),
    ("batfish_example_as1core1_15.2", "IOS-LOG-001", PASS, None),  # logging host 1.1.1.1
    ("batfish_example_as1core1_15.2", "IOS-NTP-001", FAIL, None),
    ("batfish_example_as1core1_15.2", "IOS-AAA-002", FAIL, "login"),
    ("batfish_example_as2border1_15.2", "IOS-NTP-001", PASS, None),  # ntp server 18.18.18.18
    ("batfish_example_as2border1_15.2", "IOS-SVC-001", FAIL, None),
    ("batfish_example_as2border1_15.2", "IOS-SVC-002", FAIL, None),
    ("batfish_example_as2border1_15.2", "IOS-SVC-004", FAIL, None),
    ("cml_vlans_ASW1_iosvl2_15.2", "IOS-IF-001", FAIL, None),  # Gi1/0-3/3 bare and up (Gi0/0-0/1: LAG members)
    ("batfish_hybridcloud_lhr-border-02_15.2", "IOS-IF-001", FAIL, None),  # Ethernet1/2: no address, up
    ("cml_vlans_DSW2_iosvl2_15.2", "IOS-IF-001", FAIL, None),
    ("cml_stp_saumur_ioll2xe_17.12", "IOS-IF-001", PASS, None),  # every port a trunk to another switch
    ("cml_cdp_R1_iolxe_17.12", "IOS-BANNER-001", FAIL, None),
    ("cml_interswitch_SW1_iosvl2_15.2", "IOS-BANNER-001", PASS, None),  # banner login ^CC ... over many lines
    ("idx_csr1_csr1000v_16.9", "IOS-AAA-002", FAIL, "login"),
    # --- Huawei VRP5 (S-series, S3328, AR)
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-MGMT-004", FAIL, "telnet server enable"),
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-MGMT-001", FAIL, "protocol inbound telnet"),
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-SSH-001", PASS, None),
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-PWD-001", PASS, None),  # irreversible-cipher
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-IF-001", PASS, None),  # Eth-Trunk members
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-SNMP-002", FAIL, "snmp-agent sys-info version v2c v3"),
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-MGMT-004", PASS, None),  # no Telnet server line
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-MGMT-002", FAIL, "idle-timeout 3600 0"),
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-NTP-001", PASS, None),  # ntp-service unicast-server
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-SNMP-002", FAIL, "undo snmp-agent sys-info version v3"),
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-SNMP-001", PASS, None),
    ("idx_sw1pop15-esteio_s-series_v200r022", "VRP-MGMT-003", PASS, None),  # only http server-source
    ("idx_huishi-3328_s3328_v100r005", "VRP-MGMT-002", FAIL, "idle-timeout 0 0"),
    ("idx_huishi-3328_s3328_v100r005", "VRP-MGMT-001", FAIL, "protocol inbound all"),
    ("idx_huishi-3328_s3328_v100r005", "VRP-AAA-001", PASS, None),
    ("idx_huishi-3328_s3328_v100r005", "VRP-MGMT-003", PASS, None),  # undo http server enable
    ("idx_ensp-ar1_ar_v200r003", "VRP-PWD-001", FAIL, "local-user admin password cipher %$%$K8m.Nt84DZ}e#<0`8bmE3Uw}%$%$"),
    ("idx_ensp-ar1_ar_v200r003", "VRP-AAA-001", FAIL, None),  # VTY lines without authentication-mode
    # --- Huawei VRP8 (CloudEngine, NE40E)
    ("idx_ce5810_v100r003", "VRP-MGMT-004", FAIL, f"undo telnet server disable {IMPLIED}"),  # only IPv6 Telnet off
    ("idx_ce5810_v100r003", "VRP-MGMT-001", FAIL, "protocol inbound all"),
    ("idx_ce5810_v100r003", "VRP-AAA-001", PASS, None),
    ("idx_ce5810_v100r003", "VRP-SSH-001", FAIL, None),
    ("idx_ce5810_v100r003", "VRP-SNMP-002", FAIL, "snmp-agent sys-info version v2c v3"),
    ("inta_ce6800_doc_first_login_basic", "VRP-SSH-001", PASS, None),
    ("inta_ce6800_doc_first_login_basic", "VRP-MGMT-001", PASS, None),
    ("inta_ce6800_doc_first_login_basic", "VRP-PWD-001", PASS, None),
    ("inta_ce6800_doc_traps_to_snmp_agent", "VRP-SNMP-002", PASS, None),  # sys-info version v3, group privacy
    ("inta_ce6800_doc_ntp_client_server_auth_deviceB", "VRP-NTP-001", PASS, None),  # ntp unicast-server
    ("inta_ne40e_doc_ntp_client_server_auth_deviceB", "VRP-NTP-001", PASS, None),  # ntp-service unicast-server
    ("inta_ce6800_doc_info_center_loghost", "VRP-LOG-001", PASS, None),
    ("inta_ne40e_doc_syslog_server", "VRP-LOG-001", PASS, None),
    ("inta_ne40e_doc_snmpv1", "VRP-SNMP-002", FAIL, "snmp-agent sys-info version v1"),
    ("inta_ne40e_doc_snmpv1", "VRP-SNMP-001", PASS, None),
    ("inta_ne40e_doc_ssh_server_nondefault_port", "VRP-PWD-001", FAIL,
     "local-user client001 password cipher @%@%UyQs4,KTtSwJo(4QmW#K,LC:@%@%"),
    ("inta_ce6800_doc_netconf_ncclient", "VRP-MGMT-002", PASS, None),  # `idle-timeout 0 0` is netconf's
    ("inta_ce6800_doc_mlag_dhcp_server_deviceA", "VRP-IF-001", PASS, None),  # Eth-Trunk members
    # --- H3C Comware 7
    ("netutils_comware7_full_7.1.045", "CMW-MGMT-004", FAIL, "telnet server enable"),
    ("netutils_comware7_full_7.1.045", "CMW-SSH-001", PASS, None),
    ("netutils_comware7_full_7.1.045", "CMW-MGMT-001", PASS, None),  # protocol inbound ssh
    ("netutils_comware7_full_7.1.045", "CMW-MGMT-002", FAIL, "idle-timeout 60 0"),
    ("netutils_comware7_full_7.1.045", "CMW-AAA-001", PASS, None),
    ("netutils_comware7_full_7.1.045", "CMW-PWD-001", PASS, None),  # password hash
    ("netutils_comware7_full_7.1.045", "CMW-SNMP-001", PASS, None),
    ("netutils_comware7_full_7.1.045", "CMW-SNMP-002", FAIL, "snmp-agent sys-info version v2c v3"),
    ("netutils_comware7_full_7.1.045", "CMW-LOG-001", PASS, None),  # loghost vpn-instance internal ...
    ("netutils_comware7_full_7.1.045", "CMW-NTP-001", PASS, None),
    ("netutils_comware7_full_7.1.045", "CMW-BANNER-001", PASS, None),  # header motd % ... %
    ("netutils_comware7_full_7.1.045", "CMW-PWD-002", PASS, None),
    ("idx_252-hexin-core_comware7_7.1.070", "CMW-MGMT-003", FAIL, "ip http enable"),
    ("idx_252-hexin-core_comware7_7.1.070", "CMW-AAA-001", FAIL, f"authentication-mode password {IMPLIED}"),  # vty 5 63
    ("idx_252-hexin-core_comware7_7.1.070", "CMW-SSH-001", FAIL, None),
    ("idx_core-switch_comware7_7.1.070_annotated", "CMW-MGMT-004", PASS, None),  # Comware 7: off by default
    ("idx_core-switch_comware7_7.1.070_annotated", "CMW-NTP-001", PASS, None),
    ("idx_home-core-msr_comware7_7.1.064_annotated", "CMW-MGMT-002", FAIL, "idle-timeout 0 0"),
    ("idx_home-core-msr_comware7_7.1.064_annotated", "CMW-MGMT-001", FAIL, None),  # VTY takes every protocol
    ("idx_home-core-msr_comware7_7.1.064_annotated", "CMW-LOG-001", PASS, None),
    ("idx_mer5200-router_comware7_7.1.064", "CMW-NTP-001", PASS, None),
    ("idx_mer5200-router_comware7_7.1.064", "CMW-MGMT-004", FAIL, "telnet server enable"),
    ("netutils_comware_hp-jkt-01_partial", "CMW-SNMP-002", FAIL, "snmp-agent community read RO"),
    # --- H3C Comware 5
    ("idx_h3c-router_comware5_5.20-r1509p04", "CMW-MGMT-004", FAIL, f"telnet server enable {IMPLIED}"),
    # SSH on, but Comware 5 lets SSH1 clients in unless `undo ssh server compatible-ssh1x`
    ("idx_h3c-router_comware5_5.20-r1509p04", "CMW-SSH-001", FAIL, f"ssh server compatible-ssh1x enable {IMPLIED}"),
    ("idx_h3c-switch_comware5_5.20-r2222p10", "CMW-PWD-001", PASS, None),  # password cipher
    ("idx_h3c-switch_comware5_5.20-r2222p10", "CMW-AAA-001", FAIL, f"authentication-mode password {IMPLIED}"),
    ("idx_h3c-switch_comware5_5.20-r2222p10", "CMW-IF-001", FAIL, None),  # bare GigabitEthernet1/0/1, up
    ("idx_wa2220e-ag-ap_comware5_5.20-r1110p01", "CMW-PWD-001", FAIL, "password simple h3capadmin"),
    ("idx_wa2220e-ag-ap_comware5_5.20-r1110p01", "CMW-AAA-001", PASS, None),  # authentication-mode scheme
    ("idx_wa2220e-ag-ap_comware5_5.20-r1110p01", "CMW-MGMT-004", FAIL, "telnet server enable"),
]

_RESULTS: Counter = Counter()


@pytest.mark.parametrize("stem, rule, verdict, line", LABELS, ids=[f"{s}:{r}:{v}" for s, r, v, _ in LABELS])
def test_labelled_verdict(stem, rule, verdict, line):
    if not CONFIGS:
        pytest.skip(real_gear.ABSENT)
    finding = audit(stem)[rule]
    pack = PACKS[platform_of(next(p for p in CONFIGS if p.stem == stem))].name
    right = finding.passed == (verdict == PASS) and (line is None or line in [l for _, l in finding.offending])
    _RESULTS[pack, "labelled"] += 1
    _RESULTS[pack, "right"] += right
    assert finding.passed == (verdict == PASS), (finding.offending, finding.missing)
    if line is not None:
        assert line in [offending for _, offending in finding.offending]


# ports in use without a description: LAG members and trunks to another device (read in the files)
IN_USE = [
    ("cml_vlans_ASW1_iosvl2_15.2", "IOS-IF-001", "interface GigabitEthernet0/0"),  # channel-group 1 mode active
    ("cml_vlans_ASW1_iosvl2_15.2", "IOS-IF-001", "interface GigabitEthernet0/2"),  # switchport mode trunk
    ("cml_vlans_DSW2_iosvl2_15.2", "IOS-IF-001", "interface GigabitEthernet1/0"),  # channel-group 2 mode active
    ("cml_stp_saumur_ioll2xe_17.12", "IOS-IF-001", "interface Ethernet0/1"),  # switchport mode trunk
    ("idx_dhakacolo-panthapath_s-series_v200r021", "VRP-IF-001", "interface XGigabitEthernet0/0/5"),  # eth-trunk 5
    ("inta_ce6800_doc_mlag_dhcp_server_deviceA", "VRP-IF-001", "interface 100GE1/0/4"),  # eth-trunk 0
    ("idx_h3c-switch_comware5_5.20-r2222p10", "CMW-IF-001", "interface GigabitEthernet1/0/24"),  # link-type trunk
]


@pytest.mark.parametrize("stem, rule, interface", IN_USE, ids=[f"{s}:{i}" for s, _, i in IN_USE])
def test_a_port_in_use_is_never_reported_unused(stem, rule, interface):
    if not CONFIGS:
        pytest.skip(real_gear.ABSENT)
    path = next(p for p in CONFIGS if p.stem == stem)
    assert f"\n{interface}\n" in path.read_text(), "the label names a port of the file"
    assert interface not in audit(stem)[rule].contexts


def test_labels_cover_every_rule_the_corpus_speaks_to():
    labelled = {rule for _, rule, _, _ in LABELS}
    for pack in {pack.name: pack for pack in PACKS.values() if pack.name != "linux"}.values():
        unlabelled = {rule.id for rule in pack.rules} - labelled
        # no file of the corpus has a VRP `header login`: that rule is proven on our fixtures only
        assert unlabelled <= {"VRP-BANNER-001"}, unlabelled


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """The figures, past pytest's capture so that a CI log shows them."""
    yield
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        for pack in sorted({p for p, _ in _RESULTS}):
            print(f"\nreal-gear verdicts {pack}: {_RESULTS[pack, 'right']} right / {_RESULTS[pack, 'labelled']} labelled")
