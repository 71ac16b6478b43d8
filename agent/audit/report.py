"""Audit reports: a terminal table, JSON, one self-contained HTML file, and an exit code.

All four read a list of DeviceAudit (agent/audit/policy.py). Lines shown are the lines the
audit read: the configuration must be redacted (agent/audit/redact.py) before it is audited.

Exit code (`exit_code`, from the table in agent/exitcodes.py), so an audit fits a pipeline:

    2  a critical rule failed on some device: the pipeline stops
    3  no critical finding, but some device could not be audited (no backup, no pack)
    0  otherwise; failed high, medium and low rules do not fail a pipeline

JSON (`to_json`; keys are stable, new keys may be added):

    generated_at        ISO 8601 time of the report, UTC
    summary             devices, audited (without error), errors,
                        findings {critical, high, medium, low}: failed rules over all devices,
                        drift: devices whose configuration differs from its golden configuration
    devices[]           site, device, platform, source, error ('' when audited),
                        backup_age_seconds (null: not from a backup),
                        drift: null without a golden configuration, else
                               {missing: [{context, lines}], extra: [{context, lines}]},
                        findings[]: every rule, failed ones first by severity:
                               rule (its id), title, severity, passed, applicable, reference,
                               rationale, remediation, offending [{context, line}],
                               missing [{context, pattern}]

A context is a block's header (`line vty 0 4`), '' for the global lines.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from html import escape
from typing import TextIO

from agent import __version__, exitcodes
from agent.audit.policy import SEVERITIES, DeviceAudit, Finding
from agent.htmlstyle import BASE_STYLE
from agent.status_page import both, duration

SEVERITY_NAMES = {"critical": "Nghiêm trọng", "high": "Cao", "medium": "Trung bình", "low": "Thấp"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLOURS = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "error": "35"}


def exit_code(audits: list[DeviceAudit]) -> int:
    if any(finding.rule.severity == "critical" for audit in audits for finding in audit.failed):
        return exitcodes.CRITICAL
    return exitcodes.UNKNOWN if any(audit.error for audit in audits) else exitcodes.OK


def _ordered(audits: list[DeviceAudit]) -> list[DeviceAudit]:
    """By site (devices of no site last), then device."""
    return sorted(audits, key=lambda a: (not a.site, a.site, a.device))


def _by_severity(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITIES.index(f.rule.severity))


def _failed_counts(audit: DeviceAudit) -> Counter:
    return Counter(finding.rule.severity for finding in audit.failed)


def _drift_counts(audit: DeviceAudit) -> tuple[int, int] | None:
    if audit.drift is None:
        return None
    return tuple(sum(len(lines) for _, lines in audit.drift[kind]) for kind in ("missing", "extra"))


def _summary(audits: list[DeviceAudit]) -> dict:
    failed = sum((_failed_counts(audit) for audit in audits), Counter())
    errors = sum(1 for audit in audits if audit.error)
    return {"devices": len(audits), "audited": len(audits) - errors, "errors": errors,
            "findings": {severity: failed[severity] for severity in SEVERITIES},
            "drift": sum(1 for audit in audits if any(_drift_counts(audit) or ()))}


def _evidence(finding: Finding) -> list[tuple[str, str, str]]:
    """(context, 'offending' or 'missing', line or pattern), offending lines first."""
    return [(c, "offending", line) for c, line in finding.offending] + \
        [(c, "missing", pattern) for c, pattern in finding.missing]


# --- terminal --------------------------------------------------------------------------------

def table(audits: list[DeviceAudit], out: TextIO | None = None, lines: int = 5) -> None:
    """One line per device, then the failed rules by severity, each with the devices it failed
    on and up to `lines` offending lines (or missing patterns) a device; a summary last.
    Control characters a device wrote are shown as \\xNN: none reaches the terminal."""
    out = out or sys.stdout
    paint = (lambda text, key: f"\x1b[{_COLOURS[key]}m{text}\x1b[0m") if out.isatty() else (lambda text, key: text)
    audits = _ordered(audits)
    head = ["site", "device", "platform", "critical", "high", "medium", "low", "drift -/+", "backup"]
    rows = []
    for audit in audits:
        cells = [_printable(audit.site) or "-", _printable(audit.device), _printable(audit.platform)]
        if audit.error:
            rows.append((cells, _printable(audit.error)))
            continue
        counts, drift = _failed_counts(audit), _drift_counts(audit)
        cells += [str(counts[severity]) for severity in SEVERITIES]
        cells += ["-" if drift is None else f"{drift[0]}/{drift[1]}",
                  "-" if audit.backup_age is None else duration(audit.backup_age)]
        rows.append((cells, ""))
    widths = [max([len(head[i])] + [len(cells[i]) for cells, error in rows if i < len(cells)])
              for i in range(len(head))]

    def line(cells: list[str], keys: list[str | None] = ()) -> str:
        """Padded cells, numbers to the right; a cell with a key in its colour."""
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths)):
            padded = cell.rjust(width) if 3 <= i < 8 else cell.ljust(width)
            parts.append(paint(padded, keys[i]) if i < len(keys) and keys[i] else padded)
        return "  ".join(parts).rstrip()

    print(line(head), file=out)
    for cells, error in rows:
        if error:
            print(line(cells) + "  " + paint(f"error: {error}", "error"), file=out)
        else:
            print(line(cells, [None] * 3 + [s if n != "0" else None for s, n in zip(SEVERITIES, cells[3:])]),
                  file=out)

    failed: dict[str, dict[str, list[tuple[DeviceAudit, Finding]]]] = {severity: {} for severity in SEVERITIES}
    for audit in audits:
        for finding in audit.failed:
            failed[finding.rule.severity].setdefault(finding.rule.id, []).append((audit, finding))
    for severity in SEVERITIES:
        if not failed[severity]:
            continue
        print(f"\n{paint(severity.upper(), severity)}", file=out)
        for rule_id, where in failed[severity].items():
            print(f"  {rule_id}: {where[0][1].rule.title} ({_devices(len(where))})", file=out)
            for audit, finding in where:
                print(f"    {_printable(audit.device)}", file=out)
                evidence = _evidence(finding)
                for context, kind, text in evidence[:lines]:
                    context = _printable(context) or "global"
                    text = f"missing /{text}/" if kind == "missing" else _printable(text)
                    print(f"      {context}: {text}", file=out)
                if len(evidence) > lines:
                    print(f"      … {len(evidence) - lines} more", file=out)

    summary = _summary(audits)
    findings = ", ".join(f"{summary['findings'][severity]} {severity}" for severity in SEVERITIES)
    print(f"\n{_devices(summary['devices'])}: {summary['audited']} audited, {summary['errors']} not audited; "
          f"failed rules: {findings}; drift on {_devices(summary['drift'])}", file=out)


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def _devices(count: int) -> str:
    return f"{count} device{'s' * (count != 1)}"


# --- JSON ------------------------------------------------------------------------------------

def to_json(audits: list[DeviceAudit]) -> dict:
    """The report as JSON-ready data; its keys are documented in the module's docstring."""
    return {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "summary": _summary(audits),
            "devices": [_device_json(audit) for audit in _ordered(audits)]}


