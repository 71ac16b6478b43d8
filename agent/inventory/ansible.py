"""Ansible YAML inventories, read without Ansible but with its semantics.

`read(path)` returns what `ansible-inventory -i PATH --list` shows: the same groups,
children, hosts per group and merged host variables (tests/test_inventory_ansible_parity.py
compares the two). The rules, as in ansible-core 2.19 with its defaults (an ansible.cfg
that changes hash_behaviour, the variable precedence or the enabled plugins is not followed):

- PATH is a YAML file, or a directory read recursively in sorted order, skipping hidden
  names, group_vars/, host_vars/, vars_plugins/ and the extensions Ansible ignores.
- A file maps group names to `hosts:` (name -> vars or null), `children:` and `vars:`.
  A group may be declared in several places: the declarations add up, and a variable
  set again replaces the earlier value.
- Host names may hold ranges: `commune-[001:120]-rtr`, `pc-[a:f]`, `[1:9:2]` with a step.
- group_vars/ and host_vars/ beside the inventory (the directory itself, or the file's
  directory): `<name>`, `<name>.yml`, `.yaml` or `.json`, or a directory `<name>/` read
  recursively in sorted order.
- A host's variables merge in Ansible's default precedence, each layer replacing whole
  top-level values (no deep merge): `all`'s inline vars < the other groups' inline vars
  < group_vars/all < group_vars/<group> < the host's inline vars < host_vars/<host>.
  Groups go in order of depth (parents before children), then ansible_group_priority
  (inline only; in a group_vars file it is a plain variable), then name.
- A host in no group but `all` is in `ungrouped`.

Stricter than Ansible, so that what we read and what Ansible reads cannot differ quietly:
whatever Ansible skips with a warning (a malformed group, an unknown key in a group, a
group name that is not an identifier, a name used for a group and a host) is an error
here, and so is a group_vars/host_vars file naming no group or host, a name found twice
there (Ansible reads only the first), a `host:port` name, and a non-YAML inventory file
(Ansible would try it as INI). Not read: inventory plugins and scripts, and play-adjacent
group_vars (next to a playbook, or in the working directory of `ansible-inventory`).
"""

from __future__ import annotations

import math
import os
import re
import string
from dataclasses import dataclass, field
from itertools import chain, product
from pathlib import Path

from agent import yamlfile
from agent.yamlfile import ConfigError, Located

YAML_EXTENSIONS = (".yml", ".yaml", ".json")
# Ansible's IGNORED_ALWAYS and default INVENTORY_IGNORE_EXTS (REJECT_EXTS + .orig .cfg .retry).
_IGNORED = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$"
                      r"|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.cfg|\.retry)$")
_INVALID_GROUP_NAME = re.compile(r"^[\d\W]|[^\w]")  # Ansible's C.INVALID_VARIABLE_NAMES
_SECTIONS = ("hosts", "children", "vars")
MAX_HOSTS_PER_PATTERN = 10_000


class Vars(dict):
    """Variables merged in order; `origin[key]` is the mapping the winning value came from."""

    def __init__(self, *mappings: Located):
        super().__init__()
        self.origin: dict[str, Located] = {}
        for mapping in mappings:
            self.update(mapping)
            self.origin.update(dict.fromkeys(mapping, mapping))

    def error(self, key: str, message: str, path: str | None = None) -> ConfigError:
        return self.origin[key].error(key, message, path)


@dataclass
class _Entity:
    name: str
    where: tuple[Located, str] | None  # the mapping and key of its first declaration
    inline: list[Located] = field(default_factory=list)  # vars written in the inventory files
    files: list[Located] = field(default_factory=list)  # group_vars/ or host_vars/ files

    def error(self, message: str, key: str | None = None) -> ConfigError:
        """An error located at the declaration, labelled with `key` (a variable) or the name."""
        if self.where is None:
            return ConfigError(message, key=key or self.name)
        mapping, name = self.where
        return mapping.error(name, message, key)


@dataclass
class Group(_Entity):
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    priority: int = 1
    depth: int = 0  # the longest path from `all`, as Ansible counts it

    @property
    def vars(self) -> Vars:
        """The group's own variables (inline, then its group_vars files), not inherited."""
        return Vars(*self.inline, *self.files)


