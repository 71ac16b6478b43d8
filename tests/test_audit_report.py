"""Audit reports (agent/audit/report.py): the terminal table, JSON, the HTML file, the exit code.

Every DeviceAudit is what the audit makes of real configuration text: the report test
packs (tests/fixtures/audit/report/policies, one rule per kind of finding) evaluated on
Cisco IOS and Huawei VRP configurations, drift from golden configurations. xa-a-rtr's
configuration is hostile: an SNMP community, a banner and a description written as HTML.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent.audit import configtext, report
from agent.audit.policy import DeviceAudit, evaluate, load_packs

FIXTURES = Path(__file__).parent / "fixtures" / "audit" / "report"
PACKS = load_packs(FIXTURES / "policies")
HOSTILE_COMMUNITY = "snmp-server community <script>alert(1)</script> RO"
HOSTILE_DESCRIPTION = "description UPLINK to pop-old <script>alert('x')</script>"
HOSTILE_BANNER = "banner login ^C</pre><b>Authorized & only</b>^C"
UNREACHABLE = "no backup yet: timeout: no answer in 10s"


def audited(device: str, platform: str, site: str, backup_age: float | None = None) -> DeviceAudit:
    """The device's configuration in the fixtures through its pack, with drift when a golden one is there."""
    path = FIXTURES / "configs" / f"{device}.cfg"
    text, golden = path.read_text(), path.with_suffix(".golden")
    drift = configtext.drift(golden.read_text(), text, platform) if golden.exists() else None
    return DeviceAudit(device, platform, site, str(path), evaluate(PACKS[platform], text, platform), drift,
                       backup_age)


def fleet() -> list[DeviceAudit]:
    """dc-core-sw: one low finding, drift; xa-a-rtr: critical, high, medium, drift; xa-b-rtr
    (Huawei): critical and medium; pop-rtr: never backed up. In no particular order."""
    return [audited("xa-a-rtr", "cisco_ios", "xa_a", backup_age=7500), audited("dc-core-sw", "cisco_ios", "dc", 300),
            audited("xa-b-rtr", "huawei", "xa_b"), DeviceAudit("pop-rtr", "cisco_ios", "pop_old", error=UNREACHABLE)]


def by_name(audits: list[DeviceAudit]) -> dict[str, DeviceAudit]:
    return {audit.device: audit for audit in audits}


# --- exit code --------------------------------------------------------------------------------

def test_exit_code_is_2_on_a_critical_finding_3_on_a_device_not_audited_0_otherwise():
    devices = by_name(fleet())
    assert report.exit_code(list(devices.values())) == 2
    assert report.exit_code([devices["xa-b-rtr"]]) == 2  # a critical finding alone
    assert report.exit_code([devices["dc-core-sw"], devices["pop-rtr"]]) == 3
    assert [f.rule.severity for f in devices["dc-core-sw"].failed] == ["low"]
    assert report.exit_code([devices["dc-core-sw"]]) == 0  # a failed low rule does not stop a pipeline
    assert report.exit_code([]) == 0


# --- terminal table ---------------------------------------------------------------------------

