"""Every line of every golden configuration is a line real devices print, or a command a
vendor's reference documents: its shape is cited beside the template (TEMPLATE.sources.yml)
and the citation is checked against the real-gear corpus.

The golden configurations are rendered the way the audit renders them
(playbooks/golden_configs.yml) from the example inventory as a user has it, with `ssh`
checks added to its routers and switches: its network_cli connection and its vaulted
password must not stop the rendering, which touches no device.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from agent import platforms
from agent.audit import configtext
from agent.audit.golden import render
from agent.inventory import load_inventory as load
from tests import real_gear

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "playbooks" / "roles" / "network_baseline" / "templates"


def sources(template: str) -> list[dict]:
    return yaml.safe_load((TEMPLATES / template).with_suffix(".sources.yml").read_text())


def shape_of(line: str) -> str:
    """A line as the shapes see it: whitespace collapsed, one leading space in a block."""
    return (" " if line[:1].isspace() else "") + " ".join(line.split())


def corpus_lines(relative: str) -> list[str]:
    """A corpus file's lines as shape_of() sees them; VRP and Comware print their global lines
    indented inside `#` sections, so a global shape is also tried on the line unindented."""
    lines = [shape_of(line) for line in real_gear.path(relative).read_text(errors="replace").splitlines()]
    return lines + [line.strip() for line in lines if line.startswith(" ")]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory) -> Path:
    """The example inventory with an ssh check on its routers and switches (those that do
    not list their own checks)."""
    inventory = tmp_path_factory.mktemp("inventory") / "example"
    shutil.copytree(REPO / "inventory" / "example", inventory)
    for group in ("routers", "switches"):
        path = inventory / "group_vars" / f"{group}.yml"
        data = yaml.safe_load(path.read_text())
        data["egov_checks"]["ssh"] = None
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return inventory


@pytest.fixture(scope="module")
def golden(inventory) -> dict[str, tuple[str, list[str]]]:
    """{device: (platform, golden lines)}, rendered as the audit renders them."""
    hosts = load(str(inventory)).hosts
    return {name: (hosts[name].platform, lines) for name, lines in render(str(inventory)).items()}


def test_every_provisioned_device_of_the_example_inventory_renders(inventory, golden):
    hosts = load(str(inventory)).hosts
    gear = {h.name for h in hosts.values() if "ssh" in h.checks
            and platforms.get(h.platform) and platforms.get(h.platform).template}
    assert len(gear) > 20 and sorted(golden) == sorted(gear)
    assert {platform for platform, _ in golden.values()} >= {"cisco_ios", "cisco_xe", "huawei", "huawei_vrpv8"}


@pytest.mark.parametrize("template", sorted({p.template for p in platforms.PLATFORMS.values() if p.template}))
def test_every_golden_line_has_a_cited_shape(golden, template):
    shapes = [re.compile(source["shape"]) for source in sources(template)]
    rendered = [lines for platform, lines in golden.values() if platforms.get(platform).template == template]
    assert rendered, f"no device of the example inventory renders {template}"
    uncited = sorted({shape_of(line) for lines in rendered for line in lines
                      if line.strip() and not any(shape.fullmatch(shape_of(line)) for shape in shapes)})
    assert uncited == [], f"{template}: lines without a source in {template.replace('.j2', '.sources.yml')}"


@pytest.mark.parametrize("template", sorted({p.template for p in platforms.PLATFORMS.values() if p.template}))
def test_every_citation_holds_in_the_corpus(template):
    wrong = []
    for source in sources(template):
        shape = re.compile(source["shape"])
        assert source.get("seen") or source.get("reference"), f"{template}: {source['shape']!r} cites nothing"
        if source.get("negated"):  # `undo X` / `no X`: the corpus prints X where it is on
            shape = re.compile(re.sub(r"^(undo|no) ", "", source["shape"]))
        for relative in source.get("seen", []):
            match = (lambda line: shape.match(line)) if source.get("prefix") else shape.fullmatch
            if not any(match(line) for line in corpus_lines(relative)):
                wrong.append(f"{source['shape']!r} is not in {relative}")
        reference = source.get("reference", "")
        if reference.startswith("reference/"):
            relative, _, text = reference.partition("#")
            if text not in real_gear.path(relative).read_text():
                wrong.append(f"{relative} does not say {text!r}")
    assert wrong == []


def test_no_golden_configuration_has_vlans_on_a_router(golden):
    hosts = load(str(REPO / "inventory" / "example")).hosts
    routers = {name: lines for name, (_, lines) in golden.items() if hosts[name].role == "router"}
    assert routers
    vlan = re.compile(r"^(vlan\b|interface Vlan)")
    assert {name: [line for line in lines if vlan.match(line)] for name, lines in routers.items()} == \
        {name: [] for name in routers}


def test_the_login_account_is_typed_before_the_vty_lines_authenticate_through_it(golden):
    """In the order egov_net_config types a whole golden configuration (a device that has
    none of it), the account the next login uses comes before what makes logins use it."""
    for name, (platform, lines) in golden.items():
        record = platforms.get(platform)
        typed = configtext.commands(configtext.missing_lines(lines, [], record.negation), record.exit)
        account = next(i for i, line in enumerate(typed) if re.match(r"^\s*(username|local-user) egov-netops\b", line))
        authentication = next(i for i, line in enumerate(typed) if re.match(
            r"^(aaa new-model|\s*authentication-mode (aaa|scheme))$", line))
        assert account < authentication, f"{name} ({platform}) authenticates through AAA before its account exists"
