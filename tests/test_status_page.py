"""The status page: the site tree with rolled-up states, the problems, every target, the collectors.

Unit tests render a real Snapshot; the end-to-end test loads the page of a running agent in
headless Chromium, both inside a network namespace of their own with only loopback up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.checks import Check, State
from agent.inventory import load_inventory
from agent.snapshot import Result, Snapshot
from agent.status_page import render
from tests.helpers import CHROMIUM, CHROMIUM_FLAGS
from tests.peers import free_port

# province ─ dc (dc-rtr, web-01); pop_old (pop-rtr); xa_a (a-rtr, uplink pop_old) with its office
# xa_a_office inside; xa_b (uplink xa_a)
SMALL = Path(__file__).parent / "fixtures" / "inventory" / "small"
HOSTILE_TARGET = "<img src=x onerror=alert(1)>"
HOSTILE_SUMMARY = "503 </td><script>alert('x')</script> & co"


class _Dom(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, page: bytes):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page.decode())

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def sites(self) -> dict[str, str]:
        return {a["data-site"]: a["data-state"] for tag, a in self.tags if tag == "li" and "data-site" in a}

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}


def icmp(target: str, loss: float) -> Check:
    return Check("icmp", target, State.CRITICAL if loss >= 1 else State.OK, f"loss {loss:.0%}", loss,
                 {"loss_critical": 0.2})


def snapshot_of(*results: Result, inventory=SMALL, host="web-01") -> Snapshot:
    snapshot = Snapshot()
    snapshot.configure(0, load_inventory(inventory) if inventory else None, host)
    snapshot.set_collectors({r.collector: 30.0 for r in results} | {"ssh_cli": 60.0})
    for result in results:
        snapshot.record(result)
    return snapshot


def run(collector: str, *checks: Check, reason: str | None = None, detail: str = "") -> Result:
    return Result(collector, time.time() - 2, 0.25, reason, detail, checks=list(checks))


def test_a_critical_check_rolls_up_to_every_ancestor_and_ok_sites_stay_ok():
    page = render(snapshot_of(
        run("icmp", icmp("dc-rtr", 0), icmp("pop-rtr", 0), icmp("a-rtr", 0)),
        run("http", Check("http", "web-01", State.CRITICAL, "status 503", 503.0, {"critical": 1.0}))))
    dom = _Dom(page)
    assert dom.sites() == {"province": "CRITICAL", "dc": "CRITICAL", "pop_old": "OK", "xa_a": "OK",
                           "xa_a_office": "OK", "xa_b": "OK"}
    text = "".join(dom.text)
    assert "Nghiêm trọng (CRITICAL)" in text and "Trạng thái / Status" in text
    assert "Tỉnh Nhỏ" in text and "Trung tâm dữ liệu" in text
    # the one problem, with its value and threshold, before the targets; web-01 has its own anchor
    problems = text.rsplit("Checks not OK", 1)[1].split("Targets in detail")[0]  # the heading, after the nav
    assert "status 503" in problems and "value 503" in problems and "critical 1" in problems
    assert "icmp" not in problems
    assert "t-web-01" in dom.ids() and ("a", {"href": "#t-web-01"}) in dom.tags
    details = [a for tag, a in dom.tags if tag == "details" and a.get("class") == "target"]
    assert {a["data-state"] for a in details} == {"CRITICAL", "OK"}
    assert all(("open" in a) == (a["data-state"] != "OK") for a in details)


def test_an_uplink_down_shows_the_sites_behind_it_unreachable_with_their_cause():
    page = render(snapshot_of(
        run("icmp", icmp("dc-rtr", 0), icmp("pop-rtr", 1.0), icmp("a-rtr", 1.0)),
        run("http", Check("http", "web-01", State.OK, "200 in 5 ms", 0.005, {"warning": 1.0}))))
    dom = _Dom(page)
    sites = dom.sites()
    assert {sites[s] for s in ("pop_old", "xa_a", "xa_a_office", "xa_b")} == {"UNREACHABLE"}
    assert sites["dc"] == "OK" and sites["province"] == "UNREACHABLE"  # UNREACHABLE ranks below any alert
    text = "".join(dom.text)
    assert "Không truy cập được (UNREACHABLE)" in text
    # pop_old is the root cause, with the three sites behind it
    assert "Đường truyền bị gián đoạn" in text and "3 điểm phía sau mất kết nối" in text
    assert "Mất kết nối: đường truyền của PoP cũ bị gián đoạn" in text  # xa_a hangs behind pop_old
    assert "cut off: the uplink of Xã A is down" in text  # xa_b behind xa_a (itself down)


def test_a_warning_beats_an_unreachable_site_and_the_worst_wins_at_the_root():
    page = render(snapshot_of(
        run("icmp", icmp("dc-rtr", 0), icmp("pop-rtr", 1.0), icmp("a-rtr", 1.0)),
        run("http", Check("http", "web-01", State.WARNING, "slow: 1.5 s", 1.5, {"warning": 1.0}))))
    sites = _Dom(page).sites()
    assert sites["province"] == "WARNING" and sites["dc"] == "WARNING" and sites["pop_old"] == "UNREACHABLE"


def test_hostile_target_names_summaries_and_errors_are_escaped():
    page = render(snapshot_of(
        run("http", Check("http", HOSTILE_TARGET, State.CRITICAL, HOSTILE_SUMMARY, 503.0, {"<b>": 1.0})),
        run("ssh_cli", reason="timeout", detail="<iframe src=//x> no answer")))
    dom = _Dom(page)
    tags = {tag for tag, _ in dom.tags}
    assert not tags & {"script", "img", "iframe"}, tags
    assert b"<img" not in page and b"<script" not in page and b"<iframe" not in page
    text = "".join(dom.text)
    assert HOSTILE_TARGET in text and HOSTILE_SUMMARY in text and "<iframe src=//x> no answer" in text
    anchors = {a["href"] for tag, a in dom.tags if tag == "a" and a.get("href", "").startswith("#t-")}
    assert {href[1:] for href in anchors} <= dom.ids() and "#t-~3c~img~20~src" in str(anchors)
    assert all(" " not in href and "<" not in href for href in anchors)


def test_the_collectors_table_keeps_last_run_result_duration_and_error():
    page = render(snapshot_of(run("loadavg", Check("load", "host", State.OK, "load15 per CPU 0.10", 0.1)),
                              run("ssh_cli", reason="timeout", detail="no answer in 10s")))
    text = "".join(_Dom(page).text)
    assert "loadavg" in text and "250.0 ms" in text and "timeout" in text and "no answer in 10s" in text
    assert "Bộ thu thập / Collectors" in text


def test_without_an_inventory_the_tree_is_this_host():
    page = render(snapshot_of(run("loadavg", Check("load", "host", State.WARNING, "load15 per CPU 1.20", 1.2,
                                                    {"warning": 1.0, "critical": 2.0})), inventory=None, host=None))
    dom = _Dom(page)
    assert dom.sites() == {"#this-host": "WARNING"}
    text = "".join(dom.text)
    assert "Máy này / This host" in text and "Cảnh báo (WARNING)" in text and "warning 1, critical 2" in text


def test_a_page_before_any_run_says_so():
    snapshot = Snapshot()
    snapshot.set_collectors({"loadavg": 15.0})
    text = "".join(_Dom(render(snapshot)).text)
    assert "chưa chạy / never" in text and "Chưa có kết quả kiểm tra" in text


# --- end to end: a running agent's page in headless Chromium ---------------------------------

# until the agent has a tcp check result to show, or it died (its exit left a zombie: state Z)
WAIT_FOR_TCP = textwrap.dedent("""
    import sys, time, urllib.request
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if open(f"/proc/{sys.argv[2]}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            sys.exit("the agent exited")
        try:
            body = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=2).read()
            if b'egov_check_status{check="tcp"' in body:
                sys.exit(0)
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("agent not ready after 60s")
""")
# the page's layout width on a 390 px wide phone, over Chromium's DevTools protocol on a pipe (fds 3 and 4)
MEASURE_WIDTH = textwrap.dedent("""
    import json, os, subprocess, sys, time
    chromium, url, profile, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
    commands, replies = os.pipe(), os.pipe()
    def pipe_fds():
        read, write = os.dup(commands[0]), os.dup(replies[1])  # dup2 below then clears close-on-exec
        os.dup2(read, 3)
        os.dup2(write, 4)
    browser = subprocess.Popen([chromium, *flags, "--user-data-dir=" + profile, "--remote-debugging-pipe",
                                "about:blank"], preexec_fn=pipe_fds, close_fds=False, stderr=subprocess.DEVNULL)
    os.close(commands[0]), os.close(replies[1])
    send, receive, pending, sent = os.fdopen(commands[1], "wb", 0), os.fdopen(replies[0], "rb", 0), b"", 0
    def call(method, session=None, **params):
        global pending, sent
        sent += 1
        send.write(json.dumps({"id": sent, "method": method, "params": params,
                               **({"sessionId": session} if session else {})}).encode() + b"\\0")
        while True:
            while b"\\0" not in pending:
                chunk = receive.read(65536)
                if not chunk:
                    sys.exit("chromium closed the pipe")
                pending += chunk
            message, pending = pending.split(b"\\0", 1)
            reply = json.loads(message)
            if reply.get("id") == sent:
                return reply["result"]
    try:
        target = call("Target.createTarget", url="about:blank")["targetId"]
        session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        call("Emulation.setDeviceMetricsOverride", session, width=390, height=844, deviceScaleFactor=1, mobile=True)
        call("Page.navigate", session, url=url)
        deadline, loaded = time.monotonic() + 30, None
        while not loaded and time.monotonic() < deadline:
            time.sleep(0.1)
            loaded = call("Runtime.evaluate", session, returnByValue=True, expression=(
                f"location.href == {json.dumps(url)} && document.readyState == 'complete' && "
                "[document.documentElement.scrollWidth, window.innerWidth]"))["result"]["value"]
        print(json.dumps(loaded))
    finally:
        browser.terminate()
        browser.wait(10)
