"""The agent's own status page, for when no Prometheus is at hand.

The site tree with the worst state of each site rolled up to its ancestors (UNREACHABLE
sites with the down uplink behind them), the checks that are not OK and since when, every
target's checks, and each collector's last run. Vietnamese first, then English; one
self-contained HTML document (inline CSS, no script, no external asset) readable on a
phone. Target names and summaries come from devices and inventories: all of it is escaped.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from html import escape

from agent import __version__
from agent.checks import Check, State, worst
from agent.htmlstyle import BASE_STYLE
from agent.snapshot import Snapshot

STATE_NAMES = {
    State.OK: "Bình thường",
    State.WARNING: "Cảnh báo",
    State.CRITICAL: "Nghiêm trọng",
    State.UNKNOWN: "Không rõ",
    State.UNREACHABLE: "Không truy cập được",
    State.MAINTENANCE: "Bảo trì",
}
# the most urgent first, as worst() ranks them
_URGENCY = [State.CRITICAL, State.UNKNOWN, State.WARNING, State.UNREACHABLE, State.MAINTENANCE, State.OK]
THIS_HOST = "#this-host"  # the tree node of checks placed at no inventory site

_STYLE = BASE_STYLE + """
body{max-width:72rem}
.meta{color:inherit}nav,.meta{font-size:.9rem}nav a{white-space:nowrap}
.OK{background:#1e7b34}.WARNING{background:#b26a00}.CRITICAL{background:#b00020}
.UNKNOWN{background:#5f6368}.UNREACHABLE{background:#6a1b9a}.MAINTENANCE{background:#0b57a4}
.counts>span{display:inline-block;white-space:nowrap;margin:0 .6rem .3rem 0}
ul.tree{list-style:none;margin:0;padding-left:1rem;border-left:1px dotted #bbb}
ul.tree.top{padding-left:0;border:0}
ul.tree li{margin:.2rem 0}
summary{cursor:pointer}
.site{font-weight:600;display:inline-block}.note{display:block;font-size:.85rem;color:#6a1b9a;margin-left:1rem}
.hosts{font-size:.9rem;margin:.1rem 0 .2rem 1rem}.hosts .host{margin-right:.7rem;display:inline-block}
details.target{border:1px solid #e3e3e3;border-radius:.3rem;margin:.4rem 0;padding:.3rem .5rem}
details.target>div{margin-top:.3rem;scroll-margin-top:3rem}
@media (max-width:600px){
body{padding:.5rem}
table tr:first-child{display:none}
table tr{display:block;border-bottom:1px solid #ccc;padding:.35rem 0}
table td{display:inline-block;border:0;padding:.1rem .6rem .1rem 0;text-align:left}
table td.block{display:block}table td:empty{display:none}
table td[data-label]::before{content:attr(data-label) ": ";font-size:.8rem;color:#666}
}
"""


def both(vietnamese: str, english: str) -> str:
    """Vietnamese first, then English (both already safe HTML)."""
    return f'{vietnamese} / <span lang=en>{english}</span>'


def _badge(state: State) -> str:
    return f"<span class='badge {state.name}'>{STATE_NAMES[state]} ({state.name})</span>"


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds % 60:02d}s" if minutes else f"{seconds}s"


def _since(timestamp: float, now: float) -> str:
    """How long, then the local time it began (the agent's clock)."""
    began = time.localtime(timestamp)
    return (f"<time datetime='{time.strftime('%Y-%m-%dT%H:%M:%S%z', began)}'>{duration(now - timestamp)}</time> "
            f"<small>{time.strftime('%Y-%m-%d %H:%M:%S', began)}</small>")


def _anchor(target: str) -> str:
    """A stable id for a target: ASCII letters, digits and _.- kept, anything else (even ~) as ~hex~."""
    return "t-" + re.sub(r"[^A-Za-z0-9_.-]", lambda m: f"~{ord(m.group()):x}~", target)


def _target_link(target: str) -> str:
    return f"<a href='#{_anchor(target)}'>{escape(target)}</a>"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _thresholds(check: Check) -> str:
    return ", ".join(f"{escape(level)} {_number(value)}" for level, value in check.thresholds.items()
                     if value is not None)


def _cell(content: str, css: str = "", label: str = "") -> str:
    """A table cell; on a phone the row flows as text, `label` naming a value that needs it there."""
    attributes = (f" class={css}" if css else "") + (f" data-label='{label}'" if label else "")
    return f"<td{attributes}>{content}</td>"


def _table(headings: list[tuple[str, str]], rows: list[str]) -> str:
    head = "".join(f"<th>{both(vi, en)}</th>" for vi, en in headings)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


class _Page:
    """The rows of one snapshot, grouped by site and target."""

    def __init__(self, snapshot: Snapshot, now: float):
        rows, self.outages, self.inventory, self.maintenance = snapshot.check_rows()
        self.statuses, self.now = snapshot.statuses(), now
        self.month = _month_so_far(self.statuses)
        sites = self.inventory.sites if self.inventory is not None else {}
        # row: (check, state, since, site, team); checks of no inventory site hang under "this host"
        self.rows = sorted(((c, s, since, site if site in sites else THIS_HOST) for c, s, since, site, _ in rows),
                           key=lambda r: (_URGENCY.index(r[1]), r[2], r[0].target, r[0].name))
        self.by_target: dict[str, list] = defaultdict(list)
        self.targets_at: dict[str, dict[str, State]] = defaultdict(dict)
        for row in self.rows:
            check, state, _, site = row
            self.by_target[check.target].append(row)
            self.targets_at[site][check.target] = worst([self.targets_at[site].get(check.target, State.OK), state])
        self.rolled: dict[str, State] = {}
        if self.inventory is not None:
            self._roll(self.inventory.root.name)
        self.rolled[THIS_HOST] = worst(self.targets_at[THIS_HOST].values())

    def _roll(self, site: str) -> State:
        own = list(self.targets_at[site].values())
        if self.outages.unreachable(site) and site not in self.maintenance:  # a cut inside its window is expected
            own.append(State.UNREACHABLE)
        children = [self._roll(child.name) for child in self.inventory.children(site)]
        self.rolled[site] = worst(own + children)
        return self.rolled[site]

    def overall(self) -> State:
        return worst(self.rolled.values())

    # --- sections ---------------------------------------------------------------------
    def counts(self) -> str:
        per_state = Counter(state for _, state, _, _ in self.rows)
        return "".join(f"<span>{_badge(state)} {per_state[state]}</span> " for state in _URGENCY if per_state[state]) \
            or f"<small>{both('Chưa có kết quả kiểm tra', 'no check results yet')}</small>"

    def tree(self) -> str:
        parts = []
        if self.inventory is not None:
            parts.append(self._site(self.inventory.root.name, top=True))
        if self.inventory is None or self.targets_at[THIS_HOST]:
            label = f"<span class=site>{both('Máy này', 'This host')}</span>"
            parts.append(f"<li data-site='{THIS_HOST}' data-state={self.rolled[THIS_HOST].name}>"
                         f"{_badge(self.rolled[THIS_HOST])} {label}{self._hosts(THIS_HOST)}</li>")
        return f"<ul class='tree top'>{''.join(parts)}</ul>"

    def _site(self, name: str, top: bool = False) -> str:
        site, state = self.inventory.sites[name], self.rolled[name]
        label = (f"{_badge(state)} <span class=site>{escape(site.display_name)}</span> "
                 f"<small>{escape(site.name)} · {escape(site.type)}</small>")
        if site.uplink and site.uplink != site.parent:
            label += f" <small>· {both('đường truyền qua', 'uplink via')} {escape(site.uplink)}</small>"
        if name in self.month:
            label += f" <small class=month>· {both('tháng này', 'this month')} {self.month[name]:.3%}</small>"
        label += self._outage_note(name)
        children = "".join(self._site(child.name) for child in self.inventory.children(name))
        inside = self._hosts(name) + (f"<ul class=tree>{children}</ul>" if children else "")
        item = f"<li data-site='{escape(name)}' data-state={state.name}>"
        if not inside:
            return f"{item}{label}</li>"
        is_open = " open" if top or state != State.OK else ""
        return f"{item}<details{is_open}><summary>{label}</summary>{inside}</details></li>"

    def _outage_note(self, site: str) -> str:
        reason = self.maintenance.get(site)
        if reason is not None:
            return f"<span class=note>{both('Đang bảo trì', 'in maintenance')}: {escape(reason)}</span>"
        cause = self.outages.cause.get(site)
        if cause is not None:
            shown = escape(self.inventory.sites[cause].display_name)
            text = both(f"Mất kết nối: đường truyền của {shown} bị gián đoạn",
                         f"cut off: the uplink of {shown} is down")
            return f"<span class=note>{text} <small>({escape(cause)})</small></span>"
        if self.outages.uplink_up.get(site) is False:
            text = both("Đường truyền bị gián đoạn: không router nào trả lời ping",
                         "uplink down: no router answers ping")
            behind = self.outages.roots.get(site, 0)
            if behind:
                text += " — " + both(f"{behind} điểm phía sau mất kết nối",
                                      f"{behind} sites cut off behind it")
            return f"<span class=note>{text}</span>"
        return ""

    def _hosts(self, site: str) -> str:
        targets = self.targets_at[site]
        if not targets:
            return ""
        links = "".join(f"<span class=host>{_dot(targets[t])}{_target_link(t)}</span>" for t in sorted(targets))
        return f"<div class=hosts>{links}</div>"

    def problems(self) -> str:
        rows = [self._check_row(row, with_target=True) for row in self.rows if row[1] != State.OK]
        if not rows:
            return f"<p>{_badge(State.OK)} {both('Mọi kiểm tra đều bình thường.', 'All checks OK.')}</p>"
        return _table([("Trạng thái", "State"), ("Đối tượng", "Target"), ("Kiểm tra", "Check"),
                       ("Từ lúc", "Since"), ("Chi tiết", "Detail")], rows)

    def _check_row(self, row, with_target: bool) -> str:
        check, state, since, _ = row
        cells = [_cell(_badge(state))]
        if with_target:
            cells.append(_cell(_target_link(check.target)))
        cells += [_cell(escape(check.label)), _cell(_since(since, self.now), label="Từ lúc / Since")]
        measured = []
        if check.value is not None:
            measured.append(f"{both('giá trị', 'value')} {_number(check.value)}")
        if _thresholds(check):
            measured.append(f"{both('ngưỡng', 'thresholds')} {_thresholds(check)}")
        detail = escape(check.summary) + (f"<br><small>{'; '.join(measured)}</small>" if measured else "")
        cells.append(_cell(detail, "block"))
        return f"<tr>{''.join(cells)}</tr>"

    def targets(self) -> str:
        if not self.by_target:
            none = both("Chưa có đối tượng nào được kiểm tra.", "No target checked yet.")
            return f"<p><small>{none}</small></p>"
        parts = []
        order = sorted(self.by_target, key=lambda t: (_URGENCY.index(self._target_state(t)), t))
        for target in order:
            rows = self.by_target[target]
            state, site = self._target_state(target), rows[0][3]
            where = (escape(self.inventory.sites[site].display_name) if site != THIS_HOST
                     else both("Máy này", "this host"))
            table = _table([("Trạng thái", "State"), ("Kiểm tra", "Check"), ("Từ lúc", "Since"),
                            ("Chi tiết", "Detail")], [self._check_row(row, with_target=False) for row in rows])
            is_open = " open" if state != State.OK else ""
            parts.append(f"<details class=target data-state={state.name}{is_open}><summary>{_badge(state)} "
                         f"<b>{escape(target)}</b> <small>{where}</small></summary>"
                         f"<div id='{_anchor(target)}'>{table}</div></details>")
        return "".join(parts)

    def _target_state(self, target: str) -> State:
        return worst(state for _, state, _, _ in self.by_target[target])

    def collectors(self) -> str:
        rows = []
        for status in self.statuses:
            last = status.last
            name = _cell(f"<b>{escape(status.name)}</b>")
            if last is None:
                rows.append(f"<tr>{name}{_cell(both('chưa chạy', 'never'))}{_cell(both('đang chờ', 'pending'))}"
                            "<td></td><td></td></tr>")
                continue
            result = _badge(State.OK) if last.success else f"{_badge(State.CRITICAL)} {escape(last.reason or '')}"
            ago = f"{duration(self.now - last.started)} {both('trước', 'ago')}"
            rows.append(f"<tr>{name}{_cell(ago)}{_cell(result)}{_cell(f'{last.duration * 1000:.1f} ms', 'num')}"
                        f"{_cell(escape(last.detail), 'block')}</tr>")
        return _table([("Bộ thu thập", "Collector"), ("Lần chạy cuối", "Last run"), ("Kết quả", "Result"),
                       ("Thời gian chạy", "Duration"), ("Lỗi", "Error")], rows)


def _month_so_far(statuses) -> dict[str, float]:
    """Each site's availability this month so far, from the availability collector's last run."""
    last = next((s.last for s in statuses if s.name == "availability" and s.last is not None), None)
    if last is None or not last.success:
        return {}
    return {site: float(value) for site, value in _MONTH_RATIO.findall(last.text.decode())}


# the availability collector's own lines; a site is an Ansible group name, nothing in it escaped
_MONTH_RATIO = re.compile(r'^egov_site_availability_month_ratio\{site="([^"\\]*)"\} (\S+)$', re.MULTILINE)


def _dot(state: State) -> str:
    """A small state marker before a host name in the tree."""
    return f"<span class='badge {state.name}' title='{state.name}'>{state.name[0]}</span>&nbsp;"


# (anchor, Vietnamese, English, the _Page method that renders it)
_SECTIONS = [("tree", "Cây địa điểm", "Site tree", _Page.tree),
             ("problems", "Kiểm tra không bình thường", "Checks not OK", _Page.problems),
             ("targets", "Chi tiết theo đối tượng", "Targets in detail", _Page.targets),
             ("collectors", "Bộ thu thập", "Collectors", _Page.collectors)]


def render(snapshot: Snapshot) -> bytes:
    now = time.time()
    page = _Page(snapshot, now)
    overall = page.overall()
    generated = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(now))
    links = [f"<a href='#{anchor}'>{both(vi, en)}</a>" for anchor, vi, en, _ in _SECTIONS]
    links += ["<a href='/metrics'>metrics</a>", "<a href='/healthz'>healthz</a>"]
    sections = "".join(f"<h2 id={anchor}>{both(vi, en)}</h2>\n{part(page)}\n" for anchor, vi, en, part in _SECTIONS)
    html = f"""<!doctype html>
<html lang=vi><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>{STATE_NAMES[overall]} ({overall.name}) — egov-agent</title><style>{_STYLE}</style></head><body>
<h1>{both('Trạng thái', 'Status')}</h1>
<p class=meta>{both('Tổng thể', 'Overall')}: {_badge(overall)}<br>
egov-agent {escape(__version__)} · {both('cập nhật lúc', 'as of')} {generated}</p>
<p class=counts>{page.counts()}</p>
<nav>{" · ".join(links)}</nav>
{sections}</body></html>
"""
    return html.encode()


class Cached:
    """The page rendered once per snapshot change, its bytes served to every client: rendered
    per request, a large page took the CPU and the snapshot's lock that scrapes need."""

    def __init__(self, snapshot: Snapshot):
        self._snapshot = snapshot
        self._render_lock = threading.Lock()  # one render at a time; scrapes never take it
        self._page: tuple[int, bytes] = (-1, b"")

    def page(self) -> bytes:
        generation, body = self._page
        if generation == self._snapshot.generation:
            return body
        with self._render_lock:
            if self._page[0] != self._snapshot.generation:
                # read before rendering: a change during the render makes the next request render again
                generation = self._snapshot.generation
                self._page = (generation, render(self._snapshot))
            return self._page[1]