@dataclass
class Host(_Entity):
    groups: list[str] = field(default_factory=list)  # the groups that list it directly
    vars: Vars = field(default_factory=Vars)  # merged, as `ansible-inventory --list` shows them


@dataclass
class AnsibleInventory:
    path: Path
    groups: dict[str, Group] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)

    def ancestors(self, group: str) -> set[str]:
        """Every group above `group` (not itself)."""
        found: set[str] = set()
        stack = list(self.groups[group].parents)
        while stack:
            name = stack.pop()
            if name not in found:
                found.add(name)
                stack.extend(self.groups[name].parents)
        return found

    def groups_of(self, host: str) -> set[str]:
        """Every group `host` belongs to, directly or through child groups."""
        direct = self.hosts[host].groups
        return set(direct).union(*(self.ancestors(g) for g in direct))


def read(path: str | Path) -> AnsibleInventory:
    """Read an inventory file or directory; the first problem raises a ConfigError."""
    inventory = AnsibleInventory(Path(path))
    if not inventory.path.exists():
        raise ConfigError("no such inventory file or directory", path)
    reader = _Reader(inventory)
    for file in _inventory_files(inventory.path):
        reader.read_file(file)
    reader.reconcile()
    base = inventory.path if inventory.path.is_dir() else inventory.path.parent
    _attach_vars_files(base / "group_vars", inventory.groups, "group")
    _attach_vars_files(base / "host_vars", inventory.hosts, "host")
    for host in inventory.hosts.values():
        host.vars = _host_vars(inventory, host)
    return inventory


def expand_hosts(pattern: str) -> list[str]:
    """Ansible's host ranges: `db[01:10]`, `pc-[a:f]`, `[1:9:2]`, several in one name.

    The hosts a pattern makes are counted before any is made: more than MAX_HOSTS_PER_PATTERN
    is refused (a typo like `[1:100000]` must not cost minutes and gigabytes).
    """
    outside_ranges = re.sub(r"\[[^\]]*\]", "", pattern)
    if ":" in outside_ranges and "[" not in outside_ranges:
        raise ValueError("a host name cannot carry a port or be an IPv6 address; "
                         "name the host and set ansible_host / ansible_port")
    texts, ranges, rest = [], [], pattern
    while "[" in rest:
        head, _, rest = rest.partition("[")
        spec, closed, rest = rest.partition("]")
        texts.append(head)
        ranges.append(_host_range(spec, closed))
    try:
        count = math.prod(len(values) for values, _ in ranges)
    except OverflowError:  # a range too long for len()
        count = math.inf
    if count > MAX_HOSTS_PER_PATTERN:
        raise ValueError(f"the ranges make {count:,} hosts, more than {MAX_HOSTS_PER_PATTERN:,}: split them")
    filled = [[str(v).zfill(width) for v in values] for values, width in ranges]
    return ["".join(chain.from_iterable(zip(texts, chosen))) + rest for chosen in product(*filled)]


def _host_range(spec: str, closed: str) -> tuple[range | str, int]:
    """The values of one `[begin:end:step]` (numbers as a range, letters as a string), and their width."""
    bounds = spec.split(":")
    if not closed or len(bounds) not in (2, 3) or not bounds[1]:
        raise ValueError("a host range is [begin:end] or [begin:end:step]")
    begin, end, step = bounds[0] or "0", bounds[1], bounds[2] if len(bounds) == 3 else "1"
    try:
        step_size = int(step)
        if len(begin) == len(end) == 1 and begin in string.ascii_letters and end in string.ascii_letters:
            first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
            values, width = string.ascii_letters[first:last + 1:step_size], 0
        else:
            # a leading zero means fixed width, so both ends must have it
            width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
            if width and len(end) != width:
                raise ValueError
            values = range(int(begin), int(end) + 1, step_size)
    except ValueError:
        raise ValueError(f"bad host range [{spec}]: numbers of equal width (01:20), single letters "
                         "(a:f) and an optional positive step") from None
    if not values:
        raise ValueError(f"host range [{spec}] is empty")
    return values, width


