"""`egov-agent targets`: the Prometheus file_sd file that lists the agents to scrape.

Prometheus scrapes the agents, not the hosts they probe: one target group per host that runs
egov-agent, `ADDRESS:PORT` with the labels `agent` (its inventory name), `site` and
`site_type` (where the agent host stands):

    [{"targets": ["127.10.3.50:9469"],
      "labels": {"agent": "egov-agent-01", "site": "dc_chinh_rack_a2", "site_type": "rack"}}]

Which hosts run egov-agent: those whose egov_role is monitoring_server (playbooks/deploy_agent.yml
installs it there, with the inventory, to probe the province) and every Linux host
(playbooks/commune_office.yml installs it there for the host's own metrics); `--agents`
names other groups or hosts instead. The port is the inventory
variable egov_agent_port (default agent.config.DEFAULT_PORT, which the egov_agent role's
default repeats for Ansible), so the agent's listen address and Prometheus's target come
from the same value.

Sharding splits the province's SITES, not its hosts, between N parts: a site belongs to
shard `stable hash(anchor) mod N`, its anchor being the site just below the root on its
uplink chain (a data centre for its racks, an old district PoP for every commune behind
it, a commune directly on the province network for itself). The whole uplink subtree
under a PoP therefore lands in one shard, so the part that sees the PoP's router go down
also holds every commune behind it and can call them UNREACHABLE: one outage, one alert.
Every site is in exactly one shard, and adding a site moves no other one; the price is
that a shard cannot be smaller than the largest subtree. `sites_in_shard()` is what an
agent of shard I uses to pick its targets; `--shard I/N` here keeps the agents that stand
at a site of shard I, so that Prometheus server I of N scrapes exactly those agents.

The file is written to a temporary name beside it and renamed over it, so Prometheus
(which re-reads the file when it changes) never sees half of it; the temporary name does
not end in .json, so a `*.json` file_sd pattern never matches it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from agent.config import DEFAULT_PORT
from agent.inventory import load_inventory
from agent.inventory.model import Host, Inventory
from agent.yamlfile import ConfigError

AGENT_ROLE = "monitoring_server"
AGENT_PLATFORM = "linux"  # commune_office.yml installs egov-agent on every Linux host
PORT_VAR = "egov_agent_port"


def parse_shard(spec: str) -> tuple[int, int]:
    """`I/N` -> (I, N), shards numbered from 1."""
    index, _, count = spec.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise ConfigError(f"expected I/N with 1 <= I <= N, like 2/3, got {spec!r}", key="--shard")
    return i, n


def anchor(inventory: Inventory, name: str) -> str:
    """The site just below the root on `name`'s uplink chain (the root is its own anchor)."""
    site = inventory.site(name)
    while site.uplink is not None and inventory.sites[site.uplink].uplink is not None:
        site = inventory.sites[site.uplink]
    return site.name


def shard_of(inventory: Inventory, name: str, count: int) -> int:
    """The shard (1 to count) of site `name`: a hash that is the same in every process and release."""
    digest = hashlib.sha256(anchor(inventory, name).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def sites_in_shard(inventory: Inventory, spec: str) -> list[str]:
    """The names of the sites of shard `I/N`, sorted."""
    index, count = parse_shard(spec)
    return sorted(name for name in inventory.sites if shard_of(inventory, name, count) == index)


def agent_hosts(inventory: Inventory, agents: str | None = None) -> list[Host]:
    """The hosts that run egov-agent: role monitoring_server and every Linux host, or the groups
    and hosts named in `agents`."""
    if agents is None:
        names = {host.name for host in inventory.hosts.values()
                 if host.role == AGENT_ROLE or host.platform == AGENT_PLATFORM}
        if not names:
            raise ConfigError(f"no host has egov_role {AGENT_ROLE} or egov_platform {AGENT_PLATFORM}: name the "
                              f"agent hosts or their group with --agents", inventory.ansible.path)
    else:
        names = set()
        for name in filter(None, (part.strip() for part in agents.split(","))):
            if name in inventory.ansible.groups:
                members = {h for h in inventory.hosts if name in inventory.ansible.groups_of(h)}
                if not members:
                    raise ConfigError(f"group {name!r} has no host", inventory.ansible.path, key="--agents")
                names |= members
            elif name in inventory.hosts:
                names.add(name)
            else:
                raise ConfigError(f"no group or host named {name!r} in the inventory", inventory.ansible.path,
                                  key="--agents")
        if not names:
            raise ConfigError(f"expected group or host names separated by commas, got {agents!r}", key="--agents")
    hosts = [inventory.hosts[name] for name in sorted(names)]
    for host in hosts:
        if host.address is None:
            raise inventory.ansible.hosts[host.name].error(
                f"host {host.name} runs egov-agent but has no address: set ansible_host", "ansible_host")
    return hosts


def _port(host: Host) -> int:
    port = host.vars.get(PORT_VAR, DEFAULT_PORT)
    if not 1 <= port <= 65535:
        raise host.vars.error(PORT_VAR, f"host {host.name}: expected a port from 1 to 65535, got {port}")
    return port


def target_groups(inventory: Inventory, agents: str | None = None, shard: str | None = None) -> list[dict]:
    """The file_sd target groups: one per agent host, sorted by host name."""
    hosts = agent_hosts(inventory, agents)
    if shard is not None:
        keep = set(sites_in_shard(inventory, shard))
        hosts = [host for host in hosts if host.site in keep]
    groups = []
    for host in hosts:
        address = f"[{host.address}]" if ":" in host.address else host.address  # IPv6
        site = inventory.sites[host.site]
        groups.append({"targets": [f"{address}:{_port(host)}"],
                       "labels": {"agent": host.name, "site": site.name, "site_type": site.type}})
    return groups


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; Prometheus runs as another user
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def run(inventory_path: str, out_path: str, agents: str | None = None, shard: str | None = None) -> int:
    """Write the file_sd file for the inventory's agents (of one shard); 0 on success."""
    if shard is not None:
        parse_shard(shard)  # a bad spec is an error before the inventory is read
    groups = target_groups(load_inventory(inventory_path), agents, shard)
    text = json.dumps(groups, indent=2, ensure_ascii=False) + "\n"
    where = f"{out_path}: {len(groups)} agent(s)" + (f" in shard {shard}" if shard else "")
    try:
        if Path(out_path).read_text(encoding="utf-8") == text:  # Ansible's changed_when reads this
            print(f"{where}, unchanged")
            return 0
    except (OSError, UnicodeDecodeError):
        pass
    try:
        write_atomically(Path(out_path), text)
    except OSError as err:
        raise ConfigError(f"cannot write the targets file: {err.strerror}", out_path) from None
    print(where)
    return 0
