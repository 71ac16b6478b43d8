"""What a page says, for the http probe's defacement checks: forbidden terms, links leaving the
site, cloaking (a crawler served other terms or links than a browser) and a baseline hash.

Why: in September 2023 Vietnam's national cybersecurity monitoring centre (NCSC) found 67
.gov.vn websites in 18 provinces and 10 ministries serving injected "game bài, cờ bạc"
advertisements; the links showed in Google's results and sent the visitor who clicked to
another site (tintuc.tct.info.vn/2023/10/25/nhieu-website-co-quan-nha-nuoc-bi-loi-dung-chen-quang-cao.html;
hidden links to "cá độ, đánh bạc" sites and a redirect to a "8xb…" betting site:
cafef.vn/ra-soat-cac-website-co-quan-nha-nuoc-bi-cai-link-an-quang-cao-co-bac-188230412092524896.chn).
So the page is reduced to its text (title, meta description and keywords, what a reader sees,
hidden elements included: injected links are often in a `display:none` block) and the hosts
its `<a href>` links and its meta refresh lead to, with the standard library's html.parser: it
never raises on broken markup, which is what a search engine sees too, and needs no new
dependency (lxml or BeautifulSoup would build a tree the checks do not need).

Terms match whole words, case-insensitively, written with their diacritics or without any:
"nhà cái" matches "Nhà Cái" and "nha cai" (injections drop diacritics to dodge filters), and
not "nhà cải" (the page wrote another word); a term listed as "bet" would not match
"alphabet" nor "bệt".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# The words gambling advertising in Vietnamese uses: the games (cá cược / cá độ betting, nhà
# cái bookmaker, tài xỉu sic bo, nổ hũ and slot game jackpots, bắn cá fish shooting, đánh bài /
# game bài cards, xóc đĩa, lô đề and soi cầu lottery numbers, đá gà cockfighting), and betting
# brands such ads name (8xbet among those the press reports cite). A brand is a word no
# government page writes; a game's name may be, in a police report on a gambling ring, and
# such a site lists it in its `allowed_terms`. Bare "slot" and "bet" are left out:
# "time slot" is how an appointment page writes, and the brands carry "bet" anyway.
DEFAULT_TERMS = (
    "nhà cái", "cá cược", "cá độ", "tài xỉu", "nổ hũ", "bắn cá", "đánh bài", "game bài", "xóc đĩa",
    "lô đề", "soi cầu", "đá gà", "casino", "slot game", "game slot", "sòng bạc", "baccarat", "poker",
    "sportsbook", "w88", "fb88", "789bet", "188bet", "12bet", "8xbet", "kubet", "jun88", "new88", "hi88",
    "f8bet", "shbet", "fun88", "m88", "v9bet", "sv388", "ku casino", "bong88",
)


def term_list(forbidden: list[str], allowed: list[str]) -> list[str]:
    """The default terms but the allowed ones, and the site's own."""
    return [*(t for t in DEFAULT_TERMS if t not in allowed), *forbidden]


def bare(char: str) -> str:
    """The letter without its diacritics (ệ -> e, đ -> d); anything else as it is."""
    if char in "đĐ":
        return "d"
    return unicodedata.normalize("NFD", char)[0]


# the Latin letters with diacritics Vietnamese uses (Latin-1, Extended-A/B, Extended Additional)
_BARE = {code: bare(chr(code)) for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)) if bare(chr(code)) != chr(code)}


def _fold(text: str) -> str:
    """Each letter bare: one character for one, so positions match the text's."""
    return text.translate(_BARE)


@dataclass(frozen=True)
class Page:
    text: str  # lower case, NFC, whitespace collapsed to single spaces
    links: frozenset[str]  # host names of the http(s) links

    def hash(self, ignore: Iterable[str] = ()) -> str:
        """SHA-256 of the text, each `ignore` pattern's matches removed first (dates, counters, news lists)."""
        text = self.text
        for pattern in ignore:
            text = re.sub(pattern, "", text)
        return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


_REFRESH_URL = re.compile(r"url\s*=\s*(.+)", re.IGNORECASE)


class _Reader(HTMLParser):
    SKIPPED = {"script", "style", "template", "svg"}  # not text a reader or a crawler's index sees

    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url, self.texts, self.links, self._skipping = base_url, [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag == "meta" and (attrs.get("name") or "").lower() in ("description", "keywords"):
            self.texts.append(attrs.get("content") or "")  # what a search result shows
        elif tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":  # content="0; url=..."
            refresh = _REFRESH_URL.search(attrs.get("content") or "")
            self.link(refresh and refresh[1])
        elif tag in ("a", "area"):
            self.link(attrs.get("href"))

    def link(self, href: str | None) -> None:
        if not href:
            return
        try:
            url = urlsplit(urljoin(self.base_url, href.strip(" \t\n'\"")))
        except ValueError:  # "http://[::1": no browser follows it either
            return
        if url.scheme in ("http", "https") and url.hostname:
            self.links.add(url.hostname.rstrip("."))

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.texts.append(data)


def read_page(body: bytes, redirect: str | None, url: str) -> Page:
    """The page's text and link hosts, where it redirects (Location) counted as a link; a body cut
    at the probe's limit is read as far as it goes."""
    reader = _Reader(url)
    reader.feed(body.decode("utf-8", "replace"))  # Vietnamese sites are UTF-8; a legacy page loses letters, not links
    reader.close()
    reader.link(redirect)
    text = unicodedata.normalize("NFC", " ".join(" ".join(reader.texts).split())).lower()
    return Page(text, frozenset(reader.links))


def found_terms(page: Page, terms: list[str]) -> set[str]:
    """The terms the page's text holds as words, each written as the page wrote it or without diacritics."""
    wanted: dict[str, dict[str, str]] = {}  # folded -> written (lower case, NFC) -> the term as listed
    for term in terms:
        written = unicodedata.normalize("NFC", " ".join(term.split())).lower()
        wanted.setdefault(_fold(written), {})[written] = term
    if not wanted:
        return set()
    # one pass for all terms, the longest first where one starts another ("ku casino", "casino")
    pattern = "|".join(map(re.escape, sorted(wanted, key=len, reverse=True)))
    found = set()
    for match in re.finditer(rf"(?<!\w)(?:{pattern})(?!\w)", _fold(page.text)):
        on_page = page.text[match.start():match.end()]
        found.update(term for written, term in wanted[match[0]].items()
                     if all(p == w or p == bare(p) for p, w in zip(on_page, written)))
    return found


def foreign_links(page: Page, site: str, allowed: list[str]) -> set[str]:
    """Link hosts outside the site's own domain (its www. or not) and the allowed domains, subdomains included."""
    domains = [site.lower().removeprefix("www."), *(d.lower().strip(".") for d in allowed)]
    return {host for host in page.links if not any(host == d or host.endswith("." + d) for d in domains)}


@dataclass(frozen=True)
class Findings:
    terms: frozenset[str]
    links: frozenset[str]  # foreign link hosts

    def __bool__(self):
        return bool(self.terms or self.links)

    def __sub__(self, other: Findings) -> Findings:
        return Findings(self.terms - other.terms, self.links - other.links)

    def __or__(self, other: Findings) -> Findings:
        return Findings(self.terms | other.terms, self.links | other.links)

    def describe(self) -> str:
        words = [f"'{t}'" for t in sorted(self.terms)] + [f"a link to {h}" for h in sorted(self.links)]
        return ", ".join(words)


def findings(page: Page, site: str, terms: list[str], allowed: list[str]) -> Findings:
    return Findings(frozenset(found_terms(page, terms)), frozenset(foreign_links(page, site, allowed)))
