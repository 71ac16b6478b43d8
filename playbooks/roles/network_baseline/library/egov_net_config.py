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
  - Sends only the missing lines, one at a time, then saves (C(write memory) / C(save)).
    When the device rejects a line (C(% Invalid input) on IOS, C(Error:) on VRP) it stops,
    saves nothing, fails and reports the lines applied before it.
  - In check mode it reads the configuration and reports the diff without changing anything.
  - Runs on the controller (connection local), in the Python where egov-agent is installed
    (its agent.audit.configtext reads configurations for the audit too); the cisco.ios
    collection is not needed.
options:
  host: {description: Address of the device., type: str, required: true}
  port: {description: Its SSH port., type: int, default: 22}
  device_type: {description: "netmiko device_type: cisco_ios, cisco_xe, huawei.", type: str, required: true}
  username: {description: Login name., type: str, required: true}
  password: {description: The password; else the variable password_env names., type: str}
  password_env: {description: NAME of the controller's environment variable holding the password., type: str}
  secret_env:
    description: NAME of the variable holding the Cisco enable secret (below privilege 15).
    type: str
  known_hosts:
    description: known_hosts file holding the device's host key; without it any key is accepted.
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

import os
import re
import sys

from agent.audit.configtext import EXIT, NEGATION, commands, fill, merged, missing_lines

# What each platform needs beyond netmiko: how to read the configuration, leave a block,
# negate a line, and what a rejected command looks like.
PLATFORMS = {
    "cisco_ios": {"show": "show running-config", "exit": EXIT["cisco_ios"], "negation": NEGATION["cisco_ios"],
                  "error": r"% ?(Invalid input|Incomplete command|Ambiguous command)", "hostname": "hostname "},
    "huawei": {"show": "display current-configuration", "exit": EXIT["huawei"], "negation": NEGATION["huawei"],
               "error": r"(?m)^\s*Error:", "hostname": "sysname "},
}
PLATFORMS["cisco_xe"] = PLATFORMS["cisco_ios"]
PLATFORMS["huawei_vrpv8"] = PLATFORMS["huawei"]


# ------------------------------------------------------------------ the device


class Rejected(Exception):
    def __init__(self, line, answer):
        super().__init__(line)
        self.line, self.answer = line, answer


def connect(params, password, secret):
    from netmiko import ConnectHandler

    settings = dict(device_type=params["device_type"], host=params["host"], port=params["port"],
                    username=params["username"], password=password, secret=secret or "",
                    timeout=params["timeout"], conn_timeout=params["timeout"], auth_timeout=params["timeout"],
                    banner_timeout=params["timeout"], fast_cli=False)
    if params["known_hosts"]:
        settings.update(ssh_strict=True, system_host_keys=False, alt_host_keys=True,
                        alt_key_file=params["known_hosts"])
    connection = ConnectHandler(**settings)
    if secret:
        connection.enable()
    return connection


def login_failure(err, known_hosts):
    """Why a login failed, in our words."""
    from netmiko.exceptions import NetmikoAuthenticationException

    cause = err.__context__ or err
    if "not found in known_hosts" in str(cause):
        return f"its host key is not in {known_hosts}: refused"
    if type(cause).__name__ == "BadHostKeyException":
        return f"it presents a host key other than the one in {known_hosts}: refused"
    if isinstance(err, NetmikoAuthenticationException):
        return "the device refused the login"
    return type(err).__name__


def apply(connection, typed, platform, timeout, applied):
    """Type the lines in configuration mode, one at a time, appending each accepted one to
    `applied`; raise Rejected at the first the device refuses. The hostname comes last: the
    prompt changes with it."""
    error = re.compile(platform["error"])
    connection.config_mode()
    rename = [line for line in typed if line.startswith(platform["hostname"])]
    for line in [line for line in typed if line not in rename]:
        answer = connection.send_config_set([fill(line, os.environ)], enter_config_mode=False,
                                            exit_config_mode=False, read_timeout=timeout)
        if error.search(answer):
            raise Rejected(line, answer)
        applied.append(line)
    for line in rename:
        connection.send_config_set([line], enter_config_mode=False, exit_config_mode=False, cmd_verify=False)
        applied.append(line)
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
                           password=dict(type="str", no_log=True), password_env=dict(type="str", no_log=False),
                           secret_env=dict(type="str", no_log=False), known_hosts=dict(type="path"),
                           lines=dict(type="list", elements="str", required=True),
                           timeout=dict(type="int", default=30)),
        required_one_of=[("password", "password_env")], supports_check_mode=True)
    params = module.params
    platform = PLATFORMS.get(params["device_type"])
    if platform is None:
        module.fail_json(msg=f"device_type {params['device_type']!r} is not supported; "
                             f"one of {', '.join(sorted(PLATFORMS))}")
    password = params["password"] or os.environ.get(params["password_env"] or "")
    if not password:
        module.fail_json(msg=f"the environment variable {params['password_env']} (the device password) is not set")
    secret = os.environ.get(params["secret_env"]) if params["secret_env"] else None
    where = f"{params['host']}:{params['port']}"
    applied = []
    try:
        connection = connect(params, password, secret)
    except ImportError:
        module.fail_json(msg=f"netmiko is not installed for {sys.executable} (the plays' ansible_python_interpreter)")
    except Exception as err:  # the library's messages can carry the settings: our words only
        module.fail_json(msg=f"cannot log in to {where}: {login_failure(err, params['known_hosts'])}")
    try:
        running = connection.send_command(platform["show"], read_timeout=params["timeout"]).splitlines()
        missing = missing_lines(params["lines"], running, platform["negation"])
        typed = commands(missing, platform["exit"])
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
        answer = " ".join(line.strip() for line in err.answer.splitlines() if platform["error"] and
                          re.search(platform["error"], line))
        before = "; ".join(applied) if applied else "nothing"
        module.fail_json(msg=f"{where} rejected {err.line!r} ({answer}); applied before it, in the running "
                             f"configuration and not saved: {before}", applied=applied, rejected=err.line)
    except Exception as err:
        module.fail_json(msg=f"{where}: {type(err).__name__} after applying {len(applied)} lines",
                         applied=applied)
    finally:
        try:
            connection.disconnect()
        except Exception:  # the device already closed the session
            pass


if __name__ == "__main__":
    main()
