"""What every probe collector shares: targets from the inventory, bounded concurrency,
a timeout per target, failure as data, and per-target checks.

A probe collector (icmp, tcp, http, smtp, sip ...) subclasses `Probe`, names the
inventory check kind it serves (`name`, the key under a host's `egov_checks`), declares
the settings of that check (`CheckSettings`, a dataclass in the probe's own file), its
metric families (`FAMILIES`) and implements one coroutine:

    async def probe(self, target, check) -> Iterable[Sample]

which measures one target and returns its samples, or raises CollectorError(reason, detail)
when the target cannot be measured. The caller, not the probe, records
`egov_<kind>_up{target,site,check}`, `egov_<kind>_duration_seconds{target,site,check}` and
`egov_<kind>_failures_total{target,site,check,reason}`, as blackbox_exporter's prober caller does;
their HELP comes from the probe (`UP_HELP` ...), which knows what "up" means for it.
Probe families carry `target`, `site` and `check` first, then their own labels.

A host may list several checks of one kind (a web server's agency sites), each by its name;
`check` is that name, or the kind for the one check of the mapping form. The caller probes each
check as a target of its own and names its series and its Check: a probe never sees the name.
A kind a host can have once (icmp: the one address's loss) says so with `ONE_PER_HOST = True`
on its CheckSettings.

The inventory's check kinds are the registered probes' (`check_kinds()`): adding a probe
adds its kind, with no list to edit elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple

from agent.checks import Check, State, above
from agent.collector import Collector, CollectorError, CollectorSettings, discover
from agent.metrics import CounterMetricFamily, GaugeMetricFamily
from agent.schema import Duration

TARGET_LABELS = ["target", "site"]  # of every series about an inventory target
PROBE_LABELS = [*TARGET_LABELS, "check"]  # of every probe family
REQUIRED = {"required": True}  # metadata of a check field that must be set once the defaults are merged


class Sample(NamedTuple):
    family: str  # a key of FAMILIES
    value: float
    labels: tuple[str, ...] = ()  # values of the family's own labels, after target and site


@dataclass
class ProbeSettings(CollectorSettings):
    interval: Duration = 30.0
    timeout: Duration = 25.0
    concurrency: int = 100  # targets probed at once
    probe_timeout: Duration = 10.0  # one target; a target that takes longer fails with reason timeout

    def problems(self):
        yield from super().problems()
        if self.concurrency < 1:
            yield "concurrency", "must be at least 1"
        if not 0 < self.probe_timeout <= self.timeout:
            yield "probe_timeout", f"must be more than 0 and at most the timeout ({self.timeout:g}s)"


@dataclass
class TimedCheck:
    """A check judged by how long its probe took, the base of most probes' CheckSettings."""

    time_warning: Duration | None = None
    time_critical: Duration | None = None


@dataclass
class Outcome:
    """One target's result in one run."""

    target: Any  # agent.inventory.Target
    check: Any  # the probe's CheckSettings, the inventory's defaults merged
    duration: float
    samples: list[Sample]
    reason: str | None = None
    detail: str = ""
    name: str = ""  # the check's name (the `check` label); "" means the kind


