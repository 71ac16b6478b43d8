"""Secrets out of configurations, replaced by stable tokens.

`redact(text, platform, key)` replaces every secret (passwords and their hashes, SNMP
communities and USM keys, RADIUS/TACACS+ keys, pre-shared keys, routing protocol keys,
PEM private keys) with `<redacted:XXXXXXXXXXXX>`: the first 12 hex digits of the
HMAC-SHA256 of the secret under `key`. The same secret gives the same token run after run,
so an unchanged config stays unchanged in the history and a changed secret shows as a
changed line; without the key (kept in the backup store, never committed: store.py) a
token cannot be checked against a dictionary of likely passwords. What is around a secret
stays: `enable secret 9 <redacted:…>` still says it is a type 9 hash, which the policies
judge.

A hash is redacted too: a type 5 hash falls to a dictionary attack, a type 7 "password"
decodes in a blink. SNMP communities `public` and `private` are not secrets but the
defaults everyone knows; they stay readable so the policies can forbid them.

The rules are per platform and per line: the first rule that finds something on a line
redacts every secret it finds there. A rule may be limited to the lines of some blocks
(`within`: the unindented line that heads the block), for keywords that are secrets in one
block and key numbers in another (` key 7 X` in a `tacacs server` block, ` key 1` in a
`key chain`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from agent.platforms import PLATFORMS

from agent.audit.configtext import SECTION

TOKEN = re.compile(r"<redacted:[0-9a-f]{12}>")
# not secrets but the defaults everyone knows: readable, so that the policies can forbid them
_DEFAULT_COMMUNITIES = frozenset({"public", "private"})


@dataclass(frozen=True)
class Rule:
    """Each match of `secret` on a line is redacted (its group `s`, unless it is one of
    `keep`), on the lines that match `line` (default: any) in a block whose header matches
    `within` (default: any)."""

    secret: re.Pattern
    line: re.Pattern | None = None
    within: re.Pattern | None = None
    keep: frozenset[str] = frozenset()

    def applies(self, line: str, header: str) -> bool:
        return (self.line is None or self.line.search(line) is not None) and \
            (self.within is None or self.within.search(header) is not None)


def _rule(secret: str, line: str | None = None, within: str | None = None, keep=frozenset()) -> Rule:
    return Rule(re.compile(secret), re.compile(line) if line else None, re.compile(within) if within else None, keep)


# A secret that IOS takes as "the rest of the line" (it may hold spaces): `password` and
# `secret` are the last words of their commands.
_REST = r"(?P<s>\S.*?)\s*$"
# an IOS encryption type before a value: only when a value follows ("password 7" is a password)
_TYPE = r"(?:\d{1,2} (?=\S))?"

IOS = [
    _rule(rf"^\s*enable (?:secret|password) (?:level \d+ )?{_TYPE}{_REST}"),
    _rule(rf"^\s*username \S+ .*?\b(?:secret|password) {_TYPE}{_REST}"),
    _rule(r"^\s*snmp-server community (?P<s>\S+)", keep=_DEFAULT_COMMUNITIES),
    _rule(r"^\s*snmp-server host \S+ (?:vrf \S+ )?(?:(?:informs|traps) )?(?:version (?:1|2c) )?(?P<s>\S+)",
          line=r"^\s*snmp-server host (?!.* version 3 )", keep=_DEFAULT_COMMUNITIES),
    _rule(r"\b(?:auth (?:md5|sha\S*)|priv (?:des|3des|aes(?: \d+)?)) (?P<s>\S+)", line=r"^\s*snmp-server user "),
    _rule(rf"\bkey {_TYPE}(?P<s>\S+)", line=r"^\s*(?:tacacs-server|radius-server|server-private) "),
    _rule(rf"^\s*key {_TYPE}{_REST}", within=r"^(?:tacacs|radius) server "),
    _rule(rf"^\s*crypto isakmp key {_TYPE}(?P<s>\S+)"),
    # Easy VPN: a client group's ` key X` and the client's `group N key X`; the local RADIUS
    # server's `nas ADDRESS key X` (corpus: ccat_example1_12.3). A key chain's ` key 1` is a number.
    _rule(rf"^\s*(?:group \S+ |nas \S+ )?key {_TYPE}(?P<s>(?!\d+$)\S+)$"),
    # RADIUS dynamic authorization (CoA) clients: `aaa server radius dynamic-author` holds
    # `client {NAME | ADDRESS} [server-key [0|7] KEY] [vrf NAME]` and a shared ` server-key [0|7] KEY`
    # (Cisco IOS Security Command Reference: client (dynamic-author), server-key; seen as
    # ` client 192.0.2.31 server-key 7 xxxxxxxx` in published Catalyst 9300 configurations)
    _rule(rf"\bserver-key {_TYPE}(?P<s>\S+)", within=r"^aaa server radius dynamic-author"),
    _rule(rf"\bpre-shared-key (?:address \S+(?: \S+)? )?key {_TYPE}(?P<s>\S+)"),
    _rule(rf"^\s*pre-shared-key (?:local |remote )?{_TYPE}(?P<s>\S+)$"),
    _rule(r"^\s*ntp authentication-key \d+ \S+ (?P<s>\S+)"),
    # OSPF's `ip ospf authentication-key` and a virtual link's `area A virtual-link R authentication-key
    # [0|7] KEY` (Cisco IOS IP Routing: OSPF Command Reference, area virtual-link)
    _rule(rf"\bauthentication-key {_TYPE}(?P<s>\S+)"),
    _rule(rf"\bmessage-digest-key \d+ md5 {_TYPE}(?P<s>\S+)"),
    # `key-string [0|7] KEY [timeout SECONDS]` (Cisco FHRP Command Reference: vrrp authentication)
    _rule(rf"\bkey-string {_TYPE}(?P<s>\S.*?)(?: timeout \d+)?\s*$"),
    # IS-IS: `isis password P [level-N]`, `area-password P [authenticate snp ...]`, `domain-password P`
    # (Cisco IOS IP Routing: ISIS Command Reference); the generic rule below would take the level too
    _rule(r"\b(?:isis |area-|domain-)password (?P<s>\S+)"),
    # DMVPN: `ip nhrp authentication STRING`, sent in clear (Cisco IP Addressing: NHRP Configuration
    # Guide, "Specifying the NHRP Authentication String")
    _rule(r"\bip nhrp authentication (?P<s>\S+)"),
    _rule(rf"^\s*key config-key password-encrypt {_REST}"),
    _rule(r"\bauthentication text (?P<s>\S+)"),  # HSRP, VRRP
    # HSRP's and VRRP's plain form without `text`: `standby 1 authentication SECRET`, `vrrp 1
    # authentication SECRET` (Cisco FHRP Command Reference: `vrrp group authentication {text-string |
    # text text-string | md5 ...}`); `md5 key-string` is above, `md5 key-chain NAME` names a chain
    _rule(r"^\s*(?:standby|vrrp) (?:\d+ )?authentication (?!md5 |text )(?P<s>\S+)$"),
    # a password inside an URL: `archive` `path scp://user:PASS@host/`, `kron` and `copy` commands
    _rule(r"://[^/\s:@]+:(?P<s>[^@\s]+)@"),
    _rule(rf"\bwpa-psk (?:ascii|hex) {_TYPE}(?P<s>\S+)"),
    # every other password or secret: line passwords, BGP neighbours, PPP, HSRP ...
    _rule(rf"\b(?:password|secret) {_TYPE}{_REST}", line=r"^(?!\s*(?:no )?password encryption )"),
]

# An SNMPv1/v2c trap host's `params securityname [cipher] COMMUNITY [v1|v2c]` (no version is v1);
# with v3 it is a user name (VRP: USG/NE snmp-agent target-host trap; Comware: HPE 5120 SI
# Network Management Command Reference, snmp-agent target-host)
_TARGET_HOST_COMMUNITY = _rule(r"\bparams securityname (?:cipher )?(?P<s>\S+)(?=\s|$)(?!\s+v3\b)",
                               line=r"^\s*snmp-agent target-host ", keep=_DEFAULT_COMMUNITIES)
# SNMP as VRP and Comware both write it: USM keys after `authentication-mode` and
# `privacy-mode` (`snmp-agent usm-user v3 U G cipher authentication-mode sha X privacy-mode
# aes128 Y` on Comware, `... authentication-mode sha cipher X ...` on VRP), communities after
# `read|write` (`cipher` on both, `simple` on Comware; Comware: HPE/H3C command references for
# snmp-agent usm-user), and the trap hosts' communities
_SNMP_AGENT = [
    _rule(r"\b(?:authentication-mode|privacy-mode) \S+ (?:cipher )?(?P<s>\S+)", line=r"^\s*snmp-agent usm-user "),
    _rule(r"^\s*snmp-agent community (?:read|write) (?:(?:cipher|simple) )?(?P<s>\S+)", keep=_DEFAULT_COMMUNITIES),
    _TARGET_HOST_COMMUNITY,
]

VRP = [
    *_SNMP_AGENT,
    _rule(r"\bauthentication-mode (?:md5|hmac-md5|hmac-sha256|simple)(?: key-id)?(?: \d+)? (?:cipher |plain )?"
          r"(?P<s>\S+)"),
    _rule(r"\b(?:password(?: level \d+)?|shared-key|pre-shared-key|key) (?:cipher|irreversible-cipher|simple) "
          r"(?P<s>\S+)"),
    # whatever VRP shows as a cipher is a secret by definition
    _rule(r"\b(?:cipher|irreversible-cipher) (?P<s>\S+)"),
    # a keychain's `key-string { plain P | [cipher] C }` (Huawei WLAN AC V200R010C00 Command Reference,
    # key-string)
    _rule(r"\bkey-string (?:plain |cipher )?(?P<s>\S+)"),
    _rule(r"\b(?:shared-key|pre-shared-key) (?P<s>\S+)"),
    # VRP's ciphertext wherever it stands: after a bare `password` (`set save-configuration
    # backup-to-server ... user U password %^%#...`, idx_sw1pop15-esteio_s-series_v200r022), a PSK's
    # `pass-phrase` (`ppsk-user psk pass-phrase KEY ... ssid S`, WLAN AC V200R010C00 Command Reference)
    _rule(r"(?P<s>(?:%\^%#|%@%@|%#%#|@%@%|%\$%\$|%\+%#)\S*)"),
]

# H3C Comware 5 and 7 (corpus: ../shared/real-gear/configs/h3c; HPE/H3C command references
# for super password): `password cipher|hash|simple X` (local users, `set authentication
# password`, PPP, BGP peers), `super password [level N|role R] ... X`, RADIUS/HWTACACS
# `key [authentication|authorization|accounting] cipher|simple X`, and SNMP as VRP writes it.
COMWARE = [
    *_SNMP_AGENT,
    # `preshared-key { pass-phrase | raw-key } { cipher | simple } KEY` of a WLAN service template
    _rule(r"\b(?:password|key)(?: (?:level \d+|role \S+|authentication|authorization|accounting|pass-phrase|"
          r"raw-key))? (?:cipher|hash|simple) (?P<s>\S+)"),
    # OSPF (interface, area, virtual link), IS-IS (`isis`, `area-`, `domain-authentication-mode`), VRRP,
    # RIP and NTP keys: `authentication-mode { md5 | hmac-md5 | simple } [KEY-ID] [cipher | plain] KEY`
    # (HP HSR6800 and MSR V7 Layer 3 IP Routing Command References: ospf authentication-mode; HPE 3600
    # v2 High Availability Command Reference: `vrrp vrid N authentication-mode { md5 | simple } [cipher]
    # KEY`); RIP's `md5 rfc2453 KEY`, `md5 rfc2082 KEY KEY-ID`
    _rule(r"\bauthentication-mode (?:md5|hmac-md5|hmac-sha-?256|simple)(?: \d+| rfc2453| rfc2082)? "
          r"(?:(?:cipher|plain) )?(?P<s>\S+)"),
    # a keychain's `key-string { cipher | plain } KEY` (H3C Security Command Reference, keychain commands)
    _rule(r"\bkey-string (?:cipher |plain )(?P<s>\S+)"),
]

# The agent's own YAML (/etc/egov-agent/*.yml): a value under a password- or secret-like
# key, except the names of environment variables and paths (`password_env`, `key_file`),
# and bcrypt hashes (web.yml's basic_auth_users).
YAML = [
    _rule(r"^\s*(?:- )?[\w.-]*(?:password|passwd|secret|token|community|psk|priv_key|auth_key)[\w.-]*"
          r"(?<!_env)(?<!_file)\s*:\s*(?P<s>\S.*?)\s*$"),
    _rule(r"(?P<s>\$2[abxy]?\$\d\d\$[./A-Za-z0-9]+)"),
]

# by dialect (agent/platforms.py): device types that print alike share their rules
RULES = {"cisco_ios": IOS, "huawei_vrp": VRP, "hp_comware": COMWARE, "linux": []}


def platforms() -> list[str]:
    """The platforms redact() knows: every network platform's, and linux."""
    return [name for name, record in PLATFORMS.items() if record.dialect in RULES] + ["linux"]