def test_the_table_has_a_line_per_device_the_failed_rules_by_severity_and_a_summary():
    out = io.StringIO()
    report.table(fleet(), out, lines=1)
    text = out.getvalue()
    assert "\x1b" not in text  # not a terminal: no colour codes
    lines = text.splitlines()
    assert lines[0].split() == ["site", "device", "platform", "critical", "high", "medium", "low", "drift", "-/+",
                                "backup"]
    assert lines[1].split() == ["dc", "dc-core-sw", "cisco_ios", "0", "0", "0", "1", "2/1", "5m", "00s"]
    assert lines[2].split()[:3] == ["pop_old", "pop-rtr", "cisco_ios"] and lines[2].endswith(f"error: {UNREACHABLE}")
    assert lines[3].split() == ["xa_a", "xa-a-rtr", "cisco_ios", "1", "2", "1", "0", "5/4", "2h", "05m"]
    assert lines[4].split() == ["xa_b", "xa-b-rtr", "huawei", "1", "0", "1", "0", "-", "-"]
    assert len({line.index("cisco_ios" if "cisco" in line else "huawei") for line in lines[1:5]}) == 1  # aligned

    sections = re.split(r"\n(CRITICAL|HIGH|MEDIUM|LOW)\n", text)
    assert sections[1::2] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    critical, high, medium, low = sections[2::2]
    assert critical.splitlines()[:3] == ["  ios-vty-ssh-only: The vty lines accept SSH only (1 device)",
                                         "    xa-a-rtr",
                                         "      line vty 0 4: transport input telnet ssh"]
    assert "      … 1 more" in critical  # the missing `transport input ssh` beyond lines=1
    assert "  vrp-no-telnet: Telnet server disabled (1 device)\n    xa-b-rtr\n      global: telnet server enable" \
        in critical
    assert f"global: {HOSTILE_COMMUNITY}" in high and "ios-no-http-server" in high
    assert "line con 0: exec-timeout 0 0" in medium and "user-interface vty 0 4: idle-timeout 15 0" in medium
    assert "dc-core-sw\n      global: missing /^banner login /" in low
    assert lines[-1] == ("4 devices: 3 audited, 1 not audited; failed rules: 2 critical, 2 high, 2 medium, 1 low; "
                         "drift on 2 devices")


def test_the_table_shows_every_offending_line_up_to_the_limit():
    out = io.StringIO()
    report.table([audited("xa-a-rtr", "cisco_ios", "xa_a")], out, lines=5)
    text = out.getvalue()
    assert "line vty 0 4: missing /^transport input ssh$/" in text and "more" not in text
    assert text.endswith("\n1 device: 1 audited, 0 not audited; failed rules: 1 critical, 2 high, 1 medium, 0 low; "
                         "drift on 1 device\n")
    assert "global: snmp-server community private RW" in text and "line vty 0 4: exec-timeout 30 0" in text


def test_escape_sequences_a_device_wrote_never_reach_the_terminal():
    """A community that clears the screen and retitles the window, in a device named with a colour."""
    text = (FIXTURES / "configs" / "xa-a-rtr.cfg").read_text().replace(
        "community private RW", "community \x1b[2J\x1b]0;owned\x07 RW")
    audit = DeviceAudit("xa-\x1b[31m-rtr", "cisco_ios", "xa_a", findings=evaluate(PACKS["cisco_ios"], text,
                                                                                "cisco_ios"))
    out = io.StringIO()
    report.table([audit], out)
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert "global: snmp-server community \\x1b[2J\\x1b]0;owned\\x07 RW" in out.getvalue()
    assert "\n    xa-\\x1b[31m-rtr\n" in out.getvalue()


def test_the_table_on_a_terminal_is_coloured():
    """A real pseudo-terminal: isatty() is true there."""
    master, slave = os.openpty()
    received = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with open(slave, "w", encoding="utf-8") as terminal:
        report.table(fleet(), terminal)
    reader.join(10)
    os.close(master)
    text = received.decode()
    assert "\x1b[1;31mCRITICAL\x1b[0m" in text and "\x1b[36mLOW\x1b[0m" in text
    assert f"\x1b[35merror: {UNREACHABLE}\x1b[0m" in text


# --- JSON -------------------------------------------------------------------------------------

