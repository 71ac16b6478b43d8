"""Metric families as collectors build them, each rendered once to both exposition formats.

The API is the one custom collectors know from prometheus_client (`GaugeMetricFamily(name,
help, value=… | labels=[…])`, `add_metric(label_values, value)`, `.samples` with `.name`,
`.labels`, `.value`), for the four types the agent makes: gauge, counter, info, unknown.
prometheus_client stays out of the daemon: its renderers check every name character by
character for every sample, twice, and its import costs 5 MiB; the tests keep it as an oracle.

Both formats are written from one pass over the samples, because for these four types a
sample line is the same in both; only the HELP and TYPE lines differ:

- Prometheus text format 0.0.4 (prometheus/docs, content/docs/instrumenting/exposition_formats.md,
  "Text format details"): HELP escapes backslash and line feed as `\\\\` and `\\n`; a label value
  escapes backslash, double quote and line feed; a counter is named with its `_total`, an info
  family is a gauge named `<name>_info`, an unknown one is `untyped`.
- OpenMetrics 1.0 (prometheus/OpenMetrics, specification/OpenMetrics.md, ABNF): HELP and
  label values are both an `escaped-string`, whose `normal-char` excludes line feed, double
  quote and backslash, so HELP escapes the double quote too; the family is named without the
  sample's `_total` / `_info` suffix and typed `counter`, `info`, `unknown`.

Names are checked once per family layout (cached), so a sample costs formatting only; label
names come sorted in every sample line, as prometheus_client writes them (the golden files).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SPECIAL_VALUES = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


def escape(value: str) -> str:
    """A label value (either format) or an OpenMetrics HELP text."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def format_value(value: float) -> str:
    """A sample value as prometheus_client's floatToGoString writes it: Python's shortest
    round-trip repr, `+Inf`/`-Inf`/`NaN`, and Go's exponent form from 10 million up."""
    text = repr(float(value))
    dot = text.find(".")
    if dot > 6 and text[0] != "-":
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return _SPECIAL_VALUES.get(text, text)


def _check_label_names(family: str, names: Iterable[str]) -> None:
    for name in names:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"metric {family}: invalid label name {name!r}")


@functools.lru_cache(maxsize=4096)
def _layout(kind: type[Family], name: str, documentation: str, labels: tuple[str, ...]) -> tuple[str, bytes, bytes]:
    """(sample line template, text format head, OpenMetrics head) of a family: the names
    are checked here, once, and the label names put in order."""
    if not _METRIC_NAME.fullmatch(name):
        raise ValueError(f"invalid metric name {name!r}")
    _check_label_names(name, labels)
    if len(set(labels)) != len(labels):
        raise ValueError(f"metric {name}: a label name twice in {list(labels)}")
    sample = name + kind.suffix
    pairs = ",".join(f'{label}="{{{i}}}"' for i, label in sorted(enumerate(labels), key=lambda pair: pair[1]))
    template = f"{sample}{{{{{pairs}}}}} " if labels else f"{sample} "
    text_name = sample if kind.suffix else name
    text_help = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return (template,
            f"# HELP {text_name} {text_help}\n# TYPE {text_name} {kind.text_type}\n".encode(),
            f"# HELP {name} {escape(documentation)}\n# TYPE {name} {kind.type}\n".encode())


def sample_line(name: str, labels: Iterable[tuple[str, str]], value: float) -> str:
    """One sample line, its (label, value) pairs sorted, for samples without a family's layout."""
    pairs = ",".join(f'{label}="{escape(text)}"' for label, text in sorted(labels))
    return f"{name}{{{pairs}}} {format_value(value)}\n" if pairs else f"{name} {format_value(value)}\n"


