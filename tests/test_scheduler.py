"""Isolation: a collector that hangs, raises or fails never breaks the others or a scrape."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client.parser import text_string_to_metric_families

from agent.collector import Collector, CollectorError, CollectorSettings
from agent.metrics import GaugeMetricFamily
from agent.scheduler import Scheduler
from agent.snapshot import Snapshot


def settings(timeout=0.3, interval=1.0):
    return CollectorSettings(interval=interval, timeout=timeout)


class Steady(Collector):
    name = "steady"

    def collect(self):
        yield GaugeMetricFamily("test_steady", "A value that is always there.", value=42)


class Hanging(Collector):
    name = "hanging"

    def __init__(self, release: threading.Event, **kwargs):
        super().__init__(**kwargs)
        self.release, self.calls = release, 0

    def collect(self):
        self.calls += 1
        self.release.wait(10)
        yield GaugeMetricFamily("test_hanging", "Only after release.", value=1)


class Raising(Collector):
    name = "raising"

    def collect(self):
        raise ZeroDivisionError("a bug")


class Refused(Collector):
    name = "refused"

    async def collect(self):
        raise CollectorError("connect", "connection refused by 127.0.0.9:1")


class SlowAsync(Collector):
    name = "slow_async"

    async def collect(self):
        await asyncio.sleep(10)
        return []


def samples(snapshot: Snapshot) -> dict:
    text = snapshot.exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_failures_are_isolated_and_reported():
    release = threading.Event()
    hanging = Hanging(release, settings=settings())
    collectors = {c.name: c for c in (Steady(settings()), hanging, Raising(settings()), Refused(settings()),
                                      SlowAsync(settings()))}
    snapshot = Snapshot()
    scheduler = Scheduler(snapshot)
    scheduler.use(collectors)

    async def scenario():
        first = {r.collector: r for r in await scheduler.run_all_once()}
        # the hung thread is still inside collect(): the next run fails fast, no second thread
        second = await scheduler.run_once(hanging)
        release.set()
        await asyncio.sleep(0.2)
        third = await scheduler.run_once(hanging)
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first["steady"].success
    assert (first["hanging"].reason, first["raising"].reason, first["refused"].reason,
            first["slow_async"].reason) == ("timeout", "error", "connect", "timeout")
    assert "ZeroDivisionError" in first["raising"].detail
    assert second.reason == "timeout" and "still hung" in second.detail
    assert hanging.calls == 2 and third.success

    got = samples(snapshot)
    assert got[("test_steady", ())] == 42
    assert got[("test_hanging", ())] == 1
    assert got[("egov_collector_success", (("collector", "raising"),))] == 0
    assert got[("egov_collector_success", (("collector", "hanging"),))] == 1
    assert got[("egov_collector_errors_total", (("collector", "hanging"), ("reason", "timeout")))] == 2
    assert got[("egov_collector_errors_total", (("collector", "refused"), ("reason", "connect")))] == 1
    # the error text is on the status page and in logs, never in a label
    assert all("refused by" not in str(labels) for _, labels in got)


def test_blocking_collectors_take_turns_on_one_kept_thread_and_none_waits_behind_a_hung_one():
    class Where(Collector):
        def collect(self):
            self.threads.add(threading.get_ident())
            yield GaugeMetricFamily("test_where", "Here.", value=1)

    ones = [type(f"Where{i}", (Where,), {"name": f"where{i}", "threads": set()})(settings()) for i in range(3)]
    release = threading.Event()
    hanging = Hanging(release, settings=settings(timeout=1, interval=2))
    scheduler = Scheduler(Snapshot())
    scheduler.use({c.name: c for c in ones})

    async def scenario():
        for _ in range(5):
            await scheduler.run_all_once()
        kept = {ident for c in ones for ident in c.threads}
        scheduler.use({c.name: c for c in (hanging, *ones)})  # the hung one is first in the queue
        behind = await scheduler.run_all_once()
        release.set()
        for _ in range(100):  # the hung one returns, finds nothing waiting, and ends
            if scheduler._blocking.threads == 1:
                break
            await asyncio.sleep(0.05)
        return kept, {r.collector: r for r in behind}, scheduler._blocking.threads

    kept, behind, threads = asyncio.run(scenario())
    assert len(kept) == 1 and threads == 1  # five rounds of three collectors on one thread, and one again after
    assert behind["hanging"].reason == "timeout"
    assert all(behind[c.name].success for c in ones)  # each within its 0.3 s timeout, the hung one taking 1 s


def test_a_scrape_does_not_wait_for_a_hung_collector():
    release = threading.Event()
    hanging = Hanging(release, settings=settings(timeout=5, interval=10))
    snapshot = Snapshot()
    scheduler = Scheduler(snapshot)
    scheduler.use({"steady": Steady(settings()), "hanging": hanging})

    async def scenario():
        await scheduler.run_once(scheduler._collectors["steady"])
        task = asyncio.create_task(scheduler.run_once(hanging))
        await asyncio.sleep(0.1)
        body = snapshot.exposition()  # served while `hanging` is mid-collect
        release.set()
        await task
        return body

    body = asyncio.run(scenario()).decode()
    assert "test_steady 42.0" in body and "test_hanging" not in body


def test_a_failed_collector_serves_no_stale_data():
    class Flaky(Collector):
        name = "flaky"
        fail = False

        def collect(self):
            if self.fail:
                raise CollectorError("parse", "garbage from the device")
            yield GaugeMetricFamily("test_flaky", "Sometimes.", value=1)

    flaky = Flaky(settings())
    snapshot = Snapshot()
    scheduler = Scheduler(snapshot)
    scheduler.use({"flaky": flaky})
    asyncio.run(scheduler.run_once(flaky))
    assert ("test_flaky", ()) in samples(snapshot)
    flaky.fail = True
    asyncio.run(scheduler.run_once(flaky))
    got = samples(snapshot)
    assert ("test_flaky", ()) not in got
    assert got[("egov_collector_success", (("collector", "flaky"),))] == 0
    [check] = snapshot.checks()
    assert check.state.name == "UNKNOWN" and "garbage" in check.summary


def test_loops_run_each_collector_repeatedly_without_overlap():
    class Counting(Collector):
        name = "counting"
        runs = 0
        active = 0
        overlapped = False

        async def collect(self):
            Counting.active += 1
            Counting.overlapped |= Counting.active > 1
            await asyncio.sleep(0.05)
            Counting.runs += 1
            Counting.active -= 1
            return []

    snapshot = Snapshot()
    scheduler = Scheduler(snapshot)

    async def scenario():
        await scheduler.start({"counting": Counting(settings(timeout=0.1, interval=0.12))})
        await asyncio.sleep(0.8)
        await scheduler.stop()

    asyncio.run(scenario())
    assert Counting.runs >= 3 and not Counting.overlapped


def test_a_reload_closes_the_collectors_it_replaces():
    class Holding(Collector):
        name = "holding"
        closed = 0

        async def collect(self):
            return []

        def close(self):
            Holding.closed += 1

    scheduler = Scheduler(Snapshot())

    async def scenario():
        await scheduler.start({"holding": Holding(settings())})
        await scheduler.start({"holding": Holding(settings())})  # a reload: new instances
        assert Holding.closed == 1
        await scheduler.stop()

    asyncio.run(scenario())
    assert Holding.closed == 2


def test_a_collector_with_nothing_to_do_gets_no_loop_but_reports_healthy():
    class Idle(Collector):
        name = "idle"
        runs = 0

        def has_work(self):
            return False

        async def collect(self):
            Idle.runs += 1
            return []

    snapshot = Snapshot()
    scheduler = Scheduler(snapshot)

    async def scenario():
        await scheduler.start({"idle": Idle(settings(timeout=0.05, interval=0.1)), "steady": Steady(settings())})
        await asyncio.sleep(0.5)
        tasks = [task.get_name() for task in scheduler._tasks]
        await scheduler.stop()
        return tasks

    assert asyncio.run(scenario()) == ["collector-steady"]
    assert Idle.runs == 0 and snapshot.waiting() == []  # the snapshot is whole without it
    got = samples(snapshot)
    assert got[("egov_collector_success", (("collector", "idle"),))] == 1
    assert got[("test_steady", ())] == 42
