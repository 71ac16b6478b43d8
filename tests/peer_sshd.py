"""Disposable Ansible targets: a real sshd on 127.x:PORT over a throw-away copy of this machine.

Each target runs in its own mount and PID namespace (`unshare --mount --pid --fork`),
chrooted into a copy-on-write overlay of `/` whose upper layer is a tmpfs: everything a
playbook writes or installs lands in that tmpfs and vanishes with the process. /proc is
the namespace's own, /sys and /dev are bind mounts, /run and /tmp are fresh. sshd is
PID 1 of the namespace, so stopping it (by the PID we started) also kills whatever a
playbook started inside (the agent), and the kernel drops the mounts.

sshd runs from its own config: `StrictModes no` (the overlay's ownership is the host's),
`UsePAM no` (no PAM stack without a login session manager), key auth only, root's key
from a key pair generated per session. The target's own /etc/ssh is left to playbooks.
Reading a file the playbook wrote: `target.path("/etc/...")` (through /proc/PID/root).

Below the rig: inventories whose hosts are targets (commune offices, or overrides for the
example inventory) and `provision_run`, which runs `egov-agent provision` on them and
reads back its summary. The NTP and log servers named there are loopback addresses and
never contacted: the targets start no service.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from agent import provision
from tests.peers import Peer, free_port, require

# Runs as PID 1 of the new namespaces: build the overlay, then become sshd.
_ENTER = r"""
set -eu
work=$1 rig=$2
mount -t tmpfs -o mode=0755 egov-target "$work"
mkdir "$work/upper" "$work/work" "$work/root"
mount -t overlay egov-target -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$work/root"
root=$work/root
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/run/sshd" "$root/run/egov-rig" "$root/root/.ssh"
cp "$rig/sshd_config" "$rig/host_key" "$root/run/egov-rig/"
cp "$rig/authorized_keys" "$root/root/.ssh/authorized_keys"
exec chroot "$root" /usr/sbin/sshd -D -e -f /run/egov-rig/sshd_config
"""

_SSHD_CONFIG = """\
ListenAddress {address}:{port}
HostKey /run/egov-rig/host_key
PidFile none
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""


@dataclass
class SshKey:
    private: Path

    @property
    def public(self) -> str:
        return Path(f"{self.private}.pub").read_text().strip()