def test_json_has_the_documented_keys_every_finding_and_the_drift():
    data = json.loads(json.dumps(report.to_json(fleet())))  # JSON-ready as it is
    assert set(data) == {"generated_at", "summary", "devices"}
    assert datetime.fromisoformat(data["generated_at"]).utcoffset().total_seconds() == 0
    assert data["summary"] == {"devices": 4, "audited": 3, "errors": 1, "drift": 2,
                               "findings": {"critical": 2, "high": 2, "medium": 2, "low": 1}}
    devices = {d["device"]: d for d in data["devices"]}
    assert [d["device"] for d in data["devices"]] == ["dc-core-sw", "pop-rtr", "xa-a-rtr", "xa-b-rtr"]
    assert devices["pop-rtr"] == {"site": "pop_old", "device": "pop-rtr", "platform": "cisco_ios", "source": "",
                                  "error": UNREACHABLE, "backup_age_seconds": None, "drift": None, "findings": []}

    xa = devices["xa-a-rtr"]
    assert xa["backup_age_seconds"] == 7500 and xa["error"] == "" and xa["source"].endswith("xa-a-rtr.cfg")
    assert [(f["rule"], f["severity"], f["passed"]) for f in xa["findings"]] == [
        ("ios-vty-ssh-only", "critical", False), ("ios-no-http-server", "high", False),
        ("ios-no-snmp-community", "high", False), ("ios-exec-timeout", "medium", False),
        ("ios-login-banner", "low", True), ("ios-ipv6-source-guard", "low", True)]
    telnet = xa["findings"][0]
    assert telnet == {
        "rule": "ios-vty-ssh-only", "title": "The vty lines accept SSH only", "severity": "critical",
        "passed": False, "applicable": True, "reference": "CIS Cisco IOS 16 Benchmark 1.2.4 (test pack)",
        "rationale": "Telnet carries the administrators' passwords in clear text.",
        "remediation": "line vty 0 4\n transport input ssh\n",
        "offending": [{"context": "line vty 0 4", "line": "transport input telnet ssh"}],
        "missing": [{"context": "line vty 0 4", "pattern": "^transport input ssh$"}]}
    assert {"context": "", "line": HOSTILE_COMMUNITY} in xa["findings"][2]["offending"]
    assert xa["findings"][-1]["applicable"] is False
    assert {"context": "interface GigabitEthernet0/0", "lines": [HOSTILE_DESCRIPTION]} in xa["drift"]["extra"]
    assert devices["dc-core-sw"]["drift"] == {
        "missing": [{"context": "", "lines": ["ntp server 192.0.2.123",
                                              "banner login ^CChi danh cho can bo duoc phep^C"]}],
        "extra": [{"context": "", "lines": ["ntp server 203.0.113.9"]}]}
    assert devices["xa-b-rtr"]["drift"] is None


# --- HTML -------------------------------------------------------------------------------------

