"""Helpers the host collectors share: reading /proc and /sys, parse errors, regex settings, a
family per field."""

from __future__ import annotations

import functools
import os
import re

from agent.collector import Collector, CollectorError
from agent.metrics import Family


def read_text(root: str, relative: str) -> str:
    """The text of `root/relative` (root is injected so tests point it at fixtures)."""
    path = os.path.join(root, relative)
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError as err:
        raise CollectorError("error", f"cannot read {path}: {err.strerror}") from None


def parser(source: str):
    """Decorate a pure `parse_*(text)`: malformed input becomes CollectorError("parse")."""

    def decorate(parse):
        @functools.wraps(parse)
        def wrapper(text: str):
            try:
                return parse(text)
            except (ValueError, IndexError, KeyError) as err:
                raise CollectorError("parse", f"{source}: {err!r}") from None

        return wrapper

    return decorate


def matches(pattern: str | None, value: str) -> bool:
    """A regex setting, applied as node_exporter applies its excludes: searched, not anchored.

    None matches nothing (an empty regex would match everything).
    """
    return pattern is not None and re.search(pattern, value) is not None


def field_families(kind: type[Family], prefix: str, documentation: str, fields: dict[str, float]) -> list[Family]:
    """A family of one sample per field of a parsed file, named `prefix` + the field's name, its
    HELP `documentation` with the name for {}: node_exporter's "… information field NAME."."""
    return [kind(prefix + name, documentation.format(name), value=value) for name, value in fields.items()]


def with_samples(families):
    """Only the families that have samples: node_exporter prints no HELP for a metric it has no value of."""
    return [family for family in families if family.samples]


class ProcCollector(Collector):
    """A collector that reads /proc; tests point `proc_root` at captured fixture files."""

    def __init__(self, settings=None, context=None, proc_root="/proc"):
        super().__init__(settings, context)
        self._proc_root = proc_root
