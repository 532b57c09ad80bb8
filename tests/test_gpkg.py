"""The GeoPackage writer: layers round-trip exactly, in one atomic file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

import opportunity_map as om
from opportunity_map import _gpkg, io
from opportunity_map._gpkg import segments, write_geopackage

TEXTS = ["=1+1", "riga 1\r\nriga 2", "\r", "", "Società «Ùnica» 😀", " ", "@SUM(A1)", "x"]


def _layers() -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    n = len(TEXTS)
    points = gpd.GeoDataFrame(
        {"id": [f"a{i}" for i in range(n)], "name": TEXTS, "note": [None, *TEXTS[1:]]},
        geometry=[Point(9 + i / 10, 45 + i / 10) for i in range(n)], crs="EPSG:4326")
    lines = gpd.GeoDataFrame({"text": TEXTS[::-1], "empty": [None] * n},
                             geometry=[LineString([(9, 45), (10, 46)]), None] * (n // 2),
                             crs="EPSG:4326")
    table = pd.DataFrame({"text": TEXTS, "nullable": [None, "", *TEXTS[2:]]})
    return {"actors": points, "relations": lines, "opportunities": table}


def _plain(value: object) -> object:
    """A value as text or None (missing as pandas holds it: None, NaN or NA)."""
    return None if value is None or value is pd.NA or (
        isinstance(value, float) and np.isnan(value)) else value


def _read(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer)


def test_layers_round_trip_exactly(tmp_path: Path) -> None:
    layers = _layers()
    path = tmp_path / "m.gpkg"
    write_geopackage(layers, path)
    assert [name for name, _ in pyogrio.list_layers(path)] == list(layers)
    for name, frame in layers.items():
        back = _read(path, name)
        for column in frame.columns:
            if column == "geometry":
                continue
            want = [_plain(v) for v in frame[column]]
            got = [_plain(v) for v in back[column]]
            assert got == want, (name, column)
        if isinstance(frame, gpd.GeoDataFrame):
            assert back.crs == frame.crs
            assert [g is None for g in back.geometry] == [g is None for g in frame.geometry]
            assert all(a is None or a.equals(b) for a, b in
                       zip(frame.geometry, back.geometry, strict=True))


def test_same_fields_and_values_as_without_arrow(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    layers = _layers()
    write_geopackage(layers, tmp_path / "new.gpkg")
    monkeypatch.setattr(_gpkg, "USE_ARROW", False)
    write_geopackage(layers, tmp_path / "old.gpkg")
    for name in layers:
        new = pyogrio.read_info(tmp_path / "new.gpkg", layer=name)
        old = pyogrio.read_info(tmp_path / "old.gpkg", layer=name)
        for key in ("fields", "dtypes", "geometry_type", "crs", "features"):
            assert np.array_equal(new[key], old[key]) if key in ("fields", "dtypes") \
                else new[key] == old[key], (name, key)
        pd.testing.assert_frame_equal(_read(tmp_path / "new.gpkg", name),
                                      _read(tmp_path / "old.gpkg", name))


def test_the_map_layers_are_written_as_today(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The layers ``om.save`` writes, written again at once: same fields, types, values."""
    m = om.example_map()
    written: dict[str, Any] = {}
    original = pyogrio.write_dataframe

    def capture(frame: Any, path: Any, **kwargs: Any) -> None:
        written[kwargs["layer"]] = frame.copy()
        original(frame, path, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", capture)
    om.save(m, tmp_path / "today.gpkg")
    monkeypatch.setattr(pyogrio, "write_dataframe", original)
    write_geopackage(written, tmp_path / "new.gpkg")
    assert pyogrio.list_layers(tmp_path / "new.gpkg").tolist() == \
        pyogrio.list_layers(tmp_path / "today.gpkg").tolist()
    for name in written:
        new = pyogrio.read_info(tmp_path / "new.gpkg", layer=name)
        old = pyogrio.read_info(tmp_path / "today.gpkg", layer=name)
        assert new["fields"].tolist() == old["fields"].tolist()
        assert new["dtypes"].tolist() == old["dtypes"].tolist()
        assert (new["geometry_type"], new["crs"]) == (old["geometry_type"], old["crs"])
        pd.testing.assert_frame_equal(_read(tmp_path / "new.gpkg", name),
                                      _read(tmp_path / "today.gpkg", name))
    back = om.load(tmp_path / "new.gpkg")
    pd.testing.assert_frame_equal(io._for_output(back)["relations"],
                                  io._for_output(m)["relations"])


def test_failure_leaves_the_target_untouched(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.gpkg"
    path.write_bytes(b"previous")
    original = pyogrio.write_dataframe

    def fail_on_the_second_layer(frame: Any, target: Any, **kwargs: Any) -> None:
        if kwargs.get("append"):
            raise KeyboardInterrupt
        original(frame, target, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", fail_on_the_second_layer)
    with pytest.raises(KeyboardInterrupt):
        write_geopackage(_layers(), path)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gpkg"]
    with pytest.raises(ValueError, match="at least one layer"):
        write_geopackage({}, path)


def test_segments_match_one_line_per_relation() -> None:
    ids = pd.Series(["a", "b", "c", "b"])
    x, y = np.array([9.0, 9.5, 10.0, 11.0]), np.array([45.0, 45.5, 46.0, 47.0])
    source, target = pd.Series(["a", "c", "z", "b"]), pd.Series(["b", "a", "a", "b"])
    position = dict(zip(ids, zip(x, y, strict=True), strict=True))  # last "b" counts
    want = [LineString([position[s], position[t]]) if s in position and t in position
            else None for s, t in zip(source, target, strict=True)]
    got = segments(ids, x, y, source, target)
    assert [g is None for g in got] == [w is None for w in want]
    assert all(w is None or g.equals(w) for g, w in zip(got, want, strict=True))
    assert segments([], np.array([]), np.array([]), ["a"], ["b"]).tolist() == [None]
