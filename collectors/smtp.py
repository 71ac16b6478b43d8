"""SMTP probe: banner, EHLO, STARTTLS (or implicit TLS, SMTPS) with the certificate's expiry,
optional AUTH, QUIT (egov_smtp_*). `SmtpSession` is also the sending half of the mail_roundtrip probe."""

from __future__ import annotations

import base64
import re
import ssl
from dataclasses import dataclass
from typing import NamedTuple

from agent.collector import CollectorError, register
from agent.probe import ProbeSettings
from agent.schema import Port
from collectors._mail import Dialogue, Login, MailCheck, MailProbe, Phases

MAX_REPLY_LINES = 100  # EHLO lists a dozen extensions; a server sending hundreds is broken
REPLY_LINE = re.compile(r"(\d{3})(?:([ -])(.*))?$")
ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}\b")  # RFC 3463, e.g. 5.7.8
# what a reply to AUTH means, in our words (RFC 4954 section 6, RFC 5321 section 4.2.3): its text
# is never shown, since a server may repeat in it the credentials it refuses
AUTH_REPLIES = {
    421: "the service is closing the connection",
    432: "a password transition is needed",
    454: "temporary authentication failure",
    500: "the line was not understood",
    501: "the credentials could not be decoded",
    504: "the mechanism is not supported",
    530: "authentication is required",
    534: "the mechanism is too weak",
    535: "the credentials are not valid",
    538: "the mechanism needs encryption",
}


class Reply(NamedTuple):
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(line for line in self.lines if line)


def parse_reply_line(line: str) -> tuple[int, bool, str]:
    """(code, whether more lines follow, text) of one reply line: `250-PIPELINING`, `250 OK`, `250`."""
    match = REPLY_LINE.match(line)
    if not match:
        raise ValueError(f"not an SMTP reply: {line[:80]!r}")
    return int(match[1]), match[2] == "-", match[3] or ""


def parse_extensions(reply: Reply) -> dict[str, str]:
    """EHLO's extensions, keyword (upper case) -> parameters; the first line is the greeting."""
    extensions = {}
    for line in reply.lines[1:]:
        keyword, _, parameters = line.partition(" ")
        extensions[keyword.upper()] = parameters
    return extensions


def auth_failure(reply: Reply) -> str:
    """A refused login in our words: the reply's enhanced status code (digits only, RFC 2034) and
    what its code means, never the server's text."""
    enhanced = ENHANCED_CODE.match(reply.lines[0] if reply.lines else "")
    meaning = AUTH_REPLIES.get(reply.code, "its text is not shown: it may repeat the credentials")
    return (f"{enhanced[0]} " if enhanced else "") + f"({meaning})"


