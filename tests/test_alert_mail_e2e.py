"""Alerts that reach people, end to end: a PoP's uplink is cut under a real agent, and the
network team finds exactly one mail in its real mailbox, in Vietnamese first, naming the PoP
with its diacritics and the number of sites behind it; when the uplink is back, exactly one
resolved mail follows.

The monitoring server is what playbooks/monitoring_server.yml makes of a disposable target
(tests/peer_sshd.py): Prometheus and Alertmanager from Debian's packages, configured from the
inventory (the teams' addresses, the smarthost with STARTTLS and a password from the
environment). The mail goes through real postfix into dovecot (tests/peer_mail.py), read
back over IMAP. Only the durations are shortened (tests/alerting.py), in a copy of
monitoring/ the role is pointed at.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import os
import shutil
import ssl
from pathlib import Path

import yaml

from tests.alerting import (COMMUNE_ROUTERS, POP_ROUTER, SITE_NAMES, agent_config, shorten_rules, shorten_timers,
                            stays, wait_for, write_inventory)
from tests.peer_nft import dropping
from tests.peer_sshd import connection, make_key, override_inventory, provision_run, require_baseline_packages
from tests.peers import free_port, query

REPO = Path(__file__).resolve().parent.parent
SERVER = "giamsat-01"
PASSWORD_ENV = "EGOV_TEST_ALERT_SMTP_PASSWORD"
TARGET_CA = "/etc/ssl/egov-test-mail-ca.pem"  # where the mail server's certificate goes on the target


def shortened_monitoring(directory: Path) -> Path:
    """A copy of monitoring/ with every `for:` and Alertmanager timer divided by SPEEDUP and
    Prometheus scraping and evaluating every second."""
    copy = directory / "monitoring"
    shutil.copytree(REPO / "monitoring", copy, ignore=shutil.ignore_patterns("tests"))
    shorten_rules(copy / "prometheus" / "rules")
    routes = copy / "alertmanager.yml"
    routes.write_text(yaml.safe_dump(shorten_timers(yaml.safe_load(routes.read_text())), allow_unicode=True,
                                     sort_keys=False))
    prometheus = copy / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(prometheus.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="900ms")
    prometheus.write_text(yaml.safe_dump(config, sort_keys=False))
    return copy


def mailbox(peer, address: str) -> list[email.message.EmailMessage]:
    """Every message in `address`'s INBOX, over IMAPS (the peer's certificate is for mail.test)."""
    context = ssl.create_default_context(cafile=str(peer.ca_file))
    context.check_hostname = False  # reached as 127.0.0.1; the chain is still verified
    with imaplib.IMAP4_SSL(peer.host, peer.imaps_port, ssl_context=context) as imap:
        # AUTHENTICATE PLAIN carries the UTF-8 password that LOGIN's ASCII quoting cannot
        imap.authenticate("PLAIN", lambda _: f"\0{address}\0{peer.password}".encode())
        imap.select("INBOX", readonly=True)
        _, numbers = imap.search(None, "ALL")
        messages = []
        for number in numbers[0].split():
            _, data = imap.fetch(number, "(RFC822)")
            messages.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
        return messages


def subjects(peer, address: str) -> list[str]:
    return [str(message["Subject"]) for message in mailbox(peer, address)]


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_pop_outage_mails_the_network_team_once_in_vietnamese_and_the_resolution_once(
        start_agent, mail_peer, ssh_targets, tmp_path):  # noqa: F811
    require_baseline_packages()
    inventory, config = tmp_path / "inventory", tmp_path / "agent.yml"
    target = ssh_targets.start()
    try:
        write_inventory(inventory, {SERVER: target.address})
        agent_config(config)
        agent = start_agent("-c", str(config), "-i", str(inventory))
        (inventory / "host_vars").mkdir()
        (inventory / "host_vars" / "egov-agent-01.yml").write_text(f"egov_agent_port: {agent.url.rsplit(':', 1)[1]}\n")
        target.path(TARGET_CA).write_bytes(mail_peer.ca_file.read_bytes())
        prometheus_port = free_port(target.address)
        teams = dict(zip(("datacenter", "network", "security"), ([address] for address in mail_peer.teams)))
        override = override_inventory(
            tmp_path / "override.yml", {SERVER: connection(target, ssh_targets.root_key)},
            make_key(tmp_path, "admin_key"), monitoring_server_apt_cache_valid_time=0,
            monitoring_server_prometheus_port=prometheus_port,
            monitoring_server_alertmanager_port=free_port(target.address),
            monitoring_server_monitoring_dir=str(shortened_monitoring(tmp_path)),
            monitoring_server_teams=teams,
            monitoring_server_smtp={"smarthost": f"{mail_peer.host}:{mail_peer.smtp_port}",
                                    "from": "giamsat@mail.test", "username": mail_peer.user,
                                    "password_env": PASSWORD_ENV,
                                    "tls_config": {"ca_file": TARGET_CA, "server_name": "mail.test"}})
        os.environ[PASSWORD_ENV] = mail_peer.password  # the controller's environment, as from Vault
        try:
            run = provision_run(SERVER, [str(inventory), str(override)], playbook="monitoring_server.yml")
        finally:
            del os.environ[PASSWORD_ENV]
        assert run.rc == 0, run.output[-6000:]
        # the password is in a file only Alertmanager's user reads, never in alertmanager.yml
        password_file = target.path("/etc/prometheus/alertmanager-smtp.password")
        assert password_file.read_text() == mail_peer.password and password_file.stat().st_mode & 0o007 == 0
        assert mail_peer.password not in target.path("/etc/prometheus/alertmanager.yml").read_text()
        assert mail_peer.password not in run.output

        network = teams["network"][0]
        others = [address for address in mail_peer.teams if address != network]
        prometheus = f"http://{target.address}:{prometheus_port}"

        def series(expression: str) -> dict[str, float]:
            return {s["metric"]["site"]: float(s["value"][1]) for s in query(prometheus, expression)}

        wait_for(lambda: series("egov_site_uplink_up"), dict.fromkeys(["pop_mot", *COMMUNE_ROUTERS], 1.0),
                 "every uplink up in the monitoring server's Prometheus", timeout=60)
        stays(lambda: [subjects(mail_peer, address) for address in mail_peer.teams], [[], [], []],
              "nobody mailed while healthy", seconds=3)

        with dropping(dict.fromkeys([POP_ROUTER, *COMMUNE_ROUTERS.values()], 1)):
            wait_for(lambda: len(mailbox(mail_peer, network)), 1, "one mail to the network team", timeout=90)
            stays(lambda: len(mailbox(mail_peer, network)), 1, "no second mail during the outage", seconds=5)
        [firing] = mailbox(mail_peer, network)
        subject, text = str(firing["Subject"]), body(firing)
        pop = SITE_NAMES["pop_mot"]
        assert subject.startswith(f"[{SITE_NAMES['province']}] SỰ CỐ / FIRING: {pop} — Mất đường truyền"), subject
        assert text.index("SỰ CỐ:") < text.index("---- English ----") < text.index("FIRING:")
        assert f"Ở đâu: {pop} (pop_mot), {SITE_NAMES['province']}" in text
        assert "3 điểm phía sau" in text and "(xa_ba, xa_hai, xa_mot)" in text
        assert "Nguyên nhân gốc: mất đường truyền (uplink) của chính điểm này" in text
        assert "Từ lúc: " in text and f"Trang trạng thái: {agent.url}/" in text
        assert "3 site(s) behind it are cut off" in text
        # postfix names the protocol (RFC 3848): ESMTPSA or UTF8SMTPSA, S for STARTTLS, A for AUTH
        assert "SMTPSA id" in firing["Received"], firing["Received"]

        wait_for(lambda: len(mailbox(mail_peer, network)), 2, "the resolution to the network team", timeout=90)
        stays(lambda: len(mailbox(mail_peer, network)), 2, "nothing after the resolution", seconds=5)
        resolved = mailbox(mail_peer, network)[1]
        assert str(resolved["Subject"]).startswith(f"[{SITE_NAMES['province']}] ĐÃ KHẮC PHỤC / RESOLVED: {pop}")
        assert "đã khắc phục lúc" in body(resolved)
        assert [subjects(mail_peer, address) for address in others] == [[], []]  # nobody else was mailed
    finally:
        ssh_targets.stop(target)
