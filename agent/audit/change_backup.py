"""The backup a device's logged configuration change triggers (the syslog collector's `backup_store`).

The syslog receiver recognises a change (collectors/syslog.py, `changes()`); this takes the
changes and backs the devices up with `audit backup`'s own run (agent/audit/backup.py, limited
to the devices due), so the store's commit says who changed what, under the device's line:

    tanlap-rtr: global (+1)
      Configured from vty0 by netops1 (192.0.2.10) at 2026-12-02 09:05:12+07:00

at the time the device logged (the agent's clock, said so, when its message had no full
timestamp). The audit collector then reports the new backup's drift and failed rules as after a
scheduled run. The golden configurations follow the templates and the inventory, not the
device, so the run renders them only for a device that has none in the store yet (Ansible takes
seconds, and the next device's backup would wait for it); the scheduled `audit backup` keeps them
current.

Debounced per device: a backup waits until the device has logged no change for SETTLE
seconds (a 40-line paste is one backup), but never more than LONGEST after the first change,
and starts at most once every SPACING seconds (a device that keeps changing is backed up once
a minute). One run at a time, in a thread of its own, off the event loop; the devices that fall
due meanwhile go together in the next run, one commit. A failed backup is logged naming the
device and counted; the receiver keeps receiving, and the device's next change tries again.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from agent import exitcodes
from agent.metrics import CounterMetricFamily

SETTLE = 5.0  # seconds without a change before the backup: a paste arrives within them
LONGEST = 20.0  # seconds from the first change at most: the commit lands within 30 s of it
SPACING = 60.0  # seconds at least between two backups of one device
AUTHORS_NAMED = 5  # authors a commit names per device; a flood of made-up ones is only counted


@dataclass
class _Author:
    first: object  # collectors.syslog.Change
    last: object
    messages: int = 1


@dataclass
class _Pending:
    """A device's changes since its last backup started."""

    first: float  # monotonic
    last: float
    authors: dict[tuple, _Author] = field(default_factory=dict)
    unnamed: int = 0  # changes by authors beyond AUTHORS_NAMED

    def add(self, change, now: float) -> None:
        self.last = now
        who = (change.user, change.line, change.address)
        author = self.authors.get(who)
        if author is not None:
            author.last, author.messages = change, author.messages + 1
        elif len(self.authors) < AUTHORS_NAMED:
            self.authors[who] = _Author(change, change)
        else:
            self.unnamed += 1

    def cause(self) -> str:
        """What the device logged, one line per author: who, from where, when."""
        lines = []
        for author in self.authors.values():
            change = author.first
            said = [f"from {_clean(change.line)}" if change.line else "",
                    f"by {_clean(change.user)}" if change.user else "",
                    f"({_clean(change.address)})" if change.address else ""]
            line = " ".join(["Configured", *filter(None, said)])
            if not change.line and not change.user:
                line += " (the message names no user)"
            line += f" at {_when(change)}"
            if author.messages > 1:
                line += f" ({author.messages} messages, the last at {_when(author.last)})"
            lines.append(line)
        if self.unnamed:
            lines.append(f"and {self.unnamed} changes by other authors")
        return "\n".join(lines)


def _when(change) -> str:
    if change.device_time is not None:
        return change.device_time.isoformat(" ", "seconds")
    received = datetime.fromtimestamp(change.received).astimezone().isoformat(" ", "seconds")
    return f"{received} (received: the message had no full timestamp)"


