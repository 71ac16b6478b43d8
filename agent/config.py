"""The agent's own config (agent.yml): where to listen, logging, inventory, collectors.

With no file at all the agent runs on the embedded default: every default-on collector
with its default settings, serving on 127.0.0.1:DEFAULT_PORT.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from agent import yamlfile
from agent.collector import Collector, CollectorSettings, discover
from agent.probe import check_kinds
from agent.schema import Duration, build, choices, field_help, field_types, written
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
    listen: str = DEFAULT_LISTEN  # HOST:PORT of /metrics, the status page and /-/reload; read at start only
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["logfmt", "json"] = "logfmt"  # one line per event, on stderr
    # exporter-toolkit web config (tls_server_config, basic_auth_users), as Prometheus exporters use
    web_config_file: str | None = None
    inventory: str | None = None  # an Ansible YAML inventory (targets, sites, thresholds); -i overrides it
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
    """A commented agent.yml, generated: every key with its real default and the comment beside
    its field (agent.schema.field_help), then a collector's SAMPLE_NOTE for what its settings
    cannot say. Nothing in it is written twice, so nothing in it can drift from the defaults."""
    lines = ["# egov-agent configuration. Every key is optional; unknown keys are errors.",
             *_sample_keys(AgentSettings(), skip="collectors"),
             "",
             "# Each collector: enabled, interval and timeout (less than the interval), then its own keys.",
             "collectors:"]
    kinds = check_kinds()
    for name, cls in discover().items():
        lines.append(f"  # {name} ({'on' if cls.default_enabled else 'off'} by default): {cls.help}")
        lines.append(f"  {name}:")
        lines += _sample_keys(cls.Settings(enabled=cls.default_enabled), indent="    ")
        if name in kinds:
            lines += _check_keys(name, kinds[name])
        lines += [f"    {line}" for line in cls.SAMPLE_NOTE.splitlines()]
        lines.append("")
    return "\n".join(lines)


def _check_keys(kind: str, check: type) -> list[str]:
    """What a host's inventory check of the kind may say, each key with its default."""
    defaults = {f.name: getattr(check(), f.name) for f in fields(check)}
    keys = ", ".join(f"{name} ({written(tp, defaults[name])})" if defaults[name] not in (None, (), [])
                     else name for name, tp in field_types(check).items())
    several = "" if getattr(check, "ONE_PER_HOST", False) else " (or a list of such checks, each with its name)"
    text = (f"What to check, and how, comes from the inventory: a host's egov_checks.{kind}, with the keys "
            f"{keys}{several}.")
    return [f"    # {line}" for line in textwrap.wrap(text, SAMPLE_WIDTH - 6)]


SAMPLE_WIDTH = 110  # a comment that does not fit beside its key goes above it


def _sample_keys(settings, indent: str = "", skip: str = "") -> list[str]:
    """`key: default  # help` for every field of the settings dataclass."""
    helps, types = field_help(type(settings)), field_types(type(settings))
    rows = []
    for name, tp in types.items():
        if name != skip:
            options = choices(tp)
            help_ = "; ".join(filter(None, [helps.get(name), options and "one of " + ", ".join(options)]))
            rows.append((f"{name}: {written(tp, getattr(settings, name))}", help_))
    width = max((len(key) for key, help_ in rows if help_ and len(key) <= 40), default=0)
    lines = []
    for key, help_ in rows:
        if not help_:
            lines.append(indent + key)
        elif len(indent) + max(width, len(key)) + 4 + len(help_) <= SAMPLE_WIDTH:
            lines.append(f"{indent}{key.ljust(width)}  # {help_}")
        else:
            lines += [f"{indent}# {line}" for line in textwrap.wrap(help_, SAMPLE_WIDTH - len(indent) - 2)]
            lines.append(indent + key)
    return lines
