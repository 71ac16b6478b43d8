"""The cached snapshot a scrape serves: each collector's last output, rendered once.

Each collector's output is rendered in both formats, and its OpenMetrics (what Prometheus asks
for) gzipped, when the collector finishes; a scrape joins those bytes, so it never runs
collector code nor waits for a probe. The text format is gzipped for the first scrape that
asks for it gzipped, once per result: gzipping both at every run was a tenth of the host
collectors' CPU for a format Prometheus does not ask for. Gzip members concatenate into one valid stream (RFC 1952 §2.2: a gzip file
is a series of members), and clients read them all (Go's compress/gzip Reader, which
Prometheus uses, is multistream by default; so are Python's gzip and urllib3). Only the
collector health and the check states are rendered at the scrape, outside the lock that
the scheduler takes to record a result: they change with every result.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from agent import __version__
from agent.checks import Check, State
from agent.metrics import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, render
from agent.states import CheckStates

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_OM_EOF = b"# EOF\n"


def gzip_member(data: bytes) -> bytes:
    # level 1: 40-60 % of level 6's CPU (0.41 against 0.70 ms a round of the host collectors,
    # 29 against 74 ms for 5 MB of probe series) for 4-15 % more bytes, on a LAN
    return gzip.compress(data, compresslevel=1, mtime=0)


_OM_EOF_GZIP = gzip_member(_OM_EOF)


@dataclass
class Result:
    """One run of one collector."""

    collector: str
    started: float  # wall clock, seconds since the epoch
    duration: float
    reason: str | None = None  # None on success, else one of agent.collector.REASONS
    detail: str = ""
    text: bytes = b""
    openmetrics: bytes = b""
    openmetrics_gzip: bytes = b""  # as one gzip member
    checks: list[Check] = field(default_factory=list)
    _text_gzip: bytes | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.reason is None

    def part(self, openmetrics: bool, compress: bool) -> bytes:
        """This run's exposition in a format, as a gzip member if `compress`."""
        if not compress:
            return self.openmetrics if openmetrics else self.text
        if openmetrics:
            return self.openmetrics_gzip
        if self._text_gzip is None:  # two scrapes at once may both compress it: the same bytes
            self._text_gzip = gzip_member(self.text)
        return self._text_gzip


@dataclass
class CollectorStatus:
    """What the status page and the health metrics show for one collector."""

    name: str
    interval: float
    last: Result | None = None
    last_success: Result | None = None


def _checks_of(result: Result) -> list[Check]:
    """A run's checks; a failed collector is one UNKNOWN check."""
    if result.success:
        return result.checks
    return [Check("collector", result.collector, State.UNKNOWN, f"{result.reason}: {result.detail}")]


