"""Our host collectors against a real node_exporter 1.5 scraped on the same host a moment earlier.

Every node_* family we export must exist in node_exporter's output with the same type, the
same label sets and values within a tolerance, so node-mixin alerts and the Grafana node
dashboards work unchanged.
"""

from __future__ import annotations

import re

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors.cpu import CpuCollector
from collectors.diskstats import DiskstatsCollector
from collectors.filefd import FilefdCollector
from collectors.filesystem import FilesystemCollector, FilesystemSettings
from collectors.loadavg import LoadavgCollector
from collectors.meminfo import MeminfoCollector
from collectors.netdev import NetdevCollector, NetdevSettings
from collectors.stat import StatCollector
from collectors.time import TimeCollector
from collectors.timex import TimexCollector
from collectors.uname import UnameCollector
from collectors.vmstat import VmstatCollector
from tests.peers import http_get

# Debian patches node_exporter's defaults for these two; ours keep upstream's.
DEBIAN_MOUNT_POINTS_EXCLUDE = r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
DEBIAN_NETDEV_EXCLUDE = r"^lo$"

# Series node-mixin's alerts and dashboards query.
NODE_MIXIN = [
    "node_cpu_seconds_total", "node_load1", "node_load5", "node_load15",
    "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_memory_MemFree_bytes",
    "node_memory_Buffers_bytes", "node_memory_Cached_bytes", "node_memory_Slab_bytes",
    "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_filesystem_readonly",
    "node_filesystem_files_free", "node_filesystem_files",
    "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
    "node_network_receive_errs_total", "node_network_transmit_errs_total",
    "node_network_receive_drop_total", "node_network_transmit_drop_total",
    "node_disk_io_time_seconds_total", "node_disk_io_time_weighted_seconds_total",
    "node_disk_read_bytes_total", "node_disk_written_bytes_total",
    "node_disk_reads_completed_total", "node_disk_writes_completed_total",
    "node_timex_offset_seconds", "node_timex_sync_status", "node_timex_maxerror_seconds",
    "node_boot_time_seconds", "node_time_seconds", "node_uname_info",
    "node_filefd_allocated", "node_filefd_maximum", "node_vmstat_pgmajfault",
]

# (family name regex, relative, absolute) tolerance for values read a moment apart; the first match wins.
TOLERANCE = [
    (r"node_memory_(MemTotal|SwapTotal|Hugepagesize)_bytes|node_filesystem_(size_bytes|files)", 0, 0),
    (r"node_boot_time_seconds", 0, 1),
    (r"node_time_seconds", 0, 5),
    # getloadavg() is exact, /proc/loadavg has two decimals; and a 5 s tick of the kernel's averages
    # between the two reads moves load1 by 8 % of (running tasks - load1), load5 by 1.7 %
    (r"node_load1", 0.05, 0.3),
    (r"node_load\d+", 0.05, 0.1),
    (r"node_timex_(maxerror|estimated_error)_seconds", 0, 0.1),  # grow by 500 µs/s between NTP updates
    (r"node_timex_(offset_seconds|frequency_adjustment_ratio|pps_.*)", 0, 0.01),
    (r"node_memory_Committed_AS_bytes", 0.1, 512 << 20),  # every process started meanwhile commits its heap
    (r"node_memory_.*|node_filesystem_(avail|free)_bytes|node_(disk|network)_.*bytes", 0.05, 64 << 20),
    (r"node_cpu_.*|node_disk_.*seconds", 0.05, 2.0),
    (r"node_(context_switches|intr|forks|procs_.*|disk_.*|network_.*)|node_filesystem_files_free", 0.05, 1000),
    (r"node_vmstat_pg.*|node_filefd_allocated", 0.05, 20000),  # page faults and open files of every process
    (r".*", 0, 0),  # constants: uname, time zone, clock sources, readonly, device_error, timex status
]


def ours() -> str:
    collectors = [
        CpuCollector(), MeminfoCollector(), DiskstatsCollector(), StatCollector(), UnameCollector(),
        TimeCollector(), TimexCollector(), LoadavgCollector(), FilefdCollector(), VmstatCollector(),
        FilesystemCollector(FilesystemSettings(mount_points_exclude=DEBIAN_MOUNT_POINTS_EXCLUDE)),
        NetdevCollector(NetdevSettings(device_exclude=DEBIAN_NETDEV_EXCLUDE)),
    ]

    class Families:
        def collect(self):
            return [family for collector in collectors for family in collector.collect()]

    return generate_latest(Families()).decode()


def parse(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family) -> dict:
    return {(sample.name, frozenset(sample.labels.items())): sample.value for sample in family.samples}


def tolerance(name: str) -> tuple[float, float]:
    return next((relative, absolute) for pattern, relative, absolute in TOLERANCE if re.fullmatch(pattern, name))


def test_node_mixin_series_are_exported():
    exported = {sample.name for family in parse(ours()).values() for sample in family.samples}
    assert [name for name in NODE_MIXIN if name not in exported] == []


def test_same_families_labels_and_values_as_node_exporter(node_exporter):
    status, _, body = http_get(node_exporter)
    assert status == 200
    theirs = parse(body.decode())
    mine = parse(ours())  # read after node_exporter: our counters are the same or a little higher

    assert sorted(name for name in mine if name not in theirs) == []
    problems = []
    for name, family in sorted(mine.items()):
        if family.type != theirs[name].type:
            problems.append(f"{name}: type {family.type}, node_exporter's {theirs[name].type}")
            continue
        our_samples, their_samples = samples(family), samples(theirs[name])
        if set(our_samples) != set(their_samples):
            problems.append(f"{name}: only ours {set(our_samples) - set(their_samples)}, "
                            f"only node_exporter's {set(their_samples) - set(our_samples)}")
            continue
        relative, absolute = tolerance(name)
        for key, our_value in our_samples.items():
            their_value = their_samples[key]
            if abs(our_value - their_value) > max(relative * abs(their_value), absolute):
                problems.append(f"{name}{dict(key[1])}: ours {our_value!r}, node_exporter's {their_value!r}")
    assert problems == []
