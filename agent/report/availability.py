"""How available the province was in a calendar month, from a real Prometheus's history.

The agent's state series are the record: `egov_check_status` (per check: 0 OK … 5
MAINTENANCE, agent/states.py) and `egov_site_cut_off{site,cause}` (agent/outage.py). Every
minute of every check is one of:

- up: OK or WARNING;
- down: CRITICAL, or UNREACHABLE while the check's own site is the one whose uplink is down;
- cut off: UNREACHABLE while the site is cut off behind another's down uplink, attributed
  to that upstream site (`cause`), not counted against the site itself;
- maintenance: inside a declared window (MAINTENANCE), left out;
- no data: no sample (the agent or Prometheus was down) or UNKNOWN (nothing was judged):
  shown, counted neither as up nor as down.

Availability is up / (up + down). A target takes the worst of its checks minute by minute
(down, cut off, up, maintenance, no data, in that order); a site the worst of its own hosts;
a service (a role, or a check kind) adds up the minutes of its targets or checks, and is
held against its target in `egov_availability_targets`.

The month is a calendar month in the province's time zone (egov_timezone): an outage from
23:30 on the last day to 00:30 on the first counts 30 minutes in each. A minute is judged
by its samples (the highest, should two agents report it): Prometheus is asked per hour first
(the highest, the lowest value and the number of samples), and sample by sample only for the
hours where something changed or went missing, so a month of a province costs a few queries,
not a point per minute, and Prometheus evaluates 744 steps, not 44,640.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.inventory.service_levels import Schedule, province_vars
from agent.yamlfile import ConfigError

NO_DATA, MAINTENANCE, UP, CUT_OFF, DOWN = range(5)  # a minute's class; the higher wins a roll-up
CLASS_NAMES = ("no_data", "maintenance", "up", "cut_off", "down")
_OF_STATE = {0: UP, 1: UP, 2: DOWN, 3: NO_DATA, 5: MAINTENANCE}  # 4, UNREACHABLE: down or cut off, by the site


class PrometheusError(Exception):
    """Prometheus did not answer, or refused a query."""


class Prometheus:
    """The few calls of Prometheus's HTTP API the report makes (docs: "HTTP API", /api/v1/query,
    /api/v1/query_range, /api/v1/status/runtimeinfo)."""

    def __init__(self, url: str, timeout: float = 120.0):
        self.url, self.timeout = url.rstrip("/"), timeout

    def get(self, path: str, **params) -> dict:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 (the operator's URL)
                answer = json.load(response)
        except urllib.error.HTTPError as err:
            answer = json.loads(err.read() or b"{}")
            raise PrometheusError(f"{self.url}: {answer.get('error') or err}") from None
        except (OSError, ValueError) as err:
            raise PrometheusError(f"{self.url}: {err}") from None
        if answer.get("status") != "success":
            raise PrometheusError(f"{self.url}: {answer.get('error')}")
        return answer["data"]

    def retention(self) -> float | None:
        """Seconds of history Prometheus keeps (its storageRetention, e.g. "15d" or "30d or 10GiB")."""
        text = self.get("/api/v1/status/runtimeinfo").get("storageRetention", "")
        return parse_duration(text.split(" or ")[0]) if text and text[0].isdigit() else None


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str) -> float:
    """A Prometheus duration: 15d, 1y2w, 90m."""
    parts = re.findall(r"(\d+)(ms|[smhdwy])", text)
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


# --- the month -------------------------------------------------------------------------

@dataclass(frozen=True)
class Month:
    label: str  # 2026-11
    start: float  # Unix time of local midnight on the first
    end: float  # of the next month's first, or now (the minute begun) for the month in progress
    days: tuple[float, ...]  # Unix time of each local midnight in the month
    full_end: float

    @property
    def minutes(self) -> int:
        return int(self.end - self.start) // 60


def month(label: str, schedule: Schedule, now: float) -> Month:
    match = re.fullmatch(r"(\d{4})-(\d{2})", label or "")
    if not match or not 1 <= int(match[2]) <= 12:
        raise ConfigError(f"expected a month like 2026-11, got {label!r}", key="--month")
    year, number = int(match[1]), int(match[2])
    first = datetime(year, number, 1, tzinfo=schedule.timezone)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=schedule.timezone)
    if first.timestamp() >= now:
        raise ConfigError(f"{label} has not begun", key="--month")
    days, day = [], first
    while day < following:
        days.append(day.timestamp())
        day = (day + timedelta(days=1, hours=3)).replace(hour=0)  # a day of 23 or 25 hours stays one day
    end = min(following.timestamp(), now // 60 * 60)
    return Month(label, first.timestamp(), end, tuple(days), following.timestamp())


# --- timelines: [(first minute, end minute, class, cause)] covering the month ------------------

Timeline = list[tuple[int, int, int, str]]


def fetch(prometheus: Prometheus, selector: str, by: str, span: Month) -> dict[tuple, list[tuple[int, float | None]]]:
    """Per series (its `by` labels, the first one naming it in a query), the value from each minute
    where it changes: (minute, value), None from a minute without a sample.

    Asked per hour first (three range queries, an hour a step): an hour whose samples all hold
    one value, as many as the series' usual full hour, is that value throughout. Only the other
    hours (a change, a sample missing) are read sample by sample, one query per such hour."""
    labels = [name.strip() for name in by.split(",")]
    hours = -(-span.minutes // 60)
    window = {"start": span.start + 3600, "end": span.start + 3600 * hours, "step": "3600s"}
    queries = {"high": f"max by ({by}) (max_over_time({selector}[1h]))",
               "low": f"min by ({by}) (min_over_time({selector}[1h]))",
               "count": f"min by ({by}) (count_over_time({selector}[1h]))"}
    with ThreadPoolExecutor(len(queries)) as pool:  # each reads every sample of the month: run them together
        answers = dict(zip(queries, pool.map(
            lambda expression: prometheus.get("/api/v1/query_range", query=expression, **window), queries.values())))
    hourly = {}
    for name, answer in answers.items():
        for item in answer["result"]:
            key = tuple(item["metric"].get(label, "") for label in labels)
            hourly.setdefault(key, {}).setdefault(name, {}).update(
                {round((float(ts) - span.start) / 3600) - 1: float(v) for ts, v in item["values"]})
    values: dict[tuple, list] = {key: [None] * hours for key in hourly}  # per hour: a value, or per minute
    detail: dict[int, list[tuple]] = {}
    for key, got in hourly.items():
        counts = sorted(got["count"].values())
        full = counts[len(counts) // 2] - counts[len(counts) // 2] // 60  # a minute's samples of jitter
        for hour, count in got["count"].items():
            minutes = min(60, span.minutes - 60 * hour)
            if got["high"][hour] == got["low"][hour] and count >= full * minutes / 60:
                values[key][hour] = got["high"][hour]
            else:
                detail.setdefault(hour, []).append(key)
    for hour, keys in sorted(detail.items()):
        names = "|".join(sorted({re.escape(key[0]) for key in keys}))
        names = names.replace("\\", "\\\\").replace('"', '\\"')  # the regular expression as a PromQL string
        result = prometheus.get("/api/v1/query", query=f'{selector}{{{labels[0]}=~"{names}"}}[1h]',
                                time=span.start + 3600 * (hour + 1))["result"]
        minutes: dict[tuple, list] = {key: [None] * 60 for key in keys}
        for item in result:
            key = tuple(item["metric"].get(label, "") for label in labels)
            if key in minutes:
                for ts, v in item["values"]:
                    minute = int((float(ts) - span.start) // 60) - 60 * hour
                    if 0 <= minute < 60:
                        previous = minutes[key][minute]
                        minutes[key][minute] = float(v) if previous is None else max(previous, float(v))
        for key, per_minute in minutes.items():
            values[key][hour] = per_minute
    series = {}
    for key, per_hour in values.items():
        events, current = [], object()
        for hour, value in enumerate(per_hour):
            for offset, minute_value in enumerate(value if isinstance(value, list) else [value]):
                if 60 * hour + offset >= span.minutes:  # the month in progress ends with the last minute begun
                    break
                if minute_value != current:
                    events.append((60 * hour + offset, minute_value))
                    current = minute_value
        series[key] = events
    return series


def segments(events: list[tuple[int, float | None]], end: int) -> list[tuple[int, int, float | None]]:
    """Runs of one value from the change events, merged where a chunk repeated the value."""
    runs: list[list] = []
    for minute, value in events:
        if runs and runs[-1][0] == minute:
            runs[-1][1] = value
        elif not runs or runs[-1][1] != value:
            runs.append([minute, value])
    return [(start, (runs[i + 1][0] if i + 1 < len(runs) else end), value) for i, (start, value) in enumerate(runs)]


def classify(check: list[tuple[int, int, float | None]], cut: Timeline) -> Timeline:
    """A check's runs of states as minute classes; UNREACHABLE split by its site's cut-off runs."""
    out: Timeline = []
    for start, end, value in check:
        if value != 4:
            out.append((start, end, NO_DATA if value is None else _OF_STATE.get(int(value), NO_DATA), ""))
            continue
        for cut_start, cut_end, cls, cause in cut:
            a, b = max(start, cut_start), min(end, cut_end)
            if a < b:
                out.append((a, b, CUT_OFF if cls == CUT_OFF else DOWN, cause))
    return out


def worst(timelines: list[Timeline], end: int) -> Timeline:
    """Minute by minute the highest class of the timelines (each covering 0 to end)."""
    if len(timelines) == 1:
        return timelines[0]
    bounds = sorted({start for timeline in timelines for start, *_ in timeline} | {end})
    position = [0] * len(timelines)
    out: Timeline = []
    for a, b in zip(bounds, bounds[1:]):
        best = (NO_DATA, "")
        for i, timeline in enumerate(timelines):
            while timeline[position[i]][1] <= a:
                position[i] += 1
            _, _, cls, cause = timeline[position[i]]
            if cls > best[0]:
                best = (cls, cause)
        if out and out[-1][2:] == best and out[-1][1] == a:
            out[-1] = (out[-1][0], b, *best)
        else:
            out.append((a, b, *best))
    return out


# --- figures -----------------------------------------------------------------------------

@dataclass
class Figures:
    """What the report says of one site, service or target."""

    up: int = 0
    down: int = 0
    cut_off: int = 0
    maintenance: int = 0
    no_data: int = 0
    outages: int = 0
    longest: int = 0  # minutes, of the longest outage
    cut_off_by: dict[str, int] = field(default_factory=dict)

    @property
    def availability(self) -> float | None:
        counted = self.up + self.down
        return 100.0 * self.up / counted if counted else None

    def add(self, timeline: Timeline) -> Figures:
        for start, end, cls, cause in timeline:
            length = end - start
            setattr(self, CLASS_NAMES[cls], getattr(self, CLASS_NAMES[cls]) + length)
            if cls == CUT_OFF:
                self.cut_off_by[cause] = self.cut_off_by.get(cause, 0) + length
        for length in outages(timeline):
            self.outages += 1
            self.longest = max(self.longest, length)
        return self

    def as_dict(self) -> dict:
        availability = self.availability
        return {"availability": None if availability is None else round(availability, 4), "up": self.up,
                "down": self.down, "cut_off": self.cut_off, "cut_off_by": dict(sorted(self.cut_off_by.items())),
                "maintenance": self.maintenance, "no_data": self.no_data, "outages": self.outages,
                "longest_outage": self.longest}


def outages(timeline: Timeline) -> list[int]:
    """The lengths of the runs of down minutes (a run is one outage, whatever its causes)."""
    runs: list[int] = []
    previous_end = None
    for start, end, cls, _ in timeline:
        if cls == DOWN:
            if previous_end == start and runs:
                runs[-1] += end - start
            else:
                runs.append(end - start)
            previous_end = end
    return runs


def per_day(timeline: Timeline, span: Month) -> list[list[tuple[int, int, str]]]:
    """For each local day, the runs that are not up: (first minute of the day, end, class name)."""
    bounds = [round((day - span.start) / 60) for day in span.days] + [round((span.full_end - span.start) / 60)]
    days = []
    for day_start, day_end in zip(bounds, bounds[1:]):
        runs = [(max(start, day_start) - day_start, min(end, day_end) - day_start, CLASS_NAMES[cls])
                for start, end, cls, _ in timeline if cls != UP and start < day_end and end > day_start]
        days.append(runs)
    return days


@dataclass
class Report:
    month: Month
    timezone: str
    prometheus: str
    generated: float
    sites: list[dict]
    services: list[dict]
    targets: list[dict]
    warnings: list[tuple[str, str]]  # (Vietnamese, English)

    def local(self, timestamp: float) -> str:
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(timestamp, ZoneInfo(self.timezone)).isoformat(sep=" ", timespec="minutes")

    def as_dict(self) -> dict:
        return {"month": self.month.label, "timezone": self.timezone, "start": self.local(self.month.start),
                "end": self.local(self.month.end), "complete": self.month.end == self.month.full_end,
                "minutes": self.month.minutes, "prometheus": self.prometheus, "generated": self.local(self.generated),
                "warnings": [{"vi": vi, "en": en} for vi, en in self.warnings],
                "sites": self.sites, "services": self.services, "targets": self.targets}


def build(inventory, prometheus: Prometheus, label: str, limit: str | None = None,
          now: float | None = None) -> Report:
    from agent.inventory.limit import limit_hosts

    now = time.time() if now is None else now
    schedule = Schedule(inventory)
    span = month(label, schedule, now)
    hosts = {name: inventory.hosts[name] for name in limit_hosts(inventory, limit) if inventory.hosts[name].address}
    warnings = []
    retention = prometheus.retention()
    if retention and span.start < now - retention:
        days = retention / 86400
        warnings.append((f"Tháng {label} bắt đầu xa hơn thời gian Prometheus lưu dữ liệu ({days:g} ngày): phần "
                         "đầu tháng có thể đã bị xoá và hiện là không có dữ liệu.",
                         f"{label} begins further back than Prometheus keeps data ({days:g} days): its first days "
                         "may be gone and show as without data."))
    if span.end < span.full_end:
        warnings.append((f"Tháng {label} chưa kết thúc: số liệu tính đến thời điểm lập báo cáo.",
                         f"{label} is not over: the figures run to the time of the report."))

    statuses = fetch(prometheus, "egov_check_status", "target, check, kind, site", span)
    cuts = fetch(prometheus, "egov_site_cut_off", "site, cause", span)
    cut_off: dict[str, Timeline] = {}
    for (site, cause), events in cuts.items():
        runs = [(s, e, CUT_OFF if v is not None else NO_DATA, cause if v is not None else "")
                for s, e, v in segments(events, span.minutes)]
        cut_off[site] = worst([cut_off[site], runs], span.minutes) if site in cut_off else runs
    nothing: Timeline = [(0, span.minutes, NO_DATA, "")]

    checks: dict[str, dict[tuple[str, str], Timeline]] = {name: {} for name in hosts}  # target -> (kind, check)
    for (target, check, kind, _), events in statuses.items():
        if target in hosts:
            line = classify(segments(events, span.minutes), cut_off.get(hosts[target].site, nothing))
            checks[target][(kind or check, check)] = line  # an agent's series before `kind`: its check was the kind
    # a host the agents check (its egov_checks) without a series is all no data; one they do not check is left out
    hosts = {name: host for name, host in hosts.items() if host.checks or checks[name]}
    checks = {name: checks[name] for name in hosts}
    target_lines = {name: worst(list(by_kind.values()), span.minutes) if by_kind else nothing
                    for name, by_kind in checks.items()}

    targets = []
    for name, host in hosts.items():
        figures = Figures().add(target_lines[name])
        targets.append({"target": name, "site": host.site, "role": host.role,
                        "checks": sorted(kind if check == kind else f"{kind} {check}" for kind, check in checks[name]),
                        **figures.as_dict()})
    sites = []
    for site in inventory.sites.values():
        own = [target_lines[name] for name in site.hosts if name in hosts]
        if not own:
            continue
        line = worst(own, span.minutes)
        figures = Figures().add(line)
        sites.append({"site": site.name, "name": site.display_name, "type": site.type, **figures.as_dict(),
                      "days": per_day(line, span)})
    sites.sort(key=_worst_first)
    for site in sites:  # the minutes each upstream site cut the others off, attributed to it
        site["cut_off_others"] = sum(other["cut_off_by"].get(site["site"], 0) for other in sites)

    goals = province_vars(inventory).get("egov_availability_targets") or {}
    services = []
    roles = sorted({host.role for host in hosts.values()})
    kinds = sorted({kind for by_kind in checks.values() for kind, _ in by_kind})
    for kind, name, lines in ([("role", role, [target_lines[h] for h in hosts if hosts[h].role == role])
                               for role in roles] +
                              [("check", kind_, [line for c in checks.values() for (k, _), line in c.items()
                                                  if k == kind_]) for kind_ in kinds]):
        figures = Figures()
        for line in lines:
            figures.add(line)
        row = {"service": name, "kind": kind, "count": len(lines), **figures.as_dict(), "target": goals.get(name)}
        if row["target"] is not None:
            allowed = (100 - row["target"]) * (figures.up + figures.down) / 100
            row["budget"] = round(allowed, 1)
            row["budget_left"] = round(allowed - figures.down, 1)
        services.append(row)

    silent = [t for t in targets if t["no_data"]]
    if silent:
        most = max(t["no_data"] for t in silent)
        warnings.append((f"{len(silent)} đối tượng có phút không có dữ liệu (nhiều nhất {most} phút): không tính là "
                         "hoạt động, cũng không tính là gián đoạn.",
                         f"{len(silent)} targets have minutes without data (at most {most}): counted neither as up "
                         "nor as down."))
    return Report(span, schedule.timezone.key, prometheus.url, now, sites, services, targets, warnings)


def _worst_first(row: dict) -> tuple:
    availability = row["availability"]
    return (availability if availability is not None else 101.0, -row["down"], -row["cut_off"], row["site"])


CSV_COLUMNS = ("level", "name", "site", "kind", "availability", "up", "down", "cut_off", "cut_off_by",
               "maintenance", "no_data", "outages", "longest_outage", "target", "budget_left")


def to_csv(report: Report) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
    writer.writerow(CSV_COLUMNS)
    rows = ([("site", s["site"], s["site"], s["type"], s) for s in report.sites]
            + [("service", s["service"], "", s["kind"], s) for s in report.services]
            + [("target", t["target"], t["site"], t["role"], t) for t in report.targets])
    for level, name, site, kind, row in rows:
        causes = " ".join(f"{cause}:{minutes}" for cause, minutes in row["cut_off_by"].items())
        writer.writerow([level, name, site, kind, "" if row["availability"] is None else f"{row['availability']:.3f}",
                         row["up"], row["down"], row["cut_off"], causes, row["maintenance"], row["no_data"],
                         row["outages"], row["longest_outage"], row.get("target") or "", row.get("budget_left", "")])
    return out.getvalue()


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n"
