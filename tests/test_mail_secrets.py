"""Server text that can hold what a probe sent never reaches an output: mail servers on loopback
that echo every line they refuse (the AUTH PLAIN string, the password in base64, with it), or
that accept the login and later send the credentials back, probed by a live agent. No form of
the password may appear in a check's detail, the agent's log (debug), /metrics, the status
page or `egov-agent check`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import os
import subprocess
import sys
import threading
import time

import yaml

from agent.collector import discover
from tests.peers import http_get

USER = "monitor@echo.test"
PASSWORD = "Echo-Secret+Pass/42"  # base64's own characters in it: masking must not rely on them
PASSWORD_ENV = "EGOV_TEST_ECHO_PASSWORD"
PLAIN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
SECRET_FORMS = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), PLAIN, f"AUTH PLAIN {PLAIN}"]
PIECES = {form[i:i + 12] for form in SECRET_FORMS[1:3] for i in range(len(form) - 11)}  # a cut echo


def leaks(text: str) -> list[str]:
    text = html.unescape(text)
    return [form for form in SECRET_FORMS if form in text] + sorted(piece for piece in PIECES if piece in text)


async def lines(reader):
    while line := await reader.readline():
        yield line.decode().rstrip("\r\n")


def say(writer, *replies: str) -> None:
    writer.write("".join(reply + "\r\n" for reply in replies).encode())


# ------------------------------------------------------------------ SMTP servers

def smtp_server(mechanisms: str, refuse, accepts_login: bool = False):
    """Greets, lists `mechanisms` for AUTH (no STARTTLS), then `refuse(line)` answers every other line;
    with `accepts_login` the credentials are taken (235) before that."""
    async def script(reader, writer):
        say(writer, "220 echo.test ESMTP")
        login = None  # the step of AUTH LOGIN we are at
        async for line in lines(reader):
            if line.upper().startswith("EHLO"):
                say(writer, "250-echo.test", f"250 AUTH {mechanisms}")
            elif line.upper() == "AUTH LOGIN":
                say(writer, "334 VXNlcm5hbWU6")  # "Username:", as RFC 4954's servers ask
                login = "user"
            elif login == "user":
                say(writer, "334 UGFzc3dvcmQ6")  # "Password:"
                login = "password"
            elif accepts_login and (line.upper().startswith("AUTH PLAIN") or login == "password"):
                say(writer, "235 2.7.0 Authentication successful")
                login = None
            elif line.upper() == "QUIT" and not accepts_login:
                say(writer, "221 bye")
                break
            else:
                say(writer, *refuse(line))
            await writer.drain()
    return script


def echoes_535(line):  # postfix's code for a refused login, and the refused line after it
    return [f"535 5.7.8 Error: authentication failed: {line}"]


def echoes_bare(line):  # not even a reply: the line itself
    return [line]


def replays(line):  # the credentials given back later, in the answer to QUIT or MAIL FROM
    return [f"500 5.5.2 you said before: AUTH PLAIN {PLAIN} and {PASSWORD}"]


# ------------------------------------------------------------------ IMAP servers

def imap_server(accepts_login: bool):
    """AUTH=PLAIN offered in the greeting; the credentials are echoed in a NO (or, with
    `accepts_login`, taken, and every later command answered OK except LOGOUT, which gets them back)."""
    async def script(reader, writer):
        say(writer, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] echo.test ready")
        tag = None
        async for line in lines(reader):
            if tag:  # the continuation: the credentials
                say(writer, f"{tag} OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in" if accepts_login else
                    f"{tag} NO [AUTHENTICATIONFAILED] {line} is not a valid login")
                tag = None
                await writer.drain()
                continue
            command_tag, _, command = line.partition(" ")
            if command.upper() == "AUTHENTICATE PLAIN":
                say(writer, "+ ")
                tag = command_tag
            elif not accepts_login:
                say(writer, f"{command_tag} NO {line}")
            elif command.upper() == "LOGOUT":
                say(writer, f"{command_tag} BAD you said {PLAIN} and {PASSWORD}")
            elif command.upper().startswith("UID SEARCH"):
                say(writer, "* SEARCH", f"{command_tag} OK done")
            else:
                say(writer, f"{command_tag} OK done")
            await writer.drain()
    return script


LOGIN = {"username": USER, "password_env": PASSWORD_ENV, "allow_plaintext_auth": True}
# host -> (its servers: protocol -> script, its check); each host on its own loopback address
HOSTS = {
    "smtp-echo": ({"smtp": smtp_server("PLAIN LOGIN", echoes_535)}, {"smtp": {"starttls": False, **LOGIN}}),
    "smtp-echo-login": ({"smtp": smtp_server("LOGIN", echoes_535)}, {"smtp": {"starttls": False, **LOGIN}}),
    "smtp-echo-bare": ({"smtp": smtp_server("PLAIN", echoes_bare)}, {"smtp": {"starttls": False, **LOGIN}}),
    "smtp-replay": ({"smtp": smtp_server("PLAIN", replays, accepts_login=True)},
                    {"smtp": {"starttls": False, **LOGIN}}),
    "imap-echo": ({"imap": imap_server(accepts_login=False)}, {"imap": {"tls": False, **LOGIN}}),
    "imap-replay": ({"imap": imap_server(accepts_login=True)}, {"imap": {"tls": False, **LOGIN}}),
    # the round trip's IMAP login refused; its IMAP login taken, then its SMTP login refused
    "roundtrip-imap": ({"imap": imap_server(accepts_login=False), "smtp": smtp_server("PLAIN", echoes_535)},
                       {"mail_roundtrip": {"imap_tls": False, "rcpt_to": USER, **LOGIN}}),
    "roundtrip-smtp": ({"imap": imap_server(accepts_login=True), "smtp": smtp_server("PLAIN LOGIN", echoes_535)},
                       {"mail_roundtrip": {"imap_tls": False, "smtp_auth": True, "smtp_starttls": False,
                                           "rcpt_to": USER, **LOGIN}}),
}


def address(host: str) -> str:
    return f"127.0.88.{list(HOSTS).index(host) + 1}"


@contextlib.contextmanager
def servers_on_loopback():
    """Every host's servers on its loopback address, on an event loop of their own thread:
    yields (host, protocol) -> port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def plays(script):
        async def handler(reader, writer):
            try:
                await script(reader, writer)
            except ConnectionError:
                pass
            finally:
                writer.close()
        return handler

    async def start():
        return {(host, protocol): await asyncio.start_server(plays(script), address(host), 0)
                for host, (scripts, _) in HOSTS.items() for protocol, script in scripts.items()}

    async def stop():
        for server in started.values():
            server.close()

    started = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield {where: server.sockets[0].getsockname()[1] for where, server in started.items()}
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def write_setup(tmp_path, ports):
    """agent.yml (debug log, only the mail probes, every 2 s) and the inventory of HOSTS."""
    hosts = {}
    for host, (_, checks) in HOSTS.items():
        [(kind, check)] = checks.items()
        if kind == "mail_roundtrip":
            check = {**check, "imap_port": ports[(host, "imap")], "smtp_port": ports[(host, "smtp")]}
        else:
            check = {**check, "port": ports[(host, kind)]}
        hosts[host] = {"ansible_host": address(host), "egov_role": "mail_server", "egov_checks": {kind: check}}
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump(
        {"province": {"vars": {"egov_site_type": "province"}, "hosts": hosts}}))
    kinds = ("smtp", "imap", "mail_roundtrip")
    probes = {"interval": "2s", "timeout": "1500ms", "probe_timeout": "1s"}
    collectors = {name: {"enabled": False} for name in discover() if name not in kinds}
    collectors |= {kind: probes for kind in kinds}
    config = tmp_path / "agent.yml"
    config.write_text(yaml.safe_dump({"log_level": "debug", "check_hold": "0s", "collectors": collectors}))
    return config, inventory


