"""The icmp collector against the real kernel: raw and datagram sockets, IPv4 and IPv6, loss
made with nftables, RTTs compared with ping and fping, a thousand targets from one socket."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent import exitcodes
from agent.checks import State
from agent.collector import CollectorError
from agent.context import Context
from agent.inventory import load_inventory
from agent.schema import build
from agent.snapshot import render
from agent.yamlfile import ConfigError
from collectors._icmp_packet import EchoTemplate, Reply, parse_reply
from collectors.icmp import (PING_GROUP_RANGE, IcmpCheck, IcmpProbe, IcmpSettings, _Run, mos_from_r, open_socket,
                             r_factor, summarize)
from tests.peer_nft import dropping
from tests.peers import require

ROOT = Path(__file__).resolve().parent.parent

# Captured on this machine with a raw socket while `ping -c1 127.0.0.1` and `ping -6 -c1 ::1`
# ran (identifier 0x7a0b / 0x7a0c, sequence 1): request and reply of each, as received.
PING_V4_REQUEST = bytes.fromhex(
    "45000054508940004001ec1d7f0000017f000001080013e17a0b00016866026b000000003c6e040000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")
PING_V4_REPLY = bytes.fromhex(
    "45000054508a000040012c1d7f0000017f00000100001be17a0b00016866026b000000003c6e040000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")
PING_V6_REQUEST = bytes.fromhex(
    "800091597a0c00016866026b000000004678040000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")
PING_V6_REPLY = bytes.fromhex(
    "810090597a0c00016866026b000000004678040000000000"
    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637")
# An ICMP datagram socket's reply to 127.0.0.1: no IP header, the kernel's identifier 0xcf91.
DATAGRAM_V4_REPLY = bytes.fromhex(
    "00007792cf910007101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"
    "32333435363738393a3b3c3d3e3f4041424344454647")


# ---------------------------------------------------------------- pure parts

def test_echo_requests_are_what_ping_sends():
    v4 = PING_V4_REQUEST[20:]
    assert EchoTemplate(4, v4[8:]).request(0x7A0B, 1) == v4  # checksum included
    built = EchoTemplate(6, PING_V6_REQUEST[8:]).request(0x7A0C, 1)
    assert built[:2] + built[4:] == PING_V6_REQUEST[:2] + PING_V6_REQUEST[4:]
    assert built[2:4] == b"\0\0"  # the kernel fills in the ICMPv6 checksum
    with pytest.raises(ValueError):
        EchoTemplate(4, b"odd")


def test_replies_are_read_and_everything_else_is_not():
    assert parse_reply(PING_V4_REPLY, 4, ip_header=True) == Reply(0x7A0B, 1, PING_V4_REPLY[28:])
    assert parse_reply(PING_V6_REPLY, 6, ip_header=False) == Reply(0x7A0C, 1, PING_V6_REPLY[8:])
    assert parse_reply(DATAGRAM_V4_REPLY, 4, ip_header=False) == Reply(0xCF91, 7, DATAGRAM_V4_REPLY[8:])
    assert parse_reply(PING_V4_REQUEST, 4, ip_header=True) is None  # a raw socket sees requests too
    assert parse_reply(PING_V6_REQUEST, 6, ip_header=False) is None
    assert parse_reply(PING_V4_REPLY[:26], 4, ip_header=True) is None  # truncated
    assert parse_reply(b"", 4, ip_header=True) is None


def test_summary_of_rtts():
    stats = summarize([0.001, 0.003, 0.002, 0.006])
    assert stats["min"] == 0.001 and stats["max"] == 0.006 and stats["avg"] == pytest.approx(0.003)
    assert stats["stddev"] == pytest.approx((14 / 4) ** 0.5 / 1000)  # population, like ping's mdev
    assert stats["jitter"] == pytest.approx((0.002 + 0.001 + 0.004) / 3)
    assert summarize([0.004]) == {"min": 0.004, "avg": 0.004, "max": 0.004, "stddev": 0.0}  # no jitter of one
    assert summarize([]) == {}


@pytest.mark.parametrize("r, mos", [(90, 4.34), (80, 4.03), (70, 3.60), (60, 3.10), (50, 2.58)])
def test_mos_of_g107_table_b1(r, mos):
    """ITU-T G.107 (03/2005) Annex B, Table B.1: the MOS at each user-satisfaction boundary of R
    (two decimals; 80 gives 4.024, which the table prints as 4.03)."""
    assert mos_from_r(r) == pytest.approx(mos, abs=0.007)


def test_mos_outside_the_scale():
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)  # G.107's default connection, R 93.2
    assert mos_from_r(-157.0) == 1.0 and mos_from_r(0) == 1.0  # G.107 B-4: 1 for R < 0
    assert mos_from_r(100.5) == 4.5  # and 4.5 above 100


def test_mos_thresholds_are_on_the_mos_scale():
    with pytest.raises(ConfigError, match=r"mos_critical: expected a MOS from 1 to 4.5, got 0"):
        build(IcmpCheck, {"mos_warning": 4, "mos_critical": 0})


@pytest.mark.parametrize("rtt_ms, jitter_ms, loss, r", [
    (0, 0, 0, 93.2 - 10 / 40),  # the 10 ms the formula adds for the codec, nothing else
    (100, 20, 0, 93.2 - 150 / 40),  # effective 150 ms: below the knee
    (130, 10, 0, 93.2 - (160 - 120) / 10),  # effective 160 ms: the knee, where both branches give 89.2
    (200, 20, 0.01, 93.2 - (250 - 120) / 10 - 2.5),  # 1 % lost: 2.5 off
    (20, 5, 0.5, 93.2 - 40 / 40 - 125),  # half lost: below 0, MOS 1
])
def test_r_factor_of_the_simplified_e_model(rtt_ms, jitter_ms, loss, r):
    """Worked by hand from NetBeez's formula (cited in collectors/icmp.py)."""
    assert r_factor(rtt_ms / 1000, jitter_ms / 1000, loss) == pytest.approx(r)


