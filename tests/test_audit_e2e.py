"""The audit as the security team runs it, through the CLI, on simulated routers over SSH:
back up, report (a critical finding stops the pipeline), fix with the provisioning
playbook, back up again (clean, history kept), and the same results as metrics. Last, the
office provisioned as network staff do it: baseline, monitoring, first audit on record."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml
from netmiko import ConnectHandler

from agent import exitcodes
from agent.cli import main
from agent.context import Context
from agent.inventory import load_inventory
from agent.metrics import Family
from collectors.audit import AuditCollector, AuditSettings
from tests.peer_sim import PASSWORD, start_fleet
from tests.sim import Device, public_key_line

PASSWORD_ENV = "EGOV_TEST_AUDIT_PASSWORD"
ENV = {PASSWORD_ENV: PASSWORD, "EGOV_NET_ENABLE_SECRET": "audit-enable-secret"}
# inventory name -> (platform, address, uplink)
DEVICES = {"kiem-rtr": ("cisco_ios", "127.79.0.1", "GigabitEthernet0/0"),
           "kiem-sw": ("huawei", "127.79.0.2", "GigabitEthernet0/0/1")}
UNSAFE = "snmp-server community public RO"  # what someone typed on kiem-rtr: a critical finding


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    directory = tmp_path_factory.mktemp("audit_e2e")
    fleet = start_fleet([Device(name, address, platform, password=PASSWORD)
                         for name, (platform, address, _) in DEVICES.items()], directory)
    known_hosts = directory / "known_hosts"
    known_hosts.write_text("".join(f"[{address}]:{fleet.port} {public_key_line(name)}\n"
                                   for name, (_, address, _) in DEVICES.items()))
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"host_baseline_ntp_servers": ["127.10.1.123"], "host_baseline_log_server": "127.10.1.51",
                 "egov_check_defaults": {"ssh": {"username": "egov-netops", "password_env": PASSWORD_ENV,
                                                 "port": fleet.port, "known_hosts": str(known_hosts)}}},
        "children": {"xa_kiem": {"vars": {"egov_site_type": "commune"}, "hosts": {
            name: {"ansible_host": address, "egov_role": "router" if name.endswith("rtr") else "switch",
                   "egov_platform": platform, "egov_checks": {"ssh": {"uplinks": [uplink]}}}
            for name, (platform, address, uplink) in DEVICES.items()}}}}}))
    os.environ.update(ENV)
    with ConnectHandler(device_type="cisco_ios", host=DEVICES["kiem-rtr"][1], port=fleet.port,
                        username="egov-netops", password=PASSWORD) as session:
        session.send_config_set([UNSAFE])
    store = str(directory / "store")
    common = ("-i", str(inventory), "--store", store)
    runs = {"backup": cli("audit", "backup", *common, "--known-hosts", str(known_hosts))}
    runs["report"] = cli("audit", "report", *common, "--format", "json")
    runs["metrics_before"] = collect(store, inventory)
    runs["html"] = cli("audit", "report", *common, "--format", "html", "-o", str(directory / "report.html"))
    runs["fix"] = cli("audit", "fix", "--limit", "kiem-rtr", *common)
    runs["apply"] = cli("audit", "fix", "--limit", "kiem-rtr", *common, "--apply")
    runs["backup_after"] = cli("audit", "backup", *common, "--known-hosts", str(known_hosts))
    runs["report_after"] = cli("audit", "report", *common, "--format", "json")
    runs["diff"] = cli("audit", "diff", "kiem-rtr", "--store", store)
    runs["metrics_after"] = collect(store, inventory)
    runs["onboard"] = cli("provision", "--limit", "xa_kiem", "-i", str(inventory), "--store", store)
    runs["directory"] = directory
    try:
        yield runs
    finally:
        fleet.stop()
        for name in ENV:
            os.environ.pop(name, None)


def collect(store: str, inventory: Path) -> dict[str, Family]:
    collector = AuditCollector(AuditSettings(store=store), Context(inventory=load_inventory(inventory)))
    return {family.name: family for family in collector.collect()}


def _device(report: dict, name: str) -> dict:
    return next(device for device in report["devices"] if device["device"] == name)


def _failed(device: dict) -> dict[str, dict]:
    return {finding["rule"]: finding for finding in device["findings"] if not finding["passed"]}


def test_backup_fetches_both_platforms_with_their_golden_configurations(province):
    code, output = province["backup"]
    assert code == 0, output
    store = province["directory"] / "store"
    assert {p.name for p in (store / "network").iterdir()} == {"kiem-rtr.cfg", "kiem-sw.cfg"}
    assert {p.name for p in (store / "golden").iterdir()} == {"kiem-rtr.cfg", "kiem-sw.cfg"}
    assert PASSWORD not in (store / "network/kiem-rtr.cfg").read_text()


def test_a_critical_finding_fails_the_report_and_names_the_offending_line(province):
    code, output = province["report"]
    assert code == 2, output
    rtr = _device(json.loads(output), "kiem-rtr")
    assert rtr["findings"], rtr
    failed = _failed(rtr)
    assert failed["IOS-SNMP-001"]["severity"] == "critical"
    assert {"context": "", "line": UNSAFE} in failed["IOS-SNMP-001"]["offending"]
    # the devices were never provisioned: their drift is the whole baseline
    missing = [line for block in rtr["drift"]["missing"] for line in block["lines"]]
    assert "ip ssh version 2" in missing and "no snmp-server community public" in missing


def test_the_html_report_is_written_to_a_file(province):
    code, output = province["html"]
    html = (province["directory"] / "report.html").read_text()
    assert code == 2 and output == ""
    assert "kiem-rtr" in html and "IOS-SNMP-001" in html and UNSAFE in html


def test_fix_prints_the_commands_and_applies_them_only_when_asked(province):
    code, output = province["fix"]
    assert code == 0, output
    assert "ip ssh version 2" in output and "no snmp-server community public" in output
    assert "# kiem-rtr: IOS-SNMP-001 (critical)" in output
    assert "--apply" in output
    # nothing changed on the device until --apply: the first report saw the unsafe line
    code, output = province["apply"]
    assert code == 0, output
    assert "kiem-rtr" in output and "changed" in output


def test_after_the_fix_the_backup_is_clean_and_the_history_shows_the_change(province):
    code, output = province["backup_after"]
    assert code == 0, output
    assert "kiem-rtr" in output and "changed" in output
    code, output = province["report_after"]
    rtr = _device(json.loads(output), "kiem-rtr")
    # provisioned: the golden configuration passes every critical and high rule
    assert not [rule for rule, f in _failed(rtr).items() if f["severity"] in ("critical", "high")], output
    assert rtr["drift"]["missing"] == [], rtr["drift"]
    assert code == 0, output
    code, history = province["diff"]
    assert code == 0 and f"-{UNSAFE}" in history and "+ip ssh version 2" in history


def test_the_collector_exports_findings_drift_and_backup_age(province):
    before, after = province["metrics_before"], province["metrics_after"]

    def value(metrics, family, **labels):
        return next(s.value for s in metrics[family].samples if labels.items() <= s.labels.items())

    assert value(before, "egov_audit_rule_pass", device="kiem-rtr", rule="IOS-SNMP-001") == 0
    assert value(after, "egov_audit_rule_pass", device="kiem-rtr", rule="IOS-SNMP-001") == 1
    assert value(before, "egov_audit_findings", device="kiem-rtr", severity="critical") >= 1
    assert value(after, "egov_audit_findings", device="kiem-rtr", severity="critical") == 0
    assert value(before, "egov_audit_drift_lines", device="kiem-rtr", kind="missing") > 10
    assert value(after, "egov_audit_drift_lines", device="kiem-rtr", kind="missing") == 0
    assert 0 <= value(after, "egov_audit_backup_age_seconds", device="kiem-sw") < 600
    assert value(after, "egov_audit_device_audited", device="kiem-sw", site="xa_kiem") == 1


def test_provisioning_the_office_ends_with_its_first_audit_on_record(province):
    code, output = province["onboard"]
    assert code == 0, output
    baseline, _, rest = output.partition("== monitoring")
    assert "kiem-sw: changed: Config | Apply the lines" in baseline  # kiem-rtr was fixed already
    monitoring, _, audit = rest.partition("== first audit of xa_kiem")
    assert "no host of the inventory matches 'monitoring_servers'" in monitoring
    assert "kiem-rtr" in audit and "kiem-sw" in audit
    report = Path(audit.split("report: ")[1].split()[0])
    assert report.parent == province["directory"] / "store" / "reports" and "kiem-sw" in report.read_text()
    # the baseline holds every critical and high rule on both platforms
    assert "failed rules: 0 critical, 0 high," in audit and "\nCRITICAL" not in audit, audit


def test_audit_file_names_what_it_cannot_read(tmp_path, capsys):
    assert main(["audit", "file", str(tmp_path / "none.cfg"), "--platform", "cisco_ios"]) == exitcodes.BAD_INPUT
    assert main(["audit", "file", str(tmp_path), "--platform", "linux"]) == exitcodes.BAD_INPUT
    err = capsys.readouterr().err
    assert f"{tmp_path / 'none.cfg'}: No such file or directory" in err and f"{tmp_path}: Is a directory" in err
    assert main(["audit", "file", str(tmp_path), "--platform", "junos"]) == exitcodes.USAGE
    assert "invalid choice: 'junos'" in capsys.readouterr().err
