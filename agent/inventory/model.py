"""The site model: sites, hosts and monitoring targets, derived from the Ansible inventory.

Only `egov_*` variables mean something here; every other variable belongs to Ansible and
passes untouched. Each `egov_*` variable is a field of `egov_vars()`, checked strictly by
agent.schema wherever it is written (an unknown egov_ key or a wrong type is an error with
file and line, even in a group with no hosts).

- A site is a group whose OWN vars set `egov_site_type` (inherited values do not count).
  Its administrative parent is the nearest enclosing site group; non-site groups in
  between (e.g. `communes`, a group that lets playbooks target every commune) are
  looked through. Exactly one site has no parent: the root (the province).
- `egov_uplink` names the site whose network a site hangs from; it defaults to the
  administrative parent. The two differ for a commune that belongs to the province but
  is reached through an old district PoP.
- A host belongs to the deepest site group that contains it: exactly one. It needs an
  `egov_role` (usually from its role group); a router, switch or firewall also needs a
  network `egov_platform`. Its address is `ansible_host` (or its name, if that is an IP
  address); hosts with an address are the monitoring targets.
- `egov_checks` lists a host's checks (kind -> settings, or null for the defaults; the kinds
  and their settings are the registered collectors', agent.probe.check_kinds) and,
  like every Ansible variable, is replaced whole by a deeper group or the host. A kind may
  instead hold a list of checks, each with its `name` (a web server's agency sites), as Ansible
  roles list what a host has several of (users, virtual hosts): a list cannot be mistaken for
  one check's settings, keeps the order written, and a name cannot clash with a settings key.
  The one check of the mapping form is named after its kind.
  `egov_check_defaults` (group `all` only) holds the fleet-wide thresholds per kind; the
  model fills each listed check's unset fields from it. Merging egov_checks itself
  across groups would make egov-agent and Ansible (playbooks, templates) see different
  values for one variable; with a separate defaults variable both read the same raw
  variables, and the thresholds are written once.

`validate(path)` returns every problem it can find in one pass: first each variables
mapping on its own (types, unknown keys, placement), then, if those are clean, the tree,
the uplinks, sites and addresses of hosts. `load_inventory(path)` raises InventoryError
(a ConfigError listing them all, one per line) or returns the Inventory.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from agent.inventory import service_levels
from agent.inventory.ansible import AnsibleInventory, Vars, read
from agent.probe import check_kinds
from agent.schema import build
from agent.yamlfile import ConfigError, Located, VaultValue, shown

# The bounded vocabularies: extend them here and nowhere else.
SITE_TYPES = ("province", "datacenter", "rack", "department", "pop", "commune", "office")
NETWORK_ROLES = ("router", "switch", "firewall")  # the gear: each needs a network platform
# whose checks page the network team: the gear and what sits at a site's end of the WAN
NETWORK_TEAM_ROLES = NETWORK_ROLES + ("vc_endpoint", "office_pc", "one_stop_pc")
ROLES = NETWORK_ROLES + ("dc_host", "app_server", "web_server", "mail_server", "dns_server", "db_server",
                         "monitoring_server", "vc_endpoint", "office_pc", "one_stop_pc")
# netmiko device_type names, so provisioning and audit can hand them to netmiko as they are
NETWORK_PLATFORMS = ("cisco_ios", "cisco_xe", "cisco_nxos", "cisco_asa", "huawei", "huawei_vrpv8",
                     "hp_comware", "hp_procurve", "juniper_junos", "fortinet", "mikrotik_routeros", "ruijie_os")
PLATFORMS = NETWORK_PLATFORMS + ("cisco_tp", "linux", "windows")

ON_SITE, ON_ALL = {"on": "site"}, {"on": "all"}
# a check's name is the `check` label of its series: short, and the same in every tool that quotes it
CHECK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass
class _EgovVars:
    """Every egov_* variable but the checks. `on`: where it may be set (unmarked: any group or host)."""

    egov_site_type: Literal[SITE_TYPES] | None = field(default=None, metadata=ON_SITE)
    egov_site_name: str | None = field(default=None, metadata=ON_SITE)  # display name
    egov_uplink: str | None = field(default=None, metadata=ON_SITE)
    egov_role: Literal[ROLES] | None = None
    egov_platform: Literal[PLATFORMS] | None = None
    # where an agent host serves /metrics (egov-agent targets); default agent.config.DEFAULT_PORT
    egov_agent_port: int | None = None
    # meeting-check: a video-conference endpoint whose link's MOS is below this is NOT READY; default 3.6
    egov_meeting_min_mos: float | None = None
    # agent.inventory.service_levels: maintenance windows, the local time zone (and, with the check
    # kinds below, the availability targets)
    egov_maintenance: list[service_levels.Window] | None = None
    egov_timezone: str | None = field(default=None, metadata=ON_ALL)

    def problems(self):
        if self.egov_meeting_min_mos is not None and not 1 <= self.egov_meeting_min_mos <= 4.5:
            yield "egov_meeting_min_mos", f"expected a MOS from 1 to 4.5, got {self.egov_meeting_min_mos:g}"
        yield from service_levels.problems(self)


@functools.cache
def egov_vars() -> type:
    """Every egov_* variable: _EgovVars and the checks, one field per kind the registered probes
    serve (each probe's CheckSettings). Built at the first load, not at import: importing the
    collectors costs a command that reads no inventory, and each of them imports agent.probe."""
    kinds = check_kinds()
    checks = make_dataclass("Checks", [(kind, (cls if getattr(cls, "ONE_PER_HOST", False) else cls | list[_named(cls)])
                                        | None, field(default=None)) for kind, cls in kinds.items()],
                            namespace={"problems": _duplicate_names})
    defaults = make_dataclass("CheckDefaults", [(kind, cls | None, field(default=None)) for kind, cls in kinds.items()])
    targets = service_levels.availability_targets_class(ROLES + tuple(kinds))  # % per role or check kind
    return make_dataclass("EgovVars", [("egov_checks", checks | None, field(default=None)),
                                       ("egov_check_defaults", defaults | None, field(default=None, metadata=ON_ALL)),
                                       ("egov_availability_targets", targets | None,
                                        field(default=None, metadata=ON_ALL))],
                          bases=(_EgovVars,))


def _named(cls: type) -> type:
    """One of several checks of a kind: its settings and its name."""
    def problems(self):
        if not CHECK_NAME.match(self.name):
            yield "name", (f"expected a short name ({CHECK_NAME.pattern}: lower-case letters, digits, - and _, "
                           f"at most 32), got {shown(self.name)}")
        yield from super(named, self).problems() if hasattr(super(named, self), "problems") else ()

    named = make_dataclass(f"Named{cls.__name__}", [("name", str)], bases=(cls,), kw_only=True,
                           namespace={"problems": problems})
    return named


def _duplicate_names(checks) -> Iterator[tuple[str, str]]:
    for var in fields(checks):
        listed = getattr(checks, var.name)
        names = [check.name for check in listed] if isinstance(listed, list) else []
        for twice in sorted({name for name in names if names.count(name) > 1}):
            yield var.name, f"two {var.name} checks named {twice}: a name is unique per host and kind"


@dataclass(frozen=True)
class Site:
    name: str  # the group name
    type: str
    display_name: str
    parent: str | None  # administrative parent; None for the root
    uplink: str | None  # the site whose network this one hangs from; None for the root
    children: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Host:
    name: str
    site: str
    role: str
    platform: str | None
    address: str | None  # ansible_host, or the name when it is an IP address
    # kind -> check name -> its probe's CheckSettings (IcmpCheck ...), the defaults merged in
    checks: Mapping[str, Mapping[str, Any]]
    vars: Vars  # every variable as Ansible sees it (VaultValues stay opaque)

    def check(self, kind: str) -> Any:
        """The settings of the host's one check of a kind it has once (icmp, ssh), or None."""
        return _only(self.checks, kind)


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    role: str
    platform: str | None
    site: str
    checks: Mapping[str, Mapping[str, Any]]  # as Host.checks

    def check(self, kind: str) -> Any:
        """As Host.check."""
        return _only(self.checks, kind)


def _only(checks: Mapping[str, Mapping[str, Any]], kind: str) -> Any:
    named = checks.get(kind) or {}
    return named.get(kind) if len(named) == 1 else None


class InventoryError(ConfigError):
    """Every problem found in an inventory; str() lists them one per line."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


class Inventory:
    """The site tree and the hosts of a valid inventory; build it with load_inventory()."""

    def __init__(self, ansible: AnsibleInventory, sites: dict[str, Site], hosts: dict[str, Host]):
        self.ansible = ansible  # groups, hosts and variables exactly as Ansible reads them
        self.sites, self.hosts = sites, hosts
        self.root = next(s for s in sites.values() if s.parent is None)
        self._downlinks: dict[str, list[str]] = {name: [] for name in sites}
        for site in sites.values():
            if site.uplink:
                self._downlinks[site.uplink].append(site.name)

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            raise KeyError(f"no site named {name!r}") from None

    def children(self, name: str) -> list[Site]:
        return [self.sites[child] for child in self.site(name).children]

    def hosts_at(self, name: str) -> list[Host]:
        return [self.hosts[host] for host in self.site(name).hosts]

    def path(self, name: str) -> list[Site]:
        """From the root down to the site, by administrative parent."""
        path = [self.site(name)]
        while path[-1].parent:
            path.append(self.sites[path[-1].parent])
        return path[::-1]

    def behind(self, name: str) -> list[Site]:
        """Every site whose uplink chain passes through `name` (not itself), nearest first."""
        found, queue = [], list(self._downlinks[self.site(name).name])
        while queue:
            site = queue.pop(0)
            found.append(self.sites[site])
            queue.extend(self._downlinks[site])
        return found

    def targets(self) -> Iterator[Target]:
        """Every host with an address, with its site."""
        for host in self.hosts.values():
            if host.address:
                yield Target(host.name, host.address, host.role, host.platform, host.site, host.checks)


def load_inventory(path: str | Path) -> Inventory:
    """The inventory at `path` (file or directory), or InventoryError listing every problem."""
    inventory, errors = _load(path)
    if errors:
        raise InventoryError(errors)
    return inventory


def validate(path: str | Path) -> list[ConfigError]:
    """Every problem found in the inventory at `path`; empty when it is valid."""
    return _load(path)[1]


def _load(path: str | Path) -> tuple[Inventory | None, list[ConfigError]]:
    try:
        ansible = read(path)
    except ConfigError as err:
        return None, [err]
    errors = _check_mappings(ansible)
    if errors:
        return None, errors
    return _Builder(ansible).build()


def _egov(mapping: Mapping) -> Located:
    """The egov_* part of a variables mapping, keeping file and lines for errors."""
    part = Located({k: v for k, v in mapping.items() if isinstance(k, str) and k.startswith("egov_")})
    part.file, part.line = getattr(mapping, "file", None), getattr(mapping, "line", None)
    part.lines = getattr(mapping, "lines", {})
    return part


def _check_mappings(ansible: AnsibleInventory) -> list[ConfigError]:
    """Each variables mapping on its own: types, unknown egov_ keys, where each key may go."""
    errors, seen = [], set()
    owners = chain((("group", g) for g in ansible.groups.values()), (("host", h) for h in ansible.hosts.values()))
    for kind, owner in owners:
        is_site = kind == "group" and "egov_site_type" in owner.vars
        for mapping in owner.inline + owner.files:
            if id(mapping) in seen:  # one host entry like pc-[01:20] is shared by twenty hosts
                continue
            seen.add(id(mapping))
            egov, label = _egov(mapping), f"{kind} {owner.name}"
            try:
                build(egov_vars(), egov)
            except ConfigError as err:
                errors.append(ConfigError(f"{label}: {err.message}", err.file, err.line, err.key))
                continue
            for var in fields(egov_vars()):
                where = var.metadata.get("on")
                if var.name not in egov or where is None:
                    continue
                if where == "site" and not is_site:
                    errors.append(egov.error(var.name, f"{label}: only a site group (one that sets "
                                                       f"egov_site_type) may set this"))
                elif where == "all" and owner.name != "all":
                    errors.append(egov.error(var.name, f"{label}: set this in group all (group_vars/all)"))
    return errors


MAX_HOSTNAME = 255  # RFC 1035 section 2.3.4, and RFC 1123 section 2.1 for host names


def _address_problem(value: Any) -> str | None:
    """Why an ansible_host value cannot be connected to, or None."""
    if isinstance(value, VaultValue):
        return "a vault-encrypted address cannot be monitored; write it in clear"
    if not isinstance(value, str) or not value.strip():
        kind = "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else shown(value)
        return f"expected a host name or an IP address, got {kind}"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "a host name or address holds no spaces, line breaks or control characters"
    if len(value) > MAX_HOSTNAME:
        return f"{len(value):,} characters: a host name is at most {MAX_HOSTNAME} (RFC 1035, RFC 1123)"
    return None


class _Builder:
    """The site tree and the hosts, from an inventory whose egov_* values are all valid."""

    def __init__(self, ansible: AnsibleInventory):
        self.ansible = ansible
        self.errors: list[ConfigError] = []
        self.check_kinds = check_kinds()
        self.site_vars = {name: group.vars for name, group in ansible.groups.items()
                          if "egov_site_type" in group.vars}

    def build(self) -> tuple[Inventory | None, list[ConfigError]]:
        if not self.site_vars:
            return None, [ConfigError("no site: at least one group (the province) must set egov_site_type",
                                      self.ansible.path)]
        parents = {name: self.parent_site(name) for name in self.site_vars}
        uplinks = {name: self.uplink(name, parents[name]) for name in self.site_vars}
        self.check_uplink_cycles(uplinks)
        hosts = {name: self.host(name) for name in self.ansible.hosts}
        self.check_addresses(hosts.values())
        if self.errors:
            return None, self.errors
        children, hosts_at = defaultdict(list), defaultdict(list)
        for site, parent in parents.items():
            children[parent].append(site)
        for host in hosts.values():
            hosts_at[host.site].append(host.name)
        sites = {}
        for name, own in self.site_vars.items():
            egov = build(egov_vars(), _egov(own))
            sites[name] = Site(name, egov.egov_site_type, egov.egov_site_name or name, parents[name], uplinks[name],
                               tuple(children[name]), tuple(hosts_at[name]))
        return Inventory(self.ansible, sites, hosts), []

    def nearest_sites(self, groups: Iterable[str]) -> list[str]:
        """The innermost site groups among `groups` and above them."""
        found, seen, stack = [], set(), list(groups)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                if name in self.site_vars:
                    found.append(name)
                else:
                    stack.extend(self.ansible.groups[name].parents)
        return sorted(s for s in found if not any(s in self.ansible.ancestors(other) for other in found))

    def parent_site(self, name: str) -> str | None:
        own = self.site_vars[name]
        parents = self.nearest_sites(self.ansible.groups[name].parents)
        if len(parents) > 1:
            self.errors.append(own.error("egov_site_type", f"group {name}: inside two sites, "
                                         f"{' and '.join(parents)}; a site sits under exactly one"))
        if parents:
            return parents[0]
        root = next(iter(self.site_vars))  # the first site group read is the root
        if name != root:
            self.errors.append(own.error("egov_site_type", f"group {name}: a second root site, inside no "
                                         f"other site; the root is {root}: make {name} a child of a site"))
        return None

    def uplink(self, name: str, parent: str | None) -> str | None:
        own = self.site_vars[name]
        uplink = own.get("egov_uplink", parent)
        if "egov_uplink" in own and uplink is None:  # null would silently make this a second network root
            self.errors.append(own.error("egov_uplink", f"group {name}: null; name the site this one hangs "
                                                        f"from, or leave egov_uplink out to mean the parent"))
            return parent
        if uplink is not None and uplink not in self.site_vars:
            self.errors.append(own.error("egov_uplink", f"group {name}: no site named {uplink!r} "
                                                        f"(a group that sets egov_site_type)"))
            return parent
        return uplink

    def check_uplink_cycles(self, uplinks: dict[str, str | None]) -> None:
        done: set[str] = set()
        for start in uplinks:
            path, site = [], start
            while site is not None and site not in done and site not in path:
                path.append(site)
                site = uplinks[site]
            done.update(path)
            if site in path:
                cycle = path[path.index(site):]
                # report it where an egov_uplink was written: the administrative tree has no loops
                first = next(i for i, s in enumerate(cycle) if "egov_uplink" in self.site_vars[s])
                cycle = cycle[first:] + cycle[:first]
                self.errors.append(self.site_vars[cycle[0]].error(
                    "egov_uplink", f"group {cycle[0]}: the uplinks make a loop: {' → '.join(cycle + cycle[:1])}"))

    def host(self, name: str) -> Host:
        entry = self.ansible.hosts[name]
        hostvars = entry.vars
        sites = self.nearest_sites(entry.groups)
        if len(sites) != 1:
            problem = f"in two sites, {' and '.join(sites)}" if sites else "in no site"
            self.errors.append(entry.error(f"host {name} is {problem}: a host belongs to exactly one site "
                                           f"(a group that sets egov_site_type)"))
        # each mapping's egov_* values were checked on their own, and merging keeps them whole
        role, platform = hostvars.get("egov_role"), hostvars.get("egov_platform")
        if role is None:
            self.errors.append(entry.error(f"host {name}: missing, expected one of {', '.join(ROLES)}", "egov_role"))
        elif role in NETWORK_ROLES and platform not in NETWORK_PLATFORMS:
            message = (f"host {name}: a {role} needs a network platform (one of {', '.join(NETWORK_PLATFORMS)}), "
                       + (f"got {platform!r}" if platform else "none is set"))
            self.errors.append(hostvars.error("egov_platform", message) if platform
                               else entry.error(message, "egov_platform"))
        address = self.address(name, hostvars)
        return Host(name, sites[0] if sites else "", role, platform, address,
                    self.checks(name, hostvars, address), hostvars)

    def address(self, name: str, hostvars: Vars) -> str | None:
        if "ansible_host" in hostvars:
            value = hostvars["ansible_host"]
            problem = _address_problem(value)
            if problem:
                self.errors.append(hostvars.error("ansible_host", f"host {name}: {problem}"))
                return None
            return value
        try:  # Ansible connects to the name itself, which may be an address
            return str(ipaddress.ip_address(name))
        except ValueError:
            return None

    def checks(self, name: str, hostvars: Vars, address: str | None) -> dict[str, dict[str, Any]]:
        listed = hostvars.get("egov_checks") or {}
        if listed and address is None:
            self.errors.append(hostvars.error("egov_checks", f"host {name}: checks but no address; "
                                                             f"set ansible_host, or egov_checks: {{}}"))
        defaults = hostvars.get("egov_check_defaults") or {}
        checks = {}
        for kind, settings in listed.items():
            several = isinstance(settings, list)
            checks[kind] = {}
            for item in settings if several else [settings or {}]:
                check_name = item["name"] if several else kind
                own = {key: value for key, value in item.items() if not several or key != "name"}
                check = build(self.check_kinds[kind], {**(defaults.get(kind) or {}), **own})
                for var in fields(check):
                    if var.metadata.get("required") and getattr(check, var.name) is None:
                        what, path = ((f"the {kind} check {check_name}", f"egov_checks.{kind}[{check_name}]")
                                      if several else (f"the {kind} check", f"egov_checks.{kind}"))
                        where = item if several and isinstance(item, Located) else hostvars
                        self.errors.append(where.error("name" if where is item else "egov_checks",
                                                       f"host {name}: {what} needs {var.name}", f"{path}.{var.name}"))
                checks[kind][check_name] = check
        return checks

    def check_addresses(self, hosts: Iterable[Host]) -> None:
        owners: dict[str, str] = {}
        for host in hosts:
            if host.address is None:
                continue
            other = owners.setdefault(host.address, host.name)
            if other != host.name:
                message = f"host {host.name}: address {host.address} is already host {other}'s"
                self.errors.append(host.vars.error("ansible_host", message) if "ansible_host" in host.vars
                                   else self.ansible.hosts[host.name].error(message))
