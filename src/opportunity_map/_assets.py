"""Offline assets: Leaflet and MarkerCluster inlined from the installed xstatic packages.

A map must open in a meeting room with no network, attached to an e-mail or
archived on a USB stick, so every script, style sheet and image is embedded in
the one HTML file. Nothing is copied into this repository: the files come from
the ``xstatic-leaflet`` and ``xstatic-leaflet-markercluster`` packages.

folium refers to its libraries by CDN URL. :class:`OfflineFigure` renders the
page as folium does, then :func:`inline_assets` replaces every ``<script src>``
and style-sheet ``<link>`` it knows (Leaflet, MarkerCluster, whatever the URL's
host or version) with the file's content, and raises
:class:`ExternalAssetError` if any external asset is left, so that a plugin
added later cannot silently bring a CDN back.

The map's own style sheet and script are files of the package (``static/map.css``,
``static/map.js``, read with :func:`static_text`): the script builds the layers,
popups, search, filter, legend and summary in the browser from the JSON payload of
:mod:`opportunity_map.maps`, writing every string from the data with ``textContent``.
"""

from __future__ import annotations

import base64
import functools
import logging
import mimetypes
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from branca.element import Figure

from ._errors import OpportunityMapError

__all__ = [
    "LEAFLET_CSS_URL",
    "LEAFLET_JS_URL",
    "MARKERCLUSTER_CSS_URL",
    "MARKERCLUSTER_DEFAULT_CSS_URL",
    "MARKERCLUSTER_JS_URL",
    "ExternalAssetError",
    "OfflineFigure",
    "find_external_assets",
    "inline_assets",
    "leaflet_css",
    "leaflet_js",
    "markercluster_css",
    "markercluster_js",
    "static_text",
]

log = logging.getLogger(__name__)

# The URLs folium and its plugins use; they are never fetched: inline_assets
# swaps them for the content of the installed files (matched by file name).
LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CSS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"
MARKERCLUSTER_JS_URL = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js"
)
MARKERCLUSTER_CSS_URL = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css"
)
MARKERCLUSTER_DEFAULT_CSS_URL = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/"
    "MarkerCluster.Default.css"
)


class ExternalAssetError(OpportunityMapError, RuntimeError):
    """A rendered map still refers to a script, style sheet or image on the network."""


def _leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as xstatic_leaflet

    return Path(xstatic_leaflet.BASE_DIR)


def _markercluster_dir() -> Path:
    import xstatic.pkg.leaflet_markercluster as xstatic_markercluster

    return Path(xstatic_markercluster.BASE_DIR)


_SOURCE_MAP = re.compile(r"^\s*//[#@] sourceMappingURL=.*$", re.MULTILINE)
_CSS_SOURCE_MAP = re.compile(r"/\*[#@] sourceMappingURL=.*?\*/")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = (
            f"asset file {path} is missing: reinstall the xstatic packages "
            "(pip install xstatic-leaflet xstatic-leaflet-markercluster)"
        )
        raise ExternalAssetError(msg) from None


def _script_text(path: Path) -> str:
    """A JavaScript file ready to sit between ``<script>`` tags."""
    text = _SOURCE_MAP.sub("", _read_text(path))
    # "</script" or "<!--" inside a library would end or confuse the element;
    # "<\/" is the same string for JavaScript.
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _style_text(path: Path) -> str:
    """A CSS file with every relative ``url(...)`` replaced by a ``data:`` URI."""
    text = _CSS_SOURCE_MAP.sub("", _read_text(path))

    def replace(match: re.Match[str]) -> str:
        url = match.group(2)
        if url.startswith(("data:", "#")):
            return match.group(0)
        target = (path.parent / url).resolve()
        if "://" in url or url.startswith("//") or not target.is_file():
            msg = f"{path.name}: cannot inline url({url})"
            raise ExternalAssetError(msg)
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(replace, text).replace("</style", "<\\/style")


@functools.lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified JavaScript (from ``xstatic-leaflet``)."""
    return _script_text(_leaflet_dir() / "leaflet.js")


@functools.lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's style sheet, its images (layers icon, default marker) as ``data:`` URIs."""
    return _style_text(_leaflet_dir() / "leaflet.css")


