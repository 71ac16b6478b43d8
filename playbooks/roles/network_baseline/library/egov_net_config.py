#!/usr/bin/python
"""Ansible module egov_net_config: bring a router's or switch's running configuration up to
a golden configuration, over its SSH CLI with netmiko, adding only what is missing."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: egov_net_config
short_description: Apply the lines of a golden configuration a network device lacks (netmiko)
description:
  - Logs in to the device with netmiko, reads its running configuration and computes, per
    context (global, or a block such as C(interface X), C(line vty 0 4), C(vlan 10)), the
    golden lines it lacks. A golden line C(no X) (IOS) or C(undo X) (VRP) asks that no line
    C(X ...) be there.
  - Sends only the missing lines, one at a time, then commits where the platform's
    configuration is two-stage (VRP8) and saves (C(write memory) / C(save)). When the device
    rejects a line (C(% Invalid input) on IOS, C(Error:) on VRP) it stops, saves nothing,
    fails and reports the lines applied before it.
  - Logs in as the agent does (egov-agent's collectors/_ssh_session.py): the same
    credentials from the environment, the same known_hosts file and host-key policy (a
    device seen for the first time has its key recorded, a changed key is refused).
  - In check mode it reads the configuration and reports the diff without changing anything.
  - Runs on the controller (connection local), in the Python where egov-agent is installed
    (its agent.audit.configtext reads configurations for the audit too); the cisco.ios
    collection is not needed.
options:
  host: {description: Address of the device., type: str, required: true}
  port: {description: Its SSH port., type: int, default: 22}
  device_type: {description: "netmiko device_type, one of egov-agent's agent/platforms.py.", type: str, required: true}
  username: {description: Login name., type: str, required: true}
  password_env:
    description: NAME of the controller's environment variable holding the password (never the password).
    type: str
    required: true
  secret_env:
    description: NAME of the variable holding the Cisco enable secret (below privilege 15).
    type: str
  known_hosts:
    description: known_hosts file of the devices' host keys; default the agent's (/var/lib/egov-agent/ssh_known_hosts).
    type: path
  lines:
    description:
      - "The golden configuration as the device prints it: blocks' lines indented."
      - A secret is written C(<env:NAME>) and typed from the controller's environment variable NAME;
        it is compared without its value, so the golden configuration, the diff and the results
        never hold it.
    type: list
    elements: str
    required: true
  timeout: {description: Seconds for the connection and for each command., type: int, default: 30}
author: egov-agent maintainers
"""

EXAMPLES = r"""
- name: Config | Apply the missing lines
  egov_net_config:
    host: 127.10.9.1
    device_type: cisco_ios
    username: egov-netops
    password_env: EGOV_NET_PASSWORD
    lines: "{{ lookup('ansible.builtin.template', 'cisco_ios.j2').splitlines() }}"
"""

RETURN = r"""
applied: {description: Lines sent to the device (would be sent, in check mode)., type: list, returned: always}
missing:
  description: "Missing lines per context: [context, [lines]]; context '' is global."
  type: list
  returned: always
"""

import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from agent import platforms
from agent.audit.configtext import commands, fill, merged, missing_lines
from agent.collector import CollectorError
from collectors._ssh_session import DEFAULT_KNOWN_HOSTS, close, credentials, login


class Rejected(Exception):
    def __init__(self, line, answer):
        super().__init__(line)
        self.line, self.answer = line, answer


def apply(connection, typed, platform, timeout, applied):
    """Type the lines in configuration mode, one at a time, appending each accepted one to
    `applied`; raise Rejected at the first the device refuses. The hostname comes last: the
    prompt changes with it."""
    connection.config_mode()
    rename = [line for line in typed if line.startswith(platform.hostname + " ")]
    for line in [line for line in typed if line not in rename]:
        answer = connection.send_config_set([fill(line, os.environ)], enter_config_mode=False,
                                            exit_config_mode=False, read_timeout=timeout)
        if platform.rejected.search(answer):
            raise Rejected(line, answer)
        applied.append(line)
    for line in rename:
        connection.send_config_set([line], enter_config_mode=False, exit_config_mode=False, cmd_verify=False)
        applied.append(line)
    if platform.commit:
        connection.commit()
    connection.exit_config_mode()
    if rename:
        # netmiko finds its way by the prompt: learn the new name outside configuration mode
        # (netmiko keeps 16 characters of it, and "(config)" would take 8 of them)
        connection.set_base_prompt()


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec=dict(host=dict(type="str", required=True), port=dict(type="int", default=22),
                           device_type=dict(type="str", required=True), username=dict(type="str", required=True),
                           password_env=dict(type="str", required=True, no_log=False),
                           secret_env=dict(type="str", no_log=False), known_hosts=dict(type="path"),
                           lines=dict(type="list", elements="str", required=True),
                           timeout=dict(type="int", default=30)),
        supports_check_mode=True)
    params = module.params
    platform = platforms.get(params["device_type"])
    if platform is None:
        module.fail_json(msg=f"device_type {params['device_type']!r} is not supported; one of {platforms.names()}")
    account = SimpleNamespace(username=params["username"], password_env=params["password_env"],
                              secret_env=params["secret_env"], key_file=None)  # as an ssh check says it
    where = f"{params['host']}:{params['port']}"
    known_hosts = Path(os.path.expanduser(params["known_hosts"] or DEFAULT_KNOWN_HOSTS))
    applied = []
    try:
        connection = login(params["host"], platform.name, params["host"], params["port"],
                           credentials(account, os.environ), known_hosts, params["timeout"],
                           logging.getLogger("egov.provision"))
    except ImportError:
        module.fail_json(msg=f"netmiko is not installed for {sys.executable} (the plays' ansible_python_interpreter)")
    except CollectorError as err:
        module.fail_json(msg=f"cannot log in to {where}: {err.detail}")
    try:
        running = connection.send_command(platform.show_config, read_timeout=params["timeout"]).splitlines()
        missing = missing_lines(params["lines"], running, platform.negation)
        typed = commands(missing, platform.exit)
        result = dict(changed=bool(missing), missing=[[h, lines] for h, lines in missing], applied=[],
                      diff={"before": "\n".join(running) + "\n",
                            "after": "\n".join(merged(running, missing)) + "\n",
                            "before_header": f"{where} running", "after_header": f"{where} golden"})
        if module.check_mode or not missing:
            result["applied"] = typed
            module.exit_json(**result)
        apply(connection, typed, platform, params["timeout"], applied)
        connection.save_config()
        result["applied"] = applied
        module.exit_json(**result)
    except KeyError as err:  # a <env:NAME> placeholder of the golden configuration
        module.fail_json(msg=f"{where}: the environment variable {err.args[0]} (a secret of the golden configuration) "
                             f"is not set; applied before it: {'; '.join(applied) or 'nothing'}", applied=applied)
    except Rejected as err:
        answer = " ".join(line.strip() for line in err.answer.splitlines() if platform.rejected.search(line))
        before = "; ".join(applied) if applied else "nothing"
        state = ("typed, never committed: the device drops them" if platform.commit
                 else "in the running configuration and not saved")
        module.fail_json(msg=f"{where} rejected {err.line!r} ({answer}); applied before it, {state}: {before}",
                         applied=applied, rejected=err.line)
    except Exception as err:
        module.fail_json(msg=f"{where}: {type(err).__name__} after applying {len(applied)} lines",
                         applied=applied)
    finally:
        close(connection)


if __name__ == "__main__":
    main()