def make_key(directory: Path, name: str) -> SshKey:
    private = directory / name
    subprocess.run([require("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(private)],
                   check=True)
    return SshKey(private)


class Target(Peer):
    """One disposable host: sshd on address:port; files it holds are read through `path()`."""

    def __init__(self, address: str, directory: Path, root_key: SshKey):
        self.address, self.port = address, free_port(address)
        rig = directory / "rig"
        rig.mkdir(parents=True)
        (directory / "overlay").mkdir()
        (rig / "sshd_config").write_text(_SSHD_CONFIG.format(address=address, port=self.port))
        (rig / "authorized_keys").write_text(root_key.public + "\n")
        subprocess.run([require("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(rig / "host_key")],
                       check=True)
        # If the test process dies without stopping us, unshare gets SIGKILL (setpriv's
        # parent-death signal) and takes the namespace with it (--kill-child).
        super().__init__([require("setpriv"), "--pdeathsig", "KILL",
                          require("unshare"), "--mount", "--pid", "--fork", "--kill-child",
                          "sh", "-c", _ENTER, "egov-target", str(directory / "overlay"), str(rig)],
                         directory / "target.log")
        self._wait_ssh()

    def _wait_ssh(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"target {self.address} exited with {self.process.returncode}: {self.output()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1.0) as sock:
                    if sock.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"sshd on {self.address}:{self.port} not ready: {self.output()}")

    @property
    def namespace_pid(self) -> int:
        """sshd, PID 1 of the target's namespaces: its /proc/PID/root is the target's /."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return int(children[0])

    def path(self, absolute: str) -> Path:
        return Path(f"/proc/{self.namespace_pid}/root") / absolute.lstrip("/")

    def ssh(self, key: SshKey, command: str, user: str = "root") -> str:
        """`command` run on the target over ssh; its output (a failure fails, with its stderr)."""
        result = subprocess.run(
            [require("ssh"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", "-i", str(key.private), "-p", str(self.port), f"{user}@{self.address}", command],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stop(self, timeout: float = 10.0) -> int:
        # unshare ignores SIGTERM while it waits for its child: end the namespace's PID 1
        # (sshd, a child of the unshare we started), which takes every process inside along.
        if self.process.poll() is None:
            os.kill(self.namespace_pid, signal.SIGTERM)
        return super().stop(timeout)


class TargetFactory:
    """Starts targets on 127.<network>.x.y, a fresh address each; stops them all by PID."""

    def __init__(self, directory: Path, network: int = 77):
        for tool in ("setpriv", "unshare", "chroot", "ssh", "ssh-keygen"):
            require(tool)
        if not Path("/usr/sbin/sshd").exists():
            raise RuntimeError("/usr/sbin/sshd is missing: install openssh-server (scripts/setup.sh test)")
        self.directory, self.network = directory, network
        self.root_key = make_key(directory, "root_key")
        self.targets: list[Target] = []  # running
        self.started = 0

    def start(self, address: str | None = None) -> Target:
        self.started += 1
        n = self.started
        address = address or f"127.{self.network}.{n // 250}.{n % 250 + 1}"
        target = Target(address, self.directory / f"target-{n}", self.root_key)
        self.targets.append(target)
        return target

    def start_many(self, count: int) -> list[Target]:
        return [self.start() for _ in range(count)]

    def stop(self, target: Target) -> None:
        target.stop()
        self.targets.remove(target)

    def stop_all(self) -> None:
        for target in list(self.targets):
            self.stop(target)


# What the province would set in group_vars/all.yml, with loopback addresses.
PROVINCE_VARS = {
    "host_baseline_ntp_servers": ["127.10.1.123"],
    "host_baseline_log_server": "127.10.1.51",
    "host_baseline_mgmt_networks": ["127.10.0.0/16"],
    # the targets have every package already (scripts/setup.sh installs them on this
    # machine, the targets are copies of it): never refresh apt's lists from a mirror
    "host_baseline_apt_cache_valid_time": 0,
}

# host keys of throw-away targets are neither checked nor remembered
ENV = {"ANSIBLE_HOST_KEY_CHECKING": "False"}


def require_baseline_packages() -> None:
    """Targets are copies of this machine: the role's packages must be installed here, or
    apt on a target would fetch them from a mirror (test traffic stays on loopback)."""
    defaults = Path(__file__).resolve().parent.parent / "playbooks/roles/host_baseline/defaults/main.yml"
    wanted = yaml.safe_load(defaults.read_text())["host_baseline_packages"]
    listed = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *wanted],
                            capture_output=True, text=True).stdout.split("\n")
    missing = sorted(set(wanted) - {line.split()[0] for line in listed if line.endswith(" installed")})
    if missing:
        raise RuntimeError(f"install {' '.join(missing)} on this machine (scripts/setup.sh test): "
                           "the targets are copies of it and must not download packages")


def connection(target: Target | None, key: SshKey, address: str | None = None, port: int | None = None) -> dict:
    return {"ansible_host": target.address if target else address,
            "ansible_port": target.port if target else port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key.private),
            "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"}


def office_inventory(path: Path, offices: dict[str, dict[str, dict]], admin_key: SshKey,
                     gear: dict[str, dict[str, dict[str, dict]]] | None = None, **variables) -> Path:
    """An inventory file of commune offices, {site: {linux host: connection vars}}, each with
    its network gear and a monitoring server elsewhere. `gear` gives a site's devices by role
    group, {site: {"routers" or "switches": {device: host vars}}}; by default a site has a
    router the host baseline leaves alone (no ssh check). `variables` join the province's."""
    communes, linux, roles = {}, {}, {"routers": {}, "switches": {}}
    for n, (site, hosts) in enumerate(offices.items(), start=1):
        site_gear = (gear or {}).get(site) or {"routers": {f"{site}-rtr": {
            "ansible_host": f"127.79.{n // 250}.{n % 250}", "egov_platform": "cisco_ios"}}}
        devices = {name: host_vars for group in site_gear.values() for name, host_vars in group.items()}
        communes[site] = {"vars": {"egov_site_type": "commune"}, "hosts": {**hosts, **devices}}
        linux.update(dict.fromkeys(hosts))
        for group, members in site_gear.items():
            roles[group].update(dict.fromkeys(members))
    inventory = {
        "all": {"vars": {**PROVINCE_VARS, "host_baseline_admin_users": admin_users(admin_key), **variables}},
        "tinh_thu": {"vars": {"egov_site_type": "province"}, "children": {
            "dc": {"vars": {"egov_site_type": "datacenter"},
                   "hosts": {"giamsat-01": {"ansible_host": "127.10.3.50"}}},
            "communes": {"children": communes}}},
        **{group: {"vars": {"egov_role": role}, "hosts": roles[group]}
           for group, role in (("routers", "router"), ("switches", "switch")) if roles[group]},
        "one_stop_pcs": {"vars": {"egov_role": "one_stop_pc", "egov_platform": "linux"}, "hosts": linux},
        "monitoring_servers": {"vars": {"egov_role": "monitoring_server", "egov_platform": "linux"},
                               "hosts": {"giamsat-01": None}},
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


@dataclass
class Run:
    rc: int
    output: str
    hosts: dict[str, dict[str, int]]  # host -> ok, changed, failed, unreachable (the printed summary)


def parse_summary(output: str) -> dict[str, dict[str, int]]:
    """The per-host table `egov-agent provision` prints last."""
    hosts, table = {}, False
    for line in output.splitlines():
        if line.startswith("host ") and "unreachable" in line:
            table = True
        elif table and line and not line.startswith(" "):
            name, ok, changed, failed, unreachable = line.split()
            hosts[name] = {"ok": int(ok), "changed": int(changed), "failed": int(failed),
                           "unreachable": int(unreachable)}
    return hosts


def provision_run(site: str, inventory, **options) -> Run:
    out = io.StringIO()
    rc = provision.run(site, inventory, envvars=ENV, out=out, **options)
    output = out.getvalue()
    return Run(rc, output, parse_summary(output))


def admin_users(admin_key: SshKey) -> list[dict]:
    return [{"name": "egov-ops", "ssh_keys": [admin_key.public]}]


def override_inventory(path: Path, hosts: dict[str, dict], admin_key: SshKey, **variables) -> Path:
    """A second inventory source that points hosts of another inventory (the example) at
    targets; listed after it, its host variables win."""
    path.write_text(yaml.safe_dump({"all": {
        "vars": {**PROVINCE_VARS, "host_baseline_admin_users": admin_users(admin_key), **variables},
        "hosts": hosts}}, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def ssh_targets(tmp_path_factory):
    """The factory; every target still running at the end of the session is stopped by PID."""
    factory = TargetFactory(tmp_path_factory.mktemp("ssh_targets"))
    yield factory
    factory.stop_all()
