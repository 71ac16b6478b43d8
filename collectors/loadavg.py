"""System load averages, as node_exporter's loadavg collector exports them."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agent.checks import judged
from agent.collector import Collector, CollectorSettings, register
from agent.metrics import GaugeMetricFamily


@dataclass
class LoadSettings(CollectorSettings):
    # load15 divided by the number of CPUs; None disables that level
    per_cpu_warning: float | None = 2.0
    per_cpu_critical: float | None = 4.0


@register
class LoadavgCollector(Collector):
    name = "loadavg"
    help = "1, 5 and 15 minute load averages (node_load1/5/15)"
    Settings = LoadSettings

    def __init__(self, settings=None, context=None, getloadavg=os.getloadavg, cpu_count=os.cpu_count):
        super().__init__(settings, context)
        self._getloadavg, self._cpu_count = getloadavg, cpu_count

    def collect(self):
        for minutes, value in zip((1, 5, 15), self._getloadavg()):
            yield GaugeMetricFamily(f"node_load{minutes}", f"{minutes}m load average.", value=value)

    def checks(self, metrics):
        cpus = self._cpu_count() or 1
        load = metrics["node_load15"].samples[0].value / cpus
        yield judged("load", "host", load, f"load15 per CPU {load:.2f} ({cpus} CPUs)",
                     self.settings.per_cpu_warning, self.settings.per_cpu_critical)
