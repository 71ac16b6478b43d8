"""The command line as an operator (or Nagios) runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent import exitcodes, yamlfile
from agent.cli import main
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
    assert run.returncode == exitcodes.BAD_INPUT
    assert run.stdout.startswith("UNKNOWN: ") and "agent.yml:3" in run.stdout


def test_once_prints_metrics_and_debug_log():
    run = egov("once", "loadavg", "--debug")
    assert run.returncode == 0, run.stderr
    assert "# TYPE node_load1 gauge" in run.stdout and "# check load host:" in run.stdout
    unknown = egov("once", "no_such_collector")
    assert unknown.returncode == exitcodes.BAD_INPUT and "no collector 'no_such_collector'" in unknown.stderr


def test_sample_config_command_prints_a_valid_config(tmp_path):
    run = egov("sample-config")
    assert run.returncode == 0
    path = tmp_path / "agent.yml"
    path.write_text(run.stdout)
    assert load_config(path).collectors
    assert "collectors" in yamlfile.loads(run.stdout)


def test_inventory_validate_and_show():
    ok = egov("inventory", "validate", "-i", "inventory/example")
    assert ok.returncode == 0 and ok.stdout.startswith("inventory/example: OK (")
    show = egov("inventory", "show", "-i", "inventory/example")
    assert show.returncode == 0 and "(province)" in show.stdout and "router" in show.stdout


def test_inventory_validate_lists_every_error(tmp_path):
    (tmp_path / "hosts.yml").write_text(
        "all:\n"
        "  children:\n"
        "    province:\n"
        "      vars: {egov_site_type: province}\n"
        "      hosts:\n"
        "        a: {ansible_host: 127.20.0.1, egov_role: routr, egov_platform: cisco_ios}\n"
        "        b: {ansible_host: 127.20.0.2, egov_role: router, egov_platfrom: cisco_ios}\n")
    run = egov("inventory", "validate", "-i", str(tmp_path))
    assert run.returncode == exitcodes.BAD_INPUT
    errors = [line for line in run.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert len(errors) == 3, run.stderr  # both mistakes, then the count
    assert "hosts.yml:6" in errors[0] and "routr" in errors[0]
    assert "hosts.yml:7" in errors[1] and "egov_platfrom" in errors[1]


BAD_INVENTORY = "all:\n  hosts:\n    a: {ansible_host: [1, 2]\n"  # a flow mapping never closed


@pytest.mark.parametrize("argv, code", [
    # usage: the command line itself is wrong, for every command
    (["no-such-command"], exitcodes.USAGE),
    (["run", "--no-such-option"], exitcodes.USAGE),
    (["check", "--no-such-option"], exitcodes.USAGE),
    (["once"], exitcodes.USAGE),
    (["inventory", "validate"], exitcodes.USAGE),
    (["meeting-check"], exitcodes.USAGE),
    (["provision", "-i", "inventory/example"], exitcodes.USAGE),  # --limit is required: never all at once
    (["targets", "-i", "inventory/example"], exitcodes.USAGE),
    (["audit", "backup"], exitcodes.USAGE),
    (["audit", "backup", "-i", "inventory/example", "--concurrency", "0"], exitcodes.USAGE),
    (["audit", "report", "--format", "pdf", "-i", "inventory/example"], exitcodes.USAGE),
    (["audit", "fix", "-i", "inventory/example"], exitcodes.USAGE),  # --limit is required
    (["audit", "diff", "x", "--store", "{tmp}/store", "--since", "last week"], exitcodes.USAGE),
    # bad input: nothing was judged
    (["run", "-c", "{tmp}/bad.yml"], exitcodes.BAD_INPUT),
    (["check", "-c", "{tmp}/bad.yml"], exitcodes.BAD_INPUT),
    (["once", "loadavg", "-c", "{tmp}/bad.yml"], exitcodes.BAD_INPUT),
    (["inventory", "validate", "-i", "{tmp}/bad.yml"], exitcodes.BAD_INPUT),
    (["inventory", "show", "-i", "{tmp}/bad.yml"], exitcodes.BAD_INPUT),
    (["meeting-check", "-i", "inventory/example", "--limit", "xa_khong_co"], exitcodes.BAD_INPUT),
    (["targets", "-i", "{tmp}/bad.yml", "-o", "{tmp}/targets.json"], exitcodes.BAD_INPUT),
    (["audit", "backup", "-i", "{tmp}/bad.yml", "--store", "{tmp}/store"], exitcodes.BAD_INPUT),
    (["audit", "backup", "-i", "inventory/example", "--store", "{tmp}/store", "--limit", "xa_khong_co"],
     exitcodes.BAD_INPUT),
    (["audit", "report", "-i", "inventory/example", "--store", "{tmp}/store", "--limit", "xa_khong_co"],
     exitcodes.BAD_INPUT),
    (["audit", "file", "{tmp}/missing.cfg", "--platform", "cisco_ios"], exitcodes.BAD_INPUT),
    (["audit", "fix", "-i", "inventory/example", "--store", "{tmp}/store", "--limit", "xa_khong_co"],
     exitcodes.BAD_INPUT),
    (["audit", "diff", "no-such-device", "--store", "{tmp}/store"], exitcodes.BAD_INPUT),
    # judged: a store without backups cannot be audited (UNKNOWN), nothing of a collector's is bad input
    (["audit", "report", "-i", "inventory/example", "--store", "{tmp}/store"], exitcodes.UNKNOWN),
    (["sample-config"], exitcodes.OK),
])
def test_every_command_keeps_the_exit_code_table(tmp_path, capsys, argv, code):
    (tmp_path / "bad.yml").write_text(BAD_INVENTORY)
    argv_template, argv = argv, [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    got = main(argv)
    out, err = capsys.readouterr()
    assert got == code, out + err
    if code == exitcodes.USAGE:
        assert "error:" in err, err
    if code == exitcodes.BAD_INPUT:  # `check` says it on stdout, as a Nagios plugin does
        assert ("bad.yml:" if "{tmp}/bad.yml" in " ".join(argv_template) else "xa_khong_co") in out + err \
            or "missing.cfg" in err or "no-such-device" in err, out + err
