"""`egov-agent targets`: the file_sd file of the agents, sharding by site, the atomic write."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent import yamlfile
from agent.config import DEFAULT_PORT
from agent.inventory import load_inventory
from agent.targets import agent_hosts, anchor, run, shard_of, sites_in_shard, target_groups
from agent.yamlfile import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example"

def test_the_roles_default_port_is_the_agents():
    """An Ansible default cannot import agent.config, so each role's copy of the port is held to it."""
    for role, var in (("egov_agent", "egov_agent_port"), ("host_baseline", "host_baseline_agent_port")):
        defaults = yamlfile.load(ROOT / "playbooks" / "roles" / role / "defaults" / "main.yml")
        assert defaults[var] == DEFAULT_PORT, role


# Agents at a commune behind the Bắc Sơn PoP, at the standby data centre and at a department.
MORE_AGENTS = """\
xa_tan_lap:
  hosts:
    tanlap-agent: {ansible_host: 127.10.26.50, egov_role: monitoring_server}
dc_du_phong_rack_b1:
  hosts:
    dp-agent: {ansible_host: 127.10.5.50, egov_role: monitoring_server, egov_agent_port: 9470}
so_noi_vu:
  hosts:
    noivu-agent: {ansible_host: "::1", egov_role: monitoring_server}
"""


def inventory_copy(tmp_path: Path, **files: str) -> Path:
    """The example inventory with extra files (name -> YAML text; host_vars/x.yml allowed)."""
    copy = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, copy)
    for name, text in files.items():
        (copy / name.replace("__", "/")).write_text(text)
    return copy


@pytest.fixture(scope="module")
def example():
    return load_inventory(EXAMPLE)


@pytest.fixture(scope="module")
def four_agents(tmp_path_factory):
    return load_inventory(inventory_copy(tmp_path_factory.mktemp("agents"), **{"95-agents.yml": MORE_AGENTS}))


# --- which hosts, which labels, which port --------------------------------------------

EXAMPLE_AGENTS = ["dns-01", "dns-02", "dvc-db-01", "dvc-portal-01", "egov-agent-01", "kvm-a1-01", "kvm-a1-02",
                  "kvm-b1-01", "mail-01", "mail-02", "qlvb-app-01", "qlvb-app-02", "qlvb-db-01", "web-sites-01"]
FOUR = {"dp-agent", "egov-agent-01", "noivu-agent", "tanlap-agent"}  # the monitoring servers of MORE_AGENTS


def test_the_example_lists_its_linux_hosts_and_its_monitoring_server(example):
    groups = target_groups(example)
    assert [group["labels"]["agent"] for group in groups] == EXAMPLE_AGENTS  # the servers group is Linux
    assert {"targets": ["127.10.3.50:9469"],
            "labels": {"agent": "egov-agent-01", "site": "dc_chinh_rack_a2", "site_type": "rack"}} in groups


def test_each_agent_host_with_its_site_port_and_address_form(four_agents):
    assert [group for group in target_groups(four_agents) if group["labels"]["agent"] in FOUR] == [
        {"targets": ["127.10.5.50:9470"], "labels": {"agent": "dp-agent", "site": "dc_du_phong_rack_b1",
                                                     "site_type": "rack"}},
        {"targets": ["127.10.3.50:9469"], "labels": {"agent": "egov-agent-01", "site": "dc_chinh_rack_a2",
                                                     "site_type": "rack"}},
        {"targets": ["[::1]:9469"], "labels": {"agent": "noivu-agent", "site": "so_noi_vu",
                                               "site_type": "department"}},
        {"targets": ["127.10.26.50:9469"], "labels": {"agent": "tanlap-agent", "site": "xa_tan_lap",
                                                      "site_type": "commune"}}]


def test_agents_named_by_group_or_host(four_agents):
    assert [h.name for h in agent_hosts(four_agents, "dns_servers")] == ["dns-01", "dns-02"]
    assert [h.name for h in agent_hosts(four_agents, "tanlap-agent, mail-01")] == ["mail-01", "tanlap-agent"]
    # a group of groups: every host below it
    assert [h.name for h in agent_hosts(four_agents, "servers")][:3] == ["dns-01", "dns-02", "dvc-db-01"]


