"""A synthetic province: N communes, each a router, a switch and eight PCs, all on loopback.

The issue's shape (500 communes = 5,000 hosts), written as an Ansible YAML inventory the way
inventory/example is: a site tree, role groups with their group_vars, every host an address.
Commune c's hosts sit at 127.<20 + c // 250>.<c % 250>.<n>: the router .1, the switch .2,
the PCs .11-.18; nothing listens there, so probes fail fast (connection refused) or time out.

    python -m benchmarks.province DIR [--communes N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PCS = 8
ROLES = {  # role group: (its group_vars, the host-name suffixes and last octets of a commune)
    "routers": ({"egov_role": "router", "egov_platform": "cisco_ios",
                 "egov_checks": {"icmp": None, "snmp": None}}, [("rtr", 1)]),
    "switches": ({"egov_role": "switch", "egov_platform": "huawei",
                  "egov_checks": {"icmp": None, "snmp": None}}, [("sw", 2)]),
    "office_pcs": ({"egov_role": "office_pc", "egov_platform": "windows", "egov_checks": {"icmp": None}},
                   [(f"pc-{n:02d}", 10 + n) for n in range(1, PCS + 1)]),
}
ALL_VARS = {"egov_check_defaults": {"icmp": {"count": 3, "spacing": "1s", "timeout": "1s"},
                                    "snmp": {"version": "2c", "community_env": "EGOV_SNMP_COMMUNITY"}},
            "egov_checks": {"icmp": None}}


def address(commune: int, last: int) -> str:
    return f"127.{20 + commune // 250}.{commune % 250}.{last}"


def write_province(directory: Path, communes: int = 500) -> Path:
    """Write the inventory into `directory` (created); returns it, ready for `-i`."""
    directory.mkdir(parents=True, exist_ok=True)
    sites, roles = {}, {role: {} for role in ROLES}
    for c in range(communes):
        hosts = {}
        for role, (_, members) in ROLES.items():
            for suffix, last in members:
                hosts[f"x{c:03d}-{suffix}"] = {"ansible_host": address(c, last)}
                roles[role][f"x{c:03d}-{suffix}"] = None
        sites[f"xa_{c:03d}"] = {"vars": {"egov_site_type": "commune", "egov_site_name": f"Xã {c:03d}"},
                                "hosts": hosts}
    tree = {"tinh_tong_hop": {"vars": {"egov_site_type": "province", "egov_site_name": "Tỉnh tổng hợp"},
                              "children": {"communes": {"children": sites}}}}
    # JSON is YAML: the agent's loader reads these files as it reads hand-written ones
    (directory / "00-sites.yml").write_text(json.dumps(tree, ensure_ascii=False, indent=1))
    (directory / "90-roles.yml").write_text(json.dumps(
        {role: {"hosts": members} for role, members in roles.items()}, indent=1))
    group_vars = directory / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(json.dumps(ALL_VARS))
    for role, (role_vars, _) in ROLES.items():
        (group_vars / f"{role}.yml").write_text(json.dumps(role_vars))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--communes", type=int, default=500)
    args = parser.parse_args()
    print(write_province(args.directory, args.communes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
