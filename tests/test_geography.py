"""Territories, comuni matching and offline geocoding against the ISTAT boundaries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import TERRITORIES
from shapely.geometry import Point

from opportunity_map import DataError
from opportunity_map import geography as geo


@pytest.mark.parametrize(("typed", "official"), [
    ("S. Omobono Terme", "Sant'Omobono Terme"),
    ("sant omobono terme", "Sant'Omobono Terme"),
    ("CANTU'", "Cantù"),
    ("cantu", "Cantù"),
    ("San Giovanni Bianco", "S. Giovanni Bianco"),
    ("Ponte S.Pietro", "Ponte San Pietro"),
    ("Bascapè", "Bascape"),
])
def test_comune_key_forgiving(typed: str, official: str) -> None:
    assert geo.comune_key(typed) == geo.comune_key(official)


def test_comune_key_keeps_different_names_apart() -> None:
    assert geo.comune_key("Castro") != geo.comune_key("Castrezzato")


def test_match_within_territory_first() -> None:
    lombardy = (16, 17, 13, 19, 97, 98, 20, 15, 108, 14, 12)
    assert geo.match_comune("Castro", provinces=(16,), project_provinces=lombardy).code == 16065
    assert geo.match_comune("Castro", provinces=(75,)).code == 75096
    ambiguous = geo.match_comune("Castro")
    assert ambiguous.code is None and ambiguous.ambiguous
    assert set(ambiguous.candidates) == {"Castro (BG)", "Castro (LE)"}


def test_match_istat_code_and_unknown() -> None:
    assert geo.match_comune("16024").code == 16024
    unknown = geo.match_comune("Bergamoo", provinces=(16,))
    assert unknown.code is None and not unknown.ambiguous
    assert unknown.candidates[0] == "Bergamo (BG)"


def test_outside_flag() -> None:
    m = geo.match_comune("Cantù", provinces=(16,), project_provinces=(16, 13))
    assert m.code == 13041 and m.outside


def test_load_territories_from_csv() -> None:
    t = geo.load_territories(TERRITORIES)
    assert len(t) == 11
    assert t.crs.to_epsg() == 4326
    bergamo = t.set_index("slug").loc["bergamo"]
    assert bergamo["province_short"] == "BG"
    assert bergamo.geometry.contains(Point(9.67, 45.69))
    assert not bergamo.geometry.contains(Point(9.19, 45.46))  # Milano


def test_load_territories_errors(tmp_path: Path) -> None:
    path = tmp_path / "territories.csv"
    path.write_text("slug,name,province_code\nx,X,999\nx,Y,16\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        geo.load_territories(path)
    messages = [str(p) for p in info.value.problems]
    assert any(":2: province_code:" in m and "999" in m for m in messages)
    assert any(":3: slug:" in m and "duplicato" in m for m in messages)


def test_project_territories_without_file() -> None:
    t = geo.load_territories(None)
    assert len(t) == 11
    assert list(t["slug"]) == [
        "bergamo", "brescia", "como", "cremona", "lecco", "lodi", "mantova", "milano",
        "monza-brianza", "sondrio", "varese"]
    assert set(t["province_short"]) >= {"BG", "MB", "VA"}


@pytest.mark.parametrize(("given", "slug"), [
    ("monza-brianza", "monza-brianza"), ("Monza e della Brianza", "monza-brianza"),
    ("MONZA E DELLA BRIANZA", "monza-brianza"), (" Milano ", "milano"), ("bergamo", "bergamo"),
])
def test_resolve_territory_by_slug_or_name(given: str, slug: str) -> None:
    assert geo.resolve_territory(geo.project_territories(), given) == slug


def test_resolve_unknown_territory_names_the_known_ones() -> None:
    from opportunity_map import UnknownTerritoryError

    with pytest.raises(UnknownTerritoryError) as info:
        geo.resolve_territory(geo.project_territories(), "Pavia")
    assert info.value.name == "Pavia" and "lecco" in info.value.known


def test_extend_territories_replaces_and_appends() -> None:
    base = geo.project_territories()
    extra = geo.territories_from_frame(pd.DataFrame({
        "slug": ["pavia", "lecco"], "name": ["Pavia", "Lecco (provincia)"],
        "province_code": ["18", "97"]}), where="test")
    out = geo.extend_territories(base, extra)
    assert list(out["slug"])[-1] == "pavia" and len(out) == 12
    assert out.set_index("slug").at["lecco", "name"] == "Lecco (provincia)"


def test_ambiti_union_of_comuni(tmp_path: Path) -> None:
    t = geo.load_territories(TERRITORIES)
    path = tmp_path / "ambiti.csv"
    path.write_text("id,name,territory,comune_codes\na,Ambito,bergamo,16024;16113\n"
                    "b,Sbagliato,bergamo,15146 99999\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        geo.load_ambiti(path, t)
    messages = " ".join(str(p) for p in info.value.problems)
    assert "Milano (MI) non è nel territorio bergamo" in messages
    assert "'99999'" in messages
    path.write_text("id,name,territory,comune_codes\na,Ambito,bergamo,16024;16113\n",
                    encoding="utf-8")
    ambiti = geo.load_ambiti(path, t)
    union = ambiti.to_crs(32632).geometry.iloc[0]
    parts = geo.comuni_geometry([16024, 16113]).to_crs(32632)
    assert union.area == pytest.approx(parts.geometry.area.sum(), rel=1e-6)


def test_geocoded_point_inside_its_comune(small_map_dir: Path) -> None:
    import opportunity_map as om

    m = om.load(small_map_dir)
    polygons = geo.comuni_geometry(m.actors["comune_code"].astype(int))
    for row in m.actors.itertuples():
        if row.geocoded == "comune":
            assert polygons.loc[row.comune_code].geometry.contains(row.geometry)


@pytest.mark.parametrize("typed", ["Berg\u200bamo", "Bergamo\ufeff", "Ber\u00adgamo",
                                   "BERGAMO\u2060", "Bergamo"])
def test_comune_key_ignores_invisible_characters(typed: str) -> None:
    assert geo.match_comune(typed, provinces=(16,)).code == 16024


def test_comune_key_nfc_and_nfd_agree() -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Cantù")
    assert geo.comune_key(nfd) == geo.comune_key("Cantù")
    assert geo.match_comune(nfd).code == 13041


@pytest.mark.parametrize("typed", ["²", "١٢٣", "\U0001f600", "x" * 10_000, "", "\u0301\u0301",
                                   "Bergamo\x00", "16024\u200b"])
def test_match_comune_never_raises(typed: str) -> None:
    found = geo.match_comune(typed, provinces=(16,), project_provinces=(16, 17))
    assert found.code in (None, 16024)  # "Bergamo\x00" matches: the loader reports the NUL


def test_load_territories_cp1252_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "territori.csv"
    path.write_bytes("slug;name;province_code\npavia;Pavia – Oltrepò;18\n".encode("cp1252"))
    t = geo.load_territories(path)
    assert t.set_index("slug").at["pavia", "name"] == "Pavia – Oltrepò"


@pytest.mark.parametrize("slug", ["Pavia", "pavia sud", "index", "../x", "-pavia", "pavìa"])
def test_territory_slugs_must_name_files(tmp_path: Path, slug: str) -> None:
    path = tmp_path / "territories.csv"
    path.write_text(f"slug,name,province_code\n{slug},Pavia,18\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        geo.load_territories(path)
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "slug")]


def test_territories_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "territories.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    with pytest.raises(DataError) as info:
        geo.load_territories(path)
    assert "cartella di lavoro Excel" in info.value.problems[0].message
