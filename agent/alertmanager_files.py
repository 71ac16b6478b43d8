"""The province's Alertmanager files, from the repository's and the inventory's:

    python -m agent.alertmanager_files -i INVENTORY --source monitoring/alertmanager.yml \\
        --settings '{"teams": {...}, "smtp": {...}, ...}' -o DIR

writes DIR/alertmanager.yml and DIR/egov-inventory.tmpl (the monitoring_server role runs it on
the controller beside `egov-agent targets`, and copies both to the server).

alertmanager.yml is monitoring/alertmanager.yml (routes, inhibitions) with, for each team of
`teams` ({"network": ["mang@tinh.gov.vn"], ...}), its receiver replaced by an e-mail to the
team's addresses through the province's smarthost, STARTTLS required, the password read
from a file (`smtp_auth_password_file`) so that it is in no config; every notified alert
is followed by its resolution (send_resolved). Teams left out keep the receiver they have.

egov-inventory.tmpl holds what the mails (monitoring/alertmanager_templates/egov-mail.tmpl)
need from the inventory, which Alertmanager cannot read. An alert carries a site's group
name (`site="xa_an_phu"`); a mail says "Xã An Phú":

- `egov.province`: the root site's display name;
- `egov.site_name` (called with a site's group name): its display name, else the name as given;
- `egov.status_page` (called with an alert): the status page of the agent the alert names
  (`instance`), else those of the agents that probe the province (role monitoring_server).

Every name is written as a Go string literal, so a name holding `{{` stays text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from agent import exitcodes
from agent.inventory import load_inventory
from agent.inventory.model import Inventory
from agent.targets import AGENT_ROLE, target_groups, write_atomically
from agent.yamlfile import ConfigError

NAMES_FILE = "egov-inventory.tmpl"
SMTP_KEYS = {"smarthost", "from", "hello", "username", "password_env", "tls_config"}
# the templates of monitoring/alertmanager_templates/egov-mail.tmpl; no HTML part
MAIL = {"headers": {"Subject": '{{ template "egov.mail.subject" . }}'},
        "text": '{{ template "egov.mail.text" . }}', "html": ""}


def _literal(text: str) -> str:
    """A Go template string literal: JSON's escapes are Go's (\\", \\\\, \\n, \\uXXXX)."""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def names_template(inventory: Inventory, scheme: str = "http") -> str:
    root = next(site for site in inventory.sites.values() if site.parent is None)
    branches = "".join(f'{{{{ {"if" if i == 0 else "else if"} eq . {json.dumps(name)} }}}}{_literal(site.display_name)}'
                       for i, (name, site) in enumerate(sorted(inventory.sites.items())))
    probing = ",".join(host.name for host in inventory.hosts.values() if host.role == AGENT_ROLE)
    pages = [f"{scheme}://{group['targets'][0]}/" for group in target_groups(inventory, probing)] if probing else []
    return ("{{/* Written by agent/alertmanager_files.py from the inventory: edit the inventory, not this. */}}\n"
            f'{{{{ define "egov.province" }}}}{_literal(root.display_name)}{{{{ end }}}}\n'
            f'{{{{ define "egov.site_name" }}}}{branches}{{{{ else }}}}{{{{ . }}}}{{{{ end }}}}{{{{ end }}}}\n'
            f'{{{{ define "egov.status_page" }}}}{{{{ with .Labels.instance }}}}{_literal(scheme + "://")}{{{{ . }}}}/'
            f'{{{{ else }}}}{_literal(" ".join(pages))}{{{{ end }}}}{{{{ end }}}}\n')


def alertmanager_config(source: dict, teams: dict, smtp: dict, templates_dir: str, password_file: str) -> dict:
    """`source` (monitoring/alertmanager.yml) with this server's templates and the teams' mail receivers."""
    receivers = {receiver["name"] for receiver in source["receivers"]}
    for team, addresses in teams.items():
        if team not in receivers:
            raise ConfigError(f"no receiver {team!r} in monitoring/alertmanager.yml (there are "
                              f"{', '.join(sorted(receivers))})", key=f"monitoring_server_teams.{team}")
        if not isinstance(addresses, list) or not addresses or not all("@" in str(a) for a in addresses):
            raise ConfigError(f"expected a list of e-mail addresses, got {addresses!r}",
                              key=f"monitoring_server_teams.{team}")
    config = {key: value for key, value in source.items() if key not in ("global", "templates")}
    config["templates"] = [f"{templates_dir}/*.tmpl"]
    if not teams:
        return {**({"global": source["global"]} if "global" in source else {}), **config}
    if unknown := sorted(set(smtp) - SMTP_KEYS):
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(SMTP_KEYS))})",
                          key="monitoring_server_smtp")
    if missing := [key for key in ("smarthost", "from") if not smtp.get(key)]:
        raise ConfigError(f"the teams' mail needs {' and '.join(missing)}", key="monitoring_server_smtp")
    settings = {"smtp_smarthost": smtp["smarthost"], "smtp_from": smtp["from"], "smtp_require_tls": True}
    if smtp.get("hello"):
        settings["smtp_hello"] = smtp["hello"]
    if smtp.get("username"):
        settings.update(smtp_auth_username=smtp["username"], smtp_auth_password_file=password_file)
    tls = {"tls_config": smtp["tls_config"]} if smtp.get("tls_config") else {}
    config["receivers"] = [
        {"name": receiver["name"],
         "email_configs": [{"to": ", ".join(teams[receiver["name"]]), "send_resolved": True, **MAIL, **tls}]}
        if receiver["name"] in teams else receiver
        for receiver in source["receivers"]]
    return {"global": {**source.get("global", {}), **settings}, **config}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.alertmanager_files",
                                     description="Write alertmanager.yml and egov-inventory.tmpl for a province.")
    parser.add_argument("-i", "--inventory", required=True, metavar="PATH")
    parser.add_argument("--source", required=True, metavar="FILE", help="monitoring/alertmanager.yml")
    parser.add_argument("--settings", required=True, metavar="JSON",
                        help='{"teams": {}, "smtp": {}, "templates_dir": ..., "password_file": ..., "scheme": "http"}')
    parser.add_argument("-o", "--output", required=True, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        settings = json.loads(args.settings)
        config = alertmanager_config(yaml.safe_load(Path(args.source).read_text(encoding="utf-8")),
                                     settings.get("teams") or {}, settings.get("smtp") or {},
                                     settings["templates_dir"], settings["password_file"])
        names = names_template(load_inventory(args.inventory), settings.get("scheme", "http"))
        out = Path(args.output)
        write_atomically(out / "alertmanager.yml", "# From monitoring/alertmanager.yml and the inventory "
                         "(agent/alertmanager_files.py)\n"
                         + yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=200))
        write_atomically(out / NAMES_FILE, names)
    except (ConfigError, OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return exitcodes.BAD_INPUT
    print(f"{out}: alertmanager.yml, {NAMES_FILE}")
    return exitcodes.OK


if __name__ == "__main__":
    sys.exit(main())
