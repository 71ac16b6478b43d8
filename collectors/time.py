"""The system clock and clock sources, as node_exporter's time collector exports them."""

from __future__ import annotations

import glob
import os
import time

from agent.collector import Collector, register
from agent.metrics import GaugeMetricFamily, InfoMetricFamily
from collectors._proc import read_text


@register
class TimeCollector(Collector):
    name = "time"
    help = "System time, time zone offset and clock sources (node_time_*)"

    def __init__(self, settings=None, context=None, now=time.time, sys_root="/sys", localtime=time.localtime):
        super().__init__(settings, context, now)
        self._sys_root, self._localtime = sys_root, localtime

    def collect(self):
        now = self.now()
        yield GaugeMetricFamily("node_time_seconds", "System time in seconds since epoch (1970).", value=now)
        local = self._localtime(now)
        zone = GaugeMetricFamily("node_time_zone_offset_seconds", "System time zone offset in seconds.",
                                 labels=["time_zone"])
        zone.add_metric([local.tm_zone], local.tm_gmtoff)
        yield zone
        yield from self._clocksources()

    def _clocksources(self):
        available = InfoMetricFamily("node_time_clocksource_available",
                                     "Available clocksources read from '/sys/devices/system/clocksource'.")
        current = InfoMetricFamily("node_time_clocksource_current",
                                   "Current clocksource read from '/sys/devices/system/clocksource'.")
        # node_exporter's device label is the position in the sorted list, not the directory's number
        pattern = os.path.join(self._sys_root, "devices/system/clocksource/clocksource[0-9]*")
        for device, path in enumerate(sorted(glob.glob(pattern))):
            for source in read_text(path, "available_clocksource").split():
                available.add_metric([], {"clocksource": source, "device": str(device)})
            current.add_metric([], {"clocksource": read_text(path, "current_clocksource").strip(),
                                    "device": str(device)})
        if current.samples:  # none in containers without /sys
            yield available
            yield current
