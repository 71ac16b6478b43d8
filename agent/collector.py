"""What a collector is, and how collectors register themselves.

A collector is one file in `collectors/`: a subclass of `Collector` with a `name`,
a `Settings` dataclass (its config block, strict; a comment beside each field says what
it means, and `egov-agent sample-config` prints it with the default) and a
`collect()` that returns metric families (`agent.metrics`), decorated
with `@register`; `discover()` imports every module of the package, so adding a
collector means adding a file, nothing else.

`collect()` is plain (run in a worker thread, for blocking libraries like psutil) or
`async` (run on the event loop, for probes). It reports failure by raising
`CollectorError(reason, detail)`; any other exception counts as reason `error`.
The environment (paths, library functions, and the clock `now`, which every collector
has) comes in through constructor keywords so tests point a collector at fixtures instead
of monkeypatching. A collector whose settings and inventory give it nothing to measure
says so in `has_work()`; the scheduler then runs it not at all, so a collector with
nothing to do costs nothing.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import pkgutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from agent.checks import Check
from agent.metrics import Family
from agent.schema import Duration

if TYPE_CHECKING:
    from agent.context import Context

# The fixed set of failure reasons: a bounded label, never an error message.
# tls: handshake or certificate refused; protocol: the peer answered, but not as it should.
REASONS = ("timeout", "connect", "tls", "auth", "protocol", "parse", "config", "error")


class CollectorError(Exception):
    """A collector failed for one of REASONS; `detail` is for logs and the status page.

    A probe that measured something before failing (an HTTP status, a certificate's expiry)
    passes those `samples` along: they are exported with the failure, as blackbox does.
    """

    def __init__(self, reason: str, detail: str, samples=()):
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        self.reason, self.detail, self.samples = reason, detail, list(samples)
        super().__init__(f"{reason}: {detail}")


@dataclass
class CollectorSettings:
    """Settings every collector has; a collector's own Settings subclass adds fields."""

    enabled: bool = True
    interval: Duration = 15.0
    timeout: Duration = 10.0

    def problems(self):
        if self.interval <= 0:
            yield "interval", "must be more than 0"
        if not 0 < self.timeout < self.interval:
            yield "timeout", f"must be more than 0 and less than the interval ({self.interval:g}s)"


_registry: dict[str, type[Collector]] = {}
# asked at every run; inspect's answer for a function never changes (it was 2 % of a host collector round)
_coroutine_function = functools.cache(inspect.iscoroutinefunction)


class Collector:
    name: ClassVar[str]
    help: ClassVar[str] = ""
    default_enabled: ClassVar[bool] = True
    Settings: ClassVar[type[CollectorSettings]] = CollectorSettings
    # commented lines `egov-agent sample-config` prints after the keys (which it writes from
    # Settings: each default, and the comment beside each field): only what the settings cannot say
    SAMPLE_NOTE: ClassVar[str] = ""
    # an async collector's output is rendered in a worker thread, off the event loop; one with a
    # handful of series is rendered on the loop, which costs less than the hand-off to that thread
    few_series: ClassVar[bool] = False

    def __init__(self, settings: CollectorSettings | None = None, context: Context | None = None,
                 now: Callable[[], float] = time.time):
        from agent.context import Context

        self.settings = settings if settings is not None else self.Settings()
        self.context = context if context is not None else Context()
        self.now = now  # the wall clock, Unix time
        self.log = logging.getLogger(f"egov.collector.{self.name}")

    @classmethod
    def is_async(cls) -> bool:
        return _coroutine_function(cls.collect)

    def has_work(self) -> bool:
        """False when there is nothing to measure (no targets, no services); asked at start and reload."""
        return True

    def collect(self) -> Iterable[Family]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the collector holds across runs (sockets, engines); called when a
        reload replaces it or the agent stops. Nothing by default."""

    def checks(self, metrics: dict[str, Family]) -> Iterable[Check]:
        """Checks derived from this run's metrics (by family name); none by default."""
        return ()


def register(cls: type[Collector]) -> type[Collector]:
    """Class decorator: make a collector known by its name."""
    if _registry.get(cls.name, cls) is not cls:
        raise RuntimeError(f"two collectors named {cls.name!r}")
    _registry[cls.name] = cls
    return cls


def discover() -> dict[str, type[Collector]]:
    """Import every module of the `collectors` package; each registers its collectors."""
    import collectors

    for module in pkgutil.iter_modules(collectors.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"collectors.{module.name}")
    return dict(sorted(_registry.items()))


def metric_index(families: Iterable[Family]) -> dict[str, Any]:
    """Families by their name in the text exposition (`_total` for counters, `_info` for info)."""
    suffix = {"counter": "_total", "info": "_info"}
    return {family.name + suffix.get(family.type, ""): family for family in families}
