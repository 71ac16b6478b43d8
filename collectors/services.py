"""Whether the services a host runs have their processes up, and what those use (egov_service_*)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from agent.checks import Check, State
from agent.collector import Collector, CollectorSettings, register
from agent.schema import Regex


@dataclass
class Service:
    name: str
    match: Regex  # must match the whole process name (comm), or the command line if `cmdline`
    cmdline: bool = False
    min_processes: int = 1  # fewer running processes make the check critical

    def problems(self):
        if self.min_processes < 1:
            yield "min_processes", "must be at least 1"

    def matches(self, info: dict) -> bool:
        subject = " ".join(info["cmdline"] or ()) if self.cmdline else info["name"] or ""
        return re.fullmatch(self.match, subject) is not None


@dataclass
class ServicesSettings(CollectorSettings):
    services: list[Service] = field(default_factory=list)

    def problems(self):
        yield from super().problems()
        names = [service.name for service in self.services]
        if len(names) != len(set(names)):
            yield "services", "two services have the same name"


@register
class ServicesCollector(Collector):
    name = "services"
    help = "Processes, memory and CPU of configured services (egov_service_*)"
    Settings = ServicesSettings
    SAMPLE_NOTE = """\
# Each service: a name, `match`, a regular expression for the whole process name (comm, as
# `ps -e -o comm` prints it) or, with `cmdline: true`, for the whole command line, and
# `min_processes`: while fewer match, the service check is critical. For example:
#   services:
#     - {name: postfix, match: master}              # postfix's master daemon
#     - {name: nginx, match: nginx, min_processes: 2}  # the master and at least one worker
"""

    def __init__(self, settings=None, context=None, process_iter=psutil.process_iter):
        super().__init__(settings, context)
        self._process_iter = process_iter

    def has_work(self):
        return bool(self.settings.services)  # listing every process for no service is all cost

    def collect(self):
        services = self.settings.services
        processes = {service.name: 0 for service in services}
        memory = {service.name: 0 for service in services}
        cpu = {service.name: 0.0 for service in services}
        # process_iter skips processes that exit while it lists them
        for process in self._process_iter(["name", "cmdline"]):
            matched = [service.name for service in services if service.matches(process.info)]
            if not matched:
                continue
            try:
                with process.oneshot():
                    rss, times = process.memory_info().rss, process.cpu_times()
                    seconds = times.user + times.system
            except psutil.NoSuchProcess:  # exited (or a zombie) since it was listed
                continue
            except psutil.AccessDenied:  # running, but not ours to inspect
                rss, seconds = 0, 0.0
            for name in matched:
                processes[name] += 1
                memory[name] += rss
                cpu[name] += seconds

        families = [
            GaugeMetricFamily("egov_service_up", "Whether at least one process of the service is running.",
                              labels=["service"]),
            GaugeMetricFamily("egov_service_processes", "Number of running processes of the service.",
                              labels=["service"]),
            GaugeMetricFamily("egov_service_resident_memory_bytes",
                              "Resident memory of the service's processes, summed, in bytes.", labels=["service"]),
            # a sum over live processes: it drops when one exits, which rate() takes for a counter reset
            CounterMetricFamily("egov_service_cpu_seconds_total",
                                "User and system CPU time of the service's running processes, summed.",
                                labels=["service"]),
        ]
        for name in processes:
            for family, value in zip(families, (min(processes[name], 1), processes[name], memory[name], cpu[name])):
                family.add_metric([name], value)
        return families

    def checks(self, metrics):
        running = {sample.labels["service"]: sample.value for sample in metrics["egov_service_processes"].samples}
        for service in self.settings.services:
            count = running[service.name]
            state = State.OK if count >= service.min_processes else State.CRITICAL
            yield Check("service", service.name, state,
                        f"{count:.0f} processes matching {service.match!r} (minimum {service.min_processes})",
                        count, {"critical": service.min_processes})
