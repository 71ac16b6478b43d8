"""SNMP peers for the tests: a real net-snmp snmpd posing as routers, a silent UDP port and
a UDP port answering garbage.

snmpd serves its own system group (sysName, sysDescr, sysUpTime) and SNMPv3 USM, while
IF-MIB, HOST-RESOURCES processors and storage, and the Cisco and Huawei CPU/memory tables
come from tests/fixtures/snmp/pass_persist.py reading a JSON file that a test rewrites
between polls (`SnmpAgent.publish`); its own modules for those tables are switched off
(`-I -…`) so they do not shadow the fake ones. It listens on several loopback addresses at
once, one per simulated device, since an inventory gives each device its own address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers import Peer, free_port, require

PASS_PERSIST = Path(__file__).parent / "fixtures" / "snmp" / "pass_persist.py"
ADDRESSES = [f"127.61.0.{n}" for n in range(1, 9)]  # one per simulated device
# subtrees the pass_persist program serves: IF-MIB ifTable and ifXTable, hrProcessorTable,
# hrStorageTable, CISCO-PROCESS-MIB, CISCO-MEMORY-POOL-MIB, HUAWEI-ENTITY-EXTENT-MIB
FAKED = [".1.3.6.1.2.1.2.2", ".1.3.6.1.2.1.31.1.1", ".1.3.6.1.2.1.25.3.3", ".1.3.6.1.2.1.25.2.3",
         ".1.3.6.1.4.1.9.9.109", ".1.3.6.1.4.1.9.9.48", ".1.3.6.1.4.1.2011.5.25.31"]
# snmpd's own modules for those tables, and smux (which would listen on 0.0.0.0:199)
SWITCHED_OFF = "smux,ifTable,ifXTable,interfaces,hr_storage,hrh_storage,hr_proc"

COMMUNITY = "egov-test-community"
V3_USER, V3_AUTH_KEY, V3_PRIV_KEY = "egovmon", "auth-key-for-tests", "priv-key-for-tests"
V3_OLD_USER = "egovold"  # MD5 and DES, as old gear still runs; the same keys

IF, IFX = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"
HR_RAM, HR_DISK = ".1.3.6.1.2.1.25.2.1.2", ".1.3.6.1.2.1.25.2.1.4"


@dataclass
class Port:
    index: int
    name: str
    descr: str = ""
    alias: str = ""
    admin: int = 1  # ifAdminStatus: 1 up, 2 down
    oper: int = 1  # ifOperStatus: 1 up, 2 down, 7 lowerLayerDown
    speed_mbps: int = 1000
    in_octets: int = 0
    out_octets: int = 0
    in_packets: int = 0
    out_packets: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0


@dataclass
class Resources:
    """CPU and memory as each MIB family tells them."""

    hr_loads: list[int] = field(default_factory=lambda: [20, 60])  # hrProcessorLoad per processor
    hr_ram: tuple[int, int] = (1000, 250)  # hrStorageSize, hrStorageUsed of the RAM row
    cisco_cpu: list[int] = field(default_factory=lambda: [7, 35])  # cpmCPUTotal5minRev
    cisco_pools: list[tuple[int, int]] = field(default_factory=lambda: [(300, 700), (100, 900)])  # used, free
    huawei_cpu: list[int] = field(default_factory=lambda: [0, 12, 48])  # hwEntityCpuUsage
    huawei_mem: list[int] = field(default_factory=lambda: [0, 41, 30])  # hwEntityMemUsage


def oid_table(ports: list[Port], resources: Resources) -> dict[str, list]:
    """The JSON pass_persist.py serves: numeric OID -> [type, value]."""
    oids: dict[str, list] = {}
    for p in ports:
        n = p.index
        for column, type_, value in ((2, "string", p.descr), (7, "integer", p.admin), (8, "integer", p.oper),
                                     (13, "counter", p.in_discards), (14, "counter", p.in_errors),
                                     (19, "counter", p.out_discards), (20, "counter", p.out_errors)):
            oids[f"{IF}.{column}.{n}"] = [type_, str(value)]
        for column, type_, value in ((1, "string", p.name), (6, "counter64", p.in_octets),
                                     (7, "counter64", p.in_packets), (10, "counter64", p.out_octets),
                                     (11, "counter64", p.out_packets), (15, "gauge", p.speed_mbps),
                                     (18, "string", p.alias)):
            oids[f"{IFX}.{column}.{n}"] = [type_, str(value)]
    for n, load in enumerate(resources.hr_loads):
        oids[f"1.3.6.1.2.1.25.3.3.1.2.{196608 + n}"] = ["integer", str(load)]
    for n, (kind, (size, used)) in enumerate(((HR_DISK, (5000, 4900)), (HR_RAM, resources.hr_ram)), start=1):
        for column, type_, value in ((2, "objectid", kind), (4, "integer", 4096), (5, "integer", size),
                                     (6, "integer", used)):
            oids[f"1.3.6.1.2.1.25.2.3.1.{column}.{n}"] = [type_, str(value)]
    for n, load in enumerate(resources.cisco_cpu, start=1):
        oids[f"1.3.6.1.4.1.9.9.109.1.1.1.1.8.{n}"] = ["gauge", str(load)]
    for n, (used, free) in enumerate(resources.cisco_pools, start=1):
        oids[f"1.3.6.1.4.1.9.9.48.1.1.1.5.{n}"] = ["gauge", str(used)]
        oids[f"1.3.6.1.4.1.9.9.48.1.1.1.6.{n}"] = ["gauge", str(free)]
    for n, (cpu, mem) in enumerate(zip(resources.huawei_cpu, resources.huawei_mem), start=16842753):
        oids[f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.{n}"] = ["integer", str(cpu)]
        oids[f"1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7.{n}"] = ["integer", str(mem)]
    return oids


class SnmpAgent:
    """The running snmpd: where it listens and what it serves."""

    def __init__(self, directory: Path, port: int):
        self.directory, self.port, self.addresses = directory, port, ADDRESSES
        self.data = directory / "data.json"
        self.sys_name, self.sys_descr = "sw-core-01", "Faked router: IF-MIB from pass_persist, net-snmp 5.9"

    def publish(self, ports: list[Port], resources: Resources | None = None) -> None:
        """Serve these interfaces from the next request on (written whole, then renamed)."""
        staging = self.directory / "data.json.new"
        staging.write_text(json.dumps(oid_table(ports, resources or Resources())))
        os.replace(staging, self.data)

    def config(self) -> str:
        listen = ",".join(f"udp:{address}:{self.port}" for address in self.addresses)
        program = f"{sys.executable} {PASS_PERSIST} {self.data}"
        return "\n".join([
            f"agentAddress {listen}",
            f"rocommunity {COMMUNITY} 127.0.0.0/8",
            f"createUser {V3_USER} SHA-256 {V3_AUTH_KEY} AES {V3_PRIV_KEY}",
            f"rouser {V3_USER} priv",
            f"createUser {V3_OLD_USER} MD5 {V3_AUTH_KEY} DES {V3_PRIV_KEY}",
            f"rouser {V3_OLD_USER} priv",
            f"sysName {self.sys_name}",
            f"sysDescr {self.sys_descr}",
            *(f"pass_persist {subtree} {program}" for subtree in FAKED),
        ]) + "\n"


def snmpget(address: str, port: int, oid: str, community: str = COMMUNITY) -> subprocess.CompletedProcess:
    return subprocess.run([require("snmpget"), "-v2c", "-c", community, "-t", "0.3", "-r", "0", "-On", "-m", "",
                           f"{address}:{port}", oid], capture_output=True, text=True)


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory):
    """One net-snmp snmpd for the whole session, stopped by its PID."""
    directory = tmp_path_factory.mktemp("snmpd")
    agent = SnmpAgent(directory, free_port(ADDRESSES[0]))
    agent.publish([Port(1, "Gi0/0")])
    (directory / "snmpd.conf").write_text(agent.config())
    # -C: only our config; -m "": no MIB files to parse (Debian ships none it could use)
    peer = Peer([require("snmpd"), "-f", "-C", "-c", str(directory / "snmpd.conf"), "-I", f"-{SWITCHED_OFF}",
                 "-m", "", "-Lo"], directory / "snmpd.log", env={"SNMP_PERSISTENT_DIR": str(directory / "state")})
    try:
        deadline = time.monotonic() + 15
        while snmpget(ADDRESSES[-1], agent.port, "1.3.6.1.2.1.31.1.1.1.1.1").returncode != 0:
            if peer.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"snmpd did not come up: {peer.output()}")
            time.sleep(0.1)
        yield agent
    finally:
        peer.stop()


class UdpPeer:
    """A UDP port on its own loopback address that never answers, or answers every datagram
    with `reply`; the socket is closed when the test ends."""

    def __init__(self, address: str, reply: bytes | None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.1)
        self.address, self.port = self.sock.getsockname()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(reply,), daemon=True)
        self._thread.start()

    def _serve(self, reply: bytes | None) -> None:
        while not self._stop.is_set():
            try:
                _, sender = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received += 1
            if reply is not None:
                self.sock.sendto(reply, sender)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def udp_peers():
    """udp_peers(address, reply=None): start silent or garbage-answering UDP peers."""
    started = []

    def start(address: str, reply: bytes | None = None) -> UdpPeer:
        started.append(UdpPeer(address, reply))
        return started[-1]

    yield start
    for peer in started:
        peer.close()
