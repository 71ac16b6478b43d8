"""Packet loss on chosen loopback addresses, with nftables (tc netem is not in this kernel).

`dropping(lossy, refused)` adds a table of our own, uniquely named, and deletes exactly
that table afterwards, however the block ends:

- `lossy` {address: one_in}: the input hook drops echo requests arriving for the address,
  every one (one_in=1) or one in N at random (numgen). Dropping on input is what a lossy
  link does: the sender's sendto() succeeds and the echo is never answered.
- `refused` [address]: the output hook drops echo requests to the address, so sendto()
  itself fails (EPERM), as behind a local firewall: nothing can be sent at all.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager

from tests.peers import require


def _chain(hook: str, rules: list[str]) -> str:
    body = "".join(f"    {rule}\n" for rule in rules)
    return f"  chain {hook} {{\n    type filter hook {hook} priority 0; policy accept;\n{body}  }}\n"


@contextmanager
def dropping(lossy: dict[str, int], refused: tuple[str, ...] = ()):
    nft = require("nft")
    table = f"egov_test_loss_{os.getpid()}"
    echo = "icmp type echo-request"
    inbound = [f"ip daddr {address} {echo} " + (f"numgen random mod {one_in} 0 " if one_in > 1 else "") + "drop"
               for address, one_in in lossy.items()]
    outbound = [f"ip daddr {address} {echo} drop" for address in refused]
    ruleset = f"table inet {table} {{\n{_chain('input', inbound)}{_chain('output', outbound)}}}\n"
    subprocess.run([nft, "-f", "-"], input=ruleset, text=True, check=True, capture_output=True)
    try:
        yield table
    finally:
        subprocess.run([nft, "delete", "table", "inet", table], check=True, capture_output=True)
