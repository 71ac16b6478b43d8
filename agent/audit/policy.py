"""Policy packs: rules as data (policies/<pack>.yml), evaluated on a configuration's text.

A rule looks at a context — the global lines, or every block whose header matches a
regular expression (`^interface GigabitEthernet`, `^line vty`, `sshd` for a Linux file) —
and asks for lines there (`require`), against lines there (`forbid`), or a number within
bounds (`numeric`). `only_if` / `unless` choose which blocks a rule is about (access
ports, interfaces without a description). With `match: each` (the default) every block must
pass and a configuration without such a block passes (not applicable); with `match: any` one
passing block is enough and there must be one (an sshd setting in any of its files);
`prefer` narrows the blocks (after only_if / unless) to those whose header matches it, when
there are any (the effective `sshd -T` over the files it is made of).

A device does not print its defaults. A rule's `defaults` name them: a block (or the
global lines) that has no line matching `unless` is judged as if it held `line`, on the
platforms listed (all the pack's by default) and when the global lines match `if_global`
(IOS's VTY lines use `login authentication default` without printing it when a default
login list exists; a CloudEngine's Telnet server is on unless `telnet server disable`).
A finding names such a line followed by IMPLIED: the device did not print it.

Patterns are Python regular expressions, matched per line (^ and $ are a line's ends) on
lines with their whitespace collapsed (agent/audit/configtext.py). Each context's lines are
searched as one text, so a pattern costs one scan in C, not one call per line: 1,000
configurations of 300 lines against the full packs take a fraction of a second per pack.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import policies
from agent import yamlfile
from agent.audit import configtext
from agent.schema import build
from agent.yamlfile import ConfigError

POLICIES = Path(policies.__file__).resolve().parent
IMPLIED = "(the default: not printed)"  # after an offending line that a rule's defaults supplied
SEVERITIES = ("critical", "high", "medium", "low")
Severity = Literal["critical", "high", "medium", "low"]


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.MULTILINE)


@dataclass
class Numeric:
    line: str  # a pattern with one group: the number
    min: float | None = None
    max: float | None = None
    absent: Literal["pass", "fail"] = "fail"  # when no line matches (the platform's default may be fine)

    def problems(self):
        try:
            groups = _compile(self.line).groups
        except re.error as err:
            return [("line", f"not a regular expression: {err}")]
        if groups != 1:
            return [("line", f"needs exactly one group (the number), has {groups}")]
        if self.min is None and self.max is None:
            return [("line", "a numeric rule needs min or max")]
        return []

    def out_of_bounds(self, value: float) -> bool:
        return (self.min is not None and value < self.min) or (self.max is not None and value > self.max)


@dataclass
class Default:
    """A line the device behaves as having where it prints none (its documented default)."""

    line: str  # as the device would print it
    unless: str  # a line of the block that says otherwise
    if_global: str = ""  # only where the global lines match this too
    platforms: list[str] = field(default_factory=list)  # only on these platforms (default: all)

    def problems(self):
        for key in ("unless", "if_global"):
            try:
                _compile(getattr(self, key))
            except re.error as err:
                return [(key, f"not a regular expression: {err}")]
        return []


@dataclass(frozen=True)
class _Compiled:
    header: re.Pattern | None
    only_if: list[re.Pattern]
    unless: list[re.Pattern]
    require: list[re.Pattern]
    forbid: list[re.Pattern]
    numeric: re.Pattern | None
    prefer: re.Pattern | None
    defaults: list[tuple[Default, re.Pattern, re.Pattern | None]]


@dataclass
class Rule:
    id: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    reference: str = ""  # the benchmark item it comes from
    context: str = "global"  # or a pattern on block headers
    prefer: str = ""  # among those blocks, only the ones whose header matches this, when there are any
    match: Literal["each", "any"] = "each"
    only_if: list[str] = field(default_factory=list)  # a block counts when one of its lines matches one
    unless: list[str] = field(default_factory=list)  # a block is skipped when one of its lines matches one
    require: list[str] = field(default_factory=list)  # each must match a line
    forbid: list[str] = field(default_factory=list)  # none may match a line
    numeric: Numeric | None = None
    defaults: list[Default] = field(default_factory=list)  # what the device does without a line

    def problems(self):
        if not (self.require or self.forbid or self.numeric):
            return [("id", f"rule {self.id} checks nothing: give it require, forbid or numeric")]
        for key in ("only_if", "unless", "require", "forbid"):
            for pattern in getattr(self, key):
                try:
                    _compile(pattern)
                except re.error as err:
                    return [(key, f"{pattern!r} is not a regular expression: {err}")]
        for key in ("context", "prefer"):
            pattern = getattr(self, key)
            if pattern and pattern != "global":
                try:
                    _compile(pattern)
                except re.error as err:
                    return [(key, f"not a regular expression: {err}")]
        return []

    @cached_property
    def compiled(self) -> _Compiled:
        patterns = lambda key: [_compile(p) for p in getattr(self, key)]  # noqa: E731
        return _Compiled(None if self.context == "global" else _compile(self.context), patterns("only_if"),
                         patterns("unless"), patterns("require"), patterns("forbid"),
                         _compile(self.numeric.line) if self.numeric else None,
                         _compile(self.prefer) if self.prefer else None,
                         [(d, _compile(d.unless), _compile(d.if_global) if d.if_global else None)
                          for d in self.defaults])


@dataclass
class Pack:
    title: str
    platforms: list[str]  # egov_platform values the pack applies to
    rules: list[Rule]
    name: str = ""  # the file's name: cisco_ios for policies/cisco_ios.yml

    def problems(self):
        seen = set()
        for rule in self.rules:
            if rule.id in seen:
                return [("rules", f"rule id {rule.id} appears twice")]
            seen.add(rule.id)
        return []


@dataclass(frozen=True)
class Finding:
    """One rule on one configuration."""

    rule: Rule
    passed: bool
    applicable: bool = True  # False: the configuration has no block the rule is about
    offending: tuple[tuple[str, str], ...] = ()  # (context, line): a forbidden or out-of-bounds line
    missing: tuple[tuple[str, str], ...] = ()  # (context, pattern): a required line not found
    contexts: tuple[str, ...] = ()  # the blocks that failed ('' is global)


def load_pack(path: str | Path) -> Pack:
    data = yamlfile.load(path)
    pack = build(Pack, data)
    pack.name = Path(path).stem
    return pack


def load_packs(directory: str | Path = POLICIES) -> dict[str, Pack]:
    """{egov_platform: pack} from every *.yml in `directory`."""
    by_platform: dict[str, Pack] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        pack = load_pack(path)
        for platform in pack.platforms:
            if platform in by_platform:
                raise ConfigError(f"platform {platform} has two packs: {by_platform[platform].name} and {pack.name}",
                                  file=path)
            by_platform[platform] = pack
    return by_platform


def parser_of(platform: str) -> str:
    """The configuration syntax a platform's files are in (configtext.parse)."""
    return "linux" if platform == "linux" else platform


