"""The golden configurations: what the provisioning templates render for each device.

Ansible renders them (playbooks/golden_configs.yml, the network_baseline role's own
templates, defaults and the inventory's variables), so the audit compares a backup with
exactly what `egov-agent provision` would apply. No device is contacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from agent.provision import PLAYBOOKS


class GoldenError(Exception):
    """Ansible could not render the golden configurations."""


def render(inventory: str | list[str], limit: str | None = None, timeout: float = 300) -> dict[str, list[str]]:
    """{device: golden configuration lines} for every router and switch of the inventory
    (within `limit`) that provisioning manages."""
    playbook = Path(sys.executable).parent / "ansible-playbook"
    if not playbook.exists():
        raise GoldenError(f"ansible-playbook is not installed next to {sys.executable} "
                          "(pip install 'egov-agent[provision]')")
    inventories = [inventory] if isinstance(inventory, str) else list(inventory)
    with tempfile.TemporaryDirectory(prefix="egov-golden-") as directory:
        command = [str(playbook), str(PLAYBOOKS / "golden_configs.yml"),
                   "-e", f"network_baseline_golden_dir={directory}"]
        for path in inventories:
            command += ["-i", str(path)]
        if limit:
            command += ["--limit", limit]
        env = {**os.environ, "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise GoldenError(f"rendering the golden configurations took over {timeout:.0f} s") from None
        if result.returncode != 0:
            lines = [line for line in (result.stdout + result.stderr).splitlines()
                     if "fatal:" in line or "ERROR" in line or "msg" in line]
            raise GoldenError("ansible-playbook golden_configs.yml failed: "
                              + (" ".join(lines)[-1500:] or f"exit {result.returncode}"))
        return {path.stem: path.read_text().splitlines() for path in sorted(Path(directory).glob("*.cfg"))}
