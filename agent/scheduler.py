"""Runs each collector on its own interval, never overlapping itself, under a timeout.

A collector with nothing to do (`has_work()` false: a probe no inventory target asks for)
gets no loop: it is recorded once as an empty success, so it shows as healthy, the
snapshot is whole, and it costs nothing until a reload gives it work.

A blocking collector runs in a daemon thread (`BlockingRunner`: kept from run to run, a new
one as soon as a run has to wait behind a slow or hung one), so a hung one (a stuck mount, a
silent device) cannot starve the others nor delay a stop; while its thread is still stuck,
its next runs fail fast with reason `timeout` instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.collector import Collector, CollectorError, metric_index
from agent.snapshot import Result, Snapshot, gzip_member, render

log = logging.getLogger("egov.scheduler")


def _finish(collector: Collector, families) -> dict:
    """A run's exposition in both formats, OpenMetrics gzipped too, and its checks: a Result's fields."""
    families = list(families)
    text, openmetrics = render(families)
    return {"text": text, "openmetrics": openmetrics, "openmetrics_gzip": gzip_member(openmetrics),
            "checks": list(collector.checks(metric_index(families)))}


def _collect_blocking(collector: Collector):
    return _finish(collector, collector.collect())


# Rendering and compressing thousands of probes' series must not hold up the event loop. One
# thread does it for every async collector: the work holds the GIL, so more threads would not
# go faster, and the agent's thread count stays what it was after the first runs.
_RENDERER = ThreadPoolExecutor(1, thread_name_prefix="render")


async def _collect_async(collector: Collector):
    families = await collector.collect()
    if collector.few_series:
        return _finish(collector, families)
    return await asyncio.get_running_loop().run_in_executor(_RENDERER, _finish, collector, families)


def _settle(future: asyncio.Future, error, outcome) -> None:
    """On the loop: hand the outcome to the future, unless it was cancelled meanwhile (a timeout)."""
    if future.done():  # cancelled: nobody waits any more
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(outcome)


def _settle_all(finished: list[tuple[asyncio.Future, Exception | None, Any]]) -> None:
    for outcome in finished:
        _settle(*outcome)


def _settle_on(loop: asyncio.AbstractEventLoop, future: asyncio.Future, error, outcome) -> None:
    """From a worker thread: settle the future on its loop, unless the loop has closed (the thread
    was hung past the stop)."""
    try:
        loop.call_soon_threadsafe(_settle, future, error, outcome)
    except RuntimeError:  # the loop closed while this thread was hung
        pass


def _outcome(work: Callable[[], Any]) -> tuple[Exception | None, Any]:
    try:
        return None, work()
    except Exception as err:
        return err, None


def in_daemon_thread(work: Callable[[], Any], name: str) -> tuple[asyncio.Future, threading.Thread]:
    """Run `work` in a daemon thread: a hung one cannot delay a stop. The future gets its
    outcome unless it was cancelled meanwhile (a timeout), and the thread, to see if it is stuck."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    thread = threading.Thread(target=lambda: _settle_on(loop, future, *_outcome(work)), name=name, daemon=True)
    thread.start()
    return future, thread


class _Job:
    __slots__ = ("work", "future", "started")

    def __init__(self, work, future):
        self.work, self.future, self.started = work, future, False