def evaluate(pack: Pack, text: str, platform: str | None = None) -> list[Finding]:
    """Every rule of `pack` on the configuration `text`."""
    blocks = configtext.parse(text, parser_of(platform or pack.platforms[0]))
    joined: dict[str, str] = {}

    def text_of(context: str) -> str:
        if context not in joined:
            joined[context] = "\n".join(blocks.get(context, ()))
        return joined[context]

    return [_mark_implied(_evaluate(rule, blocks, _with_defaults(rule, text_of, platform or pack.platforms[0])), blocks)
            if rule.defaults else _evaluate(rule, blocks, text_of) for rule in pack.rules]


def _mark_implied(finding: Finding, blocks: dict[str, list[str]]) -> Finding:
    """An offending line the configuration does not hold came from the rule's defaults: say so."""
    offending = tuple((context, line if line in blocks.get(context, ()) else f"{line} {IMPLIED}")
                      for context, line in finding.offending)
    return dataclasses.replace(finding, offending=offending)


def _with_defaults(rule: Rule, text_of, platform: str):
    """text_of, with the rule's defaults added to the contexts that print none."""
    defaults = [(d.line, unless, if_global) for d, unless, if_global in rule.compiled.defaults
                if not d.platforms or platform in d.platforms]
    if not defaults:
        return text_of

    def text_with_defaults(context: str) -> str:
        text = text_of(context)
        implied = [line for line, unless, if_global in defaults
                   if not unless.search(text) and (if_global is None or if_global.search(text_of("")))]
        return "\n".join(filter(None, [text, *implied]))
    return text_with_defaults