def rules_of(platform: str) -> list[Rule]:
    record = PLATFORMS.get(platform)
    rules = RULES.get("linux" if platform == "linux" else record.dialect if record else "")
    if rules is None:
        raise ValueError(f"no redaction rules for platform {platform!r} (known: {', '.join(platforms())})")
    return rules


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)


def redact(text: str, platform: str, key: bytes) -> str:
    """`text` with every secret replaced by its token (see the module's docstring)."""
    rules = rules_of(platform)
    text = _PEM.sub(lambda m: token(m[0], key), text)
    out, header = [], ""
    for line in text.split("\n"):
        if platform == "linux" and (section := SECTION.match(line)):
            rules = YAML if section[1].endswith((".yml", ".yaml")) else []
        elif line[:1] not in (" ", "\t", ""):
            header = line
        out.append(_redact_line(line, header, rules, key))
    return "\n".join(out)


def _redact_line(line: str, header: str, rules: list[Rule], key: bytes) -> str:
    for rule in rules:
        if not rule.applies(line, header):
            continue
        matches = list(rule.secret.finditer(line))
        if matches:
            for m in reversed(matches):
                if m["s"] not in rule.keep and not TOKEN.fullmatch(m["s"]):
                    line = line[:m.start("s")] + token(m["s"], key) + line[m.end("s"):]
            return line
    return line


def token(secret: str, key: bytes) -> str:
    return f"<redacted:{hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()[:12]}>"
