"""The availability report as one self-contained, printable (A4) HTML page: Vietnamese, then
English; per site a picture of the month (a strip per day, top midnight, bottom the next,
coloured by state), the worst sites first; then the services against their targets and
every target. No script, no external asset; names from the inventory are escaped."""

from __future__ import annotations

from html import escape

from agent.htmlstyle import BASE_STYLE
from agent.report.availability import Report

COLOURS = {"up": "#1e7b34", "down": "#b00020", "cut_off": "#6a1b9a", "maintenance": "#0b57a4", "no_data": "#bdbdbd"}
NAMES = {"up": ("Hoạt động", "up"), "down": ("Gián đoạn", "down"), "cut_off": ("Mất kết nối do tuyến trên", "cut off"),
         "maintenance": ("Bảo trì", "maintenance"), "no_data": ("Không có dữ liệu", "no data")}
DAY_WIDTH, STRIP_HEIGHT = 22, 36  # px: a month is at most 682 px wide (A4's text width), a day 36 px tall
SHORTEST = 3  # px: the height a five-minute outage still gets

_STYLE = BASE_STYLE + """
@page{size:A4;margin:12mm}
body{max-width:190mm;font-size:12px;-webkit-print-color-adjust:exact;print-color-adjust:exact}
h1{font-size:1.25rem}h2{font-size:1rem;break-after:avoid}
table{overflow-wrap:normal}th,td{padding:.15rem .3rem}th{font-size:.7rem;font-weight:600}
tbody{break-inside:avoid}tr.strip td{border-bottom:1px solid #ccc;padding-bottom:.4rem}
svg text{font-size:9px;fill:#fff}
.legend span{display:inline-block;margin-right:.8rem;white-space:nowrap}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:-.1rem;margin-right:.25rem}
.warn{border-left:4px solid #b26a00;background:#fff6e5;padding:.3rem .5rem;margin:.3rem 0}
.low{color:#b00020;font-weight:600}
svg{display:block}
"""


def both(vietnamese: str, english: str) -> str:
    return f"{vietnamese} / <span lang=en>{english}</span>"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} %"


def _strip(days: list[list[tuple[int, int, str]]]) -> str:
    """A site's month: one column per day, its minutes from top to bottom, green where up."""
    width = DAY_WIDTH * len(days)
    rects = [f"<rect width='{width}' height='{STRIP_HEIGHT}' fill='{COLOURS['up']}'/>"]
    for day, runs in enumerate(days):
        for start, end, name in runs:
            top = start * STRIP_HEIGHT / 1440
            height = max((end - start) * STRIP_HEIGHT / 1440, SHORTEST)
            rects.append(f"<rect x='{day * DAY_WIDTH}' y='{top:.2f}' width='{DAY_WIDTH - 1}' height='{height:.2f}' "
                         f"fill='{COLOURS[name]}'><title>{day + 1}: {NAMES[name][1]} {end - start} min</title></rect>")
    ticks = "".join(f"<rect x='{day * DAY_WIDTH + DAY_WIDTH - 1}' width='1' height='{STRIP_HEIGHT}' fill='#fff'/>"
                    f"<text x='{day * DAY_WIDTH + 2}' y='{STRIP_HEIGHT - 3}'>{day + 1}</text>"
                    for day in range(len(days)))
    return (f"<svg width='{width}' height='{STRIP_HEIGHT}' viewBox='0 0 {width} {STRIP_HEIGHT}' role=img "
            f"aria-label='{len(days)} days'>{''.join(rects)}{ticks}</svg>")


def _minutes_row(row: dict) -> str:
    causes = ", ".join(f"{escape(cause)} {minutes}" for cause, minutes in row["cut_off_by"].items())
    cut = f"{row['cut_off']}" + (f"<br><small>{causes}</small>" if causes else "")
    return (f"<td class=num>{row['down']}</td><td class=num>{cut}</td><td class=num>{row['maintenance']}</td>"
            f"<td class=num>{row['no_data']}</td><td class=num>{row['outages']}</td>"
            f"<td class=num>{row['longest_outage']}</td>")


MINUTE_HEADINGS = [("Gián đoạn", "down"), ("Mất kết nối (do)", "cut off (by)"), ("Bảo trì", "maintenance"),
                   ("Không dữ liệu", "no data"), ("Số lần", "outages"), ("Lâu nhất", "longest")]