# what each host's check must say: the refusal in our words, or the server's text masked
EXPECTED = {
    "smtp-echo": "auth: the login of monitor@echo.test: the server answered 535 5.7.8 (the credentials are not valid)",
    "smtp-echo-login": "auth: the login of monitor@echo.test: the server answered 535 5.7.8 "
                       "(the credentials are not valid)",
    "smtp-echo-bare": "protocol: the login of monitor@echo.test: not an SMTP reply",
    "smtp-replay": "protocol: QUIT: the server answered 500 5.5.2 you said before: AUTH PLAIN (credentials) "
                   "and (credentials)",
    "imap-echo": "auth: the login of monitor@echo.test: the server answered NO [AUTHENTICATIONFAILED] "
                 "(the credentials are not valid)",
    "imap-replay": "protocol: LOGOUT: the server answered BAD you said (credentials) and (credentials)",
    "roundtrip-imap": "auth: the login of monitor@echo.test: the server answered NO [AUTHENTICATIONFAILED] "
                      "(the credentials are not valid)",
    "roundtrip-smtp": "auth: the login of monitor@echo.test: the server answered 535 5.7.8 "
                      "(the credentials are not valid)",
}


def test_echoed_credentials_reach_no_output(start_agent, tmp_path):
    with servers_on_loopback() as ports:
        config, inventory = write_setup(tmp_path, ports)
        env = {PASSWORD_ENV: PASSWORD}
        agent = start_agent("-c", str(config), "-i", str(inventory), wait="/-/ready", env=env)
        deadline = time.monotonic() + 30  # every probe has failed at least once when the page shows them all
        while True:
            page = http_get(agent.url + "/")[2].decode()
            if all(summary in html.unescape(page) for summary in EXPECTED.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        metrics = http_get(agent.url + "/metrics")[2].decode()
        check = subprocess.run([sys.executable, "-m", "agent", "check", "-c", str(config), "-i", str(inventory)],
                               capture_output=True, text=True, timeout=60, env={**os.environ, **env})
        log = agent.log_path.read_text()
    for host, summary in EXPECTED.items():
        assert summary in html.unescape(page), host
        assert f"{host} {summary}" in " ".join(check.stdout.split()), (host, check.stdout)
    assert 'egov_smtp_failures_total{check="smtp",reason="auth",site="province",target="smtp-echo"}' in metrics
    assert "received" in log and "(credentials)" in log  # the dialogue was logged, and masked
    for name, text in (("status page", page), ("metrics", metrics), ("check", check.stdout + check.stderr),
                       ("log", log)):
        assert leaks(text) == [], name
