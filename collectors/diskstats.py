"""Block device I/O from /proc/diskstats, as node_exporter's diskstats collector exports it.

Parsed directly: psutil.disk_io_counters() lacks io_now, the weighted I/O time, discards
and flushes.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from agent.collector import CollectorSettings, register
from agent.schema import Regex
from collectors._proc import ProcCollector, matches, parser, read_text, with_samples

_SECTOR = 512  # diskstats counts 512-byte sectors whatever the device's block size
_MS = 0.001

# The /proc/diskstats columns after the device name, in order: (metric, family, scale, HELP).
# Kernels before 4.18 print the first 11, before 5.5 the first 15.
COLUMNS = (
    ("reads_completed_total", CounterMetricFamily, 1, "The total number of reads completed successfully."),
    ("reads_merged_total", CounterMetricFamily, 1, "The total number of reads merged."),
    ("read_bytes_total", CounterMetricFamily, _SECTOR, "The total number of bytes read successfully."),
    ("read_time_seconds_total", CounterMetricFamily, _MS, "The total number of seconds spent by all reads."),
    ("writes_completed_total", CounterMetricFamily, 1, "The total number of writes completed successfully."),
    ("writes_merged_total", CounterMetricFamily, 1, "The number of writes merged."),
    ("written_bytes_total", CounterMetricFamily, _SECTOR, "The total number of bytes written successfully."),
    ("write_time_seconds_total", CounterMetricFamily, _MS, "This is the total number of seconds spent by all writes."),
    ("io_now", GaugeMetricFamily, 1, "The number of I/Os currently in progress."),
    ("io_time_seconds_total", CounterMetricFamily, _MS, "Total seconds spent doing I/Os."),
    ("io_time_weighted_seconds_total", CounterMetricFamily, _MS, "The weighted # of seconds spent doing I/Os."),
    ("discards_completed_total", CounterMetricFamily, 1, "The total number of discards completed successfully."),
    ("discards_merged_total", CounterMetricFamily, 1, "The total number of discards merged."),
    ("discarded_sectors_total", CounterMetricFamily, 1, "The total number of sectors discarded successfully."),
    ("discard_time_seconds_total", CounterMetricFamily, _MS,
     "This is the total number of seconds spent by all discards."),
    ("flush_requests_total", CounterMetricFamily, 1, "The total number of flush requests completed successfully"),
    ("flush_requests_time_seconds_total", CounterMetricFamily, _MS,
     "This is the total number of seconds spent by all flush requests."),
)


@parser("/proc/diskstats")
def parse_diskstats(text: str) -> dict[str, list[int]]:
    """Device name -> its raw counters, in COLUMNS order (11, 15 or 17 of them)."""
    devices = {}
    for line in text.splitlines():
        _major, _minor, device, *counters = line.split()
        if len(counters) < 11:
            raise ValueError(f"only {len(counters)} counters for {device}")
        devices[device] = [int(counter) for counter in counters[:len(COLUMNS)]]
    return devices


@dataclass
class DiskstatsSettings(CollectorSettings):
    # devices not reported (a regex searched in the name), node_exporter's default: partitions, RAM
    # disks, loop and floppy devices; null reports them all
    device_exclude: Regex | None = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"


@register
class DiskstatsCollector(ProcCollector):
    name = "diskstats"
    help = "Block device I/O from /proc/diskstats (node_disk_*)"
    Settings = DiskstatsSettings

    def collect(self):
        families = [family(f"node_disk_{name}", documentation, labels=["device"])
                    for name, family, _scale, documentation in COLUMNS]
        for device, counters in parse_diskstats(read_text(self._proc_root, "diskstats")).items():
            if matches(self.settings.device_exclude, device):
                continue
            for family, (_name, _family, scale, _help), counter in zip(families, COLUMNS, counters):
                family.add_metric([device], counter * scale)
        return with_samples(families)
