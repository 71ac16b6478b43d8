"""The agent's own config (agent.yml): where to listen, logging, inventory, collectors.

With no file at all the agent runs on the embedded default: every default-on collector
with its default settings, serving on 127.0.0.1:DEFAULT_PORT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent import yamlfile
from agent.collector import Collector, CollectorSettings, discover
from agent.schema import Duration, build
from agent.yamlfile import ConfigError, Located

DEFAULT_PORT = 9469
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass
class AgentSettings:
    listen: str = DEFAULT_LISTEN
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["logfmt", "json"] = "logfmt"
    # exporter-toolkit web config (tls_server_config, basic_auth_users), as Prometheus exporters use
    web_config_file: str | None = None
    inventory: str | None = None
    # this agent's host in the inventory; default: this machine's hostname
    inventory_host: str | None = None
    # a check's new state must last this long before it is shown, so a flapping link does not page
    check_hold: Duration = 60.0
    # a reload whose loading takes longer is abandoned and fails; the old config keeps serving
    reload_timeout: Duration = 30.0
    collectors: dict = field(default_factory=Located)

    def problems(self):
        try:
            parse_listen(self.listen)
        except ValueError as err:
            yield "listen", str(err)


@dataclass
class Config:
    agent: AgentSettings
    collectors: dict[str, CollectorSettings]  # enabled collectors only, by name
    source: str  # the file it came from, or "<embedded default>"


def collector_settings(classes: dict[str, type[Collector]], blocks: Located) -> dict:
    """Strictly build each collector's settings; unknown collector names are errors."""
    settings = {}
    for name in blocks:
        if name not in classes:
            raise blocks.error(name, f"unknown collector (known: {', '.join(classes)})", f"collectors.{name}")
    for name, cls in classes.items():
        block = blocks.get(name)
        built = build(cls.Settings, block, f"collectors.{name}", blocks, name)
        if block is None or "enabled" not in block:
            built.enabled = cls.default_enabled
        if built.enabled:
            settings[name] = built
    return settings


def load_config(path: str | Path | None = None) -> Config:
    """Load agent.yml (or the embedded default); every mistake is a located ConfigError."""
    classes = discover()
    if path is None:
        data, source = Located(), "<embedded default>"
    else:
        data, source = yamlfile.load(path), str(path)
        if data is None:
            data = Located()
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping at the top level", source, 1)
    agent = build(AgentSettings, data)
    return Config(agent, collector_settings(classes, agent.collectors), source)


def sample_config() -> str:
    """A commented agent.yml assembled from the collectors' own SAMPLE blocks."""
    lines = [
        "# egov-agent configuration. Every key is optional; unknown keys are errors.",
        f"listen: {DEFAULT_LISTEN}",
        "log_level: info            # debug, info, warning, error",
        "log_format: logfmt         # logfmt or json, one line per event",
        "# web_config_file: /etc/egov-agent/web.yml   # TLS and basic auth, as Prometheus exporters do",
        "# inventory: /etc/egov-agent/inventory       # an Ansible YAML inventory: targets, sites, thresholds",
        "# inventory_host: dc1-mail-01                # this agent's host in it (default: the hostname)",
        "check_hold: 60s           # a check's new state must last this long before it is shown",
        "reload_timeout: 30s       # a reload that takes longer to load is abandoned (the old config serves on)",
        "",
        "# Each collector: enabled, interval and timeout (< interval), plus its own keys.",
        "collectors:",
    ]
    for name, cls in discover().items():
        default = "on" if cls.default_enabled else "off"
        lines.append(f"  # {name} ({default} by default): {cls.help}")
        sample = cls.SAMPLE or f"{name}: {{}}\n"
        lines += ["  " + line if line else "" for line in sample.rstrip("\n").splitlines()]
        lines.append("")
    return "\n".join(lines)
