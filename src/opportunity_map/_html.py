"""Escaping helpers for everything that ends up in a rendered HTML map.

Data typed by people into spreadsheets (organisation names, notes, comuni,
websites, ...) reaches the browser through four different sinks, each with its
own rules:

* HTML text and attribute values (``innerHTML``, Leaflet's layer-control labels,
  the page ``<title>``) — :func:`escape_html`;
* JavaScript template literals, which folium uses for popups and tooltips
  (backtick, ``${`` and backslash are live there) — also :func:`escape_html`,
  which turns those characters into HTML character references, inert in the
  literal and rendered back as the literal character by the browser;
* Jinja templates, which folium's ``Element(html)`` compiles from its argument
  (``{{ ... }}`` and ``{% ... %}`` would be evaluated) — :func:`escape_html`
  escapes the braces too;
* JSON embedded in a ``<script>`` element, where ``</script>``, ``<!--`` and
  the line separators U+2028/U+2029 can end or corrupt the script —
  :func:`json_for_script`.

Links are the fifth sink: :func:`safe_href` and :func:`safe_mailto` only ever
return ``http:``, ``https:`` or ``mailto:`` URLs; anything else (``javascript:``,
``data:``, ...) must be shown as plain text.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import jinja2

__all__ = [
    "escape_html",
    "json_for_script",
    "safe_href",
    "safe_mailto",
    "templates",
]

#: Characters replaced by :func:`escape_html`, with their numeric references.
_HTML_REPLACEMENTS: dict[str, str] = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "`": "&#96;",
    "$": "&#36;",
    "\\": "&#92;",
    "{": "&#123;",
    "}": "&#125;",
    "\u2028": "&#8232;",
    "\u2029": "&#8233;",
}
_HTML_TABLE = str.maketrans(_HTML_REPLACEMENTS)

#: Replacements applied to serialised JSON before it goes inside ``<script>``.
_SCRIPT_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)

# C0 controls, DEL, C1 controls, and the invisible characters browsers strip
# from URLs (they could hide a scheme such as "java\tscript:").
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_WEB_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_BARE_WWW = re.compile(r"^www\.[^\s/?#]+\.[^\s/?#]+[^\s]*$", re.IGNORECASE)
_EMAIL_PART = r"[^\s@<>\"'`()\[\]\\,;:]+"
_EMAIL = re.compile(rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$")


def escape_html(text: object) -> str:
    """Escape a value for HTML text, HTML attributes, JS template literals and Jinja.

    Besides the five HTML metacharacters (``& < > " '``), the backtick, ``$``,
    backslash and curly braces become numeric character references, so the
    result can be placed inside a JavaScript template literal (folium's popups
    and tooltips), inside a quoted or unquoted-free HTML attribute, or passed
    to folium's ``Element``, whose argument is compiled as a Jinja template.
    The browser shows every character literally.

    Parameters
    ----------
    text : object
        The value; ``None`` and NaN give an empty string, anything else is
        converted with ``str``.

    Returns
    -------
    str

    Examples
    --------
    >>> escape_html("<b>Coop & Co</b>")
    '&lt;b&gt;Coop &amp; Co&lt;/b&gt;'
    >>> escape_html("${alert(1)}")
    '&#36;&#123;alert(1)&#125;'
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return str(text).translate(_HTML_TABLE)


def json_for_script(value: Any, *, indent: int | None = None) -> str:
    """Serialise ``value`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026``, so
    neither ``</script>`` nor ``<!--`` can appear in the output, and the line
    separators U+2028 and U+2029 are escaped as well. The result is valid JSON
    (for ``JSON.parse`` of a ``<script type="application/json">``) and a valid
    JavaScript expression. NaN and infinities are rejected rather than written
    as invalid JSON.

    Parameters
    ----------
    value : object
        Anything :func:`json.dumps` accepts.
    indent : int, optional
        Pretty-print with this indentation (default: compact).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``value`` contains NaN or an infinity.

    Examples
    --------
    >>> json_for_script({"name": "</script><script>alert(1)</script>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent,
                      separators=separators)
    for old, new in _SCRIPT_REPLACEMENTS:
        text = text.replace(old, new)
    return text


def _clean_url_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def safe_href(url: object) -> str | None:
    """Return ``url`` if it is safe as a link target, else ``None``.

    Only absolute ``http://`` and ``https://`` URLs are accepted; a bare
    ``www.`` address (as people often type it) is returned with ``https://``
    prepended. Everything else — ``javascript:``, ``data:``, ``vbscript:``,
    relative paths, URLs with spaces or control characters — gives ``None``
    and must be shown as plain text.

    Parameters
    ----------
    url : object
        The website as written in the data.

    Returns
    -------
    str or None

    Examples
    --------
    >>> safe_href("https://www.example.it/chi-siamo")
    'https://www.example.it/chi-siamo'
    >>> safe_href("www.example.it")
    'https://www.example.it'
    >>> safe_href("javascript:alert(1)") is None
    True
    """
    text = _clean_url_text(url)
    if not text or _CONTROL.search(text):
        return None
    if _WEB_URL.match(text):
        return text
    if _BARE_WWW.match(text):
        return "https://" + text
    return None


def safe_mailto(email: object) -> str | None:
    """Return a ``mailto:`` URL for a plausible e-mail address, else ``None``.

    Parameters
    ----------
    email : object
        The address as written in the data (a leading ``mailto:`` is accepted).

    Returns
    -------
    str or None
        ``"mailto:" + address``, or ``None`` when the value is not one plain
        address (no spaces, quotes, angle brackets, commas or semicolons).

    Examples
    --------
    >>> safe_mailto("info@coop.example.it")
    'mailto:info@coop.example.it'
    >>> safe_mailto("javascript:alert(1)//@x.it") is None
    True
    """
    text = _clean_url_text(email)
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    if not text or _CONTROL.search(text) or not _EMAIL.match(text):
        return None
    return "mailto:" + text


@functools.cache
def templates() -> jinja2.Environment:
    """The Jinja2 environment of the package's ``templates/``, autoescaping, built once.

    Data always reaches a template as a variable (escaped by autoescape), never as
    template source. Values that are already safe for their context (the package's
    own CSS and JavaScript, JSON from :func:`json_for_script`) are passed as
    :class:`markupsafe.Markup`.
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("opportunity_map", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
