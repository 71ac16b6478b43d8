"""Virtual memory counters from /proc/vmstat, as node_exporter's vmstat collector exports
them: untyped, one series per field its `fields` regex selects (node-mixin's
NodeMemoryMajorPagesFaults alert reads node_vmstat_pgmajfault)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.collector import CollectorSettings, register
from agent.metrics import UnknownMetricFamily
from agent.schema import Regex
from collectors._proc import ProcCollector, field_families, matches, parser, read_text


@dataclass
class VmstatSettings(CollectorSettings):
    # the fields exported (a regex searched in the name): node_exporter's --collector.vmstat.fields
    fields: Regex = r"^(oom_kill|pgpg|pswp|pg.*fault).*"


@parser("/proc/vmstat")
def parse_vmstat(text: str) -> dict[str, float]:
    """Every `name value` line."""
    return {name: float(value) for name, value in (line.split() for line in text.splitlines() if line)}


@register
class VmstatCollector(ProcCollector):
    name = "vmstat"
    help = "Page-in/out, swap and page-fault counters from /proc/vmstat (node_vmstat_*)"
    Settings = VmstatSettings

    def collect(self):
        fields = parse_vmstat(read_text(self._proc_root, "vmstat"))
        return field_families(UnknownMetricFamily, "node_vmstat_", "/proc/vmstat information field {}.",
                              {name: value for name, value in fields.items() if matches(self.settings.fields, name)})
