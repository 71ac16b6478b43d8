"""README's metrics reference matches what the agent really serves, both ways."""

from __future__ import annotations

import json
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agent.audit.store import Store
from tests.helpers import POSTQUEUE_J, README, ROW, all_collected, as_regex, documented

REPORT_CONFIGS = Path(__file__).resolve().parent / "fixtures/audit/report/configs"
def probe_collectors() -> dict:
    from agent.collector import discover
    from agent.probe import Probe

    return {name: cls for name, cls in discover().items() if issubclass(cls, Probe)}


def audit_store(directory: Path) -> tuple[Path, Path]:
    """An audit store holding one router's backup and golden configuration, and an inventory naming it."""
    store = Store(directory / "store")
    store.init()
    store.write("doc-rtr", "network", (REPORT_CONFIGS / "xa-a-rtr.cfg").read_text())
    store.write_golden("doc-rtr", (REPORT_CONFIGS / "xa-a-rtr.golden").read_text())
    store.update_status({"doc-rtr": {"platform": "cisco_ios", "last_success": time.time() - 60}})
    inventory = directory / "inventory.yml"
    inventory.write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "hosts": {
        "doc-rtr": {"ansible_host": "127.0.0.1", "egov_role": "router", "egov_platform": "cisco_ios"}}}}))
    return store.path, inventory


def test_metrics_reference_matches_a_real_scrape(start_agent, tmp_path, prometheus):
    postqueue = tmp_path / "postqueue"  # stands in for postfix's, printing captured `postqueue -j` output
    postqueue.write_text(f"#!/bin/sh\ncat <<'EOF'\n{POSTQUEUE_J}EOF\n")
    postqueue.chmod(0o755)
    store, inventory = audit_store(tmp_path)
    config = tmp_path / "agent.yml"  # every collector on, and a service that is surely running: the agent
    config.write_text("collectors:\n  services:\n    services:\n"
                      "      - {name: egov-agent, match: '.* -m agent run .*', cmdline: true}\n"
                      f"  postfix_queue: {{enabled: true, postqueue: '{postqueue}'}}\n"
                      f"  audit: {{enabled: true, store: '{store}'}}\n"
                      f"  syslog: {{enabled: true, listen: '127.0.0.1:0', backup_store: '{store}'}}\n"
                      f"  availability: {{enabled: true, prometheus_url: '{prometheus.url}'}}\n")
    agent = start_agent("-c", str(config), "-i", str(inventory))
    served = {}
    for family in text_string_to_metric_families(all_collected(agent, config).decode()):
        name = family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
        served[name] = (family.type, {label for sample in family.samples for label in sample.labels})

    docs = documented()
    patterns = {name: as_regex(name) for name in docs if "<" in name}
    undocumented = [name for name in served
                    if name not in docs and not any(p.match(name) for p in patterns.values())]
    assert undocumented == [], "add these to README's metrics reference"
    probes = probe_collectors()  # they serve nothing without inventory targets: checked below
    missing = [name for name, (_, _, collector) in docs.items()
               if name not in patterns and name not in served and collector not in probes]
    assert missing == [], "README documents metrics the agent does not serve"
    for name, (kind, labels) in served.items():
        doc_kind, doc_labels, _ = docs.get(name) or next(docs[d] for d, p in patterns.items() if p.match(name))
        assert kind == doc_kind, name
        if labels:  # a counter with no samples yet (no errors) shows no labels
            assert labels == doc_labels, name


def probe_families(name: str, cls) -> dict[str, tuple[str, list[str], str]]:
    """A probe's family names -> (type, own labels, HELP), the caller's up/duration/failures included."""
    families = {f"egov_{name}_up": ("gauge", [], cls.UP_HELP),
                f"egov_{name}_duration_seconds": ("gauge", [], cls.DURATION_HELP),
                f"egov_{name}_failures_total": ("counter", ["reason"], cls.FAILURES_HELP)}
    for key, (kind, help_, labels) in cls.FAMILIES.items():
        total = "_total" if kind == "counter" and not key.endswith("_total") else ""
        families[f"egov_{name}_{key}{total}"] = (kind, labels, help_)
    return {family: (kind, labels, help_.format(kind=name)) for family, (kind, labels, help_) in families.items()}


def test_every_probe_family_is_documented():
    """Probe metrics appear only with inventory targets, so they are checked against the code."""
    docs = documented()
    for name, cls in probe_collectors().items():
        families = probe_families(name, cls)
        assert {n for n, row in docs.items() if row[2] == name} == set(families), name
        for family, (kind, labels, _help) in families.items():
            assert docs[family][:2] == (kind, {"target", "site", "check", *labels}), family


def test_a_probe_serves_the_help_that_readme_gives():
    """The meaning column of a probe's rows is the HELP it serves: one text, not two."""
    meanings = {match["name"]: match["meaning"] for match in map(ROW.match, README.read_text().splitlines()) if match}
    for name, cls in probe_collectors().items():
        for family, (_kind, _labels, help_) in probe_families(name, cls).items():
            assert meanings[family] == help_, family
