"""Alerts that reach people, end to end: a PoP's uplink is cut under a real agent, and the
network team finds exactly one mail in its real mailbox, in Vietnamese first, naming the PoP
with its diacritics and the number of sites behind it; when the uplink is back, exactly one
resolved mail follows. The province has two monitoring servers (two Prometheus, two clustered
Alertmanagers gossiping on their own 127.x addresses): still one mail, and still one resolved
mail when one Alertmanager is stopped in the middle of the outage. Above the province, a central
Prometheus receives the outage by remote_write and answers for it.

The monitoring servers are what playbooks/monitoring_server.yml makes of disposable targets
(tests/peer_sshd.py): Prometheus and Alertmanager from Debian's packages, configured from the
inventory (the teams' addresses, the smarthost with STARTTLS and a password from the
environment). The mail goes through real postfix into dovecot (tests/peer_mail.py), read
back over IMAP. Only the durations are shortened (tests/alerting.py), in a copy of
monitoring/ the role is pointed at, and the pair's peer timeout. One outage covers it all,
each provisioning and outage costing about a minute: a server alone renders its receivers
with the same code (tests/test_monitoring_server.py loads them).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import json
import os
import shutil
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.alerting import (COMMUNE_ROUTERS, POP_ROUTER, SITE_NAMES, agent_config, shorten_rules, shorten_timers,
                            stays, write_inventory)
from tests.helpers import wait_until
from tests.peer_nft import dropping
from tests.peer_sshd import (Target, connection, make_key, override_inventory, provision_run,
                             require_baseline_packages)
from tests.peers import free_port, http_get, query, start_prometheus

pytest_plugins = ("tests.peer_mail", "tests.peer_sshd")  # the real peers this module's tests use
REPO = Path(__file__).resolve().parent.parent
SERVERS = ["giamsat-01", "giamsat-02"]
PASSWORD_ENV = "EGOV_TEST_ALERT_SMTP_PASSWORD"
TARGET_CA = "/etc/ssl/egov-test-mail-ca.pem"  # where the mail server's certificate goes on the target
# The pair's --cluster.peer-timeout (15 s by default): a second mail would come this long after
# the first, so twice this long without one shows there is none.
PEER_TIMEOUT = 5


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


def free_port_on(addresses: list[str]) -> int:
    """A port free on every address: the servers of a pair share their port numbers."""
    while True:
        port = free_port(addresses[0])
        try:
            for address in addresses[1:]:
                with socket.socket() as sock:
                    sock.bind((address, port))
            return port
        except OSError:
            continue


@dataclass
class Province:
    servers: list[Target]
    agent_url: str
    alertmanager_port: int
    run: object  # the provision run


@contextlib.contextmanager
def province(start_agent, mail_peer, ssh_targets, tmp_path, **variables):
    """The pair of monitoring servers set up by playbooks/monitoring_server.yml from the inventory
    (and `variables`), mailing the teams through mail_peer, and the agent that probes the small
    province."""
    require_baseline_packages()
    inventory, config = tmp_path / "inventory", tmp_path / "agent.yml"
    servers = ssh_targets.start_many(len(SERVERS))
    try:
        write_inventory(inventory, {name: server.address for name, server in zip(SERVERS, servers)})
        agent_config(config)
        agent = start_agent("-c", str(config), "-i", str(inventory))
        (inventory / "host_vars").mkdir()
        (inventory / "host_vars" / "egov-agent-01.yml").write_text(f"egov_agent_port: {agent.url.rsplit(':', 1)[1]}\n")
        for server in servers:
            server.path(TARGET_CA).write_bytes(mail_peer.ca_file.read_bytes())
        addresses = [server.address for server in servers]
        ports = {name: free_port_on(addresses) for name in ("prometheus", "alertmanager", "cluster")}
        override = override_inventory(
            tmp_path / "override.yml",
            {name: connection(server, ssh_targets.root_key) for name, server in zip(SERVERS, servers)},
            make_key(tmp_path, "admin_key"), monitoring_server_apt_cache_valid_time=0,
            monitoring_server_prometheus_port=ports["prometheus"],
            monitoring_server_alertmanager_port=ports["alertmanager"],
            monitoring_server_cluster_port=ports["cluster"],
            monitoring_server_monitoring_dir=str(shortened_monitoring(tmp_path)),
            monitoring_server_teams=dict(zip(("datacenter", "network", "security"),
                                             ([address] for address in mail_peer.teams))),
            monitoring_server_smtp={"smarthost": f"{mail_peer.host}:{mail_peer.smtp_port}",
                                    "from": "giamsat@mail.test", "username": mail_peer.user,
                                    "password_env": PASSWORD_ENV,
                                    "tls_config": {"ca_file": TARGET_CA, "server_name": "mail.test"}},
            **variables)
        os.environ[PASSWORD_ENV] = mail_peer.password  # the controller's environment, as from Vault
        try:
            run = provision_run("monitoring_servers", [str(inventory), str(override)], playbook="monitoring_server.yml")
        finally:
            del os.environ[PASSWORD_ENV]
        assert run.rc == 0, run.output[-6000:]
        urls = [f"http://{address}:{ports['prometheus']}" for address in addresses]
        for url in urls:
            wait_until(lambda: {s["metric"]["site"]: float(s["value"][1]) for s in query(url, "egov_site_uplink_up")},
                     dict.fromkeys(["pop_mot", *COMMUNE_ROUTERS], 1.0), f"every uplink up in {url}", timeout=60)
        yield Province(servers, agent.url, ports["alertmanager"], run)
    finally:
        for server in servers:
            ssh_targets.stop(server)


@contextlib.contextmanager
def stopped_after(peer):
    try:
        yield peer
    finally:
        peer.stop()


def cut_the_pop():
    return dropping(dict.fromkeys([POP_ROUTER, *COMMUNE_ROUTERS.values()], 1))


def test_a_pop_outage_mails_the_network_team_once_from_the_pair_even_when_one_alertmanager_stops(
        start_agent, mail_peer, ssh_targets, tmp_path):  # noqa: F811
    """The central view too: the servers forward their outages to a central Prometheus
    (remote_write, the province label), which answers for them."""
    network, *others = (mail_peer.teams[1], mail_peer.teams[0], mail_peer.teams[2])
    before = {address: len(mailbox(mail_peer, address)) for address in mail_peer.teams}

    def new(address: str) -> list:
        return mailbox(mail_peer, address)[before[address]:]

    (tmp_path / "central").mkdir()
    (tmp_path / "central" / "prometheus.yml").write_text("global: {evaluation_interval: 1s}\n")
    central = start_prometheus(tmp_path / "central" / "prometheus.yml", tmp_path / "central",
                               "--web.enable-remote-write-receiver")

    def national(expression: str) -> dict[tuple, float]:
        return {(s["metric"].get("province"), s["metric"].get("site")): float(s["value"][1])
                for s in query(central.url, expression)}

    started = time.monotonic()
    with stopped_after(central), province(start_agent, mail_peer, ssh_targets, tmp_path,
                                          monitoring_server_province="tinh_thu",
                                          monitoring_server_central_write_url=f"{central.url}/api/v1/write",
                                          monitoring_server_cluster_peer_timeout=f"{PEER_TIMEOUT}s") as setup:
        provisioned = time.monotonic()
        for server in setup.servers:
            # the password is in a file only Alertmanager's user reads, never in alertmanager.yml
            password_file = server.path("/etc/prometheus/alertmanager-smtp.password")
            assert password_file.read_text() == mail_peer.password and password_file.stat().st_mode & 0o007 == 0
            assert mail_peer.password not in server.path("/etc/prometheus/alertmanager.yml").read_text()

            def cluster(server=server) -> tuple[str, set[str]]:  # each gossips with the other, on its own address
                url = f"http://{server.address}:{setup.alertmanager_port}/api/v2/status"
                status = json.loads(http_get(url)[2])["cluster"]
                return status["status"], {peer["address"].rsplit(":", 1)[0] for peer in status["peers"]}

            # "settling" until the gossip is stable (Alertmanager's cluster.settle-timeout, a minute at most)
            wait_until(cluster, ("ready", {s.address for s in setup.servers}), f"{server.address} in the cluster",
                       timeout=120)
        assert mail_peer.password not in setup.run.output
        stays(lambda: [len(new(address)) for address in mail_peer.teams], [0, 0, 0], "nobody mailed while healthy",
              seconds=3)

        settled = time.monotonic()
        with cut_the_pop():
            wait_until(lambda: len(new(network)), 1, "one mail to the network team", timeout=90)
            mailed = time.monotonic()
            wait_until(lambda: national('max by (province, site) (egov_outage_sites_cut_off)'),
                       {("tinh_thu", "pop_mot"): 3.0}, "the outage in the central Prometheus")
            # remote_write sends a batch every few seconds (batch_send_deadline): waited for too
            wait_until(lambda: national('ALERTS{alertname="EgovSiteUplinkDown", alertstate="firing"}'),
                       {("tinh_thu", "pop_mot"): 1.0}, "the alert in the central Prometheus")
            # each of the pair forwards its own copy, told apart by `replica`
            assert {s["metric"]["replica"] for s in query(central.url, 'egov_site_uplink_up{site="pop_mot"}')} == set(
                SERVERS)
            stays(lambda: len(new(network)), 1, "not a second one from the other Alertmanager",
                  seconds=2 * PEER_TIMEOUT)
            # the first server's Alertmanager stops while the outage lasts
            setup.servers[0].ssh(ssh_targets.root_key, "service prometheus-alertmanager stop")
        restored = time.monotonic()
        wait_until(lambda: len(new(network)), 2, "one resolved mail from the remaining Alertmanager", timeout=120)
        print(f"provisioned in {provisioned - started:.1f}s, settled {settled - provisioned:.1f}s later; mailed "
              f"{mailed - settled:.1f}s after the cut, resolved {time.monotonic() - restored:.1f}s after the restore")
        stays(lambda: len(new(network)), 2, "exactly one resolved mail", seconds=2 * PEER_TIMEOUT)

        firing, resolved = new(network)
        subject, text = str(firing["Subject"]), body(firing)
        pop = SITE_NAMES["pop_mot"]
        assert subject.startswith(f"[{SITE_NAMES['province']}] SỰ CỐ / FIRING: {pop} — Mất đường truyền"), subject
        assert text.index("SỰ CỐ:") < text.index("---- English ----") < text.index("FIRING:")
        assert f"Ở đâu: {pop} (pop_mot), {SITE_NAMES['province']}" in text
        assert "3 điểm phía sau" in text and "(xa_ba, xa_hai, xa_mot)" in text
        assert "Nguyên nhân gốc: mất đường truyền (uplink) của chính điểm này" in text
        assert "Từ lúc: " in text and f"Trang trạng thái: {setup.agent_url}/" in text
        assert "3 site(s) behind it are cut off" in text
        # postfix names the protocol (RFC 3848): ESMTPSA or UTF8SMTPSA, S for STARTTLS, A for AUTH
        assert "SMTPSA id" in firing["Received"], firing["Received"]
        assert str(resolved["Subject"]).startswith(f"[{SITE_NAMES['province']}] ĐÃ KHẮC PHỤC / RESOLVED: {pop}")
        assert "đã khắc phục lúc" in body(resolved)
        assert [new(address) for address in others] == [[], []]  # nobody else was mailed
