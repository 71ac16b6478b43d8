"""Jinja filters over egov-agent's platform records (agent/platforms.py): the plays and the
network_baseline role read each platform's facts from the one place the agent reads them.
They run on the controller, in the Python where egov-agent is installed."""

from agent import platforms


def golden_template(device_type):
    """The network_baseline template of a netmiko device_type; '' when egov-agent does not provision it."""
    platform = platforms.get(device_type)
    return platform.template if platform and platform.template else ""


class FilterModule:
    def filters(self):
        return {"egov_golden_template": golden_template}
