"""Runs each collector on its own interval, never overlapping itself, under a timeout.

A collector with nothing to do (`has_work()` false: a probe no inventory target asks for)
gets no loop: it is recorded once as an empty success, so it shows as healthy, the
snapshot is whole, and it costs nothing until a reload gives it work.

A blocking collector runs in a daemon thread of its own, so a hung one (a stuck mount,
a silent device) cannot starve the others nor delay a stop; while that thread is still
stuck, its next runs fail fast with reason `timeout` instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import threading

from agent.collector import Collector, CollectorError, metric_index
from agent.snapshot import Result, Snapshot, render

log = logging.getLogger("egov.scheduler")


def _finish(collector: Collector, families) -> tuple[bytes, bytes, list]:
    families = list(families)
    text, openmetrics = render(families)
    return text, openmetrics, list(collector.checks(metric_index(families)))


def _collect_blocking(collector: Collector):
    return _finish(collector, collector.collect())


async def _collect_async(collector: Collector):
    return _finish(collector, await collector.collect())


class Scheduler:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._collectors: dict[str, Collector] = {}
        self._tasks: list[asyncio.Task] = []
        self._stuck: set[str] = set()  # blocking collectors whose thread has not returned
        self._seed = random.random()  # of the start and jitter that collectors of one interval share

    async def run_once(self, collector: Collector) -> Result:
        """One run under the collector's timeout; failures become data, never exceptions."""
        name, timeout = collector.name, collector.settings.timeout
        started, t0 = time.time(), time.monotonic()
        try:
            if collector.is_async():
                text, om, checks = await asyncio.wait_for(_collect_async(collector), timeout)
            elif name in self._stuck:
                raise CollectorError("timeout", "the previous run is still hung")
            else:
                text, om, checks = await asyncio.wait_for(self._in_thread(collector), timeout)
            result = Result(name, started, time.monotonic() - t0, text=text, openmetrics=om, checks=checks)
        except asyncio.TimeoutError:
            result = Result(name, started, time.monotonic() - t0, "timeout", f"no result within {timeout:g}s")
        except CollectorError as err:
            result = Result(name, started, time.monotonic() - t0, err.reason, err.detail)
        except Exception as err:  # a bug in one collector must not stop the others
            log.debug("collector raised", exc_info=True, extra={"collector": name})
            result = Result(name, started, time.monotonic() - t0, "error", f"{type(err).__name__}: {err}")
        if not result.success:
            log.warning("collector failed", extra={"collector": name, "reason": result.reason,
                                                   "detail": result.detail})
        self.snapshot.record(result)
        return result

    async def run_all_once(self) -> list[Result]:
        return list(await asyncio.gather(*(self.run_once(c) for c in self._collectors.values())))

    def _in_thread(self, collector: Collector) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(error, outcome):
            if future.cancelled():  # the run already timed out
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(outcome)

        def work():
            error = outcome = None
            try:
                outcome = _collect_blocking(collector)
            except Exception as err:
                error = err
            self._stuck.discard(collector.name)
            try:
                loop.call_soon_threadsafe(settle, error, outcome)
            except RuntimeError:  # the loop closed while this thread was hung
                pass

        self._stuck.add(collector.name)
        threading.Thread(target=work, name=f"collector-{collector.name}", daemon=True).start()
        return future

    def use(self, collectors: dict[str, Collector]) -> None:
        """Set the collectors (at start or reload) without starting their loops."""
        self._collectors = collectors
        self.snapshot.set_collectors({name: c.settings.interval for name, c in collectors.items()})

    async def start(self, collectors: dict[str, Collector]) -> None:
        await self.stop()
        self.use(collectors)
        working = [c for c in collectors.values() if c.has_work()]
        for collector in collectors.values():
            if collector not in working:
                self.snapshot.record(Result(collector.name, time.time(), 0.0))
        self._tasks = [asyncio.create_task(self._loop(c), name=f"collector-{c.name}") for c in working]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for collector in self._collectors.values():
            collector.close()

    async def _loop(self, collector: Collector) -> None:
        interval = collector.settings.interval
        loop = asyncio.get_running_loop()
        # a short random start, then a fixed rate with jitter, so the agent never beats in step with
        # anything else; collectors of one interval draw the same start and jitter, so the host
        # collectors wake together once per interval instead of each on its own (less CPU: one wake-up)
        shared = random.Random(f"{self._seed}/{interval}")
        await asyncio.sleep(shared.uniform(0, min(1.0, interval / 10)))
        next_start = loop.time()
        while True:
            await self.run_once(collector)
            next_start += interval
            now = loop.time()
            if next_start < now:  # never catch up with a burst
                next_start = now
            await asyncio.sleep(next_start - now + shared.uniform(0, interval / 20))