def _device_json(audit: DeviceAudit) -> dict:
    drift = None if audit.drift is None else {
        kind: [{"context": context, "lines": list(lines)} for context, lines in audit.drift[kind]]
        for kind in ("missing", "extra")}
    return {"site": audit.site, "device": audit.device, "platform": audit.platform, "source": audit.source,
            "error": audit.error, "backup_age_seconds": audit.backup_age, "drift": drift,
            "findings": [_finding_json(f) for f in _by_severity(audit.failed) + [f for f in audit.findings
                                                                                 if f.passed]]}


def _finding_json(finding: Finding) -> dict:
    rule = finding.rule
    return {"rule": rule.id, "title": rule.title, "severity": rule.severity, "passed": finding.passed,
            "applicable": finding.applicable, "reference": rule.reference, "rationale": rule.rationale,
            "remediation": rule.remediation,
            "offending": [{"context": context, "line": line} for context, line in finding.offending],
            "missing": [{"context": context, "pattern": pattern} for context, pattern in finding.missing]}


# --- HTML ------------------------------------------------------------------------------------

_STYLE = BASE_STYLE + """
body{font-size:14px;max-width:62rem}
h3{font-size:1.02rem;margin:1.2rem 0 .3rem;border-bottom:1px solid #eee}h4{font-size:.92rem;margin:.7rem 0 .2rem}
p{margin:.25rem 0}
.critical{background:#b00020}.high{background:#c43e00}.medium{background:#9a6700}.low{background:#5f6368}
.error{color:#6a1b9a;font-weight:600}
.counts .n{display:inline-block;white-space:nowrap;margin:0 .8rem .3rem 0}
.finding{border-left:4px solid #ccc;padding:.15rem 0 .15rem .6rem;margin:.6rem 0}
.finding.f-critical{border-color:#b00020}.finding.f-high{border-color:#c43e00}.finding.f-medium{border-color:#9a6700}
pre{margin:.15rem 0 .35rem;padding:.3rem .5rem;background:#f5f5f5;border-radius:.2rem;white-space:pre-wrap;
overflow-wrap:anywhere;font:12px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.label{font-size:.85rem;color:#444}
@page{size:A4;margin:14mm 12mm}
@media print{
body{font-size:10pt;max-width:none;padding:0}
a{color:inherit;text-decoration:none}
section.site{break-before:page}
h2,h3,h4,.label{break-after:avoid}pre,tr,.finding>p{break-inside:avoid}
.badge,.finding{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
"""


