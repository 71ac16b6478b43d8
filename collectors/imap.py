"""IMAP probe: greeting, implicit TLS (IMAPS) or STARTTLS with the certificate's expiry,
optional login, LOGOUT (egov_imap_*). `ImapSession` is also the receiving half of the
mail_roundtrip probe."""

from __future__ import annotations

import base64
import itertools
import re
import ssl
from dataclasses import dataclass
from typing import NamedTuple

from agent.collector import CollectorError, register
from agent.probe import ProbeSettings
from agent.schema import Port
from collectors._mail import Dialogue, Login, MailCheck, MailProbe, Phases

# untagged lines answering one command. None of the commands sent here (CAPABILITY,
# AUTHENTICATE, SELECT, UID SEARCH/STORE/EXPUNGE, NOOP, LOGOUT) is answered with literals.
MAX_RESPONSE_LINES = 1000
CAPABILITY = re.compile(r"(?:^\* |\[)CAPABILITY ([^\]]*)", re.IGNORECASE)
RESPONSE_CODE = re.compile(r"\[([A-Z]+)\]")
# what a refused login means, in our words (RFC 3501 7.1, RFC 5530 3): the server's text is
# never shown, since a server may repeat in it the credentials it refuses
LOGIN_STATUSES = {"NO": "the login was refused", "BAD": "the command was not understood"}
LOGIN_CODES = {
    "AUTHENTICATIONFAILED": "the credentials are not valid",
    "AUTHORIZATIONFAILED": "the user may not log in as that identity",
    "EXPIRED": "the password has expired",
    "PRIVACYREQUIRED": "the login needs TLS",
    "CONTACTADMIN": "the server asks to contact its administrator",
    "UNAVAILABLE": "temporary failure of the server's authentication",
    "LIMIT": "a limit of the server was reached",
    "INUSE": "the mailbox is in use",
    "SERVERBUG": "the server reports a bug of its own",
}


class Response(NamedTuple):
    untagged: list[str]  # the "* ..." lines
    text: str  # of the tagged OK line, e.g. "[CAPABILITY ...] Logged in"


def parse_tagged(line: str, tag: str) -> tuple[str, str] | None:
    """(status, text) when `line` completes the command tagged `tag`: `a1 OK done` -> ("OK", "done")."""
    if not line.startswith(tag + " "):
        return None
    status, _, text = line[len(tag) + 1:].partition(" ")
    return status.upper(), text


def parse_capabilities(text: str) -> set[str] | None:
    """The capabilities in a `* CAPABILITY ...` line or a `[CAPABILITY ...]` response code."""
    match = CAPABILITY.search(text)
    return set(match[1].upper().split()) if match else None


def parse_search(untagged: list[str]) -> list[int]:
    """The numbers of `* SEARCH 3 7 9` lines."""
    return [int(number) for line in untagged if line.upper().startswith("* SEARCH")
            for number in line.split()[2:] if number.isdigit()]


def login_failure(status: str, text: str) -> str:
    """A refused login in our words: its status and a response code we know, never the server's text."""
    code = RESPONSE_CODE.match(text)
    known = code[1] if code and code[1] in LOGIN_CODES else None
    meaning = LOGIN_CODES[known] if known else LOGIN_STATUSES.get(status, "an answer that is neither OK, NO nor BAD")
    said = [status if status in LOGIN_STATUSES else "", f"[{known}]" if known else "", f"({meaning})"]
    return " ".join(filter(None, said))