@functools.lru_cache(maxsize=1)
def markercluster_js() -> str:
    """Leaflet.markercluster's minified JavaScript (``xstatic-leaflet-markercluster``)."""
    return _script_text(_markercluster_dir() / "leaflet.markercluster.js")


@functools.lru_cache(maxsize=1)
def markercluster_css() -> str:
    """Leaflet.markercluster's two style sheets, concatenated."""
    return _marker_cluster_base_css() + "\n" + _marker_cluster_default_css()


@functools.lru_cache(maxsize=1)
def _marker_cluster_default_css() -> str:
    return _style_text(_markercluster_dir() / "MarkerCluster.Default.css")


@functools.lru_cache(maxsize=1)
def _marker_cluster_base_css() -> str:
    return _style_text(_markercluster_dir() / "MarkerCluster.css")


#: Known libraries by the file name at the end of their URL (any host, any version).
_KNOWN_SCRIPTS: dict[str, Callable[[], str]] = {
    "leaflet.js": leaflet_js,
    "leaflet-src.js": leaflet_js,
    "leaflet.markercluster.js": markercluster_js,
    "leaflet.markercluster-src.js": markercluster_js,
}
_KNOWN_STYLES: dict[str, Callable[[], str]] = {
    "leaflet.css": leaflet_css,
    "markercluster.css": _marker_cluster_base_css,
    "markercluster.default.css": _marker_cluster_default_css,
}