class Probe(Collector):
    Settings = ProbeSettings
    CheckSettings: ClassVar[type] = TimedCheck  # a host's egov_checks.<name>, strict like Settings
    # family key -> (metric type "gauge" | "counter", help, own label names)
    FAMILIES: ClassVar[dict[str, tuple[str, str, list[str]]]] = {}
    # HELP of the series the caller records; {kind} is the probe's name
    UP_HELP: ClassVar[str] = "1 if the last {kind} probe of the target succeeded."
    DURATION_HELP: ClassVar[str] = "Duration of the last {kind} probe."
    FAILURES_HELP: ClassVar[str] = "Failed {kind} probes by reason."

    def __init__(self, settings=None, context=None):
        super().__init__(settings, context)
        self._failures: Counter[tuple[str, str, str, str]] = Counter()  # (target, site, check, reason), across runs
        self._outcomes: list[Outcome] = []

    def targets(self) -> list[tuple[Any, str, Any]]:
        """(target, check name, check) for every check of this kind that an inventory target lists."""
        inventory = self.context.inventory
        if inventory is None:
            return []
        return [(target, name, check) for target in inventory.targets()
                for name, check in target.checks.get(self.name, {}).items()]

    def has_work(self) -> bool:
        return bool(self.targets())

    async def probe(self, target, check) -> Iterable[Sample]:
        raise NotImplementedError

    def answered(self, outcome: Outcome) -> bool:
        """Whether a target that was measured is up; ICMP says no when every echo was lost."""
        return True

    async def collect(self):
        limit = asyncio.Semaphore(self.settings.concurrency)
        self._outcomes = []  # the last run's samples need not live on while this one collects
        self._outcomes = list(await asyncio.gather(*(self._probe_one(limit, *found) for found in self.targets())))
        return self._families(self._outcomes)

    async def _probe_one(self, limit: asyncio.Semaphore, target, name: str, check) -> Outcome:
        async with limit:
            started, measured = time.monotonic(), []  # measured: what a failing probe still found out
            try:
                samples = list(await asyncio.wait_for(self.probe(target, check), self.settings.probe_timeout))
                return Outcome(target, check, time.monotonic() - started, samples, name=name)
            except asyncio.TimeoutError:
                reason, detail = "timeout", f"no answer within {self.settings.probe_timeout:g}s"
            except CollectorError as err:
                reason, detail, measured = err.reason, err.detail, err.samples
            except OSError as err:
                reason, detail = "connect", err.strerror or str(err)
            except Exception as err:  # a bug for one target must not lose the others
                self.log.debug("probe raised", exc_info=True, extra={"target": target.name})
                reason, detail = "error", f"{type(err).__name__}: {err}"
            self._failures[(target.name, target.site, name, reason)] += 1
            self.log.info("probe failed", extra={"target": target.name, "check": name, "reason": reason,
                                                 "detail": detail})
            return Outcome(target, check, time.monotonic() - started, measured, reason, detail, name)

    def _families(self, outcomes: list[Outcome]) -> list:
        kind = self.name
        up = GaugeMetricFamily(f"egov_{kind}_up", self.UP_HELP.format(kind=kind), labels=PROBE_LABELS)
        duration = GaugeMetricFamily(f"egov_{kind}_duration_seconds", self.DURATION_HELP.format(kind=kind),
                                     labels=PROBE_LABELS)
        failures = CounterMetricFamily(f"egov_{kind}_failures_total", self.FAILURES_HELP.format(kind=kind),
                                       labels=[*PROBE_LABELS, "reason"])
        own = self.own_families(outcomes)
        for outcome in outcomes:
            where = [outcome.target.name, outcome.target.site, outcome.name or kind]
            up.add_metric(where, 0.0 if outcome.reason or not self.answered(outcome) else 1.0)
            duration.add_metric(where, outcome.duration)
        for (target, site, name, reason), count in sorted(self._failures.items()):
            failures.add_metric([target, site, name, reason], count)
        return [family for family in (up, duration, failures, *own.values()) if family.samples]

    def own_families(self, outcomes: Iterable[Outcome]) -> dict[str, Any]:
        """The probe's FAMILIES (by key) with the outcomes' samples."""
        own = {key: (GaugeMetricFamily if type_ == "gauge" else CounterMetricFamily)(
            f"egov_{self.name}_{key}", help_, labels=[*PROBE_LABELS, *labels])
            for key, (type_, help_, labels) in self.FAMILIES.items()}
        for outcome in outcomes:
            where = [outcome.target.name, outcome.target.site, outcome.name or self.name]
            for sample in outcome.samples:
                own[sample.family].add_metric([*where, *sample.labels], sample.value)
        return own

    def checks(self, metrics):
        return map(self.judge, self._outcomes)

    def judge(self, outcome: Outcome) -> Check:
        """A target's check: its failure, or what evaluate() makes of its samples."""
        if outcome.reason:
            # the agent's own configuration (a secret's variable unset, a key file unreadable) says
            # nothing about the target: UNKNOWN, and reported once for the agent (egov_check_config_error)
            state = State.UNKNOWN if outcome.reason == "config" else State.CRITICAL
            check = Check(self.name, outcome.target.name, state, f"{outcome.reason}: {outcome.detail}",
                          reason=outcome.reason)
        else:
            check = self.evaluate(outcome)
        return replace(check, name=outcome.name or self.name, kind=self.name)  # evaluate() names it by kind

    def evaluate(self, outcome: Outcome) -> Check:
        """The state of a target that answered, from its samples and its check's thresholds."""
        return self.timed(outcome, outcome.duration, f"answered in {outcome.duration * 1000:.0f} ms")

    def timed(self, outcome: Outcome, seconds: float, summary: str) -> Check:
        """OK, WARNING or CRITICAL by the check's time_warning / time_critical (a TimedCheck's);
        a probe whose CheckSettings has no time thresholds has its own evaluate()."""
        warning, critical = outcome.check.time_warning, outcome.check.time_critical
        thresholds = {k: v for k, v in (("warning", warning), ("critical", critical)) if v is not None}
        return Check(self.name, outcome.target.name, above(seconds, warning, critical), summary, seconds, thresholds)



def check_kinds() -> dict[str, type]:
    """Each inventory check kind (a key of a host's egov_checks) and its settings dataclass, from
    the registered collectors that declare one (the probes, and the syslog receiver's thresholds)."""
    return {name: cls.CheckSettings for name, cls in discover().items() if getattr(cls, "CheckSettings", None)}