""")
# one namespace for the agent and the browser: only loopback, so the page can load nothing else
IN_NAMESPACE = textwrap.dedent("""
    set -e
    ip link set lo up
    "$PYTHON" -m agent run --listen "127.0.0.1:$PORT" -i "$INVENTORY" -c "$CONFIG" > "$OUT/agent.log" 2>&1 &
    AGENT=$!
    trap 'kill $AGENT 2>/dev/null; wait $AGENT || true' EXIT
    "$PYTHON" -c "$WAIT" "http://127.0.0.1:$PORT" $AGENT
    timeout 60 "$CHROMIUM" $FLAGS --user-data-dir="$OUT/profile" --window-size=390,844 --dump-dom \
        "http://127.0.0.1:$PORT/" > "$OUT/dom.html" 2> "$OUT/chromium-dom.log"
    timeout 60 "$CHROMIUM" $FLAGS --user-data-dir="$OUT/profile" --window-size=390,844 \
        --screenshot="$OUT/phone.png" "http://127.0.0.1:$PORT/" 2> "$OUT/chromium-shot.log"
    timeout 60 "$PYTHON" -c "$MEASURE" "$CHROMIUM" "http://127.0.0.1:$PORT/" "$OUT/profile" "$FLAGS" > "$OUT/width.json"
