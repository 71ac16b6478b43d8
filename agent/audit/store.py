"""The backup store: a git repository of its own, one file per device, a commit per change.

    DIR/network/<device>.cfg   a network device's running configuration, redacted
    DIR/hosts/<host>.cfg       a Linux host's configuration sections, redacted
    DIR/golden/<device>.cfg    the golden configuration provisioning renders for it, redacted
                               alike: derived from the templates and the inventory, so
                               kept for the drift report, not committed
    DIR/status.json            per device: platform, site, last attempt, success and change
                               (Unix times), the last change its log announced (a backup it
                               triggered) and the last one none did, and why the last attempt
                               failed; not committed
    DIR/.redaction-key         the HMAC key of the redaction tokens (0600); never committed
    DIR/.lock                  held by the run that writes; holds its PID

The git CLI does the history (`git -C DIR`, the identity given on each command, so no git
configuration is needed). Every file is written atomically (a temporary file, fsync,
rename), and one run writes at a time: the lock (flock) is held for the whole run, and a
second run waits for it, then gives up naming the holder's PID. A run commits what
changed, once, with a message naming per device the contexts that changed:

    backup: 1 changed (tanlap-rtr), 1 new (hoabinh-rtr)

    tanlap-rtr: interface GigabitEthernet0/0/1 (+1 −1), global (+2)
    hoabinh-rtr: new, 48 lines

A context is a line's block as agent/audit/configtext.py reads it: an indented line
belongs to the unindented line above it (`interface …`, `line vty 0 4`, `aaa`); VRP's
global lines are indented too, in sections between `#` lines, and belong to `global`, like
IOS's unindented one-line commands; a Linux host's lines belong to their `==> NAME <==`
section.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent.audit import configtext

KINDS = {"network": "network", "host": "hosts"}  # a device's kind -> its directory
_IGNORED = ["/status.json", "/.redaction-key", "/.lock", "/golden/", "/reports/", "*.tmp"]
_GIT = ["git", "-c", "user.name=egov-agent", "-c", "user.email=egov-agent@localhost", "-c", "commit.gpgsign=false"]


DEFAULT_STORE = "/var/lib/egov-agent/audit"

class StoreError(Exception):
    """The store cannot be used: locked by another run, or git failed."""


@dataclass(frozen=True)
class Change:
    device: str
    state: str  # new, changed or removed
    summary: str  # the contexts that changed, "new, 48 lines", or "removed"


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ------------------------------------------------------------------ reading

    def files(self) -> dict[str, Path]:
        """Each device's backup file."""
        return {file.stem: file for kind in KINDS.values() for file in sorted((self.path / kind).glob("*.cfg"))}

    def read(self, device: str) -> str:
        return self.files()[device].read_text()

    def golden(self, device: str) -> list[str] | None:
        """The golden configuration's lines, None when provisioning renders none for the device."""
        try:
            return self._file("golden", device).read_text().splitlines()
        except FileNotFoundError:
            return None

    def status(self) -> dict:
        try:
            return json.loads((self.path / "status.json").read_text())
        except FileNotFoundError:
            return {}

    def history(self, device: str, since: datetime | None = None) -> str:
        """The commits that changed the device's file (since `since`), newest first, each with its diff."""
        path = self.files()[device].relative_to(self.path)
        if since and since.timestamp() > time.time():
            return ""  # git reads a date past 2100 as no date at all
        # a Unix time: git reads dates its own way (a date alone is that day at the current hour)
        after = [f"--since=@{int(since.timestamp())}"] if since else []
        return self.git("log", "-p", "--follow", "--no-color", "--date=iso", *after, "--", str(path))

    def _file(self, directory: str, device: str) -> Path:
        if device.startswith(".") or "/" in device:
            raise StoreError(f"device name {device!r} cannot name a file")
        return self.path / directory / f"{device}.cfg"

    def git(self, *args: str) -> str:
        done = subprocess.run([*_GIT, "-C", str(self.path), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise StoreError(f"{self.path}: git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    # ------------------------------------------------------------------ writing, under the lock

    @contextmanager
    def lock(self, timeout: float) -> Iterator[float]:
        """Hold the store for a run; yields the seconds spent waiting for another run (0: none)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            started, waited = time.monotonic(), 0.0
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - started
                    if waited >= timeout:
                        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                        raise StoreError(f"{self.path} is in use by another backup run (PID {holder}); "
                                         f"waited {timeout:g}s") from None
                    time.sleep(0.1)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield waited
        finally:
            os.close(fd)  # and with it the lock

    def init(self) -> None:
        """Make the directory a git repository, once."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").exists():
            self.git("init", "--quiet", "--initial-branch=main")
        ignore = self.path / ".gitignore"
        if not ignore.exists():
            write_atomic(ignore, "".join(f"{name}\n" for name in _IGNORED).encode())

    def redaction_key(self) -> bytes:
        """The HMAC key of the redaction tokens, made on first use."""
        path = self.path / ".redaction-key"
        try:
            return bytes.fromhex(path.read_text().strip())
        except FileNotFoundError:
            key = secrets.token_bytes(32)
            write_atomic(path, key.hex().encode() + b"\n", mode=0o600)
            return key
        except ValueError:
            raise StoreError(f"{path} is not the hex key egov-agent writes: restore it, or remove it and "
                             "accept that every token (and so every backup) changes once") from None

    def write(self, device: str, kind: str, text: str) -> None:
        """The device's new backup, written only if it differs."""
        path, data = self._file(KINDS[kind], device), text.encode()
        try:
            if path.read_bytes() == data:
                return
        except FileNotFoundError:
            path.parent.mkdir(exist_ok=True)
        write_atomic(path, data)

    def commit(self, platforms: Mapping[str, str], causes: Mapping[str, str] | None = None
               ) -> tuple[str | None, list[Change]]:
        """Commit every change of the backup files since the last commit; (commit id, changes),
        or (None, []) when nothing changed. `platforms`: the devices' (for reading their blocks);
        `causes`: per device, what its log said of the change (the commit names it)."""
        tracked = [name for name in (".gitignore", *KINDS.values()) if (self.path / name).exists()]
        self.git("add", "--all", "--", *tracked)
        listed = self.git("diff", "--cached", "--name-status", "--no-renames", "-z").split("\0")
        changes = []
        for code, path in zip(listed[0::2], listed[1::2]):
            if not path.endswith(".cfg"):
                continue
            device = Path(path).stem
            if code == "A":
                lines = (self.path / path).read_text().count("\n")
                changes.append(Change(device, "new", f"new, {lines} lines"))
            elif code == "D":
                changes.append(Change(device, "removed", "removed"))
            else:
                platform = "linux" if path.startswith(KINDS["host"]) else platforms.get(device, "cisco_ios")
                summary = changed_contexts(self.git("show", f"HEAD:{path}"), (self.path / path).read_text(), platform)
                changes.append(Change(device, "changed", summary))
        if not changes:  # a staged .gitignore waits for the first backup
            return None, []
        self.git("commit", "--quiet", "--no-verify", "-m", commit_message(changes, causes or {}))
        return self.git("rev-parse", "--short", "HEAD").strip(), changes

    def write_golden(self, device: str, text: str | None) -> None:
        """The device's golden configuration; None when it has none (any more)."""
        path = self._file("golden", device)
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(exist_ok=True)
            write_atomic(path, text.encode())

    def update_status(self, entries: dict[str, dict]) -> None:
        """Replace the status of these devices; the others' stays."""
        status = self.status()
        status.update(entries)
        write_atomic(self.path / "status.json", json.dumps(status, indent=1, sort_keys=True).encode() + b"\n")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data`: readers see the old file or the new one, never a part."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(staging, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself
    finally:
        os.close(directory)


# ------------------------------------------------------------------ pure parts, tested directly

def changed_contexts(old: str, new: str, platform: str) -> str:
    """'interface GigabitEthernet0/0/1 (+1 −1), global (+2)': lines added and removed per
    context (configtext's reading: whitespace collapsed, order within a context aside)."""
    before, after = _by_context(old, platform), _by_context(new, platform)
    parts = []
    for context in dict.fromkeys([*after, *before]):
        have, had = Counter(after.get(context, [])), Counter(before.get(context, []))
        counts = [f"+{n}" for n in [sum((have - had).values())] if n] + \
                 [f"−{n}" for n in [sum((had - have).values())] if n]
        if counts:
            parts.append(f"{_context_name(context)} ({' '.join(counts)})")
    return ", ".join(parts) or "lines moved or respaced"


def _by_context(text: str, platform: str) -> dict[str, list[str]]:
    """configtext.parse, with each block's header counted in its block rather than globally."""
    blocks = configtext.parse(text, platform)
    out: dict[str, list[str]] = {}
    for context, lines in blocks.items():
        for line in lines:
            out.setdefault(line if context == "" and line in blocks else context, []).append(line)
    return out


def _context_name(context: str) -> str:
    section = configtext.SECTION.match(context)
    return section[1] if section else context or "global"


def commit_message(changes: list[Change], causes: Mapping[str, str] | None = None, names_shown: int = 5) -> str:
    """'backup: 2 changed (a, b), 1 new (c)', then a line per device, and under it, indented,
    what the device logged of the change (`causes`: who, from where, when)."""
    parts = []
    for state in ("changed", "new", "removed"):
        names = [change.device for change in changes if change.state == state]
        if names:
            shown = ", ".join(names[:names_shown]) + (", …" if len(names) > names_shown else "")
            parts.append(f"{len(names)} {state} ({shown})")
    causes = causes or {}
    body = "\n".join(f"{change.device}: {change.summary}" +
                     "".join(f"\n  {line}" for line in causes.get(change.device, "").splitlines())
                     for change in changes)
    return f"backup: {', '.join(parts)}\n\n{body}\n"
