"""H.323 reachability of video-conference endpoints: a TCP connect to H.225 call signalling.

An H.323 endpoint or MCU accepts calls on TCP 1720. Opening that connection (and closing
it without sending a Q.931 SETUP, so no call rings) proves the call-signalling stack is
listening; a refused or silent port means a meeting cannot be dialled.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.collector import register
from agent.probe import Probe, ProbeSettings, Sample, TimedCheck
from agent.schema import Port
from collectors._stream import open_stream


@dataclass
class H323Check(TimedCheck):
    port: Port = 1720  # H.225 call signalling


@register
class H323Probe(Probe):
    name = "h323"
    help = "TCP connect to H.323 call signalling, port 1720 (inventory kind h323)"
    Settings = ProbeSettings
    CheckSettings = H323Check
    FAMILIES = {"connect_seconds": ("gauge", "Time to open the H.225 call-signalling TCP connection.", [])}

    async def probe(self, target, check):
        _, writer, seconds = await open_stream(target.address, check.port)
        writer.close()
        return [Sample("connect_seconds", seconds)]

    def evaluate(self, outcome):
        seconds = outcome.samples[0].value
        return self.timed(outcome, seconds, f"port {outcome.check.port} accepted in {seconds * 1000:.0f} ms")
