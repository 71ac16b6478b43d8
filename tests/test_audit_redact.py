"""Redaction of secrets in configurations: each kind of secret in real vendor syntax, tokens
stable across runs and keyed, a changed secret a changed token, nothing left to read."""

from __future__ import annotations

import re

import pytest

from agent.audit.redact import redact, token

KEY = bytes(range(32))

# Configuration lines as the devices print them, by platform, each secret in them between « and »
CASES = {
    "cisco_ios": [
        "enable secret 9 «$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM»",
        "enable secret 5 «$1$mERr$hx5rVt7rPNoS4wqbXKX7m0»",
        "enable secret 8 «$8$dsYGNam3K1SIJO$7nv/35M/qr6t.dVc7UY9zrJDWRVqncHub1PE9UlMQFs»",
        "enable secret level 5 5 «$1$iUJX$3kAbrEjuVsDqkrLmZpzo/1»",
        "enable password 7 «0822455D0A16»",
        "enable password 0 «Cisco123»",
        "enable password «1234»",  # a digit-only password is no encryption type
        "username admin privilege 15 secret 9 «$9$4lWh7mZpBzE0y.$Uu0pL1VvH2nwR1xbn1Ec9rRn0Mxm9X0FfB0vLK9T2xQ»",
        "username noc password 7 «094F471A1A0A»",
        "username ops privilege 15 password 0 «two words»",
        "username bob algorithm-type scrypt secret 9 «$9$Ab12$Cd34»",
        "snmp-server community «Tinh-M4u-RO» RO 10",
        "snmp-server host 192.0.2.10 version 2c «Tr4pC0mm»",
        "snmp-server user egov EGOV-RO v3 auth sha «AuthPhrase1» priv aes 128 «PrivPhrase1»",
        "tacacs-server host 192.0.2.5 key 7 «045802150C2E»",
        "tacacs-server key «TacKey99»",
        "radius-server host 192.0.2.6 auth-port 1812 acct-port 1813 key 7 «13061E010803»",
        "tacacs server TAC-1\n address ipv4 192.0.2.5\n key 7 «0822455D0A16»",
        "radius server RAD-1\n address ipv4 192.0.2.6 auth-port 1812 acct-port 1813\n key «RadKey 1»",
        "aaa group server tacacs+ TAC\n server-private 192.0.2.5 key 7 «121A0C041104»",
        "crypto isakmp key 6 «Vpn$ecretKey» address 203.0.113.1",
        "crypto isakmp key «PlainPsk» address 0.0.0.0 0.0.0.0",
        "crypto keyring KR-1\n pre-shared-key address 203.0.113.1 key «KeyringPsk»",
        "crypto ikev2 keyring KR-2\n peer HQ\n  address 203.0.113.2\n  pre-shared-key local «LocalPsk»",
        "ntp authentication-key 1 md5 «104D000A0618» 7",
        "interface GigabitEthernet0/0\n ip ospf authentication-key 7 «0822455D0A16»",
        "interface GigabitEthernet0/1\n ip ospf message-digest-key 1 md5 7 «070C285F4D06»",
        "router bgp 65001\n neighbor 192.0.2.1 password 7 «02050D480809»",
        "key chain OSPF-KEYS\n key 1\n  key-string 7 «110A1016141D»",
        "line vty 0 4\n password 7 «0822455D0A16»\n login",
        "interface Vlan99\n standby 1 authentication text «HsrpPw»",
        "key config-key password-encrypt «MasterKey1»",
        "crypto isakmp client configuration group rtr-remote\n key «EzGroupKey»",
        "crypto ipsec client ezvpn ezvpnclient\n group 2 key «EzClientKey»",
        "radius-server local\n nas 192.0.2.11 key 0 «NasKey1»",
        "aaa server radius dynamic-author\n client 192.0.2.31 server-key 7 «045A05120772410F1A4A»\n client "
        "192.0.2.32 server-key «CoaPlain» vrf MGMT\n server-key 0 «SharedCoa»",
        "interface Vlan99\n standby 1 authentication «HsrpPlain»",
        "interface Vlan99\n standby 1 authentication md5 key-string 7 «0822455D0A16»",
        "archive\n path scp://backup:«Arch1vePw»@192.0.2.40/cfg/$h",
        "ip ftp password 7 «0822455D0A16»",
        "ip ftp password «FtpPlain»",
        "kron policy-list BACKUP\n cli copy running-config tftp://ops:«KronPw»@192.0.2.41/r.cfg",
        # forms of the vendor command references (cited beside their rules in agent/audit/redact.py)
        "interface Dialer1\n ppp chap password 7 «0822455D0A16»",
        "interface Dialer1\n ppp pap sent-username isp password 0 «PapPw»",
        "dot11 ssid EGOV\n wpa-psk ascii 0 «WpaPsk123»",
        "vpdn-group L2TP\n l2tp tunnel password 7 «0822455D0A16»",
        "radius-server key 7 «0822455D0A16»",
        "snmp-server user egov EGOV v3 auth md5 «AuthMd5Pw»",
        "crypto isakmp key 0 «HostPsk» hostname peer.example",
        "interface Vlan10\n vrrp 1 authentication text «VrrpTxt»",
        "interface Vlan10\n vrrp 1 authentication «VrrpPlain»",  # without `text`
        "interface Vlan10\n vrrp 1 authentication md5 key-string 7 «0822455D0A16» timeout 30",
        "router ospf 1\n area 1 virtual-link 192.0.2.9 authentication-key «VlinkKey»",
        "router ospf 1\n area 1 virtual-link 192.0.2.9 message-digest-key 1 md5 «VlinkMd5»",
        "router isis\n area-password «AreaPw» authenticate snp validate",
        "router isis\n domain-password «DomPw»",
        "interface GigabitEthernet0/0\n isis password «IsisPw» level-1",
        "interface Tunnel0\n ip nhrp authentication «NhrpKey»",
        "key chain K\n key 1\n  key-string «Plain Key String»",
    ],
    "huawei": [
        "aaa\n local-user admin password irreversible-cipher «$1c$Wy=PJ7Rk$N0bFdfSWxG&#1C$»",
        "aaa\n local-user ops password cipher «%^%#m6Y`7k=<.D%^%#»",
        " snmp-agent community read cipher «%^%#R3adC0mm%^%#»",
        " snmp-agent community write «Wr1teC0mm» mib-view iso-view",
        " snmp-agent usm-user v3 egov authentication-mode sha cipher «%^%#AuthK%^%#» privacy-mode aes128 cipher "
        "«%^%#PrivK%^%#»",
        " super password level 15 cipher «%^%#SuperPw%^%#»",
        "radius-server template RAD\n radius-server shared-key cipher «%^%#RadKey%^%#»",
        "hwtacacs-server template TAC\n hwtacacs-server shared-key cipher «%^%#TacKey%^%#»",
        "ospf 1\n area 0.0.0.0\n  authentication-mode md5 1 cipher «%^%#OspfKey%^%#»",
        "interface GigabitEthernet0/0/1\n ospf authentication-mode simple plain «OspfPlain»",
        " ntp-service authentication-keyid 1 authentication-mode md5 cipher «%^%#NtpKey%^%#»",
        "ike peer HQ\n pre-shared-key cipher «%^%#IkePsk%^%#»",
        "set save-configuration backup-to-server server 192.0.2.44 transport-type ftp user bk password "
        "«%^%#Bk9Pw%^%#»",
        "bgp 65001\n peer 192.0.2.1 password cipher «%^%#BgpPw%^%#»",
        "user-interface vty 0 4\n set authentication password cipher «%^%#VtyPw%^%#»",
        "interface Vlanif10\n vrrp vrid 1 authentication-mode md5 «%^%#VrrpK%^%#»",
        "interface Vlanif10\n vrrp vrid 1 authentication-mode simple plain «VrrpPlain»",
        "isis 1\n area-authentication-mode md5 cipher «%^%#IsisA%^%#»",
        "isis 1\n domain-authentication-mode hmac-sha256 key-id 1 cipher «%^%#IsisD%^%#»",
        "interface GigabitEthernet0/0/1\n isis authentication-mode simple plain «IsisPlain»",
        "bgp 100\n peer 192.0.2.12 password simple «BgpPlain»",
        "interface Dialer1\n ppp pap local-user u password simple «PapPlain»",
        "l2tp-group 1\n tunnel password simple «L2tpPlain»",
        "keychain K mode absolute\n key-id 1\n  key-string plain «KPlain»",
        "keychain K mode absolute\n key-id 1\n  key-string cipher «%^%#KCipher%^%#»",
        "interface Tunnel0/0/0\n nhrp authentication cipher «%^%#Nhrp%^%#»",
        "wlan\n ppsk-user psk pass-phrase «%^%#Ppsk%^%#» user-name u ssid egov",
        "snmp-agent target-host trap address udp-domain 192.0.2.5 params securityname «TrapComm» v2c",
        "snmp-agent target-host trap address udp-domain 192.0.2.5 params securityname cipher «%^%#T%^%#» v2c",
    ],
    # H3C Comware (shapes of ../shared/real-gear/configs/h3c)
    "hp_comware": [
        "local-user admin\n password cipher «$c$3$Zn/sUTHSf0+ria4SnwGKiPjLfdwXUt7C»",
        "local-user ops class manage\n password hash «$h$6$Ab12Cd34$Ef56Gh78==»",
        "local-user admin\n password simple «h3capadmin»",
        "user-interface aux 0\n set authentication password cipher «$c$3$KcMReVoIeZfu==»",
        " snmp-agent community read «Test-Community» acl 1234",
        " snmp-agent community write simple «Wr1teC0mm»",
        " snmp-agent community read cipher «$c$3$R3adC0mm==»",
        " snmp-agent usm-user v3 egov EGOV-RO cipher authentication-mode sha «$c$3$AuthK==» privacy-mode aes128 "
        "«$c$3$PrivK==» acl 2000",
        " super password role network-admin simple «SuperPw1»",
        " super password level 3 cipher «$c$3$SuperC==»",
        "hwtacacs scheme TAC\n key authentication cipher «$c$3$TacKey==»",
        "radius scheme RAD\n key accounting simple «RadKey1»",
        "radius scheme RAD\n key cipher «$c$3$RadKey2==»",
        "interface Dialer0\n ppp chap password cipher «$c$3$PppPw==»",
        "interface Vlan-interface10\n ospf authentication-mode md5 15 plain «123456»",
        "interface Vlan-interface10\n ospf authentication-mode simple cipher «$c$3$Os==»",
        "ospf 1\n area 0.0.0.0\n  authentication-mode md5 1 cipher «$c$3$Area==»",
        "interface Vlan-interface2\n vrrp vrid 1 authentication-mode simple «Sysname»",
        "interface Vlan-interface2\n vrrp vrid 1 authentication-mode md5 cipher «$c$3$V==»",
        "isis 1\n area-authentication-mode md5 cipher «$c$3$I==» ip",
        "interface GigabitEthernet1/0/1\n isis authentication-mode simple plain «IsisPw» level-1",
        "ntp-service authentication-keyid 1 authentication-mode md5 cipher «$c$3$N==»",
        "interface Ethernet0/1\n rip authentication-mode md5 rfc2453 cipher «$c$3$R==»",
        "interface Ethernet0/1\n rip authentication-mode md5 rfc2082 plain «RipPw» 1",
        "bgp 100\n peer 192.0.2.1 password cipher «$c$3$B==»",
        "ike keychain K\n pre-shared-key address 192.0.2.1 255.255.255.255 key cipher «$c$3$P==»",
        "ike peer P\n pre-shared-key simple «IkePlain»",
        "radius scheme RAD\n primary authentication 192.0.2.6 1812 key cipher «$c$3$Prim==»",
        "wlan service-template 1\n preshared-key pass-phrase simple «WlanPlain»",
        "wlan service-template 1\n preshared-key raw-key cipher «$c$3$Raw==»",
        "l2tp-group 1\n tunnel password simple «L2tpPw»",
        "keychain K mode absolute\n key 1\n  key-string cipher «$c$3$K==»",
        # no version: SNMPv1, a community
        "snmp-agent target-host trap address udp-domain 192.0.2.5 params securityname «TrapComm»",
    ],
    "linux": [
        "==> /etc/egov-agent/agent.yml <==\ncollectors:\n  imap:\n    password: «hunter2»\n    smtp_secret: "
        "«'quoted secret'»",
        "==> /etc/egov-agent/web.yml <==\nbasic_auth_users:\n  prometheus: "
        "«$2y$10$Ap9QwFJ3VsdmNg1Hw8FRA.xHLs2dORZkVpqpJ3b6dTUq0EjT/kQxC»",
    ],
}


