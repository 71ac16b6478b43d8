"""TLS and basic auth for the HTTP endpoints, in the web config format of Prometheus exporters.

The file is the one node_exporter and blackbox_exporter read with `--web.config.file`
(prometheus/exporter-toolkit), so a security team can reuse theirs:

    tls_server_config:
      cert_file: /etc/egov-agent/agent.crt
      key_file: /etc/egov-agent/agent.key
      client_auth_type: RequireAndVerifyClientCert   # optional mutual TLS
      client_ca_file: /etc/egov-agent/ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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


@dataclass
class TLSServerConfig:
    cert_file: str
    key_file: str
    client_auth_type: Literal[tuple(_CLIENT_AUTH)] = "NoClientCert"  # type: ignore[valid-type]
    client_ca_file: str | None = None
    min_version: Literal["TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS12", "TLS13"] = "TLS13"

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
    config = build(WebConfig, data if data is not None else Located())
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
    bcrypt is deliberately slow and Prometheus sends the same credentials every scrape."""

    _CACHE_SIZE = 64

    def __init__(self, users: dict[str, str]):
        self._users = {user: hashed.encode() for user, hashed in users.items()}
        self._bcrypt = _import_bcrypt(None) if users else None
        self._ok: set[bytes] = set()
        self._lock = threading.Lock()
        # a hash to compare unknown users against, so timing does not tell which users exist
        self._decoy = self._bcrypt.hashpw(b"decoy", self._bcrypt.gensalt(4)) if users else b""

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def allows(self, header: str | None) -> bool:
        if not self._users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        with self._lock:
            if any(hmac.compare_digest(key, ok) for ok in self._ok):
                return True
        hashed = self._users.get(user)
        valid = self._bcrypt.checkpw(password.encode(), hashed or self._decoy) and hashed is not None
        if valid:
            with self._lock:
                if len(self._ok) >= self._CACHE_SIZE:
                    self._ok.pop()
                self._ok.add(key)
        return valid
