"""What the simulated CLIs share: a grammar of command shapes, the running configuration they
change, and an SSH shell with the devices' line discipline and login.

A dialect (tests/sim/cisco_ios.py, huawei_vrp.py, hp_comware.py) gives, per mode, the command
shapes the real device takes, as data with their sources, in the order the device prints
them. A shape is a string of tokens:

- a lower-case keyword (`interface`, `sys-info`), typed abbreviated as long as it stays
  unambiguous, and stored in full, as the devices do;
- a placeholder: WORD (one token), LINE (the rest of the line, as typed), INT, IP (dotted
  quad), IFNAME (an interface the device has), `<1-4094>` (an integer in a range);
- `{a|b|INT}`: one of these; `[...]`: an optional group (not nested);
- a leading `=`: a setting, which replaces the line of the same key (the keywords up to
  the first placeholder, extended to the last token written with a `!`): `exec-timeout 5 0`
  replaces `exec-timeout 10 0`, `username WORD! ...` the line of that user, and
  `local-user WORD! password! ...` that user's password line; lines keyed by a name print
  together, name by name.

Anything else is the device's error, with the caret under the first token it could not take.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import socket
from dataclasses import dataclass, field

import asyncssh

from tests.sim import Device, host_key

_TOKEN = re.compile(r'"[^"]*"?|\S+')
_RANGE = re.compile(r"<(\d+)-(\d+)>$")
PLACEHOLDERS = {
    "WORD": re.compile(r"\S+"),
    "INT": re.compile(r"\d+"),
    "IP": re.compile(r"\d{1,3}(\.\d{1,3}){3}"),
    "IFNAME": re.compile(r"(\d+GE|[A-Za-z][A-Za-z-]*)\d[\d/.:]*"),  # 100GE1/0/1 on CloudEngine
}


@dataclass(frozen=True)
class Shape:
    tokens: tuple[tuple[str, ...], ...]  # per position, its alternatives
    rank: int  # where the device prints it among the lines of its mode
    setting: bool
    key_length: int  # tokens of the key of a setting
    section: int = 0  # the device prints a separator between lines of two sections
    name_length: int = 0  # tokens up to its first `NAME!`: the lines of one name print together
    text: str = ""


def _expand(text: str) -> list[list[str]]:
    """'a [b c] d' -> [['a', 'b', 'c', 'd'], ['a', 'd']]."""
    variants = [[]]
    for group in re.findall(r"\[[^\]]*\]|\S+", text):
        if group.startswith("["):
            inner = group[1:-1].split()
            variants = [v + extra for v in variants for extra in (inner, [])]
        else:
            variants = [v + [group] for v in variants]
    return variants


def compile_shapes(lines: list[str]) -> list[Shape]:
    """The shapes of a mode; a "!" entry starts a new section."""
    shapes, section = [], 0
    for rank, line in enumerate(lines):
        if line == "!":
            section += 1
            continue
        setting = line.startswith("=")
        groups = re.findall(r"\[[^\]]*\]|\S+", line.lstrip("="))
        key_length, plain, name_length = 0, True, 0  # the leading plain keywords, and the groups marked `!`
        for i, group in enumerate(groups):
            if group.endswith("!"):
                key_length, plain, name_length = i + 1, False, name_length or i + 1
            elif plain and not group.startswith(("[", "{")) and _is_keyword(group):
                key_length = i + 1
            else:
                break
        for words in _expand(line.lstrip("=").replace("!", "")):
            tokens = tuple(tuple(word.strip("{}").split("|")) for word in words)
            shapes.append(Shape(tokens, rank, setting, key_length, section, name_length, line))
    return shapes


def _is_keyword(alt: str) -> bool:
    return not (alt in PLACEHOLDERS or alt == "LINE" or _RANGE.match(alt))


def _accepts(alt: str, text: str) -> bool:
    if _is_keyword(alt):
        return alt.lower().startswith(text.lower())
    ranged = _RANGE.match(alt)
    if ranged:
        return text.isdigit() and int(ranged[1]) <= int(text) <= int(ranged[2])
    if alt == "IP":
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return True
    return bool(PLACEHOLDERS[alt].fullmatch(text))


@dataclass
class Parsed:
    kind: str  # ok, empty, invalid, too-many, incomplete, ambiguous
    words: list[str] = field(default_factory=list)  # canonical: keywords in full
    shape: Shape | None = None
    column: int = 0  # where the caret goes, in the typed line
    line: str = ""

    @property
    def canonical(self) -> str:
        return " ".join(self.words)


def tokenize(line: str) -> list[tuple[str, int]]:
    return [(m[0], m.start()) for m in _TOKEN.finditer(line)]


def parse(shapes: list[Shape], line: str, prefix: bool = False) -> Parsed:
    """Match `line` against the shapes of a mode. `prefix`: a leading part of a shape will do
    (what follows `no` / `undo`)."""
    tokens = tokenize(line)
    if not tokens:
        return Parsed("empty", line=line)
    alive = {i: [] for i in range(len(shapes))}
    done = []  # (shape, words) that took the rest of the line
    for n, (text, column) in enumerate(tokens):
        hits, keywords, placeholder = {}, set(), False
        lengths = [len(shapes[i].tokens) for i in alive]
        complete = n in lengths and max(lengths) == n  # nothing could take another token
        for i, words in alive.items():
            spec = shapes[i].tokens
            if n >= len(spec):
                continue
            for alt in spec[n]:
                if alt == "LINE":
                    done.append((shapes[i], words + [line[column:].rstrip()]))
                    break
                if _accepts(alt, text):
                    if _is_keyword(alt):
                        keywords.add(alt.lower())
                        hits[i] = (words + [alt], alt.lower())
                    else:
                        placeholder = True
                        hits[i] = (words + [text], None)
                    break
        if len(keywords) > 1 and text.lower() not in keywords and not placeholder and not done:
            return Parsed("ambiguous", column=column, line=line)
        if text.lower() in keywords:  # an exact keyword beats the longer ones it abbreviates
            hits = {i: hit for i, hit in hits.items() if hit[1] in (None, text.lower())}
        if not hits:
            if done:
                break
            return Parsed("too-many" if complete else "invalid", column=column, line=line)
        alive = {i: hit[0] for i, hit in hits.items()}
    else:
        complete = [(shapes[i], words) for i, words in alive.items()
                    if prefix or len(shapes[i].tokens) == len(tokens)]
        if complete:
            shape, words = complete[0]
            return Parsed("ok", words, shape, line=line)
    if done:
        shape, words = done[0]
        return Parsed("ok", words, shape, line=line)
    end = tokens[-1][1] + len(tokens[-1][0]) + 1
    return Parsed("incomplete", column=end, line=line)


def parse_config(shapes: list[Shape], line: str, negation: str) -> tuple[Parsed, bool]:
    """A configuration line, or its negation (`no X` / `undo X`: any leading part of a shape);
    the caret column counts from the start of the typed line."""
    words = line.split()
    if not (len(words) > 1 and words[0].lower() == negation):
        return parse(shapes, line), False
    rest = line.lstrip()[len(words[0]):].lstrip()
    parsed = parse(shapes, rest, prefix=True)
    parsed.column += len(line) - len(rest)
    parsed.line = line
    return parsed, True


def key(shape: Shape, words: list[str]) -> tuple[str, ...]:
    return tuple(words[:shape.key_length]) if shape.setting else tuple(words)


class Lines:
    """The lines of one mode's block (or of the global configuration), kept in the device's
    order: by the rank of their shape, then as typed."""

    def __init__(self, shapes: list[Shape]):
        self.shapes = shapes
        self.items: list[tuple[Shape, list[str]]] = []

    def set(self, line: str) -> None:
        parsed = parse(self.shapes, line)
        assert parsed.kind == "ok", f"the simulator's own line {line!r} is not in its grammar"
        self.put(parsed.shape, parsed.words)

    def put(self, shape: Shape, words: list[str]) -> None:
        wanted = key(shape, words)
        self.items = [(s, w) for s, w in self.items if key(s, w) != wanted and (s.setting or w != words)]
        self.items.append((shape, words))

    def remove(self, words: list[str]) -> bool:
        """`no X`: remove X, and the lines that X begins; True if something went."""
        before = len(self.items)
        self.items = [(s, w) for s, w in self.items
                      if w[:len(words)] != words and key(s, w) != tuple(words)]
        return len(self.items) != before

    def has(self, line: str) -> bool:
        return line in self.render()

    def render(self, extra: tuple = ()) -> list[str]:
        """The lines, with `extra` (shape, words) pairs the device shows without storing them."""
        return [" ".join(w) for _, w in self.ordered(extra)]

    def ordered(self, extra: tuple = ()) -> list[tuple[Shape, list[str]]]:
        items, groups = [*self.items, *extra], {}
        for i, (s, w) in enumerate(items):
            group = groups.setdefault(tuple(w[:s.name_length]) if s.name_length else i, [s.rank, i])
            group[0] = min(group[0], s.rank)
        order = sorted(range(len(items)), key=lambda i: (
            *groups[tuple(items[i][1][:items[i][0].name_length]) if items[i][0].name_length else i], items[i][0].rank))
        return [items[i] for i in order]


def interleave(lines: list[tuple[Shape, list[str]]], blocks: list[tuple[Shape, str]]) -> list[tuple[Shape, str, bool]]:
    """Global lines (in their order) and block headers (each with the shape that opens it) in
    the order the device prints them: a block where its shape ranks among the lines."""
    items, top = [], -1
    for k, (shape, words) in enumerate(lines):
        top = max(top, shape.rank)
        items.append(((top, 0, k), shape, " ".join(words), False))
    items += [((shape.rank, 1, k), shape, header, True) for k, (shape, header) in enumerate(blocks)]
    return [(shape, text, block) for _, shape, text, block in sorted(items, key=lambda item: item[0])]


def secret_hash(prefix: str, secret: str, length: int) -> str:
    """What a device shows instead of a typed secret: the same on every run, never the secret."""
    return prefix + hashlib.sha256(secret.encode()).hexdigest()[:length]


def caret(prompt: str, column: int) -> str:
    return " " * (len(prompt) + column) + "^"


def filtered(lines: list[str], how: str, text: str) -> list[str]:
    """`| include X`, `| exclude X`, `| begin X`, `| section X` (IOS)."""
    if how == "include":
        return [line for line in lines if re.search(text, line)]
    if how == "exclude":
        return [line for line in lines if not re.search(text, line)]
    if how == "begin":
        start = next((i for i, line in enumerate(lines) if re.search(text, line)), len(lines))
        return lines[start:]
    inside, kept = False, []
    for line in lines:  # section: the lines with X and the indented lines under them
        if not line.startswith(" "):
            inside = bool(re.search(text, line))
        if inside:
            kept.append(line)
    return kept


class Shell:
    """One SSH shell session: echo, line editing, the prompt, a pending question. A dialect
    implements prompt() and execute(line) -> output lines, or None to end the session."""

    banner = ""

    def __init__(self, device_state, process, behaviour: str, username: str):
        self.state, self.process, self.behaviour, self.username = device_state, process, behaviour, username
        self.question = None  # (prompt text, action taking the answer) while the device asks

    def prompt(self) -> str:
        raise NotImplementedError

    def execute(self, line: str) -> list[str] | None:
        raise NotImplementedError

    def refusal(self, parsed: Parsed) -> list[str]:
        """The dialect's error for a line its grammar refuses (`parsed.kind`), caret and all."""
        raise NotImplementedError

    def unparsed(self, parsed: Parsed) -> list[str] | None:
        """The answer to a blank line (none) or to one the grammar refuses; None for a command to run."""
        if parsed.kind == "empty":
            return []
        return None if parsed.kind == "ok" else self.refusal(parsed)

    def interrupt(self) -> None:
        """Ctrl+Z: back to the top of the privileged / user view."""

    def write(self, text: str) -> None:
        self.process.stdout.write(text)

    def client(self) -> str:
        """The SSH client's address, as the device logs who configured it."""
        peer = self.process.get_extra_info("peername")
        return peer[0] if peer else "**"

    async def run(self) -> None:
        self.write(self.banner + self.prompt())
        line, last = "", ""
        while True:
            try:
                data = await self.process.stdin.read(4096)
            except asyncssh.TerminalSizeChanged:
                continue
            if not data:
                return
            for char in data:
                if char in "\r\n":
                    if not (char == "\n" and last == "\r"):
                        self.write("\r\n")
                        if not await self._line(line):
                            return
                        line = ""
                elif char == "\x1a":
                    self.question, line = None, ""
                    self.interrupt()
                    self.write("\r\n" + self.prompt())
                elif char in "\x7f\b":
                    if line:
                        line = line[:-1]
                        self.write("\b \b")
                elif char.isprintable():
                    line += char
                    self.write(char)
                last = char

    async def _line(self, line: str) -> bool:
        if self.question:
            _, action = self.question
            self.question = None
            output = action(line.strip())
        else:
            shown = line.strip().lower().startswith(("dis", "sh"))
            if self.behaviour == "drop" and shown:
                self.write("Building configura")
                await asyncio.sleep(0.05)
                self.process.get_extra_info("connection").abort()
                return False
            output = self.execute(line)
            if output is None:
                return False
            if self.behaviour == "garbage" and shown:
                output = garbage(line)
        self.write("".join(text + "\r\n" for text in output) + (self.question[0] if self.question else self.prompt()))
        return True


