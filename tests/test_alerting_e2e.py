"""Alerts operators trust, end to end: a PoP's uplink goes down and the network team gets one
notification, EgovSiteUplinkDown for the PoP, with the three communes behind it named; nothing
else pages anyone; when the uplink is back, that alert resolves and nothing is left firing.

Every piece is real: egov-agent pinging the routers of a small province, Prometheus on the
sample config with the repository's rules, Alertmanager on the repository's config, and
nftables cutting the PoP off. Only the durations are shortened, by rewriting the real files
(every `for:` and Alertmanager's group timers divided by the same factor), so the test runs
in well under a minute and the rules and routes it exercises are the ones operators deploy.

A maintenance window on the PoP (egov_maintenance, reloaded into the running agent): the same
cut inside it pages nobody, its end sends nothing (the work done early: a reload moves the end
to 2 s later, and the agent sees the window close by the clock), and the cut after it pages once.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.parse
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from agent import targets
from agent.inventory.service_levels import DEFAULT_TIMEZONE
from tests.alerting import (COMMUNE_ROUTERS, POP_ROUTER, agent_config, shorten_rules, shorten_timers, shortened,
                            stays, write_inventory)
from tests.helpers import ALERTMANAGER, Webhook, serve, wait_until
from tests.peer_nft import dropping
from tests.peers import Peer, http_get, query, start_alertmanager, start_prometheus


def test_durations_are_shortened_by_the_same_factor():
    assert shortened("2m") == "2000ms" and shortened("30s") == "500ms" and shortened("1h30m") == "90000ms"
    with pytest.raises(AssertionError):
        shortened("2 minutes")


def alertmanager_config(path, webhook_port: int) -> None:
    """monitoring/alertmanager.yml with every webhook on this test's receiver (same path) and the
    group timers divided by SPEEDUP."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):  # the maintenance receiver has none
            webhook["url"] = urllib.parse.urlsplit(webhook["url"])._replace(
                netloc=f"127.0.0.1:{webhook_port}").geturl()
    path.write_text(yaml.safe_dump(shorten_timers(config), allow_unicode=True, sort_keys=False))


class _Notifications(Webhook):
    received: list[tuple[str, dict]] = []  # this test's own, not the Alertmanager unit test's


@pytest.fixture
def webhook():
    _Notifications.received = []
    server = serve(_Notifications)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(tmp_path, webhook):
    alertmanager_config(tmp_path / "alertmanager.yml", webhook.server_port)
    peer = start_alertmanager(tmp_path / "alertmanager.yml", tmp_path)
    try:
        yield peer
    finally:
        peer.stop()


def prometheus_for(prometheus_dir, tmp_path, alertmanager_url: str) -> Peer:
    """The sample config, every second, sending to the test's Alertmanager, with the shortened rules."""
    shorten_rules(prometheus_dir / "rules")
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="900ms")
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        urllib.parse.urlsplit(alertmanager_url).netloc]
    (prometheus_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    return start_prometheus(prometheus_dir / "prometheus.yml", tmp_path)


def notifications() -> list[tuple[str, str, list]]:
    """(webhook path, status, [(alertname, site, status)]) per notification received, in order."""
    return [(path, message["status"], [(a["labels"]["alertname"], a["labels"].get("site"), a["status"])
                                       for a in message["alerts"]])
            for path, message in _Notifications.received]


def start_province(start_agent, alertmanager, prometheus_dir, tmp_path) -> tuple:
    """The agent on the small province, and Prometheus scraping it and sending to Alertmanager."""
    inventory, config = tmp_path / "inventory", tmp_path / "agent.yml"
    write_inventory(inventory)
    agent_config(config)
    agent = start_agent("-c", str(config), "-i", str(inventory))
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "egov-agent-01.yml").write_text(f"egov_agent_port: {agent.url.rsplit(':', 1)[1]}\n")
    targets.run(str(inventory), str(prometheus_dir / "targets" / "egov.json"))
    return inventory, agent, prometheus_for(prometheus_dir, tmp_path, alertmanager.url)


def values(prometheus: Peer, expression: str) -> dict[str, float]:
    """The value of each series of `expression`, by its target (or site)."""
    return {s["metric"].get("target") or s["metric"].get("site"): float(s["value"][1])
            for s in query(prometheus.url, expression)}


