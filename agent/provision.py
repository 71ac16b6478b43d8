"""`egov-agent provision --limit SITE`: run a playbook on one site's hosts through ansible-runner.

While Ansible works it prints a line per phase (role and task-name prefix, "Ssh | ...")
and a line per host result that changes something, fails or cannot connect; at the end a
per-host summary (ok / changed / failed / unreachable, and what was applied). With
`check` the run is Ansible's check mode with diffs: nothing on the hosts changes.

Ansible and ansible-runner are imported only when a run starts, so the agent and the rest
of the CLI work without them.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from agent import exitcodes

PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"
DEFAULT_PLAYBOOK = "commune_office.yml"



def unreachable_reason(message: str) -> str:
    """A short, fixed reason for an unreachable host, from ssh's message."""
    lowered = message.lower()
    for needle, reason in (("permission denied", "auth"), ("authentication failed", "auth"),
                           ("too many authentication failures", "auth"), ("connection refused", "refused"),
                           ("timed out", "timeout"), ("could not resolve", "dns"), ("no route to host", "no route")):
        if needle in lowered:
            return reason
    return "connect"


def phase_of(role: str, task: str) -> str:
    """"Ssh | Harden sshd" in role host_baseline is phase "host_baseline: Ssh"."""
    prefix, sep, _ = task.partition(" | ")
    phase = prefix if sep else ""
    return ": ".join(part for part in (role, phase) if part) or task


@dataclass
class HostResult:
    applied: list[str] = field(default_factory=list)  # tasks that changed (or would change) something
    errors: list[str] = field(default_factory=list)
    unreachable: str | None = None  # reason


class Progress:
    """ansible-runner's event_handler: prints as events arrive and keeps what the summary needs."""

    def __init__(self, out: TextIO, check: bool):
        self.out, self.check = out, check
        self.hosts: dict[str, HostResult] = {}
        self._phase = None

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def __call__(self, event: dict) -> bool:
        kind, data = event.get("event", ""), event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self._phase = None
            self._print(f"== {data.get('play', '')}")
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            phase = phase_of(data.get("role", ""), data.get("task", ""))
            if phase != self._phase:
                self._phase = phase
                self._print(f"-- {phase}")
        elif kind.startswith("runner_on_") and data.get("host"):
            self._result(kind, data)
        return True

    def _result(self, kind: str, data: dict) -> None:
        host, task, res = data["host"], data.get("task", ""), data.get("res") or {}
        result = self.hosts.setdefault(host, HostResult())
        if kind == "runner_on_ok" and res.get("changed"):
            result.applied.append(task)
            self._print(f"   {host}: {'would change' if self.check else 'changed'}: {task}")
            for diff in _diffs(res):
                self._print(diff)
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            message = _message(res)
            result.errors.append(f"{task}: {message}")
            self._print(f"   {host}: FAILED: {task}: {message}")
        elif kind == "runner_on_unreachable":
            message = _message(res)
            result.unreachable = unreachable_reason(message)
            result.errors.append(message)
            self._print(f"   {host}: UNREACHABLE ({result.unreachable}): {message}")


_KNOWN_HOSTS_NOTE = re.compile(r"Warning: Permanently added .*? to the list of known hosts\.\s*")


def _message(res: dict) -> str:
    """The result's message on one line, without ssh's note about known hosts."""
    text = _KNOWN_HOSTS_NOTE.sub("", str(res.get("msg") or res.get("stderr") or res.get("stdout") or "failed"))
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400] or "failed"


def _diffs(res: dict) -> list[str]:
    """Unified diffs of a changed result's `diff` (template, copy, lineinfile ...), indented."""
    entries = res.get("diff") or []
    lines = []
    for entry in entries if isinstance(entries, list) else [entries]:
        before, after = entry.get("before"), entry.get("after")
        if not isinstance(before, str) or not isinstance(after, str):
            continue
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(),
                                    entry.get("before_header", "before"), entry.get("after_header", "after"),
                                    lineterm="")
        lines.extend(f"      {line}" for line in diff)
    return lines


