"""Many sites on one server (issue 18): inventory/example's web-sites-01 hosts the agencies' websites,
one http and one tls check each. Against the web peer's virtual hosts every site is probed with its
own Host and SNI, judged by its own certificate and thresholds, and shown by its name in the series,
on the status page and in `egov-agent check`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.checks import State
from agent.collector import discover, metric_index
from agent.context import Context
from agent.inventory import load_inventory, validate
from agent.snapshot import Result, Snapshot, render
from agent.status_page import render as render_page
from collectors.http import HttpProbe
from collectors.tls import TlsProbe
from tests.helpers import samples

pytest_plugins = ("tests.peer_web",)  # the real peers this module's tests use

EXAMPLE = Path(__file__).resolve().parent.parent / "inventory" / "example"
HOST = "web-sites-01"


@pytest.fixture(scope="module")
def inventory(web, tmp_path_factory) -> Path:
    """web-sites-01 with its http checks and the http defaults as the example writes them, at the web
    peer's address: each URL given the peer's port, each check the peer's CA."""
    example = load_inventory(EXAMPLE)
    address, port = web.at("https", 0)
    checks = example.hosts[HOST].vars["egov_checks"]
    sites = [{**site, "url": site["url"].replace(".example/", f".example:{port}/"), "ca_file": str(web.pki.ca_file)}
             for site in checks["http"]]
    tls = [{**site, "port": port, "ca_file": str(web.pki.ca_file)} for site in checks["tls"]]
    directory = tmp_path_factory.mktemp("many-sites")
    (directory / "group_vars").mkdir()
    defaults = {"http": dict(example.ansible.groups["all"].vars["egov_check_defaults"]["http"])}
    (directory / "group_vars" / "all.yml").write_text(json.dumps({"egov_check_defaults": defaults}))
    (directory / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "children": {
        "dc": {"vars": {"egov_site_type": "datacenter", "egov_site_name": "Trung tâm dữ liệu"}, "hosts": {
            HOST: {"ansible_host": address, "egov_role": "web_server", "egov_platform": "linux",
                   "egov_checks": {"http": sites, "tls": tls}}}}}}}, ensure_ascii=False))
    return directory


@pytest.fixture(scope="module")
def probed(inventory):
    probe = HttpProbe(HttpProbe.Settings(probe_timeout=5, timeout=20, interval=30),
                      Context(inventory=load_inventory(inventory)))
    families = asyncio.run(probe.collect())
    return samples(families), list(probe.checks(metric_index(families))), render(families)[0]


def test_the_example_web_server_lists_its_agency_sites_by_name():
    assert validate(EXAMPLE) == []
    [target] = [t for t in load_inventory(EXAMPLE).targets() if t.name == HOST]
    assert list(target.checks["http"]) == list(target.checks["tls"]) == ["so-tu-phap", "so-y-te", "so-giao-duc"]
    assert target.checks["http"]["so-tu-phap"].cert_days_warning == 14  # its own
    assert target.checks["http"]["so-y-te"].cert_days_warning == 21  # egov_check_defaults'


def test_each_site_is_probed_with_its_own_host_sni_and_certificate(probed, web):
    metrics, _, text = probed
    got = {dict(labels)["check"]: value for (name, labels), value in metrics.items()
           if name == "egov_http_cert_expiry_timestamp_seconds"}
    names = {"so-tu-phap": "sotuphap.tinhmau.example", "so-y-te": "soyte.tinhmau.example",
             "so-giao-duc": "sogiaoduc.tinhmau.example"}
    assert set(names.values()) == set(web.agency_sites)  # the peer serves the example's sites
    # each leaf is the one its SNI chose (verified against the URL's name); each page the one its Host chose
    # (the check's body is the agency's name)
    assert got == {check: web.pki.not_after[site] for check, site in names.items()}
    for check in names:
        assert metrics[("egov_http_up", tuple(sorted({"target": HOST, "site": "dc", "check": check}.items())))] == 1
    assert b'check="http"' not in text  # several checks: none takes the kind's name


