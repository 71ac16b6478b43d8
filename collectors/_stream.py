"""Opening a TCP (or TLS) connection to a target, with its failures named as probe reasons.

Shared by the probes that connect: sip (tcp and tls transports) and h323.
"""

from __future__ import annotations

import asyncio
import errno
import os
import ssl
import time

from agent.collector import CollectorError


def insecure_tls() -> ssl.SSLContext:
    """TLS that proves the handshake works but trusts any certificate.

    Meeting-room endpoints mostly carry self-signed certificates; a reachability probe that
    rejected them would report every one as down. Certificate validity is a check of its own.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def open_stream(address: str, port: int, tls: ssl.SSLContext | None = None
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, float]:
    """(reader, writer, seconds to connect, TLS handshake included); CollectorError when it fails."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(address, port, ssl=tls)
    except ssl.SSLError as err:  # before OSError: it is one
        raise CollectorError("tls", f"TLS handshake failed: {err.reason or err}") from None
    except OSError as err:
        if tls is not None and isinstance(err, (ConnectionResetError, BrokenPipeError)):
            raise CollectorError("tls", "connection closed during the TLS handshake") from None
        raise CollectorError("connect", describe(err)) from None
    return reader, writer, time.monotonic() - started


def describe(err: OSError) -> str:
    """A short, stable text for a socket error: asyncio's own wraps the address into strerror."""
    if isinstance(err, ConnectionRefusedError) or err.errno == errno.ECONNREFUSED:
        return "connection refused"
    return os.strerror(err.errno).lower() if err.errno else str(err)
