"""Meeting readiness against real kamailio endpoints (ready, 503, silent) and real H.323 ports."""

from __future__ import annotations

import socket

import pytest

from agent.collector import discover
from agent.readiness import run
from agent.yamlfile import ConfigError
from tests.peer_nft import dropping
from tests.peers import free_port

pytest_plugins = ("tests.peer_sip",)  # the real peers this module's tests use

FAST = "{probe_timeout: 2s, timeout: 5s, interval: 10s}"
# 30 echoes a run: dropping one in two at random, fewer than 3 lost (10 %, the loss at which the MOS
# falls below 3.6) has a chance of 4e-7
PINGS = "icmp: {count: 30, spacing: 20ms, timeout: 500ms}"


@pytest.fixture
def h323_port():
    """A real listener on the ready endpoint's address: the kernel completes the TCP handshake."""
    with socket.create_server(("127.50.60.1", 0)) as listener:
        yield listener.getsockname()[1]


def host(name: str, address: str, checks: str, role: str = "vc_endpoint", platform: str | None = None) -> str:
    gear = f", egov_platform: {platform}" if platform else ""
    return f"{name}: {{ansible_host: {address}, egov_role: {role}{gear}, egov_checks: {{{checks}}}}}"


def site(name: str, kind: str, *hosts: str) -> str:
    """A site group of the province's inventory (`kind`: its egov_site_type, and any other vars) with its hosts."""
    return (f"    {name}:\n      vars: {{egov_site_type: {kind}}}\n      hosts:\n"
            + "".join(f"        {line}\n" for line in hosts))


def province(path, *sites: str) -> str:
    """Write the inventory of the province and its sites to `path`; returns the path."""
    path.write_text("province:\n  vars: {egov_site_type: province}\n  children:\n" + "".join(sites))
    return str(path)


def agent_yml(tmp_path, *collectors: str) -> str:
    (tmp_path / "agent.yml").write_text("collectors:\n" + "".join(f"  {name}: {FAST}\n" for name in collectors))
    return str(tmp_path / "agent.yml")


def write(tmp_path, kamailio, h323_port, icmp: bool = False) -> tuple[str, str]:  # noqa: F811
    sip = kamailio.ports
    (tmp_path / "inventory").mkdir()
    province(tmp_path / "inventory" / "hosts.yml",
             site("ubnd", "department",
                  host("vc-ubnd", "127.50.60.1", f"sip: {{port: {sip['127.50.60.1']}}}, h323: {{port: {h323_port}}}"
                       + (", icmp: null" if icmp else "")),
                  host("portal", "127.50.60.9", f"sip: {{port: {free_port('127.50.60.9')}}}", role="web_server")),
             site("xa_a", "commune",
                  host("vc-xa-a", "127.50.60.2", f"sip: {{port: {sip['127.50.60.2']}}}, "
                                                 f"h323: {{port: {free_port('127.50.60.2')}}}")),
             site("xa_b", "commune",
                  host("vc-xa-b", "127.50.60.13", f"sip: {{transport: tcp, port: {sip['127.50.60.13']}}}")))
    return str(tmp_path / "inventory"), agent_yml(tmp_path, "sip", "h323")


def rows(table: str) -> dict[str, list[str]]:
    """endpoint -> [site, status, MOS, reason] from the table under its header."""
    lines = table.splitlines()
    assert lines[1].split() == ["ENDPOINT", "SITE", "STATUS", "MOS", "REASON"]
    status_at, mos_at, reason_at = (lines[1].index(column) for column in ("STATUS", "MOS", "REASON"))
    return {line.split()[0]: [line.split()[1], line[status_at:mos_at].strip(), line[mos_at:reason_at].strip(),
                              line[reason_at:]] for line in lines[2:]}


def test_one_ready_one_busy_one_silent(kamailio, h323_port, tmp_path):  # noqa: F811
    inventory, config = write(tmp_path, kamailio, h323_port, icmp=True)
    code, table = run(inventory, config)
    assert code == 2
    assert table.splitlines()[0] == "NOT READY: 1 of 3 video-conference endpoints ready"
    got = rows(table)
    assert set(got) == {"vc-ubnd", "vc-xa-a", "vc-xa-b"}  # the web server's sip check is not a meeting's
    assert got["vc-xa-a"] == ["xa_a", "NOT READY", "-", "sip 503 Service Unavailable; h323 connect: connection refused"]
    assert got["vc-xa-b"] == ["xa_b", "NOT READY", "-", "sip timeout: no answer within 2s"]
    site, status, mos, reason = got["vc-ubnd"]
    assert (site, status, mos) == ("ubnd", "ready", "-")  # no router at ubnd: no link measured
    # icmp is listed: pinged if this agent has an icmp probe, else named as not checked
    assert reason == ("-" if "icmp" in discover() else "icmp not checked (no icmp probe in this agent)")
    assert list(got) == ["vc-xa-a", "vc-xa-b", "vc-ubnd"]  # the ones to fix first


