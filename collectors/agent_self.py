"""The agent's own process: CPU, memory, file descriptors (process_* as every exporter has),
and its threads and asyncio tasks, which a reload or a hung probe must not leave growing."""

from __future__ import annotations

import asyncio
import os
import resource
import threading

from agent.collector import Collector, register
from agent.metrics import CounterMetricFamily, GaugeMetricFamily

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = resource.getpagesize()


@register
class AgentSelfCollector(Collector):
    name = "agent"
    help = "the agent's own CPU, memory, open files (process_*), threads and asyncio tasks"
    few_series = True  # eight: rendered on the loop (agent/scheduler.py)

    def __init__(self, settings=None, context=None, proc_root="/proc"):
        super().__init__(settings, context)
        self._self = os.path.join(proc_root, "self")
        with open(os.path.join(proc_root, "stat"), "rb") as stat:
            self._boot_time = next(float(line.split()[1]) for line in stat if line.startswith(b"btime "))

    async def collect(self):  # on the loop, to count its tasks; reading /proc/self does not block
        return [*self._process(),
                GaugeMetricFamily("egov_agent_threads", "Threads of the agent process.",
                                  value=threading.active_count()),
                GaugeMetricFamily("egov_agent_asyncio_tasks", "Asyncio tasks of the agent's event loop.",
                                  value=len(asyncio.all_tasks()))]

    def _process(self):
        """The process_* families of the Prometheus client libraries, with their names and help
        (prometheus_client's ProcessCollector), from proc(5): /proc/self/stat fields 14-15 (utime,
        stime), 22 (starttime, in clock ticks after boot), 23 (vsize, bytes), 24 (rss, pages);
        /proc/self/limits' "Max open files" soft limit; the entries of /proc/self/fd."""
        with open(os.path.join(self._self, "stat"), "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()  # from field 3 on: the name may hold spaces
        with open(os.path.join(self._self, "limits"), "rb") as limits:
            max_fds = next(float(line.split()[3]) for line in limits if line.startswith(b"Max open files"))
        return [
            GaugeMetricFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", value=float(fields[20])),
            GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                              value=float(fields[21]) * _PAGE),
            GaugeMetricFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                              value=float(fields[19]) / _TICKS + self._boot_time),
            CounterMetricFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                value=(float(fields[11]) + float(fields[12])) / _TICKS),
            GaugeMetricFamily("process_open_fds", "Number of open file descriptors.",
                              value=len(os.listdir(os.path.join(self._self, "fd")))),
            GaugeMetricFamily("process_max_fds", "Maximum number of open file descriptors.", value=max_fds),
        ]