""")


def _e2e_inventory(directory: Path) -> Path:
    """The small province, web-01 with a tcp check that is refused: nothing listens in the namespace."""
    text = (SMALL / "hosts.yml").read_text()
    text = text.replace("web-01: {ansible_host: 127.20.50.10, egov_role: web_server, egov_platform: linux}",
                        "web-01: {ansible_host: 127.20.50.10, egov_role: web_server, egov_platform: linux, "
                        "egov_checks: {tcp: {port: 9}}}")
    assert "egov_checks" in text, "the small inventory fixture changed: update this test"
    (directory / "inventory").mkdir()
    (directory / "inventory" / "hosts.yml").write_text(text)
    return directory / "inventory"


def test_a_running_agents_page_in_headless_chromium_on_a_phone(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium package")
    config = tmp_path / "agent.yml"
    config.write_text("collectors:\n  tcp:\n    interval: 2s\n    timeout: 1s\n    probe_timeout: 500ms\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable,
           "PORT": str(free_port()), "INVENTORY": str(_e2e_inventory(tmp_path)), "CONFIG": str(config),
           "OUT": str(tmp_path), "CHROMIUM": CHROMIUM, "FLAGS": " ".join(CHROMIUM_FLAGS),
           "WAIT": WAIT_FOR_TCP, "MEASURE": MEASURE_WIDTH,
           "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(["unshare", "--net", "sh", "-c", IN_NAMESPACE], env=env, capture_output=True, text=True,
                          timeout=240)
    logs = {name: (tmp_path / name).read_text(errors="replace")[-2000:]
            for name in ("agent.log", "chromium-dom.log", "chromium-shot.log") if (tmp_path / name).exists()}
    assert done.returncode == 0, (done.stdout, done.stderr, logs)

    kept = Path(tempfile.gettempdir()) / "egov-status-page-phone.png"
    shutil.copyfile(tmp_path / "phone.png", kept)
    print(f"status page screenshot (390x844): {tmp_path / 'phone.png'} (copied to {kept})")

    dom = _Dom((tmp_path / "dom.html").read_bytes())
    sites = dom.sites()
    assert sites["province"] == sites["dc"] == "CRITICAL", sites  # web-01's refused tcp check, rolled up
    assert sites["pop_old"] == sites["xa_b"] == "OK"
    text = "".join(dom.text)
    for heading in ("Trạng thái / Status", "Cây địa điểm / Site tree",
                    "Kiểm tra không bình thường / Checks not OK",
                    "Chi tiết theo đối tượng / Targets in detail", "Bộ thu thập / Collectors"):
        assert heading in text
    assert "Tỉnh Nhỏ" in text and "Xã B" in text and "web-01" in text and "Nghiêm trọng (CRITICAL)" in text
    assert not any(tag in ("script", "link", "img") for tag, _ in dom.tags)  # nothing fetched from anywhere
    assert (tmp_path / "phone.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scroll_width, viewport = json.loads((tmp_path / "width.json").read_text())
    assert viewport == 390 and scroll_width <= viewport, "the page scrolls sideways on a phone"


def test_a_site_in_its_maintenance_window_shows_bao_tri_with_the_reason(tmp_path):
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None, microsecond=0)
    text = (SMALL / "hosts.yml").read_text().replace(
        "vars: {egov_site_type: pop, egov_site_name: PoP cũ}",
        "vars: {egov_site_type: pop, egov_site_name: PoP cũ, egov_maintenance: [{reason: 'Nâng cấp <IOS>', "
        f"start: '{now - timedelta(hours=1)}', end: '{now + timedelta(hours=1)}'}}]}}")
    (tmp_path / "hosts.yml").write_text(text)
    page = render(snapshot_of(run("icmp", icmp("dc-rtr", 0), icmp("pop-rtr", 1.0), icmp("a-rtr", 0)),
                              inventory=tmp_path / "hosts.yml"))
    dom = _Dom(page)
    assert dom.sites()["pop_old"] == "MAINTENANCE" and dom.sites()["dc"] == "OK"
    assert "Đang bảo trì / in maintenance: Nâng cấp <IOS>" in "".join(dom.text)  # escaped, shown as written
    assert "Bảo trì (MAINTENANCE)" in "".join(dom.text)
