"""One SSH session layer for network devices: the ssh collector, the audit backup,
onboarding and the provisioning module (egov_net_config) all log in here.

- Credentials come from the environment variables a check names (`password_env`,
  `secret_env`) or a key file; they never appear in a metric, a log line or an error text.
- Host keys are checked against one known_hosts file the operator controls (the check's
  `known_hosts`, else DEFAULT_KNOWN_HOSTS). A device seen for the first time has its key
  recorded there (trust on first use, logged with its fingerprint); a key that differs
  from the recorded one is refused, naming the device and both fingerprints. Nothing is
  accepted silently.
- Library exceptions become one of the fixed reasons (timeout, auth, connect, tls, config,
  error) with a detail in our own words: netmiko's and paramiko's messages can carry the
  device settings.
- What each platform is (netmiko class, how to log out) comes from agent/platforms.py.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

from agent import platforms
from agent.collector import CollectorError

DEFAULT_KNOWN_HOSTS = "/var/lib/egov-agent/ssh_known_hosts"


def credentials(check, environ: Mapping[str, str]) -> dict:
    """netmiko's keyword arguments for logging in as the ssh check says, the secrets from the
    environment variables it names; a missing one is a config failure."""
    def secret(variable: str | None, field: str) -> str:
        if not variable:
            return ""
        value = environ.get(variable)
        if not value:
            raise CollectorError("config", f"environment variable {variable} ({field}) is not set")
        return value

    if not check.username:
        raise CollectorError("config", "the ssh check sets no username")
    if not check.password_env and not check.key_file:
        raise CollectorError("config", "the ssh check sets neither password_env nor key_file")
    found = {"username": check.username, "password": secret(check.password_env, "password_env"),
             "secret": secret(check.secret_env, "secret_env")}
    if check.key_file:
        if not os.access(check.key_file, os.R_OK):
            raise CollectorError("config", f"key_file {check.key_file} cannot be read")
        found.update(use_keys=True, key_file=check.key_file)
    return found


def login(device: str, platform: str, address: str, port: int, logins: dict, known_hosts: Path,
          timeout: float, log: logging.Logger):
    """A session on `device` (a `session_class`): its host key checked against known_hosts,
    recorded on first contact; logged in with `logins` (credentials()); enabled when there is
    a secret. CollectorError with the reason when not. `timeout`: TCP connect, SSH banner and
    authentication, each. The caller closes it (close())."""
    where = f"{address}:{port}"
    try:
        KnownHosts(known_hosts, log).ensure(device, address, port, timeout)
        connection = session_class(platform)(
            device_type=platform, host=address, port=port, **logins,
            allow_agent=False, ssh_strict=True, alt_key_file=str(known_hosts),
            conn_timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    except Exception as err:
        raise failure(err, device, where, "logging in", known_hosts) from None
    try:
        if logins["secret"] and not connection.check_enable_mode():
            connection.enable()
    except Exception as err:
        close(connection)
        raise failure(err, device, where, "'enable'", known_hosts, is_closed(connection)) from None
    return connection


def is_closed(connection) -> bool:
    """Whether the device has closed the session."""
    return connection.remote_conn is None or connection.remote_conn.closed


def close(connection) -> None:
    """Log out of a session; one the device already closed is no error."""
    try:
        connection.disconnect()
    except Exception:
        pass


@functools.cache
def session_class(device_type: str) -> type:
    """netmiko's class for the platform, with two changes. Host keys: paramiko is given the
    recorded keys of this one device from the parsed known_hosts (netmiko's alt_key_file
    would have it read and parse the whole file again for every session: 200 devices of 200
    lines each cycle), and refuses a device not in it. Logging out: straight away, without
    netmiko's check for configuration mode, which every session has left by then and which
    on Huawei waits 2 s for silence."""
    import paramiko
    from netmiko import ssh_dispatcher

    def _build_ssh_client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        entry = host_key_entry(f"{self.host}:{self.port}")
        for kind, key in KnownHosts(Path(self.alt_key_file)).known(entry).items():
            client.get_host_keys().add(entry, kind, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return client

    def cleanup(self, command: str = "") -> None:
        self.write_channel(logout + self.RETURN)

    logout = platforms.get(device_type).logout

    base = ssh_dispatcher(device_type)
    return type(f"Egov{base.__name__}", (base,), {"_build_ssh_client": _build_ssh_client, "cleanup": cleanup})


def failure(err: Exception, target: str, where: str, doing: str, known_hosts: Path,
            closed: bool = False) -> CollectorError:
    """A netmiko/paramiko exception as one of the fixed reasons, with a detail of our own
    words: the library's messages can carry the device settings and are long."""
    import paramiko
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

    if isinstance(err, CollectorError):
        return err
    cause = err.__context__ if isinstance(err, NetmikoTimeoutException) else err
    if isinstance(cause, paramiko.BadHostKeyException):
        return CollectorError("tls", f"{target} ({where}) presents host key {cause.key.fingerprint}, but "
                                     f"{known_hosts} holds {cause.expected_key.fingerprint} for it: refused. If the "
                                     f"device was replaced, remove the old key "
                                     f"(ssh-keygen -R '{host_key_entry(where)}' -f {known_hosts})")
    if isinstance(cause, paramiko.SSHException) and "not found in known_hosts" in str(cause):
        return CollectorError("tls", f"{target} ({where}) has no recorded host key in {known_hosts}: refused")
    if isinstance(err, NetmikoAuthenticationException) or isinstance(cause, paramiko.AuthenticationException):
        return CollectorError("auth", f"{where} refused the login")
    if isinstance(cause, paramiko.ssh_exception.NoValidConnectionsError):
        codes = {e.errno for e in cause.errors.values()}
        return CollectorError("connect", "connection refused" if codes == {errno.ECONNREFUSED}
                              else f"cannot connect to {where}")
    if isinstance(cause, ConnectionRefusedError):
        return CollectorError("connect", "connection refused")
    if closed or isinstance(err, (EOFError, ConnectionError)):
        return CollectorError("connect", f"the device closed the connection while {doing}")
    if isinstance(err, (NetmikoTimeoutException, ReadTimeout, socket.timeout, paramiko.SSHException)):
        return CollectorError("timeout", f"no complete answer while {doing}")
    if isinstance(err, OSError):
        return CollectorError("connect", f"{err.strerror or type(err).__name__} while {doing}")
    return CollectorError("error", f"{type(err).__name__} while {doing}")


