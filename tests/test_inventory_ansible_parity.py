"""We read an inventory exactly as Ansible does: compared with `ansible-inventory --list`.

ansible-inventory runs once per inventory for the whole module, from an empty working
directory (it would also read play-adjacent group_vars/ from there) and without any
ansible.cfg, so it applies Ansible's defaults, as our reader does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.inventory.ansible import AnsibleInventory, read
from agent.yamlfile import VaultValue
from tests.peers import require

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "inventory"
INVENTORIES = {
    "example": ROOT / "inventory" / "example",
    "precedence": FIXTURES / "parity_precedence",
    "single_file": FIXTURES / "parity_single_file" / "hosts.yml",
}


@pytest.fixture(scope="module")
def ansible_lists(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    binary = require("ansible-inventory")
    home = tmp_path_factory.mktemp("ansible-home")
    env = {"PATH": str(Path(binary).parent), "HOME": str(home), "LANG": "C.UTF-8",
           "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_NOCOLOR": "1",
           # a source Ansible cannot parse must fail the run, not shrink the output
           "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1"}
    return {name: subprocess.run([binary, "-i", str(path), "--list"], cwd=home, env=env,
                                 capture_output=True, text=True, timeout=120, check=True)
            for name, path in INVENTORIES.items()}


def as_ansible_lists_it(inventory: AnsibleInventory) -> dict:
    """Our reading in the shape of `ansible-inventory --list` (its json_inventory())."""
    result: dict = {"_meta": {"hostvars": {name: dict(host.vars) for name, host in inventory.hosts.items()
                                           if host.vars}}}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group, entry = inventory.groups[name], {}
        if name != "all" and group.hosts:
            entry["hosts"] = list(group.hosts)
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            result[name] = entry
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)

    visit("all")
    return result


def from_ansible_json(value):
    """ansible-inventory prints a vaulted value as {"__ansible_vault": ciphertext}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_vault"}:
            return VaultValue(value["__ansible_vault"])
        return {k: from_ansible_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_ansible_json(v) for v in value]
    return value


@pytest.fixture(params=sorted(INVENTORIES))
def both(request, ansible_lists) -> tuple[dict, dict]:
    theirs = from_ansible_json(json.loads(ansible_lists[request.param].stdout))
    theirs["_meta"].pop("profile", None)
    return theirs, as_ansible_lists_it(read(INVENTORIES[request.param]))


def test_same_groups_children_and_hosts(both):
    theirs, ours = both
    assert {k: v for k, v in ours.items() if k != "_meta"} == {k: v for k, v in theirs.items() if k != "_meta"}


def test_same_merged_host_variables(both):
    theirs, ours = both
    assert ours["_meta"]["hostvars"].keys() == theirs["_meta"]["hostvars"].keys()
    for host, variables in theirs["_meta"]["hostvars"].items():
        assert ours["_meta"]["hostvars"][host] == variables, host


def test_ansible_has_no_warning_about_our_inventories(ansible_lists):
    # a warning means Ansible skipped or reinterpreted something: we reject those instead
    for name, run in ansible_lists.items():
        assert "WARNING" not in run.stderr, (name, run.stderr)


def test_the_fixtures_exercise_what_they_claim(ansible_lists):
    """Guards the fixture itself: without these cases the parity above would prove less."""
    listed = json.loads(ansible_lists["precedence"].stdout)
    hostvars = listed["_meta"]["hostvars"]
    assert hostvars["node-01-x"]["prio"] == "zone_a"  # priority beats name at equal depth
    assert hostvars["node-01-x"]["layer"] == "hv_file"  # host_vars beat everything
    assert hostvars["node-02-x"]["host_inline"] == "second"  # host declared twice
    assert hostvars["node-03-x"]["layer"] == "gv_zone_b_first"  # group_vars/<g>/ beat host-less inline
    assert hostvars["node-03-x"]["dir_order"] == "nested"  # a directory's files in sorted order, recursively
    assert hostvars["node-05-x"]["tie"] == "tie_b"  # equal depth and priority: later name wins
    assert hostvars["node-05-x"]["layer"] == "gv_tie_a"  # group_vars files beat every inline group var
    assert hostvars["node-c"]["layer"] == "gv_zone_b_first"
    assert hostvars["lonely"]["layer"] == "gv_all"  # group_vars/all beats all's inline vars
    assert hostvars["node-01-x"]["ansible_group_priority"] == 99  # in a file it is a plain variable
    assert "multi-2-b" in hostvars and "node-09-x" in hostvars and "node-07-x" not in hostvars
    assert listed["ungrouped"]["hosts"] == ["stray", "lonely"]
    assert "not-read" not in ansible_lists["single_file"].stdout
