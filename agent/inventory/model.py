"""The site model: sites, hosts and monitoring targets, derived from the Ansible inventory.

Only `egov_*` variables mean something here; every other variable belongs to Ansible and
passes untouched. Each `egov_*` variable is a field of `EgovVars`, checked strictly by
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
- `egov_checks` lists a host's checks (kind -> settings, or null for the defaults) and,
  like every Ansible variable, is replaced whole by a deeper group or the host.
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

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from agent.inventory import service_levels
from agent.inventory.ansible import AnsibleInventory, Vars, read
from agent.schema import Duration, build
from agent.yamlfile import ConfigError, Located, VaultValue, shown

# The bounded vocabularies: extend them here and nowhere else.
SITE_TYPES = ("province", "datacenter", "rack", "department", "pop", "commune", "office")
NETWORK_ROLES = ("router", "switch", "firewall")
ROLES = NETWORK_ROLES + ("dc_host", "app_server", "web_server", "mail_server", "dns_server", "db_server",
                         "monitoring_server", "vc_endpoint", "office_pc", "one_stop_pc")
# netmiko device_type names, so provisioning and audit can hand them to netmiko as they are
NETWORK_PLATFORMS = ("cisco_ios", "cisco_xe", "cisco_nxos", "cisco_asa", "huawei", "huawei_vrpv8",
                     "hp_comware", "hp_procurve", "juniper_junos", "fortinet", "mikrotik_routeros", "ruijie_os")
PLATFORMS = NETWORK_PLATFORMS + ("cisco_tp", "linux", "windows")

REQUIRED = {"required": True}  # a check field that must be set once defaults are merged


def _ratios(obj, *keys: str):
    for key in keys:
        value = getattr(obj, key)
        if value is not None and not 0 <= value <= 1:
            yield key, f"expected a ratio from 0 to 1 (0.05 is 5 %), got {value:g}"


@dataclass
class _Timed:
    time_warning: Duration | None = None
    time_critical: Duration | None = None


@dataclass
class _Tls(_Timed):
    cert_days_warning: int | None = None
    cert_days_critical: int | None = None


@dataclass
class IcmpCheck:
    count: int = 3  # echoes per run
    spacing: Duration = 1.0  # between two echoes to the target
    timeout: Duration = 1.0  # an echo not answered within this is lost
    loss_warning: float | None = None  # ratio of packets lost
    loss_critical: float | None = None
    rtt_warning: Duration | None = None  # on the average round trip
    rtt_critical: Duration | None = None

    def problems(self):
        if not 1 <= self.count <= 100:
            yield "count", f"expected 1 to 100 echoes per run, got {self.count}"
        if self.timeout <= 0:
            yield "timeout", "must be more than 0"
        yield from _ratios(self, "loss_warning", "loss_critical")


def _patterns(obj, key: str):
    """The regular expression (or each of the list) under `key` compiles."""
    import re

    value = getattr(obj, key)
    for pattern in [value] if isinstance(value, str) else value or []:
        try:
            re.compile(pattern)
        except re.error as err:
            yield key, f"not a regular expression: {err} in {pattern!r}"


def _port(obj):
    if obj.port is not None and not 1 <= obj.port <= 65535:
        yield "port", f"expected a port from 1 to 65535, got {obj.port}"


@dataclass
class _TlsClient(_Tls):
    """How the tcp and http probes trust a server's certificate."""

    tls_verify: bool = True  # false: any certificate is accepted (its expiry is still read)
    ca_file: str | None = None  # a PEM bundle to verify against instead of the system's CAs


@dataclass
class TcpCheck(_TlsClient):
    port: int | None = field(default=None, metadata=REQUIRED)
    tls: bool = False  # TLS from the first byte (LDAPS, SMTPS, IMAPS ...)
    server_name: str | None = None  # sent as SNI; with tls_verify the certificate must carry it (default: address)
    send: str | None = None  # written once connected, e.g. "PING\r\n"
    expect: str | None = None  # a regular expression the answer must match (re.search), e.g. ^SSH-2\.0-

    def problems(self):
        yield from _port(self)
        yield from _patterns(self, "expect")


