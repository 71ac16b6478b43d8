"""The kernel's identity, as node_exporter's uname collector exports it (node_uname_info)."""

from __future__ import annotations

import os

from prometheus_client.core import InfoMetricFamily

from agent.collector import Collector, register
from collectors._proc import read_text


@register
class UnameCollector(Collector):
    name = "uname"
    help = "Kernel name, release, version, machine, node and domain name (node_uname_info)"

    def __init__(self, settings=None, context=None, proc_root="/proc", uname=os.uname):
        super().__init__(settings, context)
        self._proc_root, self._uname = proc_root, uname

    def collect(self):
        uname = self._uname()
        # os.uname() has no domain name; the kernel shows "(none)" when unset, as node_exporter does
        domainname = read_text(self._proc_root, "sys/kernel/domainname").strip()
        yield InfoMetricFamily("node_uname", "Labeled system information as provided by the uname system call.",
                               value={"sysname": uname.sysname, "release": uname.release, "version": uname.version,
                                      "machine": uname.machine, "nodename": uname.nodename,
                                      "domainname": domainname})
