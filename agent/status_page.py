"""The agent's own status page: each collector's last run, and the checks that are not OK.

Self-contained HTML (no script, no external asset), readable on a phone.
"""

from __future__ import annotations

import time
from html import escape

from agent import __version__
from agent.checks import State
from agent.snapshot import Snapshot

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
.OK{color:#176f2c}.WARNING{color:#8a5a00}.CRITICAL{color:#b00020}.UNKNOWN{color:#555}
.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def _ago(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "never"
    seconds = max(0, now - timestamp)
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


def render(snapshot: Snapshot) -> bytes:
    now = time.time()
    rows = []
    for status in snapshot.statuses():
        last = status.last
        if last is None:
            rows.append(f"<tr><td>{escape(status.name)}</td><td>never</td><td class=UNKNOWN>pending</td>"
                        "<td></td><td></td></tr>")
            continue
        state = "OK" if last.success else "CRITICAL"
        outcome = "ok" if last.success else escape(last.reason or "")
        rows.append(
            f"<tr><td>{escape(status.name)}</td><td>{_ago(last.started, now)}</td>"
            f"<td class={state}>{outcome}</td><td class=num>{last.duration * 1000:.1f} ms</td>"
            f"<td>{escape(last.detail)}</td></tr>")
    problems = [c for c in snapshot.checks() if c.state != State.OK]
    check_rows = "".join(
        f"<tr><td class={c.state.name}>{c.state.name}</td><td>{escape(c.name)}</td>"
        f"<td>{escape(c.target)}</td><td>{escape(c.summary)}</td></tr>" for c in problems)
    checks = (f"<table><tr><th>state</th><th>check</th><th>target</th><th>detail</th></tr>{check_rows}</table>"
              if problems else "<p class=OK>All checks OK.</p>")
    page = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>egov-agent</title><style>{_STYLE}</style></head><body>
<h1>egov-agent {escape(__version__)}</h1>
<h2>Checks not OK</h2>{checks}
<h2>Collectors</h2>
<table><tr><th>collector</th><th>last run</th><th>result</th><th>duration</th><th>error</th></tr>
{"".join(rows)}</table>
<p><a href="/metrics">metrics</a> · <a href="/healthz">healthz</a></p>
</body></html>
"""
    return page.encode()
