"""Real peers as test fixtures: start a server on a free loopback port, stop it by its PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5.0, headers: dict | None = None, method: str = "GET",
             context=None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Peer:
    """A process we started; `stop()` ends exactly that PID (never by name)."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None, cwd: str | None = None):
        self.argv, self.log_path = argv, log
        self._log = open(log, "wb")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})}, cwd=cwd,
                                        start_new_session=True)
        self.pid = self.process.pid

    def wait_http(self, url: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.process.returncode}: {self.output()}")
            try:
                status, _, _ = http_get(url, timeout=1.0)
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.argv[0]} not ready at {url} after {timeout}s: {self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


def require(binary: str) -> str:
    """The path of a peer binary; tests/setup.sh installs them all, so a missing one is an error."""
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} is not installed: run tests/setup.sh (the README's test command does)")
    return path


def _started(peer: Peer, url: str, ready: str) -> Peer:
    peer.url = url
    try:
        peer.wait_http(url + ready)
    except BaseException:
        peer.stop()
        raise
    return peer


def start_prometheus(config: Path, directory: Path, *flags: str) -> Peer:
    """A real Prometheus on `config` (and `flags`), its data and log in `directory`; `.url` once ready."""
    port = free_port()
    peer = Peer([require("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", *flags], directory / "prometheus.log")
    return _started(peer, f"http://127.0.0.1:{port}", "/-/ready")


def start_alertmanager(config: Path, directory: Path) -> Peer:
    """A real Alertmanager on `config`; no cluster port (it would open 0.0.0.0:9094)."""
    port = free_port()
    peer = Peer([require("prometheus-alertmanager"), f"--config.file={config}",
                 f"--storage.path={directory / 'alertmanager-data'}", f"--web.listen-address=127.0.0.1:{port}",
                 "--cluster.listen-address="], directory / "alertmanager.log")
    return _started(peer, f"http://127.0.0.1:{port}", "/-/ready")


def query(url: str, expression: str) -> list[dict]:
    """An instant query through Prometheus's HTTP API."""
    import json
    import urllib.parse

    status, _, body = http_get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expression})}")
    answer = json.loads(body)
    if status != 200 or answer.get("status") != "success":
        raise AssertionError(f"query {expression!r} failed: {body[:300]!r}")
    return answer["data"]["result"]
