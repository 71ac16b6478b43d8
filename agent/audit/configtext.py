"""Device configurations as text: blocks, golden lines, drift.

One reading of a configuration serves the provisioning module (which lines of the golden
configuration a device lacks), the policy packs and the drift report:

- Cisco IOS, Huawei VRP and H3C Comware: a line at column 0 is a global line and, when
  indented lines follow it, the header of their block (`interface X`, `line vty 0 4`, `aaa`).
  A separator at column 0 (`!` on IOS, `#` on VRP and Comware) ends a block: VRP and
  Comware 5 indent their global lines too, one section between two `#`. An indented
  separator does not: IOS prints ` !` between a `router bgp`'s address families, VRP8 ` #`
  between the schemes of its `aaa` block (corpus: batfish_example_as1core1_15.2,
  inta_ne40e_doc_local_authn_authz). Nor does a comment (`!text`, `# text`: the publishers'
  notes in idx_home-core-msr_comware7_7.1.064_annotated) or a line of spaces. A banner is
  one line whatever its delimiter and however many lines it spans: typed as
  `banner login ^Text^`, IOS prints `banner login ^CText^C`, and both read
  `banner login ^CText^C`; Comware's ` header motd %` ... `%` reads `header motd ^C...^C`.
- Linux hosts: a backup is several files, each after a header line `==> NAME <==` (as
  `tail` prints several files); each file is a block whose lines are its non-comment lines.

Lines are compared with their whitespace collapsed. Anything a device prints that is not a
configuration line (IOS's `Building configuration...`, `end`, `return`) is left out.
"""

from __future__ import annotations

import re

from agent import platforms

# IOS prints `no X` for a feature that is on by default: for these a golden `no X` needs the
# line `no X` itself; for the others it means only that no line X is there.
SHOWN_WHEN_OFF = ("service pad", "ip source-route", "cdp run", "ip bootp server", "ip domain-lookup")
# A secret's value is not compared: a golden line holds a placeholder (`<env:NAME>`, typed
# from the environment), a device its hash, a backup a token. `enable secret 9 $9$...`,
# `enable secret <env:X>` and `enable secret <redacted:ab12>` all read `enable secret <secret>`.
# Comware is typed `password simple X` and prints `password hash|cipher X` (corpus:
# netutils_comware7_full_7.1.045, idx_h3c-switch_comware5): all read `password <secret>`.
_SECRET = re.compile(r"^(.*?\b(?:secret|password|cipher|irreversible-cipher))(?: \d| hash| simple| cipher)? \S+$")
SECTION = re.compile(r"^==> (.+) <==$")
# IOS `banner login ^C...^C`; Comware `header login|motd|... %...%`, its delimiter of choice,
# printed indented (netutils_comware7_full_7.1.045); not VRP's `header login information "..."`
_BANNER = re.compile(r"^((?:banner|header) (?:\S+)) (?!information |file )(\^C|\S)(.*)$")
_PREAMBLE = ("Building configuration", "Current configuration :")


def parse(lines: list[str] | str, platform: str = "cisco_ios") -> dict[str, list[str]]:
    """The configuration as {context: [lines]}: context '' holds the global lines (block
    headers too), a block header its lines."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if platform == "linux":
        return _parse_sections(lines)
    blocks: dict[str, list[str]] = {"": []}
    header = None
    banner = None  # (start, delimiter, text so far) inside a banner spanning lines
    for raw in lines:
        line = raw.rstrip()
        text = " ".join(line.split())
        if banner is not None:
            start, delimiter, body = banner
            if delimiter in text:
                blocks[""].append(_banner(start, body + [text[:text.index(delimiter)]]))
                banner = None
            else:
                body.append(text)
            continue
        if not text:
            continue
        if text[0] in "!#":
            if text in ("!", "#") and line[0] in "!#":
                header = None
            continue
        if text in ("end", "return") or text.startswith(_PREAMBLE):
            continue
        match = _BANNER.match(text) if header is None or line[0] not in " \t" else None
        if match:
            start, delimiter, rest = match.groups()
            if delimiter in rest:
                blocks[""].append(_banner(start, [rest[:rest.index(delimiter)]]))
            else:
                banner = (start, delimiter, [rest])
            continue
        if line[0] not in " \t":
            header = text
            blocks[""].append(text)
        elif header is not None:
            blocks.setdefault(header, []).append(text)
        else:  # an indented line outside any block: VRP's global lines
            blocks[""].append(text)
    if banner is not None:  # a banner never closed: keep what there is
        blocks[""].append(_banner(banner[0], banner[2]))
    return blocks


def _banner(start: str, body: list[str]) -> str:
    return f"{start} ^C{' '.join(part for part in body if part)}^C"


def _parse_sections(lines: list[str]) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {"": []}
    current = blocks[""]
    for raw in lines:
        text = " ".join(raw.split())
        section = SECTION.match(text)
        if section:
            blocks[""].append(text)
            current = blocks.setdefault(text, [])
        elif text and not text.startswith("#"):
            current.append(text)
    return blocks


_PLACEHOLDER = re.compile(r"<env:([A-Za-z_][A-Za-z0-9_]*)>")


def fill(line: str, environ: dict[str, str]) -> str:
    """A golden line as typed: each `<env:NAME>` replaced by the variable's value (a secret
    kept out of templates, golden files, diffs and logs). KeyError names a variable not set."""
    def value(match: re.Match) -> str:
        if not environ.get(match[1]):
            raise KeyError(match[1])
        return environ[match[1]]
    return _PLACEHOLDER.sub(value, line)


def comparable(line: str) -> str:
    """The line with a secret's value left out."""
    return _SECRET.sub(r"\1 <secret>", line)


