"""One table of exit codes, kept by every `egov-agent` command (README, "Exit codes").

0–3 are the Nagios plugin codes, so `egov-agent check` and `meeting-check` fit Nagios,
Icinga and Zabbix as they are. 4 and 5 tell a caller that the run judged nothing because
of its input, never to be read as "critical"; Nagios shows them as UNKNOWN.
"""

from __future__ import annotations

OK = 0  # done, nothing wrong found
WARNING = 1  # done; something to look at (a check WARNING)
CRITICAL = 2  # done; something is wrong: a check CRITICAL, a critical rule failing, an endpoint not
#               ready, a provisioning task failed
UNKNOWN = 3  # not everything could be judged or done: a target, device or host unreachable, a
#              collector failed, the audit store in use or broken
BAD_INPUT = 4  # an inventory, agent.yml, web config or file that does not load or validate, a
#                --limit naming nothing
USAGE = 5  # the command line itself is wrong (argparse's usage errors)
INTERRUPTED = 130  # Ctrl-C, as the shell counts it
BROKEN_PIPE = 141  # `egov-agent audit report | head`: the reader stopped reading


def worst(*codes: int) -> int:
    """The code of a run made of several parts: CRITICAL over UNKNOWN over WARNING over OK;
    bad input or usage wins over all (nothing it reported can be trusted whole)."""
    order = [OK, WARNING, UNKNOWN, CRITICAL, BAD_INPUT, USAGE]
    return max(codes, key=order.index, default=OK)
