"""The agent config is strict: every rejection names the file, the line and the key."""

from __future__ import annotations

import re
import textwrap

import pytest

from agent import yamlfile
from agent.collector import discover
from agent.config import DEFAULT_LISTEN, AgentSettings, load_config, sample_config
from agent.schema import build, field_types, parse_duration
from agent.yamlfile import ConfigError
from tests.helpers import billion_laughs


def write(tmp_path, text: str):
    path = tmp_path / "agent.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_embedded_default_enables_the_default_collectors():
    config = load_config(None)
    assert config.agent.listen == DEFAULT_LISTEN
    expected = {name for name, cls in discover().items() if cls.default_enabled}
    assert set(config.collectors) == expected
    assert "loadavg" in expected


def test_a_valid_file_overrides_defaults(tmp_path):
    path = write(tmp_path, """
        listen: 127.0.0.1:19000
        log_level: debug
        collectors:
          loadavg:
            interval: 30s
            timeout: 2500ms
            per_cpu_warning: 1.5
          agent:
            enabled: false
    """)
    config = load_config(path)
    assert config.agent.listen == "127.0.0.1:19000"
    assert config.collectors["loadavg"].interval == 30.0
    assert config.collectors["loadavg"].timeout == 2.5
    assert config.collectors["loadavg"].per_cpu_warning == 1.5
    assert "agent" not in config.collectors


@pytest.mark.parametrize("text, line, key, words", [
    ("listen: 127.0.0.1:1\nlisten_adress: x\n", 2, "listen_adress", "unknown key"),
    ("collectors:\n  loadavg:\n    intervall: 5s\n", 3, "collectors.loadavg.intervall", "unknown key"),
    ("collectors:\n  no_such_thing: {}\n", 2, "collectors.no_such_thing", "unknown collector"),
    ("collectors:\n  loadavg:\n    interval: soon\n", 3, "collectors.loadavg.interval", "duration"),
    ("collectors:\n  loadavg:\n    interval: 5s\n    timeout: 10s\n", 4, "collectors.loadavg.timeout",
     "less than the interval"),
    ("collectors:\n  loadavg:\n    per_cpu_warning: high\n", 3, "collectors.loadavg.per_cpu_warning", "number"),
    # a percentage where a share is meant (10 for 10 %) would never warn
    ("collectors:\n  meminfo:\n    available_warning: 10\n", 3, "collectors.meminfo.available_warning",
     "a ratio from 0 to 1"),
    ("collectors:\n  loadavg:\n    enabled: 'yes'\n", 3, "collectors.loadavg.enabled", "true or false"),
    ("log_level: loud\n", 1, "log_level", "one of"),
    ("listen: 9469\n", 1, "listen", "HOST:PORT"),
    ("listen: a\nlisten: b\n", 2, None, "duplicate key"),
    ("collectors: [loadavg]\n", 1, "collectors", "expected"),
    ("listen: [unclosed\n", 2, None, "invalid YAML"),
])
def test_each_rejection_names_file_line_and_key(tmp_path, text, line, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    err = caught.value
    assert err.file == str(path)
    assert err.line == line
    assert err.key == key
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}: ")


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yml")
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(binary)


def test_sample_config_is_valid_and_covers_every_collector(tmp_path):
    text = sample_config()
    config = load_config(write(tmp_path, text))
    blocks = yamlfile.loads(text)["collectors"]
    assert set(blocks) == set(discover())
    assert set(config.collectors) == {n for n, c in discover().items() if c.default_enabled}


def test_sample_config_prints_every_key_with_its_real_default():
    """Every block of the sample names every key and reads back as exactly the defaults; a
    collector's note, the one hand-written part, is comments that give none of its keys a value."""
    sample = yamlfile.loads(sample_config())
    blocks = sample.pop("collectors")
    assert set(sample) == set(field_types(AgentSettings)) - {"collectors"}
    assert build(AgentSettings, sample) == AgentSettings()
    for name, cls in discover().items():
        keys = field_types(cls.Settings)
        assert set(blocks[name]) == set(keys), name
        assert build(cls.Settings, blocks[name]) == cls.Settings(enabled=cls.default_enabled), name
        for line in cls.SAMPLE_NOTE.splitlines():
            assert line.startswith("#") and not re.match(rf"#\s*({'|'.join(keys)}):\s*\S", line), (name, line)


@pytest.mark.parametrize("text, seconds", [("500ms", 0.5), ("15s", 15), ("2m", 120), ("1h", 3600), (7, 7.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["-1s", "5 minutes", True, -3, float("nan"), float("inf"), 10**400, "999999d"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_check_hold_nan_is_a_located_error(tmp_path):
    """`.nan` compared false with every hold time: every check stayed at its first state."""
    with pytest.raises(ConfigError, match=r"agent\.yml:2: check_hold: a duration is a finite number"):
        load_config(write(tmp_path, "log_level: info\ncheck_hold: .nan\n"))


@pytest.mark.parametrize("text, line, words", [
    (billion_laughs(9), 9, "more than 1,000,000 values once its aliases are expanded"),
    ("a: &x [1, *x]\n", 1, "recursive anchor"),
    ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 80)), 2, "nested more than 64 levels deep"),
    ("[" * 500 + "]" * 500, 1, "nested more than 64 levels deep"),  # a RecursionError before
])
def test_costly_yaml_is_refused_where_it_is(tmp_path, text, line, words):
    path = tmp_path / "agent.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        yamlfile.load(path)
    assert str(raised.value).startswith(f"{path}:") and words in str(raised.value)
    assert raised.value.line is not None


def test_a_fifo_or_a_huge_file_is_refused_without_reading_it(tmp_path):
    import os

    fifo = tmp_path / "agent.yml"
    os.mkfifo(fifo)  # no writer: a plain open() would wait forever
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    huge = tmp_path / "huge.yml"
    with open(huge, "wb") as file:
        file.truncate(yamlfile.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match=f"{huge}: larger than 8 MiB"):
        load_config(huge)


def test_a_huge_value_in_an_error_is_cut_short(tmp_path):
    """An alias set under the bound still expands to a large value; its error line stays short."""
    path = tmp_path / "agent.yml"
    path.write_text("log_level:\n" + textwrap.indent(billion_laughs(5), "  "))  # 66,000 values, a 500 kB repr
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}:1: log_level: expected one of 'debug'")
    assert len(str(raised.value)) < 1000


def test_vault_values_never_print():
    data = yamlfile.loads("password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162636465\n")
    assert "ANSIBLE_VAULT" not in repr(data) and "6162" not in str(data["password"])
