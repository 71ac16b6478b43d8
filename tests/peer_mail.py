"""A real mail system on loopback for the mail probes: postfix (SMTP) delivering into maildirs
that dovecot (IMAP) serves, started once per test session and stopped by PID.

Import the fixture into a test module: `from tests.peer_mail import mail_peer  # noqa: F401`.

- postfix listens on `smtp_port` (STARTTLS offered, AUTH through dovecot's SASL socket, only
  after STARTTLS), on `plain_smtp_port` (no STARTTLS: the "STARTTLS refused" case) and on
  `login_smtp_port` (like smtp_port, but AUTH LOGIN is the only mechanism offered) and on
  `smtps_port` (implicit TLS from the first byte, RFC 8314's submissions).
- dovecot listens on `imap_port` (STARTTLS) and `imaps_port` (implicit TLS).
- `user`@mail.test is a mailbox with `password`, and so is each of `teams` (the alert mails'
  recipients, tests/test_alert_mail_e2e.py); mail to `discarded` is accepted and thrown
  away (never arrives), mail to `held` stays in the hold queue, mail to any address at
  `deferred_domain` stays in the deferred queue.
- Nothing leaves the machine: every other destination goes to the error transport.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import Peer, free_port, require

DOMAIN = "mail.test"
MAIL_UID = MAIL_GID = 65534  # nobody/nogroup: virtual delivery and dovecot's imap both run as it


@dataclass
class MailPeer:
    root: Path
    postfix_dir: Path  # postfix's config directory: `postqueue -c` takes it
    ca_file: Path  # the self-signed certificate both servers present (CN and SAN mail.test)
    smtp_port: int
    plain_smtp_port: int
    login_smtp_port: int  # offers only AUTH LOGIN, not PLAIN
    imap_port: int
    imaps_port: int
    smtps_port: int
    host: str = "127.0.0.1"
    user: str = f"probe@{DOMAIN}"
    password: str = "Mật-khẩu \"thử\" 42"  # non-ASCII, a quote and a space: quoting must hold
    discarded: str = f"blackhole@{DOMAIN}"
    held: str = f"held@{DOMAIN}"
    deferred_domain: str = "defer.test"
    teams: tuple[str, ...] = (f"datacenter@{DOMAIN}", f"network@{DOMAIN}", f"security@{DOMAIN}")

    def send(self, recipient: str, subject: str = "queued by the test", headers: dict | None = None) -> None:
        """Queue one message through the plain listener (stdlib client: the test's tool, not the probe)."""
        head = "".join(f"{name}: {value}\r\n" for name, value in {"Subject": subject, **(headers or {})}.items())
        with smtplib.SMTP(self.host, self.plain_smtp_port, timeout=10) as client:
            client.sendmail(self.user, [recipient], f"{head}\r\nbody\r\n")


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/postfix/queue
data_directory = {root}/postfix/data
maillog_file = /dev/stdout
mail_owner = postfix
setgid_group = postdrop
myhostname = {domain}
mydomain = {domain}
myorigin = {domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# nothing may leave this machine
default_transport = error:outbound mail is disabled in tests
relay_transport = error:outbound mail is disabled in tests
transport_maps = texthash:{root}/postfix/transport
# mail for the parked transport waits in the deferred queue until someone flushes it
defer_transports = parked
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/postfix/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_recipient_restrictions = check_recipient_access texthash:{root}/postfix/recipients,
    permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_cert_file = {root}/cert.pem
smtpd_tls_key_file = {root}/key.pem
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
"""

MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
127.0.0.1:{plain_smtp_port} inet n - n - - smtpd
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
127.0.0.1:{login_smtp_port} inet n - n - - smtpd
  -o smtpd_sasl_mechanism_filter=login
127.0.0.1:{smtps_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
parked    unix  - - n -  - discard
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

DOVECOT_CONF = """\
base_dir = {root}/dovecot/run
state_dir = {root}/dovecot/state
instance_name = egov-test-{imap_port}
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
# no delay after a wrong password, nor a growing penalty for the address: the tests try several
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = {root}/dovecot/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
# postfix's smtpd asks dovecot to check SMTP AUTH passwords through this socket
service auth {{
  unix_listener {root}/postfix/queue/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


def wait_banner(port: int, prefix: bytes, peers: list[Peer], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for peer in peers:
            if peer.process.poll() is not None:
                raise RuntimeError(f"{peer.argv[0]} exited with {peer.process.returncode}: {peer.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(200).startswith(prefix):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered {prefix!r} on port {port}: " + " | ".join(p.output() for p in peers))


def write_config(root: Path, peer: MailPeer) -> None:
    values = {"root": root, "domain": DOMAIN, "uid": MAIL_UID, "gid": MAIL_GID, "smtp_port": peer.smtp_port,
              "plain_smtp_port": peer.plain_smtp_port,
              "login_smtp_port": peer.login_smtp_port, "imap_port": peer.imap_port, "imaps_port": peer.imaps_port,
              "smtps_port": peer.smtps_port}
    subprocess.run([require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}",
                    "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
                   check=True, capture_output=True)
    for sub in ("postfix/queue", "postfix/data", "dovecot/run", "dovecot/state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chown(root / "mail", MAIL_UID, MAIL_GID)
    shutil.chown(root / "postfix/data", "postfix", "postfix")
    (root / "postfix/main.cf").write_text(MAIN_CF.format(**values))
    (root / "postfix/master.cf").write_text(MASTER_CF.format(**values))
    # all are real mailboxes, so smtpd accepts them; the access map decides their fate
    (root / "postfix/mailboxes").write_text("".join(f"{address} {address}/Maildir/\n"
                                                    for address in (peer.user, *peer.teams, peer.discarded,
                                                                    peer.held)))
    (root / "postfix/recipients").write_text(f"{peer.discarded} DISCARD never delivered, by design\n"
                                             f"{peer.held} HOLD kept for the queue tests\n")
    (root / "postfix/transport").write_text(f"{peer.deferred_domain} parked:\n")
    (root / "dovecot/dovecot.conf").write_text(DOVECOT_CONF.format(**values))
    (root / "dovecot/users").write_text("".join(f"{user}:{{PLAIN}}{peer.password}:{MAIL_UID}:{MAIL_GID}::"
                                                f"{root}/mail/{user}\n" for user in (peer.user, *peer.teams)))


def stop_postfix(peer: MailPeer, script: Peer) -> None:
    """`postfix start-fg` runs a shell script whose child is the master daemon: stop the master
    by the PID it wrote; the script then ends by itself."""
    pid_file = peer.root / "postfix/queue/pid/master.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        script.process.wait(10)  # ends with the master, having reaped it
    script.stop()


@pytest.fixture(scope="session")
def mail_peer():
    # Not under pytest's tmp dir: that is root-only (0700), and postfix and dovecot drop to
    # their own users (postfix, dovenull, nobody), which must reach the queue, sockets and maildirs.
    root = Path(tempfile.mkdtemp(prefix="egov-mail-"))
    root.chmod(0o755)
    peer = MailPeer(root, root / "postfix", root / "cert.pem",
                    free_port(), free_port(), free_port(), free_port(), free_port(), free_port())
    write_config(root, peer)
    postfix = [require("postfix"), "-c", str(peer.postfix_dir)]
    check = subprocess.run([*postfix, "check"], capture_output=True, text=True)
    if check.returncode != 0:  # postfix tells fatal errors only to syslog; check says them here
        raise RuntimeError(f"postfix check failed: {check.stdout}{check.stderr}")
    dovecot = Peer([require("dovecot"), "-F", "-c", str(root / "dovecot/dovecot.conf")], root / "dovecot.log")
    script = None
    try:
        script = Peer([*postfix, "start-fg"], root / "postfix.log")
        wait_banner(peer.imap_port, b"* OK", [dovecot, script])
        wait_banner(peer.smtp_port, b"220 ", [dovecot, script])
        yield peer
    finally:
        if script is not None:
            stop_postfix(peer, script)
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)