def _evaluate(rule: Rule, blocks: dict[str, list[str]], text_of) -> Finding:
    patterns = rule.compiled
    if patterns.header is None:
        contexts = [""]
    else:
        # a header printed twice (configurations pasted together) is one block: judge it once
        contexts = list(dict.fromkeys(header for header in blocks[""] if patterns.header.search(header)))
    contexts = [context for context in contexts if _about(patterns, text_of(context))]
    if patterns.prefer:  # the effective settings (`sshd -T`) over the files, when there are any
        contexts = [context for context in contexts if patterns.prefer.search(context)] or contexts
    offending, missing, failed = [], [], []
    considered = len(contexts)
    for context in contexts:
        text = text_of(context)
        bad = [(context, _line_at(text, match)) for pattern in patterns.forbid for match in pattern.finditer(text)]
        absent = [(context, pattern.pattern) for pattern in patterns.require if not pattern.search(text)]
        if rule.numeric:
            bad += _numeric(rule.numeric, patterns.numeric, context, text, absent)
        if bad or absent:
            failed.append(context)
            offending += bad
            missing += absent
        elif rule.match == "any":
            return Finding(rule, passed=True)
    if rule.match == "any":
        if not considered:  # nowhere to look: the required setting is nowhere
            where = "" if patterns.header is None else rule.context
            missing = [(where, pattern) for pattern in rule.require] or [(where, rule.context)]
        return Finding(rule, passed=False, offending=tuple(offending), missing=tuple(missing),
                       contexts=tuple(failed))
    if not considered:
        return Finding(rule, passed=True, applicable=False)
    return Finding(rule, passed=not failed, offending=tuple(dict.fromkeys(offending)), missing=tuple(missing),
                   contexts=tuple(failed))


def _about(patterns: _Compiled, text: str) -> bool:
    """The block is one the rule is about (only_if, unless)."""
    if patterns.only_if and not any(p.search(text) for p in patterns.only_if):
        return False
    return not any(p.search(text) for p in patterns.unless)


def _line_at(text: str, match: re.Match) -> str:
    """The whole line a match starts in."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.start())
    return text[start:end if end >= 0 else len(text)]


def _numeric(numeric: Numeric, pattern: re.Pattern, context: str, text: str, absent: list) -> list[tuple[str, str]]:
    bad, seen = [], False
    for match in pattern.finditer(text):
        seen = True
        try:
            value = float(match.group(1))
        except (TypeError, ValueError):  # the pattern caught something else than a number
            value = None
        if value is None or numeric.out_of_bounds(value):
            bad.append((context, _line_at(text, match)))
    if not seen and numeric.absent == "fail":
        absent.append((context, numeric.line))
    return bad


@dataclass
class DeviceAudit:
    """What the audit found on one device (or one file)."""

    device: str
    platform: str
    site: str = ""
    source: str = ""  # where the configuration came from: a path, or the backup store
    findings: list[Finding] = field(default_factory=list)
    drift: dict[str, list[tuple[str, list[str]]]] | None = None  # configtext.drift(); None: no golden config
    backup_age: float | None = None  # seconds since the last successful backup; None: not from a backup
    error: str = ""  # why it could not be audited (never backed up, no pack for its platform)

    @property
    def failed(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.passed]