# ---------------------------------------------------------------- helpers

def write_inventory(directory: Path, hosts: dict[str, tuple[str, dict]]) -> Path:
    lines = ["province:", "  vars: {egov_site_type: province}", "  hosts:"]
    for name, (address, check) in hosts.items():
        lines.append(f"    {name}: {{ansible_host: {json.dumps(address)}, egov_role: dc_host, "
                     f"egov_checks: {{icmp: {json.dumps(check)}}}}}")
    (directory / "hosts.yml").write_text("\n".join(lines) + "\n")
    return directory


def make_probe(directory: Path, hosts: dict, **settings) -> IcmpProbe:
    inventory = load_inventory(write_inventory(directory, hosts))
    return IcmpProbe(IcmpSettings(**settings), Context(inventory=inventory))


def by_target(families) -> dict[str, dict]:
    """{target: {metric name, or name:stat: value}} from the text exposition."""
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(render(families)[0].decode()):
        for sample in family.samples:
            name = sample.name + (":" + sample.labels["stat"] if "stat" in sample.labels else "")
            name += (":" + sample.labels["reason"] if "reason" in sample.labels else "")
            out.setdefault(sample.labels["target"], {})[name] = sample.value
    return out


@contextmanager
def ping_group_range(value: str):
    """Set net.ipv4.ping_group_range for the block; the old value comes back whatever happens."""
    path = Path(PING_GROUP_RANGE)
    before = path.read_text()
    path.write_text(value)
    try:
        yield
    finally:
        path.write_text(before)


FAST = {"count": 3, "spacing": 0.01, "timeout": 0.5}


# ---------------------------------------------------------------- both kinds of socket, both families

