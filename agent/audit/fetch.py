"""Fetching configurations: network devices over their SSH CLI, Linux hosts over SSH.

Network devices are the inventory hosts with a platform the ssh collector reads (Cisco
IOS/IOS-XE, Huawei VRP) and an `ssh` check: the same login as the collector's
(collectors/ssh_cli.py: credentials from the environment variables the check names, the
host key checked against known_hosts and recorded on first contact, its failure reasons),
then `show running-config` or `display current-configuration`. What comes back must be a
whole configuration: a hostname (sysname) line and the closing `end` (`return`). An error
message, junk, or an answer cut short is a failure, never a backup. Lines that change
without the configuration changing (`Current configuration : N bytes`, the time of the
last change, `ntp clock-period`) are left out, or every backup would be a change.

Linux hosts (platform linux) are reached as Ansible reaches them: ansible_host,
ansible_port, ansible_user (default: who runs the backup), ansible_ssh_private_key_file,
with `sudo -n` when the user is not root. One shell script reads the host's security
configuration in one exec; its output is the backup: sections, each headed
`==> NAME <==` like `tail` heads several files, NAME a path or a command. A file that is
not there is a section holding the one line `(absent)`; a command that fails ends its
section with `(exit N)`.

Each device has `timeout` seconds from login to logout, in a pool of `concurrency`
threads: a hung or refusing device fails alone and holds up nobody else.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shlex
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agent.collector import CollectorError
from agent.inventory import Host, Inventory
from agent import platforms
from collectors._ssh_session import KnownHosts, close, credentials, failure, host_key_entry, is_closed, login

log = logging.getLogger("egov.audit")


# The host's security configuration. Runs as root (through sudo -n otherwise); stderr
# joins stdout so that each error lands in its own section.
_HOST_SCRIPT = r"""exec 2>&1
PATH=/usr/sbin:/usr/bin:/sbin:/bin
files() {
  for f in "$@"; do
    if [ -f "$f" ]; then
      echo "==> $f <=="; cat "$f"; [ -z "$(tail -c 1 "$f")" ] || echo
    elif [ "$f" = "${f#*\*}" ]; then  # a pattern that matched nothing is no missing file
      echo "==> $f <=="; echo "(absent)"
    fi
  done
}
run() { echo "==> $* <=="; "$@" || echo "(exit $?)"; }
files /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf
run sshd -T
files /etc/sudoers /etc/sudoers.d/*
run nft list ruleset
files /etc/systemd/timesyncd.conf /etc/systemd/timesyncd.conf.d/*.conf /etc/chrony/chrony.conf
files /etc/egov-agent/*.yml
"""


class ParseError(Exception):
    pass


def network_config(output: str, platform: str) -> str:
    """The configuration in a device's answer to its platform's show_config command, without
    its volatile lines; ParseError when the answer is not a whole configuration."""
    cli = platforms.get(platform)
    lines = [line.rstrip() for line in output.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    said = [line.strip() for line in lines if line.strip() and line.strip() != "^"]  # ^ marks the bad word
    if not said or said[0].startswith(("%", "Error:")):
        raise ParseError(f"the device answered {cli.show_config!r} with {said[0][:60] if said else 'nothing'!r}")
    if not any(len(words) == 2 and words[0] == cli.hostname for words in map(str.split, lines)):
        raise ParseError(f"the answer to {cli.show_config!r} is not a configuration (no {cli.hostname} line)")
    if not lines or lines[-1] != cli.last_line:
        raise ParseError(f"the answer to {cli.show_config!r} is cut short (no closing {cli.last_line!r})")
    kept = [line for line in lines if not cli.volatile.match(line)]
    while kept and not kept[0]:
        kept.pop(0)
    return "\n".join(kept) + "\n"


def host_config(output: str) -> str:
    """The sections the host script printed; ParseError when it printed something else."""
    text = output.replace("\r\n", "\n")
    if not text.startswith("==> "):
        first = text.strip().split("\n")[0][:80]
        raise ParseError(f"the host answered with {first!r}, not the sections of its configuration")
    return text if text.endswith("\n") else text + "\n"


@dataclass(frozen=True)
class Device:
    """An inventory host to back up: `kind` is network or host (a Linux host)."""

    name: str
    kind: str
    host: Host

    @property
    def platform(self) -> str:
        return self.host.platform

    @property
    def site(self) -> str:
        return self.host.site


def devices(inventory: Inventory, names: list[str]) -> tuple[list[Device], list[str]]:
    """The hosts `names` that have a configuration to back up, and the network devices
    that cannot be backed up: those without an ssh check (the login is the check's)."""
    found, skipped = [], []
    for host in (inventory.hosts[name] for name in names):
        if not host.address:
            continue
        if platforms.get(host.platform):
            if "ssh" in host.checks:
                found.append(Device(host.name, "network", host))
            else:
                skipped.append(host.name)
        elif host.platform == "linux":
            found.append(Device(host.name, "host", host))
    return found, skipped


@dataclass
class Fetcher:
    """Fetches the configuration of devices, `concurrency` at a time, each within `timeout`."""

    known_hosts: Path  # for Linux hosts, and network devices whose ssh check names none
    timeout: float = 60.0
    concurrency: int = 20
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def connect_timeout(self) -> float:
        """TCP connect, SSH banner, authentication: each."""
        return min(10.0, self.timeout / 3)

    def fetch_all(self, devices: list[Device]) -> dict[str, str | CollectorError]:
        """Each device's configuration, or the reason it could not be fetched."""
        # paramiko's transport thread logs a traceback for each failed handshake; each
        # failure is reported once, with its reason
        logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
        return asyncio.run(self._fetch_all(devices))

    async def _fetch_all(self, devices: list[Device]) -> dict[str, str | CollectorError]:
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(self.concurrency)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="backup")

        async def one(device: Device) -> str | CollectorError:
            async with limit:
                try:
                    return await asyncio.wait_for(loop.run_in_executor(pool, self.fetch, device), self.timeout)
                except asyncio.TimeoutError:
                    return CollectorError("timeout", f"no whole configuration within {self.timeout:g}s")
                except CollectorError as err:
                    return err
                except Exception as err:  # a bug with one device must not lose the others
                    log.debug("fetch raised", exc_info=True, extra={"target": device.name})
                    return CollectorError("error", type(err).__name__)

        try:
            results = await asyncio.gather(*(one(device) for device in devices))
        finally:
            # a session past its timeout ends on its own timeouts; nobody waits for it
            pool.shutdown(wait=False, cancel_futures=True)
        return {device.name: result for device, result in zip(devices, results)}

    def fetch(self, device: Device) -> str:
        """One device's configuration, in a worker thread; CollectorError when it cannot."""
        deadline = time.monotonic() + self.timeout
        try:
            if device.kind == "network":
                return network_config(self._network(device.host, deadline), device.platform)
            return host_config(self._linux(device.host, deadline))
        except ParseError as err:
            raise CollectorError("parse", str(err)) from None

    def _network(self, host: Host, deadline: float) -> str:
        check, show = host.check("ssh"), platforms.get(host.platform).show_config
        known_hosts = Path(check.known_hosts or self.known_hosts)
        connection = login(host.name, host.platform, host.address, check.port, credentials(check, self.environ),
                           known_hosts, self.connect_timeout, log)
        try:
            return connection.send_command(show, read_timeout=max(1.0, deadline - time.monotonic()))
        except Exception as err:
            raise failure(err, host.name, f"{host.address}:{check.port}", repr(show), known_hosts,
                          is_closed(connection)) from None
        finally:
            close(connection)

    def _linux(self, host: Host, deadline: float) -> str:
        import paramiko

        port = int(_plain(host, "ansible_port") or 22)
        user = _plain(host, "ansible_user") or getpass.getuser()
        key_file = _plain(host, "ansible_ssh_private_key_file") or _plain(host, "ansible_private_key_file")
        where, connect = f"{host.address}:{port}", self.connect_timeout
        known_hosts = KnownHosts(self.known_hosts, log)
        client = paramiko.SSHClient()
        try:
            known_hosts.ensure(host.name, host.address, port, connect)
            entry = host_key_entry(where)
            for kind, key in known_hosts.known(entry).items():
                client.get_host_keys().add(entry, kind, key)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(host.address, port, user, key_filename=key_file, look_for_keys=key_file is None,
                           allow_agent=False, timeout=connect, banner_timeout=connect, auth_timeout=connect)
        except Exception as err:
            client.close()
            raise failure(err, host.name, where, "logging in", self.known_hosts) from None
        command = "sh -c " + shlex.quote(_HOST_SCRIPT)
        if user != "root":
            command = "sudo -n " + command
        try:
            _, stdout, stderr = client.exec_command(command, timeout=max(1.0, deadline - time.monotonic()))
            output, errors = stdout.read(), stderr.read()
            status = stdout.channel.recv_exit_status()
        except Exception as err:
            raise failure(err, host.name, where, "reading the configuration", self.known_hosts) from None
        finally:
            client.close()
        if status != 0:
            said = errors.decode(errors="replace").strip().split("\n")[0][:120]
            raise CollectorError("auth" if said.startswith("sudo:") else "parse",
                                 f"{user}@{where}: exit {status}: {said}")
        return output.decode(errors="replace")


def _plain(host: Host, name: str) -> str | None:
    """A connection variable; a vaulted or templated one cannot be used without Ansible."""
    value = host.vars.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or "{{" in str(value):
        raise CollectorError("config", f"{name} is vaulted or a template: egov-agent reads it only as plain text")
    return str(value)