def quote(text: str) -> str:
    """An IMAP quoted string."""
    if "\r" in text or "\n" in text:
        raise CollectorError("config", "a line break cannot be sent in an IMAP string")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapSession:
    def __init__(self, dialogue: Dialogue):
        self.dialogue = dialogue
        self.capabilities: set[str] = set()
        self._tags = itertools.count(1)

    @classmethod
    async def start(cls, host: str, port: int, *, implicit_tls: bool, starttls: bool, tls: ssl.SSLContext | None,
                    server_name: str | None, credentials: Login | None, phases: Phases, log,
                    target: str) -> ImapSession:
        """Connected (over TLS or upgraded with STARTTLS, as asked), greeted, and logged in if
        given credentials."""
        dialogue = await Dialogue.open(host, port, tls if implicit_tls else None, server_name, phases, log, target)
        session = cls(dialogue)
        try:
            with phases("greeting"):
                greeting = await dialogue.readline("the greeting")
            if not greeting.upper().startswith(("* OK", "* PREAUTH")):
                raise CollectorError("protocol", f"the greeting: {dialogue.said(greeting, 200)}")
            session.capabilities = parse_capabilities(greeting) or await session.capability()
            if starttls:
                if "STARTTLS" not in session.capabilities:
                    raise CollectorError("tls", "the server does not offer STARTTLS")
                with phases("starttls"):
                    await session.command("STARTTLS", "STARTTLS", reason="tls")
                    await dialogue.starttls(tls)
                    session.capabilities = await session.capability()  # RFC 3501: ask again after TLS
            if credentials:
                with phases("login"):
                    await session.authenticate(credentials)
        except BaseException:
            dialogue.close()
            raise
        return session

    async def command(self, command: str, during: str, reason: str = "protocol",
                      continuation: str | None = None) -> Response:
        """Send a command and read up to its tagged answer; not OK raises CollectorError(reason).
        `continuation` answers the server's "+" (it is secret: never logged, and the answer to it
        is reported by its status and response code only)."""
        tag = f"a{next(self._tags)}"
        await self.dialogue.send(f"{tag} {command}", during)
        untagged, secret_sent = [], False
        while len(untagged) < MAX_RESPONSE_LINES:
            line = await self.dialogue.readline(during)
            if line.startswith("+") and continuation is not None and not secret_sent:
                await self.dialogue.send("", during, secret=continuation)
                secret_sent = True
                continue
            answer = parse_tagged(line, tag)
            if answer is None:
                untagged.append(line)
                continue
            status, text = answer
            if status == "OK":
                return Response(untagged, text)
            said = login_failure(status, text) if secret_sent else self.dialogue.said(f"{status} {text}")
            raise CollectorError(reason, f"{during}: the server answered {said}"[:300])
        raise CollectorError("protocol", f"{during}: more than {MAX_RESPONSE_LINES} lines")

    async def capability(self) -> set[str]:
        response = await self.command("CAPABILITY", "CAPABILITY")
        return parse_capabilities("\n".join(response.untagged)) or set()

    async def authenticate(self, credentials: Login) -> None:
        if "LOGINDISABLED" in self.capabilities:
            raise CollectorError("tls", "the server refuses logins without TLS (LOGINDISABLED)")
        # AUTHENTICATE PLAIN, not LOGIN: base64 carries any password, no quoting rules to get wrong
        plain = b"\0" + credentials.username.encode() + b"\0" + credentials.password.encode()
        self.dialogue.secrets.add(*credentials.forms())
        response = await self.command("AUTHENTICATE PLAIN", f"the login of {credentials.username}", reason="auth",
                                      continuation=base64.b64encode(plain).decode())
        # capabilities change once logged in (UIDPLUS, for one)
        self.capabilities = parse_capabilities(response.text) or await self.capability()

    async def select(self, mailbox: str) -> None:
        await self.command(f"SELECT {quote(mailbox)}", f"SELECT {mailbox}")

    async def search(self, criteria: str) -> list[int]:
        """UIDs of the selected mailbox's messages matching `criteria`."""
        return parse_search((await self.command(f"UID SEARCH {criteria}", "SEARCH")).untagged)

    async def noop(self) -> None:
        """Lets the server notice new mail before the next SEARCH."""
        await self.command("NOOP", "NOOP")

    async def delete(self, uids: list[int]) -> None:
        """Flag and expunge these messages; without UIDPLUS, EXPUNGE also removes other messages
        already flagged deleted in the mailbox."""
        numbers = ",".join(map(str, uids))
        await self.command(f"UID STORE {numbers} +FLAGS.SILENT (\\Deleted)", "STORE")
        await self.command(f"UID EXPUNGE {numbers}" if "UIDPLUS" in self.capabilities else "EXPUNGE", "EXPUNGE")

    async def logout(self) -> None:
        await self.command("LOGOUT", "LOGOUT")

    def close(self) -> None:
        self.dialogue.close()


@dataclass
class ImapCheck(MailCheck):
    PLAINTEXT = ("tls", "IMAP")
    port: Port = 993
    tls: bool = True  # implicit TLS (IMAPS)
    starttls: bool = False  # plain IMAP upgraded with STARTTLS (usually port 143)

    def problems(self):
        if self.tls and self.starttls:
            yield "starttls", "set tls: false for STARTTLS (tls means implicit TLS, IMAPS)"
        yield from super().problems()


@register
class ImapProbe(MailProbe):
    name = "imap"
    help = "IMAP servers of the inventory: greeting, TLS or STARTTLS, certificate expiry, login (egov_imap_*)"
    Settings = ProbeSettings
    CheckSettings = ImapCheck
    Session, GOODBYE = ImapSession, "logout"
