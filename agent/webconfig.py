"""TLS and basic auth for the HTTP endpoints, in the web config format of Prometheus exporters.

The file is the one node_exporter and blackbox_exporter read with `--web.config.file`
(prometheus/exporter-toolkit), so a security team can reuse theirs:

    tls_server_config:
      cert_file: /etc/egov-agent/agent.crt
      key_file: /etc/egov-agent/agent.key
      client_auth_type: RequireAndVerifyClientCert   # optional mutual TLS
      client_ca_file: /etc/egov-agent/ca.crt
      min_version: TLS12
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]  # TLS 1.2 only, Go's names
      curve_preferences: [X25519]
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

The keys and their meaning are exporter-toolkit's (docs/web-configuration.md); cipher suite
and curve names are Go crypto/tls's (`tls.CipherSuites()`, `tls.CurveID`), mapped here to
OpenSSL's. Without `cipher_suites`, TLS 1.2 offers only forward-secret AEAD suites (ECDHE
with AES-GCM or ChaCha20-Poly1305): no RSA key exchange, no CBC. TLS 1.3 suites, all
forward-secret AEAD, are not configurable (as in Go).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent import yamlfile
from agent.schema import build
from agent.yamlfile import ConfigError, Located

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's tls.CipherSuites(), the only names exporter-toolkit accepts, as OpenSSL names; the
# TLS 1.3 ones (None) are accepted and, as in Go, change nothing
_CIPHER_SUITES = {
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"  # TLS 1.2: forward secrecy and AEAD only
_CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}
# bcrypt's modular crypt format: $2a$/$2b$/$2y$, a cost of 04-31, 22 characters of salt and 31 of hash
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


@dataclass
class TLSServerConfig:
    cert_file: str
    key_file: str
    client_auth_type: Literal[tuple(_CLIENT_AUTH)] = "NoClientCert"  # type: ignore[valid-type]
    client_ca_file: str | None = None
    min_version: Literal["TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS12", "TLS13"] = "TLS13"
    cipher_suites: list[Literal[tuple(_CIPHER_SUITES)]] = field(default_factory=list)  # type: ignore[valid-type]
    # the server's order of cipher_suites wins over the client's (exporter-toolkit's default)
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[Literal[tuple(_CURVES)]] = field(default_factory=list)  # type: ignore[valid-type]

    def problems(self):
        if self.client_auth_type != "NoClientCert" and not self.client_ca_file:
            yield "client_ca_file", f"required with client_auth_type {self.client_auth_type}"


@dataclass
class HTTPServerConfig:
    headers: dict[str, str] = field(default_factory=dict)



@dataclass
class WebConfig:
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = field(default_factory=dict)


def load_web_config(path: str | Path | None) -> WebConfig:
    if path is None:
        return WebConfig()
    data = yamlfile.load(path)
    data = data if data is not None else Located()
    config = build(WebConfig, data)
    _check(config, data)
    base = Path(path).parent
    if config.tls_server_config:  # relative paths are relative to the web config, as in exporter-toolkit
        tls = config.tls_server_config
        for key in ("cert_file", "key_file", "client_ca_file"):
            value = getattr(tls, key)
            if value:
                setattr(tls, key, str(base / value))
    if config.basic_auth_users:
        _import_bcrypt(path)
    return config


def _check(config: WebConfig, data: Located) -> None:
    """What the types cannot say, located at the key."""
    for user, hashed in config.basic_auth_users.items():
        if not _BCRYPT.fullmatch(hashed):  # '' or a plain password would let anything, or nothing, in
            raise data["basic_auth_users"].error(user, "expected a bcrypt hash ($2y$, a cost, 53 characters: "
                                                 "htpasswd -nBC 10 \"\" | tr -d ':\\n')", f"basic_auth_users.{user}")
    for name, value in config.http_server_config.headers.items():
        if not _HEADER_NAME.fullmatch(name) or any(c in value for c in "\r\n\0"):
            # written out as is, a CR or LF would start another header (or the body)
            raise data["http_server_config"]["headers"].error(
                name, "a header name is a token and a value holds no CR, LF or NUL",
                f"http_server_config.headers.{ascii(name)[1:-1]}")  # escaped: the error is logged


def _import_bcrypt(path):
    try:
        import bcrypt
    except ImportError:
        raise ConfigError("basic_auth_users needs the bcrypt package (pip install egov-agent[web-auth])",
                          path) from None
    return bcrypt


def ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _TLS_VERSIONS[tls.min_version]
    context.maximum_version = _TLS_VERSIONS[tls.max_version]
    tls12 = [_CIPHER_SUITES[name] for name in tls.cipher_suites if _CIPHER_SUITES[name]]
    context.set_ciphers(":".join(tls12) if tls12 else DEFAULT_CIPHERS)
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.curve_preferences:
        # Python's ssl sets one ECDH group: the first preference, the one Go would pick
        # for a client offering them all
        context.set_ecdh_curve(_CURVES[tls.curve_preferences[0]])
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file:
            context.load_verify_locations(tls.client_ca_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"cannot load TLS certificate or key: {err}", key="tls_server_config") from None
    context.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
    return context


class BasicAuth:
    """Checks `Authorization: Basic` against bcrypt hashes; successes are cached because
    bcrypt is deliberately slow and Prometheus sends the same credentials every scrape.

    An unknown user costs what a known one does: its password is checked against a decoy
    hash of the highest cost among the users' (of a random password nobody can send)."""

    _CACHE_SIZE = 64

    def __init__(self, users: dict[str, str]):
        self._users = {user: hashed.encode() for user, hashed in users.items()}
        self._bcrypt = _import_bcrypt(None) if users else None
        self._ok: set[bytes] = set()
        self._lock = threading.Lock()
        if users:
            cost = max(int(hashed[4:6]) for hashed in users.values())
            self._decoy = self._bcrypt.hashpw(secrets.token_urlsafe(32).encode(), self._bcrypt.gensalt(cost))

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def allows(self, header: str | None) -> bool:
        if not self._users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            credentials = base64.b64decode(header[6:], validate=True)
            user, _, password = credentials.decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        # the user name holds no ":", so "user:password" names one pair only
        key = hashlib.sha256(credentials).digest()
        with self._lock:
            if any(hmac.compare_digest(key, ok) for ok in self._ok):
                return True
        try:
            matches = self._bcrypt.checkpw(password.encode(), self._users.get(user, self._decoy))
        except ValueError:  # bcrypt refuses passwords longer than 72 bytes
            return False
        valid = matches and user in self._users
        if valid:
            with self._lock:
                if len(self._ok) >= self._CACHE_SIZE:
                    self._ok.pop()
                self._ok.add(key)
        return valid
