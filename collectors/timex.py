"""The kernel clock discipline (NTP) via adjtimex(2), as node_exporter's timex collector exports it."""

from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass

from agent.checks import Check, State, above, levels
from agent.collector import Collector, CollectorError, CollectorSettings, register
from agent.metrics import CounterMetricFamily, GaugeMetricFamily

TIME_ERROR = 5  # adjtimex's return value while the clock is not synchronised
STA_NANO = 0x2000  # status bit: offset and jitter are in nanoseconds, not microseconds
_PPM16 = 1_000_000 * 65536  # freq, ppsfreq and stabil are ppm with a 16-bit fraction (adjtimex(2) NOTES)
_US = 1_000_000


class Timex(ctypes.Structure):
    """struct timex on 64-bit Linux (x86_64, aarch64), where its longs are 64 bits."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@functools.cache
def _libc_adjtimex():
    adjtimex = ctypes.CDLL(None, use_errno=True).adjtimex
    adjtimex.argtypes, adjtimex.restype = [ctypes.POINTER(Timex)], ctypes.c_int
    return adjtimex


def read_adjtimex() -> tuple[int, Timex]:
    """The clock state and struct timex; modes=0 only reads, so no privilege is needed."""
    timex = Timex(modes=0)
    state = _libc_adjtimex()(ctypes.byref(timex))
    if state == -1:
        raise CollectorError("error", f"adjtimex: {os.strerror(ctypes.get_errno())}")
    return state, timex


@dataclass
class TimexSettings(CollectorSettings):
    # |node_timex_offset_seconds| at or above which the clock offset check warns / goes critical
    # (node-mixin's NodeClockSkewDetected fires at 0.05); an unsynchronised clock warns
    offset_warning: float | None = 0.05
    offset_critical: float | None = 1.0


@register
class TimexCollector(Collector):
    name = "timex"
    help = "Clock synchronisation state, offset and errors from adjtimex (node_timex_*)"
    Settings = TimexSettings

    def __init__(self, settings=None, context=None, adjtimex=read_adjtimex):
        super().__init__(settings, context)
        self._adjtimex = adjtimex

    def collect(self):
        state, tx = self._adjtimex()
        divisor = _US * 1000 if tx.status & STA_NANO else _US  # only offset and jitter follow STA_NANO
        gauges = [
            ("sync_status", 0 if state == TIME_ERROR else 1,
             "Is clock synchronized to a reliable server (1 = yes, 0 = no)."),
            ("offset_seconds", tx.offset / divisor, "Time offset in between local system and reference clock."),
            ("frequency_adjustment_ratio", 1 + tx.freq / _PPM16, "Local clock frequency adjustment."),
            ("maxerror_seconds", tx.maxerror / _US, "Maximum error in seconds."),
            ("estimated_error_seconds", tx.esterror / _US, "Estimated error in seconds."),
            ("status", tx.status, "Value of the status array bits."),
            ("loop_time_constant", tx.constant, "Phase-locked loop time constant."),
            ("tick_seconds", tx.tick / _US, "Seconds between clock ticks."),
            ("pps_frequency_hertz", tx.ppsfreq / _PPM16, "Pulse per second frequency."),
            ("pps_jitter_seconds", tx.jitter / divisor, "Pulse per second jitter."),
            ("pps_shift_seconds", tx.shift, "Pulse per second interval duration."),  # a log2 exponent, as upstream
            ("pps_stability_hertz", tx.stabil / _PPM16,
             "Pulse per second stability, average of recent frequency changes."),
            ("tai_offset_seconds", tx.tai, "International Atomic Time (TAI) offset."),
        ]
        counters = [
            ("pps_jitter_total", tx.jitcnt, "Pulse per second count of jitter limit exceeded events."),
            ("pps_calibration_total", tx.calcnt, "Pulse per second count of calibration intervals."),
            ("pps_error_total", tx.errcnt, "Pulse per second count of calibration errors."),
            ("pps_stability_exceeded_total", tx.stbcnt, "Pulse per second count of stability limit exceeded events."),
        ]
        for name, value, documentation in gauges:
            yield GaugeMetricFamily(f"node_timex_{name}", documentation, value=value)
        for name, value, documentation in counters:
            yield CounterMetricFamily(f"node_timex_{name}", documentation, value=value)

    def checks(self, metrics):
        s = self.settings
        synced = metrics["node_timex_sync_status"].samples[0].value == 1
        yield Check("clock_sync", "host", State.OK if synced else State.WARNING,
                    "synchronised" if synced else "not synchronised to a time server (is NTP running?)",
                    1 if synced else 0)
        offset = metrics["node_timex_offset_seconds"].samples[0].value
        yield Check("clock_offset", "host", above(abs(offset), s.offset_warning, s.offset_critical),
                    f"offset {offset * 1000:+.3f} ms", offset, levels(s.offset_warning, s.offset_critical))