@pytest.mark.parametrize("agents, message", [
    ("no_such_group", "no group or host named 'no_such_group'"),
    ("mail-01,nobody", "no group or host named 'nobody'"),
    (" , ", "expected group or host names separated by commas"),
])
def test_unknown_agents_are_errors(four_agents, agents, message):
    with pytest.raises(ConfigError, match=message) as err:
        agent_hosts(four_agents, agents)
    assert err.value.key == "--agents"


def test_an_agent_host_needs_an_address(tmp_path):
    inventory = load_inventory(inventory_copy(tmp_path, **{"95-agents.yml": (
        "xa_an_phu:\n  hosts:\n    anphu-agent: {egov_role: monitoring_server, egov_checks: {}}\n")}))
    with pytest.raises(ConfigError, match="host anphu-agent runs egov-agent but has no address") as err:
        agent_hosts(inventory)
    assert err.value.file.endswith("95-agents.yml") and err.value.line == 3


def test_an_inventory_without_agents_is_an_error(tmp_path):
    inventory = load_inventory(inventory_copy(tmp_path, **{
        "group_vars__monitoring_servers.yml": "egov_role: dns_server\n",
        "group_vars__servers.yml": "egov_platform: windows\n"}))
    with pytest.raises(ConfigError, match="no host has egov_role monitoring_server or egov_platform linux"):
        agent_hosts(inventory)


def test_the_port_comes_from_the_inventory_and_is_checked(tmp_path):
    inventory = load_inventory(inventory_copy(tmp_path, **{"host_vars__egov-agent-01.yml": "egov_agent_port: 70000\n"}))
    with pytest.raises(ConfigError, match="host egov-agent-01: expected a port from 1 to 65535, got 70000") as err:
        target_groups(inventory)
    assert err.value.file.endswith("egov-agent-01.yml") and err.value.line == 1


def test_the_port_variable_is_strict_like_every_egov_variable(tmp_path):
    with pytest.raises(ConfigError, match="egov_agent_port"):
        load_inventory(inventory_copy(tmp_path, **{"host_vars__egov-agent-01.yml": "egov_agent_port: http\n"}))


# --- shards: the province's sites, split by uplink subtree ----------------------------

@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_every_site_is_in_exactly_one_shard(example, count):
    shards = [sites_in_shard(example, f"{i}/{count}") for i in range(1, count + 1)]
    every = [site for shard in shards for site in shard]
    assert sorted(every) == sorted(example.sites)  # none twice, none left out


@pytest.mark.parametrize("count", [2, 3, 5])
def test_a_shard_keeps_each_uplink_subtree_whole(example, count):
    # the PoP and every commune behind it: the agent that sees the PoP go down owns the communes
    bac_son = {"pop_bac_son", "xa_tan_lap", "xa_son_thuy", "xa_lien_son"}
    assert len({shard_of(example, site, count) for site in bac_son}) == 1
    for site in example.sites:
        assert shard_of(example, site, count) == shard_of(example, anchor(example, site), count)


def test_anchors_are_the_sites_just_below_the_root(example):
    assert anchor(example, "tinh_mau") == "tinh_mau"
    assert anchor(example, "dc_chinh_rack_a1") == "dc_chinh"
    assert anchor(example, "xa_hoa_binh") == "pop_dong_ha"  # its uplink, not its administrative parent
    assert anchor(example, "phong_hop_ubnd") == "van_phong_ubnd"
    assert anchor(example, "xa_an_phu") == "xa_an_phu"


# A deployed province relies on these: a different hash would move sites between agents.
EXAMPLE_SHARDS_OF_3 = {
    1: ["dc_du_phong", "dc_du_phong_rack_b1", "phong_hop_ubnd", "phuong_trung_tam", "so_khcn", "van_phong_ubnd",
        "xa_an_phu", "xa_binh_minh"],
    2: ["pop_bac_son", "xa_lien_son", "xa_son_thuy", "xa_tan_lap", "xa_thuan_an"],
    3: ["dc_chinh", "dc_chinh_rack_a1", "dc_chinh_rack_a2", "pop_dong_ha", "so_noi_vu", "so_tai_chinh", "tinh_mau",
        "xa_hoa_binh"],
}


