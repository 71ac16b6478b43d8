"""The host collectors on captured /proc files (tests/fixtures/host/proc, sys) and hand-checked edge cases."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, namedtuple
from pathlib import Path

import psutil
import pytest

from agent.checks import State
from agent.collector import CollectorError, metric_index
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors.cpu import CpuCollector
from collectors.diskstats import DiskstatsCollector, DiskstatsSettings, parse_diskstats
from collectors.filefd import FilefdCollector, parse_file_nr
from collectors.filesystem import FilesystemCollector, FilesystemSettings, parse_fstab
from collectors.meminfo import MeminfoCollector, parse_meminfo
from collectors.netdev import NetdevCollector, NetdevSettings, parse_net_dev
from collectors.services import Service, ServicesCollector, ServicesSettings
from collectors.stat import StatCollector, parse_stat
from collectors.time import TimeCollector
from collectors.timex import STA_NANO, TIME_ERROR, Timex, TimexCollector, TimexSettings, read_adjtimex
from collectors.uname import UnameCollector
from collectors.vmstat import VmstatCollector, VmstatSettings

HOST = Path(__file__).parent / "fixtures" / "host"
PROC, SYS, EDGE = str(HOST / "proc"), str(HOST / "sys"), HOST / "edge"

def collect(collector) -> dict:
    """The families of one run, by their exposition name."""
    return metric_index(collector.collect())


def typed_values(collector) -> dict[str, tuple[str, float]]:
    """Each family of one run of a collector whose families have one sample: its type and value."""
    return {name: (family.type, family.samples[0].value) for name, family in collect(collector).items()}


def parse_error(parse, text: str) -> str:
    """The detail of the parse error that `parse(text)` must raise."""
    with pytest.raises(CollectorError) as err:
        parse(text)
    assert err.value.reason == "parse"
    return err.value.detail


def by_label(metrics: dict, name: str, label: str) -> dict[str, float]:
    return {sample.labels[label]: sample.value for sample in metrics[name].samples}


def value(metrics: dict, name: str) -> float:
    (sample,) = metrics[name].samples
    return sample.value


def states(collector, metrics) -> dict[str, State]:
    return {check.target: check.state for check in collector.checks(metrics)}


# --- meminfo ---------------------------------------------------------------------------------

def test_parse_meminfo_names_fields_as_node_exporter_does():
    fields = parse_meminfo((HOST / "proc" / "meminfo").read_text())
    assert fields["MemTotal_bytes"] == 24684100 * 1024
    assert fields["MemAvailable_bytes"] == 24340660 * 1024
    assert fields["Active_anon_bytes"] == 1532 * 1024  # Active(anon)
    assert fields["Hugepagesize_bytes"] == 2048 * 1024
    assert fields["HugePages_Total"] == 0  # no unit, no _bytes
    assert "SwapTotal_bytes" in fields and "SwapFree_bytes" in fields
    assert not [key for key in fields if "(" in key or ")" in key]


def test_parse_meminfo_skips_blank_lines():
    assert parse_meminfo("MemTotal:  4 kB\n\nHugePages_Free:  3\n") == {"MemTotal_bytes": 4096, "HugePages_Free": 3}


@pytest.mark.parametrize("text", ["MemTotal:  many kB\n", "MemTotal 1024 kB\n", "MemTotal:  1 kB extra\n",
                                  "MemTotal:\n"])
def test_parse_meminfo_rejects_malformed_lines(text):
    parse_error(parse_meminfo, text)


def test_meminfo_exports_every_field_as_a_gauge():
    metrics = collect(MeminfoCollector(proc_root=PROC))
    lines = [line for line in (HOST / "proc" / "meminfo").read_text().splitlines() if line]
    assert len(metrics) == len(lines)
    assert {family.type for family in metrics.values()} == {"gauge"}
    assert value(metrics, "node_memory_MemTotal_bytes") == 24684100 * 1024
    assert metrics["node_memory_Active_anon_bytes"].documentation == "Memory information field Active_anon_bytes."


@pytest.mark.parametrize("available_kb, state", [(101, State.OK), (100, State.WARNING), (51, State.WARNING),
                                                 (50, State.CRITICAL)])
def test_memory_check_thresholds(tmp_path, available_kb, state):
    (tmp_path / "meminfo").write_text(f"MemTotal: 1000 kB\nMemAvailable: {available_kb} kB\n")
    collector = MeminfoCollector(proc_root=str(tmp_path))  # defaults: warning 0.10, critical 0.05
    (check,) = collector.checks(collect(collector))
    assert (check.name, check.state, check.value) == ("memory", state, available_kb / 1000)


def test_memory_check_is_unknown_without_memavailable(tmp_path):
    (tmp_path / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 10 kB\n")
    collector = MeminfoCollector(proc_root=str(tmp_path))
    assert [check.state for check in collector.checks(collect(collector))] == [State.UNKNOWN]


def test_an_unreadable_proc_file_is_a_collector_error(tmp_path):
    with pytest.raises(CollectorError) as err:
        collect(MeminfoCollector(proc_root=str(tmp_path)))
    assert err.value.reason == "error" and "meminfo" in err.value.detail


# --- cpu -------------------------------------------------------------------------------------

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def test_cpu_exports_each_mode_and_guest_time_per_cpu():
    per_cpu = [CpuTimes(7.81, 0.5, 6.72, 470.0, 0.35, 0.0, 0.09, 0.02, 1.5, 0.25),
               CpuTimes(27.46, 0.0, 13.74, 577.26, 1.96, 0.01, 0.32, 0.06, 0.0, 0.0)]
    requested = []
    metrics = collect(CpuCollector(cpu_times=lambda percpu: requested.append(percpu) or per_cpu))
    assert requested == [True]
    seconds = {(s.labels["cpu"], s.labels["mode"]): s.value for s in metrics["node_cpu_seconds_total"].samples}
    assert len(seconds) == 2 * 8
    assert seconds[("0", "user")] == 7.81 and seconds[("1", "idle")] == 577.26 and seconds[("1", "irq")] == 0.01
    assert "guest" not in {mode for _, mode in seconds}
    guest = {(s.labels["cpu"], s.labels["mode"]): s.value for s in metrics["node_cpu_guest_seconds_total"].samples}
    assert guest == {("0", "user"): 1.5, ("0", "nice"): 0.25, ("1", "user"): 0.0, ("1", "nice"): 0.0}
    assert metrics["node_cpu_seconds_total"].type == "counter"


# --- stat ------------------------------------------------------------------------------------

def test_parse_stat_on_captured_proc_stat():
    assert parse_stat((HOST / "proc" / "stat").read_text()) == {
        "btime": 1795316830, "ctxt": 368818, "intr": 181098, "processes": 8116,
        "procs_running": 1, "procs_blocked": 0}


def test_parse_stat_requires_every_field():
    assert "btime" in parse_error(parse_stat, "ctxt 5\nprocesses 3\nprocs_running 1\nprocs_blocked 0\nintr 9 1 2\n")


def test_stat_collector_metrics():
    assert typed_values(StatCollector(proc_root=PROC)) == {
        "node_boot_time_seconds": ("gauge", 1795316830),
        "node_context_switches_total": ("counter", 368818),
        "node_intr_total": ("counter", 181098),
        "node_forks_total": ("counter", 8116),
        "node_procs_running": ("gauge", 1),
        "node_procs_blocked": ("gauge", 0),
    }


# --- filefd, vmstat --------------------------------------------------------------------------

def test_filefd_collector_metrics():
    assert typed_values(FilefdCollector(proc_root=PROC)) == {
        "node_filefd_allocated": ("gauge", 647), "node_filefd_maximum": ("gauge", 2466170)}


def test_a_file_nr_that_is_not_three_numbers_is_a_parse_error():
    assert "/proc/sys/fs/file-nr" in parse_error(parse_file_nr, "647 0\n")


def test_vmstat_exports_node_exporters_default_fields_untyped():
    assert typed_values(VmstatCollector(proc_root=PROC)) == {
        "node_vmstat_pgpgin": ("unknown", 3845913), "node_vmstat_pgpgout": ("unknown", 1870420),
        "node_vmstat_pswpin": ("unknown", 0), "node_vmstat_pswpout": ("unknown", 0),
        "node_vmstat_pgfault": ("unknown", 69057245), "node_vmstat_pgmajfault": ("unknown", 5340),
        "node_vmstat_oom_kill": ("unknown", 0)}
    more = collect(VmstatCollector(VmstatSettings(fields="^(pgmajfault|nr_free_pages)$"), proc_root=PROC))
    assert sorted(more) == ["node_vmstat_nr_free_pages", "node_vmstat_pgmajfault"]


def test_vmstat_fields_must_be_a_regex():
    with pytest.raises(ConfigError) as err:
        build(VmstatSettings, {"fields": "(unclosed"}, "vmstat")
    assert err.value.key == "vmstat.fields" and "regular expression" in str(err.value)


# --- diskstats -------------------------------------------------------------------------------

def test_diskstats_on_captured_file_skips_loop_devices_and_scales_units():
    metrics = collect(DiskstatsCollector(proc_root=PROC))
    assert set(by_label(metrics, "node_disk_reads_completed_total", "device")) == {"vda", "zram0"}
    vda = {name: by_label(metrics, name, "device")["vda"] for name in metrics}
    assert vda == pytest.approx({
        "node_disk_reads_completed_total": 37588, "node_disk_reads_merged_total": 9784,
        "node_disk_read_bytes_total": 2686106 * 512, "node_disk_read_time_seconds_total": 8.112,
        "node_disk_writes_completed_total": 7119, "node_disk_writes_merged_total": 9464,
        "node_disk_written_bytes_total": 1259320 * 512, "node_disk_write_time_seconds_total": 2.03,
        "node_disk_io_now": 0, "node_disk_io_time_seconds_total": 3.672,
        "node_disk_io_time_weighted_seconds_total": 10.379,
        "node_disk_discards_completed_total": 3948, "node_disk_discards_merged_total": 43,
        "node_disk_discarded_sectors_total": 80144, "node_disk_discard_time_seconds_total": 0.205,
        "node_disk_flush_requests_total": 936, "node_disk_flush_requests_time_seconds_total": 0.031,
    }, rel=1e-12)
    assert metrics["node_disk_io_now"].type == "gauge"


def test_diskstats_of_an_older_kernel_has_no_discard_or_flush_metrics(tmp_path):
    (tmp_path / "diskstats").write_text((EDGE / "diskstats-kernel-4.4").read_text())
    metrics = collect(DiskstatsCollector(proc_root=str(tmp_path)))
    assert len(metrics) == 11 and "node_disk_discards_completed_total" not in metrics
    # partitions (sda1, nvme0n1p1) and RAM disks are excluded; device-mapper and md devices are not
    assert set(by_label(metrics, "node_disk_io_now", "device")) == {"sda", "nvme0n1", "dm-0", "md0"}
    assert by_label(metrics, "node_disk_io_now", "device")["dm-0"] == 2
    assert by_label(metrics, "node_disk_written_bytes_total", "device")["sda"] == 8000 * 512

    everything = collect(DiskstatsCollector(DiskstatsSettings(device_exclude=None), proc_root=str(tmp_path)))
    assert len(everything["node_disk_io_now"].samples) == 7


def test_parse_diskstats_rejects_short_lines():
    assert parse_diskstats("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n")["sda"][10] == 11
    with pytest.raises(CollectorError) as err:
        parse_diskstats("8 0 sda 1 2 3 4 5 6 7 8 9 10\n")
    assert err.value.reason == "parse"


# --- netdev ----------------------------------------------------------------------------------

def test_parse_net_dev_on_captured_file():
    devices = parse_net_dev((HOST / "proc" / "net" / "dev").read_text())
    assert set(devices) == {"lo", "ifb0", "ifb1", "eth0"}
    assert devices["eth0"]["receive_bytes"] == 41186031 and devices["eth0"]["transmit_packets"] == 621


def test_parse_net_dev_when_counters_touch_the_colon():
    devices = parse_net_dev((EDGE / "net-dev-wide-counters").read_text())
    assert devices["enp0s31f6"] == {
        "receive_bytes": 1234567890123, "receive_packets": 987654321, "receive_errs": 1, "receive_drop": 2,
        "receive_fifo": 3, "receive_frame": 4, "receive_compressed": 5, "receive_multicast": 6,
        "transmit_bytes": 9876543210987, "transmit_packets": 123456789, "transmit_errs": 7, "transmit_drop": 8,
        "transmit_fifo": 9, "transmit_colls": 10, "transmit_carrier": 11, "transmit_compressed": 12}
    assert devices["bond0"]["transmit_bytes"] == 20


@pytest.mark.parametrize("line", ["  eth0: 1 2 3\n", "  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"])
def test_parse_net_dev_rejects_malformed_lines(line):
    with pytest.raises(CollectorError) as err:
        parse_net_dev("header\nheader\n" + line)
    assert err.value.reason == "parse"


def test_netdev_collector_exports_every_column_and_honours_device_exclude():
    metrics = collect(NetdevCollector(proc_root=PROC))
    assert len(metrics) == 16 and {family.type for family in metrics.values()} == {"counter"}
    assert by_label(metrics, "node_network_receive_bytes_total", "device") == {
        "lo": 5873626, "ifb0": 0, "ifb1": 0, "eth0": 41186031}
    assert metrics["node_network_receive_errs_total"].documentation == "Network device statistic receive_errs."

    without_lo = collect(NetdevCollector(NetdevSettings(device_exclude="^lo$"), proc_root=PROC))
    assert set(by_label(without_lo, "node_network_transmit_errs_total", "device")) == {"ifb0", "ifb1", "eth0"}


# --- uname, time, timex ----------------------------------------------------------------------

def test_uname_info_labels():
    uname = os.uname_result(("Linux", "mail1", "6.1.0-18-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", "x86_64"))
    metrics = collect(UnameCollector(proc_root=PROC, uname=lambda: uname))
    (sample,) = metrics["node_uname_info"].samples
    assert (sample.name, sample.value) == ("node_uname_info", 1)
    assert sample.labels == {"sysname": "Linux", "nodename": "mail1", "release": "6.1.0-18-amd64",
                             "version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", "machine": "x86_64",
                             "domainname": "(none)"}


def test_time_zone_and_clocksources():
    cet = time.struct_time((2026, 1, 15, 13, 0, 0, 3, 15, 0), {"tm_zone": "CET", "tm_gmtoff": 3600})
    seen = []
    collector = TimeCollector(sys_root=SYS, now=lambda: 1768478400.25, localtime=lambda t: seen.append(t) or cet)
    metrics = collect(collector)
    assert value(metrics, "node_time_seconds") == 1768478400.25 and seen == [1768478400.25]
    assert by_label(metrics, "node_time_zone_offset_seconds", "time_zone") == {"CET": 3600}
    assert [s.labels for s in metrics["node_time_clocksource_available_info"].samples] == [
        {"clocksource": "tsc", "device": "0"}, {"clocksource": "kvm-clock", "device": "0"}]
    assert [s.labels for s in metrics["node_time_clocksource_current_info"].samples] == [
        {"clocksource": "tsc", "device": "0"}]


def test_time_without_clocksources_still_reports_the_time(tmp_path):
    metrics = collect(TimeCollector(sys_root=str(tmp_path)))
    assert set(metrics) == {"node_time_seconds", "node_time_zone_offset_seconds"}


def pll_timex(**fields) -> Timex:
    values = {"offset": -1500, "freq": 655360, "maxerror": 16_000_000, "esterror": 500, "status": 0x0001,
              "constant": 7, "tick": 10_000, "ppsfreq": 65536, "jitter": 2000, "shift": 4, "stabil": 131072,
              "jitcnt": 1, "calcnt": 2, "errcnt": 3, "stbcnt": 4, "tai": 37}
    return Timex(**{**values, **fields})


def test_timex_units_follow_node_exporter():
    metrics = collect(TimexCollector(adjtimex=lambda: (0, pll_timex())))
    values = {name: value(metrics, name) for name in metrics}
    assert values == pytest.approx({
        "node_timex_sync_status": 1, "node_timex_offset_seconds": -0.0015,
        "node_timex_frequency_adjustment_ratio": 1.00001, "node_timex_maxerror_seconds": 16.0,
        "node_timex_estimated_error_seconds": 0.0005, "node_timex_status": 1, "node_timex_loop_time_constant": 7,
        "node_timex_tick_seconds": 0.01, "node_timex_pps_frequency_hertz": 1e-6,
        "node_timex_pps_jitter_seconds": 0.002, "node_timex_pps_shift_seconds": 4,
        "node_timex_pps_stability_hertz": 2e-6, "node_timex_tai_offset_seconds": 37,
        "node_timex_pps_jitter_total": 1, "node_timex_pps_calibration_total": 2, "node_timex_pps_error_total": 3,
        "node_timex_pps_stability_exceeded_total": 4}, rel=1e-12)
    assert metrics["node_timex_pps_error_total"].type == "counter"


def test_timex_nanosecond_status_changes_only_offset_and_jitter():
    metrics = collect(TimexCollector(adjtimex=lambda: (0, pll_timex(status=0x0001 | STA_NANO))))
    assert value(metrics, "node_timex_offset_seconds") == -1.5e-6
    assert value(metrics, "node_timex_pps_jitter_seconds") == 2e-6
    assert value(metrics, "node_timex_estimated_error_seconds") == 0.0005


@pytest.mark.parametrize("state, offset_us, sync, offset_state", [
    (0, 49_999, State.OK, State.OK),
    (0, 50_000, State.OK, State.WARNING),
    (0, -999_999, State.OK, State.WARNING),
    (0, -1_000_000, State.OK, State.CRITICAL),
    (TIME_ERROR, 0, State.WARNING, State.OK),
])
def test_timex_checks(state, offset_us, sync, offset_state):
    collector = TimexCollector(TimexSettings(), adjtimex=lambda: (state, pll_timex(offset=offset_us)))
    assert {c.name: c.state for c in collector.checks(collect(collector))} == {
        "clock_sync": sync, "clock_offset": offset_state}


def test_real_adjtimex_reads_the_kernel_clock():
    if ctypes.sizeof(ctypes.c_long) == 8:
        assert ctypes.sizeof(Timex) == 208  # the kernel's struct timex on 64-bit Linux
    state, timex = read_adjtimex()
    assert 0 <= state <= TIME_ERROR
    assert 0 < timex.tick < 1_000_000  # microseconds per tick (10000 at USER_HZ 100)
    metrics = collect(TimexCollector())
    assert value(metrics, "node_timex_sync_status") == (0 if state == TIME_ERROR else 1)


# --- filesystem ------------------------------------------------------------------------------

Partition = namedtuple("Partition", "device mountpoint fstype opts")
MAIL_HOST = [Partition(*line.split()[:4]) for line in (EDGE / "mounts-mail-host").read_text().splitlines()]


def statvfs_result(blocks=1000, bfree=300, bavail=200, files=500, ffree=100, frsize=4096):
    return os.statvfs_result((frsize, frsize, blocks, bfree, bavail, files, ffree, ffree, 0, 255))


def partitions(listing):
    def disk_partitions(all):
        assert all is True  # node_exporter lists every mount, pseudo filesystems included
        return listing
    return disk_partitions


def test_filesystem_excludes_like_node_exporter_and_reports_each_mount_once():
    collector = FilesystemCollector(disk_partitions=partitions(MAIL_HOST), statvfs=lambda path: statvfs_result())
    metrics = collect(collector)
    reported = [sample.labels["mountpoint"] for sample in metrics["node_filesystem_size_bytes"].samples]
    assert sorted(reported) == ["/", "/boot", "/boot/efi", "/run", "/run/user/1000", "/srv/archive", "/var/mail"]
    root = {name: {s.labels["mountpoint"]: s for s in family.samples}["/"] for name, family in metrics.items()}
    assert {name: sample.value for name, sample in root.items()} == {
        "node_filesystem_device_error": 0, "node_filesystem_size_bytes": 4096 * 1000,
        "node_filesystem_free_bytes": 4096 * 300, "node_filesystem_avail_bytes": 4096 * 200,
        "node_filesystem_files": 500, "node_filesystem_files_free": 100, "node_filesystem_readonly": 0}
    assert root["node_filesystem_size_bytes"].labels == {"device": "/dev/mapper/vg0-root", "fstype": "ext4",
                                                          "mountpoint": "/"}
    assert by_label(metrics, "node_filesystem_readonly", "mountpoint")["/boot/efi"] == 1


def test_a_failing_statvfs_is_a_device_error_and_hides_the_other_gauges():
    def statvfs(path):
        if path == "/srv/archive":
            raise OSError(116, "Stale file handle")
        return statvfs_result()

    metrics = collect(FilesystemCollector(disk_partitions=partitions(MAIL_HOST), statvfs=statvfs))
    assert by_label(metrics, "node_filesystem_device_error", "mountpoint")["/srv/archive"] == 1
    assert by_label(metrics, "node_filesystem_device_error", "mountpoint")["/var/mail"] == 0
    for name in ("size_bytes", "free_bytes", "avail_bytes", "files", "files_free", "readonly"):
        assert "/srv/archive" not in by_label(metrics, f"node_filesystem_{name}", "mountpoint")


def test_a_hanging_mount_does_not_hang_the_collector():
    released = threading.Event()
    calls = Counter()

    def statvfs(path):
        calls[path] += 1
        if path == "/srv/archive":  # a hard NFS mount whose server is gone
            released.wait(60)
        return statvfs_result()

    collector = FilesystemCollector(FilesystemSettings(mount_timeout=0.5), disk_partitions=partitions(MAIL_HOST),
                                    statvfs=statvfs)
    try:
        started = time.monotonic()
        metrics = collect(collector)
        assert time.monotonic() - started < 0.5 + 5  # the mount timeout plus generous slack
        errors = by_label(metrics, "node_filesystem_device_error", "mountpoint")
        assert errors["/srv/archive"] == 1 and errors["/"] == 0 and errors["/var/mail"] == 0
        assert "/srv/archive" not in by_label(metrics, "node_filesystem_avail_bytes", "mountpoint")
        assert by_label(metrics, "node_filesystem_avail_bytes", "mountpoint")["/var/mail"] == 4096 * 200

        # still hung: reported again as an error without a second call (so no second stuck thread)
        metrics = collect(collector)
        assert by_label(metrics, "node_filesystem_device_error", "mountpoint")["/srv/archive"] == 1
        assert calls["/srv/archive"] == 1 and calls["/"] == 2
        assert states(collector, metrics)["/srv/archive"] == State.CRITICAL
    finally:
        released.set()

    # once the hung call returns, the mount is statted and reported again
    deadline = time.monotonic() + 10
    while by_label(metrics, "node_filesystem_device_error", "mountpoint")["/srv/archive"] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
        metrics = collect(collector)
    assert by_label(metrics, "node_filesystem_device_error", "mountpoint")["/srv/archive"] == 0
    assert calls["/srv/archive"] == 2


@pytest.mark.parametrize("bavail, ffree, state", [
    (101, 500, State.OK),
    (100, 500, State.WARNING),   # 10.0% of the space available
    (50, 500, State.CRITICAL),   # 5.0%
    (500, 100, State.WARNING),   # 10.0% of the inodes free
    (500, 50, State.CRITICAL),
])
def test_filesystem_check_thresholds(bavail, ffree, state):
    mount = [Partition("/dev/sda2", "/var/mail", "xfs", "rw,relatime")]
    collector = FilesystemCollector(disk_partitions=partitions(mount),
                                    statvfs=lambda path: statvfs_result(bavail=bavail, files=1000, ffree=ffree))
    assert states(collector, collect(collector)) == {"/var/mail": state}


def test_read_only_is_critical_only_when_it_became_so_or_fstab_says_read_write(tmp_path):
    """Read-only on purpose (an EFI partition, a squashfs image, a read-only bind mount) is
    OK; read-only after being read-write, or where fstab mounts it read-write, is critical."""
    fstab = tmp_path / "fstab"
    fstab.write_text("# <file system> <mount point> <type> <options> <dump> <pass>\n"
                     "UUID=1234 /var/mail ext4 errors=remount-ro 0 1\n"
                     "UUID=ABCD /boot/efi vfat umask=0077,ro 0 1\n")
    mounts = [Partition("/dev/sda15", "/boot/efi", "vfat", "ro,relatime"),
              Partition("/dev/sda1", "/var/mail", "ext4", "ro,relatime,errors=remount-ro"),
              Partition("tmpfs", "/srv/image", "tmpfs", "ro,nosuid")]
    stat = (lambda path: statvfs_result(bavail=900, files=0, ffree=0))
    collector = FilesystemCollector(disk_partitions=partitions(mounts), statvfs=stat, fstab=str(fstab))
    checks = {check.target: check for check in collector.checks(collect(collector))}
    assert {target: check.state for target, check in checks.items()} == {
        "/boot/efi": State.OK, "/var/mail": State.CRITICAL, "/srv/image": State.OK}
    assert checks["/var/mail"].summary.endswith(f"read-only, but {fstab} mounts it read-write")
    assert checks["/srv/image"].summary.endswith("read-only")

    listing = [Partition("tmpfs", "/srv/spool", "tmpfs", "rw,nosuid")]
    watched = FilesystemCollector(disk_partitions=partitions(listing), statvfs=stat, fstab=str(tmp_path / "none"))
    assert states(watched, collect(watched)) == {"/srv/spool": State.OK}
    listing[0] = Partition("tmpfs", "/srv/spool", "tmpfs", "ro,nosuid")  # remounted after an error
    checks = {check.target: check for check in watched.checks(collect(watched))}
    assert checks["/srv/spool"].state == State.CRITICAL
    assert checks["/srv/spool"].summary.endswith("remounted read-only (it was read-write)")


def test_parse_fstab_options_and_escapes():
    assert parse_fstab("# comment\n\n/dev/sdb1 /srv/old\\040data ext4 ro,noatime 0 2\n"
                       "proc /proc proc defaults 0 0\n/dev/sdc1 /mnt/short ext4\n") == {
        "/srv/old data": False, "/proc": True, "/mnt/short": True}


def test_read_only_mounts_in_a_mount_namespace(tmp_path):
    """Real mounts: a tmpfs mounted read-only is OK; one mounted read-write and then
    remounted read-only while the collector watches is critical."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to make a mount namespace")
    script = f"""
import json, subprocess, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from collectors.filesystem import FilesystemCollector
from agent.collector import metric_index
ro, rw = {str(tmp_path / "ro")!r}, {str(tmp_path / "rw")!r}
subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "egov-ro", ro], check=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "egov-rw", rw], check=True)
collector = FilesystemCollector(fstab="/nonexistent")
def states():
    return {{c.target: c.state.name for c in collector.checks(metric_index(collector.collect())) if c.target in (ro, rw)}}
first = states()
subprocess.run(["mount", "-o", "remount,ro", rw], check=True)
print(json.dumps([first, states()]))
"""
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    run = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0 and "unshare failed" in run.stderr:
        pytest.skip(f"no mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    ro, rw = str(tmp_path / "ro"), str(tmp_path / "rw")
    assert json.loads(run.stdout) == [{ro: "OK", rw: "OK"}, {ro: "OK", rw: "CRITICAL"}]


@pytest.mark.parametrize("block, key", [
    ({"mount_timeout": "10s"}, "filesystem.mount_timeout"),  # not less than the collector's 10s timeout
    ({"fs_types_exclude": "^(nfs"}, "filesystem.fs_types_exclude"),
    ({"mount_points_exclude": ["/"]}, "filesystem.mount_points_exclude"),
])
def test_filesystem_settings_are_strict(block, key):
    with pytest.raises(ConfigError) as err:
        build(FilesystemSettings, block, "filesystem")
    assert err.value.key == key


# --- services --------------------------------------------------------------------------------

def test_services_finds_a_process_we_started(tmp_path):
    name = f"egov-{os.getpid()}"  # a process name (comm, at most 15 characters) no one else has
    binary = tmp_path / name
    shutil.copy(shutil.which("sleep"), binary)
    process = subprocess.Popen([str(binary), "300"])
    try:
        settings = ServicesSettings(services=[
            Service("sleeper", re.escape(name)),
            Service("by-cmdline", f".*/{re.escape(name)} 300", cmdline=True),
            Service("twice", re.escape(name), min_processes=2),
            Service("absent", "no-such-daemon"),
        ])
        collector = ServicesCollector(settings)
        metrics = collect(collector)
        assert by_label(metrics, "egov_service_up", "service") == {
            "sleeper": 1, "by-cmdline": 1, "twice": 1, "absent": 0}
        assert by_label(metrics, "egov_service_processes", "service") == {
            "sleeper": 1, "by-cmdline": 1, "twice": 1, "absent": 0}
        memory = by_label(metrics, "egov_service_resident_memory_bytes", "service")
        assert memory["sleeper"] == psutil.Process(process.pid).memory_info().rss > 0
        assert memory["absent"] == 0
        assert metrics["egov_service_cpu_seconds_total"].type == "counter"
        assert by_label(metrics, "egov_service_cpu_seconds_total", "service")["sleeper"] >= 0
        assert states(collector, metrics) == {"sleeper": State.OK, "by-cmdline": State.OK,
                                              "twice": State.CRITICAL, "absent": State.CRITICAL}
    finally:
        process.kill()
        process.wait()
    assert by_label(collect(collector), "egov_service_up", "service")["sleeper"] == 0


def test_a_process_that_exits_while_listed_is_not_counted():
    process = subprocess.Popen([shutil.which("sleep"), "300"])
    listed = psutil.Process(process.pid)
    listed.info = {"name": "sleep", "cmdline": ["sleep", "300"]}  # as process_iter(attrs) left it
    process.kill()
    process.wait()
    collector = ServicesCollector(ServicesSettings(services=[Service("sleeper", "sleep")]),
                                  process_iter=lambda attrs: [listed])
    assert by_label(collect(collector), "egov_service_processes", "service") == {"sleeper": 0}


def test_services_has_work_only_with_services_configured():
    assert not ServicesCollector(ServicesSettings()).has_work()
    assert ServicesCollector(ServicesSettings(services=[Service("sleeper", "sleep")])).has_work()


@pytest.mark.parametrize("services, key", [  # a service is named in the key path by its name (agent.schema)
    ([{"name": "a", "match": "(x"}], "services.services[a].match"),
    ([{"name": "a", "match": "x", "min_processes": 0}], "services.services[a].min_processes"),
    ([{"name": "a", "match": "x"}, {"name": "a", "match": "y"}], "services.services"),
    ([{"name": "a", "match": "x", "user": "root"}], "services.services[a].user"),
    ([{"match": "x"}], "services.services[0].name"),
])
def test_services_settings_are_strict(services, key):
    with pytest.raises(ConfigError) as err:
        build(ServicesSettings, {"services": services}, "services")
    assert err.value.key == key
