"""Check states: raw measurements turned into OK / WARNING / CRITICAL / UNKNOWN / UNREACHABLE /
MAINTENANCE.

The first four numbers are Nagios plugin exit codes, so `egov-agent check` fits Nagios,
Icinga and Zabbix as it is; UNREACHABLE (behind a down uplink) exits as UNKNOWN there, and
MAINTENANCE (inside a declared maintenance window: agent.inventory.service_levels) as OK.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class State(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3
    UNREACHABLE = 4
    MAINTENANCE = 5

    @property
    def exit_code(self) -> int:
        return 0 if self is State.MAINTENANCE else min(self.value, 3)


@dataclass(frozen=True)
class Check:
    """One evaluated check: `name` on `target` is in `state` because of `value`.

    `name` is the check's own (the `check` label): the kind (http, icmp, filesystem ...) unless a host
    lists several checks of the kind, each by its name (so-y-te); `kind` is then the kind."""

    name: str
    target: str
    state: State
    summary: str
    value: float | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why a probe could not measure the target (agent.collector.REASONS); "" if it did
    kind: str = ""  # "" means the name

    def __post_init__(self):
        if not self.kind:
            object.__setattr__(self, "kind", self.name)

    @property
    def label(self) -> str:
        """How tables name the check: `http so-y-te` for one of several, else `http`."""
        return self.name if self.name == self.kind else f"{self.kind} {self.name}"


def above(value: float, warning: float | None, critical: float | None) -> State:
    """State of a measurement that is bad when high (load, loss, latency)."""
    if critical is not None and value >= critical:
        return State.CRITICAL
    if warning is not None and value >= warning:
        return State.WARNING
    return State.OK


def below(value: float, warning: float | None, critical: float | None) -> State:
    """State of a measurement that is bad when low (free space, days of certificate left)."""
    if critical is not None and value <= critical:
        return State.CRITICAL
    if warning is not None and value <= warning:
        return State.WARNING
    return State.OK


def levels(warning: float | None, critical: float | None) -> dict[str, float]:
    """A check's thresholds: the levels in force (None switches a level off)."""
    return {level: limit for level, limit in (("warning", warning), ("critical", critical)) if limit is not None}


def judged(name: str, target: str, value: float, summary: str, warning: float | None, critical: float | None,
           bad=above) -> Check:
    """The check of one measurement against its two levels, `bad` being `above` for what is bad
    when high, `below` for what is bad when low."""
    return Check(name, target, bad(value, warning, critical), summary, value, levels(warning, critical))


def worst(states) -> State:
    """The exit state of a set of checks: the worst one, UNKNOWN ranking below CRITICAL."""
    order = [State.OK, State.MAINTENANCE, State.UNREACHABLE, State.WARNING, State.UNKNOWN, State.CRITICAL]
    states = list(states)
    return max(states, key=order.index) if states else State.OK
