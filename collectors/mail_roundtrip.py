"""Mail round trip: send a tagged message through a mail server's SMTP, find it in the
mailbox over IMAP, delete it, and export how long delivery took (egov_mail_roundtrip_*).

One run per target: log in over IMAP and select the mailbox, delete what earlier runs of
this agent left there (a message that arrived after its deadline), send the message over
SMTP, then poll (NOOP + UID SEARCH on the message's own header, backing off from 50 ms to
2 s) until it is there or the check's deadline passes. A message that never arrives is a
failure with reason timeout, not a hang.
"""

from __future__ import annotations

import asyncio
import email.utils
import secrets
import time
from dataclasses import dataclass, field

from agent.checks import Check, above
from agent.collector import CollectorError, register
from agent.probe import REQUIRED, Sample, TimedCheck
from agent.schema import Duration, Port
from collectors._mail import MailProbe, MailServer, Phases, login
from collectors._tls import Trust
from collectors.imap import ImapSession, quote
from collectors.smtp import SmtpSession, SmtpSettings

HEADER = "X-Egov-Probe"  # "egov-agent/<agent host>/<target> <token>": searched for, so never a guess
FIRST_POLL, LAST_POLL = 0.05, 2.0


@dataclass
class RoundtripSettings(SmtpSettings):
    interval: Duration = 60.0
    timeout: Duration = 55.0
    probe_timeout: Duration = 50.0  # keep it above the checks' deadline, or the deadline never speaks
    concurrency: int = 10


@dataclass
class MailRoundtripCheck(TimedCheck, MailServer, Trust):
    """Send a message over SMTP and find it over IMAP; time_* are on the delivery time, tls_verify
    and ca_file as in the smtp and imap checks."""

    username: str | None = field(default=None, metadata=REQUIRED)  # the IMAP mailbox the message lands in
    password_env: str | None = field(default=None, metadata=REQUIRED)
    rcpt_to: str | None = field(default=None, metadata=REQUIRED)
    mail_from: str | None = None  # default: rcpt_to
    smtp_port: Port = 25
    smtp_starttls: bool = True
    smtp_auth: bool = False  # log in to SMTP too, with the IMAP username and password (submission, 587)
    imap_port: Port = 993
    imap_tls: bool = True
    imap_starttls: bool = False
    mailbox: str = "INBOX"
    deadline: Duration = 30.0  # a message not found this long after SMTP accepted it is a timeout

    def problems(self):
        yield from super().problems()
        if self.imap_tls and self.imap_starttls:
            yield "imap_starttls", "set imap_tls: false for STARTTLS (imap_tls means implicit TLS, IMAPS)"
        if not (self.imap_tls or self.imap_starttls):
            yield from self._plaintext_login("imap_tls", "IMAP")
        if self.smtp_auth and not self.smtp_starttls:
            yield from self._plaintext_login("smtp_starttls", "SMTP")
        if self.deadline <= 0:
            yield "deadline", "must be more than 0"


def build_message(mail_from: str, rcpt_to: str, marker: str, token: str) -> bytes:
    domain = rcpt_to.rpartition("@")[2] or "egov-agent.invalid"
    return (f"From: <{mail_from}>\r\n"
            f"To: <{rcpt_to}>\r\n"
            f"Subject: egov-agent mail round trip {token}\r\n"
            f"Date: {email.utils.formatdate(localtime=True)}\r\n"
            f"Message-ID: <egov-probe.{token}@{domain}>\r\n"
            f"{HEADER}: {marker}{token}\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "A test message of egov-agent's mail round trip check; it deletes it on arrival.\r\n").encode()


async def wait_for_message(imap: ImapSession, token: str) -> list[int]:
    """UIDs of the message carrying `token`, polling with backoff; cancelled by the caller's deadline."""
    pause = FIRST_POLL
    while True:
        await imap.noop()
        found = await imap.search(f"HEADER {HEADER} {quote(token)}")
        if found:
            return found
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_POLL)


@register
class MailRoundtripProbe(MailProbe):
    name = "mail_roundtrip"
    help = "End-to-end mail delivery: SMTP in, IMAP out, delivery time (egov_mail_roundtrip_*)"
    Settings = RoundtripSettings
    CheckSettings = MailRoundtripCheck
    SAMPLE_NOTE = "# Use a mailbox of its own: each run deletes the probe messages this agent left there.\n"
    FAMILIES = {"delivery_seconds": ("gauge", "Seconds from SMTP accepting the test message to finding it "
                                              "over IMAP.", [])}

    async def probe(self, target, check):
        credentials = login(check, self._environ)
        tls = self._tls.get(check) if check.smtp_starttls or check.imap_tls or check.imap_starttls else None
        marker = f"egov-agent/{self.context.host}/{target.name} "
        token = secrets.token_hex(12)
        # the smtp and imap probes export these sessions' phases; here only delivery counts
        connection = {"server_name": check.server_name, "phases": Phases(), "log": self.log, "target": target.name}
        imap = await ImapSession.start(target.address, check.imap_port, implicit_tls=check.imap_tls,
                                       starttls=check.imap_starttls, tls=tls, credentials=credentials, **connection)
        try:
            await imap.select(check.mailbox)
            # this agent never runs two round trips to one target at once: older probe messages are late ones
            stale = await imap.search(f"HEADER {HEADER} {quote(marker)}")
            if stale:
                await imap.delete(stale)
            smtp = await SmtpSession.start(target.address, check.smtp_port, starttls=check.smtp_starttls, tls=tls,
                                           credentials=credentials if check.smtp_auth else None,
                                           ehlo_name=self.settings.ehlo_name or self.context.host, **connection)
            try:
                sender = check.mail_from or check.rcpt_to
                await smtp.send_message(sender, check.rcpt_to, build_message(sender, check.rcpt_to, marker, token))
                accepted = time.monotonic()
                await smtp.quit()
            finally:
                smtp.close()
            try:
                async with asyncio.timeout(check.deadline - (time.monotonic() - accepted)):
                    found = await wait_for_message(imap, token)
            except TimeoutError:
                raise CollectorError("timeout", f"the message was not in {check.mailbox} "
                                                f"{check.deadline:g}s after SMTP accepted it") from None
            delivered = time.monotonic() - accepted
            await imap.delete(found)
            await imap.logout()
        finally:
            imap.close()
        return [Sample("delivery_seconds", delivered)]

    def evaluate(self, outcome):
        check = outcome.check
        delivered = outcome.samples[0].value
        return Check(self.name, outcome.target.name, above(delivered, check.time_warning, check.time_critical),
                     f"delivered in {delivered * 1000:.0f} ms", delivered,
                     {name: level for name, level in (("warning", check.time_warning),
                                                       ("critical", check.time_critical)) if level is not None})
