"""The http probe's defacement checks against a real web server on loopback (tests/peer_web.py)
that serves an agency's clean page, the same page with gambling links to crawlers only, and
an injected page to everyone; the term matching on strings."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from agent.checks import State
from agent.cli import main
from agent.schema import build
from agent.yamlfile import ConfigError
from collectors._content import DEFAULT_TERMS, foreign_links, found_terms, read_page
from collectors.http import HttpCheck, HttpProbe

pytest_plugins = ("tests.peer_web",)

VISITS = r"lượt truy cập: \d+"  # the page's visit counter, different on every request


def host(address_port: tuple[str, int], path: str, scheme: str = "http", **check) -> dict:
    address, port = address_port
    return {"ansible_host": address, "egov_role": "web_server",
            "egov_checks": {"http": {"url": f"{scheme}://portal.example:{port}{path}", **check}}}


@pytest.fixture(scope="module")
def baseline(web, run_probe, tmp_path_factory):
    """The agency page's hash as `egov-agent page-hash` prints it, the counter ignored."""
    directory = tmp_path_factory.mktemp("page-hash")
    run_probe(HttpProbe, directory, {"agency": host(web.at("http", 0), "/agency", baseline_ignore=[VISITS])})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["page-hash", "agency", "-i", str(directory)]) == 0
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def run(web, run_probe, baseline, tmp_path_factory):
    return run_probe(HttpProbe, tmp_path_factory.mktemp("content"), {
        "clean": host(web.at("http", 0), "/agency", forbidden_content=True, cloaking=True,
                      baseline_sha256=baseline, baseline_ignore=[VISITS]),
        "cloaked": host(web.at("http", 1), "/cloaked", cloaking=True),
        "cloaked-unwatched": host(web.at("http", 2), "/cloaked", forbidden_content=True),
        "injected": host(web.at("http", 3), "/injected", forbidden_content=True),
        "injected-allowed": host(web.at("https", 1), "/injected", scheme="https", ca_file=str(web.pki.ca_file),
                                 forbidden_content=True, allowed_terms=["tài xỉu"], forbidden_terms=["tài xỉu online"]),
        "changed": host(web.at("http", 4), "/agency", baseline_sha256=baseline),  # the counter not ignored
        "redirected": host(web.at("https", 0), "/redirected", cloaking=True, ca_file=str(web.pki.ca_file),
                           scheme="https"),
    })


def test_a_clean_agency_site_stays_quiet(run, baseline):
    assert re.fullmatch(r"[0-9a-f]{64}", baseline)
    assert run.get("egov_http_forbidden_content", "clean", kind="term") == 0
    assert run.get("egov_http_forbidden_content", "clean", kind="link") == 0
    assert run.get("egov_http_cloaking", "clean") == 0
    assert run.get("egov_http_baseline_match", "clean") == 1  # another visit, the same text
    assert run.checks["clean"].state == State.OK, run.checks["clean"].summary


def test_links_injected_for_crawlers_only(run):
    assert run.get("egov_http_cloaking", "cloaked") == 1
    assert run.get("egov_http_forbidden_content", "cloaked", kind="term") == 3  # nhà cái, fb88, nổ hũ
    assert run.get("egov_http_forbidden_content", "cloaked", kind="link") == 2
    check = run.checks["cloaked"]
    assert check.state == State.CRITICAL
    assert ("forbidden content: 'fb88', 'nhà cái', 'nổ hũ', a link to fb88-vn.example, a link to nohu.example; "
            "cloaking: the crawler view alone has 'fb88'") in check.summary
    assert "cloaking: the search view alone has 'fb88'" in check.summary  # a visitor from Google is served them too
    # the probe's own request is a browser's to the cloak: without cloaking the page looks clean
    assert run.get("egov_http_forbidden_content", "cloaked-unwatched", kind="term") == 0
    assert run.get("egov_http_cloaking", "cloaked-unwatched") is None
    assert run.checks["cloaked-unwatched"].state == State.OK


def test_visitors_from_a_search_engine_sent_away_over_https(run):
    assert run.get("egov_http_cloaking", "redirected") == 1
    assert run.get("egov_http_forbidden_content", "redirected", kind="link") == 1
    assert run.get("egov_http_forbidden_content", "redirected", kind="term") == 0
    check = run.checks["redirected"]
    assert check.state == State.CRITICAL
    assert check.summary.endswith("; cloaking: the search view alone has a link to 8xbet-vn.example")


