"""The probe base: inventory targets, bounded concurrency, per-target timeouts, failure as data."""

from __future__ import annotations

import asyncio

from agent.collector import CollectorError
from agent.context import Context
from agent.inventory import load_inventory
from agent.probe import Probe, ProbeSettings, Sample
from tests.helpers import samples

INVENTORY = """\
province:
  vars: {egov_site_type: province}
  children:
    xa_a:
      vars: {egov_site_type: commune}
      hosts:
        ok-1: {ansible_host: 127.30.0.1, egov_role: dc_host, egov_checks: {tcp: {port: 80}}}
        ok-2: {ansible_host: 127.30.0.2, egov_role: dc_host, egov_checks: {tcp: {port: 80}}}
        ok-3: {ansible_host: 127.30.0.3, egov_role: dc_host, egov_checks: {tcp: {port: 80}}}
        refused: {ansible_host: 127.30.0.4, egov_role: dc_host, egov_checks: {tcp: {port: 1}}}
        silent: {ansible_host: 127.30.0.5, egov_role: dc_host, egov_checks: {tcp: {port: 2}}}
        buggy: {ansible_host: 127.30.0.6, egov_role: dc_host, egov_checks: {tcp: {port: 3}}}
        unchecked: {ansible_host: 127.30.0.7, egov_role: dc_host}
"""


class FakeTcp(Probe):
    """Answers by port: 1 refuses, 2 never answers, 3 has a bug, anything else answers."""

    name = "tcp"
    FAMILIES = {"answer_seconds": ("gauge", "Time to answer.", ["phase"])}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.active = self.most_active = 0

    async def probe(self, target, check):
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(0.02)
            if check.port == 1:
                raise CollectorError("connect", "connection refused")
            if check.port == 2:
                await asyncio.sleep(60)
            if check.port == 3:
                raise KeyError("oops")
            return [Sample("answer_seconds", 0.02, ("connect",))]
        finally:
            self.active -= 1


def test_probe_failures_are_data_and_concurrency_is_bounded(tmp_path):
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    probe = FakeTcp(ProbeSettings(concurrency=2, probe_timeout=0.3, timeout=5, interval=10),
                    Context(inventory=load_inventory(tmp_path)))
    got = samples(asyncio.run(probe.collect()))
    got_again = samples(asyncio.run(probe.collect()))

    def key(name, target, **extra):
        return (name, tuple(sorted({"target": target, "site": "xa_a", "check": "tcp", **extra}.items())))

    for target in ("ok-1", "ok-2", "ok-3"):
        assert got[key("egov_tcp_up", target)] == 1
        assert got[key("egov_tcp_answer_seconds", target, phase="connect")] == 0.02
    for target, reason in (("refused", "connect"), ("silent", "timeout"), ("buggy", "error")):
        assert got[key("egov_tcp_up", target)] == 0
        assert got[key("egov_tcp_failures_total", target, reason=reason)] == 1
        assert got_again[key("egov_tcp_failures_total", target, reason=reason)] == 2  # counts across runs
    assert not any(labels and dict(labels)["target"] == "unchecked" for _, labels in got)
    assert probe.most_active == 2

    states = {c.target: (c.state.name, c.summary) for c in probe.checks({})}
    assert states["ok-1"][0] == "OK"
    assert states["refused"] == ("CRITICAL", "connect: connection refused")
    assert states["silent"][0] == "CRITICAL" and "timeout" in states["silent"][1]


def test_several_checks_of_a_kind_on_one_host_are_probed_and_named_each(tmp_path):
    (tmp_path / "hosts.yml").write_text("""\
province:
  vars: {egov_site_type: province}
  hosts:
    web:
      ansible_host: 127.30.0.1
      egov_role: web_server
      egov_checks:
        tcp:
          - {name: so-y-te, port: 80}
          - {name: so-tu-phap, port: 1}
""")
    probe = FakeTcp(ProbeSettings(probe_timeout=0.3, timeout=5, interval=10),
                    Context(inventory=load_inventory(tmp_path)))
    got = samples(asyncio.run(probe.collect()))

    def key(name, check, **extra):
        return (name, tuple(sorted({"target": "web", "site": "province", "check": check, **extra}.items())))

    assert got[key("egov_tcp_up", "so-y-te")] == 1 and got[key("egov_tcp_up", "so-tu-phap")] == 0
    assert got[key("egov_tcp_failures_total", "so-tu-phap", reason="connect")] == 1
    assert key("egov_tcp_failures_total", "so-y-te", reason="connect") not in got  # counted per check
    checks = {(c.kind, c.name, c.target): (c.state.name, c.label) for c in probe.checks({})}
    assert checks == {("tcp", "so-y-te", "web"): ("OK", "tcp so-y-te"),
                      ("tcp", "so-tu-phap", "web"): ("CRITICAL", "tcp so-tu-phap")}


def test_without_an_inventory_a_probe_has_no_targets():
    probe = FakeTcp(ProbeSettings(), Context(inventory=None))
    got = samples(asyncio.run(probe.collect()))
    assert got == {}
    assert not probe.has_work()  # so the scheduler gives it no loop


def test_a_probe_has_work_once_a_target_lists_its_kind(tmp_path):
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    assert FakeTcp(ProbeSettings(), Context(inventory=load_inventory(tmp_path))).has_work()
