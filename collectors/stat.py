"""System-wide counters from /proc/stat, as node_exporter's stat collector exports them."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from agent.collector import register
from collectors._proc import ProcCollector, parser, read_text

# /proc/stat key: (metric family, metric name, HELP)
_METRICS = {
    "btime": (GaugeMetricFamily, "node_boot_time_seconds", "Node boot time, in unixtime."),
    "ctxt": (CounterMetricFamily, "node_context_switches_total", "Total number of context switches."),
    "intr": (CounterMetricFamily, "node_intr_total", "Total number of interrupts serviced."),
    "processes": (CounterMetricFamily, "node_forks_total", "Total number of forks."),
    "procs_running": (GaugeMetricFamily, "node_procs_running", "Number of processes in runnable state."),
    "procs_blocked": (GaugeMetricFamily, "node_procs_blocked",
                      "Number of processes blocked waiting for I/O to complete."),
}


@parser("/proc/stat")
def parse_stat(text: str) -> dict[str, float]:
    """The first number of each line whose key we export (`intr` is followed by per-IRQ counts)."""
    found = {}
    for line in text.splitlines():
        key, _, numbers = line.partition(" ")
        if key in _METRICS:
            found[key] = float(numbers.split()[0])
    return {key: found[key] for key in _METRICS}  # KeyError (a parse error) if one is missing


@register
class StatCollector(ProcCollector):
    name = "stat"
    help = "Boot time, context switches, interrupts, forks and process states from /proc/stat"

    def collect(self):
        for key, value in parse_stat(read_text(self._proc_root, "stat")).items():
            family, name, documentation = _METRICS[key]
            yield family(name, documentation, value=value)
