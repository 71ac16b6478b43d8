"""What the mail probes (smtp, imap, mail_roundtrip) share: the check fields of the login,
a line dialogue with STARTTLS, the password from the environment, and phase timing.

The connection itself comes from collectors._tls, as the tcp and http probes open theirs:
the same TLS trust (tls_verify, ca_file, server_name), the same certificate families
(version, leaf and chain expiry) and the same time and certificate check.

Why asyncio streams and not smtplib/imaplib or aiosmtplib: the probes run on the agent's
event loop, where the blocking stdlib clients would need a thread each; SMTP and IMAP are
line protocols, and the few commands a probe needs (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA;
CAPABILITY, AUTHENTICATE, SELECT, SEARCH, STORE, EXPUNGE) fit in a small dialogue we
control: every read bounded, every failure mapped to a reason, and secrets kept out of
the debug log. aiosmtplib would cover SMTP only and add a dependency to the daemon.

Server text can hold what we sent: a server that echoes the line it refuses puts the AUTH
PLAIN string (the password, base64) in its answer. So the answer to the line that carried
the credentials is reported by its code only (the sessions' own words for it), and every
other server text that reaches a log line or a failure detail first passes through
`Dialogue.said`, which masks what was sent as secret, in the forms it can come back in.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from agent.collector import CollectorError
from agent.probe import Probe, Sample
from collectors import _tls

MASK = "(credentials)"
PIECE = 8  # a run of base64 sharing this many characters with a secret is a piece of it (a cut echo)
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{%d,}=*" % PIECE)
LINE_LIMIT = 64 * 1024  # asyncio's stream limit, which _tls.connect keeps: a longer line is no mail server's
FAMILIES = {
    _tls.PHASE: ("gauge", "Duration of each phase of the last probe: connect, tls (implicit TLS only), then "
                          "the protocol's steps.", ["phase"]),
    **_tls.FAMILIES,
}

# what sample-config says of a mail probe's login, beside the check's keys it lists
LOGIN_NOTE = """\
# A login without TLS is refused unless the check also says allow_plaintext_auth: true:
# the password would cross the network in clear. The password is read from the agent's
# environment variable that password_env names. With tls_verify the certificate must
# chain to ca_file (or the system's CAs) and carry server_name (default: the address probed).
"""


@dataclass
class MailServer:
    """Whom a mail probe logs in as, and the name the server's certificate must carry."""

    username: str | None = None  # log in as this user (SMTP AUTH, IMAP); unset: no login
    password_env: str | None = None  # the NAME of the agent's environment variable holding the password
    server_name: str | None = None  # sent as SNI; with tls_verify the certificate must carry it (default: address)
    allow_plaintext_auth: bool = False  # true: log in even over a connection without TLS (password in clear)

    def problems(self):
        if self.username and not self.password_env:
            yield "password_env", "needed with username: the name of the environment variable with the password"

    def _plaintext_login(self, key: str, leg: str):
        """A login over `leg` without TLS is refused unless the check says allow_plaintext_auth."""
        if not self.allow_plaintext_auth:
            yield key, (f"the {leg} login would send the password in clear without TLS: use TLS, "
                        "or say allow_plaintext_auth: true")


@dataclass
class MailCheck(_tls.TlsCheck, MailServer):
    """The check of one mail server (smtp, imap), whose own class adds port, tls and starttls."""

    PLAINTEXT: ClassVar[tuple[str, str]]  # the key that would turn TLS on, and the protocol, for the refusal

    def problems(self):
        yield from super().problems()
        if self.username and not (self.tls or self.starttls):
            yield from self._plaintext_login(*self.PLAINTEXT)


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)

    def forms(self) -> tuple[str, str]:
        """The password as itself and in base64 (as AUTH LOGIN sends it)."""
        return self.password, base64.b64encode(self.password.encode()).decode()


def login(check, environ: Mapping[str, str]) -> Login | None:
    """The check's username with the password from the environment variable it names."""
    if not check.username:
        return None
    password = environ.get(check.password_env)
    if not password:
        raise CollectorError("config", f"environment variable {check.password_env} is not set")
    return Login(check.username, password)


def tls_failure(err: ssl.SSLError) -> CollectorError:
    reason = getattr(err, "verify_message", None) or err.reason or str(err)
    return CollectorError("tls", f"TLS handshake failed: {reason}")


class Phases:
    """The phases of one probe, timed: `with phases("ehlo"): ...`."""

    def __init__(self):
        self.samples: list[Sample] = []

    def record(self, phase: str, seconds: float) -> None:
        self.samples.append(Sample(_tls.PHASE, seconds, (phase,)))

    @contextlib.contextmanager
    def __call__(self, phase: str):
        started = time.monotonic()
        yield
        self.record(phase, time.monotonic() - started)