_SCRIPT_SRC_TAG = re.compile(
    r"""<script\b([^>]*?)\bsrc\s*=\s*(["']?)([^"'\s>]*)\2([^>]*)>\s*</script\s*>""",
    re.IGNORECASE,
)
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""\b([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
# Blocks whose content is data or text, never fetched: JSON payloads and the title.
_INERT_BLOCKS = re.compile(
    r"""<script\b[^>]*\btype\s*=\s*["']?application/json["']?[^>]*>.*?</script\s*>"""
    r"|<title\b[^>]*>.*?</title\s*>",
    re.IGNORECASE | re.DOTALL,
)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.IGNORECASE | re.DOTALL)
_STYLE_ATTR = re.compile(r"""\bstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SRC_TAG = re.compile(
    r"<(?:img|iframe|embed|source|audio|video|object|input)\b[^>]*\b(?:src|data|poster)\s*=\s*"
    r"""(["']?)([^"'\s>]*)""",
    re.IGNORECASE,
)
_ABSOLUTE_CSS_URL = re.compile(r"""url\(\s*['"]?\s*(?:https?:)?//[^)]*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\b", re.IGNORECASE)


def _attrs(tag: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _ATTR.finditer(tag)}


def _file_name(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


def _is_inline_url(url: str) -> bool:
    return url.strip().lower().startswith(("data:", "#"))


def find_external_assets(html: str) -> list[str]:
    """List the assets of ``html`` that a browser would fetch from outside the file.

    Looked for: ``<script src>``, ``<link href>`` (style sheets, icons,
    preloads), ``src``/``data`` of images, frames and media, CSS ``url(...)``
    and ``@import`` in ``<style>`` elements and ``style`` attributes, and any
    absolute ``url(http...)``/``url(//...)`` elsewhere. ``data:`` URIs and
    fragments are fine. JSON data blocks and the title are not inspected (they
    hold user text, never fetched).

    Parameters
    ----------
    html : str
        A rendered page.

    Returns
    -------
    list of str
        One description per offending asset, e.g. ``"<script src=https://...>"``;
        empty when the page is self-contained.
    """
    page = _INERT_BLOCKS.sub("", html)
    found: list[str] = []
    for match in _SCRIPT_TAG.finditer(page):
        url = _attrs(match.group(0)).get("src")
        if url is not None and not _is_inline_url(url):
            found.append(f"<script src={url}>")
    for match in _LINK_TAG.finditer(page):
        attrs = _attrs(match.group(0))
        url = attrs.get("href", "")
        rel = attrs.get("rel", "").lower()
        if url and not _is_inline_url(url) and rel not in {"canonical", "author", "license"}:
            found.append(f"<link rel={rel} href={url}>")
    for match in _SRC_TAG.finditer(page):
        url = match.group(2)
        if url and not _is_inline_url(url):
            found.append(f"<... src={url}>")
    styles = [m.group(1) for m in _STYLE_BLOCK.finditer(page)]
    styles += [m.group(1) or m.group(2) or "" for m in _STYLE_ATTR.finditer(page)]
    for css in styles:
        for m in _CSS_URL.finditer(css):
            if not _is_inline_url(m.group(2)):
                found.append(f"url({m.group(2)})")
        if _CSS_IMPORT.search(css):
            found.append("@import in a style sheet")
    found += [m.group(0) for m in _ABSOLUTE_CSS_URL.finditer(page)]
    return list(dict.fromkeys(found))


def inline_assets(html: str) -> str:
    """Inline the known libraries of a rendered page and check nothing external is left.

    Every ``<script src=...>`` whose file name is Leaflet's or MarkerCluster's
    becomes an inline ``<script>``, every such style-sheet ``<link>`` an inline
    ``<style>`` (with images as ``data:`` URIs), whatever the URL's host or
    version. A library included twice is inlined once.

    Parameters
    ----------
    html : str
        A page as folium renders it.

    Returns
    -------
    str
        The self-contained page.

    Raises
    ------
    ExternalAssetError
        If any external asset (see :func:`find_external_assets`) remains, with
        the list of them.
    """
    seen: set[str] = set()

    def script(match: re.Match[str]) -> str:
        url = match.group(3)
        loader = _KNOWN_SCRIPTS.get(_file_name(url))
        if loader is None:
            return match.group(0)
        key = loader.__name__
        if key in seen:
            return ""
        seen.add(key)
        return f"<script>/* {_file_name(url)} (inlined) */\n{loader()}\n</script>"

    def link(match: re.Match[str]) -> str:
        attrs = _attrs(match.group(0))
        if attrs.get("rel", "").lower() != "stylesheet":
            return match.group(0)
        name = _file_name(attrs.get("href", ""))
        loader = _KNOWN_STYLES.get(name)
        if loader is None:
            return match.group(0)
        key = loader.__name__
        if key in seen:
            return ""
        seen.add(key)
        return f"<style>/* {name} (inlined) */\n{loader()}\n</style>"

    out = _SCRIPT_SRC_TAG.sub(script, html)
    out = _LINK_TAG.sub(link, out)
    remaining = find_external_assets(out)
    if remaining:
        msg = (
            "the map would need the network for "
            + ", ".join(sorted(set(remaining)))
            + "; only Leaflet and Leaflet.markercluster can be inlined "
            "(remove the plugin or add its files to opportunity_map._assets)"
        )
        raise ExternalAssetError(msg)
    return out


class OfflineFigure(Figure):
    """A branca ``Figure`` that renders one self-contained, offline HTML page.

    ``render()`` (used by ``save``, ``_repr_html_`` and ``get_root().render()``)
    post-processes folium's output with :func:`inline_assets` and marks the
    page as Italian.
    """

    def render(self, **kwargs: Any) -> str:
        """Render the page with every asset inlined.

        Raises
        ------
        ExternalAssetError
            If an element added a script, style sheet or image that cannot be
            inlined.
        """
        html = super().render(**kwargs)
        html = html.replace("<html>", '<html lang="it">', 1)
        return inline_assets(html)


#: The map's own style sheet and script, shipped as package data in ``static/``.
_STATIC = "static"


@functools.cache
def static_text(name: str) -> str:
    """A file of the package's ``static/`` folder (``map.js``, ``map.css``), ready to inline.

    Parameters
    ----------
    name : str
        The file name, e.g. ``"map.js"``.

    Returns
    -------
    str
        Its text; ``</script``/``</style`` are escaped so that the text can sit
        inside a ``<script>`` or ``<style>`` element.
    """
    text = resources.files(__package__).joinpath(_STATIC, name).read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script").replace("</style", "<\\/style")
