"""`egov-agent report availability` against a real Prometheus holding a whole synthetic month
(backfilled with promtool), every figure checked against the hand calculation to the minute."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent import exitcodes
from agent.cli import main
from agent.inventory import load_inventory
from agent.report import availability
from agent.report.availability_page import render
from tests.helpers import CHROMIUM, CHROMIUM_FLAGS
from tests.peer_history import backfill
from tests.peers import start_prometheus

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
INVENTORY = """\
all:
  vars:
    egov_availability_targets: {web_server: 99.5, router: 99.9, http: 99.5}
  children:
    tinh:
      vars: {egov_site_type: province}
      children:
        dc_chinh:
          vars: {egov_site_type: datacenter}
          hosts:
            dvc-portal-01: {ansible_host: 127.30.1.10, egov_role: web_server}
        xa_an_phu:
          vars: {egov_site_type: commune}
          hosts:
            anphu-rtr: {ansible_host: 127.30.2.1, egov_role: router, egov_platform: cisco_ios}
        pop_bac_son:
          vars: {egov_site_type: pop}
          hosts:
            pop-rtr: {ansible_host: 127.30.3.1, egov_role: router, egov_platform: huawei}
        xa_tan_lap:
          vars: {egov_site_type: commune, egov_uplink: pop_bac_son}
          hosts:
            tanlap-rtr: {ansible_host: 127.30.4.1, egov_role: router, egov_platform: huawei}
            tanlap-motcua-01: {ansible_host: 127.30.4.20, egov_role: one_stop_pc}
        xa_son_thuy:
          vars:
            egov_site_type: commune
            egov_uplink: pop_bac_son
            egov_maintenance: [{reason: Thay bộ chuyển mạch, start: 2026-11-14 22:00, end: 2026-11-15 00:00}]
          hosts:
            sonthuy-rtr: {ansible_host: 127.30.5.1, egov_role: router, egov_platform: huawei}
"""


def local(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).timestamp()


def during(*spans: tuple[str, str, float]):
    """A state series: OK but for (start, end, state) spans; nothing during the agent's gap."""
    spans = [(local(a), local(b), state) for a, b, state in spans]

    def value(t: float) -> float | None:
        if GAP[0] <= t < GAP[1]:
            return None
        return next((state for a, b, state in spans if a <= t < b), 0)
    return value


def cut_off_during(start: str, end: str):
    return lambda t: 1 if local(start) <= t < local(end) and not GAP[0] <= t < GAP[1] else None


GAP = (local("2026-11-20 03:00"), local("2026-11-20 03:30"))  # the agent was down: 30 minutes
COMMUNE_DOWN = ("2026-11-10 08:00", "2026-11-10 09:30", 4)  # xa_an_phu's uplink: its checks UNREACHABLE, 90
POP_DOWN = ("2026-11-12 14:00", "2026-11-12 15:00", 4)  # pop_bac_son's: it and the communes behind it, 60
ACROSS = ("2026-10-31 23:30", "2026-11-01 00:30", 4)  # xa_tan_lap's own, across the month's start
MAINTENANCE = ("2026-11-14 22:00", "2026-11-15 00:00", 5)  # xa_son_thuy, 120


def labels(check: str, target: str, site: str) -> str:
    return f'job="egov",instance="127.30.1.50:9469",check="{check}",target="{target}",site="{site}",team="network"'