@pytest.mark.parametrize("kind", ["raw", "datagram"])
def test_raw_and_datagram_sockets_on_ipv4_and_ipv6(tmp_path, kind):
    probe = make_probe(tmp_path, {"v4": ("127.33.0.1", FAST), "v6": ("::1", FAST)}, socket=kind)
    with ping_group_range("0 0" if kind == "datagram" else "1 0"):  # root's group, or nobody's
        first, second = by_target(asyncio.run(probe.collect())), by_target(asyncio.run(probe.collect()))
    for target in ("v4", "v6"):
        got = second[target]
        assert got["egov_icmp_up"] == 1 and got["egov_icmp_loss_ratio"] == 0
        assert first[target]["egov_icmp_echoes_sent_total"] == 3
        assert got["egov_icmp_echoes_sent_total"] == got["egov_icmp_echoes_received_total"] == 6  # across runs
        assert 0 < got["egov_icmp_rtt_seconds:min"] <= got["egov_icmp_rtt_seconds:avg"] \
            <= got["egov_icmp_rtt_seconds:max"] < 0.5
        assert got["egov_icmp_rtt_stddev_seconds"] >= 0 and got["egov_icmp_jitter_seconds"] >= 0
    assert {check.state for check in probe.checks({})} == {State.OK}


def test_auto_takes_raw_as_root_and_datagram_is_what_it_says():
    sock, raw = open_socket(4, "auto")
    sock.close()
    assert raw
    with ping_group_range("0 0"):
        sock, raw = open_socket(6, "datagram")
        sock.close()
    assert not raw


def test_a_datagram_socket_refused_names_the_sysctl(tmp_path):
    probe = make_probe(tmp_path, {"v4": ("127.33.0.1", FAST)}, socket="datagram")
    with ping_group_range("1 0"), pytest.raises(CollectorError) as refused:
        asyncio.run(probe.collect())
    assert refused.value.reason == "config"
    assert "net.ipv4.ping_group_range (1 0)" in refused.value.detail and "group 0" in refused.value.detail


def test_an_unprivileged_agent_uses_datagram_sockets(tmp_path):
    """`egov-agent once icmp` as nobody (no CAP_NET_RAW): auto falls back to datagram sockets."""
    setpriv = require("setpriv")
    readable = Path(tempfile.mkdtemp(prefix="egov-icmp-"))  # nobody cannot enter pytest's tmp_path
    try:
        readable.chmod(0o755)
        write_inventory(readable, {"v4": ("127.33.0.2", FAST), "v6": ("::1", FAST)})
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                "-m", "agent", "once", "icmp", "-i", str(readable)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        with ping_group_range("65534 65534"):
            allowed = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        with ping_group_range("1 0"):
            refused = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(readable)
    assert allowed.returncode == 0, allowed.stderr
    assert 'egov_icmp_up{check="icmp",site="province",target="v4"} 1.0' in allowed.stdout
    assert 'egov_icmp_echoes_received_total{check="icmp",site="province",target="v6"} 3.0' in allowed.stdout
    assert refused.returncode == exitcodes.UNKNOWN
    assert "no raw socket (needs root or CAP_NET_RAW)" in refused.stderr
    assert "group 65534 is outside net.ipv4.ping_group_range (1 0)" in refused.stderr


# ---------------------------------------------------------------- accuracy against ping and fping

def ping_rtts(address: str, count: int) -> list[float]:
    out = subprocess.run([require("ping"), "-n", "-c", str(count), "-i", "0.01", address],
                         capture_output=True, text=True, timeout=30).stdout
    return [float(ms) / 1000 for ms in re.findall(r"time=([\d.]+) ms", out)]


def fping_rtts(address: str, count: int) -> list[float]:
    err = subprocess.run([require("fping"), "-C", str(count), "-q", "-p", "10", address],
                         capture_output=True, text=True, timeout=30).stderr  # "ADDR : 0.04 0.05 ..."
    return [float(ms) / 1000 for ms in err.rpartition(" : ")[2].split()]


def our_rtts(address: str, version: int, count: int) -> list[float]:
    async def ping():
        run = _Run(IcmpSettings())
        try:
            echoes = await run.ping(address, version, count, 0.01, 1.0)
        finally:
            await run.close()
        return [rtt for rtt in echoes.rtts if rtt is not None]
    return asyncio.run(ping())


