"""The configuration audit as metrics (egov_audit_*): the policy packs and drift on the
backups in the audit store, and each backup's age.

Off by default: enable it on the host that runs `egov-agent audit backup` (the monitoring
server). It reads the store only — the backups, their status and the golden configurations
the backup run rendered — and never contacts a device, so it is cheap enough to run every
few minutes and Prometheus alerts the security team when a finding or a drift appears, or
a device's backup grows old (monitoring/prometheus/rules/egov.yml).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.audit.store import DEFAULT_STORE
from agent.audit.policy import POLICIES, SEVERITIES
from agent.checks import Check, State
from agent.collector import Collector, CollectorError, CollectorSettings, register
from agent.metrics import GaugeMetricFamily
from agent.schema import Duration
from agent.yamlfile import ConfigError


@dataclass
class AuditSettings(CollectorSettings):
    interval: Duration = 300.0
    timeout: Duration = 120.0
    store: str = DEFAULT_STORE  # the --store of egov-agent audit backup
    policies: str = str(POLICIES)  # the directory of the policy packs
    backup_age_warning: Duration = 2 * 86400.0  # a device not backed up for this long is a WARNING


@register
class AuditCollector(Collector):
    name = "audit"
    help = "Policy findings, drift and backup age of the stored configurations (egov_audit_*); for the audit host"
    default_enabled = False
    Settings = AuditSettings
    SAMPLE_NOTE = "# on the host that runs `egov-agent audit backup`, set enabled to true\n"

    def collect(self):
        from agent.audit.assess import audit_store
        from agent.audit.policy import load_packs
        from agent.audit.store import Store

        inventory = self.context.inventory
        if inventory is None:
            raise CollectorError("config", "the audit collector needs the inventory (-i): it names the devices")
        try:
            packs = load_packs(self.settings.policies)
        except (ConfigError, OSError) as err:
            raise CollectorError("config", f"policy packs: {err}") from None
        store = Store(self.settings.store)
        audits = audit_store(store, inventory, sorted(inventory.hosts), packs, self.now())
        rule = GaugeMetricFamily("egov_audit_rule_pass", "1 when the device's stored configuration passes the "
                                 "policy rule, 0 when it fails; rules that do not apply are left out.",
                                 labels=["device", "site", "rule", "severity"])
        findings = GaugeMetricFamily("egov_audit_findings", "Failed policy rules of the device's stored "
                                     "configuration, by severity.", labels=["device", "site", "severity"])
        drift = GaugeMetricFamily("egov_audit_drift_lines", "Lines separating the device's stored configuration "
                                  "from its golden configuration: missing (golden lines it lacks) and extra "
                                  "(lines where the standard has others).", labels=["device", "site", "kind"])
        age = GaugeMetricFamily("egov_audit_backup_age_seconds", "Seconds since the device's configuration was "
                                "last backed up.", labels=["device", "site"])
        audited = GaugeMetricFamily("egov_audit_device_audited", "1 when the device has a backup the packs "
                                    "audited, 0 when it has none yet.", labels=["device", "site"])
        unlogged = GaugeMetricFamily("egov_audit_unlogged_change_timestamp_seconds", "When a backup last found a "
                                     "change of the device that no log message announced, on a device whose logs "
                                     "announce its changes (Unix time).", labels=["device", "site"])
        status = store.status()
        for audit in audits:
            labels = [audit.device, audit.site]
            audited.add_metric(labels, 0 if audit.error else 1)
            if audit.error:
                continue
            failed = {severity: 0 for severity in SEVERITIES}
            for finding in audit.findings:
                if finding.applicable:
                    rule.add_metric([*labels, finding.rule.id, finding.rule.severity], 1 if finding.passed else 0)
                failed[finding.rule.severity] += not finding.passed
            for severity, count in failed.items():
                findings.add_metric([*labels, severity], count)
            if audit.drift is not None:
                for kind in ("missing", "extra"):
                    drift.add_metric([*labels, kind], sum(len(lines) for _, lines in audit.drift[kind]))
            if audit.backup_age is not None:
                age.add_metric(labels, audit.backup_age)
            if status.get(audit.device, {}).get("last_unlogged_change"):
                unlogged.add_metric(labels, status[audit.device]["last_unlogged_change"])
        return [rule, findings, drift, age, audited, unlogged]

    def checks(self, metrics):
        findings: dict[str, dict[str, float]] = {}
        for sample in metrics["egov_audit_findings"].samples:
            findings.setdefault(sample.labels["device"], {})[sample.labels["severity"]] = sample.value
        ages = {s.labels["device"]: s.value for s in metrics["egov_audit_backup_age_seconds"].samples}
        for sample in metrics["egov_audit_device_audited"].samples:
            device = sample.labels["device"]
            if not sample.value:
                yield Check(self.name, device, State.WARNING, "no backup of its configuration yet")
                continue
            counts = findings.get(device, {})
            state = State.CRITICAL if counts.get("critical") else State.WARNING if counts.get("high") else State.OK
            summary = ", ".join(f"{counts[s]:.0f} {s}" for s in SEVERITIES if counts.get(s)) or "no finding"
            age = ages.get(device)
            if age is not None and age >= self.settings.backup_age_warning:
                state = max(state, State.WARNING)
                summary += f"; last backup {age / 86400:.1f} days ago"
            yield Check(self.name, device, state, summary)