def test_an_injection_without_diacritics_for_everyone(run):
    assert run.get("egov_http_forbidden_content", "injected", kind="term") == 3  # nha cai, w88, tai xiu
    assert run.get("egov_http_forbidden_content", "injected", kind="link") == 1
    check = run.checks["injected"]
    assert check.state == State.CRITICAL
    assert check.summary.endswith("; forbidden content: 'nhà cái', 'tài xỉu', 'w88', a link to w88.example")
    # a site that may write a default term (a police site's news on a gambling ring), and a term of its own
    assert run.checks["injected-allowed"].summary.endswith(
        "; forbidden content: 'nhà cái', 'tài xỉu online', 'w88', a link to w88.example")


def test_a_page_unlike_its_baseline_is_a_warning(run):
    assert run.get("egov_http_baseline_match", "changed") == 0
    assert run.get("egov_http_forbidden_content", "changed", kind="term") is None  # not asked for
    check = run.checks["changed"]
    assert check.state == State.WARNING and "; the page's text is not its baseline's (sha256 " in check.summary


def test_the_exposition_passes_promtool(run):
    assert run.lint() == []


@pytest.mark.parametrize("text, found", [
    ("nhà cái uy tín", {"nhà cái"}),
    ("NHA CAI uy tin", {"nhà cái"}),  # without diacritics, in capitals
    ("nha cái", {"nhà cái"}),  # partly
    ("sửa chữa nhà cải thiện", set()),  # another word
    ("bán cá tra", set()), ("đánh bại đội bạn", set()),
    ("alphabet, betting-free, better", set()), ("xem 789bet.example", {"789bet"}),
    ("tải game bài đổi thưởng", {"game bài"}),
])
def test_terms_match_words_with_their_diacritics_or_none(text, found):
    assert found_terms(read_page(text.encode(), None, "http://portal.example/"), list(DEFAULT_TERMS)) == found


def test_links_as_pages_write_them():
    page = read_page(b'<a href="/tin-tuc">a</a><a href=" https://WWW.Portal.Example./x ">b</a><a href="http://[::1">c</a>'
                     b'<a href="javascript:void(0)">d</a><a href="//fb88-vn.example/">e</a><area href="tel:1080">'
                     b'<meta http-equiv="Refresh" content="3; URL=\'https://w88.example/vn\'">'
                     b'<p>unclosed <a href="https://sub.dichvucong.gov.vn/">f', "/", "https://portal.example/")
    assert page.links == {"portal.example", "www.portal.example", "fb88-vn.example", "w88.example",
                          "sub.dichvucong.gov.vn"}
    assert foreign_links(page, "www.portal.example", ["gov.vn"]) == {"fb88-vn.example", "w88.example"}
    assert "unclosed f" in page.text


@pytest.mark.parametrize("check, error", [
    ({"method": "HEAD", "forbidden_content": True}, "method: the content checks"),
    ({"baseline_sha256": "ABC"}, "baseline_sha256: expected 64 lower-case hex digits"),
    ({"baseline_ignore": ["("]}, "baseline_ignore"),
])
def test_content_settings_are_strict(check, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        build(HttpCheck, {"url": "http://portal.example/", **check})


def test_page_hash_names_a_page_it_cannot_fetch(web, run_probe, tmp_path, capsys):
    run_probe(HttpProbe, tmp_path, {"gone": host((web.refused, web.ports["http"]), "/agency")})
    assert main(["page-hash", "gone", "-i", str(tmp_path)]) == 3
    assert f"gone (http://portal.example:{web.ports['http']}/agency): " in capsys.readouterr().err


def test_page_hash_names_a_host_without_an_http_check(tmp_path, capsys):
    (tmp_path / "hosts.yml").write_text("province:\n  vars: {egov_site_type: province}\n  hosts:\n"
                                        "    web-01: {ansible_host: 127.0.0.1, egov_role: web_server}\n")
    assert main(["page-hash", "web-01", "-i", str(tmp_path)]) == 4
    assert "no host 'web-01' with an http check" in capsys.readouterr().err
