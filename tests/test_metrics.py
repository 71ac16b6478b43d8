"""agent.metrics against prometheus_client, the oracle: the same families, byte for byte, in
both formats; and both formats read by Prometheus's own parsers (promtool)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import prometheus_client.core as oracle
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from agent import metrics
from agent.metrics import render
from collectors.diskstats import DiskstatsCollector
from collectors.meminfo import MeminfoCollector
from collectors.netdev import NetdevCollector
from collectors.stat import StatCollector
from collectors.uname import UnameCollector
from collectors.vmstat import VmstatCollector
from tests.helpers import MEMINFO_CAMELCASE
from tests.peers import require

PROC = str(Path(__file__).parent / "fixtures" / "host" / "proc")

AWKWARD = ['plain', 'Tân Lập "một cửa"', 'back\\slash', 'two\nlines', '\\"\n', '', '{0}', 'x}}{{y']
VALUES = [0, 1, -1, 0.5, 1e-7, 123456.789, 999999.0, 1e6, 1234567.0, 12345678.0, 1e15, 1e16, 2.5e21, -12345678.0,
          2**53 + 1, 1 / 3, float("inf"), float("-inf"), float("nan"), True]


def captured_collectors():
    """Host collectors on captured /proc files: every family type, counters, label sets."""
    return [MeminfoCollector(proc_root=PROC), StatCollector(proc_root=PROC), DiskstatsCollector(proc_root=PROC),
            NetdevCollector(proc_root=PROC), VmstatCollector(proc_root=PROC),
            UnameCollector(proc_root=PROC, uname=lambda: os.uname_result(
                ("Linux", "tanlap-pc-01", "6.1.0-27-amd64", "#1 SMP Debian 6.1.115-1", "x86_64")))]


def oracle_render(families) -> tuple[bytes, bytes]:
    class Registry:
        def collect(self):
            return families

    return generate_latest(Registry()), generate_openmetrics(Registry())[:-len(b"# EOF\n")]


def awkward_families(lib):
    gauge = lib.GaugeMetricFamily("egov_test_awkward", 'Help with "quotes", a back\\slash\nand a line feed.',
                                  labels=["target", "site", "a_label"])
    for i, (text, value) in enumerate(zip(AWKWARD * 3, VALUES)):
        gauge.add_metric([text, AWKWARD[-1 - i % len(AWKWARD)], str(i)], value)
    counter = lib.CounterMetricFamily("egov_test_events_total", "Events.", labels=["kind"])
    counter.add_metric(["a"], 3)
    counter.add_metric(["b\"c"], 2.5e9)
    info = lib.InfoMetricFamily("egov_test_build", "Build.", labels=["zone"])
    info.add_metric(["z\n1"], {"version": "1.0", "alpha": 'q"q'})
    return [
        gauge, counter, info,
        lib.CounterMetricFamily("egov_test_plain", "Without the suffix.", value=7),
        lib.InfoMetricFamily("egov_test_bare", "Info from a dict alone.", value={"b": "2", "a": "1"}),
        lib.UnknownMetricFamily("egov_test_unknown", "Untyped in the text format.", value=12345678),
        lib.GaugeMetricFamily("egov_test_empty", "A family without samples.", labels=["x"]),
        lib.GaugeMetricFamily("egov_test_single", "One sample, no labels.", value=0.25),
    ]


def test_awkward_families_render_as_prometheus_client_renders_them():
    ours, expected = render(awkward_families(metrics)), oracle_render(awkward_families(oracle))
    assert ours[0].decode() == expected[0].decode()
    assert ours[1].decode() == expected[1].decode()


def test_the_host_collectors_render_as_prometheus_client_renders_them():
    """Each collector's families rebuilt with prometheus_client from the samples ours hold."""
    kinds = {"gauge": oracle.GaugeMetricFamily, "counter": oracle.CounterMetricFamily,
             "unknown": oracle.UnknownMetricFamily}

    def rebuilt(family):
        if family.type == "info":
            copy = oracle.InfoMetricFamily(family.name, family.documentation, labels=[])
            for sample in family.samples:
                copy.add_metric([], sample.labels)
            return copy
        names = list(family.samples[0].labels) if family.samples else []
        copy = kinds[family.type](family.name, family.documentation, labels=names)
        for sample in family.samples:
            copy.add_metric([sample.labels[name] for name in names], sample.value)
        return copy

    for collector in captured_collectors():
        families = list(collector.collect())
        assert render(families) == oracle_render([rebuilt(family) for family in families]), collector.name


def test_values_are_written_as_floatToGoString_writes_them():
    for value in [*VALUES, 10**7, 10**21, 1e-300, 5e-324, 1.7976931348623157e308, 100.0, 0.1 + 0.2, -0.0]:
        assert metrics.format_value(value) == floatToGoString(value), value


@pytest.mark.parametrize(("build", "message"), [
    (lambda: metrics.GaugeMetricFamily("egov-bad", "x"), "invalid metric name 'egov-bad'"),
    (lambda: metrics.GaugeMetricFamily("egov_x", "x", labels=["ok", "1st"]), "egov_x: invalid label name '1st'"),
    (lambda: metrics.GaugeMetricFamily("egov_x", "x", labels=["__reserved"]), "invalid label name '__reserved'"),
    (lambda: metrics.GaugeMetricFamily("egov_x", "x", labels=["a", "a"]), "a label name twice"),
    (lambda: metrics.GaugeMetricFamily("egov_x", "x", value=1, labels=["a"]), "not both"),
    (lambda: metrics.GaugeMetricFamily("egov_x", "x", labels=["a", "b"]).add_metric(["only one"], 1),
     "1 label values for ['a', 'b']"),
    (lambda: metrics.InfoMetricFamily("egov_x", "x", value={"bad-key": "v"}), "invalid label name 'bad-key'"),
])
def test_a_bad_family_is_refused_naming_what_is_wrong(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_prometheus_parses_both_formats(tmp_path):
    """promtool's linter reads the text format; its OpenMetrics backfill reads OpenMetrics with
    Prometheus's own parser (textparse), which wants a timestamp on every sample."""
    families = awkward_families(metrics) + [f for c in captured_collectors() for f in c.collect()]
    text, openmetrics = render(families)
    lint = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True)
    assert [p for p in (lint.stdout + lint.stderr).decode().splitlines() if not MEMINFO_CAMELCASE.match(p)] == []
    stamped = re.sub(rb"^([^#].*)$", rb"\1 1700000000", openmetrics, flags=re.M) + b"# EOF\n"
    (tmp_path / "scrape.om").write_bytes(stamped)
    backfill = subprocess.run([require("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                               str(tmp_path / "scrape.om"), str(tmp_path / "blocks")], capture_output=True)
    assert backfill.returncode == 0, backfill.stderr.decode()
    series = sum(1 for line in openmetrics.splitlines() if not line.startswith(b"#"))
    assert re.search(rf"\s{series}\s+\d+\s+{series}\s".encode(), backfill.stdout), backfill.stdout.decode()