def _badge(severity: str) -> str:
    return f"<span class='badge {severity}'>{SEVERITY_NAMES[severity]} ({severity})</span>"


def _excerpt(pairs: list[tuple[str, str]], limit: int, pattern: bool = False) -> str:
    """(context, line) pairs as the configuration reads: a block's lines under its header,
    global lines at the margin; patterns between slashes. At most `limit` lines."""
    text, last = [], None
    for context, line in pairs[:limit]:
        if context and context != last:
            text.append(context)
        last = context
        shown = f"/{line}/" if pattern else line
        text.append(f" {shown}" if context else shown)
    more = len(pairs) - limit
    note = f"\n… {both(f'còn {more} dòng', f'{more} more')}" if more > 0 else ""
    return f"<pre>{escape(chr(10).join(text))}{note}</pre>"


def _finding_html(finding: Finding, limit: int) -> str:
    rule = finding.rule
    parts = [f"<p>{_badge(rule.severity)} <strong>{escape(rule.id)}</strong> {escape(rule.title)}"
             + (f" <small>{escape(rule.reference)}</small>" if rule.reference else "") + "</p>"]
    if finding.offending:
        parts.append(f"<p class=label>{both('Dòng vi phạm', 'Offending lines')}</p>"
                     + _excerpt(list(finding.offending), limit))
    if finding.missing:
        parts.append(f"<p class=label>{both('Thiếu dòng khớp mẫu', 'No line matches')}</p>"
                     + _excerpt(list(finding.missing), limit, pattern=True))
    if rule.rationale:
        parts.append(f"<p><span class=label>{both('Lý do', 'Rationale')}:</span> {escape(rule.rationale)}</p>")
    if rule.remediation:
        parts.append(f"<p class=label>{both('Khắc phục', 'Remediation')}</p>"
                     f"<pre>{escape(rule.remediation.strip())}</pre>")
    return f"<div class='finding f-{rule.severity}' data-rule='{escape(rule.id)}'>{''.join(parts)}</div>"


_DRIFT_KINDS = [("missing", "Thiếu (có trong cấu hình chuẩn)", "Missing (in the golden configuration)"),
                ("extra", "Thừa (khác cấu hình chuẩn)", "Extra (differs from the golden configuration)")]


def _drift_html(audit: DeviceAudit, limit: int) -> str:
    if audit.drift is None:
        return ""
    parts = []
    for kind, vietnamese, english in _DRIFT_KINDS:
        pairs = [(context, line) for context, lines in audit.drift[kind] for line in lines]
        if pairs:
            parts.append(f"<p class=label>{both(vietnamese, english)}: {len(pairs)}</p>{_excerpt(pairs, limit)}")
    if not parts:
        parts.append(f"<p>{both('Khớp cấu hình chuẩn.', 'Matches the golden configuration.')}</p>")
    heading = both("Lệch so với cấu hình chuẩn", "Drift from the golden configuration")
    return f"<h4>{heading}</h4>{''.join(parts)}"


