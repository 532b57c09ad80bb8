"""Notebook display: one-line reprs and ``_repr_html_`` of maps and evaluations."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from _map_factory import build_map, injection_map

import opportunity_map as om
from opportunity_map.report import INTERVAL_CAVEAT, VERDICT_LABELS
from opportunity_map.schema import GEOCODED_CATEGORIES, GROUPS


def test_map_repr_is_one_english_line() -> None:
    m = om.example_map()
    text = repr(m)
    assert "\n" not in text
    assert text == ("<OpportunityMap: 9 actors, 4 opportunities, 12 relations, 2 territories; "
                    "dates from 2025-01-01 to 2027-06-30>")
    empty = om.OpportunityMap(actors=m.actors.iloc[:0], opportunities=m.opportunities.iloc[:0],
                              relations=m.relations.iloc[:0], territories=m.territories.iloc[:0])
    assert repr(empty).endswith("0 territories; no dates>")
    assert "0 actors" in empty._repr_html_()


def test_map_html_counts_equal_the_tables() -> None:
    m = build_map(("bergamo", "lecco"), n_actors=30, n_relations=50)
    counts = m.counts()
    assert counts["actors"].sum() == len(m.actors)
    for slug in m.territory_slugs:
        mine = m.actors[m.actors["territory"] == slug]
        for group in GROUPS:
            assert counts.at[slug, group] == int((mine["group"] == group).sum())
        ids = set(mine["id"])
        inside = m.relations["source"].isin(ids) & m.relations["target"].isin(ids)
        assert counts.at[slug, "relations"] == int(inside.sum())
    html = m._repr_html_()
    assert f"{len(m.actors)} actors" in html and f"{len(m.relations)} relations" in html
    for slug in m.territory_slugs:
        name = str(m.territories.set_index("slug").at[slug, "name"])
        assert f'<th scope="row">{name}</th>' in html
        row = html.split(f'<th scope="row">{name}</th>')[1].split("</tr>")[0]
        cells = [int(c.split("</td>")[0]) for c in row.split("<td>")[1:]]
        assert cells == [int(v) for v in counts.loc[slug, [*GROUPS, "actors", "relations"]]]


def test_map_html_escapes_hostile_names() -> None:
    m = injection_map()
    html = m._repr_html_()
    assert "<img" not in html and "onerror=alert(1)&gt;" in html
    assert "${" not in html
    assert "other" in m.counts().columns  # the payload group is counted, not dropped


def test_evaluation_repr_and_html() -> None:
    m = om.example_map()
    ev = om.evaluate(m, baseline="2026-06-30", as_of="2027-12-31", n_boot=50, seed=1)
    text = repr(ev)
    assert "\n" not in text
    assert text.startswith("<Evaluation 2026-06-30 -> 2027-12-31: 3 territories, target +30%")
    html = ev._repr_html_()
    assert INTERVAL_CAVEAT in html
    table = ev.table
    for record in table.itertuples():
        assert f"<td>{record.n_panel}</td>" in html
    assert html.count(VERDICT_LABELS["not_evaluable"]) == len(table)
    unbounded = table["ci_unbounded"] | ~table["ci_high_pct"].map(
        lambda v: math.isfinite(v) if isinstance(v, float) else True)
    assert unbounded.any()
    assert "illimitato" in html
    assert ">inf" not in html.lower() and "inf%" not in html.lower()


def test_evaluation_html_escapes_hostile_names() -> None:
    m = injection_map()
    ev = om.evaluate(m, baseline="2026-01-01", as_of="2026-06-30", n_boot=10, seed=1)
    html = ev._repr_html_()
    assert "<img" not in html and "${" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &#36;&#123;alert(1)&#125;" in html


def test_geocoded_is_categorical() -> None:
    m = om.example_map()
    column = m.actors["geocoded"]
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert tuple(column.cat.categories) == GEOCODED_CATEGORIES == ("coordinate", "comune")
    assert set(column) <= set(GEOCODED_CATEGORIES)
    given = m.actors["lat"].notna()
    assert given.all()  # every organisation has a position; the category says how


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg"])
def test_geocoded_round_trips(tmp_path: object, fmt: str) -> None:
    from pathlib import Path

    m = build_map(("bergamo",), n_actors=20, n_relations=20, approx_share=0.5)
    folder = Path(str(tmp_path))
    first = om.load(om.save(m, folder / "a"))
    target = folder / {"csv": "b", "xlsx": "b.xlsx", "gpkg": "b.gpkg"}[fmt]
    back = om.load(om.save(first, target))
    pd.testing.assert_series_equal(back.actors["geocoded"], first.actors["geocoded"])
    assert (first.actors["geocoded"] == "comune").any()
    assert (first.actors["geocoded"] == "coordinate").any()


def test_library_errors_speak_english() -> None:
    m = om.example_map()
    with pytest.raises(ValueError, match=r"^as_of='31/02/2026' does not exist$"):
        m.network("31/02/2026")
    with pytest.raises(ValueError, match=r"^as_of='domani' is not a date"):
        m.network("domani")
    error = om.DataError([om.Problem("a.csv", 2, "dal", "data non valida", "error")])
    assert str(error).startswith("1 data error:\n")
