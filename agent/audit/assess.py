"""Audit configurations: the policy pack of the device's platform, and drift from its golden
configuration. On the backups of an inventory's devices, or on one file received by mail."""

from __future__ import annotations

import os
import time
from pathlib import Path

from agent.audit import configtext
from agent.audit.redact import redact
from agent.audit.policy import DeviceAudit, Pack, evaluate, load_packs, parser_of

# a hostile file (a core dump mailed as a config) is read up to this size
MAX_BYTES = 64 * 1024 * 1024


def read_text(path: str | Path) -> str:
    """A configuration file as text, whatever it holds: undecodable bytes and NULs become
    U+FFFD, so a garbage file is audited (and fails its rules) instead of stopping the run."""
    with open(path, "rb") as file:
        data = file.read(MAX_BYTES)
    return data.replace(b"\0", b"\xef\xbf\xbd").decode("utf-8", errors="replace")


def audit_text(device: str, platform: str, text: str, packs: dict[str, Pack], golden: list[str] | None = None,
               **details) -> DeviceAudit:
    pack = packs.get(platform)
    if pack is None:
        return DeviceAudit(device, platform, error=f"no policy pack for platform {platform!r} "
                           f"(packs cover {', '.join(sorted(packs))})", **details)
    drift = configtext.drift(golden, text, parser_of(platform)) if golden is not None else None
    return DeviceAudit(device, platform, findings=evaluate(pack, text, platform), drift=drift, **details)


def audit_file(path: str | Path, platform: str, golden: str | Path | None = None,
               packs: dict[str, Pack] | None = None) -> DeviceAudit:
    """One saved configuration, offline. Its secrets are redacted first, with a key of this
    run: the report can be handed on, and the packs read redacted text anyway."""
    golden_lines = read_text(golden).splitlines() if golden else None
    text = redact(read_text(path), platform, os.urandom(32))
    return audit_text(Path(path).stem, platform, text, packs or load_packs(), golden_lines, source=str(path))


def audit_store(store, inventory, names: list[str], packs: dict[str, Pack] | None = None,
                now: float | None = None) -> list[DeviceAudit]:
    """The backups of the devices `names` (inventory hosts) in `store`, each with the golden
    configuration stored next to it when provisioning manages the device."""
    packs = packs or load_packs()
    now = time.time() if now is None else now
    files, status = store.files(), store.status()
    audits = []
    for name in names:
        host = inventory.hosts[name]
        platform, site = host.platform or "unknown", host.site
        if platform not in packs:
            continue  # a platform without a pack (Windows PCs, video endpoints): nothing to audit
        state = status.get(name, {})
        if name not in files:
            reason = f": {state['reason']}: {state.get('detail', '')}" if state.get("reason") else ""
            audits.append(DeviceAudit(name, platform, site, error=f"no backup yet{reason}"))
            continue
        golden = store.golden(name)
        age = now - state["last_success"] if state.get("last_success") else None
        audits.append(audit_text(name, platform, read_text(files[name]), packs, golden, site=site,
                                 source=str(files[name]), backup_age=age))
    return audits
