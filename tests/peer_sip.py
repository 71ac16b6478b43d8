"""Real SIP peers: one kamailio process gives a healthy, a degraded and a silent endpoint.

kamailio listens (udp and tcp) on loopback addresses 127.50.60.N, one per simulated endpoint, and
answers OPTIONS by the last digit of the address a request came in on: 1 healthy (100 Trying,
then 200 OK), 2 degraded (503 Service Unavailable), 3 silent (drops it).
Debian's kamailio has no TLS without the kamailio-tls-modules package, so TLS is Python's ssl
terminating in front of kamailio's tcp listener: the SIP answers over TLS are still kamailio's.

Import the fixture into a test module (`from tests.peer_sip import kamailio`); the peer is
started once per session however many modules import it, and stopped by its PID.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import Peer, free_port, require

ADDRESSES = [f"127.50.60.{n}" for n in (1, 2, 3, 11, 12, 13, 21, 22, 31)]
TLS_FRONTED = "127.50.60.21"  # healthy
# a long Server header with a tab and quotes: what the probe must cut and clean into one label value
SERVER = 'egov test peer (kamailio 5.6) \\"meeting\\troom\\" with a deliberately long product string to cut'

CONFIG = """\
#!KAMAILIO
log_stderror=yes
debug=2
dns=no
rev_dns=no
auto_aliases=no
children=1
tcp_children=1
server_header="Server: {server}"
{listen}
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    xlog("L_INFO", "$rm from $si:$sp to $Ri:$Rp over $pr\\n");
    if ($Ri =~ "3$") {{ drop; }}
    if ($Ri =~ "2$") {{ sl_send_reply("503", "Service Unavailable"); exit; }}
    if (!is_method("OPTIONS")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    sl_send_reply("100", "Trying");
    sl_send_reply("200", "OK");
}}
"""


@dataclass
class Kamailio:
    ports: dict[str, int]  # endpoint address -> SIP port (udp and tcp)
    tls_port: int  # TLS in front of the healthy endpoint TLS_FRONTED, on its address
    peer: Peer


class TlsFront:
    """A TLS listener relaying each connection to a TCP one: TLS for a peer that has none."""

    def __init__(self, address: str, port: int, upstream: tuple[str, int], cert: Path, key: Path):
        self.address, self.port, self.upstream = address, port, upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="sip-tls-front", daemon=True)
        self.thread.start()
        if not self.ready.wait(5):
            raise RuntimeError("the TLS front did not start")

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._relay, self.address, self.port, ssl=self.context))
        self.ready.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()

    async def _relay(self, client_reader, client_writer):
        reader, writer = await asyncio.open_connection(*self.upstream)

        async def pipe(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "sip.crt", directory / "sip.key"
    subprocess.run([require("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=vc-endpoint.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def wait_sip(address: str, port: int, peer: Peer, timeout: float = 10.0) -> None:
    """Until kamailio answers a TCP connect on the address (its SIP workers are up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"kamailio exited with {peer.process.returncode}: {peer.output()}")
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"kamailio not listening on {address}:{port}: {peer.output()}")


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory):
    """kamailio on every address of ADDRESSES, and a TLS front for TLS_FRONTED."""
    directory = tmp_path_factory.mktemp("kamailio")
    ports = {address: free_port(address) for address in ADDRESSES}
    listen = "\n".join(f"listen={proto}:{address}:{port}"
                       for address, port in ports.items() for proto in ("udp", "tcp"))
    config = directory / "kamailio.cfg"
    config.write_text(CONFIG.format(server=SERVER, listen=listen))
    binary = require("kamailio")
    check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"kamailio rejects its config: {check.stderr[-2000:]}")
    peer = Peer([binary, "-f", str(config), "-DD", "-E", "-m", "32", "-M", "8"], directory / "kamailio.log")
    front = None
    try:
        for address, port in ports.items():
            wait_sip(address, port, peer)
        front = TlsFront(TLS_FRONTED, free_port(TLS_FRONTED), (TLS_FRONTED, ports[TLS_FRONTED]),
                         *self_signed(directory))
        yield Kamailio(ports, front.port, peer)
    finally:
        if front is not None:
            front.stop()
        peer.stop()
