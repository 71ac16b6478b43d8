"""File descriptors of the whole system, as node_exporter's filefd collector exports them
(node-mixin's NodeFileDescriptorLimit alert divides the two)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from agent.collector import register
from collectors._proc import ProcCollector, parser, read_text


@parser("/proc/sys/fs/file-nr")
def parse_file_nr(text: str) -> tuple[float, float]:
    """(allocated, maximum): the first and third of file-nr's three numbers (proc(5)); the
    second, allocated but unused, is 0 on every kernel since 2.6."""
    allocated, _, maximum = text.split()
    return float(allocated), float(maximum)


@register
class FilefdCollector(ProcCollector):
    name = "filefd"
    help = "Allocated and maximum file descriptors from /proc/sys/fs/file-nr (node_filefd_*)"

    def collect(self):
        allocated, maximum = parse_file_nr(read_text(self._proc_root, "sys/fs/file-nr"))
        yield GaugeMetricFamily("node_filefd_allocated", "File descriptor statistics: allocated.", value=allocated)
        yield GaugeMetricFamily("node_filefd_maximum", "File descriptor statistics: maximum.", value=maximum)
