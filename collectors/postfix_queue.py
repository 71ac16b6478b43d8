"""Postfix's mail queues on this host, from `postqueue -j` (egov_postfix_queue_*).

Off by default: enable it on the mail servers, where the agent runs beside postfix. The
output (one JSON object per queued message, postfix 3.1+) is read as a stream, so a queue
of a hundred thousand messages is counted without being held in memory.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from agent.checks import judged
from agent.collector import Collector, CollectorError, CollectorSettings, register
from agent.metrics import GaugeMetricFamily
from agent.schema import Duration

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")  # postfix's queues showq reports


@dataclass
class Queue:
    messages: int = 0
    size_bytes: int = 0
    oldest_arrival: float | None = None  # Unix time


def parse_postqueue(lines: Iterable[str]) -> dict[str, Queue]:
    """Every queue of QUEUES, from `postqueue -j` lines; ValueError names a line that is not one."""
    queues = {name: Queue() for name in QUEUES}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            queue = queues[message["queue_name"]]
            size, arrival = int(message["message_size"]), float(message["arrival_time"])
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"line {number} is not a queued message ({type(err).__name__}: {err}): "
                             f"{line[:100]!r}") from None
        queue.messages += 1
        queue.size_bytes += size
        if queue.oldest_arrival is None or arrival < queue.oldest_arrival:
            queue.oldest_arrival = arrival
    return queues


@dataclass
class PostfixQueueSettings(CollectorSettings):
    interval: Duration = 60.0
    timeout: Duration = 30.0  # postqueue is killed when it runs longer
    postqueue: str = "postqueue"  # the command, found on PATH
    config_directory: str | None = None  # `postqueue -c DIR`, for a second instance; default postfix's own
    # messages in all queues together
    messages_warning: int | None = 500
    messages_critical: int | None = 2000


@register
class PostfixQueueCollector(Collector):
    name = "postfix_queue"
    help = "Messages, bytes and oldest message age per postfix queue (egov_postfix_queue_*); for mail servers"
    default_enabled = False
    Settings = PostfixQueueSettings
    SAMPLE_NOTE = "# on a mail server running postfix, set enabled to true\n"

    def collect(self):
        queues = self._read()
        now = self.now()
        families = {
            "messages": GaugeMetricFamily("egov_postfix_queue_messages", "Messages in the postfix queue.",
                                          labels=["queue"]),
            "size": GaugeMetricFamily("egov_postfix_queue_size_bytes", "Total size of the messages in the postfix "
                                      "queue.", labels=["queue"]),
            "age": GaugeMetricFamily("egov_postfix_queue_oldest_message_age_seconds", "Age of the oldest message in "
                                     "the postfix queue; 0 when it is empty.", labels=["queue"]),
        }
        for name, queue in queues.items():
            families["messages"].add_metric([name], queue.messages)
            families["size"].add_metric([name], queue.size_bytes)
            age = 0 if queue.oldest_arrival is None else max(0, now - queue.oldest_arrival)
            families["age"].add_metric([name], age)
        return list(families.values())

    def _read(self) -> dict[str, Queue]:
        s = self.settings
        argv = [s.postqueue, *(["-c", s.config_directory] if s.config_directory else []), "-j"]
        try:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as err:
            raise CollectorError("config", f"cannot run {s.postqueue}: {err.strerror}") from None
        killed = threading.Event()

        def kill():
            killed.set()
            process.kill()

        timer = threading.Timer(s.timeout, kill)
        timer.start()
        try:
            queues = parse_postqueue(process.stdout)
            errors = process.stderr.read()
            code = process.wait()
        except ValueError as err:
            raise CollectorError("parse", f"postqueue -j: {err}") from None
        finally:
            timer.cancel()
            if process.poll() is None:  # a parse error left it writing
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()
        if killed.is_set():
            raise CollectorError("timeout", f"postqueue ran longer than {s.timeout:g}s")
        if code != 0:  # e.g. "postqueue: fatal: Queue report unavailable - mail system is down"
            raise CollectorError("connect", (errors.strip().splitlines() or [f"exit status {code}"])[-1][:300])
        return queues

    def checks(self, metrics):
        family = metrics["egov_postfix_queue_messages"]
        counts = {sample.labels["queue"]: sample.value for sample in family.samples}
        total = sum(counts.values())
        s = self.settings
        yield judged(self.name, "host", total,
                     f"{total:.0f} messages queued ({counts['deferred']:.0f} deferred, {counts['hold']:.0f} on hold)",
                     s.messages_warning, s.messages_critical)