def summary(stats: dict, hosts: dict[str, HostResult], check: bool) -> list[str]:
    """The per-host table and, under each host, what was applied (grouped by phase)."""
    names = sorted(set().union(*(stats.get(k, {}) for k in ("ok", "changed", "failures", "dark", "skipped"))))
    width = max([len(n) for n in names] + [4])
    lines = [f"{'host':<{width}}  {'ok':>4} {'changed':>7} {'failed':>6} {'unreachable':>11}"]
    for name in names:
        result = hosts.get(name, HostResult())
        ok, changed, failed, unreachable = (stats.get(key, {}).get(name, 0)
                                            for key in ("ok", "changed", "failures", "dark"))
        lines.append(f"{name:<{width}}  {ok:>4} {changed:>7} {failed:>6} {unreachable:>11}")
        if result.unreachable:
            lines.append(f"  unreachable ({result.unreachable}): {result.errors[-1]}")
        elif result.errors:
            lines.extend(f"  failed: {error}" for error in result.errors)
        if result.applied:
            by_phase: dict[str, list[str]] = {}
            for task in result.applied:
                phase, sep, rest = task.partition(" | ")
                by_phase.setdefault(phase if sep else "", []).append(rest if sep else task)
            verb = "would apply" if check else "applied"
            lines.append(f"  {verb}: " + "; ".join(f"{phase}: {', '.join(tasks)}" if phase else ", ".join(tasks)
                                                  for phase, tasks in by_phase.items()))
    return lines


def run(site: str, inventory: str | list[str], check: bool = False, playbook: str = DEFAULT_PLAYBOOK,
        forks: int = 10, extravars: dict | None = None, envvars: dict | None = None,
        out: TextIO | None = None, tags: str | None = None) -> int:
    """Run `playbook` (a name in playbooks/ or a path) on `site` (`--limit`: any host
    pattern), only its tasks tagged `tags` if given, and return the run's exit code
    (agent/exitcodes.py): 0 all well, 2 a task failed on some host, 3 some host was
    unreachable (and none failed), 4 when the limit matched no host or ansible-playbook
    stopped before reaching any."""
    import ansible_runner  # heavy, and only the provision command needs it

    out = out or sys.stdout
    playbook_path = Path(playbook) if Path(playbook).is_absolute() else PLAYBOOKS / playbook
    inventories = [inventory] if isinstance(inventory, str) else list(inventory)
    progress = Progress(out, check)
    mode = " (check mode: nothing is changed)" if check else ""
    print(f"provision {site}: {playbook_path.name}, inventory {', '.join(inventories)}{mode}", file=out, flush=True)
    started = time.monotonic()
    # A fresh private_data_dir each run: ansible-runner saves cmdline in env/cmdline and
    # would silently reuse it (--check included) in a later run from the same directory.
    private = tempfile.mkdtemp(prefix="egov-provision-")
    try:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=str(PLAYBOOKS), playbook=str(playbook_path),
            inventory=[str(Path(i).resolve()) for i in inventories], limit=site, forks=forks,
            cmdline="--check --diff" if check else None, extravars=extravars or {}, tags=tags,
            # this environment's ansible-playbook first (its Python has netmiko for the network plays)
            envvars={"ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                     "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                     **(envvars or {})},
            event_handler=progress, quiet=True)
        stats = runner.stats or {}
        rc = runner.rc
        ansible_output = "" if stats else runner.stdout.read()[-3000:].strip()
    finally:
        shutil.rmtree(private, ignore_errors=True)
    elapsed = time.monotonic() - started
    if not stats:  # ansible-playbook stopped before any host: say why
        print(ansible_output, file=out)
        reason = (f"no host of the inventory matches {site!r}" if "no hosts to target" in ansible_output
                  else f"ansible-playbook stopped before reaching any host (exit {rc})")
        print(f"provision {site}: {reason} ({elapsed:.1f} s)", file=out)
        return exitcodes.BAD_INPUT
    print(f"\nsummary of {site} ({elapsed:.1f} s):", file=out)
    for line in summary(stats, progress.hosts, check):
        print(line, file=out)
    # ansible-playbook's own 4 (a host unreachable) is "bad input" in our table: read the stats
    failed = any(stats.get("failures", {}).values()) or rc not in (0, 2, 4)
    unreachable = any(stats.get("dark", {}).values())
    return exitcodes.worst(exitcodes.CRITICAL if failed else exitcodes.OK,
                           exitcodes.UNKNOWN if unreachable else exitcodes.OK)
