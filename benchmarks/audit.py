"""The policy packs on 1,000 device configurations, side by side with ciscoconfparse.

    python -m benchmarks.audit [--devices 1000] [--lines 300] [--seed 7] [--policies DIR] [--json OUT]

Generates --devices configurations (seeded, so every run audits the same ones) in real
vendor syntax, about --lines lines each: Cisco IOS switches and Huawei VRP switches
(24-48 ports, VLANs, an ACL, management lines, SNMP, AAA), and Linux host backups
(sshd_config, `sshd -T`, sudoers, the nftables ruleset, time sync, the agent's config)
when a pack covers platform linux. Each setting a rule judges is wrong on about one
device in eight, so every rule both passes and fails somewhere. Secrets are redaction
tokens, as in the backup store.

Then, pinned to one CPU, CPU time (time.process_time) of:

1. egov-agent: loading the packs in --policies, then `policy.evaluate` (parse + every rule
   of the platform's pack) on every configuration;
2. ciscoconfparse (PyPI, syntax ios): on the Cisco configurations, the parse
   (`CiscoConfParse`) and the same rules as ciscoconfparse queries: `find_objects` for
   the global lines and the block headers of a rule's context, `re_search_children` for
   its only_if / unless / require / forbid / numeric patterns in each block. A child's
   text keeps its indentation, so an anchored pattern `^X` is searched as `^\\s+X` there.

Both verdicts are compared rule by rule (they must agree), and each phase's peak RSS is
VmHWM, reset (/proc/self/clear_refs) before it: both include the interpreter and the
generated configurations. The goal (the audit issue): all configurations against the full
packs in ≤ 5 s on one core. A benchmark, not a test: it asserts nothing and exits 0 once
it has printed its table (1 when no pack covers cisco_ios or ciscoconfparse is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from importlib import metadata
from pathlib import Path

from agent.audit.policy import POLICIES, Pack, Rule, evaluate, load_packs

GOAL_SECONDS = 5.0
SHARES = {"cisco_ios": 0.5, "huawei": 0.35, "linux": 0.15}  # of the platforms that have a pack
WRONG = 1 / 8  # the chance that a judged setting is wrong on a device


def _token(rng: random.Random) -> str:
    return f"<redacted:{rng.getrandbits(48):012x}>"


def _acl_lines(rng: random.Random, count: int, line) -> list[str]:
    """`count` ACL entries from documentation address ranges, written by `line(n, action, proto, src, port)`."""
    nets = ["192.0.2.", "198.51.100.", "203.0.113."]
    entries = []
    for n in range(count):
        source = f"{rng.choice(nets)}{rng.randrange(0, 256, 16)}"
        entries.append(line(n, rng.choice(["permit", "permit", "deny"]), rng.choice(["tcp", "udp"]), source,
                            rng.choice([22, 53, 123, 161, 443, 514, 3389, 8080])))
    return entries


def ios_config(rng: random.Random, number: int, lines: int) -> list[str]:
    bad = lambda: rng.random() < WRONG  # noqa: E731
    ports, sloppy = rng.randint(24, 48), bad()  # a sloppy device leaves some unused ports up
    vlans = [(10, "CANBO"), (20, "KHACH"), (30, "CAMERA"), (99, "MGMT")][:rng.randint(2, 4)]
    out = ["Building configuration...", "", f"Current configuration : {rng.randint(8000, 16000)} bytes", "!",
           "version 15.2", *([] if bad() else ["no service pad"]),
           "service timestamps debug datetime msec localtime", "service timestamps log datetime msec localtime",
           *([] if bad() else ["service password-encryption"]), *([] if bad() else ["service tcp-keepalives-in"]),
           "!", f"hostname xa-{number:04d}-sw", "!", "boot-start-marker", "boot-end-marker", "!",
           "logging buffered 16384",
           f"enable password 7 {_token(rng)}" if bad() else f"enable secret 9 {_token(rng)}", "!",
           f"username netadmin privilege 15 secret 9 {_token(rng)}",
           *([f"username backup privilege 1 password 7 {_token(rng)}"] if bad() else []),
           *([] if bad() else ["aaa new-model", "aaa authentication login default local",
                               "aaa authorization exec default local", "aaa session-id common"]),
           "clock timezone ICT 7 0", "system mtu routing 1500", *([] if bad() else ["no ip source-route"]), "!",
           "no ip domain lookup", f"ip domain name xa{number:04d}.egov.example",
           *([] if bad() else ["ip ssh version 2"]), "ip ssh time-out 60", "!",
           "spanning-tree mode rapid-pvst", "spanning-tree extend system-id", "!"]
    for vlan, name in vlans:
        out += [f"vlan {vlan}", f" name {name}"]
    out += ["!", *([] if bad() else ["no cdp run", "!"])]
    for port in range(1, ports + 1):
        out.append(f"interface GigabitEthernet1/0/{port}")
        if port == ports:
            out += [" description UPLINK to pop-rtr", " switchport trunk allowed vlan "
                    + ",".join(str(v) for v, _ in vlans), " switchport mode trunk"]
        elif rng.random() < 0.3:  # unused
            out += [] if sloppy and rng.random() < 0.5 else [" shutdown"]
        else:
            vlan, name = rng.choice(vlans[:-1])
            out += [f" description {name}-{port:02d}", f" switchport access vlan {vlan}", " switchport mode access",
                    " spanning-tree portfast"]
        out.append("!")
    out += ["interface Vlan99", f" ip address 198.51.100.{number % 250 + 2} 255.255.255.0", "!",
            "ip default-gateway 198.51.100.1", "ip http server" if bad() else "no ip http server",
            "no ip http secure-server", "!", "ip access-list extended MGMT-IN"]
    acl_at = len(out)
    out += [" deny   ip any any log", "!", *([] if bad() else ["logging host 192.0.2.50"]),
            *(["snmp-server community public RO"] if bad() else []),
            *(["snmp-server group EGOV-RO v3 auth"] if bad() else ["snmp-server group EGOV-RO v3 priv"]),
            f"snmp-server location Xa {number:04d}", "snmp-server host 192.0.2.60 version 3 priv egov-snmp", "!",
            *([] if bad() else ["banner login ^C", "Chi danh cho can bo duoc phep. Moi truy cap deu duoc ghi lai.",
                                "^C", "!"]),
            "line con 0", f" exec-timeout {rng.choice([0, 30]) if bad() else 5} 0", " logging synchronous",
            "line vty 0 4", f" exec-timeout {30 if bad() else 10} 0", " login" if bad() else " login local",
            f" transport input {'telnet ssh' if bad() else 'ssh'}", "line vty 5 15", " login local",
            " transport input none", "!", *([] if bad() else ["ntp server 192.0.2.123"]), "end"]
    out[acl_at:acl_at] = _acl_lines(rng, max(2, lines - len(out)), lambda n, action, proto, source, port:
                                    f" {action:<6} {proto} {source} 0.0.0.15 any eq {port}")
    return out


def vrp_config(rng: random.Random, number: int, lines: int) -> list[str]:
    bad = lambda: rng.random() < WRONG  # noqa: E731
    ports, sloppy = rng.randint(24, 48), bad()
    vlans = [10, 20, 30, 99][:rng.randint(2, 4)]
    out = ["!Software Version V200R010C00SPC600", "#", f" sysname xa-{number:04d}-sw", "#",
           f" vlan batch {' '.join(map(str, vlans))}", "#", " stp mode rstp", "#",
           " clock timezone ICT add 07:00:00", "#",
           " http server enable" if bad() else " undo http server enable", " undo http secure-server enable", "#",
           *([" telnet server enable", "#"] if bad() else []),
           *([] if bad() else [" info-center loghost 192.0.2.50", "#"]),
           *([] if bad() else [" ntp-service unicast-server 192.0.2.123", "#"]),
           "acl number 3000"]
    acl_at = len(out)
    out += [" rule 1000 deny ip", "#", "aaa", " authentication-scheme default", " authorization-scheme default",
            " accounting-scheme default", " domain default", " domain default_admin",
            f" local-user netadmin password {'cipher' if bad() else 'irreversible-cipher'} {_token(rng)}",
            " local-user netadmin privilege level 15", " local-user netadmin service-type ssh", "#",
            "interface Vlanif99", f" ip address 198.51.100.{number % 250 + 2} 255.255.255.0", "#"]
    for port in range(1, ports + 1):
        out.append(f"interface GigabitEthernet0/0/{port}")
        if port == ports:
            out += [" description UPLINK to pop-rtr", " port link-type trunk",
                    f" port trunk allow-pass vlan {' '.join(map(str, vlans))}"]
        elif rng.random() < 0.3:
            out += [] if sloppy and rng.random() < 0.5 else [" shutdown"]
        else:
            vlan = rng.choice(vlans[:-1])
            out += [f" description CANBO-{port:02d}", " port link-type access", f" port default vlan {vlan}",
                    " stp edged-port enable"]
        out.append("#")
    out += ["interface NULL0", "#", " snmp-agent", f" snmp-agent local-engineid 800007DB03{rng.getrandbits(48):012X}",
            " snmp-agent sysinfo version all" if bad() else " snmp-agent sysinfo version v3",
            *([" snmp-agent community read cipher public"] if bad() else []),
            " snmp-agent group v3 EGOV-RO privacy",
            " snmp-agent target-host trap address udp-domain 192.0.2.60 params securityname egov-snmp v3 privacy",
            " snmp-agent usm-user v3 egov-snmp group EGOV-RO",
            f" snmp-agent usm-user v3 egov-snmp authentication-mode sha cipher {_token(rng)}",
            f" snmp-agent usm-user v3 egov-snmp privacy-mode aes128 cipher {_token(rng)}", "#",
            *([] if bad() else [" stelnet server enable"]), " ssh user netadmin authentication-type password",
            " ssh user netadmin service-type stelnet", "#",
            *([] if bad() else ['header login information "Chi danh cho can bo duoc phep"', "#"]),
            "user-interface con 0", " authentication-mode aaa",
            f" idle-timeout {rng.choice([0, 30]) if bad() else 5} 0",
            "user-interface vty 0 4", f" authentication-mode {'password' if bad() else 'aaa'}",
            f" idle-timeout {30 if bad() else 10} 0", f" protocol inbound {'all' if bad() else 'ssh'}", "#", "return"]
    out[acl_at:acl_at] = _acl_lines(rng, max(2, lines - len(out)), lambda n, action, proto, source, port:
                                    f" rule {5 * (n + 1)} {action} {proto} source {source} 0.0.0.15 "
                                    f"destination-port eq {port}")
    return out


def linux_config(rng: random.Random, number: int, lines: int) -> list[str]:
    """A host backup as agent/audit/fetch.py takes it: sections headed `==> NAME <==`."""
    bad = lambda: rng.random() < WRONG  # noqa: E731
    root, password, empty, x11 = (("yes" if bad() else "no") for _ in range(4))
    tries, policy = (6 if bad() else 3), ("accept" if bad() else "drop")
    sshd = [f"PermitRootLogin {root}", f"PasswordAuthentication {password}", f"PermitEmptyPasswords {empty}",
            f"X11Forwarding {x11}", f"MaxAuthTries {tries}", "ClientAliveInterval 300"]
    out = ["==> /etc/ssh/sshd_config <==", "# This is the sshd server system-wide configuration file.",
           "Include /etc/ssh/sshd_config.d/*.conf", "#Port 22", "#PermitRootLogin prohibit-password",
           "KbdInteractiveAuthentication no", "UsePAM yes", "X11Forwarding yes", "PrintMotd no",
           "AcceptEnv LANG LC_*", "Subsystem sftp /usr/lib/openssh/sftp-server",
           "==> /etc/ssh/sshd_config.d/egov.conf <==", *sshd,
           "==> sshd -T <==", "port 22", "addressfamily any", "listenaddress [::]:22", "listenaddress 0.0.0.0:22",
           *(line.lower() for line in sshd), "pubkeyauthentication yes", "kbdinteractiveauthentication no",
           "maxsessions 10", "clientalivecountmax 3", "usepam yes", "logingracetime 120", "loglevel INFO",
           "syslogfacility AUTH",
           "==> /etc/sudoers <==", "Defaults env_reset", "Defaults mail_badpass",
           'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
           "Defaults use_pty", "root ALL=(ALL:ALL) ALL", "%sudo ALL=(ALL:ALL) ALL", "@includedir /etc/sudoers.d",
           "==> /etc/sudoers.d/egov <==", f"%netadmins ALL=(ALL) {'NOPASSWD: ' if bad() else ''}ALL",
           "==> nft list ruleset <==", "table inet filter {", "\tchain input {",
           f"\t\ttype filter hook input priority filter; policy {policy};",
           "\t\tct state established,related accept", '\t\tiif "lo" accept', "\t\tip protocol icmp accept",
           "\t\ttcp dport 22 ip saddr 198.51.100.0/24 accept"]
    rules_at = len(out)
    out += ["\t}", "\tchain forward {", "\t\ttype filter hook forward priority filter; policy drop;", "\t}", "}",
            "==> /etc/systemd/timesyncd.conf <==", "[Time]", *([] if bad() else ["NTP=192.0.2.123"]),
            "#FallbackNTP=0.debian.pool.ntp.org", "==> /etc/egov-agent/agent.yml <==", "listen: 127.0.0.1:9469",
            "log_level: info", "inventory: /etc/egov-agent/inventory", "collectors:", "  filesystem:",
            "    interval: 30s"]
    out[rules_at:rules_at] = _acl_lines(rng, max(2, lines - len(out)), lambda n, action, proto, source, port:
                                        f"\t\t{proto} dport {port} ip saddr {source}/28 "
                                        f"{'accept' if action == 'permit' else 'drop'}")
    return out


GENERATORS = {"cisco_ios": ios_config, "huawei": vrp_config, "linux": linux_config}


def fleet(count: int, lines: int, seed: int, platforms: list[str]) -> list[tuple[str, str, str]]:
    """[(device, platform, configuration text)], the platforms in proportion to SHARES."""
    rng = random.Random(seed)
    weights = [SHARES[p] for p in platforms]
    devices = []
    for number in range(count):
        kind = rng.choices(platforms, weights)[0]
        target = rng.randint(lines - lines // 10, lines + lines // 10)
        devices.append((f"xa-{number:04d}", kind, "\n".join(GENERATORS[kind](rng, number, target)) + "\n"))
    return devices


# --- ciscoconfparse: the same rules as its queries -----------------------------------------

def _child_pattern(pattern: str) -> str:
    """A pattern on a child line: ciscoconfparse keeps its indentation."""
    return r"^\s+" + pattern[1:] if pattern.startswith("^") else pattern


def ccp_passed(parse, rule: Rule) -> bool:
    """The rule judged with ciscoconfparse's queries; True when it passes."""
    if rule.context == "global":
        return _ccp_global(parse, rule)
    numeric = rule.numeric
    considered = 0
    for block in parse.find_objects(rule.context):
        if block.is_child:
            continue
        search = lambda pattern: block.re_search_children(_child_pattern(pattern))  # noqa: E731
        if rule.only_if and not any(search(p) for p in rule.only_if):
            continue
        if any(search(p) for p in rule.unless):
            continue
        considered += 1
        passed = all(search(p) for p in rule.require) and not any(search(p) for p in rule.forbid)
        if numeric:
            pattern = _child_pattern(numeric.line)
            values = [re.search(pattern, child.text)[1] for child in search(numeric.line)]
            passed = passed and (bool(values) or numeric.absent == "pass") and \
                not any(numeric.out_of_bounds(float(v)) for v in values)
        if rule.match == "any" and passed:
            return True
        if rule.match == "each" and not passed:
            return False
    return rule.match == "each"


