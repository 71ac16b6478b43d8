"""Check states as operators see them: hold time, one outage one root cause, UNREACHABLE behind it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agent.checks import Check, State
from agent.inventory import load_inventory
from agent.states import CheckStates

# province ─ dc (dc-rtr, web-01); pop_old (pop-rtr); xa_a (a-rtr, uplink pop_old) with its office
# xa_a_office inside; xa_b (uplink xa_a)
SMALL = Path(__file__).parent / "fixtures" / "inventory" / "small"


def icmp(target: str, loss: float) -> Check:
    state = State.CRITICAL if loss >= 1 else State.OK
    return Check("icmp", target, state, f"loss {loss:.0%}", loss, {"loss_critical": 0.2})


def shown(states: CheckStates) -> dict:
    rows, _ = states.current()
    return {(check.name, check.target): (state, site, team) for check, state, _, site, team in rows}


def test_an_uplink_down_makes_everything_behind_it_unreachable_with_one_root_cause():
    states = CheckStates(hold=0, inventory=load_inventory(SMALL), host="web-01")
    healthy = [icmp("dc-rtr", 0), icmp("pop-rtr", 0), icmp("a-rtr", 0),
               Check("http", "web-01", State.OK, "200 in 5 ms")]
    states.observe(healthy, [], now=0)
    assert {state for state, _, _ in shown(states).values()} == {State.OK}

    cut = [icmp("dc-rtr", 0), icmp("pop-rtr", 1.0), icmp("a-rtr", 1.0), healthy[3]]
    states.observe(cut, healthy, now=10)
    now = shown(states)
    assert now[("icmp", "pop-rtr")] == (State.UNREACHABLE, "pop_old", "network")
    assert now[("icmp", "a-rtr")][0] == State.UNREACHABLE  # down too, but behind pop_old: not a second alert
    assert now[("icmp", "dc-rtr")][0] == State.OK and now[("http", "web-01")] == (State.OK, "dc", "datacenter")
    _, outages = states.current()
    assert outages.roots == {"pop_old": 3}  # xa_a, its office and xa_b
    assert outages.cause == {"xa_a": "pop_old", "xa_a_office": "xa_a", "xa_b": "xa_a"}

    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(states.exposition().decode()) for s in f.samples}
    assert got[("egov_outage_sites_cut_off", (("site", "pop_old"),))] == 3
    assert got[("egov_site_uplink_up", (("site", "pop_old"), ("site_type", "pop")))] == 0
    assert got[("egov_site_cut_off", (("cause", "xa_a"), ("site", "xa_b")))] == 1
    assert got[("egov_check_status", (("check", "icmp"), ("kind", "icmp"), ("site", "pop_old"),
                                      ("target", "pop-rtr"), ("team", "network")))] == 4

    states.observe(healthy, cut, now=20)  # the uplink is back: everything re-evaluated, nothing left over
    assert {state for state, _, _ in shown(states).values()} == {State.OK}
    _, outages = states.current()
    assert outages.roots == {} and outages.cause == {}


def test_a_site_down_on_its_own_is_its_own_root_cause():
    states = CheckStates(hold=0, inventory=load_inventory(SMALL))
    states.observe([icmp("pop-rtr", 0), icmp("a-rtr", 1.0)], [], now=0)
    _, outages = states.current()
    assert outages.roots == {"xa_a": 2} and outages.cause == {"xa_a_office": "xa_a", "xa_b": "xa_a"}
    assert shown(states)[("icmp", "pop-rtr")][0] == State.OK


def test_high_loss_is_critical_but_not_an_outage():
    states = CheckStates(hold=0, inventory=load_inventory(SMALL))
    lossy = Check("icmp", "pop-rtr", State.CRITICAL, "loss 40%", 0.4)
    states.observe([lossy], [], now=0)
    assert shown(states)[("icmp", "pop-rtr")][0] == State.CRITICAL
    assert states.current()[1].roots == {}


def test_hold_time_keeps_a_flapping_check_from_paging():
    states = CheckStates(hold=60)
    ok, bad = (Check("load", "host", state, "") for state in (State.OK, State.CRITICAL))
    states.observe([ok], [], now=0)
    states.observe([bad], [ok], now=15)
    states.observe([ok], [bad], now=30)  # back before the hold time: never shown
    states.observe([bad], [ok], now=45)
    states.observe([bad], [bad], now=90)
    assert shown(states)[("load", "host")][0] == State.OK  # critical for 45 s only
    states.observe([bad], [bad], now=105)
    rows, _ = states.current()
    [(_, state, since, site, team)] = rows
    assert (state, since, site, team) == (State.CRITICAL, 105, "", "datacenter")


def test_checks_that_disappear_are_forgotten():
    states = CheckStates()
    states.observe([Check("filesystem", "/mnt/usb", State.OK, "")], [], now=0)
    states.observe([], [Check("filesystem", "/mnt/usb", State.OK, "")], now=1)
    assert shown(states) == {}


def test_a_missing_secret_of_the_agent_makes_the_devices_unknown_and_is_reported_once_per_check():
    """The example province with EGOV_SNMP_COMMUNITY unset: the snmp collector reaches no device
    (it cannot even build a request); every router's and switch's snmp check is UNKNOWN naming
    the variable, and egov_check_config_error marks each, for the one alert of the agent's team
    (EgovAgentConfigError, monitoring/prometheus/tests/checks.yml), not one page per device."""
    import asyncio

    from agent.context import Context
    from collectors.snmp import SnmpCollector

    inventory = load_inventory(Path(__file__).resolve().parents[1] / "inventory" / "example")
    collector = SnmpCollector(context=Context(inventory=inventory), environ={})
    asyncio.run(collector.collect())
    checks = list(collector.checks({}))
    devices = {t.name for t in inventory.targets() if "snmp" in t.checks}
    assert len(devices) > 20 and {c.target for c in checks} == devices
    assert {(c.state, c.reason, c.summary) for c in checks} == {
        (State.UNKNOWN, "config", "config: environment variable EGOV_SNMP_COMMUNITY (community_env) is not set")}

    states = CheckStates(hold=0, inventory=inventory, host="egov-agent-01")
    states.observe(checks, [], now=0)
    got = [(s.name, s.labels["target"], s.value)
           for f in text_string_to_metric_families(states.exposition().decode()) for s in f.samples
           if s.name in ("egov_check_status", "egov_check_config_error")]
    assert sorted(t for name, t, v in got if name == "egov_check_config_error" and v == 1) == sorted(devices)
    assert {v for name, _, v in got if name == "egov_check_status"} == {State.UNKNOWN}