def _entered(directory: Path, above: frozenset) -> frozenset:
    """The directories walked into so far, plus `directory`, unless it is one of them again.

    Symlinks are followed, as Ansible does, but one leading back up (`group_vars/x/self -> .`)
    is an error: Ansible would walk it until the kernel's symlink limit, twice that per link.
    """
    info = directory.stat()
    identity = (info.st_dev, info.st_ino)
    if identity in above:
        raise ConfigError("a directory loop: this symlink leads back into a directory that contains it",
                          directory)
    return above | {identity}


def _inventory_files(path: Path, above: frozenset = frozenset()):
    if path.is_dir():
        above = _entered(path, above)
        for name in sorted(os.listdir(path)):
            if not _IGNORED.search(name):
                yield from _inventory_files(path / name, above)
    elif path.suffix in YAML_EXTENSIONS:
        yield path
    else:
        raise ConfigError("not a YAML inventory file (.yml, .yaml or .json): Ansible would read it "
                          "as INI, egov-agent reads only YAML", path)


def _kind(value) -> str:
    return "nothing" if value is None else type(value).__name__


class _Reader:
    """Builds groups and hosts the way Ansible's yaml inventory plugin and InventoryData do."""

    def __init__(self, inventory: AnsibleInventory):
        self.inventory = inventory
        self.groups, self.hosts = inventory.groups, inventory.hosts
        self.groups["all"] = Group("all", None)
        self.groups["ungrouped"] = Group("ungrouped", None)
        self.link("all", "ungrouped")

    def read_file(self, file: Path) -> None:
        data = yamlfile.load(file)
        if data is None:
            return  # an empty file: Ansible falls back to its INI plugin, which finds nothing
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping of group names, got {_kind(data)}", file, 1)
        if data.get("plugin"):
            raise data.error("plugin", "an inventory plugin configuration: egov-agent reads only "
                                       "YAML inventories (groups with hosts, children and vars)")
        for name in data:
            self.group(data, name)

    def group(self, mapping: Located, name) -> str:
        if not isinstance(name, str) or _INVALID_GROUP_NAME.search(name):
            raise mapping.error(name, "a group name is letters, digits and _, not starting with a digit")
        body = mapping[name]
        if body is not None and not isinstance(body, dict):
            raise mapping.error(name, f"group {name}: expected a mapping with hosts, children or vars, "
                                      f"got {_kind(body)}")
        group = self.groups.setdefault(name, Group(name, (mapping, name)))
        group.where = group.where or (mapping, name)  # `all` and `ungrouped` exist before any file
        for section, content in (body or {}).items():  # in file order, like Ansible
            if section not in _SECTIONS:
                raise body.error(section, f"group {name}: unknown key, expected one of {', '.join(_SECTIONS)}")
            if content is None:
                continue
            if not isinstance(content, dict):
                raise body.error(section, f"group {name}: expected a mapping, got {_kind(content)}")
            if section == "vars":
                self.group_vars(group, content)
            elif section == "children":
                for child in content:
                    self.link(name, self.group(content, child), (content, child))
            else:
                for pattern in content:
                    self.add_hosts(group, content, pattern)
        return name

    def group_vars(self, group: Group, content: Located) -> None:
        if "ansible_group_priority" in content:  # inline it sets the priority; it is not a variable
            priority = content["ansible_group_priority"]
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise content.error("ansible_group_priority", f"group {group.name}: expected an integer, "
                                                              f"got {priority!r}")
            group.priority = priority
            rest = Located({k: v for k, v in content.items() if k != "ansible_group_priority"})
            rest.file, rest.line, rest.lines = content.file, content.line, content.lines
            content = rest
        group.inline.append(content)

    def add_hosts(self, group: Group, content: Located, pattern) -> None:
        host_vars = content[pattern]
        if host_vars is not None and not isinstance(host_vars, dict):
            raise content.error(pattern, f"host {pattern}: expected a mapping of variables, got {_kind(host_vars)}")
        if not isinstance(pattern, str):
            raise content.error(pattern, "a host name must be a string (quote numbers)")
        try:
            names = expand_hosts(pattern)
        except ValueError as err:
            raise content.error(pattern, f"host {pattern}: {err}") from None
        for name in names:
            host = self.hosts.setdefault(name, Host(name, (content, pattern)))
            if group.name not in host.groups:  # the same as `name not in group.hosts`, without a scan
                group.hosts.append(name)
                host.groups.append(group.name)
            if host_vars:
                host.inline.append(host_vars)

    def link(self, parent: str, child: str, where: tuple[Located, str] | None = None) -> None:
        if child in self.groups[parent].children:
            return
        if child == parent or child in self.inventory.ancestors(parent):
            message = f"group {child} cannot be a child of {parent}: {parent} is already inside {child} (a loop)"
            raise where[0].error(where[1], message) if where else ConfigError(message)
        self.groups[parent].children.append(child)
        self.groups[child].parents.append(parent)

    def reconcile(self) -> None:
        """What Ansible does after reading: top groups under `all`, ungrouped hosts, depths."""
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.link("all", group.name, group.where)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            if host.name in self.groups:
                raise host.error(f"{host.name} is the name of a group and of a host")
            grouped = set(host.groups) - {"all", "ungrouped"}
            if grouped and "ungrouped" in host.groups:
                ungrouped.hosts.remove(host.name)
                host.groups.remove("ungrouped")
            elif not grouped and "ungrouped" not in host.groups:
                ungrouped.hosts.append(host.name)
                host.groups.append("ungrouped")
        depths: dict[str, int] = {}

        def depth(name: str) -> int:
            if name not in depths:
                parents = self.groups[name].parents
                depths[name] = 1 + max(depth(p) for p in parents) if parents else 0
            return depths[name]

        for group in self.groups.values():
            group.depth = depth(group.name)


