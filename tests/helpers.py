"""What several test modules share: reading and waiting for scrapes, inputs that more than
one module feeds the agent, README's metrics reference, small HTTP servers. A test module
imports from here (or from the peers), never from another test module."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.snapshot import render
from collectors._snmp_tables import SYSTEM, Walk
from tests.peers import http_get


ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
ALERTMANAGER = ROOT / "monitoring" / "alertmanager.yml"


# --- scrapes ------------------------------------------------------------------------------

def values(body: bytes, name: str) -> dict:
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples if s.name == name}


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def all_collected(agent, config=None) -> bytes:
    """A scrape taken once every collector enabled by `config` has run (failed or not)."""
    from agent.config import load_config

    enabled = set(load_config(config).collectors)

    def ready():
        _, _, body = http_get(agent.url + "/metrics")
        ran = {labels[0][1] for labels in values(body, "egov_collector_success")}
        return body if ran >= enabled else None
    return wait_for(ready)


def samples(families) -> dict:
    text = render(families)[0].decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# --- tables of cases -----------------------------------------------------------------------

def cases(names: str, table: str):
    """pytest's parametrize of a table written one case a line, its columns (`names`) apart by two
    spaces or more, each case named by its first column: a probe's failures, an input's errors."""
    rows = [tuple(re.split(r" {2,}", line.strip())) for line in table.strip().splitlines()]
    width = len(names.split(","))
    assert all(len(row) == width for row in rows), [row for row in rows if len(row) != width]
    return pytest.mark.parametrize(names, rows, ids=[row[0] for row in rows])


# --- inputs -------------------------------------------------------------------------------

def billion_laughs(levels: int) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        name, previous = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
    return "\n".join(lines) + "\n"


# postfix 3.7's `postqueue -j` with one message on hold and one deferred
POSTQUEUE_J = """\
{"queue_name": "deferred", "queue_id": "116AE20CCA7", "arrival_time": 1795319373, "message_size": 320, \
"forced_expire": false, "sender": "probe@mail.test", "recipients": [{"address": "x@defer.test", \
"delay_reason": "deferred transport"}]}
{"queue_name": "hold", "queue_id": "10F7920CCA6", "arrival_time": 1795319373, "message_size": 322, \
"forced_expire": false, "sender": "probe@mail.test", "recipients": [{"address": "held@mail.test"}]}
"""


# node_exporter's names for /proc/meminfo fields (node_memory_MemTotal_bytes ...) keep the kernel's
# camelCase so its dashboards work; promtool flags them in node_exporter's own output too.
MEMINFO_CAMELCASE = re.compile(r"^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$")


def parse_snmpwalk(text: str) -> dict[tuple[int, ...], object]:
    """`snmpwalk -On` output as the values the collector hands to _snmp_tables."""
    values, lines = {}, []
    for line in text.splitlines():
        if line.startswith("."):
            lines.append(line)
        elif lines and not line.startswith("#"):  # a STRING's line break: its value goes on
            lines[-1] += "\n" + line
    for line in lines:
        oid, _, typed = line.partition(" = ")
        kind, _, raw = typed.partition(":")
        raw = raw.removeprefix(" ")
        key = tuple(int(x) for x in oid.strip(".").split("."))
        if typed == '""':
            values[key] = b""
        elif kind == "STRING":
            values[key] = raw[1:-1].replace('\\"', '"').encode()
        elif kind == "Hex-STRING":
            values[key] = bytes.fromhex(raw)
        elif kind == "OID":
            values[key] = tuple(int(x) for x in raw.strip(".").split("."))
        elif kind == "Timeticks":
            values[key] = int(raw.split(")")[0].strip("("))
        elif raw:  # INTEGER, Counter32, Counter64, Gauge32
            values[key] = int(raw)
        else:
            raise ValueError(line)
    return values


def replay(table: dict, columns: dict) -> Walk:
    """A table walked as the collector walks an agent: the scalars at .0, each column's rows in OID order."""
    walk = Walk(SYSTEM, columns, max_rows=5000)
    walk.values = {name: table[oid + (0,)] for name, oid in SYSTEM.items() if oid + (0,) in table}
    for name, column in columns.items():
        for oid in sorted(oid for oid in table if oid[:len(column)] == column):
            walk.add(name, oid[len(column):], table[oid])
    return walk


# --- README's metrics reference -----------------------------------------------------------

README = ROOT / "README.md"
ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<type>\w+) \| (?P<labels>[^|]*) \| (?P<collector>[^|]+) \| "
                 r"(?P<meaning>.+) \|$")


def documented() -> dict[str, tuple[str, set[str], str]]:
    """Metric name -> (type, labels, collector) from README's metrics reference."""
    rows = {}
    for line in README.read_text().splitlines():
        match = ROW.match(line)
        if match:
            labels = {label.strip() for label in match["labels"].split(",") if label.strip()}
            rows[match["name"]] = (match["type"], labels, match["collector"].strip())
    return rows


def as_regex(name: str) -> re.Pattern:
    """`node_memory_<Field>_bytes` documents a family of names."""
    return re.compile("^" + re.sub(r"<\w+>", r"\\w+?", re.escape(name).replace(r"\<", "<").replace(r"\>", ">"))
                      + "$")


# --- HTTP servers and waiting on them -------------------------------------------------------

def serve(handler, address: str = "127.0.0.1") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_until(fetch, expected, what: str, timeout: float = 30.0) -> None:
    """Poll `fetch()` until it returns `expected`; a generous bound, only against hanging."""
    deadline = time.monotonic() + timeout
    while (value := fetch()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: expected {expected!r}, still {value!r} after {timeout}s")
        time.sleep(0.2)


class Webhook(BaseHTTPRequestHandler):
    """Records what is POSTed to it (Alertmanager's notifications): (path, JSON body)."""

    received: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path.strip("/"), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


# headless Chromium, for the pages' screenshots (the status page, the availability report)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars"]