@dataclass
class HttpCheck(_TlsClient):
    # connected to the host's address; the URL's host is the Host header, the SNI, the certificate's name
    url: str | None = field(default=None, metadata=REQUIRED)
    status: int = 200  # redirects are not followed: a URL that redirects is checked with status 301 or 302
    method: Literal["GET", "HEAD"] = "GET"
    body: str | None = None  # a regular expression the body must match (re.search)

    def problems(self):
        from urllib.parse import urlsplit

        try:  # urlsplit raises on a bad IPv6 bracket, .port on a port out of range
            url = urlsplit(self.url or "http://unset")  # egov_check_defaults leaves the URL to each host
            url.port  # noqa: B018
        except ValueError as err:
            yield "url", f"{err} in {self.url!r}"
            return
        if url.scheme not in ("http", "https") or not url.hostname:
            yield "url", f"expected an http:// or https:// URL with a host name, got {self.url!r}"
        elif url.username is not None:
            yield "url", "no user or password in the URL: it would show in logs"
        elif not url.geturl().isascii():
            yield "url", "write the host name in its xn-- form and percent-encode the path"
        if not 100 <= self.status <= 599:
            yield "status", f"expected an HTTP status from 100 to 599, got {self.status}"
        yield from _patterns(self, "body")


DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA")


@dataclass
class DnsCheck(_Timed):
    """One query to the host as a DNS server (its address, this port)."""

    query_name: str | None = field(default=None, metadata=REQUIRED)
    query_type: Literal[DNS_TYPES] = "A"
    port: int = 53
    transport: Literal["udp", "tcp"] = "udp"  # udp retries over tcp when the answer is truncated
    rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"  # the response code expected
    # regular expressions, each matching one whole answer record as dig prints its data: 127\.0\.0\.5, 10 mx\.tinh\.vn\.
    answers: list[str] = field(default_factory=list)

    def problems(self):
        yield from _port(self)
        yield from _patterns(self, "answers")


@dataclass
class _MailServer:
    """Whom a mail probe logs in as, and the name the server's certificate must carry."""

    username: str | None = None  # log in as this user (SMTP AUTH, IMAP); unset: no login
    password_env: str | None = None  # the NAME of the agent's environment variable holding the password
    server_name: str | None = None  # sent as SNI; with tls_verify the certificate must carry it (default: address)
    allow_plaintext_auth: bool = False  # true: log in even over a connection without TLS (password in clear)

    def problems(self):
        if self.username and not self.password_env:
            yield "password_env", "needed with username: the name of the environment variable with the password"

    def _plaintext_login(self, key: str, leg: str):
        """A login over `leg` without TLS is refused unless the check says allow_plaintext_auth."""
        if not self.allow_plaintext_auth:
            yield key, (f"the {leg} login would send the password in clear without TLS: use TLS, "
                        "or say allow_plaintext_auth: true")


@dataclass
class SmtpCheck(_TlsClient, _MailServer):
    port: int = 25
    tls: bool = False  # implicit TLS (SMTPS, usually port 465); starttls is then not used
    starttls: bool = True

    def problems(self):
        yield from super().problems()
        yield from _port(self)
        if self.username and not (self.tls or self.starttls):
            yield from self._plaintext_login("starttls", "SMTP")


@dataclass
class ImapCheck(_TlsClient, _MailServer):
    port: int = 993
    tls: bool = True  # implicit TLS (IMAPS)
    starttls: bool = False  # plain IMAP upgraded with STARTTLS (usually port 143)

    def problems(self):
        yield from super().problems()
        yield from _port(self)
        if self.tls and self.starttls:
            yield "starttls", "set tls: false for STARTTLS (tls means implicit TLS, IMAPS)"
        if self.username and not (self.tls or self.starttls):
            yield from self._plaintext_login("tls", "IMAP")