def _device_html(audit: DeviceAudit, anchor: str, limit: int) -> str:
    where = " · ".join(escape(part) for part in (audit.platform, audit.source) if part)
    parts = [f"<section class=device id={anchor}><h3>{escape(audit.device)} <small>{where}</small></h3>"]
    if audit.backup_age is not None:
        parts.append(f"<p class=meta>{both('Bản sao lưu', 'Backup')}: {duration(audit.backup_age)} "
                     f"{both('trước', 'ago')}</p>")
    if audit.error:
        parts.append(f"<p class=error>{both('Không kiểm tra được', 'Not audited')}: {escape(audit.error)}</p>")
    parts += [_finding_html(finding, limit) for finding in _by_severity(audit.failed)]
    passed = [f.rule.id for f in audit.findings if f.passed and f.applicable]
    idle = [f.rule.id for f in audit.findings if not f.applicable]
    if audit.findings and not audit.failed:
        parts.append(f"<p>{both('Đạt mọi quy tắc.', 'Every rule passed.')}</p>")
    if passed:
        parts.append(f"<p><small>{both('Đạt', 'Passed')} ({len(passed)}): "
                     f"{escape(', '.join(passed))}</small></p>")
    if idle:
        parts.append(f"<p><small>{both('Không áp dụng', 'Not applicable')} ({len(idle)}): "
                     f"{escape(', '.join(idle))}</small></p>")
    parts.append(_drift_html(audit, limit))
    return "".join(parts) + "</section>"


def _overview(audits: list[DeviceAudit], anchors: list[str]) -> str:
    head = "".join(f"<th>{both(vi, en)}</th>" for vi, en in (("Địa điểm", "Site"), ("Thiết bị", "Device"),
                                                              ("Nền tảng", "Platform")))
    head += "".join(f"<th class=num>{SEVERITY_NAMES[s]}<br><span lang=en>{s}</span></th>" for s in SEVERITIES)
    head += (f"<th class=num>{both('Lệch', 'Drift')}<br>"
             f"<small>{both('thiếu/thừa', 'missing/extra')}</small></th><th>{both('Sao lưu', 'Backup')}</th>")
    rows = []
    for audit, anchor in zip(audits, anchors):
        cells = (f"<td>{escape(audit.site or '-')}</td><td><a href='#{anchor}'>{escape(audit.device)}</a></td>"
                 f"<td>{escape(audit.platform)}</td>")
        if audit.error:
            cells += (f"<td colspan=6 class=error>{both('Không kiểm tra được', 'Not audited')}: "
                      f"{escape(audit.error)}</td>")
        else:
            counts, drift = _failed_counts(audit), _drift_counts(audit)
            cells += "".join(f"<td class=num>{counts[s]}</td>" for s in SEVERITIES)
            cells += f"<td class=num>{'-' if drift is None else f'{drift[0]}/{drift[1]}'}</td>"
            cells += f"<td>{'-' if audit.backup_age is None else duration(audit.backup_age)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _site_title(site: str) -> str:
    if not site:
        return both("Không thuộc địa điểm nào", "No site")
    return f"{both('Địa điểm', 'Site')}: {escape(site)}"


def html(audits: list[DeviceAudit], lines: int = 50) -> str:
    """One self-contained HTML document (inline CSS, no script, nothing fetched), printable on
    A4 with each site from a new page; up to `lines` lines per excerpt. Everything a device
    or a pack wrote is escaped."""
    audits = _ordered(audits)
    anchors = [f"d-{n}" for n in range(len(audits))]
    summary = _summary(audits)
    sites: dict[str, list[str]] = {}
    for audit, anchor in zip(audits, anchors):
        sites.setdefault(audit.site, []).append(_device_html(audit, anchor, lines))
    by_site = "".join(f"<section class=site><h2>{_site_title(site)}</h2>{''.join(devices)}</section>"
                      for site, devices in sites.items())
    counts = "".join(f"<span class=n>{_badge(s)} {summary['findings'][s]}</span>" for s in SEVERITIES)
    generated = time.strftime("%Y-%m-%d %H:%M:%S %z")
    facts = " · ".join(f"{both(vi, en)}: {summary[key]}" for key, vi, en in (
        ("devices", "Thiết bị", "Devices"), ("audited", "Đã kiểm tra", "Audited"),
        ("errors", "Không kiểm tra được", "Not audited"), ("drift", "Lệch cấu hình chuẩn", "Drifting")))
    return f"""<!doctype html>
<html lang=vi><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>Báo cáo kiểm tra cấu hình — egov-agent</title><style>{_STYLE}</style></head><body>
<h1>{both('Báo cáo kiểm tra cấu hình', 'Configuration audit report')}</h1>
<p class=meta>egov-agent {escape(__version__)} · {both('lập lúc', 'generated')} {generated}</p>
<h2 id=summary>{both('Tóm tắt', 'Summary')}</h2>
<p>{facts}</p>
<p class=counts>{both('Quy tắc không đạt', 'Failed rules')}: {counts}</p>
{_overview(audits, anchors)}
{by_site}
</body></html>
"""
