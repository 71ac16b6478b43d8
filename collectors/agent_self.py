"""The agent's own process: CPU, memory, file descriptors (process_* as every exporter has),
and its threads and asyncio tasks, which a reload or a hung probe must not leave growing."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import ProcessCollector
from prometheus_client.core import GaugeMetricFamily

from agent.collector import Collector, register


@register
class AgentSelfCollector(Collector):
    name = "agent"
    help = "the agent's own CPU, memory, open files (process_*), threads and asyncio tasks"

    def __init__(self, settings=None, context=None, proc_root="/proc"):
        super().__init__(settings, context)
        self._process = ProcessCollector(registry=None, proc=proc_root)

    async def collect(self):  # on the loop, to count its tasks; reading /proc/self does not block
        return [*self._process.collect(),
                GaugeMetricFamily("egov_agent_threads", "Threads of the agent process.",
                                  value=threading.active_count()),
                GaugeMetricFamily("egov_agent_asyncio_tasks", "Asyncio tasks of the agent's event loop.",
                                  value=len(asyncio.all_tasks()))]