def test_shards_are_the_same_in_every_process(example):
    assert {i: sites_in_shard(example, f"{i}/3") for i in (1, 2, 3)} == EXAMPLE_SHARDS_OF_3
    code = ("import json; from agent.inventory import load_inventory; from agent.targets import sites_in_shard; "
            f"inv = load_inventory({str(EXAMPLE)!r}); print(json.dumps(sites_in_shard(inv, '2/3')))")
    for seed in ("0", "4242"):  # Python's own hash() would differ between these
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout
        assert json.loads(out) == EXAMPLE_SHARDS_OF_3[2]


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "a/b", "3", "", "1/2/3"])
def test_a_bad_shard_is_an_error(example, spec):
    with pytest.raises(ConfigError, match="expected I/N with 1 <= I <= N") as err:
        sites_in_shard(example, spec)
    assert err.value.key == "--shard"


@pytest.mark.parametrize("count", [2, 3])
def test_each_agent_lands_in_the_shard_of_its_site(four_agents, count):
    shards = {i: target_groups(four_agents, shard=f"{i}/{count}") for i in range(1, count + 1)}
    seen = [group["labels"]["agent"] for groups in shards.values() for group in groups]
    assert sorted(seen) == sorted(FOUR | set(EXAMPLE_AGENTS))  # each exactly once
    for i, groups in shards.items():
        for group in groups:
            assert group["labels"]["site"] in sites_in_shard(four_agents, f"{i}/{count}")


# --- the file: written whole or not at all ---------------------------------------------

def test_run_writes_the_file_sd_json(tmp_path, capsys):
    out = tmp_path / "sd" / "egov.json"  # the directory is created
    assert run(str(EXAMPLE), str(out)) == 0
    assert json.loads(out.read_text()) == target_groups(load_inventory(EXAMPLE))
    assert out.stat().st_mode & 0o777 == 0o644  # readable by Prometheus's own user
    assert os.listdir(out.parent) == ["egov.json"]  # no temporary file left
    assert capsys.readouterr().out == f"{out}: {len(EXAMPLE_AGENTS)} agent(s)\n"


def test_run_with_a_shard(tmp_path, capsys):
    inventory = inventory_copy(tmp_path, **{"95-agents.yml": MORE_AGENTS})
    out = tmp_path / "shard.json"
    run(str(inventory), str(out), shard="2/3")
    written = json.loads(out.read_text())
    assert [g["labels"]["agent"] for g in written if g["labels"]["agent"] in FOUR] == ["tanlap-agent"]  # xa_tan_lap hangs behind pop_bac_son: 2/3
    assert capsys.readouterr().out == f"{out}: 1 agent(s) in shard 2/3\n"


def test_a_bad_inventory_leaves_the_last_file_alone(tmp_path):
    out = tmp_path / "egov.json"
    out.write_text("[]\n")
    broken = inventory_copy(tmp_path, **{"host_vars__egov-agent-01.yml": "egov_agent_port: 0\n"})
    with pytest.raises(ConfigError):
        run(str(broken), str(out))
    with pytest.raises(ConfigError, match="--shard"):
        run(str(EXAMPLE), str(out), shard="9/3")
    assert out.read_text() == "[]\n" and sorted(os.listdir(tmp_path)) == ["egov.json", "inventory"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "egov.json"
    out.mkdir()  # the rename over a directory fails after the temporary file was written
    with pytest.raises(ConfigError, match="cannot write the targets file"):
        run(str(EXAMPLE), str(out))
    assert os.listdir(tmp_path) == ["egov.json"]


def test_a_reader_never_sees_half_a_file(tmp_path):
    """Prometheus re-reads the file whenever it changes: every read must be one whole version."""
    from agent.targets import write_atomically

    out = tmp_path / "egov.json"
    versions = [json.dumps([{"targets": [f"127.10.{n}.{i}:9469" for i in range(1, 250)], "labels": {"v": str(n)}}])
                for n in range(2)]
    write_atomically(out, versions[0])
    done, reads, bad = threading.Event(), [0], []

    def reader():
        while not done.is_set():
            text = out.read_text()
            reads[0] += 1
            if text not in versions:
                bad.append(len(text))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(300):
            write_atomically(out, versions[n % 2])
    finally:
        done.set()
        thread.join(10)
    assert reads[0] > 0 and bad == []