SERIES = [
    ("egov_check_status", labels("icmp", "anphu-rtr", "xa_an_phu"), during(COMMUNE_DOWN)),
    ("egov_check_status", labels("icmp", "pop-rtr", "pop_bac_son"), during(POP_DOWN)),
    ("egov_check_status", labels("icmp", "tanlap-rtr", "xa_tan_lap"), during(ACROSS, POP_DOWN)),
    ("egov_check_status", labels("icmp", "tanlap-motcua-01", "xa_tan_lap"), during(ACROSS, POP_DOWN)),
    ("egov_check_status", labels("icmp", "sonthuy-rtr", "xa_son_thuy"), during(POP_DOWN, MAINTENANCE)),
    # the portal: CRITICAL 45 then 10 minutes, WARNING 20 (up), its ping UNKNOWN 5 (not judged)
    ("egov_check_status", labels("http", "dvc-portal-01", "dc_chinh"),
     during(("2026-11-05 10:00", "2026-11-05 10:45", 2), ("2026-11-25 16:00", "2026-11-25 16:10", 2),
            ("2026-11-06 09:00", "2026-11-06 09:20", 1))),
    ("egov_check_status", labels("icmp", "dvc-portal-01", "dc_chinh"),
     during(("2026-11-07 11:00", "2026-11-07 11:05", 3))),
    ("egov_site_cut_off", 'job="egov",instance="127.30.1.50:9469",site="xa_tan_lap",cause="pop_bac_son"',
     cut_off_during(*POP_DOWN[:2])),
    ("egov_site_cut_off", 'job="egov",instance="127.30.1.50:9469",site="xa_son_thuy",cause="pop_bac_son"',
     cut_off_during(*POP_DOWN[:2])),
]
NOVEMBER = 30 * 1440
AFTER = local("2026-12-10 12:00")  # when the report is made: the month is over


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("history")
    backfill(directory / "data", SERIES, local("2026-10-31 22:00"), local("2026-12-01 01:00"))
    (directory / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    peer = start_prometheus(directory / "prometheus.yml", directory, "--storage.tsdb.retention.time=400d")
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def inventory_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    path.write_text(INVENTORY)
    return path


@pytest.fixture(scope="module")
def november(prometheus, inventory_path):
    return availability.build(load_inventory(inventory_path), availability.Prometheus(prometheus.url), "2026-11",
                              now=AFTER)


def figures(up, down=0, cut_off=0, maintenance=0, no_data=30, outages=0, longest=0, cut_off_by=None):
    counted = up + down
    return {"availability": round(100 * up / counted, 4), "up": up, "down": down, "cut_off": cut_off,
            "cut_off_by": cut_off_by or {}, "maintenance": maintenance, "no_data": no_data, "outages": outages,
            "longest_outage": longest}


BY_POP = {"pop_bac_son": 60}
# by hand, each minute of November's 43,200 in one class; the agent's gap (30) is no data everywhere
TARGETS = {
    "anphu-rtr": figures(NOVEMBER - 90 - 30, down=90, outages=1, longest=90),
    "pop-rtr": figures(NOVEMBER - 60 - 30, down=60, outages=1, longest=60),
    # 30 of the outage across the boundary are November's; the PoP's 60 are the PoP's
    "tanlap-rtr": figures(NOVEMBER - 30 - 60 - 30, down=30, cut_off=60, cut_off_by=BY_POP, outages=1, longest=30),
    "tanlap-motcua-01": figures(NOVEMBER - 30 - 60 - 30, down=30, cut_off=60, cut_off_by=BY_POP, outages=1,
                                longest=30),
    "sonthuy-rtr": figures(NOVEMBER - 60 - 120 - 30, cut_off=60, cut_off_by=BY_POP, maintenance=120),
    # its http down 45 + 10; the ping's UNKNOWN minutes are up by the http check
    "dvc-portal-01": figures(NOVEMBER - 55 - 30, down=55, outages=2, longest=45),
}


def test_every_target_to_the_minute(november):
    got = {t["target"]: {k: v for k, v in t.items() if k not in ("target", "site", "role", "checks")}
           for t in november.targets}
    assert got == TARGETS


def test_every_site_rolled_up_worst_first_the_pops_cut_offs_attributed_to_it(november):
    by_site = {s["site"]: s for s in november.sites}
    assert [s["site"] for s in november.sites] == ["xa_an_phu", "pop_bac_son", "dc_chinh", "xa_tan_lap",
                                                   "xa_son_thuy"]  # the lowest availability first
    assert {k: v for k, v in by_site["xa_tan_lap"].items() if k in TARGETS["tanlap-rtr"]} == TARGETS["tanlap-rtr"]
    assert by_site["pop_bac_son"]["cut_off_others"] == 120  # xa_tan_lap's 60 and xa_son_thuy's 60
    assert by_site["xa_tan_lap"]["cut_off_others"] == 0
    # the day strips: the 10th of xa_an_phu down 08:00 to 09:30; the 20th without data 03:00 to 03:30
    assert by_site["xa_an_phu"]["days"][9] == [(480, 570, "down")]
    assert by_site["xa_an_phu"]["days"][19] == [(180, 210, "no_data")]
    assert by_site["xa_son_thuy"]["days"][13] == [(1320, 1440, "maintenance")]
    assert by_site["xa_tan_lap"]["days"][0] == [(0, 30, "down")] and len(by_site["xa_tan_lap"]["days"]) == 30


def test_every_service_against_its_target(november):
    services = {(s["kind"], s["service"]): s for s in november.services}
    router = services[("role", "router")]
    assert (router["up"], router["down"], router["cut_off"], router["maintenance"], router["no_data"],
            router["outages"], router["longest_outage"]) == (172_260, 180, 120, 120, 120, 3, 90)
    assert router["target"] == 99.9
    # the budget: 0.1 % of the minutes counted (up and down), less the minutes down
    assert router["budget"] == pytest.approx(172.44, abs=0.05)
    assert router["budget_left"] == pytest.approx(-7.56, abs=0.05)
    portal = services[("role", "web_server")]
    assert (portal["up"], portal["down"]) == (43_115, 55) and portal["budget_left"] == pytest.approx(160.85, abs=0.05)
    icmp = services[("check", "icmp")]
    # every ping: the routers', the one-stop PC's, and the portal's with its 5 UNKNOWN minutes
    assert (icmp["count"], icmp["up"], icmp["down"], icmp["no_data"]) == (6, 258_505, 210, 185)
    assert services[("check", "http")]["target"] == 99.5 and services[("role", "one_stop_pc")]["target"] is None


def test_the_month_is_local_and_the_outage_across_its_start_counts_in_each(prometheus, inventory_path, november):
    assert november.as_dict()["start"] == "2026-11-01 00:00+07:00" and november.month.minutes == NOVEMBER
    october = availability.build(load_inventory(inventory_path), availability.Prometheus(prometheus.url), "2026-10",
                                 limit="tanlap-rtr", now=AFTER)
    [tanlap] = october.targets
    assert (tanlap["down"], tanlap["up"], tanlap["no_data"]) == (30, 90, 31 * 1440 - 120)
    assert any("without data" in english for _, english in october.warnings)


def test_warnings_past_the_retention_and_for_missing_data(prometheus, inventory_path, november):
    assert [english.split(":")[0] for _, english in november.warnings] == [
        "6 targets have minutes without data (at most 30)"]
    later = availability.build(load_inventory(inventory_path), availability.Prometheus(prometheus.url), "2026-11",
                               now=local("2028-01-10 00:00"))  # 400 days of retention reach back to December 2026
    assert any("further back than Prometheus keeps data (400 days)" in english for _, english in later.warnings)


def test_the_command_writes_json_and_csv_and_exits_critical_below_a_target(prometheus, inventory_path, tmp_path,
                                                                             capsys):
    out = tmp_path / "november.json"
    code = main(["report", "availability", "--month", "2026-11", "-i", str(inventory_path), "--prometheus",
                 prometheus.url, "--format", "json", "-o", str(out)])
    assert code == exitcodes.CRITICAL  # the routers: 180 minutes down against a budget of 172.4
    assert "below target: router" in capsys.readouterr().err
    report = json.loads(out.read_text())
    assert {t["target"]: t["down"] for t in report["targets"]} == {n: f["down"] for n, f in TARGETS.items()}
    csv_out = tmp_path / "november.csv"
    main(["report", "availability", "--month", "2026-11", "-i", str(inventory_path), "--prometheus",
          prometheus.url, "--format", "csv", "--limit", "xa_tan_lap", "-o", str(csv_out)])
    rows = list(csv.DictReader(io.StringIO(csv_out.read_text())))
    assert [(r["level"], r["name"], r["down"], r["cut_off_by"]) for r in rows if r["level"] != "service"] == [
        ("site", "xa_tan_lap", "30", "pop_bac_son:60"), ("target", "tanlap-rtr", "30", "pop_bac_son:60"),
        ("target", "tanlap-motcua-01", "30", "pop_bac_son:60")]


@pytest.mark.parametrize("argv, code, message", [
    (["--month", "2026-13"], exitcodes.BAD_INPUT, "expected a month like 2026-11"),
    (["--month", "2026-11", "--limit", "xa_tan_lapp"], exitcodes.BAD_INPUT, "no site or host named 'xa_tan_lapp'"),
    (["--month", "2026-11", "--prometheus", "http://127.0.0.1:9"], exitcodes.UNKNOWN, "http://127.0.0.1:9"),
])
def test_bad_input_and_an_unreachable_prometheus(inventory_path, tmp_path, capsys, argv, code, message):
    assert main(["report", "availability", "-i", str(inventory_path), "-o", str(tmp_path / "r.html"), *argv]) == code
    assert message in capsys.readouterr().err and not (tmp_path / "r.html").exists()


def test_the_html_page_in_headless_chromium_printable_on_a4(november, tmp_path):
    page = tmp_path / "november.html"
    page.write_text(render(november))
    html = page.read_text()
    assert "Báo cáo mức sẵn sàng tháng 11 năm 2026 / <span lang=en>Availability report, 2026-11</span>" in html
    assert "@page{size:A4" in html and not re.search(r"<(script|link|img)\b", html)  # one file, nothing fetched
    # the sites worst first, each with its month in strips; the routers' budget spent shows
    assert [html.index(f"<small>{name} ·") for name in ("xa_an_phu", "pop_bac_son", "dc_chinh", "xa_tan_lap",
                                                        "xa_son_thuy")] == sorted(
        html.index(f"<small>{name} ·") for name in ("xa_an_phu", "pop_bac_son", "dc_chinh", "xa_tan_lap",
                                                    "xa_son_thuy"))
    assert html.count("<svg ") == 5 and "<title>10: down 90 min</title>" in html
    assert "class='num low'>-7.6 / 172.4<" in html
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium package")
    shot = tmp_path / "a4.png"
    # in a network namespace of its own: the page can reach nothing, and needs nothing
    done = subprocess.run(["unshare", "--net", "timeout", "60", CHROMIUM, *CHROMIUM_FLAGS,
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=794,1123",
                           f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", done.stderr[-2000:]
    kept = Path(tempfile.gettempdir()) / "egov-availability-report-a4.png"
    shutil.copyfile(shot, kept)
    print(f"availability report screenshot (A4 at 96 dpi, 794x1123): {kept}")


def test_the_status_page_shows_each_sites_month_so_far(prometheus, inventory_path):
    import asyncio

    from agent.context import Context
    from agent.scheduler import Scheduler
    from agent.snapshot import Snapshot
    from agent.status_page import render as status_page
    from collectors.availability import AvailabilityCollector

    inventory = load_inventory(inventory_path)
    collector = AvailabilityCollector(AvailabilityCollector.Settings(prometheus_url=prometheus.url),
                                      Context(inventory, "dvc-portal-01"), now=lambda: local("2026-11-30 23:59"))
    snapshot = Snapshot()
    snapshot.configure(0, inventory, "dvc-portal-01")
    snapshot.set_collectors({"availability": 600.0})
    result = asyncio.run(Scheduler(snapshot).run_once(collector))
    assert result.success, result.detail
    # November so far, to 23:59 on the 30th: xa_an_phu up 43,079 and down 90 minutes
    assert f'egov_site_availability_month_ratio{{site="xa_an_phu"}} {43_079 / 43_169!r}' in result.text.decode()
    page = status_page(snapshot).decode()
    assert f"tháng này / <span lang=en>this month</span> {43_079 / 43_169:.3%}" in page
    assert "this month</span> 100.000%" in page  # xa_son_thuy: its maintenance and cut-off left out


def test_the_month_so_far_fails_as_connect_when_prometheus_is_not_there(inventory_path):
    from agent.collector import CollectorError
    from agent.context import Context
    from collectors.availability import AvailabilityCollector

    collector = AvailabilityCollector(AvailabilityCollector.Settings(prometheus_url="http://127.0.0.1:9"),
                                      Context(load_inventory(inventory_path), "dvc-portal-01"))
    with pytest.raises(CollectorError) as raised:
        list(collector.collect())
    assert raised.value.reason == "connect" and "http://127.0.0.1:9" in raised.value.detail


def test_a_checked_host_without_series_is_all_no_data_and_an_unchecked_one_is_left_out(prometheus, inventory_path,
                                                                                        tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(inventory_path.read_text().replace(
        "            dvc-portal-01: {ansible_host: 127.30.1.10, egov_role: web_server}\n",
        "            dvc-portal-01: {ansible_host: 127.30.1.10, egov_role: web_server}\n"
        "            dvc-portal-02: {ansible_host: 127.30.1.11, egov_role: web_server, egov_checks: {icmp: }}\n"
        "            dc-printer: {ansible_host: 127.30.1.99, egov_role: dc_host}\n"))
    report = availability.build(load_inventory(path), availability.Prometheus(prometheus.url), "2026-11",
                                limit="dc_chinh", now=AFTER)
    by_target = {t["target"]: t for t in report.targets}
    assert sorted(by_target) == ["dvc-portal-01", "dvc-portal-02"]
    assert (by_target["dvc-portal-02"]["no_data"], by_target["dvc-portal-02"]["availability"]) == (NOVEMBER, None)
