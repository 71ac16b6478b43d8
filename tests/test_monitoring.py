"""monitoring/: the alert rules and their unit tests, Alertmanager's routes and inhibitions, the
sample Prometheus config, the Grafana dashboard; checked with promtool and amtool, then run
in a real Prometheus and a real Alertmanager."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import unicodedata
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest
import yaml

from agent import targets
from tests.alerting import write_inventory
from tests.helpers import ALERTMANAGER, PROMETHEUS_DIR, ROOT, Webhook, as_regex, documented, serve, wait_until
from tests.peers import http_get, query, require, start_alertmanager, start_prometheus

MONITORING = ROOT / "monitoring"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
DASHBOARD = MONITORING / "grafana" / "egov-province.json"
EXAMPLE = ROOT / "inventory" / "example"
TEAMS = ("network", "datacenter", "security")
VIETNAMESE_TONE = re.compile("[\u0300\u0301\u0303\u0309\u0323]")  # huyền, sắc, ngã, hỏi, nặng (decomposed)

# The metric contract of the check states and outages (agent/states.py), and Prometheus's own.
CONTRACT = {"egov_check_status", "egov_check_status_since_timestamp_seconds", "egov_check_threshold",
            "egov_site_uplink_up", "egov_site_cut_off", "egov_outage_sites_cut_off", "up"}


def tool(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([require(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)


def alert_rules() -> list[dict]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


# --- the rules and their unit tests -------------------------------------------------

def test_promtool_accepts_the_rules():
    result = tool("promtool", "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path):
    result = tool("promtool", "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not():
    fired, quiet = set(), set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts no test sees firing"
    assert names - quiet == set(), "alerts no test sees pending, resolved or not firing"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: f"{r['alert']}-{r['labels'].get('severity')}")
def test_every_alert_says_who_how_bad_and_what_in_two_languages(rule):
    labels, annotations = rule["labels"], rule["annotations"]
    assert labels["team"] in TEAMS or labels["team"] == "{{ $labels.team }}"  # the agent's, from the host's role
    assert labels["severity"] in ("warning", "critical")
    assert set(annotations) == {"summary_vi", "description_vi", "summary", "description"}
    for key in ("summary_vi", "description_vi"):  # written with tone marks, not in ASCII
        assert VIETNAMESE_TONE.search(unicodedata.normalize("NFD", annotations[key])), key


# --- every query uses metrics the agent serves ----------------------------------------

FUNCTION_OR_KEYWORD = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                       "bool", "offset", "inf", "nan"}


_NAME = r"(?<![\w:.])[a-zA-Z_:][\w:]*"
_STRING = r'"(?:[^"\\]|\\.)*"'
# a string (skipped); label matchers (their strings may hold `}`) after a metric name or alone; a name
_SELECTOR = re.compile(rf'{_STRING}|(?:({_NAME})\s*)?(\{{(?:[^{{}}"]|{_STRING})*\}})|({_NAME})')


def selectors(expression: str) -> list[str]:
    """The vector selectors of a PromQL expression, `name{matchers}`: no function, keyword or label list."""
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expression)
    found = []
    for match in _SELECTOR.finditer(text):
        named, matchers, bare = match.groups()
        called = bare and text[match.end():].lstrip().startswith("(")
        if matchers or (bare and bare not in FUNCTION_OR_KEYWORD and not called):
            found.append((named or bare or "") + (matchers or ""))
    return found


def metric_names(expression: str) -> set[str]:
    """The metric names in a PromQL expression (Grafana's $variables allowed)."""
    text = re.sub(r"\$\{?\w+\}?", "", expression)  # $site, ${datasource}, $__rate_interval
    return {name for selector in selectors(text) if (name := selector.split("{")[0])}


def name_patterns(expression: str) -> list[str]:
    """The regular expressions of {__name__=~"..."} selectors."""
    return re.findall(r'__name__\s*=~\s*"((?:[^"\\]|\\.)*)"', expression)


def test_the_metric_name_extraction():
    assert metric_names('1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle", site=~"$site"}'
                        '[$__rate_interval])) or on (instance) vector(0)') == {"node_cpu_seconds_total"}
    assert metric_names("egov_check_status * on (site) group_left (cause) site:egov_site_cut_off:cause "
                        "or ignoring (cause) egov_check_status == 2") == {"egov_check_status",
                                                                          "site:egov_site_cut_off:cause"}
    assert metric_names("predict_linear(node_filesystem_avail_bytes[6h], 24 * 3600) < 0 and x_y > 1e9") == {
        "node_filesystem_avail_bytes", "x_y"}
    assert name_patterns('label_replace({__name__=~"egov_.+_seconds"}, "check", "$1", "__name__", "(.+)")') == [
        "egov_.+_seconds"]
    assert selectors('count(egov_check_status{site=~".*", check="}"} == 2) or vector(0)') == [
        'egov_check_status{site=~".*", check="}"}']
    assert selectors('node_load1 / count without (cpu) (node_cpu_seconds_total {mode="idle"})') == [
        "node_load1", 'node_cpu_seconds_total{mode="idle"}']
    assert selectors('label_replace({__name__=~"egov_.+"}, "dst", "$1", "src", "a b")') == ['{__name__=~"egov_.+"}']


def served_names() -> list[re.Pattern]:
    return [as_regex(name) for name in documented()] + [re.compile(f"^{name}$") for name in CONTRACT]


def recorded_names() -> set[str]:
    return {rule["record"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def dashboard_panels() -> list[tuple[str, str]]:
    """(title, query) of every panel's targets and of the template variables (label_values(metric, label))."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append((f"${variable['name']}",
                            re.fullmatch(r"label_values\((\w+), *\w+\)", variable["query"]["query"])[1]))
    return queries


def dashboard_queries() -> list[str]:
    return [expression for _, expression in dashboard_panels()]


def rule_queries() -> list[str]:
    return [rule["expr"] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_queries_use_only_metrics_the_agent_serves(source):
    queries = rule_queries() if source == "rules" else dashboard_queries()
    served, recorded = served_names(), recorded_names()
    used = set().union(*map(metric_names, queries))
    assert len(used) >= 10
    unknown = sorted(name for name in used if name not in recorded and not any(p.match(name) for p in served))
    assert unknown == [], f"not in README's metrics reference nor the contract: {unknown}"
    documented_names = [name for name in documented() if "<" not in name]
    for pattern in (p for query in queries for p in name_patterns(query)):
        assert any(re.fullmatch(pattern, name) for name in documented_names), f"{pattern} matches no metric"


# --- Alertmanager -------------------------------------------------------------------

def test_amtool_accepts_the_alertmanager_config():
    result = tool("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("team", TEAMS)
def test_each_team_is_routed_to_its_own_receiver(team):
    result = tool("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                  f"--verify.receivers={team}", f"team={team}", "alertname=EgovCheckCritical", "site=xa_an_phu")
    assert result.returncode == 0 and result.stdout.strip() == team, result.stdout + result.stderr


# --- the sample Prometheus config -----------------------------------------------------

def test_promtool_accepts_the_sample_config_with_its_targets_file(prometheus_dir):
    targets.run(str(EXAMPLE), str(prometheus_dir / "targets" / "egov.json"))
    result = tool("promtool", "check", "config", str(prometheus_dir / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr  # the file_sd file is found and valid
    assert "SUCCESS: 2 rule files found" in result.stdout


# What an agent at dc_chinh_rack_a2 serves: metrics about probed targets carry their own site.
AGENT_METRICS = """\
# TYPE egov_check_status gauge
egov_check_status{check="icmp",target="tanlap-rtr",site="xa_tan_lap",team="network"} 4
egov_check_status{check="memory",target="host",site="",team="datacenter"} 0
# TYPE egov_site_uplink_up gauge
egov_site_uplink_up{site="pop_bac_son",site_type="pop"} 0
# TYPE egov_site_cut_off gauge
egov_site_cut_off{site="xa_tan_lap",cause="pop_bac_son"} 1
# TYPE egov_outage_sites_cut_off gauge
egov_outage_sites_cut_off{site="pop_bac_son"} 1
# TYPE node_load1 gauge
node_load1 0.25
"""


class _Agent(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = AGENT_METRICS.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_prometheus_scrapes_the_agents_with_the_sample_config(prometheus_dir, tmp_path):
    """A real Prometheus on the sample config: the agent comes from the file_sd file, each metric
    keeps the site it is about, the rules load and evaluate."""
    agent = serve(_Agent, "127.10.3.50")  # egov-agent-01's address in the example inventory
    inventory = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, inventory)
    (inventory / "host_vars" / "egov-agent-01.yml").write_text(f"egov_agent_port: {agent.server_port}\n")
    config = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="900ms")
    del config["alerting"]  # nothing leaves this test
    (prometheus_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    targets.run(str(inventory), str(prometheus_dir / "targets" / "egov.json"))
    peer = start_prometheus(prometheus_dir / "prometheus.yml", tmp_path)
    url = peer.url
    try:

        def labels(expression: str) -> list[dict]:
            return sorted(({k: v for k, v in s["metric"].items() if k not in ("__name__", "job", "instance")}
                           for s in query(url, expression)), key=json.dumps)

        def rule_health() -> dict[str, set[str]]:
            _, _, body = http_get(url + "/api/v1/rules")
            health: dict[str, set[str]] = {}
            for group in json.loads(body)["data"]["groups"]:
                for rule in group["rules"]:
                    health.setdefault(rule["health"], set()).add(f"{group['name']}/{rule['name']}: "
                                                                 f"{rule.get('lastError', '')}")
            return {state: names for state, names in health.items() if state != "ok"}

        agent_labels = {"agent": "egov-agent-01", "site": "dc_chinh_rack_a2", "site_type": "rack"}
        wait_until(lambda: labels('up{job="egov"} == 1'), [agent_labels], "the agent scraped from the file_sd file")
        assert labels("node_load1") == [agent_labels]  # about the agent's host: the agent's site
        assert labels("egov_check_status") == [
            {"agent": "egov-agent-01", "check": "icmp", "target": "tanlap-rtr", "site": "xa_tan_lap",
             "team": "network"},  # about a commune: its site, and no site_type that is not its own
            {**agent_labels, "check": "memory", "target": "host", "team": "datacenter"}]  # the agent's own check
        assert labels("egov_site_uplink_up") == [{"agent": "egov-agent-01", "site": "pop_bac_son", "site_type": "pop"}]

        _, _, body = http_get(url + "/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        assert {g["name"] for g in groups} == {"egov-maintenance", "egov-outage", "egov-checks", "egov-certificates",
                                               "egov-websites", "egov-agent", "egov-audit", "egov-syslog", "node"}
        wait_until(rule_health, {}, "every rule evaluated without error")  # no many-to-many join, no bad query
        wait_until(lambda: labels('ALERTS{alertname="EgovSiteUplinkDown"}'),
                 [{"alertname": "EgovSiteUplinkDown", "alertstate": "pending", "severity": "critical",
                   "site": "pop_bac_son", "team": "network"}], "the outage alert pending")
        assert labels("site:egov_site_cut_off:cause") == [{"cause": "pop_bac_son", "site": "xa_tan_lap"}]
    finally:
        peer.stop()
        agent.shutdown()
        agent.server_close()


# --- the Grafana dashboard -------------------------------------------------------------

def test_the_dashboard_is_valid_grafana_json():
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["site"]["includeAll"] and variables["site"]["multi"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
    queries = " ".join(dashboard_queries())
    for metric in ("egov_check_status", "egov_icmp_loss_ratio", "egov_icmp_rtt_seconds",
                   "egov_snmp_interface_utilization_ratio", "egov_mail_roundtrip_delivery_seconds",
                   "egov_postfix_queue_messages", "egov_sip_up", "egov_sip_response_code", "node_"):
        assert metric in queries
    assert 'uplink="true"' in queries
    # every per-check series is told apart, and named, by its check: a web server's agency sites each by theirs
    legends = {t["expr"]: t.get("legendFormat", "") for p in panels for t in p.get("targets", [])}
    per_check = [e for e in legends if re.search(r"egov_http_\w+\{|days_left|by \(site, target, kind, check\)", e)]
    assert len(per_check) == 3 and all("{{check}}" in legends[e] for e in per_check), legends


# What panels show that an agent on loopback cannot have: each says why it is empty in the
# test below. A metric not listed here must have data there, so a typo in a new panel fails.
NEEDS_A_DEVICE = {
    "egov_outage_sites_cut_off": "a PoP cut off (tests/test_alerting_e2e.py cuts one with nftables)",
    "egov_site_cut_off": "a site cut off behind a PoP (as above)",
    "egov_snmp_interface_utilization_ratio": "a router's uplink polled over SNMP",
    "egov_mail_roundtrip_delivery_seconds": "a mail system to send a message through and read it back from",
    "egov_postfix_queue_messages": "postfix on the agent's host",
    "egov_sip_up": "a SIP video-conference endpoint",
    "egov_sip_response_code": "a SIP video-conference endpoint",
    "egov_audit_findings": "devices' configurations in the audit store (egov-agent audit backup)",
    "egov_audit_drift_lines": "devices' configurations in the audit store",
    "egov_audit_backup_age_seconds": "devices' configurations in the audit store",
    "egov_http_duration_seconds": "an agency website (tests/test_many_sites.py probes the example's, site by site)",
    "check:egov_cert_chain_expiry:days_left": "a server's certificate, read by an http, tcp, tls or mail check",
}


def as_grafana_sends(expression: str) -> str:
    """A panel's query with the dashboard's defaults filled in: every site (All is .*), a 1m rate window."""
    return expression.replace("$site", ".*").replace("$__rate_interval", "1m")


def test_every_dashboard_query_returns_data_from_a_real_agent(start_agent, prometheus, tmp_path):
    """A real agent probing a small province on loopback (its routers pinged, its own host), scraped
    by a real Prometheus from the file `egov-agent targets` writes: every query parses and runs,
    and every series it selects, and the query itself, has data, but for NEEDS_A_DEVICE."""
    inventory, config = tmp_path / "inventory", tmp_path / "agent.yml"
    write_inventory(inventory)
    config.write_text("inventory_host: egov-agent-01\n")  # every other setting its default
    agent = start_agent("-c", str(config), "-i", str(inventory), wait="/-/ready")  # every collector ran once
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / "egov-agent-01.yml").write_text(f"egov_agent_port: {agent.url.rsplit(':', 1)[1]}\n")
    targets.run(str(inventory), str(tmp_path / "egov.json"))
    panels = [(title, as_grafana_sends(expression)) for title, expression in dashboard_panels()]
    assert set(NEEDS_A_DEVICE) <= set().union(*(metric_names(e) for _, e in panels)), "listed, but in no panel"

    def empty() -> list[tuple[str, str]]:
        """(panel, selector or query) without data; a query that does not parse raises, with Prometheus's error."""
        missing = []
        for title, expression in panels:
            parts = [selector for selector in selectors(expression) if selector.split("{")[0] not in NEEDS_A_DEVICE]
            if not metric_names(expression) & set(NEEDS_A_DEVICE):
                parts.append(expression)
            missing += [(title, part) for part in dict.fromkeys(parts) if not prometheus.query(part)]
        return missing

    prometheus.scrape(json.loads((tmp_path / "egov.json").read_text()))
    try:
        wait_until(empty, [], "every panel's data, from the agent's scrapes")
        for title, expression in panels:  # and those waiting for a device: their queries run
            prometheus.query(expression)
    finally:
        prometheus.scrape([])


# --- a real Alertmanager on the config ---------------------------------------------------

def _alert(name: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": name}}


def test_alertmanager_pages_each_team_once_and_inhibits_the_rest(tmp_path):
    webhook = serve(Webhook)
    config = yaml.safe_load(ALERTMANAGER.read_text())
    for receiver in config["receivers"]:  # the placeholders, pointed at this test's webhook
        if "webhook_configs" in receiver:
            receiver["webhook_configs"][0]["url"] = f"http://127.0.0.1:{webhook.server_port}/{receiver['name']}"
    config["route"]["group_wait"] = "1s"  # the wait that lets an inhibiting alert arrive stays in the test
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    peer = start_alertmanager(tmp_path / "alertmanager.yml", tmp_path)
    url = peer.url
    datacenter = {"team": "datacenter"}
    portal = {"instance": "127.10.3.50:9469", "target": "dvc-portal-01", "site": "dc_chinh_rack_a1"}
    sites = {**portal, "target": "web-sites-01"}
    disk = {"instance": "127.10.3.50:9469", "site": "dc_chinh_rack_a2", "check": "filesystem", "target": "/",
            "mountpoint": "/", "device": "/dev/sda1", **datacenter}
    alerts = [
        _alert("EgovSiteUplinkDown", site="pop_bac_son", team="network", severity="critical"),
        # the PoP's own router: same site as the outage
        _alert("EgovCheckCritical", check="icmp", target="pop-bacson-rtr", site="pop_bac_son", team="network",
               severity="critical", instance="127.10.5.50:9469"),
        # a commune behind it, seen CRITICAL by another agent: the rules gave it the cause
        _alert("EgovCheckCritical", check="http", target="tanlap-motcua-01", site="xa_tan_lap", team="network",
               severity="critical", cause="pop_bac_son", instance="127.10.5.50:9469"),
        # the portal's certificate: security gets it, not the check warning it causes
        _alert("EgovCertificateExpiring", check="http", kind="http", team="security", severity="warning", **portal),
        _alert("EgovCheckWarning", check="http", kind="http", severity="warning", **portal, **datacenter),
        # one agency site's certificate on a web server of several: its own check's warning only is held
        _alert("EgovCertificateExpiring", check="so-y-te", kind="http", team="security", severity="warning", **sites),
        _alert("EgovCheckWarning", check="so-y-te", kind="http", severity="warning", **sites, **datacenter),
        _alert("EgovCheckWarning", check="so-tu-phap", kind="http", severity="warning", **sites, **datacenter),
        # the same portal's TLS accepts TLS 1.0: security again, not the tls check's critical
        _alert("EgovTlsWeak", check="tls", kind="tls", team="security", severity="critical", **portal),
        _alert("EgovCheckCritical", check="tls", kind="tls", severity="critical", **portal, **datacenter),
        # a disk: critical hides warning; the agent's own check speaks for node-mixin's
        _alert("NodeFilesystemAlmostOutOfSpace", severity="critical", **disk),
        _alert("NodeFilesystemAlmostOutOfSpace", severity="warning", **disk),
        _alert("EgovCheckCritical", severity="critical", **{k: v for k, v in disk.items() if k != "device"}),
        _alert("EgovCheckCritical", check="smtp", target="mail-01", site="dc_chinh_rack_a2", severity="critical",
               instance="127.10.3.50:9469", **datacenter),
    ]
    try:
        request = urllib.request.Request(url + "/api/v2/alerts", json.dumps(alerts).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            assert response.status == 200

        def states():
            _, _, body = http_get(url + "/api/v2/alerts")
            return {(a["labels"]["alertname"], a["labels"].get("target") or a["labels"]["site"],
                     a["labels"].get("check", ""), a["labels"]["severity"]): a["status"]["state"]
                    for a in json.loads(body)}

        expected = {
            ("EgovSiteUplinkDown", "pop_bac_son", "", "critical"): "active",
            ("EgovCheckCritical", "pop-bacson-rtr", "icmp", "critical"): "suppressed",
            ("EgovCheckCritical", "tanlap-motcua-01", "http", "critical"): "suppressed",
            ("EgovCertificateExpiring", "dvc-portal-01", "http", "warning"): "active",
            ("EgovCheckWarning", "dvc-portal-01", "http", "warning"): "suppressed",
            ("EgovCertificateExpiring", "web-sites-01", "so-y-te", "warning"): "active",
            ("EgovCheckWarning", "web-sites-01", "so-y-te", "warning"): "suppressed",
            ("EgovCheckWarning", "web-sites-01", "so-tu-phap", "warning"): "active",
            ("EgovTlsWeak", "dvc-portal-01", "tls", "critical"): "active",
            ("EgovCheckCritical", "dvc-portal-01", "tls", "critical"): "suppressed",
            ("NodeFilesystemAlmostOutOfSpace", "/", "filesystem", "critical"): "suppressed",
            ("NodeFilesystemAlmostOutOfSpace", "/", "filesystem", "warning"): "suppressed",
            ("EgovCheckCritical", "/", "filesystem", "critical"): "active",
            ("EgovCheckCritical", "mail-01", "smtp", "critical"): "active",
        }
        wait_until(states, expected, "each alert active or inhibited")

        def delivered():
            return sorted((path, alert["labels"]["alertname"], alert["labels"].get("target", alert["labels"]["site"]))
                          for path, message in Webhook.received for alert in message["alerts"])

        pages = [("datacenter", "EgovCheckCritical", "/"), ("datacenter", "EgovCheckCritical", "mail-01"),
                 ("datacenter", "EgovCheckWarning", "web-sites-01"),
                 ("network", "EgovSiteUplinkDown", "pop_bac_son"),
                 ("security", "EgovCertificateExpiring", "dvc-portal-01"),
                 ("security", "EgovCertificateExpiring", "web-sites-01"),
                 ("security", "EgovTlsWeak", "dvc-portal-01")]
        wait_until(delivered, pages, "one page per team, the inhibited alerts held back")
    finally:
        peer.stop()
        webhook.shutdown()
        webhook.server_close()
