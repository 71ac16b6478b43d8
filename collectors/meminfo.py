"""Every /proc/meminfo field, named as node_exporter's meminfo collector names them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.checks import Check, State, below, judged, levels
from agent.collector import CollectorSettings, register
from agent.metrics import GaugeMetricFamily
from agent.schema import Ratio
from collectors._proc import ProcCollector, field_families, parser, read_text

_PARENTHESES = re.compile(r"\((.*)\)")


@parser("/proc/meminfo")
def parse_meminfo(text: str) -> dict[str, float]:
    """`Active(anon):  1520 kB` -> {"Active_anon_bytes": 1556480.0}; unitless fields keep their name."""
    fields = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:  # some kernels print blank lines
            continue
        if not parts[0].endswith(":") or len(parts) not in (2, 3):
            raise ValueError(f"unexpected line {line!r}")
        key, value = _PARENTHESES.sub(r"_\1", parts[0][:-1]), float(parts[1])
        if len(parts) == 3:  # the unit is always kB
            key, value = f"{key}_bytes", value * 1024
        fields[key] = value
    return fields


@dataclass
class MeminfoSettings(CollectorSettings):
    # MemAvailable / MemTotal at or below which the memory check warns / goes critical
    available_warning: Ratio | None = 0.10
    available_critical: Ratio | None = 0.05


@register
class MeminfoCollector(ProcCollector):
    name = "meminfo"
    help = "Memory and swap from /proc/meminfo (node_memory_*)"
    Settings = MeminfoSettings

    def collect(self):
        # /proc/meminfo rather than psutil: psutil's `cached` adds SReclaimable, unlike node_memory_Cached_bytes.
        return field_families(GaugeMetricFamily, "node_memory_", "Memory information field {}.",
                              parse_meminfo(read_text(self._proc_root, "meminfo")))

    def checks(self, metrics):
        s = self.settings
        if "node_memory_MemAvailable_bytes" not in metrics:  # kernels before 3.14
            yield Check("memory", "host", State.UNKNOWN, "the kernel does not report MemAvailable", None,
                        levels(s.available_warning, s.available_critical))
            return
        available = metrics["node_memory_MemAvailable_bytes"].samples[0].value
        ratio = available / metrics["node_memory_MemTotal_bytes"].samples[0].value
        yield judged("memory", "host", ratio, f"{ratio:.1%} of memory available ({available / 2**20:.0f} MiB)",
                     s.available_warning, s.available_critical, below)