def test_each_sites_tls_is_inspected_with_its_own_sni(inventory, web):
    probe = TlsProbe(TlsProbe.Settings(probe_timeout=10, timeout=20, interval=30),
                     Context(inventory=load_inventory(inventory)))
    got = samples(asyncio.run(probe.collect()))

    def value(name, check):
        return got[(name, tuple(sorted({"target": HOST, "site": "dc", "check": check}.items())))]

    for check, site in (("so-tu-phap", "sotuphap.tinhmau.example"), ("so-y-te", "soyte.tinhmau.example"),
                        ("so-giao-duc", "sogiaoduc.tinhmau.example")):
        assert value("egov_tls_name_covered", check) == 1  # the leaf its SNI chose covers its name
        assert value("egov_tls_cert_expiry_timestamp_seconds", check) == web.pki.not_after[site]


def test_each_site_is_judged_by_its_own_certificate_and_thresholds(probed):
    _, checks, _ = probed
    states = {(c.kind, c.name): (c.state, c.label) for c in checks}
    assert states == {
        ("http", "so-tu-phap"): (State.OK, "http so-tu-phap"),  # the chain's 20 days, its own warning at 14
        ("http", "so-y-te"): (State.WARNING, "http so-y-te"),  # 10 days: the defaults' warning at 21
        ("http", "so-giao-duc"): (State.CRITICAL, "http so-giao-duc")}  # 3 days: under the critical 7


def test_the_status_page_shows_each_site_by_its_name(probed, inventory):
    _, checks, _ = probed
    snapshot = Snapshot()
    snapshot.configure(0, load_inventory(inventory), None)
    snapshot.set_collectors({"http": 30.0})
    snapshot.record(Result("http", time.time() - 1, 0.2, checks=checks))
    page = render_page(snapshot).decode()
    problems = page.rsplit("Checks not OK", 1)[1].split("Targets in detail")[0]  # the headings, after the nav
    assert "http so-y-te" in problems and "http so-giao-duc" in problems and "so-tu-phap" not in problems
    details = page.rsplit("Targets in detail", 1)[1]
    assert all(f"http {name}" in details for name in ("so-tu-phap", "so-y-te", "so-giao-duc"))


def test_egov_agent_check_lists_each_site(inventory, tmp_path):
    config = tmp_path / "agent.yml"  # the http probe only: this host's checks, and tls's, cannot interfere
    config.write_text("collectors:\n" + "".join(f"  {name}: {{enabled: false}}\n" for name in discover()
                                                if name != "http"))
    run = subprocess.run([sys.executable, "-m", "agent", "check", "-c", str(config), "-i", str(inventory)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    first, *rows = run.stdout.splitlines()
    assert first == "CRITICAL: 3 checks, 1 OK, 1 WARNING, 1 CRITICAL"
    assert [row.split()[:4] for row in rows] == [["CRITICAL", "http", "so-giao-duc", HOST],
                                                 ["WARNING", "http", "so-y-te", HOST],
                                                 ["OK", "http", "so-tu-phap", HOST]]


def test_page_hash_takes_the_site_by_its_check_name(inventory, capsys):
    from agent.cli import main

    assert main(["page-hash", HOST, "--check", "so-y-te", "-i", str(inventory)]) == 0
    one = capsys.readouterr().out.strip()
    assert main(["page-hash", HOST, "--check", "so-tu-phap", "-i", str(inventory)]) == 0
    other = capsys.readouterr().out.strip()
    assert len(one) == len(other) == 64 and one != other  # each site's own page
    assert main(["page-hash", HOST, "-i", str(inventory)]) == 4  # which of three?
    assert "has the http checks so-tu-phap, so-y-te, so-giao-duc: name one with --check" in capsys.readouterr().err
