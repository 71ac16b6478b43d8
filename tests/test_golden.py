"""A golden scrape: host collectors on captured /proc files render byte for byte as recorded.

Regenerate after an intended change with `UPDATE_GOLDEN=1 bash scripts/test.sh tests/test_golden.py`
and review the diff like code.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent.snapshot import render
from collectors.diskstats import DiskstatsCollector
from collectors.loadavg import LoadavgCollector
from collectors.meminfo import MeminfoCollector
from collectors.netdev import NetdevCollector
from collectors.stat import StatCollector
from collectors.uname import UnameCollector
from tests.helpers import MEMINFO_CAMELCASE
from tests.peers import require

FIXTURES = Path(__file__).parent / "fixtures"
PROC = str(FIXTURES / "host" / "proc")
GOLDEN = FIXTURES / "golden" / "host.prom"


def golden_collectors():
    uname = os.uname_result(("Linux", "dc1-mail-01", "6.1.0-27-amd64", "#1 SMP Debian 6.1.115-1", "x86_64"))
    return [
        LoadavgCollector(getloadavg=lambda: (0.25, 0.5, 0.75)),
        MeminfoCollector(proc_root=PROC),
        StatCollector(proc_root=PROC),
        DiskstatsCollector(proc_root=PROC),
        NetdevCollector(proc_root=PROC),
        UnameCollector(proc_root=PROC, uname=lambda: uname),
    ]


def test_golden_scrape(tmp_path):
    text = b"".join(render(list(collector.collect()))[0] for collector in golden_collectors())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(text)
    assert text.decode() == GOLDEN.read_text()
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True)
    assert [p for p in (lint.stdout + lint.stderr).decode().splitlines() if not MEMINFO_CAMELCASE.match(p)] == []