class _Dom(HTMLParser):
    """Start tags with their attributes, the text outside <style> and <title>, and the text of
    each device's section."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self._skip = 0
        self._open: list[str | None] = []  # the id of each open <section>
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        self._skip += tag in ("style", "title")
        if tag == "section":
            self._open.append(attributes.get("id"))

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "title")
        if tag == "section":
            self._open.pop()

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        for anchor in self._open:
            if anchor:
                self.sections.setdefault(anchor, []).append(data)

    def device(self, name: str) -> str:
        """The text of the device's section (its id, from the overview's link)."""
        return "".join(next(text for text in self.sections.values() if text[0].startswith(name + " ")))


def test_the_html_report_is_one_file_that_fetches_nothing_and_escapes_everything():
    page = report.html(fleet())
    dom = _Dom(page)
    tags = {tag for tag, _ in dom.tags}
    assert not tags & {"script", "img", "iframe", "link", "object", "embed", "b"}, tags
    assert "http://" not in page and "https://" not in page and "src=" not in page and "url(" not in page
    assert "@import" not in page
    ids = {a["id"] for _, a in dom.tags if "id" in a}
    links = [a["href"] for tag, a in dom.tags if tag == "a"]
    assert len(links) == 4 and all(href.startswith("#") and href[1:] in ids for href in links)
    assert dom.tags[0] == ("html", {"lang": "vi"})
    text = "".join(dom.text)
    for hostile in (HOSTILE_COMMUNITY, HOSTILE_DESCRIPTION, HOSTILE_BANNER):
        assert hostile in text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_html_report_goes_by_site_then_device_then_severity_with_lines_remediation_and_drift():
    dom = _Dom(report.html(fleet()))
    text = "".join(dom.text)
    headings = ["Tóm tắt / Summary", "Địa điểm / Site: dc", "Địa điểm / Site: pop_old", "Địa điểm / Site: xa_a",
                "Địa điểm / Site: xa_b"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    assert "Báo cáo kiểm tra cấu hình / Configuration audit report" in text
    assert "Thiết bị / Devices: 4 · Đã kiểm tra / Audited: 3 · Không kiểm tra được / Not audited: 1" in text
    assert "Nghiêm trọng (critical) 2Cao (high) 2Trung bình (medium) 2Thấp (low) 1" in text

    xa = dom.device("xa-a-rtr")
    rules = [a["data-rule"] for tag, a in dom.tags if "data-rule" in a]
    assert rules == ["ios-login-banner", "ios-vty-ssh-only", "ios-no-http-server", "ios-no-snmp-community",
                     "ios-exec-timeout", "vrp-no-telnet", "vrp-idle-timeout"]  # by site, device, then severity
    assert "Bản sao lưu / Backup: 2h 05m trước / ago" in xa
    assert "Dòng vi phạm / Offending lines" in xa and "line vty 0 4\n transport input telnet ssh" in xa
    assert "Thiếu dòng khớp mẫu / No line matches" in xa and "line vty 0 4\n /^transport input ssh$/" in xa
    assert "line con 0\n exec-timeout 0 0\nline vty 0 4\n exec-timeout 30 0" in xa
    assert "Khắc phục / Remediation" in xa and "line vty 0 4\n transport input ssh" in xa
    assert "Telnet carries the administrators' passwords in clear text." in xa
    assert "Đạt / Passed (1): ios-login-banner" in xa
    assert "Không áp dụng / Not applicable (1): ios-ipv6-source-guard" in xa
    drift = xa.split("Lệch so với cấu hình chuẩn / Drift from the golden configuration")[1]
    assert "Missing (in the golden configuration): 5" in drift
    assert "Extra (differs from the golden configuration): 4" in drift
    assert f"interface GigabitEthernet0/0\n {HOSTILE_DESCRIPTION}" in drift
    assert "Không kiểm tra được / Not audited: " + UNREACHABLE in dom.device("pop-rtr")
    assert "Lệch" not in dom.device("xa-b-rtr")  # no golden configuration: no drift section


def test_the_html_report_cuts_long_excerpts():
    dom = _Dom(report.html([audited("xa-a-rtr", "cisco_ios", "xa_a")], lines=1))
    xa = dom.device("xa-a-rtr")
    assert "line con 0\n exec-timeout 0 0\n… còn 1 dòng / 1 more" in xa
    assert "exec-timeout 30 0\n" not in xa.split("Drift")[0]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium in a network namespace of its own: the report can reach nothing, not even loopback."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium package")
    command = ["unshare", "--net", CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    done = subprocess.run(command, capture_output=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                                          "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def test_chromium_shows_the_report_as_written_and_prints_it_on_a4(tmp_path):
    path = tmp_path / "audit.html"
    path.write_text(report.html(fleet()), encoding="utf-8")
    dom = _Dom(_chromium(tmp_path, "--dump-dom", path.as_uri()).stdout.decode())
    assert not {tag for tag, _ in dom.tags} & {"script", "b", "img"}  # the hostile lines stayed text
    text = "".join(dom.text)
    for seen in ("Báo cáo kiểm tra cấu hình / Configuration audit report", "Địa điểm / Site: xa_b",
                 "Nghiêm trọng (critical)", HOSTILE_COMMUNITY, HOSTILE_BANNER, HOSTILE_DESCRIPTION,
                 "user-interface vty 0 4\n idle-timeout 15 0", "Không kiểm tra được / Not audited: " + UNREACHABLE):
        assert seen in text
    assert [a["data-rule"] for tag, a in dom.tags if "data-rule" in a][:2] == ["ios-login-banner", "ios-vty-ssh-only"]

    pdf = tmp_path / "audit.pdf"
    _chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", path.as_uri())
    data = pdf.read_bytes()
    boxes = {tuple(float(n) for n in box.split()) for box in re.findall(rb"/MediaBox \[([^\]]+)\]", data)}
    assert len(boxes) == 1 and all(abs(a - b) < 1 for a, b in zip(boxes.pop(), (0, 0, 595.28, 841.89)))  # A4
    pages = int(re.search(rb"/Type /Pages\b.*?/Count (\d+)", data, re.S)[1])
    assert pages >= 5  # the summary, then each of the 4 sites from a new page
