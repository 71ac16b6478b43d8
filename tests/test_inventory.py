"""The inventory: Ansible reading rules, the site model, targets, rejections, the tree."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from agent.inventory import InventoryError, load_inventory, render_tree, validate
from agent.inventory.ansible import expand_hosts
from agent.yamlfile import ConfigError, VaultValue
from collectors.http import HttpCheck
from collectors.icmp import IcmpCheck

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example"
FIXTURES = ROOT / "tests" / "fixtures" / "inventory"
# Example addresses may only be loopback or documentation ranges (never probed for real).
SAFE_NETWORKS = [ipaddress.ip_network(n) for n in
                 ("127.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


@pytest.fixture(scope="module")
def example():
    return load_inventory(EXAMPLE)


@pytest.fixture(scope="module")
def small():
    return load_inventory(FIXTURES / "small")


# --- Ansible's host ranges ---------------------------------------------------------

@pytest.mark.parametrize("pattern, hosts", [
    ("web-01", ["web-01"]),
    ("commune-[001:003]-rtr", ["commune-001-rtr", "commune-002-rtr", "commune-003-rtr"]),
    ("pc-[a:c]", ["pc-a", "pc-b", "pc-c"]),
    ("sw[1:9:4]", ["sw1", "sw5", "sw9"]),
    ("[:2]x", ["0x", "1x", "2x"]),
    ("m[1:2]-[a:b]", ["m1-a", "m1-b", "m2-a", "m2-b"]),
])
def test_host_ranges_expand_like_ansible(pattern, hosts):
    assert expand_hosts(pattern) == hosts


@pytest.mark.parametrize("pattern, fragment", [
    ("pc-[01:5]", "bad host range [01:5]"),
    ("pc-[1:x]", "bad host range [1:x]"),
    ("pc-[ab:cd]", "bad host range [ab:cd]"),
    ("pc-[5:1]", "host range [5:1] is empty"),
    ("pc-[1:3", "a host range is"),
    ("web-01:2222", "cannot carry a port"),
])
def test_bad_host_ranges_are_rejected(pattern, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        expand_hosts(pattern)


# --- the example province ----------------------------------------------------------

def test_example_is_valid():
    assert validate(EXAMPLE) == []


def test_example_uses_only_loopback_and_documentation_addresses(example):
    for file in EXAMPLE.rglob("*"):
        if file.is_file():
            for found in re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", file.read_text(encoding="utf-8")):
                address = ipaddress.ip_address(found)
                assert any(address in net for net in SAFE_NETWORKS), (file, found)
    assert all(any(ipaddress.ip_address(t.address) in net for net in SAFE_NETWORKS) for t in example.targets())


def test_example_site_tree(example):
    assert example.root.name == "tinh_mau" and example.root.type == "province"
    assert example.root.display_name == "Tỉnh Mẫu"
    types = {site.type for site in example.sites.values()}
    assert types == {"province", "datacenter", "rack", "department", "office", "pop", "commune"}
    assert [s.name for s in example.children("dc_chinh")] == ["dc_chinh_rack_a1", "dc_chinh_rack_a2"]
    assert [s.name for s in example.path("phong_hop_ubnd")] == ["tinh_mau", "van_phong_ubnd", "phong_hop_ubnd"]
    assert len([s for s in example.sites.values() if s.type == "commune"]) == 8


def test_uplink_is_separate_from_the_administrative_parent(example):
    tan_lap = example.site("xa_tan_lap")
    assert (tan_lap.parent, tan_lap.uplink) == ("tinh_mau", "pop_bac_son")
    assert example.site("xa_an_phu").uplink == "tinh_mau"  # defaults to the parent
    assert [s.name for s in example.behind("pop_bac_son")] == ["xa_tan_lap", "xa_son_thuy", "xa_lien_son"]
    assert example.behind("xa_tan_lap") == []


def test_targets_carry_their_site_and_merged_checks(example):
    targets = {t.name: t for t in example.targets()}
    router = targets["lienson-rtr"]
    assert (router.address, router.role, router.platform, router.site) == ("127.10.28.1", "router", "huawei",
                                                                           "xa_lien_son")
    # its own rtt thresholds, the fleet's loss thresholds from egov_check_defaults
    assert router.check("icmp") == IcmpCheck(count=3, loss_warning=0.05, loss_critical=0.2,
                                              rtt_warning=0.4, rtt_critical=1.0)
    assert set(router.checks) == {"icmp", "snmp"}
    assert targets["qlvb-app-01"].checks["http"] == {"http": HttpCheck(
        url="http://127.10.2.21:8080/qlvb/", status=200, time_warning=3.0, time_critical=5.0,
        cert_days_warning=21, cert_days_critical=7)}  # the one check of the mapping form: named after its kind
    assert set(targets["mail-01"].checks) == {"icmp", "smtp", "imap"}


def test_hosts_without_address_are_in_the_model_but_not_targets(example):
    pc = example.hosts["anphu-pc-02"]
    assert (pc.site, pc.role, pc.address, pc.checks) == ("xa_an_phu", "office_pc", None, {})
    names = {t.name for t in example.targets()}
    assert "anphu-pc-02" not in names and "anphu-motcua-01" in names
    assert names == {h.name for h in example.hosts.values() if "ansible_host" in h.vars}


def test_vault_values_stay_opaque(example):
    secret = example.hosts["anphu-rtr"].vars["ansible_password"]
    assert isinstance(secret, VaultValue)
    assert "ANSIBLE_VAULT" not in repr(secret) + render_tree(example) + repr(list(example.targets()))


# --- the model on a small inventory --------------------------------------------------

def test_render_tree(small):
    assert render_tree(small) == """\
