"""The command line as an operator (or Nagios) runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent import yamlfile
from agent.collector import discover
from agent.config import load_config


def egov(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("warning, critical, code, state", [
    ("null", "null", 0, "OK"),
    ("0.0", "null", 1, "WARNING"),   # any load is >= 0: the threshold decides the state
    ("0.0", "0.0", 2, "CRITICAL"),
])
def test_check_exits_like_a_nagios_plugin(tmp_path, warning, critical, code, state):
    others = "".join(f"  {name}: {{enabled: false}}\n" for name in discover() if name != "loadavg")
    config = tmp_path / "agent.yml"  # only the load check, so this host's state cannot interfere
    config.write_text(f"collectors:\n{others}  loadavg:\n    per_cpu_warning: {warning}\n"
                      f"    per_cpu_critical: {critical}\n")
    run = egov("check", "-c", str(config))
    assert run.returncode == code, run.stdout + run.stderr
    first, *rows = run.stdout.splitlines()
    assert first.startswith(f"{state}: ")
    [load_row] = [row for row in rows if row.split()[1] == "load"]
    assert load_row.split()[0] == state and "load15 per CPU" in load_row


def test_check_with_bad_config_is_unknown(tmp_path):
    config = tmp_path / "agent.yml"
    config.write_text("collectors:\n  loadavg:\n    per_cpu_warning: [1]\n")
    run = egov("check", "-c", str(config))
    assert run.returncode == 3
    assert run.stdout.startswith("UNKNOWN: ") and "agent.yml:3" in run.stdout


def test_once_prints_metrics_and_debug_log():
    run = egov("once", "loadavg", "--debug")
    assert run.returncode == 0, run.stderr
    assert "# TYPE node_load1 gauge" in run.stdout and "# check load host:" in run.stdout
    unknown = egov("once", "no_such_collector")
    assert unknown.returncode == 1 and "no collector 'no_such_collector'" in unknown.stderr


def test_sample_config_command_prints_a_valid_config(tmp_path):
    run = egov("sample-config")
    assert run.returncode == 0
    path = tmp_path / "agent.yml"
    path.write_text(run.stdout)
    assert load_config(path).collectors
    assert "collectors" in yamlfile.loads(run.stdout)