def garbage(command: str) -> list[str]:
    """Lines no parser can take for any command's output (and no prompt either)."""
    digest = hashlib.sha256(command.encode()).hexdigest()
    return [f"%%01SHELL/4/DEBUG({digest[:4]}) 0x{digest[i:i + 8]} ~~ {digest[i + 8:i + 24]} ??"
            for i in range(0, 40, 8)]


async def serve(device: Device, port: int, state, shell, server_version: str):
    """Serve the device on device.address:port. The password is checked against what the
    device's configuration says now (`state.login(username, password)`), so a change of how
    the vty lines authenticate takes effect at the next login, as on the device."""
    if device.behaviour == "silent":
        return await asyncio.start_server(_silent, device.address, port)
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key_ = asyncssh.import_private_key(host_key(device.name).private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return device.behaviour != "refuse_auth" and bool(password) and state.login(username, password)

        def public_key_auth_supported(self) -> bool:
            return bool(device.authorized_keys)

        def validate_public_key(self, username: str, key) -> bool:
            offered = key.export_public_key("openssh").decode().split()[1]
            return (device.behaviour != "refuse_auth" and username == device.username
                    and offered in (line.split()[1] for line in device.authorized_keys))

    async def session(process) -> None:
        try:
            await shell(state, process, device.behaviour, process.get_extra_info("username")).run()
        except (asyncssh.BreakReceived, ConnectionError):
            pass
        process.exit(0)

    return await asyncssh.create_server(Server, device.address, port, server_host_keys=[key_],
                                        process_factory=session, line_editor=False, encoding="utf-8",
                                        server_version=server_version)


# A loghost line of each dialect: IOS `logging host IP [transport udp port N]` (and the old
# `logging IP`), VRP `info-center loghost IP [... port N ...]` (reference/huawei, info-center
# loghost), Comware `info-center loghost IP [port N]` (H3C information center configuration
# guides, "Outputting system information to a log host").
_LOGHOST = re.compile(r"^(?:logging(?: host)?|info-center loghost) (\d+\.\d+\.\d+\.\d+)\b(.*)$")


def send_log(device: Device, configuration: list[str], message: str) -> None:
    """Send a syslog packet (`message`, <PRI> first) to each loghost the configuration's lines
    name, over UDP from the device's own address as the device does; a line naming no port sends
    to `device.log_port` (514 on a device). A line asking for TCP sends nothing here. Never fails
    the command that logged it."""
    for line in configuration:
        found = _LOGHOST.match(line.strip())
        if not found or re.search(r"\btcp\b", found[2]):
            continue
        port = re.search(r"\bport (\d+)", found[2])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((device.address, 0))
                sock.sendto(message.encode(), (found[1], int(port[1]) if port else device.log_port))
        except OSError:
            pass


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, then say nothing until the client gives up."""
    try:
        while await reader.read(4096):
            pass
    finally:
        writer.close()

