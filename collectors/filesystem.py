"""Space and inodes of mounted filesystems, as node_exporter's filesystem collector exports them.

statvfs() on a dead NFS server blocks for good, so the calls run in a kept daemon thread (and
another for the mounts behind a call that does not return) and the collector waits at most
`mount_timeout` for all of them. A mount point whose call
has not returned is reported with node_filesystem_device_error 1 and is not statted again
until that call returns (node_exporter's stuckMounts): one hung thread per mount at most.

Read-only is normal for many mounts (squashfs, images, bind mounts made read-only on
purpose; node-mixin's filesystem alerts leave them out), so it alone is no problem. What is:
a filesystem that became read-only while the agent watched (ext4's `errors=remount-ro`
after an I/O error), or one mounted read-only that the host's fstab mounts read-write (the
same, when the agent started after the remount).
"""

from __future__ import annotations

import collections
import functools
import os
import queue
import re
import threading
import time
from dataclasses import dataclass

import psutil

from agent.checks import Check, State, below, worst
from agent.collector import Collector, CollectorSettings, register
from agent.metrics import GaugeMetricFamily
from agent.schema import Duration, Ratio, Regex
from collectors._proc import matches, with_samples

# node_exporter 1.5's defaults (Debian's package patches the mount point one to also drop /run, /mnt, /media)
MOUNT_POINTS_EXCLUDE = r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
FS_TYPES_EXCLUDE = (r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660"
                    r"|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$")

_PATIENCE = 0.1  # seconds without a statvfs returning before the mounts still waiting get a new thread
_LABELS = ["device", "fstype", "mountpoint"]
_HELP = {
    "device_error": "Whether an error occurred while getting statistics for the given device.",
    "size_bytes": "Filesystem size in bytes.",
    "free_bytes": "Filesystem free space in bytes.",
    "avail_bytes": "Filesystem space available to non-root users in bytes.",
    "files": "Filesystem total file nodes.",
    "files_free": "Filesystem total free file nodes.",
    "readonly": "Filesystem read-only status.",
}


@dataclass
class FilesystemSettings(CollectorSettings):
    # mount points and filesystem types not reported (regexes searched in the path / type)
    mount_points_exclude: Regex | None = MOUNT_POINTS_EXCLUDE
    fs_types_exclude: Regex | None = FS_TYPES_EXCLUDE
    # a mount whose statvfs takes longer (a dead NFS server) is reported with
    # node_filesystem_device_error 1 until the call returns; less than `timeout`
    mount_timeout: Duration = 5.0
    # share of space available to users / of inodes free at or below which the check warns / goes critical
    avail_warning: Ratio | None = 0.10
    avail_critical: Ratio | None = 0.05
    files_free_warning: Ratio | None = 0.10
    files_free_critical: Ratio | None = 0.05

    def problems(self):
        yield from super().problems()
        if not 0 < self.mount_timeout < self.timeout:
            yield "mount_timeout", f"must be more than 0 and less than the timeout ({self.timeout:g}s)"


