"""What the agent hands every collector: the inventory and where this agent stands in it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    inventory: Any = None  # agent.inventory.Inventory, or None when running without one
    inventory_path: str | None = None  # where it was read from (for what runs Ansible or `audit backup` on it)
    host: str = field(default_factory=socket.gethostname)  # this agent's inventory host name