def host_key_entry(where: str) -> str:
    """known_hosts' name for an address:port ('[addr]:port' unless the port is 22)."""
    address, _, port = where.rpartition(":")
    return address if port == "22" else f"[{address}]:{port}"


class KnownHosts:
    """The operator's known_hosts file, parsed once and again only when it changes. A device
    seen for the first time has its key recorded there (and logged); for a known device
    paramiko compares what it presents with what is recorded, and refuses a changed key."""

    _lock = threading.Lock()  # one reader or writer at a time, across all sessions of this process
    _parsed: dict[Path, tuple[tuple[int, int], object]] = {}  # path -> ((mtime_ns, size), paramiko HostKeys)

    def __init__(self, path: Path, log: logging.Logger | None = None):
        self.path, self.log = path, log

    def known(self, entry: str) -> dict:
        """The recorded keys of `entry` ('[address]:port'), by key type; empty if none."""
        with self._lock:
            return dict(self._keys().lookup(entry) or {})

    def _keys(self):
        import paramiko

        try:
            stat = self.path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            version = (0, 0)
        cached = self._parsed.get(self.path)
        if cached is None or cached[0] != version:
            keys = paramiko.HostKeys()
            if version != (0, 0):
                keys.load(str(self.path))
            self._parsed[self.path] = cached = (version, keys)
        return cached[1]

    def ensure(self, device: str, address: str, port: int, timeout: float) -> None:
        entry = host_key_entry(f"{address}:{port}")
        if self.known(entry):
            return
        key = fetch_host_key(address, port, timeout)
        with self._lock:
            keys = self._keys()
            if keys.lookup(entry):  # another session recorded it meanwhile
                return
            if not self.path.parent.is_dir():
                raise CollectorError("config", f"known_hosts {self.path}: directory {self.path.parent} does not exist")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as f:
                f.write(f"{entry} {key.get_name()} {key.get_base64()}\n")
            keys.add(entry, key.get_name(), key)
            stat = self.path.stat()
            self._parsed[self.path] = ((stat.st_mtime_ns, stat.st_size), keys)
        self.log.warning("recorded the SSH host key of a device seen for the first time",
                         extra={"target": device, "address": entry, "fingerprint": key.fingerprint,
                                "known_hosts": str(self.path)})


def fetch_host_key(address: str, port: int, timeout: float):
    """The host key a device presents, from a key exchange without logging in."""
    import paramiko

    sock = socket.create_connection((address, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()
