"""playbooks/ pass ansible-lint at the production profile and ansible-playbook --syntax-check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))


def test_ansible_lint_production_profile():
    result = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor",
                             "playbooks/"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax_check(playbook):
    result = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(REPO / "inventory" / "example"),
                             playbook], cwd=REPO / "playbooks", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