def _clean(text: str) -> str:
    """A field of a device's message as the commit names it: one short line, whatever was sent."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)[:64]


class Debounce:
    """When each device is backed up after its changes; times are monotonic seconds."""

    def __init__(self, settle: float = SETTLE, longest: float = LONGEST, spacing: float = SPACING):
        self.settle, self.longest, self.spacing = settle, longest, spacing
        self._pending: dict[str, _Pending] = {}
        self._started: dict[str, float] = {}  # each device's last backup, when it started

    def add(self, change, now: float) -> bool:
        """Note a change; True when it joins a backup already waiting (it is debounced)."""
        pending = self._pending.get(change.target)
        joined = pending is not None
        if pending is None:
            pending = self._pending[change.target] = _Pending(now, now)
        pending.add(change, now)
        return joined

    def due_at(self, target: str) -> float:
        pending = self._pending[target]
        return max(min(pending.last + self.settle, pending.first + self.longest),
                   self._started.get(target, -math.inf) + self.spacing)

    def take(self, now: float) -> dict[str, str]:
        """The devices due now, each with what its log said (the commit's cause); their backup starts."""
        due = {target: pending.cause() for target, pending in self._pending.items() if self.due_at(target) <= now}
        for target in due:
            del self._pending[target]
            self._started[target] = now
        return due


class ChangeBackups:
    """Takes the receiver's changes every `poll` seconds and runs the backups they trigger:
    `back_up(causes)`, in a thread, returns the devices that failed with the reason."""

    def __init__(self, take_changes: Callable[[], Iterable], back_up: Callable[[dict[str, str]], dict[str, str]],
                 log, debounce: Debounce | None = None, monotonic=time.monotonic, poll: float = 1.0):
        self._take_changes, self._back_up, self.log = take_changes, back_up, log
        self._debounce, self._monotonic, self._poll = debounce or Debounce(), monotonic, poll
        self.triggered: Counter[str] = Counter()
        self.debounced: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    async def run(self) -> None:
        from agent.scheduler import in_daemon_thread

        while True:
            now = self._monotonic()
            for change in self._take_changes():
                self.debounced[change.target] += self._debounce.add(change, now)
            due = self._debounce.take(now)
            if not due:
                await asyncio.sleep(self._poll)
                continue
            self.triggered.update(due.keys())
            self.log.info("backup after a configuration change", extra={"targets": ",".join(due)})
            try:
                failures = await in_daemon_thread(lambda: self._back_up(due), "change-backup")[0]
            except Exception as err:  # a bug in the run: none of its devices is backed up
                self.log.debug("change backup raised", exc_info=True)
                failures = dict.fromkeys(due, f"{type(err).__name__}: {err}")
            for target, reason in failures.items():
                self.failed[target] += 1
                self.log.warning("backup after a configuration change failed",
                                 extra={"target": target, "detail": reason})

    def families(self, devices: Iterable[list[str]]) -> list:
        """The counters of each device (its TARGET_LABELS values, name first)."""
        from agent.probe import TARGET_LABELS

        def family(name: str, help_: str, counts: Counter) -> CounterMetricFamily:
            metric = CounterMetricFamily(f"egov_syslog_{name}", help_, labels=TARGET_LABELS)
            for labels in devices:
                metric.add_metric(labels, counts[labels[0]])
            return metric

        devices = list(devices)
        return [family("change_backups", "Backups of the device its logged configuration changes triggered.",
                       self.triggered),
                family("change_backups_debounced", "Logged configuration changes of the device that joined a "
                       "backup already waiting (a burst, or a device changing faster than once a minute).",
                       self.debounced),
                family("change_backups_failed", "Backups of the device after a logged change that failed "
                       "(the agent's log names the device and the reason).", self.failed)]


def audit_backup(inventory_path: str, store: str, known_hosts: str) -> Callable[[dict[str, str]], dict[str, str]]:
    """`back_up` for ChangeBackups: `audit backup --limit DEVICES` with the causes in the commit."""
    def back_up(causes: dict[str, str]) -> dict[str, str]:
        from agent.audit.backup import run
        from agent.audit.fetch import Fetcher
        from agent.audit.store import Store

        output = io.StringIO()
        golden = any(Store(store).golden(target) is None for target in causes)
        code = run(inventory_path, store, Fetcher(Path(known_hosts)), limit=",".join(causes), golden=golden,
                   out=output, causes=causes, errors=output)
        return failed_devices(output.getvalue(), list(causes), code)

    return back_up


def failed_devices(output: str, targets: list[str], code: int) -> dict[str, str]:
    """From a backup run's output and exit code: each device not backed up, with the reason printed."""
    lines = output.splitlines()
    failures = {}
    for target in targets:
        for line in lines:
            if line.split()[:2] == [target, "FAILED"]:
                failures[target] = line.split(None, 2)[2]
            elif line.startswith("not backed up") and target in re.split(r"[:,]\s*", line):
                failures[target] = "no ssh check (the backup logs in as the ssh check does)"
    if code == exitcodes.OK or failures:
        return failures
    said = next((line.removeprefix("egov-agent: ") for line in lines if line.startswith("egov-agent:")),
                lines[-1] if lines else f"exit {code}")
    return dict.fromkeys(targets, said)