class Snapshot:
    def __init__(self):
        self._lock = threading.Lock()
        self._status: dict[str, CollectorStatus] = {}
        self._errors: Counter[tuple[str, str]] = Counter()  # (collector, reason): survives reloads
        self._reload_ok, self._reload_time = True, time.time()
        self._cache: dict[tuple[bool, bool], bytes] = {}
        self.generation = 0  # counts changes: a body (or status page) rendered outside the lock is kept only
        #                      if none came meanwhile
        self._states = CheckStates()
        self._states_gzip = (b"", gzip_member(b""))  # the states' last text and its member: most scrapes reuse it

    def configure(self, hold: float, inventory, host: str | None) -> None:
        """The check hold time and the inventory that places each target (at start and reload)."""
        with self._lock:
            self._states.configure(hold, inventory, host)
            self._changed()

    def _changed(self) -> None:
        """Under the lock, after every write: what was rendered from an older generation is stale."""
        self._cache.clear()
        self.generation += 1

    # --- written by the scheduler -------------------------------------------------
    def set_collectors(self, intervals: dict[str, float]) -> None:
        """The configured collectors (after start or reload); keeps the results of those that stay."""
        with self._lock:
            self._status = {name: CollectorStatus(name, interval, *self._kept(name))
                            for name, interval in intervals.items()}
            self._changed()

    def _kept(self, name: str) -> tuple:
        old = self._status.get(name)
        return (old.last, old.last_success) if old else (None, None)

    def record(self, result: Result) -> None:
        with self._lock:
            status = self._status.get(result.collector)
            if status is None:  # removed by a reload while it ran
                return
            self._states.observe(_checks_of(result), _checks_of(status.last) if status.last else [], time.time())
            status.last = result
            if result.success:
                status.last_success = result
            else:
                self._errors[(result.collector, result.reason)] += 1
            self._changed()

    def reloaded(self, ok: bool) -> None:
        with self._lock:
            self._reload_ok = ok
            if ok:
                self._reload_time = time.time()
            self._changed()

    # --- read by the HTTP server, the status page and `check` ----------------------
    def waiting(self) -> list[str]:
        """The configured collectors that have not reported once yet: the agent is starting
        (its snapshot is not whole) while there is any."""
        with self._lock:
            return [status.name for status in self._status.values() if status.last is None]

    def statuses(self) -> list[CollectorStatus]:
        with self._lock:
            return list(self._status.values())

    def check_rows(self) -> tuple[list, object, object, dict[str, str]]:
        """(check, state shown, since, site, team) rows, the outages, the inventory (or None), and
        the sites in a maintenance window with its reason."""
        with self._lock:
            rows, outages = self._states.current()
            return rows, outages, self._states.inventory, self._states.maintenance[0]

    def checks(self) -> list[Check]:
        """Every check as operators see it: held, UNREACHABLE behind a down uplink."""
        rows, *_ = self.check_rows()
        return [replace(check, state=state) for check, state, *_ in rows]

    def exposition(self, openmetrics: bool = False, compress: bool = False) -> bytes:
        key = (openmetrics, compress)
        with self._lock:
            body = self._cache.get(key)
            if body is not None:
                return body
            generation, health, states = self.generation, self._health(), self._states.frozen()
            results = [status.last for status in self._status.values()
                       # a failed collector serves no stale data, only its success 0 (as node_exporter does)
                       if status.last is not None and status.last.success]
        text, om = render(health)
        head, checks = om if openmetrics else text, states.exposition()
        parts = [result.part(openmetrics, compress) for result in results]
        if compress:
            last, member = self._states_gzip
            if checks != last:
                member = gzip_member(checks)
                self._states_gzip = (checks, member)
            body = b"".join([gzip_member(head), member, *parts, _OM_EOF_GZIP if openmetrics else b""])
        else:
            body = b"".join([head, checks, *parts, _OM_EOF if openmetrics else b""])
        with self._lock:
            if self.generation == generation:
                self._cache[key] = body
        return body

    def _health(self) -> list:
        success = GaugeMetricFamily("egov_collector_success", "1 if the collector's last run succeeded.",
                                    labels=["collector"])
        duration = GaugeMetricFamily("egov_collector_duration_seconds", "Duration of the collector's last run.",
                                     labels=["collector"])
        last_ok = GaugeMetricFamily("egov_collector_last_success_timestamp_seconds",
                                    "When the collector last succeeded (Unix time).", labels=["collector"])
        errors = CounterMetricFamily("egov_collector_errors_total", "Failed collector runs by reason.",
                                     labels=["collector", "reason"])
        for status in self._status.values():
            if status.last is None:
                continue
            success.add_metric([status.name], 1.0 if status.last.success else 0.0)
            duration.add_metric([status.name], status.last.duration)
            if status.last_success is not None:
                last_ok.add_metric([status.name], status.last_success.started + status.last_success.duration)
        for (collector, reason), count in sorted(self._errors.items()):
            errors.add_metric([collector, reason], count)
        return [
            success, duration, last_ok, errors,
            GaugeMetricFamily("egov_config_last_reload_successful",
                              "1 if the last config and inventory reload succeeded.", value=int(self._reload_ok)),
            GaugeMetricFamily("egov_config_last_reload_success_timestamp_seconds",
                              "When config and inventory were last loaded successfully.", value=self._reload_time),
            InfoMetricFamily("egov_build", "egov-agent version.", value={"version": __version__}),
        ]