def dot_stuff(message: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading dots doubled, ending in CRLF."""
    text = re.sub(rb"\r?\n", b"\r\n", message)
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", text)


class SmtpSession:
    def __init__(self, dialogue: Dialogue):
        self.dialogue = dialogue

    @classmethod
    async def start(cls, host: str, port: int, *, implicit_tls: bool = False, starttls: bool,
                    tls: ssl.SSLContext | None, server_name: str | None, credentials: Login | None,
                    ehlo_name: str, phases: Phases, log, target: str) -> SmtpSession:
        """Connected (over TLS from the first byte with `implicit_tls`), greeted, upgraded to TLS
        if asked and logged in if given credentials."""
        dialogue = await Dialogue.open(host, port, tls if implicit_tls else None, server_name, phases, log, target)
        session = cls(dialogue)
        try:
            with phases("banner"):
                await session.expect("the banner", 220)
            with phases("ehlo"):
                extensions = await session.ehlo(ehlo_name)
            if starttls:
                if "STARTTLS" not in extensions:
                    raise CollectorError("tls", "the server does not offer STARTTLS")
                with phases("starttls"):
                    await session.command("STARTTLS", "STARTTLS", 220, reason="tls")
                    await dialogue.starttls(tls)
                    extensions = await session.ehlo(ehlo_name)  # RFC 3207: forget what was said in clear
            if credentials:
                with phases("auth"):
                    await session.authenticate(credentials, extensions)
        except BaseException:
            dialogue.close()
            raise
        return session

    async def reply(self, during: str, withhold: bool = False) -> Reply:
        """The server's reply; `withhold`: it answers the credentials, so a failure reports no text of it."""
        lines = []
        while len(lines) < MAX_REPLY_LINES:
            line = await self.dialogue.readline(during)
            try:
                code, more, text = parse_reply_line(line)
            except ValueError:
                raise CollectorError("protocol", f"{during}: not an SMTP reply"
                                     + ("" if withhold else f": {self.dialogue.said(line, 80)!r}")) from None
            lines.append(text)
            if not more:
                return Reply(code, tuple(lines))
        raise CollectorError("protocol", f"{during}: a reply of more than {MAX_REPLY_LINES} lines")

    async def expect(self, during: str, *codes: int, reason: str = "protocol", withhold: bool = False) -> Reply:
        reply = await self.reply(during, withhold)
        if reply.code not in codes:
            said = auth_failure(reply) if withhold else self.dialogue.said(reply.text)
            raise CollectorError(reason, f"{during}: the server answered {reply.code} {said}"[:300])
        return reply

    async def command(self, line: str, during: str, *codes: int, reason: str = "protocol",
                      secret: str = "") -> Reply:
        """Send a command and expect one of `codes`; the answer to a `secret` is reported by code only."""
        await self.dialogue.send(line, during, secret)
        return await self.expect(during, *codes, reason=reason, withhold=bool(secret))

    async def ehlo(self, name: str) -> dict[str, str]:
        return parse_extensions(await self.command(f"EHLO {name}", "EHLO", 250))

    async def authenticate(self, credentials: Login, extensions: dict[str, str]) -> None:
        mechanisms = extensions.get("AUTH", "").upper().split()
        user, password = credentials.username.encode(), credentials.password.encode()
        self.dialogue.secrets.add(*credentials.forms())
        logging_in = f"the login of {credentials.username}"
        if "PLAIN" in mechanisms:
            plain = base64.b64encode(b"\0" + user + b"\0" + password).decode()
            await self.command("AUTH PLAIN ", logging_in, 235, reason="auth", secret=plain)
        elif "LOGIN" in mechanisms:
            await self.command("AUTH LOGIN", "AUTH LOGIN", 334)
            await self.command(base64.b64encode(user).decode(), "AUTH LOGIN", 334, reason="auth")
            await self.command("", logging_in, 235, reason="auth", secret=base64.b64encode(password).decode())
        else:
            raise CollectorError("auth", "the server offers no AUTH PLAIN or LOGIN"
                                 + ("" if "AUTH" in extensions else " (some offer AUTH only after STARTTLS)"))

    async def send_message(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        await self.command(f"MAIL FROM:<{mail_from}>", "MAIL FROM", 250)
        await self.command(f"RCPT TO:<{rcpt_to}>", "RCPT TO", 250, 251)
        await self.command("DATA", "DATA", 354)
        await self.dialogue.send_bytes(dot_stuff(message) + b".\r\n", "DATA")
        await self.expect("the end of DATA", 250)

    async def quit(self) -> None:
        await self.command("QUIT", "QUIT", 221)

    def close(self) -> None:
        self.dialogue.close()


@dataclass
class SmtpSettings(ProbeSettings):
    ehlo_name: str | None = None  # the name the agent gives in EHLO; default this host's name


@dataclass
class SmtpCheck(MailCheck):
    PLAINTEXT = ("starttls", "SMTP")
    port: Port = 25
    tls: bool = False  # implicit TLS (SMTPS, usually port 465); starttls is then not used
    starttls: bool = True


@register
class SmtpProbe(MailProbe):
    name = "smtp"
    help = "SMTP servers of the inventory: banner, EHLO, STARTTLS or SMTPS, certificate expiry, AUTH (egov_smtp_*)"
    Settings = SmtpSettings
    CheckSettings = SmtpCheck
    Session, GOODBYE = SmtpSession, "quit"

    def session_options(self) -> dict:
        return {"ehlo_name": self.settings.ehlo_name or self.context.host}
