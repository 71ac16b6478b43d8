"""Real TLS servers configured as an inspector finds them: Debian's `openssl s_server`, one
process per configuration and address, with the chain of
tests/peer_web.py's make_pki (root -> intermediate -> portal.example, ECDSA P-256).

- `strong`: TLS 1.2 and 1.3 only, forward-secret AEAD suites only (Mozilla's "intermediate"
  for an ECDSA certificate), the leaf and its intermediate sent.
- `weak`: TLS 1.0 to 1.3 at OpenSSL's security level 0, with a NULL suite, an anonymous one
  and a CBC one besides a strong one: what Debian's OpenSSL still serves (it has no RC4,
  3DES, DES or EXPORT suites left, `openssl ciphers -V 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'`).
- `leaf_only`: as `strong`, but sending its own certificate without the intermediate.
- GnuTLS's `gnutls-serv` (Debian's gnutls-bin), which still serves RC4 and 3DES: it listens on
  every address, so `gnutls_once()` runs it in a network namespace of its own, where only `lo`
  is up (every 127.x address on it, each port a server), and the probe beside it (`egov-agent
  once tls`).

Each on loopback addresses of its own (ADDRESSES).

`-www` answers a request and reads no stdin; s_server serves one connection at a time, which
is enough for a probe that closes each one as soon as it has what it needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peer_web import Pki, make_pki
from tests.peers import Peer, free_port, require

ROOT = Path(__file__).resolve().parent.parent

STRONG_SUITES = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
WEAK_SUITES = f"{STRONG_SUITES}:ECDHE-ECDSA-AES128-SHA:AECDH-AES128-SHA:ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0"
SERVERS = {  # name -> s_server options
    "strong": ["-min_protocol", "TLSv1.2", "-cipher", STRONG_SUITES, "-cert_chain", "intermediate.pem"],
    "weak": ["-min_protocol", "TLSv1", "-cipher", WEAK_SUITES, "-cert_chain", "intermediate.pem"],
    "leaf_only": ["-min_protocol", "TLSv1.2", "-cipher", STRONG_SUITES],
}
# An inventory wants each target at an address of its own, and a test wants several targets
# per configuration: one process per address (s_server listens on one).
ADDRESSES = {"strong": [f"127.45.1.{i}" for i in range(1, 6)], "weak": [f"127.45.2.{i}" for i in range(1, 4)],
             "leaf_only": ["127.45.3.1"]}
REFUSED = "127.45.9.1"  # nothing listens here


@dataclass
class TlsServers:
    pki: Pki
    directory: Path  # the certificates and keys (make_pki's), and the servers' logs
    ports: dict[str, int]  # address -> port
    refused = REFUSED

    def at(self, name: str, index: int = 0) -> tuple[str, int]:
        """(address, port) of the `name` server number `index`."""
        address = ADDRESSES[name][index]
        return address, self.ports[address]


def _split_chain(directory: Path) -> None:
    """make_pki's leaf.pem holds the leaf then the intermediate: s_server takes them apart."""
    end = "-----END CERTIFICATE-----\n"
    leaf, intermediate = (block + end for block in (directory / "leaf.pem").read_text().split(end)[:2])
    (directory / "leaf_alone.pem").write_text(leaf)
    (directory / "intermediate.pem").write_text(intermediate)


def prepare_pki(directory: Path) -> Pki:
    """make_pki's chain in `directory`, with the leaf and the intermediate also apart, for s_server."""
    pki = make_pki(directory)
    _split_chain(directory)
    return pki


def start_s_server(name: str, address: str, options: list[str], directory: Path) -> tuple[Peer, int]:
    """s_server `name` with `options` on address:a free port, once it listens; the peer and the port."""
    port = free_port(address)
    peer = Peer([require("openssl"), "s_server", "-accept", f"{address}:{port}", "-cert", "leaf_alone.pem",
                 "-key", "leaf.key", "-www", *options], directory / f"{name}-{address}.log", cwd=str(directory))
    deadline = time.monotonic() + 15
    while "ACCEPT" not in peer.output():  # printed once it listens
        if peer.process.poll() is not None or time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError(f"s_server {name} not ready: {peer.output()}")
        time.sleep(0.05)
    return peer, port


@pytest.fixture(scope="session")
def tls_servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    pki = prepare_pki(directory)
    peers, ports = [], {}
    try:
        for name, options in SERVERS.items():
            for address in ADDRESSES[name]:
                peer, ports[address] = start_s_server(name, address, options, directory)
                peers.append(peer)
        yield TlsServers(pki, directory, ports)
    finally:
        for peer in peers:
            peer.stop()


def gnutls_once(directory: Path, priorities: dict[str, str], inventory: Path) -> str:
    """What `egov-agent once tls -i inventory` prints next to a gnutls-serv per port of `priorities`
    (port -> GnuTLS priority string), in a network namespace that has only lo; each server stopped
    by its PID."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a network namespace")
    script = "ip link set lo up\nservers=\n"
    for port, priority in priorities.items():
        script += (f"{require('gnutls-serv')} --port {port} --x509certfile leaf.pem --x509keyfile leaf.key "
                   f"--priority '{priority}' >gnutls-serv-{port}.log 2>&1 &\nservers=\"$servers $!\"\n")
    script += "trap 'kill $servers' EXIT\n"
    for port in priorities:
        script += (f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do "
                   "kill -0 $servers || exit 1; sleep 0.05; done\n")
    script += f"cd {ROOT} && {sys.executable} -m agent once tls -i {inventory}\n"
    # bash is PID 1 of a PID namespace of its own: however it ends, the kernel ends the servers with it
    done = subprocess.run([require("unshare"), "--net", "--pid", "--fork", "--kill-child", "bash", "-c", script],
                          cwd=directory, capture_output=True, text=True, timeout=90)
    logs = "".join(path.read_text() for path in directory.glob("gnutls-serv-*.log"))
    assert done.returncode == 0, done.stdout + done.stderr + logs
    return done.stdout
