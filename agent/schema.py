"""Strict building of dataclasses from YAML mappings.

One mechanism serves the agent config, the collectors' settings and the inventory's
`egov_*` variables: an unknown key, a missing required key or a value of the wrong
type is a ConfigError naming the file, the line and the dotted key path.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from typing import Annotated, Any, Literal, Union

from agent.yamlfile import ConfigError, Located, VaultValue

Duration = Annotated[float, "duration"]
"""Seconds; written as a number or with a unit: 500ms, 15s, 2m, 1h."""
Ratio = Annotated[float, "ratio"]
"""A share from 0 to 1 (0.05 is 5 %)."""
Port = Annotated[int, "port"]
"""A TCP or UDP port, 1 to 65535."""
Regex = Annotated[str, "regex"]
"""A regular expression (Python's re), compiled once when the value is read to prove it valid."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
MAX_DURATION = 365 * 86400.0
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration like 15s, 500ms or 2m")
    if isinstance(value, (int, float)):
        seconds = float(value) if abs(value) < MAX_DURATION else math.inf  # float() of a huge int overflows
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration like 15s, 500ms or 2m, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if not seconds <= MAX_DURATION:  # NaN compares false: `check_hold: .nan` would hold every state forever
        raise ValueError(f"a duration is a finite number of seconds, at most {MAX_DURATION:g} (a year), got {value!r}")
    return seconds


def _ratio(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"expected a ratio from 0 to 1 (0.05 is 5 %), got {value:g}")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {value}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"not a regular expression: {err} in {value!r}") from None
    return value


# each Annotated type's check of a value already of its base type (a duration parses its own text)
_CHECKED = {"ratio": _ratio, "port": _port, "regex": _regex}
_DESCRIBED = {"duration": "a duration (15s, 500ms, 2m)", "ratio": "a ratio from 0 to 1",
              "port": "a port from 1 to 65535", "regex": "a regular expression"}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _DESCRIBED.get(tp.__metadata__[0]) or _describe(tp.__origin__)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _located_error(where: Located | None, key: Any, path: str, message: str) -> ConfigError:
    if isinstance(where, Located):
        return where.error(key, message, path)
    return ConfigError(message, key=path)


_SHAPES: dict[int, tuple[Any, Any, tuple]] = {}


def _shape(tp: Any) -> tuple[Any, tuple]:
    """typing.get_origin and get_args of a type, looked up once: convert runs per value.
    Keyed by identity (the type is kept alive in the value): hashing a Literal hashes
    every one of its values."""
    shape = _SHAPES.get(id(tp))
    if shape is None:
        shape = _SHAPES[id(tp)] = (tp, typing.get_origin(tp), typing.get_args(tp))
    return shape[1:]


def _fits(tp: Any, value: Any) -> bool:
    """Whether a value has the shape of a type: a list for a list, a mapping for a mapping or a dataclass."""
    origin = typing.get_origin(tp)
    if isinstance(value, list):
        return origin in (list, tuple)
    if isinstance(value, dict):
        return origin is dict or tp is dict or dataclasses.is_dataclass(tp)
    return origin not in (list, tuple, dict) and not dataclasses.is_dataclass(tp)


_NAME = re.compile(r"^[\w.-]{1,64}$")


def _item_label(index: int, item: Any) -> str:
    """How a key path names a list item: by its `name` when it has a short one (the path then names
    the item as a reader of the file does: `egov_checks.http[so-y-te].url`), else by its index."""
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) and _NAME.match(name) else str(index)


