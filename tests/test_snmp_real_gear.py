"""The SNMP collector against recordings of real Cisco, Huawei, H3C/HPE and Linux devices
(../shared/real-gear/snmp, served by snmpsim on loopback), checked against net-snmp's
`snmpbulkwalk` of the same agent: a decoder written by others, so the collector's engine
(gufo-snmp) is compared with an independent one, not with itself.

A bounded subset keeps the file within seconds: every vendor and OS family of the corpus,
the plain-text recordings (snmpsim seeks slowly inside the .bz2 ones, see the corpus README).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from collectors._snmp_tables import INTERFACE_COLUMNS, RESOURCE_COLUMNS, SYSTEM, assemble, dotted, resource_family
from collectors.snmp import SnmpCheck, SnmpCollector, SnmpSettings, _samples
from tests import real_gear
from tests.helpers import parse_snmpwalk, replay
from tests.peers import Peer, free_port, require

# file stem (the community snmpsim answers to) -> the inventory's egov_platform
RECORDINGS = {
    "cisco-c2950-ios121-22ea14": "cisco_ios",
    "cisco-c3560-ios122-55se12": "cisco_ios",
    "cisco-c9300-iosxe16-6-7": "cisco_xe",
    "cisco-isr4321-iosxe17-6-4": "cisco_xe",
    "cisco-n3k-3064pq-nxos703i78": "cisco_nxos",
    "cisco-asr9001-iosxr6-6-3": "cisco_xr",
    "huawei-s5720-32x-ei-v200r010": "huawei",
    "huawei-ar169f-v200r009": "huawei",
    "huawei-ne8000-m8-v800r012": "huawei_vrpv8",
    "huawei-ce-s6750-h-yunshan-v600r024": "huawei_vrpv8",
    "hp-a5500-24g-ei-comware5-20-99-r2222p08": "hp_comware",
    "hp-ff5700-comware7-1-045-r2416": "hp_comware",
    "hpe-vsr1000-comware7-1-059-r0326-virtual": "hp_comware",
    "linux-el8-netsnmp": "linux",
    "linux-debian11-netsnmp": "linux",
}


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory):
    """One snmpsim on 127.0.0.1 serving the subset, copied into a scratch directory (snmpsim
    does not follow symbolic links)."""
    corpus = real_gear.path("snmp")
    directory = tmp_path_factory.mktemp("snmpsim")
    (directory / "data").mkdir()
    for stem in RECORDINGS:
        shutil.copyfile(corpus / f"{stem}.snmprec", directory / "data" / f"{stem}.snmprec")
    port = free_port()
    responder = str(Path(sys.executable).parent / "snmpsim-command-responder")  # the test extra, beside python
    peer = Peer([responder, f"--data-dir={directory / 'data'}", f"--cache-dir={directory / 'cache'}",
                 "--log-level=error", f"--agent-udpv4-endpoint=127.0.0.1:{port}"],
                directory / "snmpsim.log", env={"SNMPSIM_ALLOW_ROOT": "true"})
    deadline = time.monotonic() + 120  # it indexes every file first
    while subprocess.run([require("snmpget"), "-v2c", "-c", next(iter(RECORDINGS)), "-t", "1", "-r", "0", "-m", "",
                          f"127.0.0.1:{port}", "1.3.6.1.2.1.1.5.0"], capture_output=True).returncode:
        assert peer.process.poll() is None and time.monotonic() < deadline, peer.output()
        time.sleep(0.5)
    yield SimpleNamespace(port=port)
    peer.stop()


def netsnmp_walk(port: int, community: str, family: str) -> dict:
    """What `snmpbulkwalk` reads of the system group and every column the collector walks."""
    text = ""
    for root in [SYSTEM["sysDescr"][:-1], *INTERFACE_COLUMNS.values(), *RESOURCE_COLUMNS[family].values()]:
        walked = subprocess.run([require("snmpbulkwalk"), "-v2c", "-c", community, "-m", "", "-On", "-Cr25",
                                 "-t", "5", "-r", "1", f"127.0.0.1:{port}", dotted(root)],
                                capture_output=True, text=True, check=True).stdout
        # left out: No Such Object / No Such Instance / No more variables (the end of the MIB)
        text += "".join(line + "\n" for line in walked.splitlines() if " = No " not in line)
    return parse_snmpwalk(text)


@pytest.mark.parametrize("stem", list(RECORDINGS))
def test_the_collector_reads_a_real_recording_as_net_snmp_does(snmpsim, stem):
    platform = RECORDINGS[stem]
    family = resource_family(platform)
    expected = assemble(replay(netsnmp_walk(snmpsim.port, stem, family), {**INTERFACE_COLUMNS,
                                                                         **RESOURCE_COLUMNS[family]}), family)
    collector = SnmpCollector(SnmpSettings(request_timeout=5.0, retries=1, probe_timeout=60.0),
                              environ={"COMMUNITY": stem})
    target = SimpleNamespace(name=stem, address="127.0.0.1", platform=platform)
    got = asyncio.run(collector.probe(target, SnmpCheck(port=snmpsim.port, community_env="COMMUNITY")))

    assert got == _samples(expected, {})  # names, states, speeds, counters, uptime, CPU, memory, sysDescr
    assert sum(sample.family == "interface_info" for sample in got) == len(expected.interfaces) > 0