def _ccp_global(parse, rule: Rule) -> bool:
    top = lambda pattern: [line for line in parse.find_objects(pattern) if not line.is_child]  # noqa: E731
    passed = all(top(p) for p in rule.require) and not any(top(p) for p in rule.forbid)
    if rule.numeric:
        values = [re.search(rule.numeric.line, line.text)[1] for line in top(rule.numeric.line)]
        passed = passed and (bool(values) or rule.numeric.absent == "pass") and \
            not any(rule.numeric.out_of_bounds(float(v)) for v in values)
    return passed


# --- measuring -----------------------------------------------------------------------------------

def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def run_egov(devices, packs: dict[str, Pack]) -> dict:
    _peak_rss_reset()
    cpu = {platform: 0.0 for _, platform, _ in devices}
    verdicts, failed = [], 0
    for _, kind, text in devices:
        began = time.process_time()
        findings = evaluate(packs[kind], text, kind)
        cpu[kind] += time.process_time() - began
        verdicts.append([finding.passed for finding in findings])
        failed += sum(not finding.passed for finding in findings)
    return {"evaluate_s": sum(cpu.values()), "cpu_by_platform_s": cpu, "verdicts": verdicts,
            "failed_findings": failed, "peak_rss_mib": _status_mib("VmHWM")}