class Secrets:
    """What a dialogue sent as secret, to mask wherever a server sends it back."""

    def __init__(self):
        self.texts: set[str] = set()
        self.pieces: set[str] = set()

    def add(self, *texts: str) -> None:
        for text in filter(None, texts):
            self.texts.add(text)
            self.pieces.update(text[i:i + PIECE] for i in range(len(text) - PIECE + 1))

    def mask(self, text: str) -> str:
        for secret in sorted(self.texts, key=len, reverse=True):  # the longest first: one may hold another
            text = text.replace(secret, MASK)
        return BASE64_RUN.sub(lambda run: MASK if self._holds_piece(run[0]) else run[0], text)

    def _holds_piece(self, run: str) -> bool:
        return any(run[i:i + PIECE] in self.pieces for i in range(len(run) - PIECE + 1))


class Dialogue:
    """A CRLF line conversation with one server; what is sent as secret never reaches the log,
    nor does the server's text unless masked (`said`)."""

    def __init__(self, connection: _tls.Connection, server_name: str, log: logging.Logger, target: str):
        self.connection, self.server_name, self.log, self.target = connection, server_name, log, target
        self.secrets = Secrets()

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None, server_name: str | None,
                   phases: Phases, log: logging.Logger, target: str) -> Dialogue:
        """Connected to host:port, over TLS from the first byte when `tls` is given."""
        connection = await _tls.connect(host, port, tls, server_name)
        phases.record("connect", connection.phases["connect"])
        if tls:
            phases.record("tls", connection.phases["tls"])
        return cls(connection, server_name or host, log, target)

    async def starttls(self, tls: ssl.SSLContext) -> None:
        try:
            await self.connection.writer.start_tls(tls, server_hostname=self.server_name)
        except ssl.SSLError as err:  # before ConnectionError: both are OSErrors
            raise tls_failure(err) from None
        except (ConnectionError, EOFError):
            raise CollectorError("tls", "connection closed during the TLS handshake") from None

    def tls_samples(self) -> list[Sample]:
        return self.connection.tls_samples()

    async def readline(self, during: str) -> str:
        try:
            line = await self.connection.reader.readline()
        except ValueError:  # asyncio's LimitOverrunError, re-raised by readline
            raise CollectorError("protocol", f"a line longer than {LINE_LIMIT} bytes during {during}") from None
        except ssl.SSLError as err:
            raise tls_failure(err) from None
        except ConnectionError:
            line = b""
        if not line.endswith(b"\n"):
            raise CollectorError("protocol", f"the server closed the connection during {during}")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        self.log.debug("received", extra={"target": self.target, "line": self.said(text)})
        return text

    def said(self, text: str, limit: int = 300) -> str:
        """Server text as it may be logged or reported: what was sent as secret masked, then cut."""
        return self.secrets.mask(text)[:limit]

    async def send(self, line: str, during: str, secret: str = "") -> None:
        """Send `line` + `secret` as one line; the log shows `line` and only a mark for the secret."""
        self.secrets.add(secret)
        self.log.debug("sent", extra={"target": self.target, "line": line + (MASK if secret else "")})
        await self.send_bytes((line + secret).encode() + b"\r\n", during)

    async def send_bytes(self, data: bytes, during: str) -> None:
        self.connection.writer.write(data)
        try:
            await self.connection.writer.drain()
        except ConnectionError:
            raise CollectorError("protocol", f"the server closed the connection during {during}") from None

    def close(self) -> None:
        self.connection.close()


class MailProbe(Probe):
    """What the smtp, imap and mail_roundtrip probes share: passwords from the environment
    (injected for tests) and TLS contexts cached per check; and what a probe of one mail
    server (smtp, imap) measures and how it judges it."""

    FAMILIES = FAMILIES
    SAMPLE_NOTE = LOGIN_NOTE

    def __init__(self, settings=None, context=None, environ=os.environ):
        super().__init__(settings, context)
        self._environ = environ
        self._tls = _tls.Contexts()

    # the protocol's session (smtp, imap): start() connects, greets, upgrades and logs in as asked; the
    # method and the phase of the command that ends it
    Session: ClassVar[type]
    GOODBYE: ClassVar[str]

    def session(self, target, check, phases: Phases) -> dict:
        """The keywords of a session to the server that `check` (smtp or imap) names: TLS, login, logging."""
        return {"tls": self._tls.get(check) if check.tls or check.starttls else None, "server_name": check.server_name,
                "credentials": login(check, self._environ), "phases": phases, "log": self.log, "target": target.name}

    def session_options(self) -> dict:
        """What the protocol's session takes besides session()'s (SMTP's EHLO name)."""
        return {}

    async def probe(self, target, check):
        phases = Phases()
        session = await self.Session.start(target.address, check.port, implicit_tls=check.tls,
                                           starttls=check.starttls and not check.tls,
                                           **self.session(target, check, phases), **self.session_options())
        try:
            tls = session.dialogue.tls_samples()
            with phases(self.GOODBYE):
                await getattr(session, self.GOODBYE)()
        finally:
            session.close()
        return phases.samples + tls

    def evaluate(self, outcome):
        return _tls.evaluate(self.name, outcome, "answered")