@pytest.mark.parametrize("address, version", [("127.33.0.3", 4), ("::1", 6)])
def test_rtts_agree_with_ping_and_fping(address, version):
    """Medians of 20 echoes each, 10 ms apart, on loopback. In trials here the three medians
    were 25-60 µs and at most 22 µs apart; ±0.25 ms leaves room for a loaded 2-core machine
    and still catches a wrong clock, a wrong unit or a send time taken before the spacing."""
    medians = {"ping": statistics.median(ping_rtts(address, 20)),
               "ours": statistics.median(our_rtts(address, version, 20)),
               "fping": statistics.median(fping_rtts(address, 20))}
    assert all(0 < median < 0.001 for median in medians.values()), medians
    assert abs(medians["ours"] - medians["ping"]) <= 0.00025, medians
    assert abs(medians["ours"] - medians["fping"]) <= 0.00025, medians


# ---------------------------------------------------------------- loss, silence, refusal

LOSSY, CLEAN, SILENT, REFUSED = "127.33.0.9", "127.33.0.8", "127.33.0.10", "127.33.0.11"


@pytest.fixture(scope="module")
def lossy_loopback():
    """One address loses one echo in ten, one loses all, one cannot be sent to; for the module."""
    with dropping({LOSSY: 10, SILENT: 1}, refused=(REFUSED,)):
        yield


def test_loss_is_measured_on_one_address_and_no_other(tmp_path, lossy_loopback):
    """200 echoes at 10 % drop: binomial, 20 ± 4.2 expected lost; 3-20 % accepted (6 to 40 lost,
    the lower bound 3.3 standard deviations away)."""
    many = {"count": 100, "spacing": 0.005, "timeout": 0.5}
    probe = make_probe(tmp_path, {"lossy": (LOSSY, many), "clean": (CLEAN, many)})
    asyncio.run(probe.collect())
    got = by_target(asyncio.run(probe.collect()))
    lossy, clean = got["lossy"], got["clean"]
    assert lossy["egov_icmp_echoes_sent_total"] == clean["egov_icmp_echoes_sent_total"] == 200
    lost = 200 - lossy["egov_icmp_echoes_received_total"]
    assert 6 <= lost <= 40, lost
    assert 0 < lossy["egov_icmp_loss_ratio"] < 0.5 and lossy["egov_icmp_up"] == 1
    assert clean["egov_icmp_echoes_received_total"] == 200 and clean["egov_icmp_loss_ratio"] == 0
    # what a call would make of it: the E-model of each link's own figures
    for link in (lossy, clean):
        r = r_factor(link["egov_icmp_rtt_seconds:avg"], link["egov_icmp_jitter_seconds"], link["egov_icmp_loss_ratio"])
        assert link["egov_icmp_r_factor"] == pytest.approx(r) and link["egov_icmp_mos"] == pytest.approx(mos_from_r(r))
    assert clean["egov_icmp_mos"] > 4.3 > lossy["egov_icmp_mos"]  # 3 % lost at least: R below 86


def test_a_silent_target_is_measured_not_failed(tmp_path, lossy_loopback):
    checked = {**FAST, "timeout": 0.2, "loss_warning": 0.05, "loss_critical": 0.5}
    probe = make_probe(tmp_path, {"silent": (SILENT, checked), "clean": (CLEAN, checked),
                                  "refused": (REFUSED, checked)})
    got = by_target(asyncio.run(probe.collect()))
    silent, refused = got["silent"], got["refused"]
    assert silent["egov_icmp_loss_ratio"] == 1.0 and silent["egov_icmp_up"] == 0
    assert silent["egov_icmp_echoes_sent_total"] == 3 and silent["egov_icmp_echoes_received_total"] == 0
    assert not any(name.startswith(("egov_icmp_rtt", "egov_icmp_jitter", "egov_icmp_mos", "egov_icmp_r_factor"))
                   for name in silent)
    assert not any(name.startswith("egov_icmp_failures_total") for name in silent)
    # nothing could be sent: that is a failed probe, with no loss to speak of
    assert refused["egov_icmp_up"] == 0 and refused["egov_icmp_failures_total:connect"] == 1
    assert "egov_icmp_loss_ratio" not in refused
    assert got["clean"]["egov_icmp_up"] == 1
    states = {check.target: (check.state, check.summary) for check in probe.checks({})}
    assert states["silent"] == (State.CRITICAL, "no echo answered: loss 100%")
    assert states["refused"] == (State.CRITICAL, "connect: Operation not permitted")
    assert states["clean"][0] == State.OK


