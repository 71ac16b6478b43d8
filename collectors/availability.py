"""This month's availability so far per site (egov_site_availability_month_ratio), from
Prometheus's history, for the status page (agent/report/availability.py computes it).

Off by default: enable it on the monitoring server, pointed at the Prometheus that scrapes
the agents. It runs the monthly report for the month in progress (the province's local
time), so it reads every sample of the month so far: every 10 minutes is plenty.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.metrics import GaugeMetricFamily

from agent.collector import Collector, CollectorError, CollectorSettings, register
from agent.schema import Duration

FAMILY = "egov_site_availability_month_ratio"


@dataclass
class AvailabilitySettings(CollectorSettings):
    interval: Duration = 600.0
    timeout: Duration = 300.0
    prometheus_url: str = "http://127.0.0.1:9090"  # the Prometheus that scrapes the agents


@register
class AvailabilityCollector(Collector):
    name = "availability"
    help = "This month's availability so far per site, from Prometheus's history; for the status page"
    default_enabled = False
    Settings = AvailabilitySettings
    SAMPLE_NOTE = "# on the monitoring server, set enabled to true\n"

    def has_work(self) -> bool:
        return self.context.inventory is not None  # the sites come from it

    def collect(self):
        from agent.inventory.service_levels import Schedule
        from agent.report.availability import Prometheus, PrometheusError, build

        inventory, now = self.context.inventory, self.now()
        label = Schedule(inventory).local(now).strftime("%Y-%m")
        try:
            report = build(inventory, Prometheus(self.settings.prometheus_url, self.settings.timeout), label, now=now)
        except PrometheusError as err:
            raise CollectorError("connect", str(err)) from None
        family = GaugeMetricFamily(FAMILY, "Availability of the site this month so far (up / (up + down), "
                                   "maintenance, cut-off and minutes without data left out).", labels=["site"])
        for site in report.sites:
            if site["up"] + site["down"]:
                family.add_metric([site["site"]], site["up"] / (site["up"] + site["down"]))
        yield family
