"""Reloads against a live agent: failing, slow and overlapping ones leave it serving and whole."""

from __future__ import annotations

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.helpers import billion_laughs, values, wait_for
from tests.peers import http_get

FAST = "collectors:\n  loadavg: {interval: 500ms, timeout: 400ms}\n  agent: {interval: 500ms, timeout: 400ms}\n"


def scrape(agent) -> bytes:
    return http_get(agent.url + "/metrics")[2]


def last_success(agent, collector: str = "loadavg") -> float:
    return values(scrape(agent), "egov_collector_last_success_timestamp_seconds").get((("collector", collector),), 0)


def gauge(agent, name: str) -> float:
    return values(scrape(agent), name)[()]


def province(tmp_path, hosts: dict) -> str:
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "hosts": hosts}}, indent=1))
    return str(path)


def started(start_agent, tmp_path):
    """An agent on FAST collectors and a one-host province, once loadavg has run; and its agent.yml."""
    config = tmp_path / "agent.yml"
    config.write_text(FAST)
    agent = start_agent("-c", str(config), "-i", province(tmp_path, {"h": {"egov_role": "dc_host",
                                                                          "egov_platform": "linux"}}))
    wait_for(lambda: last_success(agent))
    return agent, config


def test_any_failure_while_loading_is_a_located_500_and_the_old_config_serves(start_agent, tmp_path):
    agent, config = started(start_agent, tmp_path)

    def rejected(what: str) -> str:
        status, _, body = http_get(agent.url + "/-/reload", method="POST", timeout=60)
        assert status == 500, what
        assert gauge(agent, "egov_config_last_reload_successful") == 0
        return body.decode()

    config.write_text(FAST + "log_level: " + "[" * 500 + "]" * 500 + "\n")  # a RecursionError before
    assert rejected("deep").startswith(f"reload rejected: {config}:4: nested more than 64 levels deep")
    config.write_text(FAST)

    before = last_success(agent)
    (tmp_path / "inventory.yml").write_text(
        "province:\n  vars:\n    egov_site_type: province\n    bomb:\n"
        + "".join("      " + line + "\n" for line in billion_laughs(9).splitlines())
        + "  hosts:\n    h: {egov_role: *i}\n")
    body = rejected("billion laughs")  # 33 MB of error before, or all the memory
    assert "inventory.yml:" in body and "aliases are expanded" in body and len(body) < 1000

    province(tmp_path, {"h": {"egov_role": "web_server", "egov_platform": "linux", "ansible_host": "127.0.0.1",
                              "egov_checks": {"http": {"url": "http://[::1"}}}})
    body = rejected("bad IPv6 URL")  # a ValueError that dropped the connection before
    assert "inventory.yml:" in body and "Invalid IPv6 URL" in body

    wait_for(lambda: last_success(agent) > before)  # the old collectors ran on throughout
    agent.signal(signal.SIGHUP)  # the same failure by signal: logged, never "Task exception"
    wait_for(lambda: agent.output().count("reload rejected") >= 4)
    log = agent.output()
    assert "Invalid IPv6 URL" in log and "Traceback" not in log and "never retrieved" not in log

    province(tmp_path, {"h": {"egov_role": "dc_host", "egov_platform": "linux"}})
    assert http_get(agent.url + "/-/reload", method="POST", timeout=60)[:3:2] == (200, b"reloaded\n")
    assert gauge(agent, "egov_config_last_reload_successful") == 1


def test_collectors_run_and_scrapes_answer_during_a_slow_reload(start_agent, tmp_path):
    agent, _ = started(start_agent, tmp_path)
    # 50,000 hosts: seconds of loading (several collector intervals), which used to stop every collector
    province(tmp_path, {f"pc{n}-[00001:10000]": {"egov_role": "office_pc", "egov_platform": "windows"}
                        for n in range(5)})
    answer = {}
    reload = threading.Thread(target=lambda: answer.update(
        zip(("status", "headers", "body"), http_get(agent.url + "/-/reload", method="POST", timeout=120))))
    reload.start()
    seen = set()
    while reload.is_alive():
        seen.add(last_success(agent))  # a scrape that answers, from the old config's collectors
        time.sleep(0.2)
    reload.join()
    assert answer["status"] == 200, answer["body"][:300]
    assert len(seen) >= 2, "the collectors stopped while the inventory was loading"


def test_a_load_past_reload_timeout_is_abandoned_and_the_old_config_serves(start_agent, tmp_path):
    config = tmp_path / "agent.yml"
    config.write_text("reload_timeout: 1s\n" + FAST)
    one_host = {"h": {"egov_role": "dc_host", "egov_platform": "linux"}}
    agent = start_agent("-c", str(config), "-i", province(tmp_path, one_host))
    wait_for(lambda: last_success(agent))
    # 100,000 hosts: seconds of loading, past the second the serving config allows
    province(tmp_path, {f"pc{n}-[00001:10000]": {"egov_role": "office_pc", "egov_platform": "windows"}
                        for n in range(10)})
    status, _, body = http_get(agent.url + "/-/reload", method="POST", timeout=60)
    assert (status, body) == (500, b"reload rejected: loading took more than reload_timeout (1s), abandoned\n")
    assert gauge(agent, "egov_config_last_reload_successful") == 0
    # while the abandoned load still runs, a reload fails at once instead of piling up threads
    status, _, body = http_get(agent.url + "/-/reload", method="POST", timeout=60)
    assert (status, body) == (500, b"reload rejected: the previous load, abandoned past reload_timeout, is still "
                                   b"running\n")
    before = last_success(agent)
    wait_for(lambda: last_success(agent) > before)  # the old config's collectors run on meanwhile

    province(tmp_path, one_host)  # once the abandoned load has ended, a load in time succeeds
    wait_for(lambda: http_get(agent.url + "/-/reload", method="POST", timeout=60)[0] == 200, timeout=120)
    assert gauge(agent, "egov_config_last_reload_successful") == 1
    assert "Traceback" not in agent.output()


def test_overlapping_reloads_leave_no_collector_loop_behind(start_agent, tmp_path):
    """Ten POSTs at once and SIGHUPs 50 ms apart: every POST is answered, and once they are
    done the agent runs as many asyncio tasks and threads as before."""
    agent, _ = started(start_agent, tmp_path)
    wait_for(lambda: last_success(agent, "agent"))
    time.sleep(1.5)  # every collector has run once: their one-off start-up work is done
    tasks, threads = gauge(agent, "egov_agent_asyncio_tasks"), gauge(agent, "egov_agent_threads")

    with ThreadPoolExecutor(10) as pool:
        posts = [pool.submit(http_get, agent.url + "/-/reload", method="POST", timeout=120) for _ in range(10)]
        for _ in range(10):
            agent.signal(signal.SIGHUP)
            time.sleep(0.05)
        assert [post.result()[0] for post in posts] == [200] * 10

    def settled():
        body = scrape(agent)
        return (values(body, "egov_agent_asyncio_tasks")[()] <= tasks
                and values(body, "egov_agent_threads")[()] <= threads)
    wait_for(settled, timeout=60)  # loops left running would keep the task count up for good
    before = last_success(agent)
    wait_for(lambda: last_success(agent) > before)
    assert "Traceback" not in agent.output()