def run_ccp(devices, pack: Pack) -> dict:
    from ciscoconfparse import CiscoConfParse  # imported here: its import is not the audit's memory

    _peak_rss_reset()
    cpu, verdicts = 0.0, []
    for _, _, text in devices:
        began = time.process_time()
        parse = CiscoConfParse(text.splitlines(), syntax="ios", ignore_blank_lines=False)
        verdicts.append([ccp_passed(parse, rule) for rule in pack.rules])
        cpu += time.process_time() - began
    return {"total_s": cpu, "verdicts": verdicts, "peak_rss_mib": _status_mib("VmHWM")}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=300, help="about this many lines per configuration")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--policies", type=Path, default=POLICIES)
    parser.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)), help="the CPU to run on")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)

    os.sched_setaffinity(0, {args.cpu})
    start = time.process_time()
    packs = load_packs(args.policies)  # read, checked, patterns compiled: as the audit starts
    load_s = time.process_time() - start
    platforms = [p for p in SHARES if p in packs]
    if "cisco_ios" not in platforms:
        print(f"no pack in {args.policies} covers cisco_ios: nothing to compare with ciscoconfparse", file=sys.stderr)
        return 1
    try:
        ccp_version = metadata.version("ciscoconfparse")
    except metadata.PackageNotFoundError:
        print("ciscoconfparse is missing: pip install ciscoconfparse", file=sys.stderr)
        return 1
    devices = fleet(args.devices, args.lines, args.seed, platforms)
    cisco = [device for device in devices if device[1] == "cisco_ios"]
    baseline = _status_mib("VmRSS")

    egov = run_egov(devices, packs)
    egov["total_s"] = load_s + egov["evaluate_s"]
    ccp = run_ccp(cisco, packs["cisco_ios"])
    ours = [verdict for device, verdict in zip(devices, egov["verdicts"]) if device[1] == "cisco_ios"]
    rules = packs["cisco_ios"].rules
    disagree = [(device[0], rule.id, a) for device, mine, theirs in zip(cisco, ours, ccp["verdicts"])
                for rule, a, b in zip(rules, mine, theirs) if a != b]

    count = {p: sum(1 for d in devices if d[1] == p) for p in platforms}
    lines = {p: sum(d[2].count("\n") for d in devices if d[1] == p) / max(count[p], 1) for p in platforms}
    per_config = {p: egov["cpu_by_platform_s"].get(p, 0.0) / max(count[p], 1) * 1e6 for p in platforms}
    ccp_per_config = ccp["total_s"] / max(len(cisco), 1) * 1e6
    ratio = per_config["cisco_ios"] / ccp_per_config
    met = egov["total_s"] <= GOAL_SECONDS
    names = {"cisco_ios": "Cisco IOS", "huawei": "Huawei VRP", "linux": "Linux host"}

    print(f"\naudit benchmark: {args.devices} configurations ("
          + ", ".join(f"{count[p]} {names[p]} of {lines[p]:.0f} lines on average" for p in platforms)
          + f"), seed {args.seed}; packs "
          + ", ".join(f"{pack.name} ({len(pack.rules)} rules)" for pack in {id(p): p for p in packs.values()}.values())
          + f"; CPU {args.cpu} of {os.cpu_count()} ({_cpu_model()}), Python {platform.python_version()}, "
          f"ciscoconfparse {ccp_version}\n")
    rows = [("all configurations, full packs: CPU (s)", f"{egov['total_s']:.2f}", "—", "—",
             f"≤ {GOAL_SECONDS:g} s", "yes" if met else "NO"),
            ("of which loading the packs (s)", f"{load_s:.3f}", "—", "—", "—", "—"),
            ("per Cisco IOS configuration: parse + rules (µs)", f"{per_config['cisco_ios']:.0f}",
             f"{ccp_per_config:.0f}", f"{ratio:.3f}×", "—", "—")]
    rows += [(f"per {names[p]} configuration: parse + rules (µs)", f"{per_config[p]:.0f}", "—", "—", "—", "—")
             for p in platforms if p != "cisco_ios"]
    rows += [("Cisco IOS configurations, all (s)", f"{egov['cpu_by_platform_s']['cisco_ios']:.2f}",
              f"{ccp['total_s']:.2f}", f"{egov['cpu_by_platform_s']['cisco_ios'] / ccp['total_s']:.3f}×", "—", "—"),
             ("peak RSS, VmHWM (MiB)", f"{egov['peak_rss_mib']:.1f}", f"{ccp['peak_rss_mib']:.1f}",
              f"{egov['peak_rss_mib'] / ccp['peak_rss_mib']:.2f}×", "—", "—")]
    header = ("metric", "egov-agent", f"ciscoconfparse {ccp_version}", "ratio", "goal", "met?")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |")
    checked = len(cisco) * len(rules)
    print(f"\nRSS before either phase (interpreter, packs' imports, the generated configurations): {baseline:.1f} MiB. "
          f"Failed findings: {egov['failed_findings']} of {sum(len(v) for v in egov['verdicts'])}. "
          f"Verdicts on the Cisco configurations: {checked - len(disagree)} of {checked} agree.")
    outcomes = {}  # rule id: the set of its verdicts over all configurations
    for (_, kind, _), verdict in zip(devices, egov["verdicts"]):
        for rule, passed in zip(packs[kind].rules, verdict):
            outcomes.setdefault(rule.id, set()).add(passed)
    one_sided = sorted(rule_id for rule_id, seen in outcomes.items() if len(seen) < 2)
    if one_sided:
        print(f"Rules judged the same on every configuration (the generator never tests their other side): "
              f"{', '.join(one_sided)}")
    for device, rule_id, ours_passed in disagree[:10]:
        print(f"  disagree: {device} {rule_id}: egov-agent says {'pass' if ours_passed else 'fail'}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "settings": {**vars(args), "policies": str(args.policies)}, "ciscoconfparse": ccp_version,
            "devices": count, "average_lines": lines, "baseline_rss_mib": baseline,
            "egov": {k: v for k, v in egov.items() if k != "verdicts"}, "load_packs_s": load_s,
            "per_config_us": per_config,
            "ccp": {"total_s": ccp["total_s"], "per_config_us": ccp_per_config, "peak_rss_mib": ccp["peak_rss_mib"]},
            "disagreements": disagree, "goal_met": met}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