@dataclass
class MailRoundtripCheck(_Timed, _MailServer):
    """Send a message over SMTP and find it over IMAP; time_* are on the delivery time."""

    username: str | None = field(default=None, metadata=REQUIRED)  # the IMAP mailbox the message lands in
    password_env: str | None = field(default=None, metadata=REQUIRED)
    rcpt_to: str | None = field(default=None, metadata=REQUIRED)
    mail_from: str | None = None  # default: rcpt_to
    smtp_port: int = 25
    smtp_starttls: bool = True
    smtp_auth: bool = False  # log in to SMTP too, with the IMAP username and password (submission, 587)
    imap_port: int = 993
    imap_tls: bool = True
    imap_starttls: bool = False
    mailbox: str = "INBOX"
    deadline: Duration = 30.0  # a message not found this long after SMTP accepted it is a timeout
    tls_verify: bool = True  # as in the smtp and imap checks
    ca_file: str | None = None

    def problems(self):
        yield from super().problems()
        for key in ("smtp_port", "imap_port"):
            if not 1 <= getattr(self, key) <= 65535:
                yield key, f"expected a port from 1 to 65535, got {getattr(self, key)}"
        if self.imap_tls and self.imap_starttls:
            yield "imap_starttls", "set imap_tls: false for STARTTLS (imap_tls means implicit TLS, IMAPS)"
        if not (self.imap_tls or self.imap_starttls):
            yield from self._plaintext_login("imap_tls", "IMAP")
        if self.smtp_auth and not self.smtp_starttls:
            yield from self._plaintext_login("smtp_starttls", "SMTP")
        if self.deadline <= 0:
            yield "deadline", "must be more than 0"


@dataclass
class SipCheck(_Timed):
    transport: Literal["udp", "tcp", "tls"] = "udp"
    port: int | None = None  # default 5060, 5061 for tls
    # final response codes that mean healthy; any other 3xx/4xx warns, 5xx/6xx is critical
    codes: list[int] = field(default_factory=lambda: [200])

    def problems(self):
        if not self.codes or not all(200 <= code <= 699 for code in self.codes):
            yield "codes", "expected a list of final SIP response codes (200 to 699)"


@dataclass
class H323Check(_Timed):
    port: int = 1720  # H.225 call signalling


@dataclass
class SnmpCheck:
    version: Literal["2c", "3"] = "2c"
    port: int = 161
    community_env: str = "EGOV_SNMP_COMMUNITY"  # the secret comes from the agent's environment
    # SNMPv3 (USM): like the community, the keys are read from the environment variables named here
    username: str | None = None
    security_level: Literal["authPriv", "authNoPriv", "noAuthNoPriv"] = "authPriv"
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA256"
    auth_key_env: str | None = None
    priv_protocol: Literal["DES", "3DES", "AES", "AES192", "AES256"] = "AES"
    priv_key_env: str | None = None
    uplinks: tuple[str, ...] = ()  # interface names (ifName or ifDescr) that are WAN uplinks
    interface_util_warning: float | None = None  # ratio of link capacity
    interface_util_critical: float | None = None

    def problems(self):
        yield from _ratios(self, "interface_util_warning", "interface_util_critical")


@dataclass
class SshCheck:
    """A router or switch read over its SSH command line (collectors/ssh_cli.py)."""

    port: int = 22
    username: str | None = field(default=None, metadata=REQUIRED)
    password_env: str | None = None  # the NAME of the agent's environment variable holding the password
    key_file: str | None = None  # or a private key file only the agent can read
    secret_env: str | None = None  # Cisco enable secret's variable, for an account below privilege 15
    known_hosts: str | None = None  # default: the ssh collector's known_hosts setting
    # what to read; default all
    commands: tuple[Literal["version", "interfaces", "cpu", "memory", "neighbors"], ...] | None = None
    uplinks: tuple[str, ...] = ()  # interfaces cabled to the site's uplink site (egov_uplink)
    cpu_warning: float | None = None  # ratios
    cpu_critical: float | None = None
    memory_warning: float | None = None
    memory_critical: float | None = None

    def problems(self):
        yield from _ratios(self, "cpu_warning", "cpu_critical", "memory_warning", "memory_critical")