class BlockingRunner:
    """The daemon threads blocking collectors run in, kept from run to run.

    Starting a thread for every run cost more than most host collectors' own work (the 13 host
    collectors at a 1 s interval: 56 clock ticks of CPU in 30 s with a thread per run, 36 with one
    kept thread, 43 with a kept thread per collector, the GIL passing between them). So one thread
    runs the queued runs in turn, and a run still waiting after `patience` (the one before it is
    slow, or hung on a dead mount) gets a new thread: a slow or hung collector holds the others
    up by `patience` at most. A thread that finds no run waiting ends, unless it is the last: the
    runs go back to one thread as soon as the slow one is past.

    The runs asked for in one turn of the event loop (the host collectors wake together) go to
    the thread as one batch, and their outcomes come back together when it has run them all:
    one hand-off each way instead of one per run, each a GIL switch and a wake-up of the loop
    (in process, 8.3 → 6.5 ms of CPU a round of the 13 host collectors). A watch every `patience`
    while a batch is out hands over what is finished, so a hung run holds back no other's
    outcome, and gives runs still waiting a new thread.
    """

    def __init__(self, patience: float = 0.1):
        self.patience = patience
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._jobs: collections.deque[_Job] = collections.deque()  # queued, not started
        self._finished: list[tuple[asyncio.Future, Exception | None, Any]] = []  # not yet handed over
        self._batch: tuple[asyncio.AbstractEventLoop, list[_Job]] | None = None  # asked for in this turn of the loop
        self.threads = 0

    def run(self, work: Callable[[], Any]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        job = _Job(work, loop.create_future())
        if self._batch is None or self._batch[0] is not loop:
            self._batch = (loop, [])
            loop.call_soon(self._send, *self._batch)
        self._batch[1].append(job)
        return job.future

    def _send(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        if self._batch is not None and self._batch[1] is batch:
            self._batch = None
        with self._lock:
            self._jobs.extend(batch)
            self._waiting.notify()
            start = self.threads == 0
        if start:
            self._add_thread()
        loop.call_later(self.patience, self._watch, loop, batch)

    def _watch(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        with self._lock:
            self._hand_over()
        if any(not job.started for job in batch):
            self._add_thread()
        if not all(job.future.done() for job in batch):
            loop.call_later(self.patience, self._watch, loop, batch)

    def _add_thread(self) -> None:
        with self._lock:
            self.threads += 1
        threading.Thread(target=self._serve, name="collector", daemon=True).start()

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._jobs:
                    self._hand_over()
                    if self.threads > 1:
                        self.threads -= 1
                        return
                    self._waiting.wait()
                job = self._jobs.popleft()
                job.started = True
            outcome = _outcome(job.work)
            with self._lock:
                self._finished.append((job.future, *outcome))

    def _hand_over(self) -> None:
        """Under the lock: the finished outcomes to their loops, one call each."""
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for finished in self._finished:
            by_loop.setdefault(finished[0].get_loop(), []).append(finished)
        self._finished = []
        for loop, finished in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, finished)
            except RuntimeError:  # the loop closed while this thread was hung
                pass


class Scheduler:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._collectors: dict[str, Collector] = {}
        self._tasks: list[asyncio.Task] = []
        self._stuck: set[str] = set()  # blocking collectors whose thread has not returned
        self._blocking = BlockingRunner()
        self._seed = random.random()  # of the start and jitter that collectors of one interval share

    async def run_once(self, collector: Collector) -> Result:
        """One run under the collector's timeout; failures become data, never exceptions."""
        name, timeout = collector.name, collector.settings.timeout
        started, t0 = time.time(), time.monotonic()
        try:
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for drops a cancel (a stop) that
            # arrives with the result, and the collector's loop would run on, never stopped
            if collector.is_async():
                async with asyncio.timeout(timeout):
                    output = await _collect_async(collector)
                seconds = time.monotonic() - t0
            elif name in self._stuck:
                raise CollectorError("timeout", "the previous run is still hung")
            else:
                async with asyncio.timeout(timeout):
                    output, seconds = await self._in_thread(collector)
            result = Result(name, started, seconds, **output)
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
        def work():  # its own time: the outcomes of a batch come back together, when the last is done
            began = time.monotonic()
            try:
                return _collect_blocking(collector), time.monotonic() - began
            finally:
                self._stuck.discard(collector.name)

        self._stuck.add(collector.name)
        return self._blocking.run(work)

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
        tasks, self._tasks = set(self._tasks), []
        while tasks:  # again while any runs on: a wait_for inside a collector may have dropped the cancel
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=1)
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