def _attach_vars_files(directory: Path, entities: dict[str, Group] | dict[str, Host], kind: str) -> None:
    """Ansible's host_group_vars plugin, plus errors for files it would skip silently."""
    if not directory.is_dir():
        return
    for entry in sorted(os.listdir(directory)):
        stem, ext = os.path.splitext(entry)
        if entry.startswith(".") or entry.endswith("~") or ext not in YAML_EXTENSIONS + ("",):
            continue
        name = stem if ext else entry
        if name not in entities:
            raise ConfigError(f"no {kind} named {name} in the inventory", directory / entry)
    for name, entity in entities.items():
        candidates = [directory / (name + ext) for ext in ("",) + YAML_EXTENSIONS]
        found = [c for c in candidates if c.exists()]
        if len(found) > 1:
            raise ConfigError(f"{kind} {name} has both {found[0].name} and {found[1].name}: Ansible reads "
                              f"only {found[0].name}; keep one", found[1])
        for file in _vars_files_under(found[0]) if found else ():
            data = yamlfile.load(file)
            if not data:
                continue  # Ansible skips empty files
            if not isinstance(data, dict):
                raise ConfigError(f"{kind} {name}: expected a mapping of variables, got {_kind(data)}", file, 1)
            entity.files.append(data)


def _vars_files_under(path: Path, above: frozenset = frozenset()) -> list[Path]:
    """A vars file, or a directory's files in sorted order (DataLoader._get_dir_vars_files).

    Inside a directory only regular files count: Ansible skips a FIFO or a device there
    silently, and so do we. Named directly (group_vars/x.yml), yamlfile refuses it.
    """
    if not path.is_dir():
        return [path]
    above = _entered(path, above)
    found = []
    for entry in sorted(os.listdir(path)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        ext = os.path.splitext(entry)[1]
        if (path / entry).is_dir() and not ext:
            found.extend(_vars_files_under(path / entry, above))
        elif (path / entry).is_file() and ext in YAML_EXTENSIONS + ("",):
            found.append(path / entry)
    return found


def _host_vars(inventory: AnsibleInventory, host: Host) -> Vars:
    """Ansible's VariableManager.get_vars order for inventory variables (see module doc)."""
    every = inventory.groups["all"]
    groups = sorted((inventory.groups[g] for g in inventory.groups_of(host.name) if g != "all"),
                    key=lambda g: (g.depth, g.priority, g.name))
    return Vars(*every.inline, *chain.from_iterable(g.inline for g in groups),
                *every.files, *chain.from_iterable(g.files for g in groups),
                *host.inline, *host.files)
