"""QGIS layer styles for the GeoPackage that :func:`opportunity_map.save` writes.

QGIS reads a layer's default style from the ``layer_styles`` table of a GeoPackage
(the table it writes itself with *Save as default*): one row per style, its QML in
``styleQML``, ``useAsDefault`` true for the one applied when the layer is opened.
:func:`layer_styles` builds that table with the styling of the web maps
(:data:`~opportunity_map.maps.GROUP_STYLES`,
:data:`~opportunity_map.maps.RELATION_COLORS`,
:data:`~opportunity_map.maps.LEVEL_WEIGHTS`):

- ``actors``: a rule-based renderer, one rule per group (colour and marker shape),
  hollow for the positions placed at the comune's point (``geocoded = 'comune'``);
- ``relations``: categorized by ``kind``, the width by ``level``;
- ``territories`` and ``ambiti``: outlines only.

The QML is rendered from ``templates/qgis_style.qml.j2``.

Examples
--------
>>> styles = layer_styles(["actors", "relations"])
>>> styles["f_table_name"].tolist(), styles["useAsDefault"].tolist()
(['actors', 'relations'], [True, True])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._html import templates
from .schema import (
    GEOCODED_COMUNE,
    GROUP_LABELS,
    GROUPS,
    LEVEL_LABELS,
    RELATION_KIND_LABELS,
    RELATION_KINDS,
)

__all__ = ["GEOMETRY_COLUMN", "LAYER_STYLES", "QGIS_VERSION", "STYLE_NAME", "layer_styles",
           "style_qml"]

#: The name of the table QGIS reads layer styles from.
LAYER_STYLES = "layer_styles"
#: The geometry column pyogrio gives every spatial layer of a GeoPackage.
GEOMETRY_COLUMN = "geom"
#: The name of the default style of every layer.
STYLE_NAME = "opportunity_map"
#: The QGIS version stated in the QML (the format read by QGIS 3.x).
QGIS_VERSION = "3.28.0-Firenze"

_OUTLINE = "35,35,35,255"
_MARKER_SIZE = "3.2"
_OTHER = "#7f7f7f"


def _rgba(color: str, alpha: int = 255) -> str:
    """``"#rrggbb"`` as QGIS writes a colour: ``"r,g,b,a"``."""
    text = color.lstrip("#")
    return ",".join(str(int(text[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _quoted(value: str) -> str:
    """A string literal of the QGIS expression language."""
    return "'" + value.replace("'", "''") + "'"


def _marker(name: str, color: str, shape: str, *, hollow: bool) -> dict[str, Any]:
    props = {
        "name": shape, "color": _rgba(color, 0 if hollow else 255),
        "outline_color": _rgba(color) if hollow else _OUTLINE,
        "outline_style": "solid", "outline_width": "0.7" if hollow else "0.3",
        "outline_width_unit": "MM", "size": _MARKER_SIZE, "size_unit": "MM",
        "joinstyle": "miter", "scale_method": "diameter", "angle": "0",
    }
    return {"name": name, "type": "marker",
            "layers": [{"cls": "SimpleMarker", "props": props, "dd": {}}]}


def _actors() -> dict[str, Any]:
    from .maps import GROUP_STYLES

    rules: list[dict[str, str]] = []
    symbols: list[dict[str, Any]] = []
    approx = f'coalesce("geocoded", \'\') = {_quoted(GEOCODED_COMUNE)}'
    exact = f'coalesce("geocoded", \'\') <> {_quoted(GEOCODED_COMUNE)}'
    for group in (*GROUPS, None):
        style = GROUP_STYLES.get(group) if group is not None else None
        color, shape = (style.color, style.shape) if style is not None else (_OTHER, "star")
        label = GROUP_LABELS[group] if group is not None else "Altro"
        where = (f'"group" = {_quoted(group)}' if group is not None
                 else '"group" IS NULL OR "group" NOT IN ('
                 + ", ".join(_quoted(g) for g in GROUPS) + ")")
        for hollow in (False, True):
            key = str(len(symbols))
            symbols.append(_marker(key, color, shape, hollow=hollow))
            rules.append({
                "key": f"rule_{group or 'other'}_{'comune' if hollow else 'coordinate'}",
                "symbol": key,
                "label": f"{label} (posizione approssimata al comune)" if hollow else label,
                "filter": f"({where}) AND " + (approx if hollow else exact),
            })
    return {"renderer": "rules", "rules": rules, "symbols": symbols,
            "label_field": "name", "geometry_type": 0}


def _relations() -> dict[str, Any]:
    from .maps import LEVEL_WEIGHTS, RELATION_COLORS

    width = ("CASE " + " ".join(f'WHEN "level" = {level} THEN {LEVEL_WEIGHTS[level]:g}'
                                for level in LEVEL_LABELS) + " ELSE 1 END")
    categories: list[dict[str, str]] = []
    symbols: list[dict[str, Any]] = []
    for kind in (*RELATION_KINDS, None):
        key = str(len(symbols))
        color = RELATION_COLORS.get(kind, "#999999") if kind is not None else "#999999"
        props = {"line_color": _rgba(color, 230), "line_style": "solid",
                 "line_width": "1", "line_width_unit": "Pixel",
                 "capstyle": "round", "joinstyle": "round"}
        symbols.append({"name": key, "type": "line", "layers": [
            {"cls": "SimpleLine", "props": props, "dd": {"outlineWidth": width}}]})
        categories.append({"value": kind or "", "symbol": key,
                           "label": RELATION_KIND_LABELS[kind] if kind else "Altro"})
    return {"renderer": "categorized", "attribute": "kind", "categories": categories,
            "symbols": symbols, "label_field": "kind", "geometry_type": 1}


def _outline(color: str, width: str, style: str) -> dict[str, Any]:
    props = {"color": "0,0,0,0", "style": "no", "outline_color": _rgba(color),
             "outline_style": style, "outline_width": width, "outline_width_unit": "MM",
             "joinstyle": "round"}
    return {"renderer": "single", "label_field": "name", "geometry_type": 2,
            "symbols": [{"name": "0", "type": "fill",
                         "layers": [{"cls": "SimpleFill", "props": props, "dd": {}}]}]}


def _context(layer: str) -> dict[str, Any] | None:
    if layer == "actors":
        return _actors()
    if layer == "relations":
        return _relations()
    if layer == "territories":
        return _outline("#333333", "0.8", "solid")
    if layer == "ambiti":
        return _outline("#666666", "0.4", "dash")
    return None


def style_qml(layer: str) -> str | None:
    """The QML of the default style of a layer of the map's GeoPackage.

    Parameters
    ----------
    layer : str
        ``"actors"``, ``"relations"``, ``"territories"`` or ``"ambiti"``.

    Returns
    -------
    str or None
        The QML document; ``None`` for a layer without a style (an attribute table).

    Examples
    --------
    >>> import xml.etree.ElementTree as ET
    >>> ET.fromstring(style_qml("relations")).find("renderer-v2").get("attr")
    'kind'
    >>> style_qml("opportunities") is None
    True
    """
    context = _context(layer)
    if context is None:
        return None
    context.setdefault("attribute", "")
    context.setdefault("rules", [])
    context.setdefault("categories", [])
    return templates().get_template("qgis_style.qml.j2").render(
        qgis_version=QGIS_VERSION, **context)


def layer_styles(layers: Iterable[str], *, now: dt.datetime | None = None) -> pd.DataFrame:
    """The ``layer_styles`` table for the given layers: one default style each.

    Parameters
    ----------
    layers : iterable of str
        Names of the GeoPackage's layers; those without a style (attribute tables)
        get no row.
    now : datetime, optional
        The ``update_time`` of the rows (default: now, UTC).

    Returns
    -------
    pandas.DataFrame
        The columns of the table QGIS creates: ``f_table_catalog, f_table_schema,
        f_table_name, f_geometry_column, styleName, styleQML, styleSLD,
        useAsDefault, description, owner, ui, update_time``.
    """
    when = now or dt.datetime.now(dt.UTC)
    stamp = pd.Timestamp(when.replace(tzinfo=None) if when.tzinfo else when).floor("s")
    rows = []
    for layer in layers:
        qml = style_qml(layer)
        if qml is None:
            continue
        rows.append({
            "f_table_catalog": "", "f_table_schema": "", "f_table_name": layer,
            "f_geometry_column": GEOMETRY_COLUMN, "styleName": STYLE_NAME,
            "styleQML": qml, "styleSLD": "", "useAsDefault": True,
            "description": f"Stile della mappa delle opportunità ({layer})",
            "owner": "", "ui": "", "update_time": stamp,
        })
    columns = ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
               "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner",
               "ui", "update_time"]
    table = pd.DataFrame(rows, columns=columns)
    table["useAsDefault"] = table["useAsDefault"].astype(bool)
    table["update_time"] = pd.to_datetime(table["update_time"])
    return table