def test_a_pop_outage_pages_the_network_team_once_and_resolves(start_agent, alertmanager, prometheus_dir,
                                                                 tmp_path):
    started = time.monotonic()
    _, _, prometheus = start_province(start_agent, alertmanager, prometheus_dir, tmp_path)
    try:
        series = functools.partial(values, prometheus)
        def am_alerts() -> list[tuple[str, str, str]]:
            _, _, body = http_get(alertmanager.url + "/api/v2/alerts")
            return [(a["labels"]["alertname"], a["labels"].get("site"), a["status"]["state"])
                    for a in json.loads(body)]

        sites = ["pop_mot", *COMMUNE_ROUTERS]
        # healthy: every router answers, the rules have data and evaluate, no one is paged
        wait_until(lambda: series("egov_site_uplink_up"), dict.fromkeys(sites, 1.0), "every uplink up in Prometheus")
        wait_until(lambda: series('ALERTS{alertstate="firing"} or ALERTS{alertstate="pending"}'), {}, "no alert")
        stays(notifications, [], "nobody paged while healthy", seconds=3)
        healthy_at = time.monotonic()

        # the PoP's uplink is cut: its router and the communes behind it vanish from the agent
        with dropping(dict.fromkeys([POP_ROUTER, *COMMUNE_ROUTERS.values()], 1)):
            cut = time.monotonic()
            wait_until(lambda: series("egov_check_status"),
                     dict.fromkeys(["pop-mot-rtr", *(f"{site}-rtr" for site in COMMUNE_ROUTERS)], 4.0),
                     "every router UNREACHABLE, none CRITICAL")
            assert series("egov_outage_sites_cut_off") == {"pop_mot": 3.0}
            page = [("network", "firing", [("EgovSiteUplinkDown", "pop_mot", "firing")])]
            wait_until(notifications, page, "one page to the network team", timeout=60)
            paged = time.monotonic()
            [(_, message)] = _Notifications.received
            [alert] = message["alerts"]
            assert message["receiver"] == "network" and alert["labels"]["team"] == "network"
            assert alert["labels"]["severity"] == "critical"
            assert "3 site(s) behind it are cut off (xa_ba, xa_hai, xa_mot)" in alert["annotations"]["description"]
            assert "3 điểm phía sau" in alert["annotations"]["description_vi"]
            stays(notifications, page, "nothing else to anyone", seconds=5)

        # the uplink is back: the alert resolves, with one notification, and nothing is left
        restored = time.monotonic()
        resolved = page + [("network", "resolved", [("EgovSiteUplinkDown", "pop_mot", "resolved")])]
        wait_until(notifications, resolved, "the outage resolved to the network team", timeout=60)
        back = time.monotonic()
        wait_until(am_alerts, [], "nothing left in Alertmanager")
        assert series('ALERTS{alertstate="firing"} or ALERTS{alertstate="pending"}') == {}
        stays(notifications, resolved, "nothing after the resolution", seconds=2)
        print(f"healthy after {healthy_at - started:.1f}s; paged {paged - cut:.1f}s after the cut; "
              f"resolved {back - restored:.1f}s after the restore; {time.monotonic() - started:.1f}s in all")
    finally:
        prometheus.stop()


def test_a_cut_inside_a_maintenance_window_pages_nobody_and_after_it_pages_once(start_agent, alertmanager,
                                                                                  prometheus_dir, tmp_path):
    inventory, agent, prometheus = start_province(start_agent, alertmanager, prometheus_dir, tmp_path)
    routers = dict.fromkeys([POP_ROUTER, *COMMUNE_ROUTERS.values()], 1)
    try:
        series = functools.partial(values, prometheus)
        wait_until(lambda: series("egov_site_uplink_up"), dict.fromkeys(["pop_mot", *COMMUNE_ROUTERS], 1.0),
                 "every uplink up in Prometheus")
        zone = ZoneInfo(DEFAULT_TIMEZONE)  # the windows are in the province's time (the default zone)

        def window(ends_in: timedelta) -> None:
            """A window on the PoP from a minute ago, reloaded into the running agent."""
            now = datetime.now(zone).replace(tzinfo=None, microsecond=0)
            (inventory / "group_vars").mkdir(exist_ok=True)
            (inventory / "group_vars" / "pop_mot.yml").write_text(
                f"egov_maintenance:\n  - {{reason: Thay bộ định tuyến, start: '{now - timedelta(minutes=1)}', "
                f"end: '{now + ends_in}'}}\n", encoding="utf-8")
            status, _, body = http_get(agent.url + "/-/reload", method="POST")
            assert status == 200, body

        window(timedelta(minutes=10))
        wait_until(lambda: series("egov_site_maintenance"), {"pop_mot": 1.0}, "the PoP in maintenance in Prometheus")

        with dropping(routers):  # inside the window: the PoP MAINTENANCE, the communes behind it UNREACHABLE
            wait_until(lambda: series("egov_check_status"),
                     {"pop-mot-rtr": 5.0, **{f"{site}-rtr": 4.0 for site in COMMUNE_ROUTERS}},
                     "the PoP's router in MAINTENANCE, the communes UNREACHABLE")
            assert series("egov_outage_sites_cut_off") == {"pop_mot": 3.0}
            stays(notifications, [], "nobody paged inside the window", seconds=6)  # past every `for` and group_wait
        # the work done early: the window now ends in 2 s (no waiting for the first end), by the clock
        window(timedelta(seconds=2))
        wait_until(lambda: series("egov_site_maintenance"), {}, "the window over", timeout=60)
        stays(notifications, [], "nothing sent when the window ends", seconds=3)

        with dropping(routers):  # the same cut after the window
            page = [("network", "firing", [("EgovSiteUplinkDown", "pop_mot", "firing")])]
            wait_until(notifications, page, "one page to the network team", timeout=60)
            stays(notifications, page, "nothing else to anyone", seconds=4)
    finally:
        prometheus.stop()