def convert(tp: Any, value: Any, path: str, parent: Located | None = None, key: Any = None) -> Any:
    """Convert `value` to type `tp`, or raise a ConfigError naming `path`."""

    def fail(message: str) -> ConfigError:
        return _located_error(parent, key, path, message)

    origin, args = _shape(tp)
    if origin is Annotated:
        (marker, *_) = tp.__metadata__
        try:
            if marker == "duration":
                return parse_duration(value)
            checked = convert(tp.__origin__, value, path, parent, key)
            return _CHECKED[marker](checked) if marker in _CHECKED else checked
        except ValueError as err:
            raise fail(str(err)) from None
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [option for option in args if option is not type(None)]
        # a list is tried only as the list option, a mapping as the mapping's: its error is then the
        # precise one (an unknown key of one item), not "expected a mapping or a list"
        options = [option for option in options if _fits(option, value)] or options
        errors = []
        for option in options:
            try:
                return convert(option, value, path, parent, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0] if len(errors) == 1 else fail("expected " + " or ".join(_describe(o) for o in options))
    if origin is Literal:
        if value not in args:
            raise fail(f"expected {_describe(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise fail(f"expected a list, got {type(value).__name__}")
        (item_type, *_) = args
        items = [convert(item_type, item, f"{path}[{_item_label(i, item)}]", parent, key)
                 for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise fail(f"expected a mapping, got {type(value).__name__}")
        key_type, value_type = args
        return {convert(key_type, k, f"{path}.{k}", value, k): convert(value_type, v, f"{path}.{k}", value, k)
                for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path, parent, key)
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"expected an integer, got {value!r}")
        return value
    if tp is str:
        if isinstance(value, VaultValue):
            raise fail("a vault-encrypted value is not allowed here")
        if isinstance(value, (dict, list)) or value is None:
            raise fail(f"expected a string, got {type(value).__name__}")
        return value if isinstance(value, str) else str(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise fail(f"expected {_describe(tp)}, got {value!r}")


@functools.cache
def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """Each init field's type and whether it is required, once per class: resolving the
    hints evaluates every annotation string, and an inventory builds thousands of objects."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: (hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
            for f in dataclasses.fields(cls) if f.init}


def build(cls: type, data: Any, path: str = "", parent: Located | None = None, key: Any = None) -> Any:
    """Build dataclass `cls` from a mapping, strictly. `None` means all defaults."""
    if data is None:
        data = Located()
    if not isinstance(data, dict):
        raise _located_error(parent, key, path or cls.__name__, f"expected a mapping, got {type(data).__name__}")
    fields = _fields(cls)
    prefix = f"{path}." if path else ""
    for name in data:
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise _located_error(data, name, prefix + str(name), f"unknown key (known keys: {known})")
    values = {}
    for name, (tp, required) in fields.items():
        if name in data:
            values[name] = convert(tp, data[name], prefix + name, data, name)
        elif required:
            raise _located_error(parent if not data else data, key, prefix + name, "required key is missing")
    obj = cls(**values)
    for bad_key, message in getattr(obj, "problems", lambda: [])():
        raise _located_error(data, bad_key, prefix + bad_key, message)
    return obj


def field_help(cls: type) -> dict[str, str]:
    """Each field's help: the comment beside it in the class's source and the comment lines
    right above it, from the nearest class of the MRO that gives one (`egov-agent sample-config`
    prints them, so the comment next to a default is the one place that says what it means)."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            helps.update({name: text for name, text in _comments(klass).items() if text})
    return helps


@functools.cache
def _comments(klass: type) -> dict[str, str]:
    import ast
    import inspect
    import io
    import textwrap
    import tokenize

    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):  # a class made by make_dataclass has no source
        return {}
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, line = [], node.lineno - 1
            while line in comments and lines[line - 1].lstrip().startswith("#"):
                above.insert(0, comments[line])
                line -= 1
            beside = [comments[n] for n in range(node.lineno, node.end_lineno + 1)
                      if n in comments and not lines[n - 1].lstrip().startswith("#")]
            found[node.target.id] = " ".join(above + beside)
    return found


def field_types(cls: type) -> dict[str, Any]:
    """Each init field's type, as build() reads it."""
    return {name: tp for name, (tp, _required) in _fields(cls).items()}


def _written_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        count = seconds / _UNIT_SECONDS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{seconds * 1000:g}ms"


def _plain(text: str) -> bool:
    """Whether YAML reads `text` unquoted as this very string."""
    import yaml

    try:
        return text == text.strip() and "#" not in text and yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def written(tp: Any, value: Any) -> str:
    """`value`, of type `tp`, as YAML that build() reads back as the same value."""
    origin, args = _shape(tp)
    if value is None:
        return "null"
    if origin in (Union, types.UnionType):
        return written(next(option for option in args if option is not type(None)), value)
    if origin is Annotated:
        return _written_duration(value) if "duration" in tp.__metadata__ else written(tp.__origin__, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if _plain(value) else "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(written(args[0] if args else Any, item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {written(Any, item)}" for key, item in value.items()) + "}"
    if dataclasses.is_dataclass(value):
        hints = field_types(type(value))
        return "{" + ", ".join(f"{name}: {written(hints[name], getattr(value, name))}" for name in hints) + "}"
    raise TypeError(f"cannot write {value!r} as YAML")


def choices(tp: Any) -> tuple | None:
    """The values a Literal type (optional or not) allows; None for any other type."""
    origin, args = _shape(tp)
    if origin in (Union, types.UnionType):
        return next((found for option in args if (found := choices(option))), None)
    return args if origin is Literal else None