Tỉnh Nhỏ — province (province)
├─ Trung tâm dữ liệu — dc (datacenter)
│  ├─ dc-rtr  router      cisco_xe  127.20.50.1
│  └─ web-01  web_server  linux     127.20.50.10
├─ PoP cũ — pop_old (pop)
│  └─ pop-rtr  router  huawei  127.20.51.1
├─ Xã A — xa_a (commune), uplink via pop_old
│  ├─ a-rtr  router     huawei  127.20.52.1
│  ├─ a-pc   office_pc  -       -
│  └─ Điểm giao dịch — xa_a_office (office)
└─ Xã B — xa_b (commune), uplink via xa_a
"""


def test_site_queries(small):
    # `communes` sets no egov_site_type: it is looked through, the province is the parent
    assert [s.name for s in small.children("province")] == ["dc", "pop_old", "xa_a", "xa_b"]
    assert [s.name for s in small.behind("pop_old")] == ["xa_a", "xa_a_office", "xa_b"]
    assert [s.name for s in small.path("xa_a_office")] == ["province", "xa_a", "xa_a_office"]
    assert [h.name for h in small.hosts_at("xa_a")] == ["a-rtr", "a-pc"]
    with pytest.raises(KeyError, match="no site named 'xa_z'"):
        small.site("xa_z")


# --- rejections: one small broken inventory each --------------------------------------

REJECTIONS = [
    # fixture, file, line, key, what the message says
    ("unknown_egov_key", "hosts.yml", 7, "egov_rol", "host r1: unknown key (known keys: egov_agent_port, egov_availability_targets, egov_check_defaults"),
    ("unknown_role", "hosts.yml", 6, "egov_role", "host p1: expected one of 'router'"),
    ("unknown_platform", "hosts.yml", 7, "egov_platform", "host r1: expected one of 'cisco_ios'"),
    ("network_role_without_network_platform", "hosts.yml", 7, "egov_platform",
     "host r1: a router needs a network platform (one of cisco_ios"),
    ("second_root", "hosts.yml", 8, "egov_site_type", "group commune_b: a second root site, inside no other "
                                                      "site; the root is province"),
    ("site_in_two_sites", "hosts.yml", 8, "egov_site_type", "group commune_x: inside two sites, pop_a and pop_b"),
    ("unknown_uplink", "hosts.yml", 7, "egov_uplink", "group commune_a: no site named 'pop_nowhere'"),
    ("uplink_cycle", "hosts.yml", 7, "egov_uplink", "group pop_a: the uplinks make a loop: "
                                                    "pop_a → pop_b → commune_c → pop_a"),
    ("duplicate_address", "hosts.yml", 5, "ansible_host", "host mail-02: address 127.20.8.1 is already host mail-01's"),
    ("threshold_wrong_type", "group_vars/all.yml", 3, "egov_check_defaults.icmp.loss_warning",
     "group all: expected a number, got 'high'"),
    ("invalid_yaml", "hosts.yml", 3, None, "invalid YAML"),
    ("host_in_two_sites", "hosts.yml", 7, "pc-01", "host pc-01 is in two sites, commune_a and commune_b"),
    ("host_in_no_site", "hosts.yml", 5, "spare-01", "host spare-01 is in no site"),
    ("site_key_on_host", "hosts.yml", 8, "egov_uplink", "host r1: only a site group"),
    ("check_defaults_outside_all", "hosts.yml", 7, "egov_check_defaults", "group commune_a: set this in group all"),
    ("check_without_required_field", "hosts.yml", 7, "egov_checks.http.url", "host web-01: the http check needs url"),
    ("bad_host_range", "hosts.yml", 4, "pc-[01:5]", "bad host range [01:5]"),
    ("group_loop", "hosts.yml", 4, "region", "group region cannot be a child of province"),
    ("unknown_group_key", "hosts.yml", 3, "host", "group province: unknown key, expected one of hosts"),
    ("invalid_group_name", "hosts.yml", 4, "commune-001", "a group name is letters, digits and _"),
    ("group_vars_for_no_group", "group_vars/ruoters.yml", None, None, "no group named ruoters"),
    ("group_vars_twice", "group_vars/all.yml", None, None, "group all has both all and all.yml"),
    ("non_yaml_file", "hosts", None, None, "not a YAML inventory file"),
]


@pytest.mark.parametrize("fixture, file, line, key, fragment", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejection(fixture, file, line, key, fragment):
    errors = validate(FIXTURES / fixture)
    assert len(errors) == 1, errors
    error = errors[0]
    assert (Path(error.file), error.line, error.key) == (FIXTURES / fixture / file, line, key)
    assert fragment in error.message


def test_every_problem_in_the_variables_is_reported_at_once():
    errors = validate(FIXTURES / "many_mapping_errors")
    assert [(e.line, e.key) for e in errors] == [(3, "egov_site_name"), (5, "egov_role"), (6, "egov_platform"),
                                                 (7, "egov_checks.icmp.loss_warning")]
    assert "expected a ratio from 0 to 1" in errors[-1].message


def test_every_problem_in_the_tree_is_reported_at_once():
    errors = validate(FIXTURES / "many_tree_errors")
    assert sorted((e.line, e.key) for e in errors) == [(6, "egov_uplink"), (8, "egov_platform"),
                                                       (9, "ansible_host"), (12, "lost-01")]


def test_load_inventory_raises_all_problems_together():
    with pytest.raises(InventoryError) as raised:
        load_inventory(FIXTURES / "many_tree_errors")
    assert isinstance(raised.value, ConfigError) and len(raised.value.errors) == 4
    assert str(raised.value).splitlines() == [str(e) for e in raised.value.errors]


# --- what an inventory may cost, and values it may not hold --------------------------

def one_site(tmp_path, host_vars: dict | None = None, site_vars: dict | None = None, hosts: dict | None = None):
    """A one-site inventory directory (JSON is YAML) with one host `h` carrying `host_vars`."""
    import json

    province = {"vars": {"egov_site_type": "province", **(site_vars or {})},
                "hosts": hosts or {"h": {"egov_role": "dc_host", "egov_platform": "linux", **(host_vars or {})}}}
    (tmp_path / "hosts.yml").write_text(json.dumps({"province": province}, indent=1))
    return tmp_path


def only_error(path) -> str:
    [error] = validate(path)
    return str(error)


def test_a_host_range_is_bounded_and_expands_in_linear_time(tmp_path):
    assert len(expand_hosts("h-[00001:10000]")) == 10_000
    with pytest.raises(ValueError, match="the ranges make 100,000 hosts, more than 10,000"):
        expand_hosts("h-[1:100000]")
    with pytest.raises(ValueError, match="more than 10,000"):
        expand_hosts("h-[0:99]-[0:999]")  # counted over all ranges, before any host is made
    with pytest.raises(ValueError, match="more than 10,000"):
        expand_hosts("h-[1:99999999999999999999999]")
    inventory = one_site(tmp_path, hosts={"pc-[00001:10000]": {"egov_role": "office_pc", "egov_platform": "windows"}})
    assert validate(inventory) == []  # 10,000 hosts in one group: minutes before (a list scan per host)


def test_a_symlink_loop_in_a_vars_directory_is_a_located_error(tmp_path):
    import os

    (tmp_path / "inventory").mkdir()  # its parent holds nothing else: `..` below leads only back to it
    inventory = one_site(tmp_path / "inventory")
    directory = inventory / "group_vars" / "province"
    directory.mkdir(parents=True)
    (directory / "main.yml").write_text("egov_site_name: Tỉnh\n")
    os.symlink(".", directory / "again")
    os.symlink(".", directory / "more")  # two links to `.`: 2^40 paths before the kernel's limit
    assert only_error(inventory) == (f"{directory / 'again'}: a directory loop: this symlink leads back into "
                                     f"a directory that contains it")
    os.remove(directory / "again")
    os.remove(directory / "more")
    os.symlink("..", inventory / "up")  # the inventory directory itself, reached again
    assert "a directory loop" in only_error(inventory)


def test_a_fifo_named_like_a_vars_file_is_refused_inside_a_directory_skipped(tmp_path):
    import os

    inventory = one_site(tmp_path)
    (inventory / "group_vars").mkdir()
    os.mkfifo(inventory / "group_vars" / "province.yml")  # Ansible would open it and wait forever
    assert only_error(inventory) == (f"{inventory / 'group_vars' / 'province.yml'}: not a regular file "
                                     f"(a FIFO, device or socket): refused, its read could block forever")
    os.remove(inventory / "group_vars" / "province.yml")
    (inventory / "group_vars" / "province").mkdir()
    os.mkfifo(inventory / "group_vars" / "province" / "extra.yml")  # Ansible skips it (not isfile)
    assert validate(inventory) == []


@pytest.mark.parametrize("value, fragment", [
    (None, "expected a host name or an IP address, got None"),
    (["127.0.0.1"], "got a list"),
    ({"ip": "127.0.0.1"}, "got a mapping"),
    ("", "got ''"),
    ("127.0.0.1\nEvil: header", "no spaces, line breaks or control characters"),
    ("a" * 5000, "5,000 characters: a host name is at most 255 (RFC 1035, RFC 1123)"),
])
def test_ansible_host_must_be_one_name_or_address(tmp_path, value, fragment):
    error = only_error(one_site(tmp_path, {"ansible_host": value}))
    assert error.startswith(f"{tmp_path / 'hosts.yml'}:") and "ansible_host: host h: " in error
    assert fragment in error and len(error) < 600


def test_a_vault_ansible_host_is_refused(tmp_path):
    (tmp_path / "hosts.yml").write_text(
        "province:\n  vars: {egov_site_type: province}\n  hosts:\n    h:\n"
        "      egov_role: dc_host\n      egov_platform: linux\n"
        "      ansible_host: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162636465\n")
    assert only_error(tmp_path) == (f"{tmp_path / 'hosts.yml'}:7: ansible_host: host h: a vault-encrypted "
                                    f"address cannot be monitored; write it in clear")


def test_a_null_uplink_does_not_make_a_second_root(tmp_path):
    import json

    (tmp_path / "hosts.yml").write_text(json.dumps({"province": {"vars": {"egov_site_type": "province"}, "children": {
        "xa_a": {"vars": {"egov_site_type": "commune", "egov_uplink": None}}}}}, indent=1))
    error = only_error(tmp_path)
    assert "egov_uplink: group xa_a: null; name the site this one hangs from" in error
    assert error.startswith(f"{tmp_path / 'hosts.yml'}:")


def test_an_unclosed_ipv6_url_is_a_located_error(tmp_path):
    error = only_error(one_site(tmp_path, {"ansible_host": "127.0.0.1", "egov_checks": {"http": {"url": "http://[::1"}}}))
    assert "egov_checks.http.url" in error and "Invalid IPv6 URL" in error  # a ValueError traceback before


# --- several checks of a kind on one host --------------------------------------------

def sites(*checks) -> dict:
    return {"ansible_host": "127.0.0.1", "egov_role": "web_server", "egov_checks": {"http": list(checks)}}


def test_a_host_lists_several_checks_of_a_kind_by_name_with_the_defaults_merged(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("egov_check_defaults: {http: {time_warning: 3, time_critical: 5}}")
    inventory = load_inventory(one_site(tmp_path, sites(
        {"name": "so-y-te", "url": "https://soyte.example/"},
        {"name": "so-tu-phap", "url": "https://sotuphap.example/", "time_warning": 2})))
    [target] = inventory.targets()
    assert target.checks == {"http": {"so-y-te": HttpCheck(url="https://soyte.example/", time_warning=3,
                                                           time_critical=5),
                                      "so-tu-phap": HttpCheck(url="https://sotuphap.example/", time_warning=2,
                                                              time_critical=5)}}
    assert target.check("http") is None  # several: none is "the" http check


@pytest.mark.parametrize("checks, key, fragment", [
    ([{"name": "so-y-te", "url": "https://soyte.example/", "tme_warning": 2}], "egov_checks.http[so-y-te].tme_warning",
     "host h: unknown key"),
    ([{"name": "so-y-te", "url": "https://soyte.example/", "time_warning": "slow"}],
     "egov_checks.http[so-y-te].time_warning", "host h: expected a duration"),
    ([{"url": "https://soyte.example/"}], "egov_checks.http[0].name", "host h: required key is missing"),
    ([{"name": "Sở Y tế", "url": "https://soyte.example/"}], "egov_checks.http[0].name",
     "host h: expected a short name"),
    ([{"name": "so-y-te", "url": "https://a.example/"}, {"name": "so-y-te", "url": "https://b.example/"}],
     "egov_checks.http", "host h: two http checks named so-y-te: a name is unique per host and kind"),
    ([{"name": "so-y-te"}], "egov_checks.http[so-y-te].url", "host h: the http check so-y-te needs url"),
])
def test_every_error_of_one_of_several_checks_names_the_host_and_the_check(tmp_path, checks, key, fragment):
    [error] = validate(one_site(tmp_path, sites(*checks)))
    assert (Path(error.file), error.key) == (tmp_path / "hosts.yml", key) and error.line
    assert error.message.startswith(fragment), error.message


def test_a_kind_a_host_has_once_takes_no_list(tmp_path):
    error = only_error(one_site(tmp_path, {"ansible_host": "127.0.0.1", "egov_checks": {"icmp": [{"name": "a"}]}}))
    assert "egov_checks.icmp: host h: expected a mapping, got list" in error