def test_thresholds_on_rtt_and_a_schedule_too_long_for_probe_timeout(tmp_path):
    probe = make_probe(tmp_path, {"slow": ("127.33.0.4", {**FAST, "rtt_warning": "0.001ms", "rtt_critical": "1s"}),
                                  "worse": ("127.33.0.5", {**FAST, "rtt_critical": "0.001ms"}),
                                  "long": ("127.33.0.6", {"count": 20, "spacing": 1}),
                                  "call": ("127.33.0.7", {**FAST, "mos_warning": 4.5, "mos_critical": 1})},
                       probe_timeout=5)
    got = by_target(asyncio.run(probe.collect()))
    states = {check.target: check for check in probe.checks({})}
    assert states["slow"].state == State.WARNING and states["slow"].thresholds["rtt_warning"] == 0.000001
    assert states["worse"].state == State.CRITICAL and states["worse"].summary.startswith("loss 0%, rtt avg")
    assert got["long"]["egov_icmp_failures_total:config"] == 1
    # loopback's MOS is the formula's best, 4.41, under 4.5 and over 1
    assert states["call"].state == State.WARNING and states["call"].thresholds["mos_warning"] == 4.5
    assert states["call"].summary.endswith(f", MOS {got['call']['egov_icmp_mos']:.2f}")
    assert states["long"].summary == ("config: 20 echoes 1s apart with a 1s timeout need 20s, "
                                      "not less than probe_timeout 5s")


def test_a_host_name_is_resolved_by_the_system(tmp_path):
    got = by_target(asyncio.run(make_probe(tmp_path, {"named": ("localhost", FAST)}).collect()))
    assert got["named"]["egov_icmp_echoes_received_total"] == 3  # /etc/hosts, no DNS


# ---------------------------------------------------------------- scale

def proc_threads() -> int:
    return int(re.search(r"^Threads:\s+(\d+)", Path("/proc/self/status").read_text(), re.M)[1])


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except FileNotFoundError:  # the directory listing's own descriptor, closed by now
            pass
    return count


def test_a_thousand_targets_share_one_socket_in_one_thread(tmp_path):
    hosts = {f"t{i}": (f"127.34.{i // 250}.{i % 250 + 1}", {"count": 2, "spacing": 0.05, "timeout": 1})
             for i in range(1000)}
    probe = make_probe(tmp_path, hosts, concurrency=1000)
    seen = {}

    async def run():
        seen.update(before=(proc_threads(), open_sockets()), threads=0, sockets=0)  # the loop's own included
        collecting = asyncio.ensure_future(probe.collect())
        while not collecting.done():  # sample the process while the run is under way
            seen["threads"] = max(seen["threads"], proc_threads())
            seen["sockets"] = max(seen["sockets"], open_sockets())
            await asyncio.sleep(0.05)
        return collecting.result()

    got = by_target(asyncio.run(run()))
    assert len(got) == 1000
    for target, metrics in got.items():
        assert metrics["egov_icmp_up"] == 1, target
        assert metrics["egov_icmp_echoes_sent_total"] == metrics["egov_icmp_echoes_received_total"] == 2, target
    assert len({metrics["egov_icmp_rtt_seconds:min"] for metrics in got.values()}) > 1  # each its own result
    threads, sockets = seen["before"]
    assert (seen["threads"], seen["sockets"]) == (threads, sockets + 1), seen  # one ICMP socket, no thread
