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

The module also holds the map's own style sheet and script (:data:`MAP_CSS`,
:data:`MAP_JS`): the script builds the layers, popups, search, filter, legend
and summary in the browser from the JSON payload of :mod:`opportunity_map.maps`,
writing every string from the data with ``textContent``.
"""

from __future__ import annotations

import base64
import functools
import logging
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from branca.element import Figure

from ._errors import OpportunityMapError

__all__ = [
    "LEAFLET_CSS_URL",
    "LEAFLET_JS_URL",
    "MAP_CSS",
    "MAP_JS",
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


# --- begin application assets ---
#: Style sheet of the map's panels, popups and legend.
MAP_CSS = r"""
.leaflet-container {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.leaflet-container.om-no-tiles { background: #dfe6ec; }
.om-panel {
  background: rgba(255, 255, 255, 0.96);
  border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35);
  padding: 6px 10px;
  font-size: 12.5px;
  line-height: 1.35;
  color: #222;
  max-width: 340px;
}
.om-panel summary { font-weight: 600; font-size: 13.5px; cursor: pointer; padding: 2px 0; }
.om-panel h4 { margin: 8px 0 3px; font-size: 12.5px; color: #333; }
details.om-panel[open] { max-height: 46vh; overflow-y: auto; }
.om-tools { width: 270px; }
.om-label { display: block; font-weight: 600; margin: 4px 0 2px; }
.om-search, .om-filter {
  display: block;
  width: 100%;
  box-sizing: border-box;
  margin-top: 3px;
  padding: 4px 6px;
  font: inherit;
  font-weight: normal;
  border: 1px solid #999;
  border-radius: 4px;
}
.om-results {
  list-style: none;
  margin: 4px 0;
  padding: 0;
  max-height: 34vh;
  overflow-y: auto;
  border-top: 1px solid #ddd;
}
.om-results li { border-bottom: 1px solid #eee; }
.om-result .om-link { display: block; width: 100%; text-align: left; padding: 4px 2px; }
.om-result-name { display: block; }
.om-check { display: block; margin: 6px 0 2px; }
.om-status { color: #555; margin-top: 4px; font-size: 11.5px; }
.om-link {
  background: none;
  border: none;
  padding: 0;
  font: inherit;
  color: #0b57a4;
  cursor: pointer;
  text-align: left;
}
.om-link:hover, .om-link:focus { text-decoration: underline; }
.om-sub { display: block; color: #555; font-size: 11.5px; margin: 1px 0; }
.om-note { color: #555; font-size: 11px; margin: 4px 0 0; }
.om-empty { color: #666; font-style: italic; margin: 2px 0; }
.om-table { border-collapse: collapse; margin: 4px 0; width: 100%; }
.om-table th, .om-table td {
  padding: 2px 5px;
  border-bottom: 1px solid #e3e3e3;
  text-align: left;
  vertical-align: middle;
}
.om-table .om-num { text-align: right; font-variant-numeric: tabular-nums; }
.om-fields {
  display: grid;
  grid-template-columns: max-content 1fr;
  gap: 1px 8px;
  margin: 5px 0;
}
.om-fields dt { color: #555; }
.om-fields dd { margin: 0; overflow-wrap: anywhere; white-space: pre-line; }
.om-summary .om-fields { grid-template-columns: 1fr auto; }
.om-summary .om-fields dd {
  white-space: nowrap;
  text-align: right;
  font-variant-numeric: tabular-nums;
}
.om-legend-list { list-style: none; margin: 0; padding: 0; }
.om-legend-list li { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.om-symbol-wrap { display: inline-flex; vertical-align: middle; }
.om-symbol { vertical-align: middle; flex: none; }
.om-swatch {
  display: inline-block;
  width: 14px;
  height: 14px;
  border: 1px solid #555;
  border-radius: 2px;
  vertical-align: middle;
  margin-right: 5px;
  flex: none;
}
.om-count { color: #666; }
.leaflet-control-layers-expanded { max-height: 60vh; overflow-y: auto; font-size: 12.5px; }
.leaflet-control-layers label span { vertical-align: middle; }
.om-popup .leaflet-popup-content { margin: 10px 12px; font-size: 12.5px; line-height: 1.35; }
.om-pop h3 { margin: 0; font-size: 15px; overflow-wrap: anywhere; }
.om-pop-head { display: flex; align-items: center; gap: 6px; }
.om-pop-kind { color: #444; margin: 2px 0 4px; }
.om-approx {
  background: #fff4d6;
  border-left: 3px solid #e0a100;
  padding: 3px 6px;
  margin: 4px 0;
}
.om-list { margin: 2px 0; padding-left: 16px; }
.om-ties { list-style: none; padding-left: 0; }
.om-ties li { margin: 3px 0; }
.om-ties .om-symbol { margin-right: 4px; }
.om-new {
  display: inline-block;
  background: #ffc400;
  color: #222;
  border-radius: 3px;
  padding: 0 4px;
  font-size: 11px;
}
.om-tip { font-size: 12.5px; }
.om-ambito-label {
  background: rgba(255, 255, 255, 0.7);
  border: none;
  box-shadow: none;
  color: #8a4300;
  font-weight: 600;
  font-size: 11px;
  padding: 1px 4px;
}
.om-ambito-label::before { display: none; }
.om-index-label {
  background: rgba(255, 255, 255, 0.8);
  border: 1px solid #999;
  box-shadow: none;
  font-size: 11px;
  padding: 0 4px;
  white-space: nowrap;
}
.om-index-label .om-short { color: #333; }
.om-name-cell { display: inline-flex; align-items: center; gap: 2px; }
.om-index-label::before { display: none; }
.om-maplink { display: inline-block; margin-top: 4px; font-weight: 600; }
.om-table .om-maplink { margin-top: 0; }
.om-table td .om-swatch { margin-right: 4px; }
.om-panel.om-index { max-width: 470px; }
.om-index .om-table td:first-child { white-space: normal; min-width: 120px; }
.om-cluster-icon { background: transparent; border: none; }
.om-cluster {
  width: 100%;
  height: 100%;
  border-radius: 50%;
  border: 2px solid #fff;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.5);
  display: flex;
  align-items: center;
  justify-content: center;
  box-sizing: border-box;
  opacity: 0.9;
}
.om-cluster span { color: #fff; font-weight: 700; font-size: 12px; text-shadow: 0 0 2px #000; }
@media print { .om-tools { display: none; } details.om-panel[open] { max-height: none; } }
"""

#: The client-side renderer: builds layers, popups, search and filter from the JSON payload.
MAP_JS = r"""
/* opportunity_map: the map's layers, popups, search and filter, built in the
 * browser from one JSON payload. Every string that comes from the data is put
 * in the page with textContent / DOM properties; the only innerHTML sinks
 * (Leaflet's layer-control labels, attribution) receive esc()-aped text. */
(function (global) {
  "use strict";
  var L = global.L;
  var SVG_NS = "http://www.w3.org/2000/svg";

  // ------------------------------------------------------------------ helpers
  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(
      /[&<>"'`$\\{}\u2028\u2029]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function now() { return global.performance ? global.performance.now() : 0; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function itDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : "";
  }
  function safeHref(url) {
    return typeof url === "string" && /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }
  function safeColor(color) {
    return typeof color === "string" && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#777777";
  }
  function textOrLink(text, href) {
    var url = safeHref(href);
    if (!url) { return document.createTextNode(String(text)); }
    var a = el("a", null, text);
    a.href = url;
    if (!/^mailto:/i.test(url)) { a.target = "_blank"; a.rel = "noopener noreferrer"; }
    return a;
  }
  function quiet(node) {
    L.DomEvent.disableClickPropagation(node);
    L.DomEvent.disableScrollPropagation(node);
    return node;
  }
  function panelControl(position, build) {
    var Control = L.Control.extend({
      options: { position: position },
      onAdd: function () { return quiet(build()); }
    });
    return new Control();
  }
  function collapsible(className, title, open) {
    var details = el("details", "om-panel " + className);
    details.open = open;
    add(details, el("summary", null, title));
    return details;
  }

  // ------------------------------------------------------------ shape markers
  function shapePoints(shape, x, y, r) {
    var s, k, a, pts = [];
    if (shape === "square") {
      s = r * 0.88;
      return [[x - s, y - s], [x + s, y - s], [x + s, y + s], [x - s, y + s]];
    }
    if (shape === "diamond") {
      s = r * 1.25;
      return [[x, y - s], [x + s, y], [x, y + s], [x - s, y]];
    }
    if (shape === "triangle") {
      s = r * 1.3;
      return [[x, y - s], [x + s * 0.95, y + s * 0.62], [x - s * 0.95, y + s * 0.62]];
    }
    if (shape === "hexagon" || shape === "star") {
      s = r * 1.08;
      var n = shape === "star" ? 10 : 6;
      for (k = 0; k < n; k++) {
        a = (2 * Math.PI / n) * k - Math.PI / 2;
        var rr = shape === "star" && k % 2 ? s * 0.5 : s;
        pts.push([x + rr * Math.cos(a), y + rr * Math.sin(a)]);
      }
      return pts;
    }
    return null;
  }
  L.Canvas.include({
    _updateOmShape: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var p = layer._point, ctx = this._ctx, r = Math.max(Math.round(layer._radius), 1);
      var pts = shapePoints(layer.options.shape, p.x, p.y, r);
      ctx.beginPath();
      if (!pts) {
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      } else {
        ctx.moveTo(pts[0][0], pts[0][1]);
        for (var k = 1; k < pts.length; k++) { ctx.lineTo(pts[k][0], pts[k][1]); }
        ctx.closePath();
      }
      this._fillStroke(ctx, layer);
    }
  });
  var ShapeMarker = L.CircleMarker.extend({
    options: { shape: "circle" },
    _updatePath: function () {
      if (this._renderer._updateOmShape) { this._renderer._updateOmShape(this); }
      else { this._renderer._updateCircle(this); }
    }
  });

  /* An SVG symbol as a string; only numbers and a validated colour go in it. */
  function symbolSvg(shape, color, hollow) {
    var c = safeColor(color);
    var pts = shapePoints(shape, 8, 8, 5);
    var style = hollow
      ? ' fill="#ffffff" stroke="' + c + '" stroke-width="1.6" stroke-dasharray="2.5 1.5"'
      : ' fill="' + c + '" stroke="#1f1f1f" stroke-width="1"';
    var body = pts
      ? '<polygon points="' + pts.map(function (p) {
        return p[0].toFixed(2) + "," + p[1].toFixed(2);
      }).join(" ") + '"' + style + "/>"
      : '<circle cx="8" cy="8" r="5"' + style + "/>";
    return '<svg class="om-symbol" width="16" height="16" viewBox="0 0 16 16" ' +
      'aria-hidden="true">' + body + "</svg>";
  }
  function symbolNode(shape, color, hollow) {
    var span = el("span", "om-symbol-wrap");
    span.innerHTML = symbolSvg(shape, color, hollow);
    return span;
  }
  function lineNode(color, weight, dash, opacity) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", "28"); svg.setAttribute("height", "12");
    svg.setAttribute("class", "om-symbol");
    var line = document.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", "2"); line.setAttribute("y1", "6");
    line.setAttribute("x2", "26"); line.setAttribute("y2", "6");
    line.setAttribute("stroke", safeColor(color));
    line.setAttribute("stroke-width", String(weight));
    line.setAttribute("stroke-linecap", "round");
    if (opacity) { line.setAttribute("stroke-opacity", String(opacity)); }
    if (dash) { line.setAttribute("stroke-dasharray", dash); }
    svg.appendChild(line);
    return svg;
  }
  function legendRow(list, symbol, label) {
    var li = add(list, el("li"));
    add(li, symbol);
    add(li, el("span", null, label));
    return li;
  }

  // ---------------------------------------------------------------- the map
  function pane(map, name, zIndex) {
    var p = map.getPane(name) || map.createPane(name);
    p.style.zIndex = String(zIndex);
    return name;
  }

  function addBoundaries(map, data, noTiles) {
    var b = data.boundaries || {};
    var rBound = L.canvas({ pane: pane(map, "omBoundaries", 350) });
    var layers = {};
    if (b.comuni && b.comuni.features && b.comuni.features.length) {
      layers.comuni = L.geoJSON(b.comuni, {
        renderer: rBound, interactive: false,
        style: { color: "#8c8c8c", weight: 0.6, opacity: 0.8,
                 fill: noTiles, fillColor: "#fbfaf4", fillOpacity: noTiles ? 1 : 0 }
      });
    }
    if (b.province && b.province.features && b.province.features.length) {
      layers.province = L.geoJSON(b.province, {
        renderer: rBound, interactive: false,
        style: { color: "#303030", weight: 2.6, opacity: 0.9, fill: false }
      });
    }
    if (b.ambiti && b.ambiti.features && b.ambiti.features.length) {
      var ambiti = L.layerGroup();
      L.geoJSON(b.ambiti, {
        renderer: rBound, interactive: false,
        style: { color: "#b35806", weight: 1.8, opacity: 0.9, dashArray: "7 5", fill: false }
      }).addTo(ambiti);
      b.ambiti.features.forEach(function (f) {
        var lp = f.properties && f.properties.label;
        if (!lp) { return; }
        L.tooltip({ permanent: true, direction: "center", className: "om-ambito-label",
                    interactive: false, opacity: 0.85 })
          .setLatLng([lp[0], lp[1]])
          .setContent(el("span", null, f.properties.name))
          .addTo(ambiti);
      });
      layers.ambiti = ambiti;
    }
    return layers;
  }

  function markerStyle(group, approx) {
    return approx
      ? { shape: group.shape, radius: 6.5, color: safeColor(group.color), weight: 2,
          opacity: 1, dashArray: "3 2", fillColor: "#ffffff", fillOpacity: 0.8 }
      : { shape: group.shape, radius: 6.5, color: "#1f1f1f", weight: 1, opacity: 0.9,
          fillColor: safeColor(group.color), fillOpacity: 0.92 };
  }

  function clusterGroup(color) {
    var c = safeColor(color);
    return L.markerClusterGroup({
      maxClusterRadius: 36,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      chunkedLoading: false,
      removeOutsideVisibleBounds: true,
      iconCreateFunction: function (cluster) {
        var n = cluster.getChildCount();
        var size = n < 10 ? 26 : n < 100 ? 32 : 38;
        var div = el("div", "om-cluster");
        div.style.background = c;
        add(div, el("span", null, String(n)));
        return L.divIcon({ html: div, className: "om-cluster-icon", iconSize: [size, size] });
      }
    });
  }

  function render(map, data, options) {
    options = options || {};
    var t0 = now(), marks = {};
    function mark(name) { marks[name] = Math.round(now() - t0); }
    var noTiles = !options.tileLayer;
    L.DomUtil.addClass(map.getContainer(), noTiles ? "om-no-tiles" : "om-tiles");

    var groups = data.groups || [];
    var actorKinds = data.actorKinds || {};
    var relKinds = data.relationKinds || [];
    var levels = {};
    (data.levels || []).forEach(function (lv) { levels[lv.value] = lv; });
    var oppTypes = data.opportunityTypes || [];
    var feats = (data.actors && data.actors.features) || [];
    var rels = data.relations || [];
    var N = feats.length, R = rels.length;
    var baselineText = itDate(data.baseline);

    // the view first, so that every layer is projected once
    if (data.bounds) { map.fitBounds(data.bounds, { padding: [10, 10], animate: false }); }

    // ---- boundaries
    var boundaries = addBoundaries(map, data, noTiles);
    if (boundaries.comuni) { boundaries.comuni.addTo(map); }
    if (boundaries.province) { boundaries.province.addTo(map); }
    if (boundaries.ambiti) { boundaries.ambiti.addTo(map); }

    mark("boundaries");
    // ---- actors
    var rMarkers = L.canvas({ pane: pane(map, "omMarkers", 420) });
    var props = new Array(N), latlngs = new Array(N), markers = new Array(N);
    var visible = new Array(N), offers = new Array(N), adjacency = new Array(N);
    for (var i = 0; i < N; i++) {
      var f = feats[i], p = f.properties || {};
      var c = f.geometry && f.geometry.coordinates;
      props[i] = p;
      latlngs[i] = L.latLng(c[1], c[0]);
      var group = groups[p.g] || { shape: "circle", color: "#777777" };
      var mk = new ShapeMarker(latlngs[i],
        L.extend({ renderer: rMarkers }, markerStyle(group, !!p.x)));
      mk.omIndex = i;
      markers[i] = mk;
      visible[i] = true;
      offers[i] = {};
      (p.o || []).forEach(function (o) { offers[i][o[0]] = true; });
      adjacency[i] = [];
    }
    for (var r = 0; r < R; r++) {
      adjacency[rels[r][0]].push(r);
      adjacency[rels[r][1]].push(r);
    }

    var clustered = options.cluster !== false;
    var groupLayers = groups.map(function (g) {
      var container = L.layerGroup();
      var flat = L.featureGroup();
      var cluster = clusterGroup(g.color);
      [flat, cluster].forEach(function (layer) {
        layer.on("click", onMarkerClick);
        layer.on("mouseover", onMarkerOver);
        layer.on("mouseout", onMarkerOut);
      });
      return { group: g, container: container, flat: flat, cluster: cluster, members: [] };
    });
    for (i = 0; i < N; i++) {
      if (groupLayers[props[i].g]) { groupLayers[props[i].g].members.push(i); }
    }
    function fillGroups() {
      groupLayers.forEach(function (gl) {
        var inner = clustered ? gl.cluster : gl.flat;
        gl.container.clearLayers();
        gl.flat.clearLayers();
        gl.cluster.clearLayers();
        var list = [];
        gl.members.forEach(function (k) { if (visible[k]) { list.push(markers[k]); } });
        if (clustered) { gl.cluster.addLayers(list); }
        else { list.forEach(function (m) { gl.flat.addLayer(m); }); }
        gl.container.addLayer(inner);
      });
    }
    mark("markers");
    fillGroups();
    mark("clusters");
    groupLayers.forEach(function (gl) { gl.container.addTo(map); });
    mark("markersOnMap");

    // ---- relations
    // Lines are opaque on a translucent pane: blending once is much cheaper than
    // blending every stroke, and crossings stay readable.
    var rLines = L.canvas({ pane: pane(map, "omLines", 380) });
    map.getPane("omLines").style.opacity = "0.6";
    var relLayer = L.layerGroup(), newLayer = L.layerGroup();
    var shownRelations = 0;
    function buildRelations() {
      relLayer.clearLayers();
      newLayer.clearLayers();
      var buckets = {}, fresh = [];
      shownRelations = 0;
      for (var k = 0; k < R; k++) {
        var rel = rels[k];
        if (!visible[rel[0]] || !visible[rel[1]]) { continue; }
        var seg = [latlngs[rel[0]], latlngs[rel[1]]];
        var key = rel[2] + "|" + rel[3];
        (buckets[key] || (buckets[key] = [])).push(seg);
        if (rel[5]) { fresh.push(seg); }
        shownRelations += 1;
      }
      var factor = lineFactor();
      Object.keys(buckets).forEach(function (key) {
        var parts = key.split("|");
        var kind = relKinds[+parts[0]] || { color: "#777777" };
        var level = levels[+parts[1]] || { weight: 1.5 };
        var line = L.polyline(buckets[key], {
          renderer: rLines, interactive: false, color: safeColor(kind.color),
          weight: level.weight * factor, opacity: 1, lineCap: "butt"
        });
        line.omWeight = level.weight;
        line.addTo(relLayer);
      });
      if (fresh.length) {
        var halo = L.polyline(fresh, {
          renderer: rLines, interactive: false, color: "#ffc400", weight: HALO * factor,
          opacity: 1, lineCap: "butt"
        });
        halo.omWeight = HALO;
        halo.addTo(newLayer);
      }
    }
    /* Thousands of thick lines are slow to paint and unreadable when zoomed out:
       with many ties the lines are thinner (same proportions) until zoom 12. */
    var HALO = 6;
    function lineFactor() {
      return shownRelations > DENSE_LINES && map.getZoom() < 12 ? 0.45 : 1;
    }
    var DENSE_LINES = 3000, lastFactor = null;
    function restyleLines() {
      var factor = lineFactor();
      if (factor === lastFactor) { return; }
      lastFactor = factor;
      [relLayer, newLayer].forEach(function (group) {
        group.eachLayer(function (line) { line.setStyle({ weight: line.omWeight * factor }); });
      });
    }
    map.on("zoomend", restyleLines);
    buildRelations();
    // the highlight of new ties is drawn under the lines (same canvas)
    newLayer.on("add", function () {
      newLayer.eachLayer(function (halo) { halo.bringToBack(); });
    });
    relLayer.addTo(map);
    if (data.baseline) { newLayer.addTo(map); }
    mark("relations");

    // ---- tooltips and popups
    var hoverTip = L.tooltip({ direction: "top", offset: [0, -8], className: "om-tip" });
    function onMarkerOver(e) {
      var k = e.layer && e.layer.omIndex;
      if (k === undefined) { return; }
      hoverTip.setLatLng(latlngs[k]).setContent(el("span", null, props[k].n));
      map.openTooltip(hoverTip);
    }
    function onMarkerOut() { map.closeTooltip(hoverTip); }
    function onMarkerClick(e) {
      var k = e.layer && e.layer.omIndex;
      if (k !== undefined) { openActor(k); }
    }
    var popup = L.popup({ maxWidth: 380, minWidth: 260, maxHeight: 380, className: "om-popup",
                          autoPanPadding: [30, 30] });

    function groupOf(k) { return groups[props[k].g] || { label: "", color: "#777777" }; }
    function dlRow(dl, label, value) {
      if (value === undefined || value === null || value === "") { return; }
      add(dl, el("dt", null, label));
      var dd = add(dl, el("dd"));
      if (typeof value === "object") { dd.appendChild(value); }
      else { dd.textContent = String(value); }
    }
    function buildPopup(k) {
      var p = props[k], g = groupOf(k);
      var box = el("div", "om-pop");
      var head = add(box, el("div", "om-pop-head"));
      add(head, symbolNode(g.shape, g.color, !!p.x));
      add(head, el("h3", null, p.n));
      add(box, el("div", "om-pop-kind",
        (actorKinds[p.k] !== undefined ? actorKinds[p.k] : p.k) + " · " + g.label));
      if (p.x) {
        add(box, el("div", "om-approx",
          "Posizione approssimata (comune): il punto è nel comune, non all'indirizzo."));
      }
      var dl = add(box, el("dl", "om-fields"));
      dlRow(dl, "Comune", p.c);
      dlRow(dl, "Indirizzo", p.a);
      if (p.w) { dlRow(dl, "Sito web", textOrLink(p.w, p.wh)); }
      if (p.e) { dlRow(dl, "E-mail", textOrLink(p.e, p.eh)); }
      dlRow(dl, "Telefono", p.p);
      dlRow(dl, "Note", p.t);
      dlRow(dl, "Codice", p.id);

      var opps = p.o || [];
      add(box, el("h4", null, "Opportunità offerte (" + opps.length + ")"));
      if (!opps.length) {
        add(box, el("p", "om-empty", "Nessuna opportunità registrata."));
      } else {
        var ul = add(box, el("ul", "om-list om-opps"));
        opps.forEach(function (o) {
          var li = add(ul, el("li"));
          var type = oppTypes[o[0]] || { label: "" };
          add(li, el("strong", null, type.label));
          if (o[1]) { add(li, document.createTextNode(": " + o[1])); }
          var extra = [];
          if (o[2] !== null && o[2] !== undefined) { extra.push("posti: " + o[2]); }
          if (o[3]) { extra.push("destinatari: " + o[3]); }
          if (o[4]) { extra.push("note: " + o[4]); }
          if (extra.length) { add(li, el("div", "om-sub", extra.join(" · "))); }
        });
      }

      var ties = adjacency[k].slice();
      add(box, el("h4", null, "Legami (" + ties.length + ") · grado " + (p.d || 0)));
      if (!ties.length) {
        add(box, el("p", "om-empty",
          "Nessun legame registrato con organizzazioni della mappa."));
      } else {
        ties.sort(function (a, b) {
          return (rels[b][3] - rels[a][3]) ||
            String(props[other(a, k)].n).localeCompare(String(props[other(b, k)].n), "it");
        });
        var tl = add(box, el("ul", "om-list om-ties"));
        ties.slice(0, 150).forEach(function (ri) {
          var rel = rels[ri], j = other(ri, k);
          var kind = relKinds[rel[2]] || { label: "", color: "#777777" };
          var lv = levels[rel[3]] || { label: "" };
          var li = add(tl, el("li"));
          add(li, lineNode(kind.color, Math.min(lv.weight || 2, 5)));
          var btn = add(li, el("button", "om-link", props[j].n));
          btn.type = "button";
          btn.addEventListener("click", function () { focusActor(j); });
          var bits = kind.label + ", livello " + rel[3] +
            (lv.label ? " (" + lv.label + ")" : "");
          if (rel[4]) { bits += ", dal " + itDate(rel[4]); }
          add(li, el("div", "om-sub", bits));
          if (rel[5]) { add(li, el("span", "om-new", "nuovo dal " + baselineText)); }
          if (rel[6]) { add(li, el("div", "om-sub", "Note: " + rel[6])); }
        });
        if (ties.length > 150) {
          add(box, el("p", "om-empty", "… e altri " + (ties.length - 150) + " legami."));
        }
      }
      return box;
    }
    function other(ri, k) { return rels[ri][0] === k ? rels[ri][1] : rels[ri][0]; }
    function openActor(k) {
      popup.setLatLng(latlngs[k]).setContent(buildPopup(k)).openOn(map);
    }
    var focusToken = 0;
    function focusActor(k) {
      if (!visible[k]) { setFilter(""); }
      var gl = groupLayers[props[k].g];
      if (gl && !map.hasLayer(gl.container)) { gl.container.addTo(map); }
      if (gl && clustered && gl.cluster.hasLayer(markers[k]) && !map.hasLayer(markers[k])) {
        // inside a cluster: zoom (or spiderfy) until it shows; markercluster does
        // not always call back when nothing has to move, hence the fallback
        map.closePopup(popup);
        var token = ++focusToken;
        var finish = function () {
          if (token === focusToken) { focusToken += 1; openActor(k); }
        };
        gl.cluster.zoomToShowLayer(markers[k], finish);
        global.setTimeout(finish, 1500);
      } else {
        focusToken += 1;
        map.setView(latlngs[k], Math.max(map.getZoom(), 12), { animate: false });
        openActor(k);
      }
    }

    // ---- filter and search
    var filterSelect, statusLine, resultsList, searchInput, clusterBox;
    function setFilter(code) {
      for (var k = 0; k < N; k++) { visible[k] = code === "" || !!offers[k][code]; }
      if (filterSelect) { filterSelect.value = code; }
      map.closePopup(popup);
      fillGroups();
      buildRelations();
      updateStatus();
    }
    function updateStatus() {
      if (!statusLine) { return; }
      var n = 0;
      for (var k = 0; k < N; k++) { if (visible[k]) { n += 1; } }
      statusLine.textContent = "Visibili: " + n + " organizzazioni su " + N + ", " +
        shownRelations + " legami su " + R + ".";
    }
    var folded = null;
    function search(query) {
      var q = fold(query).trim();
      var hits = [];
      if (q.length < 2) { return hits; }
      if (!folded) { folded = props.map(function (p) { return [fold(p.n), fold(p.c)]; }); }
      for (var k = 0; k < N; k++) {
        var a = folded[k][0].indexOf(q), b = folded[k][1].indexOf(q);
        if (a >= 0 || b >= 0) { hits.push([a === 0 ? 0 : a > 0 ? 1 : b === 0 ? 2 : 3, k]); }
      }
      hits.sort(function (x, y) {
        return x[0] - y[0] || String(props[x[1]].n).localeCompare(String(props[y[1]].n), "it");
      });
      return hits.map(function (h) { return h[1]; });
    }
    function showResults(query) {
      resultsList.textContent = "";
      var hits = search(query);
      if (fold(query).trim().length < 2) { resultsList.hidden = true; return hits; }
      resultsList.hidden = false;
      if (!hits.length) {
        add(resultsList, el("li", "om-empty", "Nessun risultato."));
        return hits;
      }
      hits.slice(0, 20).forEach(function (k) {
        var li = add(resultsList, el("li", "om-result"));
        var btn = add(li, el("button", "om-link"));
        btn.type = "button";
        add(btn, el("strong", "om-result-name", props[k].n));
        add(btn, el("span", "om-sub", (props[k].c || "") + " · " + groupOf(k).label +
          (visible[k] ? "" : " (nascosta dal filtro)")));
        btn.addEventListener("click", function () { focusActor(k); });
      });
      if (hits.length > 20) {
        add(resultsList,
          el("li", "om-empty", "… altri " + (hits.length - 20) + " risultati."));
      }
      return hits;
    }

    var tools = panelControl("topleft", function () {
      var box = el("div", "om-panel om-tools");
      var lab = add(box, el("label", "om-label", "Cerca un'organizzazione o un comune"));
      searchInput = add(box, el("input", "om-search"));
      searchInput.type = "search";
      searchInput.placeholder = "Nome o comune…";
      searchInput.setAttribute("aria-label", "Cerca per nome o comune");
      lab.appendChild(searchInput);
      resultsList = add(box, el("ul", "om-results"));
      resultsList.hidden = true;
      var timer = null;
      searchInput.addEventListener("input", function () {
        global.clearTimeout(timer);
        timer = global.setTimeout(function () { showResults(searchInput.value); }, 120);
      });
      searchInput.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          var hits = showResults(searchInput.value);
          if (hits.length) { focusActor(hits[0]); }
        } else if (ev.key === "Escape") {
          searchInput.value = ""; showResults("");
        }
      });
      var flab = add(box, el("label", "om-label", "Mostra solo chi offre"));
      filterSelect = add(flab, el("select", "om-filter"));
      filterSelect.setAttribute("aria-label", "Filtra per tipo di opportunità");
      var all = add(filterSelect, el("option", null, "Tutte le organizzazioni"));
      all.value = "";
      oppTypes.forEach(function (t, k) {
        if (!t.count) { return; }
        var opt = add(filterSelect, el("option", null, t.label + " (" + t.count + ")"));
        opt.value = String(k);
      });
      filterSelect.addEventListener("change", function () { setFilter(filterSelect.value); });
      var clab = add(box, el("label", "om-check"));
      clusterBox = add(clab, el("input"));
      clusterBox.type = "checkbox";
      clusterBox.checked = clustered;
      add(clab, document.createTextNode(" Raggruppa le organizzazioni vicine"));
      clusterBox.addEventListener("change", function () {
        clustered = clusterBox.checked;
        map.closePopup(popup);
        fillGroups();
      });
      statusLine = add(box, el("div", "om-status"));
      updateStatus();
      return box;
    });
    tools.addTo(map);

    // ---- summary panel
    var s = data.summary || {};
    panelControl("bottomleft", function () {
      var box = collapsible("om-summary", s.title || data.title || "Riepilogo", true);
      (s.lines || []).forEach(function (line) { add(box, el("p", "om-sub", line)); });
      var table = add(box, el("table", "om-table"));
      var thead = add(table, el("thead"));
      var hr = add(thead, el("tr"));
      ["Gruppo", "Organizzazioni", "Legami"].forEach(function (h) {
        add(hr, el("th", null, h));
      });
      var tbody = add(table, el("tbody"));
      (s.rows || []).forEach(function (row) {
        var tr = add(tbody, el("tr"));
        var td = add(tr, el("td"));
        var g = groups[row.group];
        if (g) { add(td, symbolNode(g.shape, g.color, false)); }
        add(td, el("span", null, row.label));
        add(tr, el("td", "om-num", row.actors));
        add(tr, el("td", "om-num", row.ties));
      });
      if (s.total) {
        var tf = add(add(table, el("tfoot")), el("tr"));
        add(tf, el("th", null, "Totale"));
        add(tf, el("th", "om-num", s.total.actors));
        add(tf, el("th", "om-num", s.total.ties));
      }
      var dl = add(box, el("dl", "om-fields"));
      (s.figures || []).forEach(function (fig) { dlRow(dl, fig[0], fig[1]); });
      (s.notes || []).forEach(function (note) { add(box, el("p", "om-note", note)); });
      return box;
    }).addTo(map);

    // ---- legend
    panelControl("bottomright", function () {
      var box = collapsible("om-legend", "Legenda", true);
      add(box, el("h4", null, "Organizzazioni"));
      var ul = add(box, el("ul", "om-legend-list"));
      groups.forEach(function (g) {
        legendRow(ul, symbolNode(g.shape, g.color, false), g.label);
      });
      legendRow(ul, symbolNode("circle", "#555555", true), "Posizione approssimata (comune)");
      var usedKinds = {};
      rels.forEach(function (rel) { usedKinds[rel[2]] = true; });
      if (R) {
        add(box, el("h4", null, "Legami: tipo (colore)"));
        var kl = add(box, el("ul", "om-legend-list"));
        relKinds.forEach(function (k, idx) {
          if (usedKinds[idx]) { legendRow(kl, lineNode(k.color, 3), k.label); }
        });
        add(box, el("h4", null, "Legami: livello (spessore)"));
        var ll = add(box, el("ul", "om-legend-list"));
        (data.levels || []).forEach(function (lv) {
          legendRow(ll, lineNode("#555555", lv.weight), lv.value + " – " + lv.label);
        });
        if (data.baseline) {
          legendRow(ll, lineNode("#ffc400", 8, null, 0.6), "Legame nuovo dal " + baselineText);
        }
      }
      add(box, el("h4", null, "Confini"));
      var bl = add(box, el("ul", "om-legend-list"));
      legendRow(bl, lineNode("#303030", 2.6), "Provincia");
      if (boundaries.ambiti) {
        legendRow(bl, lineNode("#b35806", 1.8, "7 5"), "Ambito territoriale");
      }
      legendRow(bl, lineNode("#8c8c8c", 1), "Comune");
      return box;
    }).addTo(map);

    // ---- attribution
    (data.credits || []).forEach(function (credit) {
      map.attributionControl.addAttribution(esc(credit));
    });

    // ---- layer control, added last so that every layer exists
    var overlays = {};
    groupLayers.forEach(function (gl) {
      overlays[symbolSvg(gl.group.shape, gl.group.color, false) + " " + esc(gl.group.label) +
        ' <span class="om-count">(' + gl.members.length + ")</span>"] = gl.container;
    });
    overlays['Legami <span class="om-count">(' + R + ")</span>"] = relLayer;
    if (data.baseline) {
      overlays[esc("Legami nuovi dal " + baselineText)] = newLayer;
    }
    if (boundaries.ambiti) { overlays["Ambiti territoriali"] = boundaries.ambiti; }
    if (boundaries.comuni) { overlays["Comuni"] = boundaries.comuni; }
    if (boundaries.province) { overlays["Confine provinciale"] = boundaries.province; }
    var bases = null;
    if (options.tileLayer) {
      bases = { "OpenStreetMap": options.tileLayer, "Nessuno sfondo": L.layerGroup() };
    }
    var layerControl = L.control.layers(bases, overlays,
      { collapsed: false, position: "topright" }).addTo(map);

    mark("controls");

    function counts() {
      var markersShown = 0, lines = 0;
      groupLayers.forEach(function (gl) {
        markersShown += (clustered ? gl.cluster : gl.flat).getLayers().length;
      });
      relLayer.eachLayer(function (pl) { lines += pl.getLatLngs().length; });
      var halo = newLayer.getLayers();
      return { actors: N, markers: markersShown, relations: R, relationLines: lines,
               newLines: halo.length ? halo[0].getLatLngs().length : 0 };
    }
    var api = {
      map: map, counts: counts, search: search, openActor: openActor, focusActor: focusActor,
      setFilter: setFilter, layerControl: layerControl,
      indexOf: function (id) {
        for (var k = 0; k < N; k++) { if (props[k].id === id) { return k; } }
        return -1;
      },
      renderMs: now() - t0, marks: marks
    };
    return api;
  }

  // ------------------------------------------------------------- index page
  function renderIndex(map, data, options) {
    options = options || {};
    var t0 = global.performance ? global.performance.now() : 0;
    L.DomUtil.addClass(map.getContainer(), options.tileLayer ? "om-tiles" : "om-no-tiles");
    var rPoly = L.canvas({ pane: pane(map, "omBoundaries", 350) });
    var fc = data.territories || { type: "FeatureCollection", features: [] };
    var popup = L.popup({ maxWidth: 320, className: "om-popup" });
    function mapLink(p, text) {
      var ok = typeof p.href === "string" && /^[a-z0-9][a-z0-9_-]*\.html$/.test(p.href);
      if (!ok) {
        return el("span", "om-sub", text === undefined ? "mappa non generata" : text);
      }
      var href = p.href;
      var a = el("a", "om-maplink", text === undefined ? "Apri la mappa del territorio" : text);
      a.href = href;
      return a;
    }
    function card(p) {
      var box = el("div", "om-pop");
      add(box, el("h3", null, p.name));
      var dl = add(box, el("dl", "om-fields"));
      (p.figures || []).forEach(function (fig) { dlRow(dl, fig[0], fig[1]); });
      add(box, mapLink(p));
      return box;
    }
    function dlRow(dl, label, value) {
      if (value === undefined || value === null || value === "") { return; }
      add(dl, el("dt", null, label));
      add(dl, el("dd", null, value));
    }
    var polys = L.geoJSON(fc, {
      renderer: rPoly,
      style: function (f) {
        return { color: "#333333", weight: 1.4, fillColor: safeColor(f.properties.fill),
                 fillOpacity: 0.78 };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(function () {
          var t = el("div");
          add(t, el("strong", null, p.name));
          if (p.headline) { add(t, el("div", null, p.headline)); }
          return t;
        }, { sticky: true, className: "om-tip" });
        layer.on("click", function (e) {
          popup.setLatLng(e.latlng).setContent(card(p)).openOn(map);
        });
      }
    }).addTo(map);
    var labels = L.layerGroup().addTo(map);
    fc.features.forEach(function (f) {
      var lp = f.properties.label;
      if (!lp) { return; }
      var t = el("div");
      add(t, el("strong", null, f.properties.name));
      if (f.properties.short) { add(t, el("span", "om-short", " " + f.properties.short)); }
      L.tooltip({ permanent: true, direction: "center", className: "om-index-label",
                  interactive: false })
        .setLatLng([lp[0], lp[1]]).setContent(t).addTo(labels);
    });

    panelControl("topright", function () {
      var box = collapsible("om-summary om-index", data.title || "Mappe delle opportunità",
        true);
      (data.lines || []).forEach(function (line) { add(box, el("p", "om-sub", line)); });
      var table = add(box, el("table", "om-table"));
      var hr = add(add(table, el("thead")), el("tr"));
      (data.columns || []).forEach(function (h) { add(hr, el("th", null, h)); });
      var tbody = add(table, el("tbody"));
      fc.features.forEach(function (f) {
        var p = f.properties;
        var tr = add(tbody, el("tr"));
        var cell = add(add(tr, el("td")), el("span", "om-name-cell"));
        var sw = add(cell, el("span", "om-swatch"));
        sw.style.background = safeColor(p.fill);
        add(cell, mapLink(p, p.name));
        (p.cells || []).forEach(function (cell) { add(tr, el("td", "om-num", cell)); });
      });
      (data.notes || []).forEach(function (note) { add(box, el("p", "om-note", note)); });
      return box;
    }).addTo(map);

    panelControl("bottomright", function () {
      var box = collapsible("om-legend", data.legendTitle || "Legenda", true);
      var ul = add(box, el("ul", "om-legend-list"));
      (data.legend || []).forEach(function (item) {
        var sw = el("span", "om-swatch");
        sw.style.background = safeColor(item.color);
        legendRow(ul, sw, item.label);
      });
      return box;
    }).addTo(map);

    (data.credits || []).forEach(function (credit) {
      map.attributionControl.addAttribution(esc(credit));
    });
    var overlays = { "Territori": polys, "Etichette": labels };
    var bases = options.tileLayer
      ? { "OpenStreetMap": options.tileLayer, "Nessuno sfondo": L.layerGroup() } : null;
    var layerControl = L.control.layers(bases, overlays,
      { collapsed: true, position: "topleft" }).addTo(map);
    if (data.bounds) { map.fitBounds(data.bounds, { padding: [10, 10], animate: false }); }
    return {
      map: map, layerControl: layerControl,
      counts: function () { return { territories: polys.getLayers().length }; },
      renderMs: (global.performance ? global.performance.now() : 0) - t0
    };
  }

  function start(kind, map, dataId, options) {
    var node = document.getElementById(dataId);
    var t0 = global.performance ? global.performance.now() : 0;
    var data = JSON.parse(node.textContent);
    var t1 = global.performance ? global.performance.now() : 0;
    var api = (kind === "index" ? renderIndex : render)(map, data, options);
    api.parseMs = t1 - t0;
    api.readyAt = global.performance ? global.performance.now() : 0;
    global.opportunityMaps = global.opportunityMaps || [];
    global.opportunityMaps.push(api);
    document.documentElement.setAttribute("data-om-ready",
      String(global.opportunityMaps.length));
    return api;
  }

  global.opportunityMap = { render: render, renderIndex: renderIndex, start: start, esc: esc };
})(window);
"""
# --- end application assets ---
