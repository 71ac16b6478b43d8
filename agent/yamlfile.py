"""YAML loading that remembers where each key came from, so errors can name file and line.

Every mapping is loaded as a `Located` dict: `lines[key]` is the 1-based line of that key.
Ansible Vault values (`!vault |`) load as `VaultValue`, an opaque secret that never prints.

What a file may cost is bounded, so a hostile or careless one is refused, not obeyed: a
regular file (never a FIFO or device, whose read could block forever) of at most
MAX_FILE_BYTES, nested at most MAX_DEPTH deep and at most MAX_NODES values once its
aliases are expanded (a "billion laughs" is a few lines that expand to 10^9 values).
"""

from __future__ import annotations

import os
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is several times faster on large inventories
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_MESSAGE_LINE = 500


class _ShortRepr(reprlib.Repr):
    def __init__(self):
        super().__init__()
        self.maxstring = self.maxother = 80

    def repr_Located(self, value, level):  # noqa: N802 - reprlib dispatches on the type's name
        return self.repr_dict(value, level)


def shown(value: Any) -> str:
    """`repr(value)` cut short, for error messages: an input must not make a 33 MB log line."""
    return _ShortRepr().repr(value)


class ConfigError(Exception):
    """Bad input, located: `file:line: key: message`."""

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None,
                 key: str | None = None):
        # a message may quote a value of the input, which can be huge: cut each line short
        message = "\n".join(line if len(line) <= MAX_MESSAGE_LINE else line[:MAX_MESSAGE_LINE] + "…"
                            for line in message.split("\n"))
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

    def construct_document(loader, node):
        _check_cost(node, file)
        return super(Loader, loader).construct_document(node)

    Loader.construct_document = construct_document
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor("!vault", lambda loader, node: VaultValue(loader.construct_scalar(node)))
    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    return Loader


def _check_cost(root: yaml.Node, file: str | None) -> None:
    """Refuse a document nested too deep or too big once its aliases are expanded.

    An alias shares its anchor's node, so the document is a graph: each node's expanded size
    and depth are computed once (iteratively: deep nesting must not exhaust the stack).
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        children = ([] if isinstance(node, yaml.ScalarNode) else
                    [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode)
                    else node.value)
        if not children_done:
            if id(node) in on_path:
                raise ConfigError("an alias refers to the collection it is in (a recursive anchor)",
                                  file, node.start_mark.line + 1)
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in size)
            continue
        on_path.discard(id(node))
        size[id(node)] = 1 + sum(size[id(c)] for c in children)
        depth[id(node)] = 1 + max((depth[id(c)] for c in children), default=0)
        if depth[id(node)] > MAX_DEPTH:
            raise ConfigError(f"nested more than {MAX_DEPTH} levels deep", file, node.start_mark.line + 1)
        if size[id(node)] > MAX_NODES:
            raise ConfigError(f"more than {MAX_NODES:,} values once its aliases are expanded "
                              f"(an alias bomb?)", file, node.start_mark.line + 1)


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


def read_text(path: str | Path) -> str:
    """A regular file's text, at most MAX_FILE_BYTES; anything else is a ConfigError."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError("not a regular file (a FIFO, device or socket): refused, "
                                  "its read could block forever", path)
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: refused", path)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read: {err}", path) from None


def load(path: str | Path) -> Any:
    """Read and parse a YAML file; unreadable or non-UTF-8 files are ConfigErrors too."""
    return loads(read_text(path), path)
