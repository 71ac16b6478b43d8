"""The agent's own process: CPU, memory, file descriptors (process_* as every exporter has)."""

from __future__ import annotations

from prometheus_client import ProcessCollector

from agent.collector import Collector, register


@register
class AgentSelfCollector(Collector):
    name = "agent"
    help = "the agent's own CPU, memory and open files (process_*)"
    SAMPLE = """\
agent:
  interval: 15s
"""

    def __init__(self, settings=None, context=None, proc_root="/proc"):
        super().__init__(settings, context)
        self._process = ProcessCollector(registry=None, proc=proc_root)

    def collect(self):
        return self._process.collect()
