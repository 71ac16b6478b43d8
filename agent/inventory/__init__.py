"""The inventory: an Ansible YAML inventory read as sites, hosts and monitoring targets.

`ansible` reads the inventory with Ansible's own semantics (without Ansible), `model`
turns its `egov_*` variables into the site tree and targets, `tree` renders the tree.
"""

from agent.inventory.model import (NETWORK_PLATFORMS, NETWORK_ROLES, NETWORK_TEAM_ROLES, PLATFORMS, ROLES,
                                   SITE_TYPES, Host, Inventory, InventoryError, Site, Target, load_inventory, validate)
from agent.inventory.tree import render_tree

__all__ = ["NETWORK_PLATFORMS", "NETWORK_ROLES", "NETWORK_TEAM_ROLES", "PLATFORMS", "ROLES", "SITE_TYPES", "Host",
           "Inventory", "InventoryError", "Site", "Target", "load_inventory", "render_tree", "validate"]
