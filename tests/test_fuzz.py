"""Mutated inventories and agent.yml files: every one is loaded or refused with a located error.

The example inventory and the sample agent.yml are mutated (bytes flipped, files cut short,
values swapped for lists, mappings, nulls, NaN, huge numbers, deep nesting, alias bombs)
and fed to the loader as `egov-agent inventory validate` uses it, then some to a live
agent's reload. Nothing may raise anything but a ConfigError naming a file, nor hang: the
cost is bounded by the number of cases (fixed seeds plus one random, printed on failure).
"""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import pytest
import yaml

from agent.config import load_config, sample_config
from agent.inventory import validate
from agent.yamlfile import ConfigError
from tests.helpers import billion_laughs
from tests.peers import http_get

SEEDS = [1, 2, 3, random.randrange(1 << 30)]
CASES_PER_SEED = 25
LIVE_RELOADS = 8


def replacement(rng: random.Random):
    """A value of the wrong shape, size or kind."""
    deep = "x"
    for _ in range(rng.choice([10, 70, 500])):
        deep = [deep]
    return rng.choice([None, [], {}, [1, 2], {"a": {"b": None}}, math.nan, math.inf, -1, 10 ** 400,
                       "x" * 5000, "a\nb", "[1:100000]", "http://[::1", True, deep])


def mutate_structure(text: str, rng: random.Random) -> str | None:
    """Swap one value of the document for `replacement`, or make it an alias bomb."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:  # a !vault tag: left to the byte mutations
        return None
    if not isinstance(data, dict) or not data:
        return None
    node = data
    while True:  # walk down to a random mapping, then replace one of its values
        key = rng.choice(list(node))
        if isinstance(node[key], dict) and node[key] and rng.random() < 0.7:
            node = node[key]
            continue
        break
    if rng.random() < 0.1:
        return yaml.safe_dump(data, allow_unicode=True) + billion_laughs(rng.choice([4, 9]))
    node[key] = replacement(rng)
    try:
        return yaml.safe_dump(data, allow_unicode=True, width=1 << 20)
    except (RecursionError, OverflowError):
        return None


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "truncate", "structure", "structure", "structure"])
    if kind == "flip" and data:
        raw = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    if kind == "truncate" and data:
        return data[:rng.randrange(len(data))]
    mutated = mutate_structure(data.decode(), rng)
    return mutated.encode() if mutated is not None else data[::-1]


def located(error: ConfigError, root: Path) -> bool:
    return error.file is not None and str(error.file).startswith(str(root)) and str(error).startswith(str(root))


@pytest.fixture
def copies(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree("inventory/example", inventory)
    config = tmp_path / "agent.yml"
    config.write_text(sample_config())
    files = sorted(p for p in inventory.rglob("*") if p.is_file()) + [config]
    return tmp_path, inventory, config, files


def cases(seed: int, files: list[Path]):
    """(file, mutated bytes) pairs; the caller restores each file after its case."""
    rng = random.Random(seed)
    for _ in range(CASES_PER_SEED):
        file = rng.choice(files)
        yield file, mutate(file.read_bytes(), rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_inputs_are_loaded_or_refused_with_a_located_error(copies, seed):
    root, inventory, config, files = copies
    for file, mutated in cases(seed, files):
        original = file.read_bytes()
        file.write_bytes(mutated)
        try:
            if file == config:
                try:
                    load_config(config)
                except ConfigError as err:
                    assert located(err, root), f"seed {seed}, {file.name}: {err}"
            else:
                for error in validate(inventory):
                    assert located(error, root), f"seed {seed}, {file.name}: {error}"
        finally:
            file.write_bytes(original)


def test_mutated_inputs_reloaded_by_a_live_agent(start_agent, copies):
    root, inventory, config, files = copies
    config.write_text("collectors:\n  loadavg: {interval: 1s, timeout: 500ms}\n")
    files[-1:] = [config]
    agent = start_agent("-c", str(config), "-i", str(inventory))
    seed = SEEDS[-1]
    for number, (file, mutated) in enumerate(cases(seed, files)):
        if number == LIVE_RELOADS:
            break
        original = file.read_bytes()
        file.write_bytes(mutated)
        try:
            status, _, body = http_get(agent.url + "/-/reload", method="POST", timeout=120)
        finally:
            file.write_bytes(original)
        assert status == 200 or (status == 500 and body.startswith(f"reload rejected: {root}".encode())), \
            f"seed {seed}, {file.name}: {status} {body[:300]!r}"
        assert http_get(agent.url + "/metrics")[0] == 200
    assert "Traceback" not in agent.output()
