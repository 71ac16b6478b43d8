"""Simulated network devices over SSH, for the collector, provisioning and audit tests.

Many devices run in ONE process (`python -m tests.sim SPEC READY`), each listening on its
own 127.x.y.z address, all asyncssh servers on one asyncio loop: Cisco IOS
(tests/sim/cisco_ios.py), Huawei VRP (tests/sim/huawei_vrp.py), Huawei VRP8 / CloudEngine
(tests/sim/huawei_vrpv8.py) and H3C Comware (tests/sim/hp_comware.py), each taking only the command shapes of its vendor and printing
its configuration as the device does (tests/sim/cli.py). tests/peer_sim.py starts and stops
the process by PID.

A fleet is a list of `Device` specs, written to SPEC as JSON. Each device has a
deterministic Ed25519 host key derived from its name (so a restarted simulator presents
the same key, and tests can compute the fingerprint they expect) and counters that grow
with time at a steady, per-interface rate.

Behaviours for failure tests (`Device.behaviour`):
- normal: a working device;
- silent: accepts the TCP connection, then never sends a byte (not even the SSH banner);
- refuse_auth: a real SSH server that refuses every password;
- garbage: logs in and prompts normally, but answers every display/show command with junk;
- drop: logs in, then closes the connection in the middle of the first command's output.

A change typed over SSH is logged as the vendor logs it (IOS `%SYS-5-CONFIG_I` when the
configuration mode is left, VRP `SHELL/5/CMDRECORD` and Comware `SHELL/6/SHELL_CMD` for every
command, VRP8 `CONFIGURATION/6/NETCONF_CONFIG_CHANGE_EVENT` at commit too), over UDP to the
loghosts of the device's configuration (tests/sim/cli.py `send_log`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BEHAVIOURS = ("normal", "silent", "refuse_auth", "garbage", "drop")
# netmiko device_type -> the module that simulates it
SIMULATORS = {"cisco_ios": "tests.sim.cisco_ios", "huawei": "tests.sim.huawei_vrp", "hp_comware": "tests.sim.hp_comware",
              "huawei_vrpv8": "tests.sim.huawei_vrpv8"}
PLATFORMS = tuple(SIMULATORS)
_MODELS = {"cisco_ios": "CISCO2911/K9", "huawei": "AR6120", "hp_comware": "MSR3620", "huawei_vrpv8": "CE6870-48S6CQ-EI"}


@dataclass
class Port:
    name: str  # the full name: GigabitEthernet0/0/1
    up: bool = True  # the link (cable and far end); a shut-down port is down whatever this says
    shutdown: bool = False
    description: str = ""
    address: str = ""  # "192.0.2.2/30" on a routed port


@dataclass
class Neighbor:
    interface: str  # local port, full name
    system_name: str
    port: str  # the neighbour's port, full name
    address: str = ""  # its management address


@dataclass
class Device:
    name: str  # also the hostname it boots with
    address: str  # 127.x.y.z it listens on
    platform: str = "cisco_ios"  # one of PLATFORMS
    behaviour: str = "normal"
    username: str = "egov-netops"
    password: str = "sim-password"
    secret: str = ""  # Cisco enable secret; "" means the account logs in at privilege 15
    authorized_keys: list[str] = field(default_factory=list)  # 'ssh-ed25519 AAAA...' lines
    model: str = ""  # default per platform: _MODELS
    local_user: bool = True  # VRP/Comware: the account is an aaa local-user at boot (else only the vty password)
    serial: str = ""  # default derived from the name
    ports: list[Port] = field(default_factory=list)  # default per platform
    neighbors: list[Neighbor] = field(default_factory=list)
    lldp: bool = True  # LLDP running (Cisco IOS ships with it off, CDP on)
    cdp: bool = True
    cpu_percent: int = 7
    memory_percent: int = 38
    uptime_seconds: int = 3 * 86400 + 4 * 3600 + 5 * 60  # at simulator start
    log_port: int = 514  # where a loghost line that names no port sends the device's syslog (tests: the agent's)

    def __post_init__(self):
        if self.platform not in PLATFORMS:
            raise ValueError(f"device {self.name}: platform {self.platform!r}, expected one of {PLATFORMS}")
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"device {self.name}: behaviour {self.behaviour!r}, expected one of {BEHAVIOURS}")
        self.ports = [Port(**p) if isinstance(p, dict) else p for p in self.ports] or default_ports(self.platform)
        self.neighbors = [Neighbor(**n) if isinstance(n, dict) else n for n in self.neighbors]
        self.model = self.model or _MODELS[self.platform]
        digest = hashlib.sha256(self.name.encode()).hexdigest().upper()
        self.serial = self.serial or {"cisco_ios": "FGL" + digest[:8], "huawei": "2102" + digest[:16],
                                      "huawei_vrpv8": "2102" + digest[:16],
                                      "hp_comware": "219801A0" + digest[:12]}[self.platform]


def default_ports(platform: str) -> list[Port]:
    if platform == "cisco_ios":  # an ISR G2 branch router: three routed gigabit ports
        return [Port("GigabitEthernet0/0"), Port("GigabitEthernet0/1"), Port("GigabitEthernet0/2", up=False)]
    if platform == "huawei_vrpv8":  # a CloudEngine switch: 10GE ports (idx_ce5810_v100r003)
        return [Port("10GE1/0/1"), Port("10GE1/0/2"), Port("10GE1/0/3"), Port("10GE1/0/4", up=False)]
    if platform == "hp_comware":  # an H3C MSR branch router: routed gigabit ports
        return [Port("GigabitEthernet0/0"), Port("GigabitEthernet0/1"), Port("GigabitEthernet0/2", up=False)]
    # a Huawei AR branch router: a routed WAN port and a few LAN switch ports
    return [Port("GigabitEthernet0/0/0"), Port("GigabitEthernet0/0/1"), Port("GigabitEthernet0/0/2"),
            Port("GigabitEthernet0/0/3", up=False)]


def write_spec(path: Path, devices: list[Device], port: int) -> None:
    path.write_text(json.dumps({"port": port, "devices": [asdict(d) for d in devices]}, indent=1))


def read_spec(path: Path) -> tuple[list[Device], int]:
    data = json.loads(Path(path).read_text())
    return [Device(**d) for d in data["devices"]], data["port"]


def host_key(name: str):
    """The device's Ed25519 host key (cryptography object), the same on every start."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"egov-sim host key " + name.encode()).digest())


