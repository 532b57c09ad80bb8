"""Escaping helpers: HTML, JS template literals, Jinja, JSON in <script>, links."""

from __future__ import annotations

import html
import json
import math

import folium
import pytest
from _map_factory import PAYLOADS

from opportunity_map._html import escape_html, json_for_script, safe_href, safe_mailto

CORPUS = (*PAYLOADS, "Cooperativa L'Àncora & C. — «Sant'Omobono»", "a\nb\tc", "")


@pytest.mark.parametrize("text", CORPUS)
def test_escape_html_leaves_no_live_character(text: str) -> None:
    out = escape_html(text)
    for char in "<>\"'`$\\{}\u2028\u2029":
        assert char not in out
    assert "${" not in out


@pytest.mark.parametrize("text", CORPUS)
def test_escape_html_round_trips_in_the_browser(text: str) -> None:
    # What a browser shows for the escaped text is exactly the original.
    assert html.unescape(escape_html(text)) == text


def test_escape_html_handles_empty_values() -> None:
    assert escape_html(None) == ""
    assert escape_html(math.nan) == ""
    assert escape_html(12) == "12"


@pytest.mark.parametrize("text", PAYLOADS)
def test_escaped_text_is_inert_as_jinja_template(text: str) -> None:
    # folium compiles the argument of Element as a Jinja template: escaped text
    # must render unchanged (no evaluation of {{ }}, no syntax error on {% %}).
    escaped = escape_html(text)
    assert folium.Element(escaped).render() == escaped


@pytest.mark.parametrize("text", PAYLOADS)
def test_escaped_text_is_inert_in_folium_tooltip(text: str) -> None:
    # folium writes tooltips in a JavaScript template literal: nothing may close
    # it (backtick), interpolate (${) or escape (backslash).
    m = folium.Map(tiles=None)
    marker = folium.Marker([45.7, 9.7], tooltip=escape_html(text)).add_to(m)
    page = m.get_root().render()
    start = page.index(f"{marker.get_name()}.bindTooltip(")
    literal = page[page.index("`", start) + 1:]
    literal = literal[:literal.index("`")]
    assert "${" not in literal and "\\" not in literal
    assert html.unescape(literal.split(">", 1)[1].rsplit("<", 1)[0].strip()) == text


@pytest.mark.parametrize("text", CORPUS)
def test_json_for_script_cannot_end_the_script(text: str) -> None:
    out = json_for_script({"name": text, "list": [text]})
    assert "</" not in out and "<!--" not in out and "<" not in out
    assert "\u2028" not in out and "\u2029" not in out
    assert json.loads(out) == {"name": text, "list": [text]}


def test_json_for_script_rejects_nan() -> None:
    with pytest.raises(ValueError):
        json_for_script({"density": math.nan})


def test_json_for_script_keeps_accents_readable() -> None:
    assert json_for_script("Cantù") == '"Cantù"'


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.coop.example.it/chi-siamo?x=1#a", "https://www.coop.example.it/chi-siamo?x=1#a"),
    ("http://example.it", "http://example.it"),
    ("  HTTPS://Example.it  ", "HTTPS://Example.it"),
    ("www.example.it", "https://www.example.it"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    ("java\tscript:alert(1)", None),
    (" javascript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None),
    ("//evil.example/x", None),
    ("https://", None),
    ("https://exa mple.it", None),
    ("example.it", None),
    ("mailto:info@example.it", None),
    ("", None),
    (None, None),
    (math.nan, None),
])
def test_safe_href(url: object, expected: str | None) -> None:
    assert safe_href(url) == expected


@pytest.mark.parametrize(("email", "expected"), [
    ("info@coop.example.it", "mailto:info@coop.example.it"),
    ("mailto:info@coop.example.it", "mailto:info@coop.example.it"),
    ("javascript:alert(1)//@x.it", None),
    ("a@b", None),
    ("<a@b.it>", None),
    ("a@b.it, c@d.it", None),
    ("a b@c.it", None),
    ('"><svg onload=alert(1)>@x.it', None),
    ("", None),
    (None, None),
])
def test_safe_mailto(email: object, expected: str | None) -> None:
    assert safe_mailto(email) == expected
