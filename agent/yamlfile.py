"""YAML loading that remembers where each key came from, so errors can name file and line.

Every mapping is loaded as a `Located` dict: `lines[key]` is the 1-based line of that key.
Ansible Vault values (`!vault |`) load as `VaultValue`, an opaque secret that never prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is several times faster on large inventories
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


class ConfigError(Exception):
    """Bad input, located: `file:line: key: message`."""

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None,
                 key: str | None = None):
        self.message, self.file, self.line, self.key = message, file, line, key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.file) if self.file else ""
        if where and self.line:
            where += f":{self.line}"
        parts = [p for p in (where, self.key) if p]
        return ": ".join(parts + [self.message])


class Located(dict):
    """A dict that knows the file and the line of each of its keys."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.lines.get(key, self.line)

    def error(self, key: Any, message: str, path: str | None = None) -> ConfigError:
        return ConfigError(message, self.file, self.line_of(key), path or str(key))


class VaultValue:
    """An Ansible Vault ciphertext: kept opaque, never shown."""

    def __init__(self, ciphertext: str):
        self._ciphertext = ciphertext

    def __repr__(self) -> str:
        return "VaultValue(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaultValue) and other._ciphertext == self._ciphertext

    def __hash__(self) -> int:
        return hash(self._ciphertext)


def _loader_for(file: str | None) -> type:
    class Loader(_BaseLoader):  # type: ignore[misc, valid-type]
        pass

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        mapping = Located()
        mapping.file, mapping.line = file, node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigError("a mapping key must be a plain value", file,
                                  key_node.start_mark.line + 1) from None
            if key in mapping:
                raise ConfigError(f"duplicate key {key!r}", file, key_node.start_mark.line + 1)
            mapping[key] = loader.construct_object(value_node, deep=True)
            mapping.lines[key] = key_node.start_mark.line + 1
        return mapping

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor("!vault", lambda loader, node: VaultValue(loader.construct_scalar(node)))
    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    return Loader


def loads(text: str, file: str | Path | None = None) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming file and line."""
    name = str(file) if file is not None else None
    try:
        return yaml.load(text, Loader=_loader_for(name))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {err.problem or err}", name, line) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML: {err}", name) from None


def load(path: str | Path) -> Any:
    """Read and parse a YAML file; unreadable or non-UTF-8 files are ConfigErrors too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read: {err}", path) from None
    return loads(text, path)
