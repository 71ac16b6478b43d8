"""History for a real Prometheus: a synthetic month written as TSDB blocks by promtool's
backfilling (`promtool tsdb create-blocks-from openmetrics`, Prometheus docs "Storage",
"Backfilling from OpenMetrics format"), one sample per minute, in the middle of the minute.

promtool reads its whole input once per two-hour block it writes, so the month goes in
several files: one per day for a few series (a month of ten takes seconds, not minutes),
one per block for hundreds (each file read once; a run of promtool costs about 0.3 s).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.peers import require

# (metric name, labels as written between the braces, the value for the minute beginning at t or None)
Series = tuple[str, str, Callable[[float], float | None]]
BLOCK = 7200  # promtool's blocks: two hours, aligned on the epoch


def backfill(data: Path, series: list[Series], start: float, end: float, file_span: int = 12 * BLOCK) -> None:
    """Blocks in `data` (a Prometheus's --storage.tsdb.path) holding `series` from start to end,
    written `file_span` seconds of samples at a time."""
    names = sorted({name for name, _, _ in series})
    work = data.parent / "openmetrics"
    work.mkdir(parents=True, exist_ok=True)
    for first in range(int(start) // BLOCK * BLOCK, int(end), file_span):
        path = work / f"{first}.om"
        with path.open("w") as out:
            for name in names:  # a family's samples together, as OpenMetrics wants them
                mine = [(labels, value) for metric, labels, value in series if metric == name]
                out.write(f"# TYPE {name} gauge\n")
                for minute in range(max(first, int(start)), min(first + file_span, int(end)), 60):
                    for labels, value in mine:
                        sample = value(minute)
                        if sample is not None:
                            out.write(f"{name}{{{labels}}} {sample:g} {minute + 30}\n")
            out.write("# EOF\n")
        done = subprocess.run([require("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                               str(data)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        path.unlink()