CHECK_KINDS: dict[str, type] = {"icmp": IcmpCheck, "tcp": TcpCheck, "http": HttpCheck, "smtp": SmtpCheck,
                                "imap": ImapCheck, "mail_roundtrip": MailRoundtripCheck,
                                "sip": SipCheck, "h323": H323Check, "snmp": SnmpCheck, "dns": DnsCheck, "ssh": SshCheck}
Checks = make_dataclass("Checks", [(kind, cls | None, field(default=None)) for kind, cls in CHECK_KINDS.items()])

AvailabilityTargets = service_levels.availability_targets_class(ROLES + tuple(CHECK_KINDS))  # role or check kind

ON_SITE, ON_ALL = {"on": "site"}, {"on": "all"}


@dataclass
class EgovVars:
    """Every egov_* variable. `on`: where it may be set (unmarked: any group or host)."""

    egov_site_type: Literal[SITE_TYPES] | None = field(default=None, metadata=ON_SITE)
    egov_site_name: str | None = field(default=None, metadata=ON_SITE)  # display name
    egov_uplink: str | None = field(default=None, metadata=ON_SITE)
    egov_role: Literal[ROLES] | None = None
    egov_platform: Literal[PLATFORMS] | None = None
    egov_checks: Checks | None = None
    egov_check_defaults: Checks | None = field(default=None, metadata=ON_ALL)
    egov_agent_port: int | None = None  # where an agent host serves /metrics (egov-agent targets; default 9469)
    # agent.inventory.service_levels: maintenance windows, availability targets, the local time zone
    egov_maintenance: list[service_levels.Window] | None = None
    egov_availability_targets: AvailabilityTargets | None = field(default=None, metadata=ON_ALL)  # % per service
    egov_timezone: str | None = field(default=None, metadata=ON_ALL)

    def problems(self):
        yield from service_levels.problems(self)


@dataclass(frozen=True)
class Site:
    name: str  # the group name
    type: str
    display_name: str
    parent: str | None  # administrative parent; None for the root
    uplink: str | None  # the site whose network this one hangs from; None for the root
    children: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        """The labels of every metric about a target at this site: a small bounded set."""
        return {"site": self.name, "site_type": self.type, "uplink": self.uplink or ""}


@dataclass(frozen=True)
class Host:
    name: str
    site: str
    role: str
    platform: str | None
    address: str | None  # ansible_host, or the name when it is an IP address
    checks: Mapping[str, Any]  # kind -> IcmpCheck, HttpCheck ... with the defaults merged in
    vars: Vars  # every variable as Ansible sees it (VaultValues stay opaque)


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    role: str
    platform: str | None
    site: str
    labels: Mapping[str, str]
    checks: Mapping[str, Any]


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
        """Every host with an address, labelled with its site."""
        for host in self.hosts.values():
            if host.address:
                yield Target(host.name, host.address, host.role, host.platform, host.site,
                             self.sites[host.site].labels, host.checks)


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
                build(EgovVars, egov)
            except ConfigError as err:
                errors.append(ConfigError(f"{label}: {err.message}", err.file, err.line, err.key))
                continue
            for var in fields(EgovVars):
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
            egov = build(EgovVars, _egov(own))
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

    def checks(self, name: str, hostvars: Vars, address: str | None) -> dict[str, Any]:
        listed = hostvars.get("egov_checks") or {}
        if listed and address is None:
            self.errors.append(hostvars.error("egov_checks", f"host {name}: checks but no address; "
                                                             f"set ansible_host, or egov_checks: {{}}"))
        defaults = hostvars.get("egov_check_defaults") or {}
        checks = {}
        for kind, settings in listed.items():
            check = build(CHECK_KINDS[kind], {**(defaults.get(kind) or {}), **(settings or {})})
            for var in fields(check):
                if var.metadata.get("required") and getattr(check, var.name) is None:
                    self.errors.append(hostvars.error("egov_checks", f"host {name}: the {kind} check needs "
                                                      f"{var.name}", f"egov_checks.{kind}.{var.name}"))
            checks[kind] = check
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
