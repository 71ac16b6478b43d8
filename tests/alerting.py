"""What the end-to-end alerting tests share: a small province whose PoP can be cut, an agent
that pings only its routers, and the repository's rules and Alertmanager timers shortened by
one factor, so an outage pages in seconds through the rules and routes operators deploy.
"""

from __future__ import annotations

import re
import time

import yaml

from agent.collector import discover

SPEEDUP = 60  # minutes become seconds: EgovSiteUplinkDown's `for: 2m` is 2s, group_wait 30s is 500ms
POP_ROUTER = "127.88.0.1"
COMMUNE_ROUTERS = {"xa_mot": "127.88.1.1", "xa_hai": "127.88.2.1", "xa_ba": "127.88.3.1"}
# 3 echoes 100 ms apart, each lost after 300 ms: a run takes about 0.5 s, well inside the 1 s interval
ROUTER = ("egov_role: router, egov_platform: huawei, "
          "egov_checks: {icmp: {count: 3, spacing: 100ms, timeout: 300ms, loss_warning: 0.2, loss_critical: 0.5}}")
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def shortened(duration: str) -> str:
    """A Prometheus/Alertmanager duration ("2m", "1h30m", "30s") divided by SPEEDUP, in milliseconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return f"{sum(int(n) * _UNITS_MS[u] for n, u in parts) // SPEEDUP}ms"


SITE_NAMES = {"province": "Tỉnh Thử", "dc": "Trung tâm dữ liệu", "pop_mot": "Điểm PoP Mỏ Cày (cũ)",
              "xa_mot": "Xã Một", "xa_hai": "Xã Hai", "xa_ba": "Xã Ba"}


def write_inventory(directory, monitoring_servers: dict[str, str] | None = None) -> None:
    """A data centre with the agent's host, one PoP, three communes hanging on the PoP; each router
    pinged; sites named with diacritics. `monitoring_servers` {name: address} are hosts of the data
    centre in group monitoring_servers (Prometheus and Alertmanager run there, not an agent)."""
    def site(name: str, site_type: str, uplink: str | None = None) -> str:
        return (f"{{egov_site_type: {site_type}, egov_site_name: \"{SITE_NAMES[name]}\""
                + (f", egov_uplink: {uplink}}}" if uplink else "}"))

    communes = "".join(
        f"    {name}:\n"
        f"      vars: {site(name, 'commune', 'pop_mot')}\n"
        f"      hosts:\n"
        f"        {name}-rtr: {{ansible_host: {address}, {ROUTER}}}\n"
        for name, address in COMMUNE_ROUTERS.items())
    servers = "".join(f"        {name}: {{ansible_host: {address}, egov_role: dc_host}}\n"
                      for name, address in (monitoring_servers or {}).items())
    group = ("monitoring_servers:\n  hosts:\n" + "".join(f"    {name}:\n" for name in monitoring_servers)
             if monitoring_servers else "")
    directory.mkdir()
    (directory / "hosts.yml").write_text(
        "province:\n"
        f"  vars: {site('province', 'province')}\n"
        "  children:\n"
        "    dc:\n"
        f"      vars: {site('dc', 'datacenter')}\n"
        "      hosts:\n"
        "        egov-agent-01: {ansible_host: 127.0.0.1, egov_role: monitoring_server}\n"
        + servers +
        "    pop_mot:\n"
        f"      vars: {site('pop_mot', 'pop', 'dc')}\n"
        "      hosts:\n"
        f"        pop-mot-rtr: {{ansible_host: {POP_ROUTER}, {ROUTER}}}\n"
        + communes + group, encoding="utf-8")


def agent_config(path) -> None:
    """icmp every second and nothing else: no host check of this machine can page anyone in the test."""
    collectors = {name: {"enabled": False} for name in discover() if name != "icmp"}
    collectors["icmp"] = {"interval": "1s", "timeout": "900ms", "probe_timeout": "900ms"}
    path.write_text(yaml.safe_dump({"inventory_host": "egov-agent-01", "check_hold": "0s", "log_format": "json",
                                    "collectors": collectors}))


def shorten_rules(rules_dir) -> None:
    """The real rule files, each `for:` divided by SPEEDUP; everything else as written."""
    for path in sorted(rules_dir.glob("*.yml")):
        rules = yaml.safe_load(path.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = shortened(rule["for"])
        path.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False))


def shorten_timers(config: dict) -> dict:
    """An Alertmanager config (monitoring/alertmanager.yml's) with its route timers divided by SPEEDUP."""
    for route in [config["route"], *config["route"].get("routes", [])]:
        for timer in ("group_wait", "group_interval", "repeat_interval"):
            if timer in route:
                route[timer] = shortened(route[timer])
    return config


def stays(fetch, expected, what: str, seconds: float) -> None:
    """`fetch()` returns `expected` throughout `seconds`: nothing more arrives."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert (value := fetch()) == expected, f"{what}: expected {expected!r}, got {value!r}"
        time.sleep(0.2)