def satisfied(line: str, present: list[str], negation: str) -> bool:
    """A golden line is there; `no X` is satisfied when no line is X or X followed by more
    (and, for what IOS shows when off, when `no X` is there)."""
    if line.startswith(negation):
        unwanted = line[len(negation):]
        if any(have == unwanted or have.startswith(unwanted + " ") for have in present):
            return False
        return unwanted not in SHOWN_WHEN_OFF or line in present
    return comparable(line) in {comparable(have) for have in present}


def missing_lines(golden: list[str], running: list[str], negation: str = "no ",
                  platform: str = "cisco_ios") -> list[tuple[str, list[str]]]:
    """[(context, [missing lines])] in the golden order; a block's header counts as present
    when the block is there."""
    return _missing(parse(golden, platform), parse(running, platform), negation)


def _missing(want: dict[str, list[str]], have: dict[str, list[str]], negation: str) -> list[tuple[str, list[str]]]:
    out = []
    block_headers = [h for h in want if h and want[h]]
    lacking = [line for line in want[""] if line not in block_headers and not satisfied(line, have[""], negation)]
    if lacking:
        out.append(("", lacking))
    for header in block_headers:
        lacking = [line for line in want[header] if not satisfied(line, have.get(header, []), negation)]
        if lacking:
            out.append((header, lacking))
    return out


def _extra(want: dict[str, list[str]], have: dict[str, list[str]], negation: str) -> list[tuple[str, list[str]]]:
    """Lines of the device the standard would have otherwise: in the contexts the golden
    configuration sets, a line that shares its keyword with a golden line without being
    one (`ntp server 203.0.113.9` where the standard says `ntp server 192.0.2.123`,
    `exec-timeout 10 0` in a `line vty` block that should say 5). Globally a keyword is
    the first two words, in a block the first word. Order does not matter."""
    out = []
    for header, golden in want.items():
        if header and not golden:
            continue
        width = 2 if header == "" else 1
        keys = {tuple(line.split()[:width]) for line in golden if not line.startswith(negation)
                and len(line.split()) > width and not want.get(line)}  # a block header is no keyword
        present = {comparable(line) for line in golden}
        lines = [line for line in have.get(header, []) if comparable(line) not in present
                 and tuple(line.split()[:width]) in keys]
        if lines:
            out.append((header, lines))
    return out


def drift(golden: list[str] | str, running: list[str] | str, platform: str) -> dict[str, list[tuple[str, list[str]]]]:
    """What separates a device from its golden configuration: {'missing': [...], 'extra': [...]},
    each [(context, [lines])]."""
    want, have = parse(golden, platform), parse(running, platform)
    record = platforms.get(platform)
    negation = record.negation if record else "no "
    return {"missing": _missing(want, have, negation), "extra": _extra(want, have, negation)}


def commands(missing: list[tuple[str, list[str]]], exit_command: str) -> list[str]:
    """The lines to type in configuration mode, one context after the other."""
    typed: list[str] = []
    for header, lines in missing:
        if header:
            typed += [header, *(" " + line for line in lines), exit_command]
        else:
            typed += [line.replace("^C", "^") if _BANNER.match(line) else line for line in lines]
    return typed


def merged(running: list[str], missing: list[tuple[str, list[str]]]) -> list[str]:
    """The running configuration as it would read with the missing lines added, for the diff:
    a block's lines at the end of the block, new blocks and global lines at the end."""
    out = [line.rstrip() for line in running]
    last = len(out)
    while last and out[last - 1].strip() in ("", "end", "return"):
        last -= 1
    out, closing = out[:last], out[last:]
    tail: list[str] = []
    for header, lines in missing:
        if not header:
            tail += lines
            continue
        starts = [i for i, line in enumerate(out) if " ".join(line.split()) == header]
        if not starts:
            tail += [header, *(" " + line for line in lines)]
            continue
        end = starts[0] + 1
        while end < len(out) and out[end][:1] in (" ", "\t"):
            end += 1
        out[end:end] = [" " + line for line in lines]
    return out + tail + closing