def public_key_line(name: str) -> str:
    """'ssh-ed25519 AAAA...' as known_hosts and authorized_keys write it."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return host_key(name).public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def fingerprint(name: str) -> str:
    """OpenSSH's 'SHA256:...' fingerprint of the device's host key."""
    blob = base64.b64decode(public_key_line(name).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class Clock:
    """Time since the simulator started, and traffic counters that grow while a port is up."""

    def __init__(self):
        self.started = time.time()
        self._octets: dict[tuple[str, str], tuple[float, float]] = {}  # (device, port) -> (when, received)

    def elapsed(self) -> float:
        return time.time() - self.started

    def counters(self, device: str, port: str, running: bool) -> dict[str, int]:
        """Octets, packets and errors in each direction, as a port that has run since boot."""
        seed = int(hashlib.sha256(f"{device}/{port}".encode()).hexdigest()[:8], 16)
        now = time.time()
        when, received = self._octets.get((device, port), (self.started, float(seed % 10_000_000)))
        if running:
            received += (20_000 + seed % 200_000) * (now - when)  # bytes/s
        self._octets[(device, port)] = (now, received)
        receive, transmit = int(received), int(received * 0.6)
        return {"receive_bytes": receive, "transmit_bytes": transmit,
                "receive_packets": receive // 512, "transmit_packets": transmit // 420,
                "receive_errors": seed % 3, "transmit_errors": 0}