class Sample:
    """One sample; `labels` (a dict) is made when asked for, by checks and tests."""

    __slots__ = ("name", "names", "values", "value")
    timestamp = None  # never set (Prometheus stamps a sample with the scrape's time); the oracle's renderer reads it

    def __init__(self, name: str, names: tuple[str, ...], values: tuple[str, ...], value: float):
        self.name, self.names, self.values, self.value = name, names, values, value

    @property
    def labels(self) -> dict[str, str]:
        return dict(zip(self.names, self.values))

    def __repr__(self) -> str:
        return f"Sample({self.name!r}, {self.labels!r}, {self.value!r})"


class Family:
    """A metric family of one type; subclasses say which."""

    type = "gauge"  # as OpenMetrics names it
    text_type = "gauge"  # as the text format names it
    suffix = ""  # of the sample name

    def __init__(self, name: str, documentation: str, value: float | None = None,
                 labels: Sequence[str] | None = None):
        if labels is not None and value is not None:
            raise ValueError(f"metric {name}: a value or label names, not both")
        self.name, self.documentation = name, documentation
        self._labels = tuple(labels or ())
        self._template, self._text_head, self._openmetrics_head = _layout(type(self), name, documentation,
                                                                          self._labels)
        self._sample_name = name + self.suffix
        self.samples: list[Sample] = []
        if value is not None:
            self.add_metric((), value)

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        if len(labels) != len(self._labels):
            raise ValueError(f"metric {self.name}: {len(labels)} label values for {list(self._labels)}")
        self.samples.append(Sample(self._sample_name, self._labels, tuple(labels), value))

    def _lines(self) -> str:
        template, samples = self._template, self.samples
        every_value = "".join(["".join(s.values) for s in samples])
        if "\\" in every_value or '"' in every_value or "\n" in every_value:  # rare: then escape each
            return "".join([f"{template.format(*map(escape, s.values))}{format_value(s.value)}\n" for s in samples])
        return "".join([f"{template.format(*s.values)}{format_value(s.value)}\n" for s in samples])

    def render(self) -> tuple[bytes, bytes, bytes]:
        """(text format head, OpenMetrics head, sample lines): the lines are the same in both."""
        return self._text_head, self._openmetrics_head, self._lines().encode()


class GaugeMetricFamily(Family):
    pass


class CounterMetricFamily(Family):
    type = text_type = "counter"
    suffix = "_total"

    def __init__(self, name: str, documentation: str, value: float | None = None,
                 labels: Sequence[str] | None = None):
        super().__init__(name.removesuffix("_total"), documentation, value, labels)


class UnknownMetricFamily(Family):
    type, text_type = "unknown", "untyped"


class InfoMetricFamily(Family):
    """`add_metric(label_values, {label: value, …})`: the dict's labels join the family's, value 1."""

    type = "info"
    suffix = "_info"

    def add_metric(self, labels: Sequence[str], value: dict[str, str]) -> None:
        _check_label_names(self.name, value)
        names = self._labels + tuple(name for name in value if name not in self._labels)
        merged = dict(zip(self._labels, labels), **value)
        self.samples.append(Sample(self._sample_name, names, tuple(merged[name] for name in names), 1))

    def _lines(self) -> str:  # each sample has its own label names
        return "".join([sample_line(s.name, zip(s.names, s.values), s.value) for s in self.samples])


class Rendered:
    """A family whose sample lines were rendered in parts, as they came (the SNMP collector's, a
    device at a time as each poll ends), and are held as bytes: no samples live on."""

    samples = ()

    def __init__(self, family: Family, lines: Iterable[bytes]):
        self.name, self.type = family.name, family.type
        self._text_head, self._openmetrics_head, _ = family.render()
        self._lines = b"".join(lines)

    def render(self) -> tuple[bytes, bytes, bytes]:
        return self._text_head, self._openmetrics_head, self._lines


def render(families: Iterable[Family | Rendered]) -> tuple[bytes, bytes]:
    """Text format and OpenMetrics (without its `# EOF`, which a scrape adds once at the end)."""
    text, openmetrics = [], []
    for family in families:
        text_head, openmetrics_head, lines = family.render()
        text += (text_head, lines)
        openmetrics += (openmetrics_head, lines)
    return b"".join(text), b"".join(openmetrics)