def test_a_site_subtree(kamailio, h323_port, tmp_path):  # noqa: F811
    inventory, config = write(tmp_path, kamailio, h323_port)
    code, table = run(inventory, config, limit="ubnd")
    assert code == 0
    assert table.splitlines()[0] == "READY: 1 of 1 video-conference endpoints ready in ubnd"
    assert rows(table) == {"vc-ubnd": ["ubnd", "ready", "-", "-"]}

    code, table = run(inventory, config, limit="xa_b")
    assert code == 2 and list(rows(table)) == ["vc-xa-b"]


def test_no_endpoint_is_not_a_go(kamailio, h323_port, tmp_path):  # noqa: F811
    inventory, config = write(tmp_path, kamailio, h323_port)
    (tmp_path / "inventory" / "hosts.yml").write_text(
        "province:\n  vars: {egov_site_type: province}\n  hosts:\n"
        "    portal: {ansible_host: 127.50.60.9, egov_role: web_server}\n")
    code, table = run(inventory, config)
    assert code == 2 and table.startswith("NOT READY: no vc_endpoint host in the inventory")
    with pytest.raises(ConfigError, match="no site or host named 'xa_z'"):
        run(inventory, config, limit="xa_z")


def test_endpoints_that_cannot_be_checked(tmp_path):
    (tmp_path / "hosts.yml").write_text(
        "province:\n  vars: {egov_site_type: province}\n  hosts:\n"
        "    vc-nowhere: {egov_role: vc_endpoint, egov_checks: {}}\n"
        "    vc-unchecked: {ansible_host: 127.50.60.7, egov_role: vc_endpoint, egov_checks: {}}\n")
    code, table = run(tmp_path / "hosts.yml")
    got = rows(table)
    assert code == 2
    assert got["vc-nowhere"][1:] == ["NOT READY", "-", "no address (ansible_host) in the inventory"]
    assert got["vc-unchecked"][1:] == ["NOT READY", "-", "no checks listed (egov_checks)"]


def write_links(tmp_path, kamailio, h323_port, min_mos: str = "") -> tuple[str, str]:  # noqa: F811
    """vc-ubnd (a ready SIP endpoint) behind router r-ubnd; vc-so, pinged itself, behind two routers."""
    inventory = province(
        tmp_path / "hosts.yml",
        site("ubnd", "department",
             host("vc-ubnd", "127.50.60.1",
                  f"sip: {{port: {kamailio.ports['127.50.60.1']}}}, h323: {{port: {h323_port}}}"),
             host("r-ubnd", "127.50.61.1", PINGS, role="router", platform="cisco_ios")),
        site("so_tt", f"department{min_mos}", host("vc-so", "127.50.61.20", PINGS),
             *(host(name, address, PINGS, role=role, platform="cisco_ios") for name, address, role in (
                 ("r-so-1", "127.50.61.21", "router"), ("r-so-2", "127.50.61.22", "router"),
                 ("sw-so", "127.50.61.23", "switch")))))
    return inventory, agent_yml(tmp_path, "sip", "h323", "icmp")


def test_the_path_mos_under_induced_loss(kamailio, h323_port, tmp_path):  # noqa: F811
    inventory, config = write_links(tmp_path, kamailio, h323_port)
    code, table = run(inventory, config)
    got = rows(table)
    assert code == 0, table
    for endpoint in ("vc-ubnd", "vc-so"):  # loopback: no loss, well under a millisecond
        assert got[endpoint][1] == "ready" and float(got[endpoint][2]) > 4.3, table

    with dropping({"127.50.61.22": 2, "127.50.61.1": 1, "127.50.61.23": 1}):
        code, table = run(inventory, config)
    got = rows(table)
    assert code == 2
    assert table.splitlines()[0] == "NOT READY: 0 of 2 video-conference endpoints ready"
    # half the echoes to r-so-2 lost; r-so-1 is clean, and the silent switch is no router of the link
    site, status, mos, reason = got["vc-so"]
    assert (site, status) == ("so_tt", "NOT READY") and float(mos) < 3.6
    assert reason.startswith("link r-so-2 below MOS 3.6: loss ") and reason.endswith(f", MOS {mos}"), reason
    # every echo to r-ubnd lost: the E-model's floor, and the check's own words
    assert got["vc-ubnd"][1:] == ["NOT READY", "1.00",
                                  "link r-ubnd below MOS 3.6: no echo answered: loss 100%"]


def test_the_minimum_mos_comes_from_the_inventory(kamailio, h323_port, tmp_path):  # noqa: F811
    inventory, config = write_links(tmp_path, kamailio, h323_port, min_mos=", egov_meeting_min_mos: 4.5")
    code, table = run(inventory, config)
    got = rows(table)
    assert code == 2 and got["vc-ubnd"][1] == "ready"  # the default 3.6 at ubnd
    status, reason = got["vc-so"][1], got["vc-so"][3]
    assert status == "NOT READY" and reason.startswith("link r-so-") and "below MOS 4.5: loss 0%" in reason

    write_links(tmp_path, kamailio, h323_port, min_mos=", egov_meeting_min_mos: 5")
    with pytest.raises(ConfigError, match=r"egov_meeting_min_mos.*expected a MOS from 1 to 4.5, got 5"):
        run(inventory, config)
