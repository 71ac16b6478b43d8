"""Network interface counters from /proc/net/dev, as node_exporter's netdev collector exports them.

node_exporter 1.5 reads the same kernel counters over netlink and folds them into these
/proc/net/dev columns, so the values agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily

from agent.collector import CollectorSettings, register
from agent.schema import Regex
from collectors._proc import ProcCollector, matches, parser, read_text, with_samples

COLUMNS = ("receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo", "receive_frame",
           "receive_compressed", "receive_multicast", "transmit_bytes", "transmit_packets", "transmit_errs",
           "transmit_drop", "transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed")


@parser("/proc/net/dev")
def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Interface -> {column: counter}. A name cannot contain ':', but big counters touch it."""
    devices = {}
    for line in text.splitlines()[2:]:  # two header lines
        name, colon, counters = line.partition(":")
        values = [int(value) for value in counters.split()]
        if not colon or len(values) != len(COLUMNS):
            raise ValueError(f"unexpected line {line!r}")
        devices[name.strip()] = dict(zip(COLUMNS, values))
    return devices


@dataclass
class NetdevSettings(CollectorSettings):
    # interfaces not reported (a regex searched in the name), e.g. '^(lo|veth.*)$'; null reports all
    device_exclude: Regex | None = None


@register
class NetdevCollector(ProcCollector):
    name = "netdev"
    help = "Network interface counters from /proc/net/dev (node_network_*_total)"
    Settings = NetdevSettings

    def collect(self):
        families = {column: CounterMetricFamily(f"node_network_{column}_total", f"Network device statistic {column}.",
                                                labels=["device"]) for column in COLUMNS}
        for device, counters in parse_net_dev(read_text(self._proc_root, "net/dev")).items():
            if not matches(self.settings.device_exclude, device):
                for column, value in counters.items():
                    families[column].add_metric([device], value)
        return with_samples(families.values())