def _heading(columns: list[tuple[str, str]]) -> str:
    return "<tr>" + "".join(f"<th>{both(vi, en)}</th>" for vi, en in columns) + "</tr>"


SERVICE_KINDS = {"role": ("vai trò", "role"), "check": ("kiểm tra", "check")}
SERVICE_HEADINGS = [("Dịch vụ", "service"), ("Sẵn sàng", "available"), ("Mục tiêu", "target"),
                    ("Còn lại / cho phép", "budget left / allowed")]
COUNTED = both("Mức sẵn sàng = hoạt động / (hoạt động + gián đoạn); thời gian bảo trì, mất kết nối do tuyến trên "
               "và không có dữ liệu không tính vào",
               "availability = up / (up + down); maintenance, cut-off by an upstream site and minutes without "
               "data are left out")


def render(report: Report) -> str:
    year, number = report.month.label.split("-")
    label = escape(report.month.label)
    title = both(f"Báo cáo mức sẵn sàng tháng {int(number)} năm {year}", f"Availability report, {label}")
    period = (f"{both('Giờ địa phương', 'local time')} {escape(report.timezone)}: "
              f"{escape(report.local(report.month.start))} → {escape(report.local(report.month.full_end))}")
    legend = "".join(f"<span><i style='background:{COLOURS[key]}'></i>{both(*NAMES[key])}</span>" for key in COLOURS)
    warnings = "".join(f"<p class=warn>{escape(vi)}<br><span lang=en>{escape(en)}</span></p>"
                       for vi, en in report.warnings)
    sites = "".join(
        f"<tbody><tr><td><b>{escape(s['name'])}</b><br><small>{escape(s['site'])} · {escape(s['type'])}"
        + (f" · {both('làm mất kết nối', 'cut off others')} {s['cut_off_others']}" if s["cut_off_others"] else "")
        + f"</small></td><td class=num>{_percent(s['availability'])}</td>{_minutes_row(s)}</tr>"
        f"<tr class=strip><td colspan=8>{_strip(s['days'])}</td></tr></tbody>" for s in report.sites)
    services = "".join(
        f"<tr><td><b>{escape(s['service'])}</b> <small>{both(*SERVICE_KINDS[s['kind']])} · {s['count']}</small></td>"
        f"<td class=num>{_percent(s['availability'])}</td>"
        f"<td class=num>{_percent(s['target'])}</td>"
        + (f"<td class='num{' low' if s['budget_left'] < 0 else ''}'>{s['budget_left']:.1f} / {s['budget']:.1f}</td>"
           if s.get("budget") is not None else "<td></td>")
        + f"{_minutes_row(s)}</tr>" for s in report.services)
    targets = "".join(
        f"<tr><td>{escape(t['target'])}<br><small>{escape(t['site'])} · {escape(t['role'])}</small></td>"
        f"<td class=num>{_percent(t['availability'])}</td>{_minutes_row(t)}</tr>" for t in report.targets)
    complete = "" if report.month.end == report.month.full_end else \
        f" ({both('đến', 'to')} {escape(report.local(report.month.end))})"
    return f"""<!doctype html>
<html lang=vi><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>Mức sẵn sàng tháng {number}/{year} — Availability {label}</title><style>{_STYLE}</style></head>
<body>
<h1>{title}</h1>
<p class=meta>{period}{complete} · Prometheus {escape(report.prometheus)} ·
{both('lập lúc', 'made')} {escape(report.local(report.generated))}<br>
{COUNTED}.
{both('Số liệu tính bằng phút', 'figures in minutes')}.</p>
{warnings}
<p class=legend>{legend}</p>
<h2>{both('Theo địa điểm, thấp nhất trước', 'Per site, the worst first')}</h2>
<p class=meta>{both('Mỗi cột là một ngày, từ 0 giờ (trên) đến 24 giờ (dưới)',
                     'each column is a day, from midnight (top) to midnight (bottom)')}.</p>
<table>{_heading([("Địa điểm", "site"), ("Sẵn sàng", "available")] + MINUTE_HEADINGS)}
{sites}</table>
<h2>{both('Theo dịch vụ, so với mục tiêu', 'Per service, against its target')}</h2>
<table>{_heading(SERVICE_HEADINGS + MINUTE_HEADINGS)}
{services}</table>
<h2>{both('Theo đối tượng', 'Per target')}</h2>
<table>{_heading([("Đối tượng", "target"), ("Sẵn sàng", "available")] + MINUTE_HEADINGS)}
{targets}</table>
</body></html>
"""