_SECRET = re.compile(r"«(.*?)»", re.S)


def _unmarked(marked: str) -> str:
    return _SECRET.sub(r"\1", marked)


MARKED = [(platform, marked) for platform, lines in CASES.items() for marked in lines]


@pytest.mark.parametrize("platform, marked", MARKED,
                         ids=[_unmarked(marked).split("\n")[-1][:40] for _, marked in MARKED])
def test_each_secret_becomes_its_token(platform, marked):
    # the secrets and nothing else: what surrounds them (the command, its encryption type) stays
    assert redact(_unmarked(marked), platform, KEY) == _SECRET.sub(lambda secret: token(secret[1], KEY), marked)


def test_the_encryption_type_stays_readable():
    assert redact("enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "cisco_ios", KEY).startswith("enable secret 5 <")
    assert redact("username noc password 7 094F471A1A0A", "cisco_ios", KEY).startswith("username noc password 7 <")


def test_tokens_are_stable_and_keyed():
    line = "snmp-server community Tinh-M4u-RO RO"
    assert redact(line, "cisco_ios", KEY) == redact(line, "cisco_ios", KEY)
    other_key = redact(line, "cisco_ios", b"another key")
    assert other_key != redact(line, "cisco_ios", KEY)
    assert re.fullmatch(r"snmp-server community <redacted:[0-9a-f]{12}> RO", other_key)


def test_a_changed_secret_is_a_changed_token():
    before = redact("enable secret 9 $9$aaaa$bbbb", "cisco_ios", KEY)
    after = redact("enable secret 9 $9$aaaa$cccc", "cisco_ios", KEY)
    assert before != after and before.rsplit(" ", 1)[0] == after.rsplit(" ", 1)[0]


def test_redacting_twice_changes_nothing():
    text = "\n".join(_unmarked(marked) for marked in CASES["cisco_ios"])
    once = redact(text, "cisco_ios", KEY)
    assert redact(once, "cisco_ios", KEY) == once


# lines without a secret, which stay as they are
NOT_SECRET = {
    "cisco_ios": ["service password-encryption", "password encryption aes", "snmp-server community public RO",
                  "snmp-server host 192.0.2.10 version 3 priv egov", "key chain OSPF-KEYS", " key 1",
                  "security passwords min-length 10", "ip ssh version 2", "no ip http server",
                  " standby 1 authentication md5 key-chain HSRP-KEYS",
                  " vrrp 1 authentication md5 key-chain VRRP-KEYS"],
    "huawei": [" snmp-agent community read public", "user-interface vty 0 4", " authentication-mode aaa",
               " ssh user egov-netops authentication-type password", " stelnet server enable",
               "snmp-agent target-host trap address udp-domain 192.0.2.5 params securityname egov-v3 v3 privacy",
               "snmp-agent target-host trap address udp-domain 192.0.2.6 params securityname public v2c"],
    "hp_comware": [" snmp-agent community read public", "line vty 0 63", " authentication-mode scheme",
                   " password-control length 6", " undo password-control aging enable",
                   " ssh user egov authentication-type password", " ssh server enable",
                   " ospf authentication-mode keychain OSPF-KEYS",
                   "snmp-agent target-host trap address udp-domain 192.0.2.5 params securityname egov v3 privacy"],
    "linux": ["==> /etc/egov-agent/agent.yml <==", "collectors:", "  imap: {port: 993, username: monitor}",
              "    password_env: EGOV_IMAP_PASSWORD", "    key_file: /etc/egov-agent/agent.key",
              "==> /etc/ssh/sshd_config <==", "PasswordAuthentication no", "==> /etc/sudoers <==",
              "%egov-admins ALL=(ALL:ALL) NOPASSWD: ALL", "==> nft list ruleset <==", "table inet filter {"],
}


@pytest.mark.parametrize("platform", NOT_SECRET)
def test_what_is_not_secret_stays(platform):
    text = "\n".join(NOT_SECRET[platform])
    assert redact(text, platform, KEY) == text


def test_a_yaml_like_line_outside_the_agent_config_is_left_alone():
    text = "==> /etc/ssh/sshd_config <==\n# password: not-yaml-here\n"
    assert redact(text, "linux", KEY) == text


@pytest.mark.parametrize("platform", ["cisco_ios", "huawei", "linux"])
def test_a_pem_private_key_goes_whole(platform):
    block = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxVd1m0bS\nq8E3yQ9bDd1y0ExHw2d\n"
             "-----END RSA PRIVATE KEY-----")
    text = f"==> /etc/egov-agent/tls.yml <==\ncert: |\n  -----BEGIN CERTIFICATE-----\n  MIIB\n" \
           f"  -----END CERTIFICATE-----\nkey: |\n  {block}\nafter: 1\n"
    redacted = redact(text, platform, KEY)
    assert "PRIVATE KEY" not in redacted and "MIIEowIBAAKCAQEAxVd1m0bS" not in redacted
    assert f"  {token(block, KEY)}\nafter: 1\n" in redacted
    assert "-----BEGIN CERTIFICATE-----\n  MIIB" in redacted  # a certificate is public


def test_an_unknown_platform_is_refused():
    with pytest.raises(ValueError, match="juniper_junos"):
        redact("set system root-authentication encrypted-password x", "juniper_junos", KEY)
