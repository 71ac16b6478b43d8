"""The mail probes (smtp, imap, mail_roundtrip) and the postfix queue collector: pure parsers
on captured real output, then the probes against a real postfix + dovecot on loopback and
against small real listeners that refuse, stay silent, lie or close mid-dialogue."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import logging
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent.checks import State
from agent.collector import CollectorError
from agent.context import Context
from agent.inventory import InventoryError, load_inventory
from agent.snapshot import render
from collectors._mail import Login, Secrets
from collectors.imap import ImapProbe, parse_capabilities, parse_search, parse_tagged
from collectors.mail_roundtrip import MailRoundtripProbe
from collectors.postfix_queue import PostfixQueueCollector, PostfixQueueSettings, parse_postqueue
from collectors.smtp import Reply, SmtpProbe, dot_stuff, parse_extensions, parse_reply_line
from tests.helpers import POSTQUEUE_J

pytest_plugins = ("tests.peer_mail",)  # the real peers this module's tests use

AGENT_HOST = "agent-test"
PASSWORD_ENV = "EGOV_TEST_MAIL_PASSWORD"

# ---------------------------------------------------------------- captured from the real peers

# postfix 3.7's answer to EHLO after STARTTLS (smtpd_tls_auth_only: AUTH appears only now)
EHLO_REPLY = """\
250-mail.test
250-PIPELINING
250-SIZE 10240000
250-VRFY
250-ETRN
250-AUTH PLAIN LOGIN
250-ENHANCEDSTATUSCODES
250-8BITMIME
250-DSN
250-SMTPUTF8
250 CHUNKING"""

# dovecot 2.3
IMAP_GREETING = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN "
                 "AUTH=LOGIN] Dovecot (Debian) ready.")
IMAP_LOGGED_IN = ("a3 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
                  "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT "
                  "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
                  "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE "
                  "SAVEDATE LITERAL+ NOTIFY SPECIAL-USE] Logged in")
IMAP_CAPABILITY = ["* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"]
IMAP_SEARCH_FOUND = ["* 1 EXISTS", "* 1 RECENT", "* SEARCH 1 17"]

def test_smtp_replies_and_extensions():
    assert parse_reply_line("250-PIPELINING") == (250, True, "PIPELINING")
    assert parse_reply_line("221 2.0.0 Bye") == (221, False, "2.0.0 Bye")
    assert parse_reply_line("250") == (250, False, "")
    with pytest.raises(ValueError, match="not an SMTP reply"):
        parse_reply_line("SSH-2.0-OpenSSH_9.2p1")
    lines = [parse_reply_line(line) for line in EHLO_REPLY.splitlines()]
    assert [more for _, more, _ in lines] == [True] * 10 + [False]
    extensions = parse_extensions(Reply(250, tuple(text for _, _, text in lines)))
    assert extensions["AUTH"] == "PLAIN LOGIN" and extensions["SIZE"] == "10240000"
    assert "STARTTLS" not in extensions and "MAIL.TEST" not in extensions  # the first line is the greeting


def test_dot_stuffing():
    assert dot_stuff(b"a\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n"


def test_imap_responses():
    assert parse_tagged("a3 OK Logged in", "a3") == ("OK", "Logged in")
    assert parse_tagged("a3 no [AUTHENTICATIONFAILED] Authentication failed.", "a3") == (
        "NO", "[AUTHENTICATIONFAILED] Authentication failed.")
    assert parse_tagged("a31 OK done", "a3") is None and parse_tagged("* OK still", "a3") is None
    assert {"STARTTLS", "AUTH=PLAIN", "LITERAL+"} <= parse_capabilities(IMAP_GREETING)
    assert "UIDPLUS" in parse_capabilities(IMAP_LOGGED_IN)
    assert "STARTTLS" not in parse_capabilities("\n".join(IMAP_CAPABILITY))
    assert parse_capabilities("a2 OK Logout completed.") is None
    assert parse_search(IMAP_SEARCH_FOUND) == [1, 17]
    assert parse_search(["* SEARCH"]) == []


def test_postqueue_parser_on_captured_output():
    queues = parse_postqueue(POSTQUEUE_J.splitlines())
    assert (queues["deferred"].messages, queues["deferred"].size_bytes) == (1, 320)
    assert (queues["hold"].messages, queues["hold"].oldest_arrival) == (1, 1795319373.0)
    assert all(queues[name].messages == 0 for name in ("maildrop", "incoming", "active"))
    with pytest.raises(ValueError, match="line 2 is not a queued message"):
        parse_postqueue(["", "postqueue: fatal: Queue report unavailable - mail system is down"])
    with pytest.raises(ValueError, match="line 1 .*KeyError.*'corrupt'"):
        parse_postqueue(['{"queue_name": "corrupt", "message_size": 1, "arrival_time": 1}'])


def not_after(pem: Path) -> float:
    """openssl's own reading of the certificate's expiry: the oracle for the exported one."""
    out = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", str(pem)],
                         check=True, capture_output=True, text=True).stdout
    return float(ssl.cert_time_to_seconds(out.strip().split("=", 1)[1]))


# ---------------------------------------------------------------- helpers for the real probes

def inventory(tmp_path: Path, hosts: dict[str, tuple[str, dict]]):
    """An inventory of mail servers: name -> (address, egov_checks)."""
    document = {"province": {"vars": {"egov_site_type": "province"}, "hosts": {
        name: {"ansible_host": address, "egov_role": "mail_server", "egov_checks": checks}
        for name, (address, checks) in hosts.items()}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(document))
    return load_inventory(tmp_path)


def run(probe_class, tmp_path, hosts, environ=None, **settings):
    """Run one collection of the probe on hosts: name -> (address, its check of the probe's kind).
    Returns (samples by (name, own labels, target), checks by target, the exposition text); each host's
    one check is labelled check=<kind>, left out of the own labels."""
    hosts = {name: (address, {probe_class.name: check}) for name, (address, check) in hosts.items()}
    probe = probe_class(probe_class.Settings(**settings), Context(inventory(tmp_path, hosts), host=AGENT_HOST),
                        environ=environ or {})
    text = render(asyncio.run(probe.collect()))[0].decode()
    one = {"check": probe_class.name}
    samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("site", "target")
                                     and one.get(k) != v)), s.labels["target"]): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return samples, {check.target: check for check in probe.checks({})}, text


def failure(samples, kind: str, target: str) -> str | None:
    reasons = [dict(labels)["reason"] for (name, labels, t), value in samples.items()
               if name == f"egov_{kind}_failures_total" and t == target and value]
    return reasons[0] if reasons else None


def secret_forms(peer) -> list[str]:
    """The password as itself and as the base64 an SMTP or IMAP login carries."""
    blob = f"\0{peer.user}\0{peer.password}".encode()
    return [peer.password, base64.b64encode(blob).decode(), base64.b64encode(peer.password.encode()).decode()]


def mailbox(peer) -> imaplib.IMAP4:
    """An independent IMAP client (the stdlib's) on the test mailbox, to check what the probe did."""
    client = imaplib.IMAP4(peer.host, peer.imap_port, timeout=10)
    trust = ssl.create_default_context(cafile=peer.ca_file)
    trust.check_hostname = False  # imaplib sends the address as the name
    client.starttls(trust)
    client.authenticate("PLAIN", lambda _: f"\0{peer.user}\0{peer.password}".encode())
    client.select("INBOX")
    return client


def probe_messages(peer) -> list[bytes]:
    client = mailbox(peer)
    try:
        client.noop()
        return client.uid("SEARCH", "HEADER", "X-Egov-Probe", '""')[1][0].split()
    finally:
        client.logout()


async def listener(address: str, handler):
    """A real TCP server on address:0; handler(reader, writer) plays the server."""
    return await asyncio.start_server(handler, address, 0)


# ---------------------------------------------------------------- smtp against postfix

def test_smtp_starttls_auth_and_certificate(mail_peer, tmp_path):
    peer = mail_peer
    check = {"port": peer.smtp_port, "username": peer.user, "password_env": PASSWORD_ENV,
             "ca_file": str(peer.ca_file), "server_name": "mail.test", "cert_days_warning": 45}
    samples, checks, _ = run(SmtpProbe, tmp_path, {"mail-01": (peer.host, check)}, {PASSWORD_ENV: peer.password})
    assert samples[("egov_smtp_up", (), "mail-01")] == 1
    phases = {dict(labels)["phase"] for name, labels, _ in samples if name == "egov_smtp_phase_duration_seconds"}
    assert phases == {"connect", "banner", "ehlo", "starttls", "auth", "quit"}
    assert samples[("egov_smtp_cert_expiry_timestamp_seconds", (), "mail-01")] == not_after(peer.ca_file)
    # the peer's certificate is good for 30 days: under the 45 asked for
    assert checks["mail-01"].state == State.WARNING and "certificate expires in 30 days" in checks["mail-01"].summary


def test_smtps_implicit_tls_and_auth(mail_peer, tmp_path):
    peer = mail_peer  # tls: true is TLS from the first byte: starttls is not used, and the login is allowed
    check = {"port": peer.smtps_port, "tls": True, "username": peer.user, "password_env": PASSWORD_ENV,
             "ca_file": str(peer.ca_file), "server_name": "mail.test"}
    samples, checks, _ = run(SmtpProbe, tmp_path, {"mail-01": (peer.host, check)}, {PASSWORD_ENV: peer.password})
    assert samples[("egov_smtp_up", (), "mail-01")] == 1
    phases = {dict(labels)["phase"] for name, labels, _ in samples if name == "egov_smtp_phase_duration_seconds"}
    assert phases == {"connect", "tls", "banner", "ehlo", "auth", "quit"}
    assert samples[("egov_smtp_cert_expiry_timestamp_seconds", (), "mail-01")] == not_after(peer.ca_file)


@pytest.mark.parametrize("tls, reason, detail", [
    ({"server_name": "mail.test"}, "tls", "self-signed"),  # no ca_file: the system's CAs do not know it
    ({"server_name": "other.test", "ca_file": "CA"}, "tls", "Hostname mismatch"),
    ({"ca_file": "CA"}, "tls", "IP address mismatch"),  # without server_name the address is the name
    ({"ca_file": "/nonexistent/ca.pem"}, "config", "/nonexistent/ca.pem"),
    ({"tls_verify": False}, None, ""),
])
def test_smtp_certificate_verification(mail_peer, tmp_path, tls, reason, detail):
    tls = {key: str(mail_peer.ca_file) if value == "CA" else value for key, value in tls.items()}
    samples, checks, _ = run(SmtpProbe, tmp_path, {"mail-01": (mail_peer.host, {"port": mail_peer.smtp_port, **tls})})
    assert failure(samples, "smtp", "mail-01") == reason
    assert detail in checks["mail-01"].summary
    if reason is None:  # any certificate is accepted, and its expiry still read
        assert samples[("egov_smtp_cert_expiry_timestamp_seconds", (), "mail-01")] == not_after(mail_peer.ca_file)
        assert samples[("egov_smtp_tls_version_info", (("version", "TLSv1.3"),), "mail-01")] == 1


def test_smtp_starttls_refused_and_auth_before_tls(mail_peer, tmp_path):
    peer = mail_peer
    samples, checks, _ = run(SmtpProbe, tmp_path, {
        "plain-01": (peer.host, {"port": peer.plain_smtp_port}),  # a listener without STARTTLS
    })
    assert failure(samples, "smtp", "plain-01") == "tls"
    assert checks["plain-01"].summary == "tls: the server does not offer STARTTLS"

    samples, checks, _ = run(SmtpProbe, tmp_path, {
        "mail-01": (peer.host, {"port": peer.smtp_port, "starttls": False, "username": peer.user,
                                "password_env": PASSWORD_ENV, "allow_plaintext_auth": True}),
    }, {PASSWORD_ENV: peer.password})
    assert failure(samples, "smtp", "mail-01") == "auth"
    assert "only after STARTTLS" in checks["mail-01"].summary


def leaked(peer, caplog, *texts: str) -> list[str]:
    """Every form of the password found in the log records (their fields too) or in `texts`."""
    logged = [str(vars(record)) for record in caplog.records]
    return [form for form in secret_forms(peer) for text in (*logged, *texts) if form in text]


@pytest.mark.parametrize("probe_class, port, login_command", [
    (SmtpProbe, "smtp_port", "AUTH PLAIN"),
    (SmtpProbe, "login_smtp_port", "AUTH LOGIN"),
    (ImapProbe, "imaps_port", "AUTHENTICATE PLAIN"),
])
def test_wrong_password_is_auth_and_never_shown(mail_peer, tmp_path, caplog, probe_class, port, login_command):
    peer = mail_peer
    caplog.set_level(logging.DEBUG, logger="egov")
    check = {"port": getattr(peer, port), "username": peer.user, "password_env": PASSWORD_ENV, "tls_verify": False}
    kind = probe_class.name
    # the right password first: it must not show either, even in the debug log of the whole dialogue
    samples, checks, text = run(probe_class, tmp_path, {"mail-01": (peer.host, check)}, {PASSWORD_ENV: peer.password})
    assert samples[(f"egov_{kind}_up", (), "mail-01")] == 1
    sent = [record.line for record in caplog.records if record.msg == "sent"]
    assert any(login_command in line for line in sent) and any("(credentials)" in line for line in sent)
    assert leaked(peer, caplog, text, str(checks)) == []

    wrong = peer.password + "x"
    samples, checks, text = run(probe_class, tmp_path, {"mail-01": (peer.host, check)}, {PASSWORD_ENV: wrong})
    assert failure(samples, kind, "mail-01") == "auth"
    assert peer.user in checks["mail-01"].summary
    assert leaked(peer, caplog, text, str(checks)) == []
    assert not any(wrong in str(vars(record)) for record in caplog.records)


def test_password_variable_not_set_is_a_config_failure(mail_peer, tmp_path):
    check = {"port": mail_peer.imaps_port, "username": mail_peer.user, "password_env": PASSWORD_ENV}
    samples, checks, _ = run(ImapProbe, tmp_path, {"mail-01": (mail_peer.host, check)}, {})
    assert failure(samples, "imap", "mail-01") == "config"
    assert checks["mail-01"].summary == f"config: environment variable {PASSWORD_ENV} is not set"


# ---------------------------------------------------------------- imap against dovecot

@pytest.mark.parametrize("mode", [{"port": "imaps_port"}, {"port": "imap_port", "tls": False, "starttls": True}])
def test_imap_login_over_imaps_and_starttls(mail_peer, tmp_path, mode):
    peer = mail_peer
    check = {**mode, "port": getattr(peer, mode["port"]), "username": peer.user, "password_env": PASSWORD_ENV,
             "ca_file": str(peer.ca_file), "server_name": "mail.test"}
    samples, checks, _ = run(ImapProbe, tmp_path, {"mail-01": (peer.host, check)}, {PASSWORD_ENV: peer.password})
    assert samples[("egov_imap_up", (), "mail-01")] == 1
    phases = {dict(labels)["phase"] for name, labels, _ in samples if name == "egov_imap_phase_duration_seconds"}
    assert phases == {"connect", "greeting", "login", "logout"} | ({"starttls"} if "starttls" in mode else {"tls"})
    assert samples[("egov_imap_cert_expiry_timestamp_seconds", (), "mail-01")] == not_after(peer.ca_file)
    assert checks["mail-01"].state == State.OK


def test_imap_without_credentials_checks_greeting_only(mail_peer, tmp_path):
    samples, _, _ = run(ImapProbe, tmp_path, {"mail-01": (mail_peer.host, {"port": mail_peer.imaps_port,
                                                                          "tls_verify": False})})
    phases = {dict(labels)["phase"] for name, labels, _ in samples if name == "egov_imap_phase_duration_seconds"}
    assert phases == {"connect", "tls", "greeting", "logout"}


# ---------------------------------------------------------------- servers that refuse, lie, close or stay silent

def plays(script):
    """A listener's handler: run `script` as the server, then always hang up."""
    async def handler(reader, writer):
        try:
            await script(reader, writer)
        finally:
            writer.close()
    return handler


def closes_after(greeting: bytes):
    async def script(reader, writer):
        writer.write(greeting)
        await writer.drain()
    return script


async def lies(reader, writer):
    writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    await writer.drain()
    await reader.read()


async def silent(reader, writer):
    await reader.read()


async def endless_line(reader, writer):
    writer.write(b"220 " + b"x" * 200_000)
    await writer.drain()
    await reader.read()


@pytest.mark.parametrize("probe_class, checks", [
    (SmtpProbe, {"starttls": False}),
    (ImapProbe, {"tls": False}),
])
def test_broken_servers_fail_with_their_reason_and_do_not_hang(tmp_path, probe_class, checks):
    greeting = b"220 closing.test ESMTP\r\n" if probe_class is SmtpProbe else b"* OK closing.test ready\r\n"
    scripts = {"closes": closes_after(greeting), "lies": lies, "silent": silent, "endless": endless_line}

    async def scenario():
        servers = {name: await listener(f"127.0.77.{n}", plays(script)) for n, (name, script)
                   in enumerate(scripts.items(), 1)}
        hosts = {name: (server.sockets[0].getsockname()[0], {**checks, "port": server.sockets[0].getsockname()[1]})
                 for name, server in servers.items()}
        refused_port = servers["closes"].sockets[0].getsockname()[1]
        hosts["refused"] = ("127.0.77.9", {**checks, "port": refused_port})  # nothing listens there
        hosts = {name: (address, {probe_class.name: check}) for name, (address, check) in hosts.items()}
        probe = probe_class(probe_class.Settings(probe_timeout=1.0),
                            Context(inventory(tmp_path, hosts), host=AGENT_HOST), environ={})
        try:
            started = time.monotonic()
            families = await probe.collect()
            return families, {c.target: c for c in probe.checks({})}, time.monotonic() - started
        finally:
            for server in servers.values():
                server.close()
                await server.wait_closed()

    families, states, took = asyncio.run(scenario())
    text = render(families)[0].decode()
    kind = probe_class.name
    for target, reason in (("closes", "protocol"), ("lies", "protocol"), ("silent", "timeout"),
                           ("endless", "protocol"), ("refused", "connect")):
        assert (f'egov_{kind}_failures_total{{check="{kind}",reason="{reason}",site="province",target="{target}"}} 1.0'
                in text), target
    assert "closed the connection" in states["closes"].summary
    assert "a line longer than" in states["endless"].summary
    assert took < 10  # the silent one is cut at probe_timeout, the others fail at once


# ---------------------------------------------------------------- the round trip

def roundtrip_check(peer, **overrides) -> dict:
    return {"smtp_port": peer.smtp_port, "imap_port": peer.imap_port, "imap_tls": False, "imap_starttls": True,
            "rcpt_to": peer.user, "username": peer.user, "password_env": PASSWORD_ENV,
            "ca_file": str(peer.ca_file), "server_name": "mail.test", "deadline": "10s", **overrides}


def test_roundtrip_delivers_finds_and_deletes(mail_peer, tmp_path):
    peer = mail_peer
    # a probe message an earlier run gave up on, arriving late: this run deletes it
    peer.send(peer.user, "late", headers={"X-Egov-Probe": f"egov-agent/{AGENT_HOST}/mail-01 0123456789abcdef"})
    deadline = time.monotonic() + 10
    while not probe_messages(peer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(probe_messages(peer)) == 1

    samples, checks, _ = run(MailRoundtripProbe, tmp_path,
                             {"mail-01": (peer.host, roundtrip_check(peer, smtp_auth=True, time_critical="30s"))},
                             {PASSWORD_ENV: peer.password})
    assert samples[("egov_mail_roundtrip_up", (), "mail-01")] == 1
    delivery = samples[("egov_mail_roundtrip_delivery_seconds", (), "mail-01")]
    assert 0 < delivery < samples[("egov_mail_roundtrip_duration_seconds", (), "mail-01")]
    assert checks["mail-01"].state == State.OK and checks["mail-01"].summary.startswith("delivered in")
    assert probe_messages(peer) == []  # its own message and the late one are gone


def test_roundtrip_message_that_never_arrives_is_a_timeout(mail_peer, tmp_path):
    peer = mail_peer  # mail to `discarded` is accepted and thrown away
    started = time.monotonic()
    samples, checks, _ = run(MailRoundtripProbe, tmp_path,
                             {"mail-01": (peer.host, roundtrip_check(peer, rcpt_to=peer.discarded, deadline="1s"))},
                             {PASSWORD_ENV: peer.password})
    assert time.monotonic() - started < 15
    assert failure(samples, "mail_roundtrip", "mail-01") == "timeout"
    assert checks["mail-01"].summary == "timeout: the message was not in INBOX 1s after SMTP accepted it"


def test_roundtrip_wrong_password_fails_before_sending(mail_peer, tmp_path, caplog):
    peer = mail_peer
    caplog.set_level(logging.DEBUG, logger="egov")
    samples, checks, text = run(MailRoundtripProbe, tmp_path, {"mail-01": (peer.host, roundtrip_check(peer))},
                                {PASSWORD_ENV: "not the password"})
    assert failure(samples, "mail_roundtrip", "mail-01") == "auth"
    assert not any("MAIL FROM" in str(vars(record)) for record in caplog.records)
    assert leaked(peer, caplog, text, str(checks)) == []


# ---------------------------------------------------------------- the inventory's mail checks

@pytest.mark.parametrize("kind, check, message", [
    ("imap", {"tls": True, "starttls": True}, "set tls: false for STARTTLS"),
    ("smtp", {"username": "monitor"}, "needed with username"),
    ("mail_roundtrip", {"username": "u", "password_env": "P"}, "the mail_roundtrip check needs rcpt_to"),
    ("mail_roundtrip", {"rcpt_to": "a@b", "username": "u", "password_env": "P", "deadline": 0},
     "mail_roundtrip.deadline: .*must be more than 0"),
    ("smtp", {"password": "secret"}, "unknown key"),
    # a login without TLS sends the password in clear: only when the check says so
    ("smtp", {"starttls": False, "username": "u", "password_env": "P"},
     "smtp.starttls: .*SMTP login would send the password in clear.*allow_plaintext_auth: true"),
    ("imap", {"tls": False, "username": "u", "password_env": "P"},
     "imap.tls: .*IMAP login would send the password in clear"),
    ("mail_roundtrip", {"rcpt_to": "a@b", "username": "u", "password_env": "P", "imap_tls": False},
     "mail_roundtrip.imap_tls: .*IMAP login would send the password in clear"),
    ("mail_roundtrip", {"rcpt_to": "a@b", "username": "u", "password_env": "P", "smtp_auth": True,
                        "smtp_starttls": False}, "mail_roundtrip.smtp_starttls: .*SMTP login"),
])
def test_mail_check_mistakes_are_named(tmp_path, kind, check, message):
    with pytest.raises(InventoryError, match=message):
        inventory(tmp_path, {"mail-01": ("127.0.0.1", {kind: check})})


@pytest.mark.parametrize("kind, check", [
    ("smtp", {"starttls": False, "username": "u", "password_env": "P", "allow_plaintext_auth": True}),
    ("smtp", {"tls": True, "starttls": False, "username": "u", "password_env": "P"}),
    ("smtp", {"starttls": False}),  # no login: nothing secret to send
    ("imap", {"tls": False, "username": "u", "password_env": "P", "allow_plaintext_auth": True}),
    ("imap", {"tls": False, "starttls": True, "username": "u", "password_env": "P"}),
    ("mail_roundtrip", {"rcpt_to": "a@b", "username": "u", "password_env": "P", "smtp_starttls": False}),
])
def test_logins_over_tls_or_explicitly_in_clear_are_accepted(tmp_path, kind, check):
    inventory(tmp_path, {"mail-01": ("127.0.0.1", {kind: check})})


def test_masking_what_was_sent_as_secret():
    secrets = Secrets()
    plain = base64.b64encode(b"\0monitor\0s3cret-Pass").decode()
    secrets.add(plain, *Login("monitor", "s3cret-Pass").forms())
    assert secrets.mask(f"535 5.7.8 AUTH PLAIN {plain}") == "535 5.7.8 AUTH PLAIN (credentials)"
    assert secrets.mask(f"500 you said {plain[:-6]}... and s3cret-Pass") == (
        "500 you said (credentials)... and (credentials)")  # cut, and decoded
    assert secrets.mask(f"x{plain[5:17]}y") == "(credentials)"  # a piece of it, inside other base64-like text
    assert secrets.mask("250-PIPELINING 250 SMTPUTF8 mail.test") == "250-PIPELINING 250 SMTPUTF8 mail.test"


# ---------------------------------------------------------------- the postfix queue

def test_postfix_queue_from_the_real_postqueue(mail_peer):
    peer = mail_peer
    peer.send(peer.held)
    peer.send(f"someone@{peer.deferred_domain}")
    collector = PostfixQueueCollector(PostfixQueueSettings(config_directory=str(peer.postfix_dir)))
    deadline = time.monotonic() + 15
    while True:  # the deferred one passes through active first
        families = {family.name: family for family in collector.collect()}
        counts = {s.labels["queue"]: s.value for s in families["egov_postfix_queue_messages"].samples}
        if (counts["hold"] >= 1 and counts["deferred"] >= 1) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counts["hold"] >= 1 and counts["deferred"] >= 1
    assert set(counts) == {"maildrop", "incoming", "active", "deferred", "hold"}
    sizes = {s.labels["queue"]: s.value for s in families["egov_postfix_queue_size_bytes"].samples}
    assert sizes["hold"] > 0 and sizes["maildrop"] == 0
    ages = {s.labels["queue"]: s.value for s in families["egov_postfix_queue_oldest_message_age_seconds"].samples}
    assert 0 <= ages["hold"] < 3600 and ages["maildrop"] == 0
    [check] = collector.checks({"egov_postfix_queue_messages": families["egov_postfix_queue_messages"]})
    assert check.state == State.OK and "deferred" in check.summary


def test_postfix_queue_failures(tmp_path):
    missing = PostfixQueueCollector(PostfixQueueSettings(postqueue=str(tmp_path / "no-postqueue")))
    with pytest.raises(CollectorError) as err:
        list(missing.collect())
    assert err.value.reason == "config" and err.value.detail.startswith("cannot run")

    down = tmp_path / "postqueue"  # what postqueue says when postfix is not running
    down.write_text("#!/bin/sh\necho 'postqueue: fatal: Queue report unavailable - mail system is down' >&2\n"
                    "exit 69\n")
    down.chmod(0o755)
    with pytest.raises(CollectorError) as err:
        list(PostfixQueueCollector(PostfixQueueSettings(postqueue=str(down))).collect())
    assert (err.value.reason, err.value.detail) == (
        "connect", "postqueue: fatal: Queue report unavailable - mail system is down")

    hung = tmp_path / "hung"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")
    hung.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(CollectorError) as err:
        list(PostfixQueueCollector(PostfixQueueSettings(postqueue=str(hung), timeout=0.5)).collect())
    assert err.value.reason == "timeout" and time.monotonic() - started < 10
