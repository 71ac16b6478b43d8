"""The site tree as text, for `egov-agent inventory show`.

    Tỉnh Mẫu — tinh_mau (province)
    ├─ Trung tâm dữ liệu chính — dc_chinh (datacenter)
    │  ├─ dc-chinh-rtr  router  cisco_xe  127.10.1.1
    │  └─ Tủ rack A1 — dc_chinh_rack_a1 (rack)
    └─ Xã Tân Lập — xa_tan_lap (commune), uplink via pop_bac_son

Each site shows its hosts (name, role, platform, address; `-` when unset) and then its
child sites. The uplink is shown only where it is not the administrative parent.
"""

from __future__ import annotations

from agent.inventory.model import Inventory, Site


def render_tree(inventory: Inventory) -> str:
    lines = [_site_label(inventory.root)]
    _add_branch(inventory, inventory.root, "", lines)
    return "\n".join(lines) + "\n"


def _site_label(site: Site) -> str:
    label = f"{site.display_name} — {site.name} ({site.type})"
    return label if site.uplink == site.parent else f"{label}, uplink via {site.uplink}"


def _add_branch(inventory: Inventory, site: Site, prefix: str, lines: list[str]) -> None:
    rows = [(h.name, h.role, h.platform or "-", h.address or "-") for h in inventory.hosts_at(site.name)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)] if rows else []
    items: list[tuple[str, Site | None]] = [
        ("  ".join(cell.ljust(width) for cell, width in zip(row, widths + [0])), None) for row in rows]
    items += [(_site_label(child), child) for child in inventory.children(site.name)]
    for i, (text, child) in enumerate(items):
        last = i == len(items) - 1
        lines.append(prefix + ("└─ " if last else "├─ ") + text)
        if child:
            _add_branch(inventory, child, prefix + ("   " if last else "│  "), lines)
