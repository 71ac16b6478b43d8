"""`--limit`, with Ansible's meaning for the names it takes: every command that works on part
of an inventory (provision, meeting-check, audit backup/report/fix) scopes it this way.

A limit is hosts and sites (site groups), separated by `,` or `:` as in
`ansible-playbook --limit` (docs.ansible.com, "Patterns: targeting hosts and groups",
"Common patterns"); a site brings every host at it and at the sites under it, as a group
brings its child groups' hosts in Ansible. Ansible's wildcards, `!` and `&` are not taken:
a name that is neither a host nor a site is a located error, with the names near it.
"""

from __future__ import annotations

import difflib
import re

from agent.inventory.model import Inventory
from agent.yamlfile import ConfigError


def limit_hosts(inventory: Inventory, limit: str | None) -> list[str]:
    """The names of the hosts in `limit`, in inventory order; every host without one."""
    if not limit:
        return list(inventory.hosts)
    wanted: set[str] = set()
    for name in (n.strip() for n in re.split(r"[,:]", limit) if n.strip()):
        if name in inventory.hosts:
            wanted.add(name)
        elif name in inventory.sites:
            sites = [name]
            while sites:
                site = sites.pop()
                wanted.update(inventory.site(site).hosts)
                sites.extend(inventory.site(site).children)
        else:
            near = difflib.get_close_matches(name, [*inventory.sites, *inventory.hosts], n=5)
            raise ConfigError(f"no site or host named {name!r}" + (f" (near: {', '.join(near)})" if near else ""),
                              key="--limit")
    return [name for name in inventory.hosts if name in wanted]
