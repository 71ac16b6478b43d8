"""Seconds each CPU spent in each mode, as node_exporter's cpu collector exports them."""

from __future__ import annotations

import psutil
from prometheus_client.core import CounterMetricFamily

from agent.collector import Collector, register

# node_cpu_seconds_total's modes; guest time is exported apart (and is also counted in user/nice)
MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@register
class CpuCollector(Collector):
    name = "cpu"
    help = "CPU time per CPU and mode (node_cpu_seconds_total, node_cpu_guest_seconds_total)"

    def __init__(self, settings=None, context=None, cpu_times=psutil.cpu_times):
        super().__init__(settings, context)
        self._cpu_times = cpu_times

    def collect(self):
        seconds = CounterMetricFamily("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                                      labels=["cpu", "mode"])
        guest = CounterMetricFamily("node_cpu_guest_seconds_total",
                                    "Seconds the CPUs spent in guests (VMs) for each mode.", labels=["cpu", "mode"])
        for cpu, times in enumerate(self._cpu_times(percpu=True)):
            for mode in MODES:
                seconds.add_metric([str(cpu), mode], getattr(times, mode))
            guest.add_metric([str(cpu), "user"], times.guest)
            guest.add_metric([str(cpu), "nice"], times.guest_nice)
        yield seconds
        yield guest