@register
class FilesystemCollector(Collector):
    name = "filesystem"
    help = "Size, free space and inodes of mounted filesystems (node_filesystem_*)"
    Settings = FilesystemSettings
    SAMPLE_NOTE = """\
# One check per mount point, the worst of: space available to users and free inodes
# (maildirs run out of inodes before space) at or below these shares; critical when it
# became read-only while the agent watched, or is read-only where /etc/fstab mounts it
# read-write (ext4 remounts read-only on errors); statvfs failed or hung: critical.
"""

    def __init__(self, settings=None, context=None, disk_partitions=psutil.disk_partitions, statvfs=os.statvfs,
                 fstab="/etc/fstab"):
        super().__init__(settings, context)
        self._disk_partitions, self._statvfs, self._fstab = disk_partitions, statvfs, fstab
        self._lock = threading.Lock()
        self._walks: queue.SimpleQueue = queue.SimpleQueue()  # for the kept statvfs thread, started at the first run
        self._walker: threading.Thread | None = None
        self._walker_busy = False  # handed a run's walk it has not finished
        self._in_flight: set[str] = set()  # mount points whose statvfs call has not returned yet
        self._seen_writable: set[tuple[str, str, str]] = set()  # mounts seen read-write since the agent started

    def collect(self):
        partitions = self._partitions()
        self._seen_writable.intersection_update(partitions)  # mounts that are gone: forgotten, not kept forever
        stats = self._statvfs_all({partition.mountpoint for partition in partitions.values()})
        families = {name: GaugeMetricFamily(f"node_filesystem_{name}", documentation, labels=_LABELS)
                    for name, documentation in _HELP.items()}
        for labels, partition in partitions.items():
            st = stats[partition.mountpoint]
            families["device_error"].add_metric(labels, 1 if st is None else 0)
            if st is None:
                continue
            families["size_bytes"].add_metric(labels, st.f_blocks * st.f_frsize)
            families["free_bytes"].add_metric(labels, st.f_bfree * st.f_frsize)
            families["avail_bytes"].add_metric(labels, st.f_bavail * st.f_frsize)
            families["files"].add_metric(labels, st.f_files)
            families["files_free"].add_metric(labels, st.f_ffree)
            readonly = "ro" in partition.opts.split(",")
            families["readonly"].add_metric(labels, 1 if readonly else 0)
            if not readonly:
                self._seen_writable.add(labels)
        return with_samples(families.values())

    def _partitions(self) -> dict[tuple[str, str, str], object]:
        """The mounts to report, once per (device, fstype, mountpoint) as a mount can be listed twice."""
        s = self.settings
        partitions = {}
        for partition in self._disk_partitions(all=True):
            if not (matches(s.mount_points_exclude, partition.mountpoint)
                    or matches(s.fs_types_exclude, partition.fstype)):
                partitions.setdefault((partition.device, partition.fstype, partition.mountpoint), partition)
        return partitions

    def _statvfs_all(self, mountpoints: set[str]) -> dict[str, os.statvfs_result | None]:
        """statvfs of each mount point within one mount_timeout; None if it failed or hangs.

        A kept thread calls them in turn (a thread started per mount cost 0.14 ms of CPU each, more
        than the calls); while no call has returned for `_PATIENCE`, a new thread takes the mounts
        still waiting, so a hung mount holds the others up by that much at most.
        """
        progress = threading.Condition(self._lock)
        results: dict[str, os.statvfs_result | None] = {}
        with progress:
            waiting = collections.deque(sorted(mountpoints - self._in_flight))
            kept, self._walker_busy = not self._walker_busy, True  # the kept thread may be hung on a mount
        for mountpoint in sorted(mountpoints - set(waiting)):
            self.log.debug("statvfs(%s) still has not returned; not calling it again", mountpoint)
        walk = functools.partial(self._walk, waiting, results, progress)
        if self._walker is None:
            self._walker = threading.Thread(target=self._serve_walks, name="statvfs", daemon=True)
            self._walker.start()
        if kept:
            self._walks.put(walk)
        deadline = time.monotonic() + self.settings.mount_timeout
        asked, stalled = set(waiting), not kept
        with progress:
            while len(results) < len(asked) and (remaining := deadline - time.monotonic()) > 0:
                if stalled and waiting:
                    threading.Thread(target=walk, name="statvfs", daemon=True).start()
                done = len(results)
                stalled = not progress.wait_for(lambda: len(results) > done, min(_PATIENCE, remaining))
            waiting.clear()  # a walker whose call comes back after the deadline takes no more
            answered = dict(results)
        for mountpoint in sorted(asked - set(answered)):
            self.log.warning("statvfs(%s) did not return within %gs; reporting device_error until it does",
                             mountpoint, self.settings.mount_timeout)
        return {mountpoint: answered.get(mountpoint) for mountpoint in mountpoints}

    def _serve_walks(self) -> None:
        """The kept thread: one run's walk after the other, until close()."""
        for walk in iter(self._walks.get, None):
            walk()
            with self._lock:
                self._walker_busy = False

    def _walk(self, waiting: collections.deque, results: dict, progress: threading.Condition) -> None:
        """statvfs of the mount points waiting, one by one, until none is left."""
        while True:
            with progress:
                if not waiting:
                    return
                mountpoint = waiting.popleft()
                self._in_flight.add(mountpoint)
            result = None
            try:
                result = self._statvfs(mountpoint)
            except OSError as err:
                self.log.debug("statvfs(%s): %s", mountpoint, err)
            finally:
                with progress:
                    self._in_flight.discard(mountpoint)
                    results[mountpoint] = result
                    progress.notify()

    def close(self) -> None:
        self._walks.put(None)  # the kept thread ends (once its call returns, if it is hung)

    def checks(self, metrics):
        s = self.settings
        values = {name: {tuple(sample.labels[label] for label in _LABELS): sample.value
                         for sample in metrics[f"node_filesystem_{name}"].samples}
                  for name in _HELP if f"node_filesystem_{name}" in metrics}
        thresholds = {"warning": s.avail_warning, "critical": s.avail_critical,
                      "files_free_warning": s.files_free_warning, "files_free_critical": s.files_free_critical}
        fstab_writable = self._fstab_writable()
        for labels, error in values.get("device_error", {}).items():
            mountpoint = labels[2]
            if error:
                yield Check("filesystem", mountpoint, State.CRITICAL,
                            "statvfs failed or did not return in time (node_filesystem_device_error)",
                            None, thresholds)
                continue
            states, notes, avail = [], [], None
            if values["size_bytes"][labels]:  # pseudo filesystems have no size
                avail = values["avail_bytes"][labels] / values["size_bytes"][labels]
                states.append(below(avail, s.avail_warning, s.avail_critical))
                notes.append(f"{avail:.1%} space available")
            if values["files"][labels]:  # btrfs, vfat and others have no inode count
                files_free = values["files_free"][labels] / values["files"][labels]
                states.append(below(files_free, s.files_free_warning, s.files_free_critical))
                notes.append(f"{files_free:.1%} inodes free")
            if values["readonly"][labels]:
                if labels in self._seen_writable:
                    states.append(State.CRITICAL)
                    notes.append("remounted read-only (it was read-write)")
                elif fstab_writable.get(mountpoint):
                    states.append(State.CRITICAL)
                    notes.append(f"read-only, but {self._fstab} mounts it read-write")
                else:
                    notes.append("read-only")
            yield Check("filesystem", mountpoint, worst(states), ", ".join(notes) or "no size reported",
                        avail, thresholds)

    def _fstab_writable(self) -> dict[str, bool]:
        """{mount point: mounted read-write} from the host's fstab; {} when there is none."""
        try:
            with open(self._fstab, encoding="utf-8", errors="replace") as file:
                return parse_fstab(file.read())
        except OSError:
            return {}


def parse_fstab(text: str) -> dict[str, bool]:
    """{mount point: whether its options mount it read-write} (fstab(5): fields spec, file,
    vfstype, mntops; octal escapes such as \\040 for a space; options default to `defaults`, rw)."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#"):
            continue
        mountpoint = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
        options = fields[3].split(",") if len(fields) > 3 else ["defaults"]
        found[mountpoint] = "ro" not in options
    return found
