"""The GeoPackage for QGIS: typed fields, default layer styles, and a lossless round trip."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from _map_factory import build_map

import opportunity_map as om
from opportunity_map import io
from opportunity_map._qgis import GEOMETRY_COLUMN, LAYER_STYLES, layer_styles, style_qml
from opportunity_map.maps import GROUP_STYLES, LEVEL_WEIGHTS, RELATION_COLORS
from opportunity_map.schema import GROUPS, RELATION_KINDS

#: The OGR type of every typed field of the map's layers (the rest are text).
TYPED = {
    "actors": {"lat": "OFTReal", "lon": "OFTReal", "since": "OFTDate", "until": "OFTDate",
               "verified": "OFTDate", "comune_code": "OFTInteger64"},
    "opportunities": {"since": "OFTDate", "until": "OFTDate", "verified": "OFTDate",
                      "capacity": "OFTInteger64"},
    "relations": {"level": "OFTInteger64", "since": "OFTDate", "until": "OFTDate"},
    "territories": {"province_code": "OFTInteger64"},
    "ambiti": {},
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[om.OpportunityMap, Path]:
    """A map with ambiti and an extra column, loaded from CSV, saved as a GeoPackage."""
    folder = tmp_path_factory.mktemp("qgis")
    m = build_map(("bergamo", "lecco"), n_actors=25, n_relations=40, n_ambiti=2)
    m.actors = m.actors.assign(extra_col=["x"] * len(m.actors))
    om.save(m, folder / "csv")
    m = om.load(folder / "csv")
    path = om.save(m, folder / "mappa.gpkg")
    return m, path


def test_fields_are_typed(saved: tuple[om.OpportunityMap, Path]) -> None:
    _, path = saved
    for layer, typed in TYPED.items():
        info = pyogrio.read_info(path, layer=layer)
        types = dict(zip(info["fields"], info["ogr_types"], strict=True))
        for field, ogr_type in types.items():
            assert ogr_type == typed.get(field, "OFTString"), (layer, field, ogr_type)
        assert set(typed) <= set(types), layer
    assert "extra_col" in pyogrio.read_info(path, layer="actors")["fields"]


def test_ogrinfo_reads_the_types(saved: tuple[om.OpportunityMap, Path]) -> None:
    if shutil.which("ogrinfo") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ogrinfo (gdal-bin) is missing in CI")
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    _, path = saved
    out = subprocess.run(["ogrinfo", "-so", "-ro", str(path), "actors"], check=True,
                         capture_output=True, text=True).stdout
    assert "lat: Real" in out and "since: Date" in out and "comune_code: Integer64" in out
    out = subprocess.run(["ogrinfo", "-so", "-ro", str(path), "relations"], check=True,
                         capture_output=True, text=True).stdout
    assert "level: Integer64" in out and "kind: String" in out


def test_loads_back_the_same_map(saved: tuple[om.OpportunityMap, Path]) -> None:
    m, path = saved
    back = om.load(path)
    for name in ("actors", "opportunities", "relations"):
        pd.testing.assert_frame_equal(io._for_output(back)[name], io._for_output(m)[name])
    pd.testing.assert_frame_equal(pd.DataFrame(back.actors).drop(columns="geometry"),
                                  pd.DataFrame(m.actors).drop(columns="geometry"))
    assert back.territory_slugs == m.territory_slugs
    assert back.ambiti["id"].tolist() == m.ambiti["id"].tolist()
    problems = om.validate(path)  # layer_styles is ignored, not a problem
    assert not [p for p in problems if p.severity == "error" or LAYER_STYLES in p.file]


def _styles(path: Path) -> pd.DataFrame:
    with sqlite3.connect(path) as db:
        styles = pd.read_sql(f"SELECT * FROM {LAYER_STYLES}", db)
        registered = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = ?",
                                (LAYER_STYLES,)).fetchone()
    assert registered == ("attributes",)  # QGIS finds the table through OGR
    return styles


def test_layer_styles_are_qgis_defaults(saved: tuple[om.OpportunityMap, Path]) -> None:
    _, path = saved
    styles = _styles(path)
    for column in ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                   "styleName", "styleQML", "styleSLD", "useAsDefault", "description",
                   "owner", "ui", "update_time"):
        assert column in styles.columns
    assert sorted(styles["f_table_name"]) == ["actors", "ambiti", "relations", "territories"]
    assert styles["useAsDefault"].tolist() == [1] * 4
    assert set(styles["f_geometry_column"]) == {GEOMETRY_COLUMN}
    for layer in styles["f_table_name"]:
        assert pyogrio.read_info(path, layer=layer)["geometry_name"] == GEOMETRY_COLUMN
    qml = dict(zip(styles["f_table_name"], styles["styleQML"], strict=True))
    for text in qml.values():
        assert ET.fromstring(text).tag == "qgis"


def test_actor_style_names_every_group_and_hollows_approximate_positions() -> None:
    root = ET.fromstring(style_qml("actors") or "")
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "RuleRenderer"
    rules = renderer.findall("rules/rule")
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    for group in GROUPS:
        mine = [r for r in rules if f"\"group\" = '{group}'" in (r.get("filter") or "")]
        assert len(mine) == 2, group
        by_kind = {"comune" if "= 'comune'" in (r.get("filter") or "") else "exact": r
                   for r in mine}
        style = GROUP_STYLES[group]
        r, g, b = (int(style.color[i:i + 2], 16) for i in (1, 3, 5))
        for kind, rule in by_kind.items():
            props = {o.get("name"): o.get("value")
                     for o in symbols[rule.get("symbol")].findall("layer/Option/Option")}
            assert props["name"] == style.shape
            alpha = "0" if kind == "comune" else "255"
            assert props["color"] == f"{r},{g},{b},{alpha}", (group, kind)
        assert set(by_kind) == {"comune", "exact"}


def test_relation_style_names_every_kind_with_width_by_level() -> None:
    root = ET.fromstring(style_qml("relations") or "")
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == "kind"
    values = [c.get("value") for c in renderer.findall("categories/category")]
    assert values == [*RELATION_KINDS, ""]  # "" is QGIS's "all other values"
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    for category in renderer.findall("categories/category"):
        kind = category.get("value")
        symbol = symbols[category.get("symbol")]
        props = {o.get("name"): o.get("value") for o in symbol.findall("layer/Option/Option")}
        if kind:
            color = RELATION_COLORS[kind]
            assert props["line_color"].startswith(
                ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5)))
        expression = symbol.find(
            "layer/data_defined_properties/Option/Option[@name='properties']/"
            "Option[@name='outlineWidth']/Option[@name='expression']")
        assert expression is not None
        for level, width in LEVEL_WEIGHTS.items():
            assert f'"level" = {level} THEN {width:g}' in (expression.get("value") or "")


def test_outlines_and_no_style_for_attribute_tables() -> None:
    for layer in ("territories", "ambiti"):
        root = ET.fromstring(style_qml(layer) or "")
        props = {o.get("name"): o.get("value")
                 for o in root.findall("renderer-v2/symbols/symbol/layer/Option/Option")}
        assert props["style"] == "no"  # outline only: the map below stays visible
    assert style_qml("opportunities") is None
    assert layer_styles(["opportunities"]).empty
