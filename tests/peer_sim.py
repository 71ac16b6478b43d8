"""Simulated routers and switches (tests/sim) as a real peer: one process, stopped by its PID.

`start_fleet(devices, directory)` serves any list of tests.sim.Device in one subprocess
and returns once all of them listen (`with start_fleet(...) as fleet:` stops it); `network_sim` is the session-scoped fleet the SSH CLI
tests use (import it into a test module). Provisioning and audit tests can take the same
fixture or start their own fleet.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import Peer, free_port
from tests.sim import Device, Neighbor, Port, public_key_line, write_spec

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "sim-password"  # every simulated device's login; a test secret, nothing real
ENABLE_SECRET = "sim-enable"
CLIENT_KEY = "egov-agent client"  # tests.sim.host_key(CLIENT_KEY) is the agent's key pair where keys are tried


@dataclass
class Fleet:
    peer: Peer
    devices: dict[str, Device]
    port: int  # every device listens on its own address, all on this port

    def __getitem__(self, name: str) -> Device:
        return self.devices[name]

    def stop(self) -> None:
        self.peer.stop()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def start_fleet(devices: list[Device], directory: Path, port: int | None = None, timeout: float = 60.0) -> Fleet:
    """Serve `devices` on `port` (a free one by default) until Fleet.stop()."""
    port = port or free_port()
    spec, ready = directory / "fleet.json", directory / "ready.json"
    write_spec(spec, devices, port)
    peer = Peer([sys.executable, "-m", "tests.sim", str(spec), str(ready)], directory / "sim.log", cwd=str(ROOT))
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if peer.process.poll() is not None:
            raise RuntimeError(f"the device simulator exited with {peer.process.returncode}: {peer.output()}")
        if time.monotonic() > deadline:
            peer.stop()
            raise TimeoutError(f"the device simulator did not start {len(devices)} devices in {timeout}s")
        time.sleep(0.05)
    assert json.loads(ready.read_text())["pid"] == peer.pid
    return Fleet(peer, {device.name: device for device in devices}, port)


def _address(n: int) -> str:
    return f"127.77.0.{n}"


# A corner of the example province: two old district PoPs and six communes, one of them
# (sonthuy) cabled to the wrong PoP, one Cisco that speaks only CDP, one router that takes
# only a key, an H3C Comware router, and the failure cases.
TEST_FLEET = [
    Device("pop-bacson-rtr", _address(1), "huawei", password=PASSWORD, ports=[
        Port("GigabitEthernet0/0/0", address="192.0.2.1/30"), Port("GigabitEthernet0/0/1"),
        Port("GigabitEthernet0/0/2"), Port("GigabitEthernet0/0/3")]),
    Device("pop-dongha-rtr", _address(2), "cisco_ios", password=PASSWORD, secret=ENABLE_SECRET),
    Device("tanlap-rtr", _address(3), "huawei", password=PASSWORD, cpu_percent=91, neighbors=[
        Neighbor("GigabitEthernet0/0/0", "pop-bacson-rtr", "GigabitEthernet0/0/1", _address(1))]),
    Device("sonthuy-rtr", _address(4), "huawei", password=PASSWORD, neighbors=[
        Neighbor("GigabitEthernet0/0/0", "pop-dongha-rtr.tinhmau.gov.vn", "GigabitEthernet0/1", _address(2))]),
    Device("hoabinh-rtr", _address(5), "cisco_ios", password=PASSWORD, secret=ENABLE_SECRET, neighbors=[
        Neighbor("GigabitEthernet0/0", "pop-dongha-rtr", "GigabitEthernet0/2", _address(2))],
        ports=[Port("GigabitEthernet0/0", address="198.51.100.2/30"), Port("GigabitEthernet0/1"),
               Port("GigabitEthernet0/2", shutdown=True)]),
    Device("trungtam-rtr", _address(6), "cisco_ios", password=PASSWORD, lldp=False, neighbors=[
        Neighbor("GigabitEthernet0/0", "pop-dongha-rtr", "GigabitEthernet0/0", _address(2))]),
    Device("anphu-rtr", _address(7), "huawei", password="", authorized_keys=[public_key_line(CLIENT_KEY)]),
    Device("lienson-rtr", _address(8), "hp_comware", password=PASSWORD, memory_percent=88, neighbors=[
        Neighbor("GigabitEthernet0/0", "pop-bacson-rtr", "GigabitEthernet0/0/2", _address(1))]),
    Device("silent-rtr", _address(11), "cisco_ios", behaviour="silent"),
    Device("locked-rtr", _address(12), "huawei", behaviour="refuse_auth", password=PASSWORD),
    Device("garbled-rtr", _address(13), "huawei", behaviour="garbage", password=PASSWORD),
    Device("dropping-rtr", _address(14), "huawei", behaviour="drop", password=PASSWORD),
]
NOTHING_LISTENS = _address(99)  # connection refused


@pytest.fixture(scope="session")
def network_sim(tmp_path_factory):
    with start_fleet(TEST_FLEET, tmp_path_factory.mktemp("network_sim")) as fleet:
        yield fleet
